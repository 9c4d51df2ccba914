import Foundation

/// Writes `Encodable` values as the contract's JSON, byte for byte what ``Wire/encoder`` (a
/// Foundation `JSONEncoder` with sorted keys, unescaped slashes and RFC 3339 dates) writes, at a
/// fraction of its cost: keys sorted by their UTF-8 bytes, `"` `\` and control characters escaped
/// (`\b \t \n \f \r`, else `\u00XX`), everything else as is; integers in decimal; a `Double` as
/// Swift prints it without a trailing `.0`; non-finite numbers refused; `Date` as
/// `2026-11-22T14:03:11.250Z`. A test compares the two on every example and on random strings.
public struct ContractJSONEncoder: Sendable {
    public init() {}

    /// Streamed (``StreamWriter``: each object's members put in key order as it closes); a value
    /// that cannot be streamed is built as a tree of nodes and written from it.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try StreamWriter.encode(value, sorted: true)
    }

    /// The tree path alone (tests compare the two).
    public func encodeAsTree<T: Encodable>(_ value: T) throws -> [UInt8] {
        let node = try Self.node(value, path: .root)
        var out: [UInt8] = []
        out.reserveCapacity(512)
        node.write(to: &out)
        return out
    }

    static func node<T: Encodable>(_ value: T, path: PathNode) throws -> JSONNode {
        switch value {
        case let v as String: return .string(v)
        case let v as Date: return .string(RFC3339.format(v))
        case let v as Bool: return .bool(v)
        case let v as Int: return .number(String(v))
        case let v as Int64: return .number(String(v))
        case let v as Double: return try .number(number(v, path))
        default:
            let encoder = NodeEncoder(path: path)
            try value.encode(to: encoder)
            return encoder.node ?? .object(ObjectBox())
        }
    }

    static func number(_ v: Double, _ path: PathNode, float: Float? = nil) throws -> String {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: path.codingPath, debugDescription: "\(v) is not a JSON number"))
        }
        let text = float.map(\.description) ?? v.description
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }
}

/// Where a value is, built only when asked: a coding path as an array of keys costs an
/// allocation per nested value, and only an error or a custom `encode(to:)` ever reads it.
final class PathNode: @unchecked Sendable {  // immutable
    let parent: PathNode?
    let key: (any CodingKey)?

    static let root = PathNode(parent: nil, key: nil)

    init(parent: PathNode?, key: (any CodingKey)?) {
        self.parent = parent
        self.key = key
    }

    func appending(_ key: any CodingKey) -> PathNode { PathNode(parent: self, key: key) }

    var codingPath: [any CodingKey] {
        var keys: [any CodingKey] = []
        var node: PathNode? = self
        while let n = node, let k = n.key {
            keys.append(k)
            node = n.parent
        }
        return keys.reversed()
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
    /// What a super encoder writes, read when the tree is written (its containers may outlive it).
    case pending(NodeEncoder)

    func write(to out: inout [UInt8]) {
        switch self {
        case .string(let s): Self.write(string: s, to: &out)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .bool(let b): out.append(contentsOf: b ? Self.trueBytes : Self.falseBytes)
        case .null: out.append(contentsOf: Self.nullBytes)
        case .pending(let encoder): (encoder.node ?? .object(ObjectBox())).write(to: &out)
        case .object(let box):
            out.append(UInt8(ascii: "{"))
            var first = true
            let pairs = box.values.pairs
            // By key bytes; a key set twice keeps its last value.
            let order = pairs.indices.sorted { a, b in
                let c = Self.compare(pairs[a].key, pairs[b].key)
                return c == 0 ? a < b : c < 0
            }
            for (n, i) in order.enumerated() {
                if n + 1 < order.count, Self.compare(pairs[order[n + 1]].key, pairs[i].key) == 0 { continue }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.write(string: pairs[i].key, to: &out)
                out.append(UInt8(ascii: ":"))
                pairs[i].node.write(to: &out)
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

    /// The order of two keys by their UTF-8 bytes (negative, zero, positive).
    static func compare(_ a: String, _ b: String) -> Int {
        let fast = a.utf8.withContiguousStorageIfAvailable { pa in
            b.utf8.withContiguousStorageIfAvailable { pb -> Int in
                let n = min(pa.count, pb.count)
                if n > 0, let x = pa.baseAddress, let y = pb.baseAddress {
                    let c = memcmp(x, y, n)
                    if c != 0 { return Int(c) }
                }
                return pa.count - pb.count
            }
        }
        if let c = fast ?? nil { return c }
        if a.utf8.elementsEqual(b.utf8) { return 0 }
        return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
    }

    static func write(string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape: copied at once.
        let plain = string.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for b in bytes where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain == true {
            out.append(UInt8(ascii: "\""))
            return
        }
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
    var values = Fields()
}

/// An object's members in the order they were set (sorted when written): cheaper than hashing
/// every key into a dictionary for the dozen members of a typical value.
struct Fields {
    var pairs: [(key: String, node: JSONNode)] = []

    subscript(key: String) -> JSONNode? {
        get { pairs.last { $0.key.utf8.elementsEqual(key.utf8) }?.node }
        set { if let newValue { pairs.append((key, newValue)) } }
    }
}

final class ArrayBox {
    var values: [JSONNode] = []
}

/// The `Encoder` that builds a ``JSONNode``.
final class NodeEncoder: Encoder {
    let path: PathNode
    var codingPath: [any CodingKey] { path.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var node: JSONNode?

    init(path: PathNode) { self.path = path }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let box: ObjectBox
        if case .object(let existing)? = node {
            box = existing
        } else {
            box = ObjectBox()
            node = .object(box)
        }
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(box: box, path: path))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let box: ArrayBox
        if case .array(let existing)? = node {
            box = existing
        } else {
            box = ArrayBox()
            node = .array(box)
        }
        return UnkeyedNodeContainer(box: box, path: path)
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
    let path: PathNode
    var codingPath: [any CodingKey] { path.codingPath }

    mutating func encodeNil(forKey key: Key) throws { box.values[key.stringValue] = .null }
    mutating func encode(_ value: Bool, forKey key: Key) throws { box.values[key.stringValue] = .bool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { box.values[key.stringValue] = .string(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { box.values[key.stringValue] = .number(String(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        box.values[key.stringValue] = .number(try ContractJSONEncoder.number(value, path.appending(key)))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        box.values[key.stringValue] = .number(try ContractJSONEncoder.number(Double(value), path.appending(key), float: value))
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
        box.values[key.stringValue] = try ContractJSONEncoder.node(value, path: path.appending(key))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = ObjectBox()
        box.values[key.stringValue] = .object(nested)
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(box: nested, path: path.appending(key)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = ArrayBox()
        box.values[key.stringValue] = .array(nested)
        return UnkeyedNodeContainer(box: nested, path: path.appending(key))
    }

    mutating func superEncoder() -> any Encoder { SuperEncoder(box: box, key: "super", path: path) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { SuperEncoder(box: box, key: key.stringValue, path: path.appending(key)) }
}

struct UnkeyedNodeContainer: UnkeyedEncodingContainer {
    let box: ArrayBox
    let path: PathNode
    var codingPath: [any CodingKey] { path.codingPath }
    var count: Int { box.values.count }

    mutating func encodeNil() throws { box.values.append(.null) }
    mutating func encode(_ value: Bool) throws { box.values.append(.bool(value)) }
    mutating func encode(_ value: String) throws { box.values.append(.string(value)) }
    mutating func encode(_ value: Int) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: Int64) throws { box.values.append(.number(String(value))) }
    mutating func encode(_ value: Double) throws {
        box.values.append(.number(try ContractJSONEncoder.number(value, path.appending(IndexKey(count)))))
    }
    mutating func encode(_ value: Float) throws {
        box.values.append(.number(try ContractJSONEncoder.number(Double(value), path.appending(IndexKey(count)), float: value)))
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
        box.values.append(try ContractJSONEncoder.node(value, path: path.appending(IndexKey(count))))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = ObjectBox()
        let inner = path.appending(IndexKey(count))
        box.values.append(.object(nested))
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(box: nested, path: inner))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = ArrayBox()
        let inner = path.appending(IndexKey(count))
        box.values.append(.array(nested))
        return UnkeyedNodeContainer(box: nested, path: inner)
    }

    mutating func superEncoder() -> any Encoder {
        box.values.append(.null)
        return ArrayElementEncoder(box: box, index: box.values.count - 1, path: path.appending(IndexKey(count - 1)))
    }
}

struct SingleNodeContainer: SingleValueEncodingContainer {
    let encoder: NodeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    var path: PathNode { encoder.path }

    mutating func encodeNil() throws { encoder.node = .null }
    mutating func encode(_ value: Bool) throws { encoder.node = .bool(value) }
    mutating func encode(_ value: String) throws { encoder.node = .string(value) }
    mutating func encode(_ value: Int) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: Int64) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: Double) throws { encoder.node = .number(try ContractJSONEncoder.number(value, path)) }
    mutating func encode(_ value: Float) throws { encoder.node = .number(try ContractJSONEncoder.number(Double(value), path, float: value)) }
    mutating func encode(_ value: Int8) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: Int16) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: Int32) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt8) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt16) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt32) throws { encoder.node = .number(String(value)) }
    mutating func encode(_ value: UInt64) throws { encoder.node = .number(String(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { encoder.node = try ContractJSONEncoder.node(value, path: path) }
}

/// `superEncoder(forKey:)`: an encoder whose value lands under a key of an object.
final class SuperEncoder: Encoder {
    let box: ObjectBox
    let key: String
    var codingPath: [any CodingKey] { inner.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private let inner: NodeEncoder

    init(box: ObjectBox, key: String, path: PathNode) {
        self.box = box
        self.key = key
        inner = NodeEncoder(path: path)
        box.values[key] = .pending(inner)
    }

    func container<K: CodingKey>(keyedBy type: K.Type) -> KeyedEncodingContainer<K> { inner.container(keyedBy: type) }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { inner.unkeyedContainer() }
    func singleValueContainer() -> any SingleValueEncodingContainer { inner.singleValueContainer() }
}

/// `superEncoder()` of an array: an encoder whose value replaces one element.
final class ArrayElementEncoder: Encoder {
    let box: ArrayBox
    let index: Int
    var codingPath: [any CodingKey] { inner.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private let inner: NodeEncoder

    init(box: ArrayBox, index: Int, path: PathNode) {
        self.box = box
        self.index = index
        inner = NodeEncoder(path: path)
        box.values[index] = .pending(inner)
    }

    func container<K: CodingKey>(keyedBy type: K.Type) -> KeyedEncodingContainer<K> { inner.container(keyedBy: type) }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { inner.unkeyedContainer() }
    func singleValueContainer() -> any SingleValueEncodingContainer { inner.singleValueContainer() }
}
