import Foundation

/// Reads the contract's JSON into `Decodable` values as ``Wire/decoder`` (a Foundation
/// `JSONDecoder` with RFC 3339 dates) does, at a fraction of its cost: the text is parsed once
/// into a small tree (an object is its members in order, found by a linear scan — no dictionary
/// per object), then read through the `Decoder` protocol. The same `DecodingError`s, with the
/// same coding paths (array elements as `Index N`), come out for what does not fit, so that
/// ``ContractError`` names the same fields; what is not JSON (bad syntax, invalid UTF-8, an
/// unescaped control character, nesting deeper than 512) is a `dataCorrupted` at the root. A test
/// compares the two on every example of the contract and on broken inputs.
public struct ContractJSONDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let tree = try data.withUnsafeBytes { raw in try JSONTreeParser.parse(raw.bindMemory(to: UInt8.self)) }
        return try TreeDecoder(tree, path: .root).decode(T.self)
    }

    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let tree = try bytes.withUnsafeBufferPointer { try JSONTreeParser.parse($0) }
        return try TreeDecoder(tree, path: .root).decode(T.self)
    }
}

/// A parsed JSON value.
enum JSONTree {
    case null
    case bool(Bool)
    /// The number's text, checked against JSON's grammar.
    case number(String)
    case string(String)
    case array([JSONTree])
    case object([(key: String, value: JSONTree)])

    var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "dictionary"
        }
    }
}

/// RFC 8259 JSON, strictly: no trailing commas (which Foundation lets through), no leading
/// zeros, no comments.
struct JSONTreeParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var at = 0
    var depth = 0
    static let maxDepth = 512

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> JSONTree {
        var p = JSONTreeParser(bytes: bytes)
        p.skipSpace()
        let value = try p.value()
        p.skipSpace()
        guard p.at == bytes.count else { throw p.error("Unexpected character after the top-level value") }
        return value
    }

    func error(_ what: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: [], debugDescription: "The given data was not valid JSON. \(what) at byte \(at)."))
    }

    mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x09, 0x0A, 0x0D: at += 1
            default: return
            }
        }
    }

    mutating func value() throws -> JSONTree {
        guard at < bytes.count else { throw error("Unexpected end of data") }
        switch bytes[at] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("Unexpected character '\(UnicodeScalar(bytes[at]))'")
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count else { throw error("Unexpected end of data") }
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        for i in 0..<n where bytes[at + i] != w[i] { throw error("Invalid literal") }
        at += n
    }

    mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepth { throw error("Too many nested arrays or dictionaries") }
    }

    mutating func object() throws -> JSONTree {
        try enter()
        at += 1
        var members: [(key: String, value: JSONTree)] = []
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
            at += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard at < bytes.count else { throw error("Unexpected end of data") }
            guard bytes[at] == UInt8(ascii: "\"") else { throw error("Expected a key") }
            let key = try string()
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw error("Expected ':'") }
            at += 1
            skipSpace()
            members.append((key, try value()))
            skipSpace()
            guard at < bytes.count else { throw error("Unexpected end of data") }
            if bytes[at] == UInt8(ascii: ",") {
                at += 1
                continue
            }
            guard bytes[at] == UInt8(ascii: "}") else { throw error("Expected ',' or '}'") }
            at += 1
            depth -= 1
            return .object(members)
        }
    }

    mutating func array() throws -> JSONTree {
        try enter()
        at += 1
        var elements: [JSONTree] = []
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
            at += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipSpace()
            elements.append(try value())
            skipSpace()
            guard at < bytes.count else { throw error("Unexpected end of data") }
            if bytes[at] == UInt8(ascii: ",") {
                at += 1
                continue
            }
            guard bytes[at] == UInt8(ascii: "]") else { throw error("Expected ',' or ']'") }
            at += 1
            depth -= 1
            return .array(elements)
        }
    }

    /// A string from its opening quote; escapes resolved, UTF-8 checked.
    mutating func string() throws -> String {
        at += 1
        let start = at
        // Fast path: no escape before the closing quote.
        var ascii = true
        while at < bytes.count {
            let b = bytes[at]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<at])
                at += 1
                if ascii {
                    // Nothing to validate: copied as it is (the generic validating initializer is
                    // not specialized, and costs a metadata lookup per string).
                    return String(unsafeUninitializedCapacity: slice.count) { out in
                        _ = out.initialize(from: slice)
                        return slice.count
                    }
                }
                guard let s = String(validating: slice, as: UTF8.self) else { throw error("Invalid UTF-8 in a string") }
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("Unescaped control character in a string") }
            if b >= 0x80 { ascii = false }
            at += 1
        }
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<at]))
        while at < bytes.count {
            let b = bytes[at]
            switch b {
            case UInt8(ascii: "\""):
                at += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw error("Invalid UTF-8 in a string") }
                return s
            case UInt8(ascii: "\\"):
                at += 1
                guard at < bytes.count else { throw error("Unexpected end of data") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = UInt32(try hex4())
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                            throw error("Unpaired UTF-16 surrogate")
                        }
                        at += 2
                        let low = UInt32(try hex4())
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("Unpaired UTF-16 surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("Unpaired UTF-16 surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("Invalid escape") }
                    out.append(contentsOf: UTF8.encode(u)!)
                default:
                    throw error("Invalid escape '\\\(UnicodeScalar(e))'")
                }
            default:
                if b < 0x20 { throw error("Unescaped control character in a string") }
                out.append(b)
                at += 1
            }
        }
        throw error("Unterminated string")
    }

    mutating func hex4() throws -> UInt16 {
        guard at + 4 <= bytes.count else { throw error("Unexpected end of data") }
        var v: UInt16 = 0
        for _ in 0..<4 {
            let c = bytes[at]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw error("Invalid hex digit")
            }
            v = v << 4 | UInt16(d)
            at += 1
        }
        return v
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    mutating func number() throws -> String {
        let start = at
        func digits(_ p: inout JSONTreeParser) -> Int {
            let s = p.at
            while p.at < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.at]) { p.at += 1 }
            return p.at - s
        }
        if bytes[at] == UInt8(ascii: "-") { at += 1 }
        guard at < bytes.count else { throw error("Unexpected end of data in a number") }
        if bytes[at] == UInt8(ascii: "0") {
            at += 1
        } else if digits(&self) == 0 {
            throw error("Invalid number")
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard digits(&self) > 0 else { throw error("Invalid number") }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard digits(&self) > 0 else { throw error("Invalid number") }
        }
        if at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { throw error("Invalid number") }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
    }
}

/// A key of an array element, as Foundation's decoder names it (`Index 3`).
struct ElementKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

/// The `Decoder` over a ``JSONTree``.
struct TreeDecoder: Decoder {
    let value: JSONTree
    let path: PathNode
    var codingPath: [any CodingKey] { path.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: JSONTree, path: PathNode) {
        self.value = value
        self.path = path
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        switch value {
        case .object(let members): return KeyedDecodingContainer(TreeKeyedContainer<Key>(members: members, path: path))
        case .null:
            throw DecodingError.valueNotFound(
                [String: Any].self, .init(codingPath: codingPath, debugDescription: "Cannot get keyed decoding container -- found null value instead"))
        default:
            throw DecodingError.typeMismatch(
                [String: Any].self,
                .init(codingPath: codingPath, debugDescription: "Expected to decode Dictionary<String, Any> but found \(value.typeDescription) instead."))
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch value {
        case .array(let elements): return TreeUnkeyedContainer(elements: elements, path: path)
        case .null:
            throw DecodingError.valueNotFound(
                [Any].self, .init(codingPath: codingPath, debugDescription: "Cannot get unkeyed decoding container -- found null value instead"))
        default:
            throw DecodingError.typeMismatch(
                [Any].self, .init(codingPath: codingPath, debugDescription: "Expected to decode Array<Any> but found \(value.typeDescription) instead."))
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { TreeSingleContainer(decoder: self) }

    // MARK: Values

    func mismatch(_ type: Any.Type) -> DecodingError {
        if case .null = value {
            return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "Expected \(type) value but found null instead."))
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "Expected to decode \(type) but found \(value.typeDescription) instead."))
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is String.Type: return try string() as! T
        case is Date.Type:
            let text = try string()
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\"\(text)\" is not an RFC 3339 timestamp"))
            }
            return date as! T
        case is Bool.Type: return try bool() as! T
        case is Int.Type: return try integer(Int.self) as! T
        case is Int64.Type: return try integer(Int64.self) as! T
        case is Double.Type: return try double() as! T
        case is URL.Type:
            let text = try string()
            guard let url = URL(string: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Invalid URL string."))
            }
            return url as! T
        case is Decimal.Type, is Data.Type:
            // Not in the contract; Foundation's own rules.
            return try Wire.decoder.decode(FoundationBox<T>.self, from: Data(ContractJSONEncoder.bytes(of: value))).value
        case let members as any JSONMembersReadable.Type: return try self.members(members) as! T
        case let array as any TreeArray.Type: return try array.read(self) as! T
        default: return try T(from: self)
        }
    }

    /// A value that reads its own members (``JSONMembersReadable``): the errors a keyed
    /// container would throw for what is not an object.
    func members<R: JSONMembersReadable>(_ type: R.Type) throws -> R {
        guard case .object(let members) = value else {
            _ = try container(keyedBy: JSONMemberReader.Key.self)
            throw mismatch(R.self)  // not reached: only an object has a keyed container
        }
        return try R(jsonMembers: JSONMemberReader(members: members, path: path))
    }

    /// An array, each element read as ``TreeUnkeyedContainer`` reads it.
    func array<T: Decodable>(of type: T.Type) throws -> [T] {
        guard case .array(let elements) = value else {
            _ = try unkeyedContainer()
            throw mismatch([T].self)  // not reached
        }
        var out: [T] = []
        out.reserveCapacity(elements.count)
        for (i, e) in elements.enumerated() {
            if T.self == String.self, case .string(let s) = e {
                out.append(s as! T)
                continue
            }
            out.append(try TreeDecoder(e, path: path.appending(ElementKey(i))).decode(T.self))
        }
        return out
    }

    func string() throws -> String {
        guard case .string(let s) = value else { throw mismatch(String.self) }
        return s
    }

    func bool() throws -> Bool {
        guard case .bool(let b) = value else {
            // Foundation reports a null boolean as of the wrong type, not as missing.
            throw DecodingError.typeMismatch(
                Bool.self, .init(codingPath: codingPath, debugDescription: "Expected to decode Bool but found \(value.typeDescription) instead."))
        }
        return b
    }

    func double() throws -> Double {
        guard case .number(let text) = value else { throw mismatch(Double.self) }
        // Out of range either way (1e400, or 1e-400 that would read as 0): refused, as Foundation does.
        guard let d = Double(text), d.isFinite, d != 0 || !Self.hasNonZeroDigit(mantissaOf: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Parsed JSON number <\(text)> does not fit in Double."))
        }
        return d
    }

    static func hasNonZeroDigit(mantissaOf text: String) -> Bool {
        for b in text.utf8 {
            if b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { return false }
            if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(b) { return true }
        }
        return false
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        guard case .number(let text) = value else { throw mismatch(I.self) }
        if let i = I(text) { return i }
        if let d = Double(text), let i = I(exactly: d) { return i }
        throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "Parsed JSON number <\(text)> does not fit in \(I.self)."))
    }
}

/// Decodes a type Foundation knows special rules for, through Foundation.
struct FoundationBox<T: Decodable>: Decodable {
    let value: T
    init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode(T.self) }
}

extension ContractJSONEncoder {
    /// A parsed tree written back as JSON (for the rare values decoded through Foundation).
    static func bytes(of tree: JSONTree) -> [UInt8] {
        var out: [UInt8] = []
        func write(_ t: JSONTree) {
            switch t {
            case .null: out.append(contentsOf: JSONNode.nullBytes)
            case .bool(let b): out.append(contentsOf: b ? JSONNode.trueBytes : JSONNode.falseBytes)
            case .number(let n): out.append(contentsOf: n.utf8)
            case .string(let s): JSONNode.write(string: s, to: &out)
            case .array(let a):
                out.append(UInt8(ascii: "["))
                for (i, e) in a.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    write(e)
                }
                out.append(UInt8(ascii: "]"))
            case .object(let members):
                out.append(UInt8(ascii: "{"))
                for (i, m) in members.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    JSONNode.write(string: m.key, to: &out)
                    out.append(UInt8(ascii: ":"))
                    write(m.value)
                }
                out.append(UInt8(ascii: "}"))
            }
        }
        write(tree)
        return out
    }
}

struct TreeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(key: String, value: JSONTree)]
    let path: PathNode
    var codingPath: [any CodingKey] { path.codingPath }

    var allKeys: [Key] {
        var seen = Set<String>()
        var keys: [Key] = []
        for m in members where seen.insert(m.key).inserted {
            if let k = Key(stringValue: m.key) { keys.append(k) }
        }
        return keys
    }

    /// The member's value; a key given twice counts with its first value (as Foundation reads it).
    func find(_ key: Key) -> JSONTree? {
        let name = key.stringValue
        for m in members where m.key == name { return m.value }
        return nil
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    func child(_ key: Key) throws -> TreeDecoder {
        guard let v = find(key) else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: codingPath, debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return TreeDecoder(v, path: path.appending(key))
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try child(key).value { return true }
        return false
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).bool() }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).string() }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).double() }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).integer(Int.self) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).integer(Int64.self) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).integer(Int8.self) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).integer(Int16.self) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).integer(Int32.self) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).integer(UInt.self) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).integer(UInt8.self) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).integer(UInt16.self) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).integer(UInt32.self) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).integer(UInt64.self) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try child(key).double()) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(T.self) }

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let v = find(key) else { return nil }
        if case .null = v { return nil }
        return try TreeDecoder(v, path: path.appending(key)).string()
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let v = find(key) else { return nil }
        if case .null = v { return nil }
        return try TreeDecoder(v, path: path.appending(key)).decode(T.self)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }

    func superDecoder() throws -> any Decoder {
        TreeDecoder(members.first { $0.key == "super" }?.value ?? .null, path: path.appending(SuperKey.super))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder { TreeDecoder(find(key) ?? .null, path: path.appending(key)) }

    enum SuperKey: String, CodingKey { case `super` }
}

struct TreeUnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONTree]
    let path: PathNode
    var currentIndex = 0
    var codingPath: [any CodingKey] { path.codingPath }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    init(elements: [JSONTree], path: PathNode) {
        self.elements = elements
        self.path = path
    }

    mutating func next(_ type: Any.Type) throws -> TreeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type, .init(codingPath: path.appending(ElementKey(currentIndex)).codingPath, debugDescription: "Unkeyed container is at end."))
        }
        defer { currentIndex += 1 }
        return TreeDecoder(elements[currentIndex], path: path.appending(ElementKey(currentIndex)))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                Any?.self, .init(codingPath: path.appending(ElementKey(currentIndex)).codingPath, debugDescription: "Unkeyed container is at end."))
        }
        if case .null = elements[currentIndex] {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: String.Type) throws -> String { try next(type).string() }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type).bool() }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type).double() }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type).integer(Int.self) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type).integer(Int64.self) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type).integer(Int8.self) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type).integer(Int16.self) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type).integer(Int32.self) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type).integer(UInt.self) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type).integer(UInt8.self) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type).integer(UInt16.self) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type).integer(UInt32.self) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type).integer(UInt64.self) }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try next(type).double()) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type).decode(T.self) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next([String: Any].self).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next([Any].self).unkeyedContainer() }

    mutating func superDecoder() throws -> any Decoder { try next(Any.self) }
}

struct TreeSingleContainer: SingleValueDecodingContainer {
    let decoder: TreeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool {
        if case .null = decoder.value { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try decoder.bool() }
    func decode(_ type: String.Type) throws -> String { try decoder.string() }
    func decode(_ type: Double.Type) throws -> Double { try decoder.double() }
    func decode(_ type: Float.Type) throws -> Float { Float(try decoder.double()) }
    func decode(_ type: Int.Type) throws -> Int { try decoder.integer(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.integer(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.integer(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.integer(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.integer(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.integer(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.integer(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.integer(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.integer(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(T.self) }
}

/// An array read element by element without an unkeyed container box.
protocol TreeArray {
    static func read(_ decoder: TreeDecoder) throws -> Self
}

extension Array: TreeArray where Element: Decodable {
    static func read(_ decoder: TreeDecoder) throws -> Self { try decoder.array(of: Element.self) }
}

/// A value whose members are read by code the `@Contract` and `@JSONMembers` macros generate from
/// its stored properties — what its synthesized `Decodable` reads (in declaration order, the same
/// errors with the same coding paths), without a container per value. ``ContractJSONDecoder``
/// takes this path; other decoders use `init(from:)`.
public protocol JSONMembersReadable: Decodable {
    init(jsonMembers r: JSONMemberReader) throws
}

/// The members of one object being read by ``JSONMembersReadable/init(jsonMembers:)``.
public struct JSONMemberReader {
    let members: [(key: String, value: JSONTree)]
    let path: PathNode

    /// A member's key in a coding path.
    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
        var intValue: Int? { nil }
        init(_ key: StaticString) { stringValue = key.description }
    }

    /// The member's value; a key given twice counts with its first value (as Foundation reads it).
    func find(_ key: StaticString) -> JSONTree? {
        key.withUTF8Buffer { k in
            for m in members {
                var name = m.key
                let same = name.withUTF8 { n in n.count == k.count && (k.count == 0 || memcmp(n.baseAddress!, k.baseAddress!, k.count) == 0) }
                if same { return m.value }
            }
            return nil
        }
    }

    func child(_ key: StaticString) throws -> TreeDecoder {
        guard let v = find(key) else {
            let k = Key(key)
            throw DecodingError.keyNotFound(
                k, .init(codingPath: path.codingPath, debugDescription: "No value associated with key \(k) (\"\(k.stringValue)\")."))
        }
        return TreeDecoder(v, path: path.appending(Key(key)))
    }

    func present(_ key: StaticString) -> TreeDecoder? {
        guard let v = find(key) else { return nil }
        if case .null = v { return nil }
        return TreeDecoder(v, path: path.appending(Key(key)))
    }

    /// A required member (`decode(_:forKey:)`), of the type it is assigned to.
    public func member<T: Decodable>(_ key: StaticString) throws -> T {
        // A string, boolean or integer that is what it should be is read without a decoder or a
        // coding path; anything else, and every error, goes the whole way.
        if let v = find(key) {
            if T.self == String.self, case .string(let s) = v { return s as! T }
            if T.self == Bool.self, case .bool(let b) = v { return b as! T }
            if T.self == Int64.self, case .number(let n) = v, let i = Int64(n) { return i as! T }
            if T.self == Int.self, case .number(let n) = v, let i = Int(n) { return i as! T }
        }
        return try child(key).decode(T.self)
    }

    /// An optional member: nil when missing or null (`decodeIfPresent(_:forKey:)`).
    public func optional<T: Decodable>(_ key: StaticString) throws -> T? {
        guard let v = find(key) else { return nil }
        if T.self == String.self, case .string(let s) = v { return s as? T }
        if T.self == Bool.self, case .bool(let b) = v { return b as? T }
        return try present(key)?.decode(T.self)
    }

}
