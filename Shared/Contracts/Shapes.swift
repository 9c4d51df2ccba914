import Foundation

// Common data shapes of the contract ("Common data shapes" in CONTRACT.md).

/// ISO 4217 currency of a ``Money`` amount.
public enum Currency: String, Codable, Sendable, CaseIterable {
    /// Boliviano (Bs).
    case bob = "BOB"
    /// Chilean peso.
    case clp = "CLP"
    /// Colombian peso.
    case cop = "COP"
    /// US dollar.
    case usd = "USD"
}

/// An amount in integer minor units: `{"minor": 100000, "currency": "BOB"}` is Bs 1000.
@Contract("an amount in integer minor units")
public struct Money: Codable, Sendable, Equatable, Hashable {
    /// Amount in minor units (e.g. centavos).
    public var minor: Int64
    /// ISO 4217 currency.
    public var currency: Currency

    /// An amount in bolivianos, e.g. `Money.bolivianos(1000)` = Bs 1000.
    public static func bolivianos(_ amount: Int64) -> Money {
        Money(minor: amount * 100, currency: .bob)
    }
}

/// Public or private customer; public-sector work orders are deadline-critical.
public enum Sector: String, Codable, Sendable, CaseIterable {
    case `public`
    case `private`
}

/// Commercial segment of a customer; it drives the priority matrix.
public enum Segment: String, Codable, Sendable, CaseIterable {
    case topA
    case topB
    case pyme
    case influencer
    case enterprise
    case residential
}

/// Country of operation.
public enum Country: String, Codable, Sendable, CaseIterable {
    /// Bolivia.
    case bo = "BO"
    /// Chile.
    case cl = "CL"
    /// Colombia.
    case co = "CO"
}

extension Country {
    /// The currency work of the country is priced and billed in.
    public var currency: Currency {
        switch self {
        case .bo: .bob
        case .cl: .clp
        case .co: .cop
        }
    }
}

/// A customer as the CRM knows it.
@Contract("a customer")
public struct Customer: Codable, Sendable, Equatable, Hashable {
    /// CRM customer id.
    ///
    /// For example `C-1042`.
    @Field(.identifier) public var id: String
    /// Legal or personal name.
    public var name: String
    /// NIT / RUT / CI.
    public var taxId: String
    /// Public or private.
    @Field(.typeDescription) public var sector: Sector
    /// Commercial segment.
    @Field(.typeDescription) public var segment: Segment
    /// Country.
    @Field(.typeDescription) public var country: Country

    /// A public-sector customer in Cochabamba.
    public static let example = Customer(
        id: "C-1042", name: "Gobierno Autónomo Municipal de Cochabamba", taxId: "1023456025",
        sector: .public, segment: .enterprise, country: .bo)

    /// A residential customer.
    public static let residentialExample = Customer(
        id: "C-88231", name: "María Fernanda Quispe Mamani", taxId: "6543210 CB",
        sector: .private, segment: .residential, country: .bo)
}

/// What a document is; an OT is approved only with an offer plus a purchase order, a signed
/// quotation or a contract.
public enum DocumentKind: String, Codable, Sendable, CaseIterable {
    case offer
    case workOrder
    case purchaseOrder
    case signedQuote
    case contract
    case technicalAnnex
    case gantt
    case surveySheet
    case requestLetter
    case other
}

/// A document kept in the customer folder.
@Contract("a document of the customer folder")
public struct Document: Codable, Sendable, Equatable, Hashable {
    /// What the document is.
    @Field(.typeDescription) public var kind: DocumentKind
    /// Where the document is stored.
    @Field(.identifier) public var uri: String
    /// Hex SHA-256 of the content.
    ///
    /// Absent when not known.
    public var sha256: String?
}

/// The service line that executes a work order. An open set: known values are constants, any
/// other string is accepted and passed through.
public struct ServiceLine: RawRepresentable, Codable, Sendable, Hashable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) {
        self.rawValue = value
    }

    public var description: String { rawValue }

    /// Consulting & verification services.
    public static let csv = ServiceLine(rawValue: "CSV")
    /// Spot services.
    public static let spot = ServiceLine(rawValue: "SPOT")
    /// GEP services.
    public static let gep = ServiceLine(rawValue: "GEP")

    /// JSON Schema of a service line (open set).
    public static let schema: JSONSchema = .identifier("service line: CSV, SPOT, GEP or another line")
}

/// What a work order is for.
public enum WorkOrderKind: String, Codable, Sendable, CaseIterable {
    case project
    case poleMove
    case repair
    case installation
    case transfer
    case withdrawal
    case visit
}

/// How attended work ended: ATENDIDO (resolved), ATENDIDO SIN SOLUCIÓN (unresolved), or
/// infundado (unfounded — nothing was broken in the field).
public enum Outcome: String, Codable, Sendable, CaseIterable {
    case resolved
    case unresolved
    case unfounded
}

/// The lifecycle state of a work order.
///
/// `opened` → `approvalPending` ⇄ → `approved` | `rejected`; `approved` → `dispatched` →
/// `assigned` → `attended` → `closed`; `cancelled` from any non-final state.
public enum WorkOrderState: String, Codable, Sendable, CaseIterable {
    case opened
    case approvalPending
    case approved
    case rejected
    case dispatched
    case assigned
    case attended
    case cancelled
    case closed

    /// Final states accept no further command: `rejected`, `cancelled`, `closed`.
    public var isFinal: Bool {
        switch self {
        case .rejected, .cancelled, .closed: true
        default: false
        }
    }
}

/// A purchase order received for an approved quotation.
@Contract("the customer's purchase order")
public struct PurchaseOrder: Codable, Sendable, Equatable, Hashable {
    /// Purchase-order number.
    ///
    /// The customer's own number.
    @Field(.identifier) public var number: String
    /// The ordered amount.
    @Field(.typeDescription) public var amount: Money
}

/// Work of a public-sector OT outside the city, with the travel budget the commercial
/// department assigned to it (SGC-PC-07 §4.5): the line head requests it from the Head of
/// Administration once the OT is approved.
@Contract("work outside the city and its travel budget")
public struct Travel: Codable, Sendable, Equatable, Hashable {
    /// Where the work is, outside the city.
    ///
    /// For example `Sacaba` or `Quillacollo`.
    public var destination: String
    /// The travel budget assigned by the commercial department.
    @Field(.typeDescription) public var budget: Money
}

/// The person who will do the work: inspector, consultant or technician.
@Contract("who does the work")
public struct Assignee: Codable, Sendable, Equatable, Hashable {
    /// Staff id.
    @Field(.identifier) public var id: String
    /// Full name.
    public var name: String
    /// Inspector, consultant, technician, …
    ///
    /// The role, e.g. `inspector`, `consultant`, `technician`.
    public var role: String

    /// A field technician.
    public static let example = Assignee(id: "T-207", name: "Juan Carlos Vargas Rojas", role: "technician")
}

/// A person or company identified by name and identity/tax number (CI / NIT / RUT): who pays a
/// charge, or who requests a pole move (and therefore pays its CxC).
@Contract("a person or company by name and identity number")
public struct Payer: Codable, Sendable, Equatable, Hashable {
    /// Full or legal name.
    public var name: String
    /// CI / NIT / RUT.
    @Field(.identifier) public var idNumber: String

    /// A private person.
    public static let example = Payer(name: "Rodrigo Alejandro Choque Flores", idNumber: "4829173 LP")
}

/// A product type of the telecom portfolio; it decides proration on withdrawal.
public enum ProductType: String, Codable, Sendable, CaseIterable {
    case line
    case hspa
    case internet
    case tv
    case duoPack
    case multipack
}

/// A contracted product with its monthly fee.
@Contract("a contracted product")
public struct Product: Codable, Sendable, Equatable, Hashable {
    /// Product id.
    ///
    /// The id of the product (service) in the CRM.
    @Field(.identifier) public var id: String
    /// Product type.
    @Field(.typeDescription) public var type: ProductType
    /// Monthly fee.
    public var monthly: Money
}

/// A reference to a product: its id and type.
@Contract("a product by id and type")
public struct ProductRef: Codable, Sendable, Equatable, Hashable {
    /// Product id.
    ///
    /// The id of the product (service) in the CRM.
    @Field(.identifier) public var id: String
    /// Product type.
    @Field(.typeDescription) public var type: ProductType

    /// A home internet product.
    public static let example = ProductRef(id: "INT-4410982", type: .internet)
}

/// One line of a prefactura.
@Contract("one line of a prefactura")
public struct PrefacturaLine: Codable, Sendable, Equatable, Hashable {
    /// What is billed.
    public var description: String
    /// Number of units.
    @Field(min: 1) public var quantity: Int
    /// Price of one unit.
    public var unitPrice: Money
    /// Line total.
    ///
    /// `quantity × unitPrice`, after any line discount.
    public var amount: Money
}

/// Free-form JSON object members (`changes`, `details`).
public typealias JSONObject = [String: JSONValue]

/// Example timestamps (exact in binary floating point, so they round-trip through JSON).
enum ExampleTime {
    static func at(_ text: String) -> Date {
        guard let date = RFC3339.parse(text) else { preconditionFailure("bad example time \(text)") }
        return date
    }
}
