import Foundation

/// Refusal of U+0000 (NUL) in any string of an envelope, at decoding.
///
/// PostgreSQL refuses NUL in `text` (SQLSTATE 22021), so a message carrying one would fail every
/// transaction that stores it and be retried for ever. Decoding refuses it up front with
/// ``ContractError/Code/invalidValue`` naming the offending string's path.
///
/// The common path costs two `memchr` scans of the body: JSON can carry a NUL only as a `\u0000`
/// escape (or, invalidly, a raw 0x00 byte), so only a body containing one of those is parsed a
/// second time, into a ``JSONValue``, to find where.
enum NULCheck {
    /// Throws when a string of `body` (a value or an object key) contains U+0000; with
    /// `attributesOnly`, only the strings outside the envelope's top-level `data` count. Every
    /// offending string is a problem of the error: the attributes' first (like any envelope
    /// problem), then those of `data`, each group in key order.
    ///
    /// A body that is not valid JSON passes: decoding then reports it as malformed.
    static func refuse(in body: Data, attributesOnly: Bool) throws(ContractError) {
        guard mayContainNUL(body), let json = try? JSONDecoder().decode(JSONValue.self, from: body) else { return }
        var problems: [FieldProblem] = []
        if case .object(let members) = json {
            for key in members.keys.sorted() where key != "data" {
                collect(members[key]!, key: key, parent: "", into: &problems)
            }
            if !attributesOnly, let data = members["data"] {
                collect(data, key: "data", parent: "", into: &problems)
            }
        } else {
            collect(json, at: "", into: &problems)
        }
        guard let first = problems.first else { return }
        throw ContractError(.invalidValue, field: first.field, message: first.problem, problems: problems)
    }

    /// Whether the JSON text has an unescaped 0x00 byte or a `\u0000` escape. In `\\u0000` the
    /// backslash is itself escaped and `u0000` is plain text: every backslash of valid JSON starts
    /// an escape, so the scan skips the character after each one.
    static func mayContainNUL(_ body: Data) -> Bool {
        body.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Bool in
            guard let base = buffer.baseAddress else { return false }
            let count = buffer.count
            if memchr(base, 0, count) != nil { return true }
            var offset = 0
            while offset < count, let found = memchr(base + offset, 0x5C, count - offset) {
                let slash = base.distance(to: UnsafeRawPointer(found))
                if slash + 5 < count, buffer[slash + 1] == UInt8(ascii: "u"), buffer[slash + 2] == zero,
                    buffer[slash + 3] == zero, buffer[slash + 4] == zero, buffer[slash + 5] == zero
                {
                    return true
                }
                offset = slash + 2
            }
            return false
        }
    }

    private static let zero = UInt8(ascii: "0")

    private static let rule = "must not contain NUL (U+0000) characters"

    /// Appends a problem for every string under `value` that contains U+0000, object members in
    /// key order.
    private static func collect(_ value: JSONValue, at path: String, into problems: inout [FieldProblem]) {
        switch value {
        case .string(let text) where text.unicodeScalars.contains("\u{0}"):
            let field = path.isEmpty ? "<root>" : path
            problems.append(FieldProblem(field: field, problem: "\(field) \(rule)"))
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                collect(element, at: "\(path)[\(index)]", into: &problems)
            }
        case .object(let members):
            for key in members.keys.sorted() {
                collect(members[key]!, key: key, parent: path, into: &problems)
            }
        default:
            break
        }
    }

    private static func collect(_ value: JSONValue, key: String, parent: String, into problems: inout [FieldProblem]) {
        // The path names an offending key with its NUL written `\u0000`: the error itself must not
        // carry a NUL into the `command.rejected` that reports it.
        let name = key.replacingOccurrences(of: "\u{0}", with: "\\u0000")
        let path = parent.isEmpty ? name : "\(parent).\(name)"
        if name != key {
            problems.append(FieldProblem(field: path, problem: "the key of \(path) \(rule)"))
        }
        collect(value, at: path, into: &problems)
    }
}
