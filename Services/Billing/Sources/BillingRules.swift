import Contracts
import Foundation
import Runtime

/// The rules of billing (SGC-PC-07 §4.6–4.7; OPE-SUM-GES-P08 steps 3–5), as pure functions.
public enum BillingRules {
    // MARK: Invoices

    /// Who issues the invoice (§4.7): treasury in Chile, the account manager in Colombia, billing
    /// in Bolivia.
    public static func issuer(for country: Country) -> InvoiceIssuer {
        switch country {
        case .cl: .treasuryCL
        case .co: .accountManagerCO
        case .bo: .billingBO
        }
    }

    /// The currency an OT of a country is billed in when its closed event carries no amount.
    public static func currency(for country: Country) -> Currency { country.currency }

    // MARK: Prefacturas

    /// Whether an OT of this kind is billed elsewhere, so that closing it drafts no prefactura:
    /// the pole move is paid up front as a CxC of Bs 1000 whose invoice the cashier hands over
    /// (OPE-SUM-GES-P08 steps 3–5); the OTs post-sale opens (a transfer's installation, a
    /// support visit, a withdrawal) are billed through the contract's recurring invoice or a CxC
    /// (GC-PRC-OPE-ASE-04 C, H, L). Billing them again would charge twice. A repair OT (a damage
    /// case, COM-GCM-P12) is covered by the product's monthly fee: never a prefactura.
    public static func settledByCxC(_ kind: WorkOrderKind) -> Bool { [.poleMove, .transfer, .visit, .withdrawal, .repair].contains(kind) }

    /// What a line of an OT of this kind says on the prefactura.
    public static func lineDescription(kind: WorkOrderKind, workOrderId: String) -> String {
        let what =
            switch kind {
            case .project: "Proyecto"
            case .poleMove: "Servicio de Ingeniería Traslado de Poste"
            case .repair: "Reparación"
            case .installation: "Instalación"
            case .transfer: "Traslado de servicio"
            case .withdrawal: "Retiro de servicio"
            case .visit: "Visita técnica"
            }
        return "\(what) — OT \(workOrderId)"
    }

    /// A prefactura drafted from a closed OT.
    public struct Draft: Sendable, Equatable {
        public var lines: [PrefacturaLine]
        public var amount: Money
        /// No price was known (no `amount` in the event, none in the price list): the prefactura is
        /// issued at 0 for the commercial review (§4.6) to return it with the price.
        public var needsPricing: Bool
    }

    /// One prefactura per closed OT: one line (quantity 1, unit price = the closed event's amount,
    /// else 0 flagged `needsPricing`). A closed OT is a fact: never rejected.
    public static func draft(_ closed: WorkOrderClosed) -> Draft {
        let price = closed.amount
        let unit = price ?? Money(minor: 0, currency: currency(for: closed.customer.country))
        let line = PrefacturaLine(
            description: lineDescription(kind: closed.kind, workOrderId: closed.workOrderId), quantity: 1,
            unitPrice: unit, amount: unit)
        return Draft(lines: [line], amount: total([line]) ?? unit, needsPricing: price == nil)
    }

    /// The total of lines, or nil if they mix currencies (or there are none).
    public static func total(_ lines: [PrefacturaLine]) -> Money? {
        guard let currency = lines.first?.amount.currency, lines.allSatisfy({ $0.amount.currency == currency }) else {
            return nil
        }
        return Money(minor: lines.reduce(0) { $0 + $1.amount.minor }, currency: currency)
    }

    /// The lines of `billing.price-prefactura` / `billing.correct-prefactura`: at least one; each
    /// described, its amount `quantity × unitPrice` (no negative prices), all in the OT's currency;
    /// a positive total, which is returned.
    public static func validate(lines: [PrefacturaLine], by: String, currency: Currency) throws(Rejection) -> Money {
        var problems: [FieldProblem] = []
        if by.isBlank { problems.append(FieldProblem(field: "data.by", problem: "must not be empty")) }
        if lines.isEmpty { problems.append(FieldProblem(field: "data.lines", problem: "at least one line")) }
        for (i, line) in lines.enumerated() {
            let at = "data.lines[\(i)]"
            if line.description.isBlank { problems.append(FieldProblem(field: "\(at).description", problem: "must not be empty")) }
            if line.quantity < 1 { problems.append(FieldProblem(field: "\(at).quantity", problem: "at least 1")) }
            if line.unitPrice.minor < 0 { problems.append(FieldProblem(field: "\(at).unitPrice.minor", problem: "must not be negative")) }
            if line.unitPrice.currency != currency || line.amount.currency != currency {
                problems.append(FieldProblem(field: "\(at).amount.currency", problem: "must be the OT's currency, \(currency.rawValue)"))
            }
            let (product, overflow) = Int64(line.quantity).multipliedReportingOverflow(by: line.unitPrice.minor)
            if overflow || line.amount.minor != product {
                problems.append(FieldProblem(field: "\(at).amount.minor", problem: "must be quantity × unitPrice"))
            }
        }
        if problems.isEmpty {
            let (sum, overflow) = lines.reduce((Int64(0), false)) { acc, l in
                let (v, o) = acc.0.addingReportingOverflow(l.amount.minor)
                return (v, acc.1 || o)
            }
            if overflow || sum <= 0 { problems.append(FieldProblem(field: "data.lines", problem: "the total must be positive")) }
            if problems.isEmpty { return Money(minor: sum, currency: currency) }
        }
        throw Rejection.validation(problems)
    }

    // MARK: CxC

    /// Checks `billing.record-payment` on its own (before looking at the charge).
    public static func validate(_ command: RecordPayment) throws(Rejection) {
        var problems: [FieldProblem] = []
        if command.chargeId.isBlank {
            problems.append(FieldProblem(field: "data.chargeId", problem: "must not be empty"))
        }
        if command.receipt.isBlank {
            problems.append(FieldProblem(field: "data.receipt", problem: "must not be empty: the cashier's receipt number"))
        }
        if !problems.isEmpty { throw Rejection.validation(problems) }
    }

    /// Checks a payment against its charge: a charge is paid once, for exactly its amount (minor
    /// units and currency).
    public static func check(payment: RecordPayment, chargeAmount: Money, alreadyPaid: Bool) throws(Rejection) {
        if alreadyPaid {
            throw Rejection(
                .alreadyDone, "charge \(payment.chargeId) is already paid",
                errors: [FieldProblem(field: "data.chargeId", problem: "already paid")])
        }
        if payment.amount != chargeAmount {
            throw Rejection(
                .amountMismatch,
                "charge \(payment.chargeId) is \(chargeAmount.minor) \(chargeAmount.currency.rawValue), not \(payment.amount.minor) \(payment.amount.currency.rawValue)",
                errors: [
                    FieldProblem(
                        field: "data.amount",
                        problem: "must be \(chargeAmount.minor) \(chargeAmount.currency.rawValue) (minor units)")
                ])
        }
    }

    /// The secondary keys of a charge: its id (the cashier's payment names it) and the OT it pays
    /// for (that OT's opening and cancellation name it).
    public static func chargeAliases(chargeId: String, workOrderId: String?) -> [String] {
        guard let workOrderId, !workOrderId.isBlank, workOrderId != chargeId else { return [chargeId] }
        return [chargeId, workOrderId]
    }

    /// `PF-<year>-<n, 6 digits>`: a prefactura's number.
    public static func prefacturaId(_ n: Int64, at date: Date) -> String { "PF-\(year(of: date))-\(padded(n, 6))" }
    /// `FAC-<country>-<year>-<n, 7 digits>`: an invoice's number.
    public static func invoiceId(_ n: Int64, country: Country, at date: Date) -> String {
        "FAC-\(country.rawValue)-\(year(of: date))-\(padded(n, 7))"
    }
    /// `CXC-<year>-<n, 6 digits>`: a charge's number.
    public static func chargeId(_ n: Int64, at date: Date) -> String { "CXC-\(year(of: date))-\(padded(n, 6))" }

    /// `n` with leading zeros to `width` digits (more digits are kept).
    static func padded(_ n: Int64, _ width: Int) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// The year of a date, in UTC (charge, prefactura and invoice numbers).
    public static func year(of date: Date) -> Int {
        utcCalendar.component(.year, from: date)
    }

    static let utcCalendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()
}
