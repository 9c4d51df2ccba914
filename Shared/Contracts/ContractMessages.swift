import Foundation

// Enterprise contracts and their products (GC-PRC-OPE-ASE-04): registered by the CRM, kept by
// post-sale, learnt by billing for the recurring invoices.

/// The access technology of a product; it decides how cable TV comes back after a suspension.
public enum Technology: String, Codable, Sendable, CaseIterable {
    case copper
    case fiber
    case hspa
}

/// Where a contracted product stands.
public enum ProductStatus: String, Codable, Sendable, CaseIterable {
    case active
    case suspended
    case withdrawn
}

/// A product of a contract, with its monthly fee and installation day.
@Contract("a product of a contract")
public struct ContractProduct: Codable, Sendable, Equatable, Hashable {
    /// Product id.
    ///
    /// The id of the product (service) in the CRM.
    @Field(.identifier) public var id: String
    /// Product type.
    @Field(.typeDescription) public var type: ProductType
    /// Monthly fee.
    public var monthly: Money
    /// The day the product was installed (billing starts then).
    public var installedOn: Day
    /// Copper, fiber or HSPA.
    public var technology: Technology?

    /// A fixed line on copper.
    public static let lineExample = ContractProduct(
        id: "LIN-4251187", type: .line, monthly: Money(minor: 7_000, currency: .bob), installedOn: Day(2019, 3, 11)!,
        technology: .copper)
    /// A Multipack on fiber.
    public static let multipackExample = ContractProduct(
        id: "MPK-5512090", type: .multipack, monthly: Money(minor: 45_000, currency: .bob), installedOn: Day(2024, 6, 3)!,
        technology: .fiber)
}

/// `contract.register`: the CRM registers an enterprise contract and its products.
@Contract("register an enterprise contract")
public struct RegisterContract: Command {
    public static let type = "contract.register"

    /// The contract.
    @Field(.identifier) public var contractId: String
    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// Its products.
    public var products: [ContractProduct]
    /// Last day of the minimum permanence.
    ///
    /// A withdrawal on or before it pays the early-termination penalty.
    public var minimumPermanenceUntil: Day?
    /// The penalty for leaving inside the minimum permanence.
    public var earlyTerminationPenalty: Money?

    public var correlationKey: String? { contractId }

    public static let example = RegisterContract(
        contractId: "CT-2019-33710",
        customer: Customer(
            id: "C-5531", name: "Importadora Illimani S.R.L.", taxId: "2849301015", sector: .private, segment: .pyme, country: .bo),
        products: [.lineExample, .multipackExample], minimumPermanenceUntil: Day(2026, 6, 2)!,
        earlyTerminationPenalty: Money(minor: 90_000, currency: .bob))
}

/// `contract.registered`: post-sale knows the contract and its products.
@Contract("a contract was registered")
public struct ContractRegistered: Event {
    public static let type = "contract.registered"

    /// The contract.
    @Field(.identifier) public var contractId: String
    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// Its products.
    public var products: [ContractProduct]
    /// Last day of the minimum permanence.
    public var minimumPermanenceUntil: Day?
    /// The penalty for leaving inside the minimum permanence.
    public var earlyTerminationPenalty: Money?

    public var correlationKey: String? { contractId }

    public static let example = ContractRegistered(
        contractId: RegisterContract.example.contractId, customer: RegisterContract.example.customer,
        products: RegisterContract.example.products, minimumPermanenceUntil: RegisterContract.example.minimumPermanenceUntil,
        earlyTerminationPenalty: RegisterContract.example.earlyTerminationPenalty)
}

/// What happened to a product of a contract.
public enum ProductChange: String, Codable, Sendable, CaseIterable {
    /// A new product (a transfer with a change of technology creates one).
    case added
    /// A new monthly fee from `on` (plan change).
    case planChanged
    /// Suspended from `on`.
    case suspended
    /// Back in service from `on`.
    case reconnected
    /// Withdrawn: billed up to `on`.
    case withdrawn
    /// Moved to a new address.
    case moved
    /// A supplementary service was enabled or disabled.
    case servicesChanged
}

/// `contract.product-changed`: one product of a contract changed (billing follows it for the
/// recurring invoices).
@Contract("a product of a contract changed")
public struct ContractProductChanged: Event {
    public static let type = "contract.product-changed"

    /// The contract.
    @Field(.identifier) public var contractId: String
    /// The product as it stands after the change.
    @Field(.typeDescription) public var product: ContractProduct
    /// What changed.
    @Field(.typeDescription) public var change: ProductChange
    /// The day it takes effect.
    public var on: Day
    /// Where the product stands now.
    @Field(.typeDescription) public var status: ProductStatus
    /// The post-sale request that changed it.
    @Field(.identifier) public var requestId: String?
    /// Flow-specific facts (the new address, the supplementary services, the returned equipment).
    public var details: JSONObject?

    public var correlationKey: String? { requestId ?? contractId }

    public static let example = ContractProductChanged(
        contractId: "CT-2019-33710", product: .multipackExample, change: .withdrawn, on: Day(2026, 12, 10)!, status: .withdrawn,
        requestId: "PV-2026-003040", details: ["equipment": "devuelto completo"])
}
