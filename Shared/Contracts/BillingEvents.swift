import Foundation

// Facts of billing and surveys, published on `ot.events`.

/// `billing.charge-requested`: some flow asks billing for a one-off charge (CxC).
@Contract("a one-off charge was requested")
public struct ChargeRequested: Event {
    public static let type = "billing.charge-requested"

    /// Request id; billing deduplicates on it.
    @Field(.identifier) public var requestId: String
    /// Amount to charge.
    @Field(.typeDescription) public var amount: Money
    /// Who pays.
    @Field(.typeDescription) public var payer: Payer
    /// What the charge is for.
    public var reason: String
    /// Work-order id.
    ///
    /// The OT the charge belongs to.
    @Field(.identifier) public var workOrderId: String?

    public var correlationKey: String? { requestId }

    public static let example = ChargeRequested(
        requestId: "PM-2026-000388", amount: .bolivianos(1000), payer: .example,
        reason: "Servicio de Ingeniería Traslado Poste Usuario (52137)",
        workOrderId: "5b7d9f1a-2c4e-4a6b-8d0f-1a3c5e7a9b2d")
}

/// `billing.prefactura-approved`: the commercial head approved a prefactura.
@Contract("a prefactura was approved")
public struct PrefacturaApproved: Event {
    public static let type = "billing.prefactura-approved"

    /// The prefactura.
    @Field(.identifier) public var prefacturaId: String
    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Who approved.
    @Field(.identifier) public var by: String
    /// Review notes.
    public var notes: String?

    public var correlationKey: String? { workOrderId }

    public static let example = PrefacturaApproved(
        prefacturaId: "PF-2026-000731", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", by: "carla.rocha",
        notes: "Conforme al contrato marco")
}

/// `billing.prefactura-returned`: the commercial head returned a prefactura for correction.
@Contract("a prefactura was returned")
public struct PrefacturaReturned: Event {
    public static let type = "billing.prefactura-returned"

    /// The prefactura.
    @Field(.identifier) public var prefacturaId: String
    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Who returned it.
    @Field(.identifier) public var by: String
    /// What to correct.
    public var notes: String?

    public var correlationKey: String? { workOrderId }

    public static let example = PrefacturaReturned(
        prefacturaId: "PF-2026-000731", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", by: "carla.rocha",
        notes: "El precio unitario no coincide con la oferta")
}

/// `survey.requested`: send the satisfaction survey after the report was delivered (§4.8).
@Contract("a satisfaction survey was requested")
public struct SurveyRequested: Event {
    public static let type = "survey.requested"

    /// The survey.
    @Field(.identifier) public var surveyId: String
    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Who is surveyed.
    @Field(.typeDescription) public var customer: Customer

    public var correlationKey: String? { workOrderId }

    public static let example = SurveyRequested(
        surveyId: "SV-2026-000412", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", customer: .example)
}

/// `billing.charge-created`: a CxC exists and was sent to the cashier.
@Contract("a charge was created")
public struct ChargeCreated: Event {
    public static let type = "billing.charge-created"

    /// The charge (CxC).
    @Field(.identifier) public var chargeId: String
    /// Amount.
    @Field(.typeDescription) public var amount: Money
    /// Who pays.
    @Field(.typeDescription) public var payer: Payer
    /// What it is for.
    public var reason: String
    /// Work-order id.
    ///
    /// The OT it belongs to.
    @Field(.identifier) public var workOrderId: String?
    /// The request that created it.
    @Field(.identifier) public var requestId: String?

    public var correlationKey: String? { chargeId }

    public static let example = ChargeCreated(
        chargeId: "CXC-2026-004512", amount: .bolivianos(1000), payer: .example,
        reason: "Servicio de Ingeniería Traslado Poste Usuario (52137)",
        workOrderId: "5b7d9f1a-2c4e-4a6b-8d0f-1a3c5e7a9b2d", requestId: "PM-2026-000388")
}

/// `billing.charge-paid`: the cashier took payment and handed over the invoice.
@Contract("a charge was paid")
public struct ChargePaid: Event {
    public static let type = "billing.charge-paid"

    /// The charge (CxC).
    @Field(.identifier) public var chargeId: String
    /// Amount paid.
    public var amount: Money
    /// Cashier receipt number.
    @Field(.identifier) public var receipt: String

    public var correlationKey: String? { chargeId }

    public static let example = ChargePaid(
        chargeId: "CXC-2026-004512", amount: .bolivianos(1000), receipt: "REC-CBBA-0098213")
}

/// `billing.prefactura-issued`: a prefactura was drafted from a closed OT.
@Contract("a prefactura was issued")
public struct PrefacturaIssued: Event {
    public static let type = "billing.prefactura-issued"

    /// The prefactura.
    @Field(.identifier) public var prefacturaId: String
    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Total.
    public var amount: Money
    /// Lines of the prefactura.
    public var lines: [PrefacturaLine]
    /// Drafted at 0 without a price: it cannot be approved before `billing.price-prefactura`.
    ///
    /// Absent: false.
    public var needsPricing: Bool?
    /// The earlier version this one replaces (a returned, priced or re-scoped one), if any.
    @Field(.identifier) public var corrects: String?

    public var correlationKey: String? { workOrderId }

    public static let example = PrefacturaIssued(
        prefacturaId: "PF-2026-000731", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33",
        amount: Money(minor: 4_850_000, currency: .bob),
        lines: [
            PrefacturaLine(
                description: "Verificación de puesta a tierra por unidad educativa", quantity: 12,
                unitPrice: Money(minor: 350_000, currency: .bob), amount: Money(minor: 4_200_000, currency: .bob)),
            PrefacturaLine(
                description: "Informe técnico consolidado", quantity: 1,
                unitPrice: Money(minor: 650_000, currency: .bob), amount: Money(minor: 650_000, currency: .bob)),
        ], needsPricing: false, corrects: "PF-2026-000730")
}

/// Who issues the invoice: treasury in Chile, the account manager in Colombia, billing in Bolivia.
public enum InvoiceIssuer: String, Codable, Sendable, CaseIterable {
    case treasuryCL
    case accountManagerCO
    case billingBO
}

/// `billing.invoice-issued`: the invoice of an approved prefactura was issued (§4.7).
@Contract("an invoice was issued")
public struct InvoiceIssued: Event {
    public static let type = "billing.invoice-issued"

    /// The invoice.
    @Field(.identifier) public var invoiceId: String
    /// The approved prefactura.
    @Field(.identifier) public var prefacturaId: String
    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Total.
    public var amount: Money
    /// Who issued it.
    @Field(.typeDescription) public var issuer: InvoiceIssuer

    public var correlationKey: String? { workOrderId }

    public static let example = InvoiceIssued(
        invoiceId: "FAC-BO-2026-0019874", prefacturaId: "PF-2026-000731",
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", amount: Money(minor: 4_850_000, currency: .bob),
        issuer: .billingBO)
}

/// `billing.proration-computed`: what a product withdrawal charges for its last month.
@Contract("a proration was computed")
public struct ProrationComputed: Event {
    public static let type = "billing.proration-computed"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// The product withdrawn.
    @Field(.identifier) public var productId: String
    /// What is charged.
    public var charged: Money
    /// Days charged.
    @Field(min: 0, max: 31) public var days: Int
    /// Days of the month.
    @Field(min: 28, max: 31) public var daysInMonth: Int
    /// The rule applied: `fullMonth`, `prorated`, `multipackBasicNotProrated`.
    public var rule: String

    public var correlationKey: String? { requestId }

    public static let example = ProrationComputed(
        requestId: "PV-2026-003040", productId: "INT-4410982", charged: Money(minor: 22_516, currency: .bob),
        days: 20, daysInMonth: 31, rule: "prorated")
}
