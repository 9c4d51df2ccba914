import Foundation

// Commands of pole moves, billing, post-sale and damages, published on `ot.commands`.

/// `polemove.request`: a person with no active service asks to move a pole (OPE-SUM-GES-P08).
@Contract("request a pole move")
public struct RequestPoleMove: Command {
    public static let type = "polemove.request"

    /// Who asks; pays the charge.
    ///
    /// The requester pays the Bs 1000 CxC.
    public var requester: Payer
    /// Where the pole is.
    public var address: String
    /// Existing customers use the generic procedure.
    ///
    /// They are rejected here.
    public var isExistingCustomer: Bool

    public static let example = RequestPoleMove(
        requester: .example, address: "Av. Blanco Galindo km 4, Quillacollo, Cochabamba",
        isExistingCustomer: false)
}

/// `billing.record-payment`: the cashier records payment of a charge (CxC).
@Contract("record the payment of a charge")
public struct RecordPayment: Command {
    public static let type = "billing.record-payment"

    /// The charge (CxC).
    ///
    /// The charge paid.
    @Field(.identifier) public var chargeId: String
    /// Amount paid.
    public var amount: Money
    /// Cashier receipt number.
    @Field(.identifier) public var receipt: String

    public var correlationKey: String? { chargeId }

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
@Contract("review a prefactura")
public struct ReviewPrefactura: Command {
    public static let type = "billing.prefactura-review"

    /// The prefactura.
    @Field(.identifier) public var prefacturaId: String
    /// Approve or return.
    @Field(.typeDescription) public var decision: PrefacturaDecision
    /// Who reviews.
    @Field(.identifier) public var by: String
    /// Review notes.
    public var notes: String?

    public var correlationKey: String? { prefacturaId }

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
@Contract("enter an enterprise post-sale request")
public struct RequestPostSale: Command {
    public static let type = "postsale.request"

    /// Request id chosen by the sender; assigned when absent.
    @Field(.identifier) public var requestId: String?
    /// Which flow.
    @Field(.typeDescription) public var flow: PostSaleFlow
    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// The contract concerned.
    @Field(.identifier) public var contractId: String
    /// Products concerned.
    public var products: [Product]
    /// How the request arrived: email, whatsapp, inPerson, …
    public var channel: String
    /// Flow-specific fields.
    public var details: JSONObject
    /// Supporting documents.
    ///
    /// The request letter, …
    public var documents: [Document]

    public var correlationKey: String? { requestId }

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
@Contract("report a damage on a product")
public struct ReportDamage: Command {
    public static let type = "damage.report"

    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// The damaged product.
    @Field(.typeDescription) public var product: ProductRef
    /// Where the report came in.
    @Field(.typeDescription) public var channel: DamageChannel
    /// The reported fault.
    public var fault: String
    /// Where the product is installed.
    public var address: String?
    /// A phone to reach the customer.
    public var referencePhone: String?
    /// Who reports it.
    public var reporter: Payer?
    /// The help desk fixed it on the line (closed infundado, no OT).
    public var resolvedRemotely: Bool?

    public static let example = ReportDamage(
        customer: .residentialExample, product: .example, channel: .callCenter,
        fault: "Sin conexión a internet, luz LOS roja en el router",
        address: "Calle Jordán 0457, Cochabamba", referencePhone: "+591 71234567",
        reporter: Payer(name: "María Fernanda Quispe Mamani", idNumber: "6543210 CB"), resolvedRemotely: false)
}
