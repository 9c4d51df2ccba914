@testable import Contracts
import Foundation
import Testing

/// `@JSONMembers` / `@Contract` generate `writeJSONMembers(_:)`: the encoders write through it,
/// and it writes what the synthesized `Encodable` writes — byte for byte on the wire (keys sorted,
/// nil optionals left out), the same value in a stored state.
@Suite("generated JSON members")
struct JSONMembersTests {
    @JSONMembers
    struct Inner: Codable, Equatable {
        var b: String?
        var a: Double
    }

    @JSONMembers
    struct Everything: Codable, Equatable {
        var zeta: String
        var alpha: Int?
        var `default`: Bool
        var año: Int64
        var a10: [Inner]
        var a9: Inner?
        var money: Money
        var day: Day
        var when: Date
        var status: Currency?
        var nested: [String: [Inner]]
        var grid: [[Inner]]
        var maybe: [Int]?
        var Upper: Int = 7
        var computed: Int { alpha ?? 0 }
        static let ignored = 1
    }

    /// Encoded as it would be without the generated members (containers, as Foundation sees it).
    struct Plain<T: Encodable>: Encodable {
        let value: T
        func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    }

    static let full = Everything(
        zeta: "z\"\n", alpha: 3, default: true, año: .min, a10: [Inner(b: "x", a: 0.1), Inner(b: nil, a: -2)], a9: Inner(b: "é", a: 1e21),
        money: Money(minor: 9_400, currency: .bob), day: Day(2027, 2, 28)!, when: Date(timeIntervalSince1970: 1_795_356_000.25),
        status: .usd, nested: ["k": [Inner(b: nil, a: 5)], "": []], grid: [[], [Inner(b: "g", a: 2)]], maybe: [1, 2])
    static var sparse: Everything {
        var e = full
        e.alpha = nil
        e.a9 = nil
        e.status = nil
        e.a10 = []
        e.maybe = nil
        return e
    }

    @Test("the generated members are what the encoders write", arguments: [full, sparse])
    func takenByTheEncoders(value: Everything) throws {
        #expect((value as Any) is any JSONMembersWritable)
        #expect((value.a10.first as Any?).map { $0 is any JSONMembersWritable } ?? true)
        let members = try ContractJSONEncoder().encode(value)
        let foundation = [UInt8](try Wire.encoder.encode(value))
        #expect(members == foundation, "\(String(decoding: members, as: UTF8.self))\n\(String(decoding: foundation, as: UTF8.self))")
        // Without the generated members, the containers write the same.
        #expect(try ContractJSONEncoder().encode(Plain(value: value)) == foundation)
        // Stored: written in key order too, read back as the same value.
        let stored = try StreamJSONEncoder().encode(value)
        #expect(try Wire.decoder.decode(Everything.self, from: Data(stored)) == value)
    }

    @Test("the generated reader is what the decoder reads", arguments: [full, sparse])
    func readByTheDecoder(value: Everything) throws {
        #expect((value as Any) is any JSONMembersReadable)
        let bytes = try ContractJSONEncoder().encode(value)
        #expect(try ContractJSONDecoder().decode(Everything.self, from: bytes) == value)
        #expect(try ContractJSONDecoder().decode([Everything].self, from: Array("[\(String(decoding: bytes, as: UTF8.self))]".utf8)) == [value])
    }

    /// What goes wrong is reported as Foundation reports it (same error kind, same path).
    @Test func brokenMembersAreReportedAsFoundationReportsThem() throws {
        let base = try JSONSerialization.jsonObject(with: Data(try ContractJSONEncoder().encode(Self.full))) as! [String: Any]
        func with(_ change: (inout [String: Any]) -> Void) throws -> String {
            var o = base
            change(&o)
            return String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self)
        }
        let good = try with { _ in }
        let broken = [
            try with { $0["zeta"] = nil },  // a required member missing
            try with { $0["default"] = NSNull() },  // null where required
            try with { $0["default"] = "yes" },  // the wrong type
            try with { $0["grid"] = [[], [["a": 2, "b": 7]]] },  // the wrong type, in an array of arrays
            try with { $0["a10"] = [["a": 1], 1] },  // not an object, in an array
            try with { $0["a9"] = "x" },  // an optional object that is not one
            try with { $0["alpha"] = "3" },  // an optional of the wrong type
            try with { $0["maybe"] = [String: Int]() },  // not an array
            try with { $0["money"] = ["minor": 1] },  // a member missing in a nested value
            "[]", "null",
        ]
        for text in broken {
            #expect(text != good)
            func report(_ decode: () throws -> Everything) -> String {
                do {
                    _ = try decode()
                    return "decoded"
                } catch let error as DecodingError {
                    return "\(ContractError(decoding: error))"
                } catch {
                    return "\(error)"
                }
            }
            let ours = report { try ContractJSONDecoder().decode(Everything.self, from: Array(text.utf8)) }
            let foundation = report { try Wire.decoder.decode(Everything.self, from: Data(text.utf8)) }
            #expect(ours == foundation, "\(text)")
            #expect(ours != "decoded", "\(text)")
        }
    }

    @Test func nilOptionalsAreLeftOutAndPresentOnesWritten() throws {
        let sparse = String(decoding: try ContractJSONEncoder().encode(Self.sparse), as: UTF8.self)
        #expect(!sparse.contains("\"alpha\"") && !sparse.contains("\"a9\"") && !sparse.contains("\"status\""))
        let full = String(decoding: try ContractJSONEncoder().encode(Self.full), as: UTF8.self)
        #expect(full.contains("\"alpha\":3") && full.contains("\"status\":\"USD\""))
        // Byte order of the keys: upper case before lower, "a10" before "a9", "año" after "a9".
        let order = ["Upper", "a10", "a9", "alpha", "año", "day", "default"].map { full.range(of: "\"\($0)\":")!.lowerBound }
        #expect(order == order.sorted())
    }

    @Test func aNonFiniteNumberIsRefusedNamingItsMember() {
        let bad = Inner(b: nil, a: .nan)
        for encode in [{ try ContractJSONEncoder().encode(["list": [bad]]) }, { try StreamJSONEncoder().encode(["list": [bad]]) }] {
            do {
                _ = try encode()
                Issue.record("NaN was encoded")
            } catch EncodingError.invalidValue(_, let context) {
                #expect(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } == ["list", "0", "a"])
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}
