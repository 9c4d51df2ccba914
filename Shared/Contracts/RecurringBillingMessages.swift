import Foundation

// The recurring side of billing (GC-PRC-OPE-ASE-04 I, H step 7): fees "a la recurrente", the
// monthly proforma of every contract and its payment.

/// `billing.recurring-charge-added`: a fee goes on the contract's next recurring invoice.
@Contract("a fee was added to the next recurring invoice")
public struct RecurringChargeAdded: Event {
    public static let type = "billing.recurring-charge-added"

    /// The recurring charge; billing deduplicates on it.
    @Field(.identifier) public var chargeId: String
    /// The post-sale request it comes from.
    @Field(.identifier) public var requestId: String?
    /// The contract billed.
    @Field(.identifier) public var contractId: String
    /// The product it concerns (a call detail is charged on its line's invoice).
    @Field(.identifier) public var productId: String?
    /// Amount.
    @Field(.typeDescription) public var amount: Money
    /// What it is for.
    public var reason: String

    public var correlationKey: String? { requestId ?? chargeId }

    public static let example = RecurringChargeAdded(
        chargeId: "RC-PV-2026-003177-1", requestId: "PV-2026-003177", contractId: "CT-2019-33710", productId: "LIN-4251187",
        amount: Money(minor: 2_400, currency: .bob), reason: "Detalle de llamadas salientes COMTECO: 2026-09, 2026-10")
}

/// `billing.run-cycle`: issue the month's proformas.
@Contract("run the recurring billing cycle of a month")
public struct RunBillingCycle: Command {
    public static let type = "billing.run-cycle"

    /// The month billed.
    public var month: YearMonth
    /// Due date of the proformas (default: the 20th of the next month).
    public var dueBy: Day?
    /// Only these contracts.
    public var contractIds: [String]?

    public static let example = RunBillingCycle(month: YearMonth(2026, 12)!, dueBy: Day(2027, 1, 20)!, contractIds: ["CT-2019-33710"])
}

/// One line of a proforma.
@Contract("one line of a proforma")
public struct ProformaLine: Codable, Sendable, Equatable, Hashable {
    /// The product billed, if the line is a product's.
    @Field(.identifier) public var productId: String?
    /// What is billed.
    public var description: String
    /// Amount.
    @Field(.typeDescription) public var amount: Money
}

/// `billing.proforma-issued`: the month's proforma invoice of one contract.
@Contract("a proforma was issued")
public struct ProformaIssued: Event {
    public static let type = "billing.proforma-issued"

    /// The proforma.
    @Field(.identifier) public var proformaId: String
    /// The contract.
    @Field(.identifier) public var contractId: String
    /// The month billed.
    public var month: YearMonth
    /// Each product's charge (prorated where it changed inside the month) and the fees added.
    public var lines: [ProformaLine]
    /// Total.
    @Field(.typeDescription) public var total: Money
    /// Unpaid after this day, the proforma is overdue.
    public var dueBy: Day

    public var correlationKey: String? { proformaId }

    public static let example = ProformaIssued(
        proformaId: "PRF-2026-12-000118", contractId: "CT-2019-33710", month: YearMonth(2026, 12)!,
        lines: [
            ProformaLine(productId: "LIN-4251187", description: "Línea fija", amount: Money(minor: 7_000, currency: .bob)),
            ProformaLine(productId: nil, description: "Detalle de llamadas", amount: Money(minor: 2_400, currency: .bob)),
        ],
        total: Money(minor: 9_400, currency: .bob), dueBy: Day(2027, 1, 20)!)
}

/// `billing.record-proforma-payment`: a proforma was paid.
@Contract("record the payment of a proforma")
public struct RecordProformaPayment: Command {
    public static let type = "billing.record-proforma-payment"

    /// The proforma.
    @Field(.identifier) public var proformaId: String
    /// Amount paid.
    public var amount: Money
    /// Receipt number.
    @Field(.identifier) public var receipt: String

    public var correlationKey: String? { proformaId }

    public static let example = RecordProformaPayment(
        proformaId: "PRF-2026-12-000118", amount: Money(minor: 9_400, currency: .bob), receipt: "REC-CBBA-0101877")
}

/// `billing.proforma-paid`: a proforma is paid.
@Contract("a proforma was paid")
public struct ProformaPaid: Event {
    public static let type = "billing.proforma-paid"

    /// The proforma.
    @Field(.identifier) public var proformaId: String
    /// The contract.
    @Field(.identifier) public var contractId: String
    /// Amount paid.
    public var amount: Money
    /// Receipt number.
    @Field(.identifier) public var receipt: String

    public var correlationKey: String? { proformaId }

    public static let example = ProformaPaid(
        proformaId: "PRF-2026-12-000118", contractId: "CT-2019-33710", amount: Money(minor: 9_400, currency: .bob),
        receipt: "REC-CBBA-0101877")
}

/// `billing.cycle-completed`: a billing run of a month ended.
@Contract("a recurring billing cycle completed")
public struct BillingCycleCompleted: Event {
    public static let type = "billing.cycle-completed"

    /// The month billed.
    public var month: YearMonth
    /// Proformas issued by this run.
    @Field(min: 0) public var proformas: Int

    public static let example = BillingCycleCompleted(month: YearMonth(2026, 12)!, proformas: 1_742)
}
