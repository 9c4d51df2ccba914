import Contracts
import Foundation

/// A small JSON Schema validator for the subset ``JSONSchema`` renders: `type`, `properties`,
/// `required`, `additionalProperties`, `enum`, `items`, `minimum`/`maximum`, `minLength`,
/// `minItems`, and `format: date-time`.
///
/// With `strictKeys`, every key of an object whose schema declares `properties` must be
/// declared, even where `additionalProperties` is true: the encoder must never emit a field the
/// published schema does not describe.
struct SchemaValidator {
    var strictKeys = true

    func violations(of instance: JSONValue, against schema: JSONValue, at path: String = "data") -> [String] {
        var out: [String] = []
        validate(instance, schema, path, &out)
        return out
    }

    private func validate(_ instance: JSONValue, _ schema: JSONValue, _ path: String, _ out: inout [String]) {
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(instance) {
            out.append("\(path): \(instance.rendered()) is not one of \(JSONValue.array(allowed).rendered())")
        }
        guard let type = schema["type"]?.stringValue else { return }
        switch (type, instance) {
        case ("object", .object(let members)):
            let properties = schema["properties"]?.objectValue
            for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[name] == nil {
                out.append("\(path).\(name): required but absent")
            }
            if let properties {
                for (name, value) in members {
                    if let propertySchema = properties[name] {
                        validate(value, propertySchema, "\(path).\(name)", &out)
                    } else if strictKeys || schema["additionalProperties"] == .bool(false) {
                        out.append("\(path).\(name): not declared in the schema")
                    }
                }
            }
        case ("array", .array(let elements)):
            if let minItems = schema["minItems"].flatMap(Self.number), Double(elements.count) < minItems {
                out.append("\(path): fewer than \(minItems) items")
            }
            if let items = schema["items"] {
                for (index, element) in elements.enumerated() {
                    validate(element, items, "\(path)[\(index)]", &out)
                }
            }
        case ("string", .string(let text)):
            if let minLength = schema["minLength"].flatMap(Self.number), Double(text.count) < minLength {
                out.append("\(path): shorter than \(minLength)")
            }
            if schema["format"] == "date-time", Wire.parseTimestamp(text) == nil {
                out.append("\(path): \"\(text)\" is not an RFC 3339 date-time")
            }
        case ("integer", .number(let value)):
            if value.rounded() != value {
                out.append("\(path): \(value) is not an integer")
            }
            checkBounds(value, schema, path, &out)
        case ("number", .number(let value)):
            checkBounds(value, schema, path, &out)
        case ("boolean", .bool):
            break
        default:
            out.append("\(path): expected \(type), got \(instance.rendered())")
        }
    }

    private func checkBounds(_ value: Double, _ schema: JSONValue, _ path: String, _ out: inout [String]) {
        if let minimum = schema["minimum"].flatMap(Self.number), value < minimum {
            out.append("\(path): \(value) is below the minimum \(minimum)")
        }
        if let maximum = schema["maximum"].flatMap(Self.number), value > maximum {
            out.append("\(path): \(value) is above the maximum \(maximum)")
        }
    }

    private static func number(_ value: JSONValue) -> Double? {
        if case .number(let number) = value { return number }
        return nil
    }
}

/// One step of a path into a JSON document.
enum PathStep: Equatable {
    case key(String)
    case index(Int)
}

extension [PathStep] {
    /// The path as ``ContractError`` names fields: `data.documents[0].kind`.
    var dotted: String {
        var result = ""
        for step in self {
            switch step {
            case .key(let key): result += result.isEmpty ? key : ".\(key)"
            case .index(let index): result += "[\(index)]"
            }
        }
        return result
    }
}

extension JSONValue {
    /// A copy with the member at `path` removed.
    func removing(_ path: ArraySlice<PathStep>) -> JSONValue {
        guard let step = path.first else { return self }
        switch (self, step) {
        case (.object(var members), .key(let key)):
            if path.count == 1 {
                members[key] = nil
            } else if let child = members[key] {
                members[key] = child.removing(path.dropFirst())
            }
            return .object(members)
        case (.array(var elements), .index(let index)) where elements.indices.contains(index):
            if path.count == 1 {
                elements.remove(at: index)
            } else {
                elements[index] = elements[index].removing(path.dropFirst())
            }
            return .array(elements)
        default:
            return self
        }
    }

    /// A copy with the value at `path` replaced (or the member added).
    func replacing(_ path: ArraySlice<PathStep>, with value: JSONValue) -> JSONValue {
        guard let step = path.first else { return value }
        switch (self, step) {
        case (.object(var members), .key(let key)):
            members[key] = (members[key] ?? .null).replacing(path.dropFirst(), with: value)
            return .object(members)
        case (.array(var elements), .index(let index)) where elements.indices.contains(index):
            elements[index] = elements[index].replacing(path.dropFirst(), with: value)
            return .array(elements)
        default:
            return self
        }
    }

    /// Compact JSON bytes.
    var data: Data { Data(rendered().utf8) }
}

/// Every declared property present in `instance`, recursively (arrays: every element), with
/// whether its schema requires it.
func declaredProperties(
    of instance: JSONValue,
    schema: JSONValue,
    at path: [PathStep]
) -> [(path: [PathStep], isRequired: Bool)] {
    var out: [(path: [PathStep], isRequired: Bool)] = []
    switch (schema["type"]?.stringValue, instance) {
    case ("object", .object(let members)):
        guard let properties = schema["properties"]?.objectValue else { return [] }
        let required = Set(schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        for name in properties.keys.sorted() {
            guard let value = members[name], let propertySchema = properties[name] else { continue }
            let childPath = path + [.key(name)]
            out.append((childPath, required.contains(name)))
            out += declaredProperties(of: value, schema: propertySchema, at: childPath)
        }
    case ("array", .array(let elements)):
        guard let items = schema["items"] else { return [] }
        for (index, element) in elements.enumerated() {
            out += declaredProperties(of: element, schema: items, at: path + [.index(index)])
        }
    default:
        break
    }
    return out
}

/// Every property a schema declares (recursively through objects and array items) that
/// `instance` does not contain; array elements are written `path[]`.
func unexercisedProperties(of instance: JSONValue, schema: JSONValue, at path: String) -> [String] {
    var out: [String] = []
    switch schema["type"]?.stringValue {
    case "object":
        guard let properties = schema["properties"]?.objectValue else { return [] }
        for (name, propertySchema) in properties {
            if let value = instance[name] {
                out += unexercisedProperties(of: value, schema: propertySchema, at: "\(path).\(name)")
            } else {
                out.append("\(path).\(name)")
            }
        }
    case "array":
        // A property counts as exercised when any element has it.
        if let items = schema["items"], let elements = instance.arrayValue, !elements.isEmpty {
            let perElement = elements.map { Set(unexercisedProperties(of: $0, schema: items, at: "\(path)[]")) }
            out += perElement.dropFirst().reduce(perElement[0]) { $0.intersection($1) }
        }
    default:
        break
    }
    return out.sorted()
}
