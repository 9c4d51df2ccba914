import Foundation
import Testing

@testable import Contracts

/// The hand-written decoder reads what Foundation's `JSONDecoder` (as ``Wire/decoder``
/// configures it) reads, and refuses what it refuses, with the same ``ContractError`` (code and
/// field): on every example of the contract, on every field of every example removed, nulled or
/// given a value of each other JSON type, and on broken JSON.
@Suite("contract JSON decoder")
struct ContractJSONDecoderTests {
    /// What a decode of `P` from `data` gives: the value written back, or the error as the
    /// contract reports it.
    enum Outcome: Equatable {
        case decoded([UInt8])
        case refused(ContractError.Code, String?)
    }

    static func outcome<P: Message>(_: P.Type, _ data: Data, fast: Bool) -> Outcome {
        do {
            let envelope =
                try fast
                ? ContractJSONDecoder().decode(Envelope<P>.self, from: data) : Wire.decoder.decode(Envelope<P>.self, from: data)
            return .decoded(try ContractJSONEncoder().encode(envelope))
        } catch let e as DecodingError {
            let c = ContractError(decoding: e)
            return .refused(c.code, c.field)
        } catch let e as ContractError {
            return .refused(e.code, e.field)
        } catch {
            return .refused(.malformedJSON, "\(error)")
        }
    }

    /// `aNumber`: the value tampered with is a number. One difference is by design: a number that
    /// does not fit an integer field (`1.5`, `-1e300`) is, for Foundation, not valid JSON at all
    /// (`malformedJSON`, no field); the hand-written decoder names the field (`invalidValue`).
    static func compare<P: Message>(_ type: P.Type, _ data: Data, _ what: String, aNumber: Bool = false) {
        let fast = outcome(type, data, fast: true), foundation = outcome(type, data, fast: false)
        if aNumber, foundation == .refused(.malformedJSON, nil), case .refused(.invalidValue, .some) = fast { return }
        #expect(fast == foundation, "\(P.type) \(what): fast \(fast), Foundation \(foundation)")
    }

    @Test("every example envelope reads back the same", arguments: Fixture.allTypes)
    func everyExample(type: String) throws {
        let messageType = Fixture.descriptor(type).messageType
        let data = try Fixture.encodedExample(messageType)
        Self.compare(messageType, data, "example")
        if case .decoded(let bytes) = Self.outcome(messageType, data, fast: true) {
            #expect(Data(bytes) == data, "an example decoded and encoded again is the same bytes")
        } else {
            Issue.record("\(type): the example does not decode")
        }
    }

    /// Every path to a value of `json`, with the value.
    static func paths(_ json: JSONValue, _ prefix: [PathStep] = []) -> [([PathStep], JSONValue)] {
        var out: [([PathStep], JSONValue)] = prefix.isEmpty ? [] : [(prefix, json)]
        switch json {
        case .object(let members): for (k, v) in members { out += paths(v, prefix + [.key(k)]) }
        case .array(let elements): for (i, v) in elements.enumerated() { out += paths(v, prefix + [.index(i)]) }
        default: break
        }
        return out
    }

    @Test("every field removed, nulled or of another JSON type: the same outcome", arguments: Fixture.allTypes)
    func everyFieldTampered(type: String) throws {
        let messageType = Fixture.descriptor(type).messageType
        let json = try Fixture.exampleJSON(messageType)
        let others: [JSONValue] = [.null, .string("x"), .number(1.5), .number(7), .number(-1e300), .bool(true), .array([]), .object([:])]
        for (path, _) in Self.paths(json) {
            Self.compare(messageType, json.removing(path[...]).data, "without \(path.dotted)")
            for other in others {
                var aNumber = false
                if case .number = other { aNumber = true }
                Self.compare(messageType, json.replacing(path[...], with: other).data, "\(path.dotted) = \(other.rendered())", aNumber: aNumber)
            }
        }
    }

    @Test func brokenJSONIsRefusedAsMalformed() throws {
        let bodies: [[UInt8]] =
            [
                "", " ", "{", "}", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "[1 2]", "01", "1.", ".5", "+1", "-", "1e", "nul",
                "tru", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "{} {}", "{\"a\":1} x",
                "{'a':1}", "[1,2", "{\"a\":[}",
            ].map { Array($0.utf8) } + [[0x22, 0xFF, 0x22], [0x22, 0x01, 0x22], [0x7B, 0x22, 0xC3, 0x22, 0x3A, 0x31, 0x7D]]
        for body in bodies {
            let text = String(decoding: body, as: UTF8.self).debugDescription
            // Foundation lets a trailing comma through; JSON (RFC 8259) has none.
            if !text.contains(",]") && !text.contains(",}") {
                #expect(throws: (any Error).self, "Foundation refuses \(text)") { try Wire.decoder.decode(JSONValue.self, from: Data(body)) }
            }
            do {
                _ = try ContractJSONDecoder().decode(JSONValue.self, from: body)
                Issue.record("accepted \(text)")
            } catch let e as DecodingError {
                #expect(ContractError(decoding: e).code == .malformedJSON, "\(text): \(e)")
            }
        }
    }

    @Test func valuesAndEscapesReadAsFoundationReadsThem() throws {
        let bodies = [
            #"{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\ud83d\ude00","n":[0,-0,1.5,-2e3,1E+2,123456789012345678,0.1],"b":[true,false,null],"o":{"k":{"k":[]}}}"#,
            #"  [ 1 , "x" , { } , [ ] ]  "#, #""ñ😀""#, "1e400", "-1e-400", #"{"a":1,"a":2}"#, "[\(String(repeating: "[", count: 100))\(String(repeating: "]", count: 100))]",
        ]
        for body in bodies {
            let foundation = try? Wire.decoder.decode(JSONValue.self, from: Data(body.utf8))
            let fast = try? ContractJSONDecoder().decode(JSONValue.self, from: Array(body.utf8))
            #expect(fast == foundation, "\(body)")
        }
        // Integers: exact values of any JSON number form; what does not fit is refused by both.
        for (text, expected) in [("5", 5), ("5.0", 5), ("5e0", 5), ("-0", 0), ("50E-1", 5)] {
            #expect(try ContractJSONDecoder().decode(Int.self, from: Array(text.utf8)) == expected)
            #expect(try Wire.decoder.decode(Int.self, from: Data(text.utf8)) == expected)
        }
        for text in ["5.5", "1e30", "9223372036854775808", "\"5\"", "true"] {
            #expect(throws: DecodingError.self) { try ContractJSONDecoder().decode(Int.self, from: Array(text.utf8)) }
            #expect(throws: DecodingError.self) { try Wire.decoder.decode(Int.self, from: Data(text.utf8)) }
        }
    }

    @Test func nestingDeeperThanFiveHundredTwelveIsRefused() {
        let deep = Array((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8)
        #expect(throws: DecodingError.self) { try ContractJSONDecoder().decode(JSONValue.self, from: deep) }
    }
}
