import Foundation

// Facts of billing and surveys, published on `ot.events`.

/// `billing.charge-requested`: some flow asks billing for a one-off charge (CxC).
public struct ChargeRequested: Event {
    public static let type = "billing.charge-requested"

    /// Id of the request; billing deduplicates on it.
    public var requestId: String
    /// Amount to charge.
    public var amount: Money
    /// Who pays.
    public var payer: Payer
    /// What the charge is for.
    public var reason: String
    /// The OT the charge belongs to.
    public var workOrderId: String?

    /// Creates the event.
    public init(requestId: String, amount: Money, payer: Payer, reason: String, workOrderId: String? = nil) {
        self.requestId = requestId
        self.amount = amount
        self.payer = payer
        self.reason = reason
        self.workOrderId = workOrderId
    }

    public var correlationKey: String? { requestId }

    public static let schema: JSONSchema = .object(
        [
            "requestId": .required(.identifier("request id; billing deduplicates on it")),
            "amount": .required(Money.schema),
            "payer": .required(Payer.schema),
            "reason": .required(.string("what the charge is for")),
            "workOrderId": .optional(.workOrderId),
        ], description: "a one-off charge was requested")

    public static let example = ChargeRequested(
        requestId: "PM-2026-000388", amount: .bolivianos(1000), payer: .example,
        reason: "Servicio de Ingeniería Traslado Poste Usuario (52137)",
        workOrderId: "5b7d9f1a-2c4e-4a6b-8d0f-1a3c5e7a9b2d")
}

/// `billing.prefactura-approved`: the commercial head approved a prefactura.
public struct PrefacturaApproved: Event {
    public static let type = "billing.prefactura-approved"

    /// The prefactura.
    public var prefacturaId: String
    /// Its work order.
    public var workOrderId: String
    /// Who approved.
    public var by: String
    /// Review notes.
    public var notes: String?

    /// Creates the event.
    public init(prefacturaId: String, workOrderId: String, by: String, notes: String? = nil) {
        self.prefacturaId = prefacturaId
        self.workOrderId = workOrderId
        self.by = by
        self.notes = notes
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "prefacturaId": .required(.identifier("the prefactura")),
            "workOrderId": .required(.workOrderId),
            "by": .required(.identifier("who approved")),
            "notes": .optional(.string("review notes")),
        ], description: "a prefactura was approved")

    public static let example = PrefacturaApproved(
        prefacturaId: "PF-2026-000731", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", by: "carla.rocha",
        notes: "Conforme al contrato marco")
}

/// `billing.prefactura-returned`: the commercial head returned a prefactura for correction.
public struct PrefacturaReturned: Event {
    public static let type = "billing.prefactura-returned"

    /// The prefactura.
    public var prefacturaId: String
    /// Its work order.
    public var workOrderId: String
    /// Who returned it.
    public var by: String
    /// What to correct.
    public var notes: String?

    /// Creates the event.
    public init(prefacturaId: String, workOrderId: String, by: String, notes: String? = nil) {
        self.prefacturaId = prefacturaId
        self.workOrderId = workOrderId
        self.by = by
        self.notes = notes
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "prefacturaId": .required(.identifier("the prefactura")),
            "workOrderId": .required(.workOrderId),
            "by": .required(.identifier("who returned it")),
            "notes": .optional(.string("what to correct")),
        ], description: "a prefactura was returned")

    public static let example = PrefacturaReturned(
        prefacturaId: "PF-2026-000731", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", by: "carla.rocha",
        notes: "El precio unitario no coincide con la oferta")
}

/// `survey.requested`: send the satisfaction survey after the report was delivered (§4.8).
public struct SurveyRequested: Event {
    public static let type = "survey.requested"

    /// The survey.
    public var surveyId: String
    /// Its work order.
    public var workOrderId: String
    /// Who is surveyed.
    public var customer: Customer

    /// Creates the event.
    public init(surveyId: String, workOrderId: String, customer: Customer) {
        self.surveyId = surveyId
        self.workOrderId = workOrderId
        self.customer = customer
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "surveyId": .required(.identifier("the survey")),
            "workOrderId": .required(.workOrderId),
            "customer": .required(Customer.schema),
        ], description: "a satisfaction survey was requested")

    public static let example = SurveyRequested(
        surveyId: "SV-2026-000412", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", customer: .example)
}

/// `billing.charge-created`: a CxC exists and was sent to the cashier.
public struct ChargeCreated: Event {
    public static let type = "billing.charge-created"

    /// The charge.
    public var chargeId: String
    /// Amount.
    public var amount: Money
    /// Who pays.
    public var payer: Payer
    /// What it is for.
    public var reason: String
    /// The OT it belongs to.
    public var workOrderId: String?
    /// The request that created it.
    public var requestId: String?

    /// Creates the event.
    public init(
        chargeId: String,
        amount: Money,
        payer: Payer,
        reason: String,
        workOrderId: String? = nil,
        requestId: String? = nil
    ) {
        self.chargeId = chargeId
        self.amount = amount
        self.payer = payer
        self.reason = reason
        self.workOrderId = workOrderId
        self.requestId = requestId
    }

    public var correlationKey: String? { chargeId }

    public static let schema: JSONSchema = .object(
        [
            "chargeId": .required(.identifier("the charge (CxC)")),
            "amount": .required(Money.schema),
            "payer": .required(Payer.schema),
            "reason": .required(.string("what it is for")),
            "workOrderId": .optional(.workOrderId),
            "requestId": .optional(.identifier("the request that created it")),
        ], description: "a charge was created")

    public static let example = ChargeCreated(
        chargeId: "CXC-2026-004512", amount: .bolivianos(1000), payer: .example,
        reason: "Servicio de Ingeniería Traslado Poste Usuario (52137)",
        workOrderId: "5b7d9f1a-2c4e-4a6b-8d0f-1a3c5e7a9b2d", requestId: "PM-2026-000388")
}

/// `billing.charge-paid`: the cashier took payment and handed over the invoice.
public struct ChargePaid: Event {
    public static let type = "billing.charge-paid"

    /// The charge.
    public var chargeId: String
    /// Amount paid.
    public var amount: Money
    /// Cashier receipt number.
    public var receipt: String

    /// Creates the event.
    public init(chargeId: String, amount: Money, receipt: String) {
        self.chargeId = chargeId
        self.amount = amount
        self.receipt = receipt
    }

    public var correlationKey: String? { chargeId }

    public static let schema: JSONSchema = .object(
        [
            "chargeId": .required(.identifier("the charge (CxC)")),
            "amount": .required(Money.schema.described("amount paid")),
            "receipt": .required(.identifier("cashier receipt number")),
        ], description: "a charge was paid")

    public static let example = ChargePaid(
        chargeId: "CXC-2026-004512", amount: .bolivianos(1000), receipt: "REC-CBBA-0098213")
}

/// `billing.prefactura-issued`: a prefactura was drafted from a closed OT.
public struct PrefacturaIssued: Event {
    public static let type = "billing.prefactura-issued"

    /// The prefactura.
    public var prefacturaId: String
    /// Its work order.
    public var workOrderId: String
    /// Total.
    public var amount: Money
    /// Its lines.
    public var lines: [PrefacturaLine]

    /// Creates the event.
    public init(prefacturaId: String, workOrderId: String, amount: Money, lines: [PrefacturaLine]) {
        self.prefacturaId = prefacturaId
        self.workOrderId = workOrderId
        self.amount = amount
        self.lines = lines
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "prefacturaId": .required(.identifier("the prefactura")),
            "workOrderId": .required(.workOrderId),
            "amount": .required(Money.schema.described("total")),
            "lines": .required(.array(of: PrefacturaLine.schema, "lines of the prefactura")),
        ], description: "a prefactura was issued")

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
        ])
}

/// Who issues the invoice: treasury in Chile, the account manager in Colombia, billing in Bolivia.
public enum InvoiceIssuer: String, Codable, Sendable, CaseIterable {
    case treasuryCL
    case accountManagerCO
    case billingBO
}

/// `billing.invoice-issued`: the invoice of an approved prefactura was issued (§4.7).
public struct InvoiceIssued: Event {
    public static let type = "billing.invoice-issued"

    /// The invoice.
    public var invoiceId: String
    /// The approved prefactura.
    public var prefacturaId: String
    /// The work order.
    public var workOrderId: String
    /// Total.
    public var amount: Money
    /// Who issued it.
    public var issuer: InvoiceIssuer

    /// Creates the event.
    public init(invoiceId: String, prefacturaId: String, workOrderId: String, amount: Money, issuer: InvoiceIssuer) {
        self.invoiceId = invoiceId
        self.prefacturaId = prefacturaId
        self.workOrderId = workOrderId
        self.amount = amount
        self.issuer = issuer
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "invoiceId": .required(.identifier("the invoice")),
            "prefacturaId": .required(.identifier("the approved prefactura")),
            "workOrderId": .required(.workOrderId),
            "amount": .required(Money.schema.described("total")),
            "issuer": .required(.enumeration(InvoiceIssuer.self)),
        ], description: "an invoice was issued")

    public static let example = InvoiceIssued(
        invoiceId: "FAC-BO-2026-0019874", prefacturaId: "PF-2026-000731",
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", amount: Money(minor: 4_850_000, currency: .bob),
        issuer: .billingBO)
}

/// `billing.proration-computed`: what a product withdrawal charges for its last month.
public struct ProrationComputed: Event {
    public static let type = "billing.proration-computed"

    /// The post-sale request.
    public var requestId: String
    /// The product withdrawn.
    public var productId: String
    /// What is charged.
    public var charged: Money
    /// Days charged.
    public var days: Int
    /// Days of the month.
    public var daysInMonth: Int
    /// The rule applied, e.g. `flatMonth`, `proratedToRequestDate`, `multipackBasicNotProrated`.
    public var rule: String

    /// Creates the event.
    public init(requestId: String, productId: String, charged: Money, days: Int, daysInMonth: Int, rule: String) {
        self.requestId = requestId
        self.productId = productId
        self.charged = charged
        self.days = days
        self.daysInMonth = daysInMonth
        self.rule = rule
    }

    public var correlationKey: String? { requestId }

    public static let schema: JSONSchema = .object(
        [
            "requestId": .required(.identifier("the post-sale request")),
            "productId": .required(.identifier("the product withdrawn")),
            "charged": .required(Money.schema.described("what is charged")),
            "days": .required(.integer(min: 0, max: 31, "days charged")),
            "daysInMonth": .required(.integer(min: 28, max: 31, "days of the month")),
            "rule": .required(.string("the rule applied: flatMonth, proratedToRequestDate, multipackBasicNotProrated, …")),
        ], description: "a proration was computed")

    public static let example = ProrationComputed(
        requestId: "PV-2026-003040", productId: "INT-4410982", charged: Money(minor: 22_516, currency: .bob),
        days: 20, daysInMonth: 31, rule: "proratedToRequestDate")
}
