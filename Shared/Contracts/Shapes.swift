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
public struct Money: Codable, Sendable, Equatable, Hashable {
    /// Amount in minor units (centavos).
    public var minor: Int64
    /// ISO 4217 currency.
    public var currency: Currency

    /// Creates an amount from minor units.
    public init(minor: Int64, currency: Currency) {
        self.minor = minor
        self.currency = currency
    }

    /// An amount in bolivianos, e.g. `Money.bolivianos(1000)` = Bs 1000.
    public static func bolivianos(_ amount: Int64) -> Money {
        Money(minor: amount * 100, currency: .bob)
    }

    /// JSON Schema of a money amount.
    public static let schema: JSONSchema = .object(
        [
            "minor": .required(.integer("amount in minor units (e.g. centavos)")),
            "currency": .required(.enumeration(Currency.self, "ISO 4217 currency")),
        ], description: "an amount in integer minor units")
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

/// A customer as the CRM knows it.
public struct Customer: Codable, Sendable, Equatable, Hashable {
    /// CRM id, e.g. `C-1042`.
    public var id: String
    /// Legal or personal name.
    public var name: String
    /// NIT / RUT / CI.
    public var taxId: String
    /// Public or private.
    public var sector: Sector
    /// Commercial segment.
    public var segment: Segment
    /// Country.
    public var country: Country

    /// Creates a customer.
    public init(id: String, name: String, taxId: String, sector: Sector, segment: Segment, country: Country) {
        self.id = id
        self.name = name
        self.taxId = taxId
        self.sector = sector
        self.segment = segment
        self.country = country
    }

    /// JSON Schema of a customer.
    public static let schema: JSONSchema = .object(
        [
            "id": .required(.identifier("CRM customer id")),
            "name": .required(.string("legal or personal name")),
            "taxId": .required(.string("NIT / RUT / CI")),
            "sector": .required(.enumeration(Sector.self)),
            "segment": .required(.enumeration(Segment.self)),
            "country": .required(.enumeration(Country.self)),
        ], description: "a customer")

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
public struct Document: Codable, Sendable, Equatable, Hashable {
    /// What the document is.
    public var kind: DocumentKind
    /// Where it is stored.
    public var uri: String
    /// Hex SHA-256 of the content, when known.
    public var sha256: String?

    /// Creates a document reference.
    public init(kind: DocumentKind, uri: String, sha256: String? = nil) {
        self.kind = kind
        self.uri = uri
        self.sha256 = sha256
    }

    /// JSON Schema of a document.
    public static let schema: JSONSchema = .object(
        [
            "kind": .required(.enumeration(DocumentKind.self)),
            "uri": .required(.identifier("where the document is stored")),
            "sha256": .optional(.string("hex SHA-256 of the content")),
        ], description: "a document of the customer folder")
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
public struct PurchaseOrder: Codable, Sendable, Equatable, Hashable {
    /// The customer's purchase-order number.
    public var number: String
    /// The ordered amount.
    public var amount: Money

    /// Creates a purchase order.
    public init(number: String, amount: Money) {
        self.number = number
        self.amount = amount
    }

    /// JSON Schema of a purchase order.
    public static let schema: JSONSchema = .object(
        [
            "number": .required(.identifier("purchase-order number")),
            "amount": .required(Money.schema),
        ], description: "the customer's purchase order")
}

/// The person who will do the work: inspector, consultant or technician.
public struct Assignee: Codable, Sendable, Equatable, Hashable {
    /// Staff id.
    public var id: String
    /// Full name.
    public var name: String
    /// Role, e.g. `inspector`, `consultant`, `technician`.
    public var role: String

    /// Creates an assignee.
    public init(id: String, name: String, role: String) {
        self.id = id
        self.name = name
        self.role = role
    }

    /// JSON Schema of an assignee.
    public static let schema: JSONSchema = .object(
        [
            "id": .required(.identifier("staff id")),
            "name": .required(.string("full name")),
            "role": .required(.string("inspector, consultant, technician, …")),
        ], description: "who does the work")

    /// A field technician.
    public static let example = Assignee(id: "T-207", name: "Juan Carlos Vargas Rojas", role: "technician")
}

/// A person or company identified by name and identity/tax number (CI / NIT / RUT): who pays a
/// charge, or who requests a pole move (and therefore pays its CxC).
public struct Payer: Codable, Sendable, Equatable, Hashable {
    /// Full or legal name.
    public var name: String
    /// CI / NIT / RUT.
    public var idNumber: String

    /// Creates a payer.
    public init(name: String, idNumber: String) {
        self.name = name
        self.idNumber = idNumber
    }

    /// JSON Schema of a payer.
    public static let schema: JSONSchema = .object(
        [
            "name": .required(.string("full or legal name")),
            "idNumber": .required(.identifier("CI / NIT / RUT")),
        ], description: "a person or company by name and identity number")

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
public struct Product: Codable, Sendable, Equatable, Hashable {
    /// Product (service) id.
    public var id: String
    /// Product type.
    public var type: ProductType
    /// Monthly fee.
    public var monthly: Money

    /// Creates a product.
    public init(id: String, type: ProductType, monthly: Money) {
        self.id = id
        self.type = type
        self.monthly = monthly
    }

    /// JSON Schema of a product.
    public static let schema: JSONSchema = .object(
        [
            "id": .required(.identifier("product id")),
            "type": .required(.enumeration(ProductType.self)),
            "monthly": .required(Money.schema.described("monthly fee")),
        ], description: "a contracted product")
}

/// A reference to a product: its id and type.
public struct ProductRef: Codable, Sendable, Equatable, Hashable {
    /// Product (service) id.
    public var id: String
    /// Product type.
    public var type: ProductType

    /// Creates a product reference.
    public init(id: String, type: ProductType) {
        self.id = id
        self.type = type
    }

    /// JSON Schema of a product reference.
    public static let schema: JSONSchema = .object(
        [
            "id": .required(.identifier("product id")),
            "type": .required(.enumeration(ProductType.self)),
        ], description: "a product by id and type")

    /// A home internet product.
    public static let example = ProductRef(id: "INT-4410982", type: .internet)
}

/// One line of a prefactura.
public struct PrefacturaLine: Codable, Sendable, Equatable, Hashable {
    /// What is billed.
    public var description: String
    /// How many units.
    public var quantity: Int
    /// Price of one unit.
    public var unitPrice: Money
    /// `quantity × unitPrice`, after any line discount.
    public var amount: Money

    /// Creates a prefactura line.
    public init(description: String, quantity: Int, unitPrice: Money, amount: Money) {
        self.description = description
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.amount = amount
    }

    /// JSON Schema of a prefactura line.
    public static let schema: JSONSchema = .object(
        [
            "description": .required(.string("what is billed")),
            "quantity": .required(.integer(min: 1, "number of units")),
            "unitPrice": .required(Money.schema.described("price of one unit")),
            "amount": .required(Money.schema.described("line total")),
        ], description: "one line of a prefactura")
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
