import Foundation

/// Writes `Encodable` values as the contract's JSON, byte for byte what ``Wire/encoder`` (a
/// Foundation `JSONEncoder` with sorted keys, unescaped slashes and RFC 3339 dates) writes, at a
/// fraction of its cost: keys sorted by their UTF-8 bytes, `"` `\` and control characters escaped
/// (`\b \t \n \f \r`, else `\u00XX`), everything else as is; integers in decimal; a `Double` as
/// Swift prints it without a trailing `.0`; non-finite numbers refused; `Date` as
/// `2026-11-22T14:03:11.250Z`. A test compares the two on every example and on random strings.
public struct ContractJSONEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let node = try Self.node(value, path: [])
        var out: [UInt8] = []
        out.reserveCapacity(512)
        node.write(to: &out)
        return out
    }

    static func node<T: Encodable>(_ value: T, path: [any CodingKey]) throws -> JSONNode {
        switch value {
        case let v as String: return .string(v)
        case let v as Date: return .string(RFC3339.format(v))
        case let v as Bool: return .bool(v)
        case let v as Int: return .number(String(v))
        case let v as Int64: return .number(String(v))
        case let v as Double: return try .number(number(v, path))
        default:
            let encoder = NodeEncoder(codingPath: path)
            try value.encode(to: encoder)
            return encoder.node ?? .object(ObjectBox())
        }
    }

    static func number(_ v: Double, _ path: [any CodingKey], float: Float? = nil) throws -> String {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: path, debugDescription: "\(v) is not a JSON number"))
        }
        let text = float.map(\.description) ?? v.description
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }
}

/// A JSON value being built.
enum JSONNode {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    case object(ObjectBox)
    case array(ArrayBox)

    func write(to out: inout [UInt8]) {
        switch self {
        case .string(let s): Self.write(string: s, to: &out)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .bool(let b): out.append(contentsOf: b ? Self.trueBytes : Self.falseBytes)
        case .null: out.append(contentsOf: Self.nullBytes)
        case .object(let box):
            out.append(UInt8(ascii: "{"))
            var first = true
            for key in box.values.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.write(string: key, to: &out)
                out.append(UInt8(ascii: ":"))
                box.values[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let box):
            out.append(UInt8(ascii: "["))
            for (i, element) in box.values.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                element.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    static let trueBytes = Array("true".utf8), falseBytes = Array("false".utf8), nullBytes = Array("null".utf8)
    static let hex = Array("0123456789abcdef".utf8)

    static func write(string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x00..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

final class ObjectBox {
    var values: [String: JSONNode] = [:]
}

final class ArrayBox {
    var values: [JSONNode] = []
}

/// The `Encoder` that builds a ``JSONNode``.
final class NodeEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var node: JSONNode?

    init(codingPath: [any CodingKey]) { self.codingPath = codingPath }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let box: ObjectBox
        if case .object(let existing)? = node {
            box = existing
        } else {
            box = ObjectBox()
            node = .object(box)
        }
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(box: box, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let box: ArrayBox
        if case .array(let existing)? = node {
            box = existing
        } else {
            box = ArrayBox()
            node = .array(box)
        }
        return UnkeyedNodeContainer(box: box, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleNodeContainer(encoder: self) }
}

/// A key of an array element.
struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: ObjectBox
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { box.values[key.stringValue] = .null }
    mutating func encode(_ value: Bool, forKey key: Key) throws { box.values[key.stringValue] = .bool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { box.values[key.stringValue] = .string(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        box.values[key.stringValue] = .number(try ContractJSONEncoder.number(value, codingPath + [key]))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        box.values[key.stringValue] = .number(try ContractJSONEncoder.number(Double(value), codingPath + [key], float: value))
    }
    mutating func encode(_ value: Int8, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        box.values[key.stringValue] = try ContractJSONEncoder.node(value, path: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = ObjectBox()
        box.values[key.stringValue] = .object(nested)
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(box: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = ArrayBox()
        box.values[key.stringValue] = .array(nested)
        return UnkeyedNodeContainer(box: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { SuperEncoder(box: box, key: "super", codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { SuperEncoder(box: box, key: key.stringValue, codingPath: codingPath + [key]) }
}

struct UnkeyedNodeContainer: UnkeyedEncodingContainer {
    let box: ArrayBox
    let codingPath: [any CodingKey]
    var count: Int { box.values.count }

    mutating func encodeNil() throws { box.values.append(.null) }
    mutating func encode(_ value: Bool) throws { box.values.append(.bool(value)) }
    mutating func encode(_ value: String) throws { box.values.append(.string(value)) }
    mutating func encode(_ value: Int) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: Int64) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: Double) throws {
        box.values.append(.number(try ContractJSONEncoder.number(value, codingPath + [IndexKey(count)])))
    }
    mutating func encode(_ value: Float) throws {
        box.values.append(.number(try ContractJSONEncoder.number(Double(value), codingPath + [IndexKey(count)], float: value)))
    }
    mutating func encode(_ value: Int8) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: Int16) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: Int32) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: UInt) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: UInt8) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: UInt16) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: UInt32) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: UInt64) throws { box.values.append(.number(String(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        box.values.append(try ContractJSONEncoder.node(value, path: codingPath + [IndexKey(count)]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = ObjectBox()
        let path = codingPath + [IndexKey(count)]
        box.values.append(.object(nested))
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(box: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = ArrayBox()
        let path = codingPath + [IndexKey(count)]
        box.values.append(.array(nested))
        return UnkeyedNodeContainer(box: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let slot = ArrayElementEncoder(box: box, index: box.values.count, codingPath: codingPath + [IndexKey(count)])
        box.values.append(.object(ObjectBox()))
        return slot
    }
}

struct SingleNodeContainer: SingleValueEncodingContainer {
    let encoder: NodeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.node = .null }
    mutating func encode(_ value: Bool) throws { encoder.node = .bool(value) }
    mutating func encode(_ value: String) throws { encoder.node = .string(value) }
    mutating func encode(_ value: Int) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: Int64) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: Double) throws { encoder.node = .number(try ContractJSONEncoder.number(value, codingPath)) }
    mutating func encode(_ value: Float) throws { encoder.node = .number(try ContractJSONEncoder.number(Double(value), codingPath, float: value)) }
    mutating func encode(_ value: Int8) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: Int16) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: Int32) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt8) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt16) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt32) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt64) throws { encoder.node = .number(String(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { encoder.node = try ContractJSONEncoder.node(value, path: codingPath) }
}

/// `superEncoder(forKey:)`: an encoder whose value lands under a key of an object.
final class SuperEncoder: Encoder {
    let box: ObjectBox
    let key: String
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private let inner: NodeEncoder

    init(box: ObjectBox, key: String, codingPath: [any CodingKey]) {
        self.box = box
        self.key = key
        self.codingPath = codingPath
        inner = NodeEncoder(codingPath: codingPath)
    }

    deinit { box.values[key] = inner.node ?? .object(ObjectBox()) }

    func container<K: CodingKey>(keyedBy type: K.Type) -> KeyedEncodingContainer<K> { inner.container(keyedBy: type) }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { inner.unkeyedContainer() }
    func singleValueContainer() -> any SingleValueEncodingContainer { inner.singleValueContainer() }
}

/// `superEncoder()` of an array: an encoder whose value replaces one element.
final class ArrayElementEncoder: Encoder {
    let box: ArrayBox
    let index: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private let inner: NodeEncoder

    init(box: ArrayBox, index: Int, codingPath: [any CodingKey]) {
        self.box = box
        self.index = index
        self.codingPath = codingPath
        inner = NodeEncoder(codingPath: codingPath)
    }

    deinit { box.values[index] = inner.node ?? .object(ObjectBox()) }

    func container<K: CodingKey>(keyedBy type: K.Type) -> KeyedEncodingContainer<K> { inner.container(keyedBy: type) }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { inner.unkeyedContainer() }
    func singleValueContainer() -> any SingleValueEncodingContainer { inner.singleValueContainer() }
}
