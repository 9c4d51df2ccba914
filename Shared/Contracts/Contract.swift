import Foundation

// How a message or shape of the contract is declared: each field once, with its doc comment.
//
//     /// `workorder.attended`: the work was done.
//     @Contract("a work order was attended")
//     public struct WorkOrderAttended: Event {
//         public static let type = "workorder.attended"
//
//         /// Work-order id.
//         @Field(.identifier) public var workOrderId: String
//         /// How it ended.
//         @Field(.typeDescription) public var outcome: Outcome
//         /// Field notes.
//         public var notes: String?
//     }
//
// `@Contract` generates `public init(workOrderId:outcome:notes:)` (`notes` defaults to nil) and
// `public static let schema`, in which `notes` is optional and described "field notes".

/// Derives the memberwise initializer and `static let schema: JSONSchema` of a contract struct
/// from its stored properties, and makes it usable as the type of another contract field.
///
/// The argument is the schema's own description (for a message, also the AsyncAPI summary).
/// Each property is described in the schema by the first paragraph of its `///` comment, with
/// Markdown code marks and a final period removed and the first letter lower-cased unless the
/// first word is an acronym; further paragraphs are documentation only. A property without a
/// doc comment is a compile-time error. Optional properties (`T?`) are optional in the schema and
/// default to `nil` in the initializer.
@attached(member, names: named(init), named(schema), named(writeJSONMembers))
@attached(extension, conformances: ContractValue, JSONMembersWritable, JSONMembersReadable, names: named(init))
macro Contract(_ description: String) = #externalMacro(module: "ContractMacros", type: "ContractMacro")

/// Derives `writeJSONMembers(_:)` (``JSONMembersWritable``) for a `Codable` struct outside the
/// contract — a stored state — so the encoders write it without a container per value.
@attached(member, names: named(writeJSONMembers))
@attached(extension, conformances: JSONMembersWritable, JSONMembersReadable, names: named(init))
public macro JSONMembers() = #externalMacro(module: "ContractMacros", type: "JSONMembersMacro")

/// Refines the schema `@Contract` derives for one property: `@Field(.identifier)`,
/// `@Field(min: 1, max: 4)`, `@Field(.typeDescription)`. Expands to nothing by itself.
@attached(peer)
macro Field(_ options: FieldOption..., min: Int64? = nil, max: Int64? = nil) =
    #externalMacro(module: "ContractMacros", type: "FieldMacro")

/// A refinement of a field's schema, given in its `@Field(...)` marker.
enum FieldOption: Equatable {
    /// A non-empty string (`minLength: 1`): ids, numbers, user names.
    case identifier
    /// The schema keeps the description of the field's type (``Customer``'s "a customer", none
    /// for a plain string or an enum) instead of taking the property's doc comment.
    case typeDescription
}

/// A type whose values can be a field of a contract message, with the JSON Schema of those values.
///
/// `@Contract` structs conform through the macro; enums of the contract conform with an empty
/// extension (their schema lists the raw values).
protocol ContractValue {
    /// JSON Schema of a value of this type.
    static var schema: JSONSchema { get }
}

extension ContractValue where Self: CaseIterable & RawRepresentable, Self.RawValue == String {
    static var schema: JSONSchema { .enumeration(Self.self) }
}

extension String: ContractValue {
    static var schema: JSONSchema { .string() }
}

extension Int: ContractValue {
    static var schema: JSONSchema { .integer() }
}

extension Int64: ContractValue {
    static var schema: JSONSchema { .integer() }
}

extension Double: ContractValue {
    static var schema: JSONSchema { .number(description: nil) }
}

extension Bool: ContractValue {
    static var schema: JSONSchema { .boolean() }
}

extension Date: ContractValue {
    static var schema: JSONSchema { .dateTime() }
}

extension Array: ContractValue where Element: ContractValue {
    static var schema: JSONSchema { .array(of: Element.schema) }
}

extension Dictionary: ContractValue where Key == String, Value == JSONValue {
    static var schema: JSONSchema { .freeformObject() }
}

extension ServiceLine: ContractValue {}
extension Currency: ContractValue {}
extension Sector: ContractValue {}
extension Segment: ContractValue {}
extension Country: ContractValue {}
extension DocumentKind: ContractValue {}
extension WorkOrderKind: ContractValue {}
extension Outcome: ContractValue {}
extension ProductType: ContractValue {}
extension PrefacturaDecision: ContractValue {}
extension PostSaleFlow: ContractValue {}
extension DamageChannel: ContractValue {}
extension SLATarget: ContractValue {}
extension InvoiceIssuer: ContractValue {}
extension Technology: ContractValue {}
extension ProductStatus: ContractValue {}
extension ProductChange: ContractValue {}
extension ReconnectionHow: ContractValue {}
extension DamageProblem: ContractValue {}
extension DamageSolution: ContractValue {}
extension RecordsOffice: ContractValue {}
extension RecordsCaseKind: ContractValue {}
extension RetrievalFormat: ContractValue {}

extension JSONSchema {
    /// The schema of one field of type `T`, as `@Contract` writes it: `T`'s schema, refined by the
    /// field's `@Field` options and bounds, described by `description` unless the options say
    /// `.typeDescription`.
    static func field<T: ContractValue>(
        _: T.Type,
        _ options: FieldOption...,
        min: Int64? = nil,
        max: Int64? = nil,
        description: String?
    ) -> JSONSchema {
        var schema = T.schema
        if options.contains(.identifier) {
            guard case .string(let values, let format, _, let own) = schema else {
                preconditionFailure("@Field(.identifier) on a field of \(T.self), which is not a string")
            }
            schema = .string(enum: values, format: format, minLength: 1, description: own)
        }
        if min != nil || max != nil {
            guard case .integer(let minimum, let maximum, let own) = schema else {
                preconditionFailure("@Field(min:max:) on a field of \(T.self), which is not an integer")
            }
            schema = .integer(minimum: min ?? minimum, maximum: max ?? maximum, description: own)
        }
        if !options.contains(.typeDescription), let description {
            schema = schema.described(description)
        }
        return schema
    }
}
