import AMQP
import Contracts
import Foundation

/// One step into a JSON document: a member name or an array index.
enum JSONStep: Hashable, CustomStringConvertible {
    case key(String)
    case index(Int)

    var description: String {
        switch self {
        case .key(let k): k
        case .index(let i): "[\(i)]"
        }
    }
}

extension [JSONStep] {
    /// `data.customer.name`, `data.documents[0].uri`.
    var dotted: String {
        var out = ""
        for step in self {
            if case .key = step, !out.isEmpty { out += "." }
            out += step.description
        }
        return out
    }
}

extension JSONValue {
    /// Every path below this value (not the value itself), depth first.
    func paths(under prefix: [JSONStep] = []) -> [[JSONStep]] {
        var out: [[JSONStep]] = []
        switch self {
        case .object(let members):
            for (k, v) in members.sorted(by: { $0.key < $1.key }) {
                let p = prefix + [.key(k)]
                out.append(p)
                out += v.paths(under: p)
            }
        case .array(let values):
            for (i, v) in values.enumerated() {
                let p = prefix + [.index(i)]
                out.append(p)
                out += v.paths(under: p)
            }
        default:
            break
        }
        return out
    }

    subscript(path path: [JSONStep]) -> JSONValue? {
        guard let first = path.first else { return self }
        switch (self, first) {
        case (.object(let m), .key(let k)): return m[k]?[path: Array(path.dropFirst())]
        case (.array(let a), .index(let i)) where a.indices.contains(i): return a[i][path: Array(path.dropFirst())]
        default: return nil
        }
    }

    /// Sets the value at `path` (nil removes it); a path that does not exist is left alone.
    mutating func set(_ path: [JSONStep], _ value: JSONValue?) {
        guard let first = path.first else {
            if let value { self = value }
            return
        }
        let rest = Array(path.dropFirst())
        switch (self, first) {
        case (.object(var m), .key(let k)):
            if rest.isEmpty {
                m[k] = value
            } else if var child = m[k] {
                child.set(rest, value)
                m[k] = child
            }
            self = .object(m)
        case (.array(var a), .index(let i)) where a.indices.contains(i):
            if rest.isEmpty {
                if let value { a[i] = value } else { a.remove(at: i) }
            } else {
                a[i].set(rest, value)
            }
            self = .array(a)
        default:
            break
        }
    }

    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// Turns a valid command into a malformed one, reproducibly from a seeded generator: dropped
/// and retyped fields; empty, oversized (100 KB), unicode, control-character and NUL strings;
/// deep nesting (1000 levels); numbers out of range; invalid UTF-8 and lone surrogates;
/// duplicate keys; truncated bodies; binary garbage; unknown, foreign and event types; wrong
/// envelope attributes; a missing `user_id` or `message_id`.
struct CommandMutator {
    /// What a mutated command is made of until it is rendered.
    struct Draft {
        var json: JSONValue
        /// Quoted placeholders in the rendered text and the raw bytes that replace them (what a
        /// JSONValue cannot hold: invalid UTF-8, lone surrogates, deep nesting, odd numbers).
        var raw: [(String, [UInt8])] = []
        /// Members inserted verbatim at the start of `data` (duplicate keys).
        var dataPrefix: [UInt8] = []
        var truncateAt: Double?
        var replacement: [UInt8]?
        var dropUserId = false
        var dropMessageId = false
        var amqpLie = false
    }

    enum Kind: String, CaseIterable {
        case dropField, retypeField, emptyString, oversizedString, unicodeString, controlString, nulString, deepNesting,
            extraField, numberEdge, invalidUTF8, loneSurrogate, duplicateKey, truncated, garbage, notAnObject, emptyBody,
            unknownType, foreignType, eventType, badSpecversion, badTime, badDataversion, badContentType, emptySource,
            noUserId, noMessageId, amqpPropertiesLie, idMismatch

        /// Mutations that replace the whole message: never combined with others.
        var isExclusive: Bool { [.garbage, .notAnObject, .emptyBody, .noMessageId].contains(self) }
    }

    static let unicode = [
        "Ñandú çağrı 東京 😀👍🏽", "مرحبا שלום", "\u{202E}desrever\u{202C}", "zero\u{200B}width\u{FEFF}", "e\u{301}\u{302}\u{303}",
        "𝕳𝖊𝖑𝖑𝖔", "\u{FFFD}\u{FFFF}\u{10FFFF}", "🏳️‍🌈👨‍👩‍👧‍👦",
    ]
    static let controls = ["\u{1}\u{2}\u{1F}", "tab\tnew\nline\r", "\u{7F}\u{1B}[31m", "\u{8}\u{C}\u{B}"]
    static let numberTokens = [
        "1e400", "-1e400", "-0", "9223372036854775808", "-9223372036854775809", "0.5", "1E-400", "00012", "NaN", "Infinity",
        "0x10", "1.", "-", "+1",
    ]
    static let badUTF8: [[UInt8]] = [[0xC3, 0x28], [0xFF, 0xFE], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF8, 0x88, 0x80, 0x80, 0x80]]
    static let eventTypes = [WorkOrderOpened.type, ChargePaid.type, WorkOrderClosed.type, CommandRejected.type]

    /// Applies `count` random mutations (one exclusive one replaces them all). Returns the
    /// message and what was done to it.
    static func mutate(
        _ message: OutgoingMessage, index: Int, count: Int, kinds allowed: [Kind] = Kind.allCases, foreignTypes: [String],
        using rng: inout SeededGenerator
    ) throws -> (OutgoingMessage, [(Kind, String)]) {
        var draft = Draft(json: try JSONDecoder().decode(JSONValue.self, from: Data(message.body)))
        var done: [(Kind, String)] = []
        var kinds: [Kind] = []
        for _ in 0..<count {
            let k = allowed.randomElement(using: &rng)!
            if k.isExclusive {
                kinds = [k]
                break
            }
            kinds.append(k)
        }
        for k in kinds {
            if let d = apply(k, to: &draft, index: index, foreignTypes: foreignTypes, using: &rng) { done.append((k, d)) }
        }
        if done.isEmpty, let k = allowed.first(where: { !$0.isExclusive }) ?? allowed.first,
            let d = apply(k, to: &draft, index: index, foreignTypes: foreignTypes, using: &rng)
        {
            done.append((k, d))
        }
        return (render(draft, message), done)
    }

    /// A path to mutate: mostly inside `data`, sometimes an envelope attribute.
    static func path(_ json: JSONValue, using rng: inout SeededGenerator, where ok: (JSONValue) -> Bool = { _ in true }) -> [JSONStep]? {
        let all = json.paths().filter { p in json[path: p].map(ok) ?? false }
        let inData = all.filter { $0.first == .key("data") && $0.count > 1 }
        let envelope = all.filter { $0.count == 1 }
        if !inData.isEmpty, rng.chance(0.7) || envelope.isEmpty { return inData.randomElement(using: &rng) }
        return envelope.randomElement(using: &rng) ?? all.randomElement(using: &rng)
    }

    static func isString(_ v: JSONValue) -> Bool { v.stringValue != nil }

    /// A string for `path`, unique per command where it is the envelope id or a subject's id
    /// (`requestId`, `workOrderId`, …): two commands given the same mutated id would otherwise name
    /// the same new subject, and the second is then a duplicate with no outcome of its own (it was
    /// "received already").
    static func unique(_ s: String, _ path: [JSONStep], _ index: Int) -> String {
        guard case .key(let last)? = path.last else { return s }
        return path == [.key("id")] || last.hasSuffix("Id") ? "\(s)-\(index)" : s
    }

    static func placeholder(_ draft: inout Draft, _ bytes: [UInt8]) -> JSONValue {
        let token = "@@FUZZ-RAW-\(draft.raw.count)@@"
        draft.raw.append(("\"\(token)\"", bytes))
        return .string(token)
    }

    static func apply(_ kind: Kind, to d: inout Draft, index: Int, foreignTypes: [String], using rng: inout SeededGenerator) -> String? {
        switch kind {
        case .dropField:
            guard let p = path(d.json, using: &rng) else { return nil }
            d.json.set(p, nil)
            return "drop \(p.dotted)"
        case .retypeField:
            guard let p = path(d.json, using: &rng), let old = d.json[path: p] else { return nil }
            let choices: [JSONValue] = [42, -1, 1e300, true, nil, [], [:], "x", [1, "two", nil], ["nested": ["deeper": 1]]]
            let value = choices.filter { $0.kindName != old.kindName }.randomElement(using: &rng)!
            d.json.set(p, value)
            return "retype \(p.dotted) \(old.kindName) → \(value.kindName)"
        case .emptyString:
            guard let p = path(d.json, using: &rng, where: isString) else { return nil }
            d.json.set(p, .string(rng.chance(0.7) ? "" : "   "))
            return "empty \(p.dotted)"
        case .oversizedString:
            guard let p = path(d.json, using: &rng, where: isString) else { return nil }
            let big = rng.chance(0.5) ? String(repeating: "x", count: 100_000) : String(repeating: "ñ東😀", count: 12_500)
            d.json.set(p, .string(unique(big, p, index)))
            return "100 KB \(p.dotted)"
        case .unicodeString:
            guard let p = path(d.json, using: &rng, where: isString) else { return nil }
            d.json.set(p, .string(unique(unicode.randomElement(using: &rng)!, p, index)))
            return "unicode \(p.dotted)"
        case .controlString:
            guard let p = path(d.json, using: &rng, where: isString) else { return nil }
            d.json.set(p, .string(unique("ctl" + controls.randomElement(using: &rng)!, p, index)))
            return "control characters \(p.dotted)"
        case .nulString:
            guard let p = path(d.json, using: &rng, where: isString) else { return nil }
            let old = d.json[path: p]?.stringValue ?? ""
            d.json.set(p, .string(unique(rng.chance(0.5) ? "\u{0}" : old + "\u{0}tail", p, index)))
            return "NUL in \(p.dotted)"
        case .deepNesting:
            let object = rng.chance(0.5)
            let text = object
                ? String(repeating: "{\"a\":", count: 1000) + "1" + String(repeating: "}", count: 1000)
                : String(repeating: "[", count: 1000) + "1" + String(repeating: "]", count: 1000)
            let value = placeholder(&d, Array(text.utf8))
            if rng.chance(0.5), let p = path(d.json, using: &rng) {
                d.json.set(p, value)
                return "1000 nested \(object ? "objects" : "arrays") at \(p.dotted)"
            }
            let p: [JSONStep] = rng.chance(0.5) ? [.key("xdeep")] : [.key("data"), .key("xDeep")]
            d.json.set(p, value)
            return "1000 nested \(object ? "objects" : "arrays") in extra \(p.dotted)"
        case .extraField:
            let values: [JSONValue] = ["surprise", 7, ["a": [1, 2]], nil, true]
            let p: [JSONStep] = rng.chance(0.7) ? [.key("data"), .key("xFuzz\(index)")] : [.key("xfuzz")]
            d.json.set(p, values.randomElement(using: &rng)!)
            return "extra \(p.dotted)"
        case .numberEdge:
            let numbers = d.json.paths().filter { d.json[path: $0]?.kindName == "number" && $0 != [.key("id")] }
            guard let p = numbers.randomElement(using: &rng) ?? path(d.json, using: &rng), p != [.key("id")] else { return nil }
            let token = numberTokens.randomElement(using: &rng)!
            d.json.set(p, placeholder(&d, Array(token.utf8)))
            return "number \(token) at \(p.dotted)"
        case .invalidUTF8:
            guard let p = path(d.json, using: &rng, where: isString), p != [.key("id")] else { return nil }
            d.json.set(p, placeholder(&d, Array("\"bad".utf8) + badUTF8.randomElement(using: &rng)! + Array("\"".utf8)))
            return "invalid UTF-8 in \(p.dotted)"
        case .loneSurrogate:
            guard let p = path(d.json, using: &rng, where: isString), p != [.key("id")] else { return nil }
            d.json.set(p, placeholder(&d, Array((rng.chance(0.5) ? "\"x\\ud800y\"" : "\"\\udc00\"").utf8)))
            return "lone surrogate in \(p.dotted)"
        case .duplicateKey:
            guard case .object(let data)? = d.json["data"], let key = data.keys.sorted().randomElement(using: &rng) else { return nil }
            d.dataPrefix = Array("\"\(key)\":\(rng.chance(0.5) ? "12345" : "\"duplicate\""),".utf8)
            return "duplicate key data.\(key)"
        case .truncated:
            d.truncateAt = rng.double(in: 0.01...0.99)
            return "truncated body"
        case .garbage:
            let n = Int.random(in: 1...2048, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if rng.chance(0.3) { bytes[0] = UInt8(ascii: "{") }
            d.replacement = bytes
            return "\(n) bytes of binary garbage"
        case .notAnObject:
            let body = ["[]", "[1,2,3]", "\"workorder.open\"", "42", "null", "true", "{}", " "].randomElement(using: &rng)!
            d.replacement = Array(body.utf8)
            return "body \(body)"
        case .emptyBody:
            d.replacement = []
            return "empty body"
        case .unknownType:
            let t = ["workorder.teleport", "WORKORDER.OPEN", "workorder.open ", "x.\(index)", ""].randomElement(using: &rng)!
            d.json.set([.key("type")], .string(t))
            return "unknown type \(t.debugDescription)"
        case .foreignType:
            guard let t = foreignTypes.randomElement(using: &rng) else { return nil }
            d.json.set([.key("type")], .string(t))
            return "type of another service's command \(t)"
        case .eventType:
            let t = eventTypes.randomElement(using: &rng)!
            d.json.set([.key("type")], .string(t))
            return "event type \(t) on ot.commands"
        case .badSpecversion:
            let v: JSONValue = (["0.3", "", "1", 1.0, "1.0.0"] as [JSONValue]).randomElement(using: &rng)!
            d.json.set([.key("specversion")], v)
            return "specversion \(v.rendered())"
        case .badTime:
            let v: JSONValue = (["yesterday", "2026-13-45T99:00:00Z", 0, "", "2026-11-22"] as [JSONValue]).randomElement(using: &rng)!
            d.json.set([.key("time")], v)
            return "time \(v.rendered())"
        case .badDataversion:
            let v: JSONValue = ([0, -1, 99, "1", 1.5] as [JSONValue]).randomElement(using: &rng)!
            d.json.set([.key("dataversion")], v)
            return "dataversion \(v.rendered())"
        case .badContentType:
            let v = ["text/xml", "", "application/xml"].randomElement(using: &rng)!
            d.json.set([.key("datacontenttype")], .string(v))
            return "datacontenttype \(v.debugDescription)"
        case .emptySource:
            d.json.set([.key("source")], rng.chance(0.5) ? JSONValue.string("") : nil)
            return "empty or missing source"
        case .noUserId:
            d.dropUserId = true
            return "no user_id"
        case .noMessageId:
            d.dropMessageId = true
            return "no AMQP message_id"
        case .amqpPropertiesLie:
            d.amqpLie = true
            return "AMQP type and content_type that lie"
        case .idMismatch:
            guard let id = d.json["id"]?.stringValue, !id.isEmpty else { return nil }
            d.json.set([.key("id")], .string(id + "-body"))
            return "envelope id differs from message_id"
        }
    }

    static func render(_ d: Draft, _ original: OutgoingMessage) -> OutgoingMessage {
        var m = original
        if d.dropUserId { m.properties.userId = nil }
        if d.dropMessageId { m.properties.messageId = nil }
        if d.amqpLie {
            m.properties.type = "billing.record-payment"
            m.properties.contentType = "text/plain"
        }
        if let replacement = d.replacement {
            m.body = replacement
            return m
        }
        var bytes = Array(d.json.rendered().utf8)
        for (token, raw) in d.raw { bytes = replace(Array(token.utf8), with: raw, in: bytes) }
        if !d.dataPrefix.isEmpty { bytes = replace(Array("\"data\":{".utf8), with: Array("\"data\":{".utf8) + d.dataPrefix, in: bytes) }
        if let t = d.truncateAt, bytes.count > 1 { bytes = Array(bytes.prefix(max(1, min(bytes.count - 1, Int(Double(bytes.count) * t))))) }
        m.body = bytes
        return m
    }

    /// The bytes with the first occurrence of `pattern` replaced.
    static func replace(_ pattern: [UInt8], with replacement: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        guard !pattern.isEmpty, bytes.count >= pattern.count else { return bytes }
        for i in 0...(bytes.count - pattern.count) where bytes[i] == pattern[0] && Array(bytes[i..<(i + pattern.count)]) == pattern {
            return Array(bytes[..<i]) + replacement + Array(bytes[(i + pattern.count)...])
        }
        return bytes
    }

    /// The ids a service may name this command by: the envelope id when it reads one, else
    /// the AMQP message_id.
    static func ids(of m: OutgoingMessage) -> Set<String> {
        var ids: Set<String> = []
        if let id = m.properties.messageId { ids.insert(id) }
        if let header = try? Wire.decodeHeader(m.body) { ids.insert(header.id) }
        return ids
    }
}
