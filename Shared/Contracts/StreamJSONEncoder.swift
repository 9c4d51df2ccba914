import Foundation

/// Writes `Encodable` values as JSON straight into one byte buffer, members in the order the
/// value encodes them — for what is stored as `jsonb` (which keeps its own key order), never
/// for the wire (``ContractJSONEncoder`` sorts keys byte for byte as the contract says). Values
/// are written as ``ContractJSONEncoder`` writes them (same strings, numbers, dates); a key
/// encoded twice appears twice, and `jsonb` keeps the last, as the sorted encoder does.
///
/// No tree is built: a container writes as it is used. That holds for synthesized `Codable`
/// and for every hand-written `encode(to:)` that finishes a nested container before it writes
/// to an outer one again; a value that goes back to a container it left (or asks for a
/// `superEncoder`) is written again by ``ContractJSONEncoder`` instead.
public struct StreamJSONEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try StreamWriter.encode(value, sorted: false)
    }
}

/// The stream's state: the bytes, the open containers (one per depth), the keys above.
final class StreamWriter: Encoder {
    struct OutOfOrder: Error {}

    struct Frame {
        var id: Int
        var isObject: Bool
        var count: Int
        /// Sorted objects: where the members begin, and each member's key and first byte.
        var start: Int = 0
        var members: [(key: String, at: Int)] = []
        /// Written by ``JSONMembersWritable/writeJSONMembers(_:)`` with its keys already in order.
        var presorted = false
    }

    /// Writes `value`; a value that cannot be streamed is built as a tree
    /// (``ContractJSONEncoder/node(_:path:)``) and written from it.
    static func encode<T: Encodable>(_ value: T, sorted: Bool) throws -> [UInt8] {
        let writer = StreamWriter(sorted: sorted)
        do {
            try writer.value(value, depth: 0)
            writer.close(above: 0)
            return writer.out
        } catch is StreamWriter.OutOfOrder {
            let node = try ContractJSONEncoder.node(value, path: .root)
            var out: [UInt8] = []
            out.reserveCapacity(512)
            node.write(to: &out)
            return out
        }
    }

    /// Whether objects are written with their keys sorted by their UTF-8 bytes (a key set twice
    /// keeping its last value), as the contract's wire form says.
    let sorted: Bool
    var out: [UInt8] = []
    var frames: [Frame] = []
    /// The keys down to the value being written (its coding path).
    var keys: [any CodingKey] = []
    var depth = 0
    var nextId = 0
    var failed = false

    init(sorted: Bool) {
        self.sorted = sorted
        out.reserveCapacity(1024)
    }

    var codingPath: [any CodingKey] { path(depth) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Closes every container deeper than `depth` (they are finished once a shallower one writes).
    @inline(__always) func close(above depth: Int) {
        while frames.count > depth {
            let f = frames.removeLast()
            if f.isObject {
                if sorted, !f.presorted, f.members.count > 1 { sort(f) }
                out.append(UInt8(ascii: "}"))
            } else {
                out.append(UInt8(ascii: "]"))
            }
        }
    }

    /// Puts an object's members in key order (they are whole, written, and separated by commas).
    func sort(_ f: Frame) {
        let m = f.members
        var inOrder = true
        for i in 1..<m.count where JSONNode.compare(m[i - 1].key, m[i].key) >= 0 {
            inOrder = false
            break
        }
        if inOrder { return }
        let order = m.indices.sorted { a, b in
            let c = JSONNode.compare(m[a].key, m[b].key)
            return c == 0 ? a < b : c < 0
        }
        let end = out.count
        let segment = Array(out[f.start..<end])
        out.removeSubrange(f.start...)
        var first = true
        for (n, i) in order.enumerated() {
            // A key set twice keeps its last value.
            if n + 1 < order.count, JSONNode.compare(m[order[n + 1]].key, m[i].key) == 0 { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            let from = m[i].at - f.start
            let to = (i + 1 < m.count ? m[i + 1].at - 1 : end) - f.start
            out.append(contentsOf: segment[from..<to])
        }
    }

    /// The frame at `depth` for a container that writes: still open, and its own.
    @inline(__always) func member(_ id: Int, _ depth: Int) throws {
        guard frames.count > depth, frames[depth].id == id else {
            failed = true
            throw OutOfOrder()
        }
        close(above: depth + 1)
        if frames[depth].count > 0 { out.append(UInt8(ascii: ",")) }
        frames[depth].count += 1
    }

    /// A member's key, in the object at `depth`.
    @inline(__always) func key(_ key: some CodingKey, at depth: Int) {
        let name = key.stringValue
        if sorted { frames[depth].members.append((name, out.count)) }
        JSONNode.write(string: name, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    func open(object: Bool, at depth: Int) -> Int {
        nextId += 1
        out.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        frames.append(Frame(id: nextId, isObject: object, count: 0, start: out.count))
        return nextId
    }

    /// One value whose containers are at `depth`.
    func value<T: Encodable>(_ v: T, depth: Int) throws {
        // Metatypes compared first: cheaper than a failed dynamic cast per nested value.
        if T.self == String.self { return JSONNode.write(string: v as! String, to: &out) }
        if T.self == Date.self { return JSONNode.write(string: RFC3339.format(v as! Date), to: &out) }
        if T.self == Bool.self { return bool(v as! Bool) }
        if T.self == Int.self { return integer(Int64(v as! Int)) }
        if T.self == Int64.self { return integer(v as! Int64) }
        if T.self == Double.self { return try double(v as! Double, float: nil, at: depth) }
        if let members = v as? any JSONMembersWritable { return try object(members, depth: depth) }
        let saved = self.depth
        self.depth = depth
        defer { self.depth = saved }
        let before = out.count
        try v.encode(to: self)
        if failed { throw OutOfOrder() }
        close(above: depth)
        if out.count == before { out.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")]) }
    }

    /// A value that writes its own members (no containers, no boxes): an object at `depth`.
    func object(_ v: some JSONMembersWritable, depth: Int) throws {
        close(above: depth)
        let id = open(object: true, at: depth)
        frames[depth].presorted = true
        var w = JSONMemberWriter(writer: self, id: id, depth: depth)
        try v.writeJSONMembers(&w)
        if failed { throw OutOfOrder() }
        close(above: depth)
    }

    /// An array at `depth`, each element at `depth + 1` (what `Array`'s `encode(to:)` writes,
    /// without a container box).
    func array<T>(_ a: [T], depth: Int, element: (T, Int) throws -> Void) throws {
        close(above: depth)
        let id = open(object: false, at: depth)
        for (i, e) in a.enumerated() {
            try member(id, depth)
            enter(IndexKey(i), at: depth)
            try element(e, depth + 1)
        }
        close(above: depth)
    }

    /// A key the generated code names (an identifier: nothing to escape).
    @inline(__always) func rawKey(_ key: StaticString) {
        out.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    func bool(_ b: Bool) { out.append(contentsOf: b ? JSONNode.trueBytes : JSONNode.falseBytes) }
    func null() { out.append(contentsOf: JSONNode.nullBytes) }

    func integer(_ v: Int64) {
        if v == 0 { return out.append(UInt8(ascii: "0")) }
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes: room for 20 digits
        var n = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while m > 0 {
                buf[n] = UInt8(ascii: "0") + UInt8(m % 10)
                m /= 10
                n += 1
            }
            for i in stride(from: n - 1, through: 0, by: -1) { out.append(buf[i]) }
        }
    }

    func unsigned(_ v: UInt64) {
        if v > UInt64(Int64.max) { return out.append(contentsOf: String(v).utf8) }
        integer(Int64(v))
    }

    /// A number, for the value at `depth` (its coding path names it when it is not finite).
    func double(_ v: Double, float: Float?, at depth: Int) throws {
        out.append(contentsOf: try ContractJSONEncoder.number(v, PathNode.from(path(depth)), float: float).utf8)
    }

    /// The coding path of a value at `depth`.
    func path(_ depth: Int) -> [any CodingKey] { Array(keys.prefix(depth)) }

    /// The value about to be written at `depth + 1` is under `key` (of the container at `depth`).
    func enter(_ key: any CodingKey, at depth: Int) {
        keys.removeSubrange(min(depth, keys.count)...)
        keys.append(key)
    }

    // MARK: Encoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        // Asked twice for the same value: the same object.
        if frames.count == depth + 1, frames[depth].isObject {
            return KeyedEncodingContainer(StreamKeyed<Key>(writer: self, id: frames[depth].id, depth: depth))
        }
        close(above: depth)
        let id = open(object: true, at: depth)
        return KeyedEncodingContainer(StreamKeyed<Key>(writer: self, id: id, depth: depth))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        close(above: depth)
        let id = open(object: false, at: depth)
        return StreamUnkeyed(writer: self, id: id, depth: depth)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { StreamSingle(writer: self, depth: depth) }
}

extension PathNode {
    static func from(_ keys: [any CodingKey]) -> PathNode { keys.reduce(PathNode.root) { $0.appending($1) } }
}

struct StreamKeyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: StreamWriter
    let id: Int
    let depth: Int
    var codingPath: [any CodingKey] { writer.path(depth) }

    @inline(__always) func begin(_ key: Key) throws {
        try writer.member(id, depth)
        writer.key(key, at: depth)
    }

    /// A nested value under `key`: its path is this container's and the key.
    func nested<T: Encodable>(_ value: T, _ key: Key) throws {
        writer.enter(key, at: depth)
        try writer.value(value, depth: depth + 1)
    }

    mutating func encodeNil(forKey key: Key) throws { try begin(key); writer.null() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try begin(key); writer.bool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try begin(key); JSONNode.write(string: value, to: &writer.out) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try begin(key); writer.integer(Int64(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try begin(key); writer.integer(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try begin(key); writer.integer(Int64(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try begin(key); writer.integer(Int64(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try begin(key); writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try begin(key); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try begin(key); writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try begin(key); writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try begin(key); writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try begin(key); writer.unsigned(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try number(value, nil, key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try number(Double(value), value, key) }

    func number(_ value: Double, _ float: Float?, _ key: Key) throws {
        try begin(key)
        writer.enter(key, at: depth)
        try writer.double(value, float: float, at: depth + 1)
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try begin(key)
        try nested(value, key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        do { try begin(key) } catch { return KeyedEncodingContainer(StreamKeyed<NestedKey>(writer: writer, id: -1, depth: depth + 1)) }
        writer.enter(key, at: depth)
        let nested = writer.open(object: true, at: depth + 1)
        return KeyedEncodingContainer(StreamKeyed<NestedKey>(writer: writer, id: nested, depth: depth + 1))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        do { try begin(key) } catch { return StreamUnkeyed(writer: writer, id: -1, depth: depth + 1) }
        writer.enter(key, at: depth)
        let nested = writer.open(object: false, at: depth + 1)
        return StreamUnkeyed(writer: writer, id: nested, depth: depth + 1)
    }

    mutating func superEncoder() -> any Encoder {
        writer.failed = true
        return writer
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        writer.failed = true
        return writer
    }
}

struct StreamUnkeyed: UnkeyedEncodingContainer {
    let writer: StreamWriter
    let id: Int
    let depth: Int
    var count = 0
    var codingPath: [any CodingKey] { writer.path(depth) }

    @inline(__always) mutating func begin() throws {
        try writer.member(id, depth)
        count += 1
    }

    func enter(_ index: Int) { writer.enter(IndexKey(index), at: depth) }

    mutating func encodeNil() throws { try begin(); writer.null() }
    mutating func encode(_ value: Bool) throws { try begin(); writer.bool(value) }
    mutating func encode(_ value: String) throws { try begin(); JSONNode.write(string: value, to: &writer.out) }
    mutating func encode(_ value: Int) throws { try begin(); writer.integer(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try begin(); writer.integer(value) }
    mutating func encode(_ value: Int8) throws { try begin(); writer.integer(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try begin(); writer.integer(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try begin(); writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt) throws { try begin(); writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try begin(); writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt16) throws { try begin(); writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt32) throws { try begin(); writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt64) throws { try begin(); writer.unsigned(value) }
    mutating func encode(_ value: Double) throws { try double(value, float: nil) }
    mutating func encode(_ value: Float) throws { try double(Double(value), float: value) }

    mutating func double(_ value: Double, float: Float?) throws {
        try begin()
        enter(count - 1)
        try writer.double(value, float: float, at: depth + 1)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try begin()
        enter(count - 1)
        try writer.value(value, depth: depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        do { try begin() } catch { return KeyedEncodingContainer(StreamKeyed<NestedKey>(writer: writer, id: -1, depth: depth + 1)) }
        enter(count - 1)
        let nested = writer.open(object: true, at: depth + 1)
        return KeyedEncodingContainer(StreamKeyed<NestedKey>(writer: writer, id: nested, depth: depth + 1))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        do { try begin() } catch { return StreamUnkeyed(writer: writer, id: -1, depth: depth + 1) }
        enter(count - 1)
        let nested = writer.open(object: false, at: depth + 1)
        return StreamUnkeyed(writer: writer, id: nested, depth: depth + 1)
    }

    mutating func superEncoder() -> any Encoder {
        writer.failed = true
        return writer
    }
}

/// A single value at `depth` (a wrapper such as `Day` or `Money`'s parts): written once.
struct StreamSingle: SingleValueEncodingContainer {
    let writer: StreamWriter
    let depth: Int
    var codingPath: [any CodingKey] { writer.path(depth) }

    mutating func encodeNil() throws { writer.null() }
    mutating func encode(_ value: Bool) throws { writer.bool(value) }
    mutating func encode(_ value: String) throws { JSONNode.write(string: value, to: &writer.out) }
    mutating func encode(_ value: Int) throws { writer.integer(Int64(value)) }
    mutating func encode(_ value: Int64) throws { writer.integer(value) }
    mutating func encode(_ value: Int8) throws { writer.integer(Int64(value)) }
    mutating func encode(_ value: Int16) throws { writer.integer(Int64(value)) }
    mutating func encode(_ value: Int32) throws { writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt) throws { writer.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt16) throws { writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt32) throws { writer.integer(Int64(value)) }
    mutating func encode(_ value: UInt64) throws { writer.unsigned(value) }
    mutating func encode(_ value: Double) throws { try writer.double(value, float: nil, at: depth) }
    mutating func encode(_ value: Float) throws { try writer.double(Double(value), float: value, at: depth) }
    mutating func encode<T: Encodable>(_ value: T) throws { try writer.value(value, depth: depth) }
}

/// A value whose JSON object is written member by member by code the `@Contract` and
/// `@JSONMembers` macros generate from its stored properties — the same bytes its synthesized
/// `Encodable` conformance writes (nil optionals left out), without a container per value.
/// ``ContractJSONEncoder`` and ``StreamJSONEncoder`` take this path; other encoders use `encode(to:)`.
public protocol JSONMembersWritable: Encodable {
    /// Writes every member, keys in the byte order of their UTF-8 (the wire's sorted order).
    func writeJSONMembers(_ w: inout JSONMemberWriter) throws
}

/// The members of one object being written by ``JSONMembersWritable/writeJSONMembers(_:)``.
public struct JSONMemberWriter {
    let writer: StreamWriter
    let id: Int
    let depth: Int
    #if DEBUG
        var last: StaticString?
    #endif

    init(writer: StreamWriter, id: Int, depth: Int) {
        self.writer = writer
        self.id = id
        self.depth = depth
    }

    @inline(__always) mutating func begin(_ key: StaticString) throws {
        #if DEBUG
            if let last {
                let inOrder = last.withUTF8Buffer { a in key.withUTF8Buffer { b in a.lexicographicallyPrecedes(b) } }
                assert(inOrder, "JSON members out of order: \(last) before \(key)")
            }
            last = key
        #endif
        try writer.member(id, depth)
        writer.rawKey(key)
    }

    /// Begins a member whose value is written at the next depth, under `key` in its coding path.
    @inline(__always) mutating func nested(_ key: StaticString) throws {
        try begin(key)
        writer.enter(MemberKey(key: key), at: depth)
    }

    /// A member.
    public mutating func member<T: Encodable>(_ key: StaticString, _ value: T) throws {
        try nested(key)
        try writer.value(value, depth: depth + 1)
    }

    /// A member left out when nil (as synthesized `Encodable` does with `encodeIfPresent`).
    public mutating func member<T: Encodable>(_ key: StaticString, ifPresent value: T?) throws {
        guard let value else { return }
        try member(key, value)
    }

    public mutating func member(_ key: StaticString, _ value: String) throws {
        try begin(key)
        JSONNode.write(string: value, to: &writer.out)
    }

    public mutating func member(_ key: StaticString, ifPresent value: String?) throws {
        guard let value else { return }
        try member(key, value)
    }

    public mutating func member(_ key: StaticString, _ value: Int) throws {
        try begin(key)
        writer.integer(Int64(value))
    }

    public mutating func member(_ key: StaticString, _ value: Int64) throws {
        try begin(key)
        writer.integer(value)
    }

    public mutating func member(_ key: StaticString, _ value: Bool) throws {
        try begin(key)
        writer.bool(value)
    }

    /// A member whose value writes its own members.
    public mutating func member<T: JSONMembersWritable>(_ key: StaticString, _ value: T) throws {
        try nested(key)
        try writer.object(value, depth: depth + 1)
    }

    public mutating func member<T: JSONMembersWritable>(_ key: StaticString, ifPresent value: T?) throws {
        guard let value else { return }
        try member(key, value)
    }

    /// An array member.
    public mutating func member<T: Encodable>(_ key: StaticString, _ value: [T]) throws {
        try nested(key)
        try writer.array(value, depth: depth + 1) { [writer] e, d in try writer.value(e, depth: d) }
    }

    public mutating func member<T: Encodable>(_ key: StaticString, ifPresent value: [T]?) throws {
        guard let value else { return }
        try member(key, value)
    }

    /// An array of values that write their own members.
    public mutating func member<T: JSONMembersWritable>(_ key: StaticString, _ value: [T]) throws {
        try nested(key)
        try writer.array(value, depth: depth + 1) { [writer] e, d in try writer.object(e, depth: d) }
    }

    public mutating func member<T: JSONMembersWritable>(_ key: StaticString, ifPresent value: [T]?) throws {
        guard let value else { return }
        try member(key, value)
    }

    /// The coding path's key of a member (read only when an error names it).
    struct MemberKey: CodingKey {
        let key: StaticString
        init(key: StaticString) { self.key = key }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { nil }
        var stringValue: String { key.description }
        var intValue: Int? { nil }
    }
}
