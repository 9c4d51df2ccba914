import Contracts
import Foundation
import Testing

/// The hand-written encoder writes exactly what Foundation's `JSONEncoder` (as ``Wire/encoder``
/// configures it) writes: byte for byte, on every example of the contract and on strings and
/// numbers chosen to differ.
@Suite("contract JSON encoder")
struct ContractJSONEncoderTests {
    static func both<T: Encodable>(_ value: T) throws -> (fast: [UInt8], foundation: [UInt8]) {
        (try ContractJSONEncoder().encode(value), [UInt8](try Wire.encoder.encode(value)))
    }

    @Test("every example envelope is encoded byte for byte as JSONEncoder does", arguments: Fixture.allTypes)
    func everyExampleEnvelope(type: String) throws {
        let envelope = AnyEnvelope(Fixture.descriptor(type).messageType)
        let (fast, foundation) = try Self.both(envelope)
        #expect(fast == foundation, "\(type):\n\(String(decoding: fast, as: UTF8.self))\n\(String(decoding: foundation, as: UTF8.self))")
        // The typed envelope, written member by member as the macros generate it.
        let members = try envelope.contractBytes()
        #expect(members == foundation, "\(type):\n\(String(decoding: members, as: UTF8.self))\n\(String(decoding: foundation, as: UTF8.self))")
        // The tree (what a value that cannot be streamed is written from) writes the same.
        #expect(try ContractJSONEncoder().encodeAsTree(envelope) == foundation, "\(type)")
    }

    @Test func valuesThatCannotBeStreamedAreWrittenAsJSONEncoderDoes() throws {
        for value in [AnyEncodable(StreamJSONEncoderTests.Interleaved()), AnyEncodable(StreamJSONEncoderTests.Super()),
                      AnyEncodable(["k": [StreamJSONEncoderTests.Interleaved()]])] {
            let (fast, foundation) = try Self.both(value)
            #expect(fast == foundation, "\(String(decoding: fast, as: UTF8.self))\n\(String(decoding: foundation, as: UTF8.self))")
        }
        let (fast, foundation) = try Self.both([StreamJSONEncoderTests.Twice(), StreamJSONEncoderTests.Twice()])
        #expect(fast == foundation)
    }

    struct Tricky: Codable {
        var strings: [String]
        var numbers: [Double]
        var keys: [String: Int]
        var nested: [[String: [Int]]]
        var optional: Int?
        var present: Int? = 1
        var flag: Bool
        var date: Date
        var big: Int64
    }

    @Test func stringsNumbersKeysAndNestingAreEncodedAsJSONEncoderDoes() throws {
        let value = Tricky(
            strings: ["a\"b\\c/d", "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}", "\u{2028}\u{2029}", "ñ😀", "<>&'", ""],
            numbers: [96, 0.1, 25, 97.97979797979798, 1e21, 1e-7, -0.0, 123_456_789_012_345_680, 0.000001, 1e16, 12.5, -3],
            keys: ["requestId": 1, "requestedAt": 2, "Zeta": 3, "alpha": 4, "a10": 5, "a9": 6, "_x": 7, "é": 8, "e": 9, "Ñ": 10],
            nested: [["b": [1, 2], "a": []], [:]], optional: nil, flag: true, date: Date(timeIntervalSince1970: 1_795_356_000.25),
            big: .max)
        let (fast, foundation) = try Self.both(value)
        #expect(fast == foundation, "\(String(decoding: fast, as: UTF8.self))\n\(String(decoding: foundation, as: UTF8.self))")
    }

    @Test func randomStringsAreEscapedAsJSONEncoderDoes() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init) + ["é", "ñ", "€", "\u{2028}", "😀", "\u{FEFF}"]
        for _ in 0..<200 {
            let text = String(String.UnicodeScalarView((0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }))
            let (fast, foundation) = try Self.both([text: [text]])
            #expect(fast == foundation, "\(text.debugDescription)")
        }
    }

    @Test func aNonFiniteNumberIsRefusedNamingWhereItIs() {
        #expect(throws: EncodingError.self) { try ContractJSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try ContractJSONEncoder().encode(["x": Double.infinity]) }
        do {
            _ = try ContractJSONEncoder().encode(["outer": [["inner": [1, Double.nan]]]])
            Issue.record("NaN was encoded")
        } catch EncodingError.invalidValue(_, let context) {
            #expect(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } == ["outer", "0", "inner", "1"])
        } catch {
            Issue.record("\(error)")
        }
    }

    /// A value that sets a key twice (a custom `encode(to:)`): the last one counts, as with JSONEncoder.
    struct Twice: Encodable {
        enum K: String, CodingKey { case b, a }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode("first", forKey: .b)
            try c.encode(1, forKey: .a)
            try c.encode("second", forKey: .b)
        }
    }

    @Test func aKeySetTwiceKeepsItsLastValue() throws {
        let (fast, foundation) = try Self.both([Twice(), Twice()])
        #expect(fast == foundation)
        #expect(String(decoding: fast, as: UTF8.self) == #"[{"a":1,"b":"second"},{"a":1,"b":"second"}]"#)
    }

    @Test func zeroPaddedPrintsWhatPercentZeroDDoes() {
        for value in [0, 7, -7, 42, 999, 1000, 12345, -12345, Int.max, Int.min + 1] {
            for width in [1, 2, 4, 6] {
                #expect(zeroPadded(value, width: width) == String(format: "%0\(width)ld", value), "\(value) width \(width)")
            }
        }
        #expect(zeroPadded(Int64(5), width: 6) == "000005")
        #expect(zeroPadded(UInt8(255), width: 4) == "0255")
    }
}

/// The example envelope of a registered type, encodable without knowing the type statically.
struct AnyEnvelope: Encodable {
    let encodeBody: (any Encoder) throws -> Void
    /// The typed envelope through the contract's encoder (its generated members, not `encode(to:)`).
    let contractBytes: () throws -> [UInt8]
    /// The same through the streaming encoder.
    let streamBytes: () throws -> [UInt8]
    init(_ type: any Message.Type) {
        func make<P: Message>(_: P.Type) -> ((any Encoder) throws -> Void, () throws -> [UInt8], () throws -> [UInt8]) {
            let envelope = Fixture.envelope(P.self)
            return ({ try envelope.encode(to: $0) }, { try ContractJSONEncoder().encode(envelope) }, { try StreamJSONEncoder().encode(envelope) })
        }
        (encodeBody, contractBytes, streamBytes) = make(type)
    }
    func encode(to encoder: any Encoder) throws { try encodeBody(encoder) }
}
