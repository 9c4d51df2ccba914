/// A small, `$ref`-free subset of JSON Schema, enough to describe every message of the
/// contract and to publish it in the AsyncAPI document.
///
/// Object schemas allow additional properties by default: consumers ignore unknown fields, so
/// producers may add optional fields without breaking anyone.
public indirect enum JSONSchema: Sendable, Equatable {
    /// An object with declared properties. `properties == nil` means a free-form object.
    case object(
        properties: [String: JSONSchema]?,
        required: [String],
        additionalProperties: Bool,
        description: String?
    )
    /// A string, optionally restricted to `enum` values or a `format` (`date-time`, `uuid`, …).
    case string(enum: [String]?, format: String?, minLength: Int?, description: String?)
    /// An integer with optional inclusive bounds.
    case integer(minimum: Int64?, maximum: Int64?, description: String?)
    /// Any JSON number.
    case number(description: String?)
    /// `true` or `false`.
    case boolean(description: String?)
    /// An array whose elements all match `items`.
    case array(items: JSONSchema, minItems: Int?, description: String?)

    /// Whether a property is required or optional inside an object schema.
    public struct Property: Sendable, Equatable {
        /// The schema of the property's value.
        public var schema: JSONSchema
        /// Whether the property must be present.
        public var isRequired: Bool

        /// A property that must be present.
        public static func required(_ schema: JSONSchema) -> Property {
            Property(schema: schema, isRequired: true)
        }

        /// A property that may be absent (it is omitted, never `null`, when absent).
        public static func optional(_ schema: JSONSchema) -> Property {
            Property(schema: schema, isRequired: false)
        }
    }

    // MARK: Builders

    /// An object schema from an ordered list of properties; `required` is derived from them.
    public static func object(
        _ properties: KeyValuePairs<String, Property>,
        additionalProperties: Bool = true,
        description: String? = nil
    ) -> JSONSchema {
        var schemas: [String: JSONSchema] = [:]
        var required: [String] = []
        for (name, property) in properties {
            precondition(schemas[name] == nil, "duplicate property \(name)")
            schemas[name] = property.schema
            if property.isRequired { required.append(name) }
        }
        return .object(
            properties: schemas,
            required: required,
            additionalProperties: additionalProperties,
            description: description
        )
    }

    /// A free-form JSON object (`{"type": "object"}`).
    public static func freeformObject(description: String? = nil) -> JSONSchema {
        .object(properties: nil, required: [], additionalProperties: true, description: description)
    }

    /// A plain string.
    public static func string(_ description: String? = nil) -> JSONSchema {
        .string(enum: nil, format: nil, minLength: nil, description: description)
    }

    /// A non-empty identifier string.
    public static func identifier(_ description: String? = nil) -> JSONSchema {
        .string(enum: nil, format: nil, minLength: 1, description: description)
    }

    /// An RFC 3339 UTC timestamp.
    public static func dateTime(_ description: String? = nil) -> JSONSchema {
        .string(enum: nil, format: "date-time", minLength: nil, description: description)
    }

    /// A string restricted to the raw values of a closed enum.
    public static func enumeration<E: CaseIterable & RawRepresentable>(
        _ type: E.Type,
        _ description: String? = nil
    ) -> JSONSchema where E.RawValue == String {
        .string(enum: type.allCases.map(\.rawValue), format: nil, minLength: nil, description: description)
    }

    /// A string that must equal one of `values`.
    public static func constant(_ values: String..., description: String? = nil) -> JSONSchema {
        .string(enum: values, format: nil, minLength: nil, description: description)
    }

    /// An integer with optional inclusive bounds.
    public static func integer(min: Int64? = nil, max: Int64? = nil, _ description: String? = nil) -> JSONSchema {
        .integer(minimum: min, maximum: max, description: description)
    }

    /// A boolean.
    public static func boolean(_ description: String? = nil) -> JSONSchema {
        .boolean(description: description)
    }

    /// An array of `items`.
    public static func array(of items: JSONSchema, minItems: Int? = nil, _ description: String? = nil) -> JSONSchema {
        .array(items: items, minItems: minItems, description: description)
    }

    // MARK: Rendering

    /// The schema as a JSON value (draft-07 vocabulary).
    public var json: JSONValue {
        var out: [String: JSONValue] = [:]
        switch self {
        case .object(let properties, let required, let additionalProperties, let description):
            out["type"] = "object"
            if let properties {
                out["properties"] = .object(properties.mapValues(\.json))
                out["additionalProperties"] = .bool(additionalProperties)
            }
            if !required.isEmpty { out["required"] = .array(required.map(JSONValue.string)) }
            out["description"] = description.map(JSONValue.string)
        case .string(let values, let format, let minLength, let description):
            out["type"] = "string"
            out["enum"] = values.map { .array($0.map(JSONValue.string)) }
            out["format"] = format.map(JSONValue.string)
            out["minLength"] = minLength.map { .number(Double($0)) }
            out["description"] = description.map(JSONValue.string)
        case .integer(let minimum, let maximum, let description):
            out["type"] = "integer"
            out["minimum"] = minimum.map { .number(Double($0)) }
            out["maximum"] = maximum.map { .number(Double($0)) }
            out["description"] = description.map(JSONValue.string)
        case .number(let description):
            out["type"] = "number"
            out["description"] = description.map(JSONValue.string)
        case .boolean(let description):
            out["type"] = "boolean"
            out["description"] = description.map(JSONValue.string)
        case .array(let items, let minItems, let description):
            out["type"] = "array"
            out["items"] = items.json
            out["minItems"] = minItems.map { .number(Double($0)) }
            out["description"] = description.map(JSONValue.string)
        }
        return .object(out)
    }

    /// The schema as deterministic JSON text.
    public func rendered(pretty: Bool = true) -> String {
        json.rendered(pretty: pretty)
    }

    /// The same schema with its description replaced (objects, strings, and the rest alike).
    public func described(_ text: String) -> JSONSchema {
        switch self {
        case .object(let properties, let required, let additionalProperties, _):
            .object(properties: properties, required: required, additionalProperties: additionalProperties, description: text)
        case .string(let values, let format, let minLength, _):
            .string(enum: values, format: format, minLength: minLength, description: text)
        case .integer(let minimum, let maximum, _):
            .integer(minimum: minimum, maximum: maximum, description: text)
        case .number:
            .number(description: text)
        case .boolean:
            .boolean(description: text)
        case .array(let items, let minItems, _):
            .array(items: items, minItems: minItems, description: text)
        }
    }
}
