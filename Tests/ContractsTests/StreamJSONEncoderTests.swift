import Contracts
import Foundation
import Testing

/// The streaming encoder (stored states) writes the same JSON values as the sorted one (the
/// wire), members in the order they were encoded; a value it cannot stream goes to the sorted
/// encoder whole.
@Suite("streaming JSON encoder")
struct StreamJSONEncoderTests {
    /// Both encoders' output, parsed (member order aside, the same value).
    static func parsed<T: Encodable>(_ value: T) throws -> (stream: NSObject, sorted: NSObject, text: String) {
        let stream = try StreamJSONEncoder().encode(value)
        let sorted = try ContractJSONEncoder().encode(value)
        let a = try JSONSerialization.jsonObject(with: Data(stream), options: [.fragmentsAllowed]) as! NSObject
        let b = try JSONSerialization.jsonObject(with: Data(sorted), options: [.fragmentsAllowed]) as! NSObject
        return (a, b, String(decoding: stream, as: UTF8.self))
    }

    @Test("every example envelope is the same JSON value as the sorted encoder writes", arguments: Fixture.allTypes)
    func everyExampleEnvelope(type: String) throws {
        let envelope = AnyEnvelope(Fixture.descriptor(type).messageType)
        let r = try Self.parsed(envelope)
        #expect(r.stream == r.sorted, "\(type): \(r.text)")
        let members = try JSONSerialization.jsonObject(with: Data(try envelope.streamBytes()), options: [.fragmentsAllowed]) as! NSObject
        #expect(members == r.sorted, "\(type)")
    }

    @Test func stringsNumbersKeysAndNestingAreTheSameValues() throws {
        let value = ContractJSONEncoderTests.Tricky(
            strings: ["a\"b\\c/d", "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}", "\u{2028}\u{2029}", "ñ😀", "<>&'", ""],
            numbers: [96, 0.1, 25, 97.97979797979798, 1e21, 1e-7, -0.0, 123_456_789_012_345_680, 0.000001, 1e16, 12.5, -3],
            keys: ["requestId": 1, "requestedAt": 2, "Zeta": 3, "alpha": 4, "a10": 5, "a9": 6, "_x": 7, "é": 8, "e": 9, "Ñ": 10],
            nested: [["b": [1, 2], "a": []], [:]], optional: nil, flag: true, date: Date(timeIntervalSince1970: 1_795_356_000.25),
            big: .max)
        let r = try Self.parsed(value)
        #expect(r.stream == r.sorted, "\(r.text)")
        // Members in the order the value encodes them; nil optionals left out.
        #expect(r.text.hasPrefix(#"{"strings":["a\"b\\c/d","#))
        #expect(!r.text.contains("optional") && r.text.contains(#""present":1"#))
    }

    @Test func integersAtTheirLimitsAreWrittenInDecimal() throws {
        let ints: [Int] = [0, 7, -7, 10, -10, 1_000_000, .max, .min]
        #expect(String(decoding: try StreamJSONEncoder().encode(ints), as: UTF8.self) == "[" + ints.map(String.init).joined(separator: ",") + "]")
        let unsigned: [UInt64] = [0, 255, .max]
        #expect(String(decoding: try StreamJSONEncoder().encode(unsigned), as: UTF8.self) == "[0,255,18446744073709551615]")
        #expect(String(decoding: try StreamJSONEncoder().encode([Int8.min, Int8.max]), as: UTF8.self) == "[-128,127]")
    }

    @Test func randomStringsAreEscapedAsTheSortedEncoderDoes() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init) + ["é", "ñ", "€", "\u{2028}", "😀", "\u{FEFF}"]
        for _ in 0..<200 {
            let text = String(String.UnicodeScalarView((0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }))
            // One key: the order cannot differ, so the bytes are the same.
            #expect(try StreamJSONEncoder().encode([text: [text]]) == ContractJSONEncoder().encode([text: [text]]), "\(text.debugDescription)")
        }
    }

    @Test func aNonFiniteNumberIsRefusedNamingWhereItIs() {
        #expect(throws: EncodingError.self) { try StreamJSONEncoder().encode([Double.nan]) }
        do {
            _ = try StreamJSONEncoder().encode(["outer": [["inner": [1, Double.nan]]]])
            Issue.record("NaN was encoded")
        } catch EncodingError.invalidValue(_, let context) {
            #expect(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } == ["outer", "0", "inner", "1"])
        } catch {
            Issue.record("\(error)")
        }
    }

    /// Goes back to a container it left: cannot be streamed.
    struct Interleaved: Encodable {
        enum K: String, CodingKey { case a, b, c }
        func encode(to encoder: any Encoder) throws {
            var root = encoder.container(keyedBy: K.self)
            var a = root.nestedContainer(keyedBy: K.self, forKey: .a)
            var b = root.nestedUnkeyedContainer(forKey: .b)
            try a.encode(1, forKey: .c)
            try b.encode("x")
            try root.encode(true, forKey: .c)
        }
    }

    /// Uses a super encoder: not streamed either.
    struct Super: Encodable {
        enum K: String, CodingKey { case own }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(1, forKey: .own)
            var inner = c.superEncoder().singleValueContainer()
            try inner.encode("parent")
        }
    }

    /// Asks for its container twice, and an empty value.
    struct Twice: Encodable {
        enum K: String, CodingKey { case x, y }
        func encode(to encoder: any Encoder) throws {
            var one = encoder.container(keyedBy: K.self)
            try one.encode(1, forKey: .x)
            var two = encoder.container(keyedBy: K.self)
            try two.encode(2, forKey: .y)
        }
    }
    struct Empty: Encodable {}

    @Test func aValueThatCannotBeStreamedIsWrittenByTheSortedEncoder() throws {
        for value in [AnyEncodable(Interleaved()), AnyEncodable(Super()), AnyEncodable(["k": Interleaved()])] {
            #expect(try StreamJSONEncoder().encode(value) == ContractJSONEncoder().encode(value))
        }
        #expect(String(decoding: try StreamJSONEncoder().encode(Interleaved()), as: UTF8.self) == #"{"a":{"c":1},"b":["x"],"c":true}"#)
    }

    @Test func aContainerAskedForTwiceIsOneObjectAndAnEmptyValueIsAnEmptyObject() throws {
        #expect(String(decoding: try StreamJSONEncoder().encode([Twice(), Twice()]), as: UTF8.self) == #"[{"x":1,"y":2},{"x":1,"y":2}]"#)
        #expect(String(decoding: try StreamJSONEncoder().encode(["e": Empty()]), as: UTF8.self) == #"{"e":{}}"#)
        // A key encoded twice appears twice; jsonb (and JSONSerialization) keep the last.
        let twice = String(decoding: try StreamJSONEncoder().encode(ContractJSONEncoderTests.Twice()), as: UTF8.self)
        #expect(twice == #"{"b":"first","a":1,"b":"second"}"#)
    }
}

struct AnyEncodable: Encodable {
    let body: @Sendable (any Encoder) throws -> Void
    init<T: Encodable & Sendable>(_ value: T) { body = { try value.encode(to: $0) } }
    func encode(to encoder: any Encoder) throws { try body(encoder) }
}
