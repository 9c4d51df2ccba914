import Contracts
import Foundation
import Logging
import PostgresNIO

/// The monthly CxC reconciliation (OPE-SUM-GES-P08 step 15): what was charged, paid and invoiced
/// in a calendar month (UTC), totals per currency, and the differences to look into.
public struct Reconciliation: Sendable, Equatable, Encodable {
    public struct Charge: Sendable, Equatable, Encodable {
        public var id: String
        public var requestId: String
        public var amount: Money
        public var payer: Payer
        /// The OT the charge pays for, as its request names it (a pole move's: `PM-<requestId>`).
        public var workOrderId: String?
        public var createdAt: Date
        /// When billing learned that OT was opened (the event's time); nil: not opened.
        public var workOrderOpenedAt: Date?
        /// When billing learned that OT was cancelled (the event's time), and why.
        public var workOrderCancelledAt: Date?
        public var workOrderCancelReason: String?
        /// Paid before billing learned the OTs of its charges (billing migration 3): whether its
        /// OT was opened is not known, so it is never reported as paid with no OT.
        public var workOrderUntracked: Bool
        public init(
            id: String, requestId: String, amount: Money, payer: Payer, workOrderId: String?, createdAt: Date,
            workOrderOpenedAt: Date? = nil, workOrderCancelledAt: Date? = nil, workOrderCancelReason: String? = nil,
            workOrderUntracked: Bool = false
        ) {
            self.id = id
            self.requestId = requestId
            self.amount = amount
            self.payer = payer
            self.workOrderId = workOrderId
            self.createdAt = createdAt
            self.workOrderOpenedAt = workOrderOpenedAt
            self.workOrderCancelledAt = workOrderCancelledAt
            self.workOrderCancelReason = workOrderCancelReason
            self.workOrderUntracked = workOrderUntracked
        }
    }

    public struct Payment: Sendable, Equatable, Encodable {
        public var chargeId: String
        public var amount: Money
        /// The cashier's receipt: the CxC invoice handed over (steps 4–5).
        public var receipt: String
        public var paidAt: Date
        public init(chargeId: String, amount: Money, receipt: String, paidAt: Date) {
            self.chargeId = chargeId
            self.amount = amount
            self.receipt = receipt
            self.paidAt = paidAt
        }
    }

    public struct Invoice: Sendable, Equatable, Encodable {
        public var id: String
        public var prefacturaId: String
        public var workOrderId: String
        public var amount: Money
        public var issuer: InvoiceIssuer
        public var needsPricing: Bool
        public var issuedAt: Date
        public init(
            id: String, prefacturaId: String, workOrderId: String, amount: Money, issuer: InvoiceIssuer, needsPricing: Bool,
            issuedAt: Date
        ) {
            self.id = id
            self.prefacturaId = prefacturaId
            self.workOrderId = workOrderId
            self.amount = amount
            self.issuer = issuer
            self.needsPricing = needsPricing
            self.issuedAt = issuedAt
        }
    }

    /// Sums of one currency, in minor units.
    public struct Totals: Sendable, Equatable, Encodable {
        /// Charges created in the month.
        public var charged: Int64 = 0
        /// Payments recorded in the month.
        public var paid: Int64 = 0
        /// Charges created in the month still unpaid at its end.
        public var outstanding: Int64 = 0
        /// Invoices issued in the month.
        public var invoiced: Int64 = 0
        /// Paid charges whose OT was cancelled, owed back (``Difference/refundDue``).
        public var refundDue: Int64 = 0
        public init(charged: Int64 = 0, paid: Int64 = 0, outstanding: Int64 = 0, invoiced: Int64 = 0, refundDue: Int64 = 0) {
            self.charged = charged
            self.paid = paid
            self.outstanding = outstanding
            self.invoiced = invoiced
            self.refundDue = refundDue
        }
    }

    /// Something that does not add up. Each is reported in one month only.
    public enum Difference: Sendable, Equatable, Encodable {
        /// A charge created in the month and not paid by its end (the last millisecond counts).
        case unpaid(chargeId: String, amount: Money)
        /// A charge paid in the month whose OT was not opened (nor cancelled) by the time the
        /// reconciliation is made (`asOf`), ``workOrderGrace`` or more after the payment.
        /// `workOrderId` nil: the charge names no OT at all. The money was taken, no work is under way.
        case paidWithoutWorkOrder(chargeId: String, workOrderId: String?, amount: Money, paidAt: Date)
        /// A paid charge whose OT was cancelled (ANULADO): the payer is owed the amount back.
        /// Reported in the month of the later of payment and cancellation.
        case refundDue(chargeId: String, workOrderId: String, amount: Money, reason: String, paidAt: Date, cancelledAt: Date)
        /// A payment recorded in the month whose amount — minor units or currency — is not its
        /// charge's. (Billing refuses such a payment at the cashier, `amountMismatch`; this checks
        /// the stored data all the same.)
        case amountDiffers(chargeId: String, charged: Money, paid: Money)
        /// A payment recorded in the month whose receipt (the CxC invoice handed over) was already
        /// recorded for another charge: one invoice stands for two charges. Receipts are compared
        /// without whitespace and case.
        case receiptReused(receipt: String, chargeId: String, firstChargeId: String, amount: Money)
        /// An invoice issued in the month from a prefactura that was never priced.
        case invoiceNeedsPricing(invoiceId: String, workOrderId: String)

        /// The check's name (JSON `check`).
        public var check: String {
            switch self {
            case .unpaid: "unpaid"
            case .paidWithoutWorkOrder: "paidWithoutWorkOrder"
            case .refundDue: "refundDue"
            case .amountDiffers: "amountDiffers"
            case .receiptReused: "receiptReused"
            case .invoiceNeedsPricing: "invoiceNeedsPricing"
            }
        }

        enum CodingKeys: String, CodingKey {
            case check, chargeId, workOrderId, amount, paidAt, reason, cancelledAt, charged, paid, receipt, firstChargeId, invoiceId
        }

        /// One flat object per difference: `{"check": "refundDue", "chargeId": …, …}`.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(check, forKey: .check)
            switch self {
            case .unpaid(let id, let amount):
                try c.encode(id, forKey: .chargeId)
                try c.encode(amount, forKey: .amount)
            case .paidWithoutWorkOrder(let id, let wo, let amount, let paidAt):
                try c.encode(id, forKey: .chargeId)
                try c.encodeIfPresent(wo, forKey: .workOrderId)
                try c.encode(amount, forKey: .amount)
                try c.encode(paidAt, forKey: .paidAt)
            case .refundDue(let id, let wo, let amount, let reason, let paidAt, let cancelledAt):
                try c.encode(id, forKey: .chargeId)
                try c.encode(wo, forKey: .workOrderId)
                try c.encode(amount, forKey: .amount)
                try c.encode(reason, forKey: .reason)
                try c.encode(paidAt, forKey: .paidAt)
                try c.encode(cancelledAt, forKey: .cancelledAt)
            case .amountDiffers(let id, let charged, let paid):
                try c.encode(id, forKey: .chargeId)
                try c.encode(charged, forKey: .charged)
                try c.encode(paid, forKey: .paid)
            case .receiptReused(let receipt, let id, let first, let amount):
                try c.encode(receipt, forKey: .receipt)
                try c.encode(id, forKey: .chargeId)
                try c.encode(first, forKey: .firstChargeId)
                try c.encode(amount, forKey: .amount)
            case .invoiceNeedsPricing(let invoice, let wo):
                try c.encode(invoice, forKey: .invoiceId)
                try c.encode(wo, forKey: .workOrderId)
            }
        }
    }

    /// How long after its payment a charge's OT may take to open before the charge is reported
    /// paid with no OT: commercial opens it as soon as billing reports the payment, so a day
    /// covers any outage of the messaging without hiding a lost OT for long.
    public static let workOrderGrace: TimeInterval = 86_400

    public var year: Int
    public var month: Int
    /// When the reconciliation was made (the grace of ``Difference/paidWithoutWorkOrder`` is
    /// judged then).
    public var asOf: Date
    public var charges: [Charge]
    public var payments: [Payment]
    public var invoices: [Invoice]
    public var totals: [Currency: Totals]
    public var differences: [Difference]

    enum CodingKeys: String, CodingKey { case year, month, asOf, charges, payments, invoices, totals, differences }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(year, forKey: .year)
        try c.encode(month, forKey: .month)
        try c.encode(asOf, forKey: .asOf)
        try c.encode(charges, forKey: .charges)
        try c.encode(payments, forKey: .payments)
        try c.encode(invoices, forKey: .invoices)
        try c.encode(Dictionary(uniqueKeysWithValues: totals.map { ($0.key.rawValue, $0.value) }), forKey: .totals)
        try c.encode(differences, forKey: .differences)
    }

    /// `[start, end)` of a calendar month in UTC.
    public static func interval(year: Int, month: Int) -> (start: Date, end: Date) {
        let cal = BillingRules.utcCalendar
        let start = cal.date(from: DateComponents(year: year, month: month, day: 1))!
        let end = cal.date(byAdding: .month, value: 1, to: start)!
        return (start, end)
    }

    /// A receipt as the reconciliation compares it: no whitespace, upper case.
    public static func receiptKey(_ receipt: String) -> String {
        String(receipt.unicodeScalars.filter { !CharacterSet.whitespacesAndNewlines.contains($0) }).uppercased()
    }

    /// The arithmetic of the reconciliation (no I/O).
    /// - Parameters:
    ///   - charges: every charge created in the month, plus the charges of `payments`, plus the
    ///     paid charges whose OT was cancelled (refunds of the month);
    ///   - payments: every payment recorded in the month, plus the payments of `charges`
    ///     (whenever made), plus every payment with the receipt of one of those;
    ///   - invoices: the invoices issued in the month;
    ///   - asOf: when the reconciliation is made.
    public static func compute(
        year: Int, month: Int, charges: [Charge], payments: [Payment], invoices: [Invoice], asOf: Date
    ) -> Reconciliation {
        let (start, end) = interval(year: year, month: month)
        let inMonth = { (d: Date) in d >= start && d < end }
        let chargeById = Dictionary(charges.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let paymentByCharge = Dictionary(payments.map { ($0.chargeId, $0) }, uniquingKeysWith: { a, b in a.paidAt <= b.paidAt ? a : b })
        let firstByReceipt = Dictionary(
            payments.map { (receiptKey($0.receipt), $0) },
            uniquingKeysWith: { a, b in (a.paidAt, a.chargeId) <= (b.paidAt, b.chargeId) ? a : b })
        let paidByEnd = Set(payments.filter { $0.paidAt < end }.map(\.chargeId))
        let monthCharges = charges.filter { inMonth($0.createdAt) }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        let monthPayments = payments.filter { inMonth($0.paidAt) }.sorted { ($0.paidAt, $0.chargeId) < ($1.paidAt, $1.chargeId) }
        let monthInvoices = invoices.filter { inMonth($0.issuedAt) }.sorted { ($0.issuedAt, $0.id) < ($1.issuedAt, $1.id) }

        var totals: [Currency: Totals] = [:]
        var differences: [Difference] = []
        for c in monthCharges {
            totals[c.amount.currency, default: Totals()].charged += c.amount.minor
            if !paidByEnd.contains(c.id) {
                totals[c.amount.currency, default: Totals()].outstanding += c.amount.minor
                differences.append(.unpaid(chargeId: c.id, amount: c.amount))
            }
        }
        for p in monthPayments {
            totals[p.amount.currency, default: Totals()].paid += p.amount.minor
            if let c = chargeById[p.chargeId] {
                if c.amount != p.amount { differences.append(.amountDiffers(chargeId: c.id, charged: c.amount, paid: p.amount)) }
            }
            if let first = firstByReceipt[receiptKey(p.receipt)], first.chargeId != p.chargeId {
                differences.append(.receiptReused(receipt: p.receipt, chargeId: p.chargeId, firstChargeId: first.chargeId, amount: p.amount))
            }
            if let c = chargeById[p.chargeId], !c.workOrderUntracked, c.workOrderOpenedAt == nil, c.workOrderCancelledAt == nil,
                p.paidAt.addingTimeInterval(workOrderGrace) <= asOf
            {
                differences.append(.paidWithoutWorkOrder(chargeId: c.id, workOrderId: c.workOrderId, amount: c.amount, paidAt: p.paidAt))
            }
        }
        let refunds = charges.compactMap { c -> (Charge, Payment, Date, Date)? in
            guard let wo = c.workOrderId, !wo.isEmpty, let cancelledAt = c.workOrderCancelledAt, let p = paymentByCharge[c.id] else {
                return nil
            }
            let due = max(p.paidAt, cancelledAt)
            return inMonth(due) ? (c, p, cancelledAt, due) : nil
        }
        for (c, p, cancelledAt, _) in refunds.sorted(by: { ($0.3, $0.0.id) < ($1.3, $1.0.id) }) {
            totals[p.amount.currency, default: Totals()].refundDue += p.amount.minor
            differences.append(
                .refundDue(
                    chargeId: c.id, workOrderId: c.workOrderId ?? "", amount: p.amount, reason: c.workOrderCancelReason ?? "",
                    paidAt: p.paidAt, cancelledAt: cancelledAt))
        }
        for i in monthInvoices {
            totals[i.amount.currency, default: Totals()].invoiced += i.amount.minor
            if i.needsPricing { differences.append(.invoiceNeedsPricing(invoiceId: i.id, workOrderId: i.workOrderId)) }
        }
        return Reconciliation(
            year: year, month: month, asOf: asOf, charges: monthCharges, payments: monthPayments, invoices: monthInvoices,
            totals: totals, differences: differences)
    }
}

/// Reconciles one month (UTC) of the billing schema reachable through `connection` (the
/// `billing` schema of the platform database), as of `asOf`. Read-only; for `otctl`.
public func reconciliation(
    on connection: PostgresConnection, month: (year: Int, month: Int), asOf: Date = Date(),
    logger: Logger = Logger(label: "billing.reconciliation")
) async throws -> Reconciliation {
    let (start, end) = Reconciliation.interval(year: month.year, month: month.month)
    // The charges `Reconciliation.compute` needs: created in the month, paid in the month,
    // refunded in the month (paid, OT cancelled, the later of the two in the month), and those
    // paid with a receipt also recorded in the month.
    var charges: [Reconciliation.Charge] = []
    let chargeRows = try await connection.query(
        """
        WITH month_payments AS (
            SELECT charge_id, upper(regexp_replace(receipt, '\\s', '', 'g')) AS receipt_key
            FROM billing.payments WHERE paid_at >= \(start) AND paid_at < \(end))
        SELECT c.id, c.request_id, c.amount_minor, c.currency, c.payer_name, c.payer_id_number, c.work_order_id, c.created_at,
               c.work_order_opened_at, c.work_order_cancelled_at, c.work_order_cancel_reason, c.work_order_untracked
        FROM billing.charges c LEFT JOIN billing.payments p ON p.charge_id = c.id
        WHERE (c.created_at >= \(start) AND c.created_at < \(end))
           OR c.id IN (SELECT charge_id FROM month_payments)
           OR (c.work_order_cancelled_at IS NOT NULL AND p.paid_at IS NOT NULL
               AND greatest(p.paid_at, c.work_order_cancelled_at) >= \(start) AND greatest(p.paid_at, c.work_order_cancelled_at) < \(end))
           OR upper(regexp_replace(p.receipt, '\\s', '', 'g')) IN (SELECT receipt_key FROM month_payments)
        """, logger: logger)
    for try await (id, request, minor, currency, name, idNumber, wo, created, opened, cancelled, reason, untracked) in chargeRows.decode(
        (String, String, Int64, String, String, String, String?, Date, Date?, Date?, String?, Bool).self)
    {
        guard let cur = Currency(rawValue: currency) else { continue }
        charges.append(
            Reconciliation.Charge(
                id: id, requestId: request, amount: Money(minor: minor, currency: cur),
                payer: Payer(name: name, idNumber: idNumber), workOrderId: wo, createdAt: created, workOrderOpenedAt: opened,
                workOrderCancelledAt: cancelled, workOrderCancelReason: reason, workOrderUntracked: untracked))
    }
    var payments: [Reconciliation.Payment] = []
    let paymentRows = try await connection.query(
        """
        SELECT charge_id, amount_minor, currency, receipt, paid_at FROM billing.payments WHERE charge_id = ANY(\(charges.map(\.id)))
        """, logger: logger)
    for try await (chargeId, minor, currency, receipt, paidAt) in paymentRows.decode((String, Int64, String, String, Date).self) {
        guard let cur = Currency(rawValue: currency) else { continue }
        payments.append(Reconciliation.Payment(chargeId: chargeId, amount: Money(minor: minor, currency: cur), receipt: receipt, paidAt: paidAt))
    }
    var invoices: [Reconciliation.Invoice] = []
    let invoiceRows = try await connection.query(
        """
        SELECT id, prefactura_id, work_order_id, amount_minor, currency, issuer, needs_pricing, issued_at
        FROM billing.invoices WHERE issued_at >= \(start) AND issued_at < \(end)
        """, logger: logger)
    for try await (id, pf, wo, minor, currency, issuer, needsPricing, issuedAt) in invoiceRows.decode(
        (String, String, String, Int64, String, String, Bool, Date).self)
    {
        guard let cur = Currency(rawValue: currency), let iss = InvoiceIssuer(rawValue: issuer) else { continue }
        invoices.append(
            Reconciliation.Invoice(
                id: id, prefacturaId: pf, workOrderId: wo, amount: Money(minor: minor, currency: cur), issuer: iss,
                needsPricing: needsPricing, issuedAt: issuedAt))
    }
    return Reconciliation.compute(
        year: month.year, month: month.month, charges: charges, payments: payments, invoices: invoices, asOf: asOf)
}
