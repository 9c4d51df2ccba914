import Contracts
import Foundation
import Logging
import PostgresNIO

/// The monthly CxC reconciliation (OPE-SUM-GES-P08 step 15): what was charged, paid and invoiced
/// in a calendar month (UTC), totals per currency, and the differences to look into.
public struct Reconciliation: Sendable, Equatable {
    public struct Charge: Sendable, Equatable {
        public var id: String
        public var requestId: String
        public var amount: Money
        public var payer: Payer
        public var workOrderId: String?
        public var createdAt: Date
        public init(id: String, requestId: String, amount: Money, payer: Payer, workOrderId: String?, createdAt: Date) {
            self.id = id
            self.requestId = requestId
            self.amount = amount
            self.payer = payer
            self.workOrderId = workOrderId
            self.createdAt = createdAt
        }
    }

    public struct Payment: Sendable, Equatable {
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

    public struct Invoice: Sendable, Equatable {
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
    public struct Totals: Sendable, Equatable {
        /// Charges created in the month.
        public var charged: Int64 = 0
        /// Payments recorded in the month.
        public var paid: Int64 = 0
        /// Charges created in the month still unpaid at its end.
        public var outstanding: Int64 = 0
        /// Invoices issued in the month.
        public var invoiced: Int64 = 0
        public init(charged: Int64 = 0, paid: Int64 = 0, outstanding: Int64 = 0, invoiced: Int64 = 0) {
            self.charged = charged
            self.paid = paid
            self.outstanding = outstanding
            self.invoiced = invoiced
        }
    }

    /// Something that does not add up.
    public enum Difference: Sendable, Equatable {
        /// A charge created in the month and not paid by its end.
        case unpaid(chargeId: String, amount: Money)
        /// A payment whose amount is not its charge's amount.
        case amountDiffers(chargeId: String, charged: Money, paid: Money)
        /// A payment recorded in the month without a receipt (the CxC invoice).
        case paymentWithoutInvoice(chargeId: String, amount: Money)
        /// A payment recorded in the month for a charge billing does not know.
        case paymentWithoutCharge(chargeId: String, amount: Money)
        /// An invoice issued in the month from a prefactura that was never priced.
        case invoiceNeedsPricing(invoiceId: String, workOrderId: String)
    }

    public var year: Int
    public var month: Int
    public var charges: [Charge]
    public var payments: [Payment]
    public var invoices: [Invoice]
    public var totals: [Currency: Totals]
    public var differences: [Difference]

    /// `[start, end)` of a calendar month in UTC.
    public static func interval(year: Int, month: Int) -> (start: Date, end: Date) {
        let cal = BillingRules.utcCalendar
        let start = cal.date(from: DateComponents(year: year, month: month, day: 1))!
        let end = cal.date(byAdding: .month, value: 1, to: start)!
        return (start, end)
    }

    /// The arithmetic of the reconciliation (no I/O).
    /// - Parameters:
    ///   - charges: every charge created in the month, plus the charges of `payments`;
    ///   - payments: every payment recorded in the month, plus the payments of the month's charges
    ///     (whenever made);
    ///   - invoices: the invoices issued in the month.
    public static func compute(
        year: Int, month: Int, charges: [Charge], payments: [Payment], invoices: [Invoice]
    ) -> Reconciliation {
        let (start, end) = interval(year: year, month: month)
        let inMonth = { (d: Date) in d >= start && d < end }
        let chargeById = Dictionary(charges.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
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
            } else {
                differences.append(.paymentWithoutCharge(chargeId: p.chargeId, amount: p.amount))
            }
            if p.receipt.isBlank {
                differences.append(.paymentWithoutInvoice(chargeId: p.chargeId, amount: p.amount))
            }
        }
        for i in monthInvoices {
            totals[i.amount.currency, default: Totals()].invoiced += i.amount.minor
            if i.needsPricing { differences.append(.invoiceNeedsPricing(invoiceId: i.id, workOrderId: i.workOrderId)) }
        }
        return Reconciliation(
            year: year, month: month, charges: monthCharges, payments: monthPayments, invoices: monthInvoices, totals: totals,
            differences: differences)
    }
}

/// Reconciles one month (UTC) of the billing schema reachable through `connection` (the
/// `billing` schema of the platform database). Read-only; for `otctl`.
public func reconciliation(
    on connection: PostgresConnection, month: (year: Int, month: Int), logger: Logger = Logger(label: "billing.reconciliation")
) async throws -> Reconciliation {
    let (start, end) = Reconciliation.interval(year: month.year, month: month.month)
    var charges: [Reconciliation.Charge] = []
    let chargeRows = try await connection.query(
        """
        SELECT id, request_id, amount_minor, currency, payer_name, payer_id_number, work_order_id, created_at
        FROM billing.charges c
        WHERE (created_at >= \(start) AND created_at < \(end))
           OR id IN (SELECT charge_id FROM billing.payments WHERE paid_at >= \(start) AND paid_at < \(end))
        """, logger: logger)
    for try await (id, request, minor, currency, name, idNumber, wo, created) in chargeRows.decode(
        (String, String, Int64, String, String, String, String?, Date).self)
    {
        guard let cur = Currency(rawValue: currency) else { continue }
        charges.append(
            Reconciliation.Charge(
                id: id, requestId: request, amount: Money(minor: minor, currency: cur),
                payer: Payer(name: name, idNumber: idNumber), workOrderId: wo, createdAt: created))
    }
    var payments: [Reconciliation.Payment] = []
    let paymentRows = try await connection.query(
        """
        SELECT p.charge_id, p.amount_minor, p.currency, p.receipt, p.paid_at
        FROM billing.payments p JOIN billing.charges c ON c.id = p.charge_id
        WHERE (p.paid_at >= \(start) AND p.paid_at < \(end)) OR (c.created_at >= \(start) AND c.created_at < \(end))
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
    return Reconciliation.compute(year: month.year, month: month.month, charges: charges, payments: payments, invoices: invoices)
}
