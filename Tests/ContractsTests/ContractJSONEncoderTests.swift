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
        let (fast, foundation) = try Self.both(AnyEnvelope(Fixture.descriptor(type).messageType))
        #expect(fast == foundation, "\(type):\n\(String(decoding: fast, as: UTF8.self))\n\(String(decoding: foundation, as: UTF8.self))")
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

    @Test func aNonFiniteNumberIsRefused() {
        #expect(throws: EncodingError.self) { try ContractJSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try ContractJSONEncoder().encode(["x": Double.infinity]) }
    }
}

/// The example envelope of a registered type, encodable without knowing the type statically.
struct AnyEnvelope: Encodable {
    let encodeBody: (any Encoder) throws -> Void
    init(_ type: any Message.Type) {
        func make<P: Message>(_: P.Type) -> (any Encoder) throws -> Void {
            let envelope = Fixture.envelope(P.self)
            return { try envelope.encode(to: $0) }
        }
        encodeBody = make(type)
    }
    func encode(to encoder: any Encoder) throws { try encodeBody(encoder) }
}
