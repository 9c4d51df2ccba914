import Foundation

// Commands of pole moves, billing, post-sale and damages, published on `ot.commands`.

/// `polemove.request`: a person with no active service asks to move a pole (OPE-SUM-GES-P08).
public struct RequestPoleMove: Command {
    public static let type = "polemove.request"

    /// Who asks; they pay the Bs 1000 CxC.
    public var requester: Payer
    /// Where the pole is.
    public var address: String
    /// Existing customers go to the generic procedure and are rejected here.
    public var isExistingCustomer: Bool

    /// Creates the command.
    public init(requester: Payer, address: String, isExistingCustomer: Bool) {
        self.requester = requester
        self.address = address
        self.isExistingCustomer = isExistingCustomer
    }

    public static let schema: JSONSchema = .object(
        [
            "requester": .required(Payer.schema.described("who asks; pays the charge")),
            "address": .required(.string("where the pole is")),
            "isExistingCustomer": .required(.boolean("existing customers use the generic procedure")),
        ], description: "request a pole move")

    public static let example = RequestPoleMove(
        requester: .example, address: "Av. Blanco Galindo km 4, Quillacollo, Cochabamba",
        isExistingCustomer: false)
}

/// `billing.record-payment`: the cashier records payment of a charge (CxC).
public struct RecordPayment: Command {
    public static let type = "billing.record-payment"

    /// The charge paid.
    public var chargeId: String
    /// Amount paid.
    public var amount: Money
    /// Cashier receipt number.
    public var receipt: String

    /// Creates the command.
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
        ], description: "record the payment of a charge")

    public static let example = RecordPayment(
        chargeId: "CXC-2026-004512", amount: .bolivianos(1000), receipt: "REC-CBBA-0098213")
}

/// The commercial head's decision on a prefactura.
public enum PrefacturaDecision: String, Codable, Sendable, CaseIterable {
    /// Matches the commercial agreements: the invoice can be issued.
    case approve
    /// Does not match: back to the quality controller.
    case `return`
}

/// `billing.prefactura-review`: the commercial head checks a prefactura against the agreements.
public struct ReviewPrefactura: Command {
    public static let type = "billing.prefactura-review"

    /// The prefactura.
    public var prefacturaId: String
    /// Approve or return.
    public var decision: PrefacturaDecision
    /// Who reviews.
    public var by: String
    /// Review notes.
    public var notes: String?

    /// Creates the command.
    public init(prefacturaId: String, decision: PrefacturaDecision, by: String, notes: String? = nil) {
        self.prefacturaId = prefacturaId
        self.decision = decision
        self.by = by
        self.notes = notes
    }

    public var correlationKey: String? { prefacturaId }

    public static let schema: JSONSchema = .object(
        [
            "prefacturaId": .required(.identifier("the prefactura")),
            "decision": .required(.enumeration(PrefacturaDecision.self)),
            "by": .required(.identifier("who reviews")),
            "notes": .optional(.string("review notes")),
        ], description: "review a prefactura")

    public static let example = ReviewPrefactura(
        prefacturaId: "PF-2026-000731", decision: .approve, by: "carla.rocha",
        notes: "Conforme al contrato marco")
}

/// An enterprise post-sale flow (GC-PRC-OPE-ASE-04 A–L).
public enum PostSaleFlow: String, Codable, Sendable, CaseIterable {
    case supplementaryService
    case planChange
    case transfer
    case suspension
    case reconnection
    case damage
    case billingClaim
    case callDetail
    case withdrawal
    case collection
    case loyaltyCall
    case preventiveCheck
    case supportVisit
}

/// `postsale.request`: an executive enters an enterprise post-sale request.
public struct RequestPostSale: Command {
    public static let type = "postsale.request"

    /// Id chosen by the sender; assigned when absent.
    public var requestId: String?
    /// Which flow.
    public var flow: PostSaleFlow
    /// The customer.
    public var customer: Customer
    /// The contract concerned.
    public var contractId: String
    /// Products concerned.
    public var products: [Product]
    /// How the request arrived (email, WhatsApp, in person, …).
    public var channel: String
    /// Flow-specific fields.
    public var details: JSONObject
    /// Supporting documents (request letter, …).
    public var documents: [Document]

    /// Creates the command.
    public init(
        requestId: String? = nil,
        flow: PostSaleFlow,
        customer: Customer,
        contractId: String,
        products: [Product],
        channel: String,
        details: JSONObject,
        documents: [Document]
    ) {
        self.requestId = requestId
        self.flow = flow
        self.customer = customer
        self.contractId = contractId
        self.products = products
        self.channel = channel
        self.details = details
        self.documents = documents
    }

    public var correlationKey: String? { requestId }

    public static let schema: JSONSchema = .object(
        [
            "requestId": .optional(.identifier("request id chosen by the sender; assigned when absent")),
            "flow": .required(.enumeration(PostSaleFlow.self)),
            "customer": .required(Customer.schema),
            "contractId": .required(.identifier("the contract concerned")),
            "products": .required(.array(of: Product.schema, "products concerned")),
            "channel": .required(.string("how the request arrived: email, whatsapp, inPerson, …")),
            "details": .required(.freeformObject(description: "flow-specific fields")),
            "documents": .required(.array(of: Document.schema, "supporting documents")),
        ], description: "enter an enterprise post-sale request")

    public static let example = RequestPostSale(
        requestId: "PV-2026-002918",
        flow: .suspension,
        customer: Customer(
            id: "C-5531", name: "Importadora Illimani S.R.L.", taxId: "2849301015",
            sector: .private, segment: .pyme, country: .bo),
        contractId: "CT-2019-33710",
        products: [
            Product(id: "LIN-4251187", type: .line, monthly: Money(minor: 7_000, currency: .bob)),
            Product(id: "INT-4410982", type: .internet, monthly: Money(minor: 34_900, currency: .bob)),
        ],
        channel: "whatsapp",
        details: ["from": "2026-12-01", "to": "2027-02-28", "reason": "Cierre temporal por inventario"],
        documents: [
            Document(
                kind: .requestLetter, uri: "s3://ot-docs/C-5531/carta-suspension.pdf",
                sha256: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90")
        ])
}

/// Where a damage report came in (COM-GCM-P12).
public enum DamageChannel: String, Codable, Sendable, CaseIterable {
    case callCenter
    case helpDesk
    case retention
}

/// `damage.report`: a customer reports a damage on a product.
public struct ReportDamage: Command {
    public static let type = "damage.report"

    /// The customer.
    public var customer: Customer
    /// The damaged product.
    public var product: ProductRef
    /// Where the report came in.
    public var channel: DamageChannel
    /// The reported fault.
    public var fault: String
    /// Where the product is installed.
    public var address: String?
    /// A phone to reach the customer.
    public var referencePhone: String?

    /// Creates the command.
    public init(
        customer: Customer,
        product: ProductRef,
        channel: DamageChannel,
        fault: String,
        address: String? = nil,
        referencePhone: String? = nil
    ) {
        self.customer = customer
        self.product = product
        self.channel = channel
        self.fault = fault
        self.address = address
        self.referencePhone = referencePhone
    }

    public static let schema: JSONSchema = .object(
        [
            "customer": .required(Customer.schema),
            "product": .required(ProductRef.schema),
            "channel": .required(.enumeration(DamageChannel.self)),
            "fault": .required(.string("the reported fault")),
            "address": .optional(.string("where the product is installed")),
            "referencePhone": .optional(.string("a phone to reach the customer")),
        ], description: "report a damage on a product")

    public static let example = ReportDamage(
        customer: .residentialExample, product: .example, channel: .callCenter,
        fault: "Sin conexión a internet, luz LOS roja en el router",
        address: "Calle Jordán 0457, Cochabamba", referencePhone: "+591 71234567")
}
