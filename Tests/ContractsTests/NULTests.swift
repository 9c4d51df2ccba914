@testable import Contracts
import Foundation
import Testing

/// PostgreSQL refuses U+0000 in text (SQLSTATE 22021): a message carrying one must be refused at
/// decoding, not retried for ever by the transaction that tries to store it.
@Suite("Strings containing NUL (U+0000) are refused at decoding")
struct NULTests {
    private static let rule = "must not contain NUL (U+0000) characters"

    /// The error each decoding entry point throws for `body`, which they must agree on.
    private func rejections(of body: Data) -> [ContractError?] {
        func capture(_ decode: () throws -> Void) -> ContractError? {
            do {
                try decode()
                return nil
            } catch let error as ContractError {
                return error
            } catch {
                Issue.record("not a ContractError: \(error)")
                return nil
            }
        }
        let descriptor = Fixture.descriptor("workorder.open")
        return [
            capture { _ = try MessageRegistry.decode(body) },
            capture { _ = try Wire.decode(OpenWorkOrder.self, from: body) },
            capture { _ = try Wire.decode(OpenWorkOrder.self, from: [UInt8](body)) },
            capture { _ = try descriptor.decode(body) },
            capture { _ = try descriptor.decodeEnvelope(body) },
        ]
    }

    private func openWorkOrder(with value: JSONValue, at path: [PathStep]) throws -> Data {
        try Fixture.openWorkOrderJSON().replacing(path[...], with: value).data
    }

    @Test func aNULInARequiredStringIsAnInvalidValueNamingIt() throws {
        let body = try openWorkOrder(with: "Gobierno\u{0} Autónomo", at: [.key("data"), .key("customer"), .key("name")])
        #expect(String(decoding: body, as: UTF8.self).contains(#"Gobierno\u0000 Aut"#), "the body carries the escape")
        for error in rejections(of: body) {
            let error = try #require(error)
            #expect(error.code == .invalidValue)
            #expect(error.field == "data.customer.name")
            #expect(error.message == "data.customer.name \(Self.rule)")
            #expect(error.problems == [FieldProblem(field: "data.customer.name", problem: error.message)])
        }
    }

    @Test func aNULInAnOptionalStringIsRefused() throws {
        let body = try openWorkOrder(with: "OPP-\u{0}", at: [.key("data"), .key("opportunityId")])
        for error in rejections(of: body) {
            #expect(error?.code == .invalidValue)
            #expect(error?.field == "data.opportunityId")
        }
    }

    @Test func aNULInsideAnArrayElementNamesItsIndex() throws {
        let body = try openWorkOrder(with: "s3://ot-docs/\u{0}", at: [.key("data"), .key("documents"), .index(1), .key("uri")])
        for error in rejections(of: body) {
            #expect(error?.code == .invalidValue)
            #expect(error?.field == "data.documents[1].uri")
        }
    }

    @Test func aNULInAFreeFormObjectIsRefused() throws {
        let body = try Fixture.exampleJSON(ChangeScope.self)
            .replacing([.key("data"), .key("changes"), .key("sites"), .index(1)], with: "U.E. \u{0}").data
        let error = try #require(throws: ContractError.self) { try MessageRegistry.decode(body) }
        #expect(error.code == .invalidValue)
        #expect(error.field == "data.changes.sites[1]")
    }

    @Test func aNULInAKeyIsRefusedAndTheErrorCarriesNoNUL() throws {
        let body = try openWorkOrder(with: "compras@cochabamba.bo", at: [.key("data"), .key("customer"), .key("e\u{0}mail")])
        for error in rejections(of: body) {
            let error = try #require(error)
            #expect(error.code == .invalidValue)
            #expect(error.field == #"data.customer.e\u0000mail"#)
            #expect(error.message == #"the key of data.customer.e\u0000mail "# + Self.rule)
            #expect(!error.message.unicodeScalars.contains("\u{0}"))
            #expect(!(error.field ?? "").unicodeScalars.contains("\u{0}"))
        }
    }

    @Test(arguments: ["id", "source", "correlationid", "traceparent", "vendorextension"])
    func aNULInAnEnvelopeAttributeIsRefusedEvenByTheHeaderDecoder(attribute: String) throws {
        let body = try openWorkOrder(with: "6f1c0d4e\u{0}", at: [.key(attribute)])
        let header = try #require(throws: ContractError.self) { try Wire.decodeHeader(body) }
        #expect(header.code == .invalidValue)
        #expect(header.field == attribute)
        for error in rejections(of: body) {
            #expect(error?.code == .invalidValue)
            #expect(error?.field == attribute)
        }
    }

    @Test func theHeaderOfAnEnvelopeWithANULInItsDataStaysReadableSoTheCommandCanBeRejected() throws {
        let body = try openWorkOrder(with: "x\u{0}", at: [.key("data"), .key("description")])
        let header = try Wire.decodeHeader(body)
        #expect(header.id == Fixture.id)
        #expect(header.type == "workorder.open")
        let error = try #require(throws: ContractError.self) { try MessageRegistry.decode(body) }
        #expect(error.field == "data.description")
        let rejection = CommandRejected(commandId: header.id, commandType: header.type, error: error)
        #expect(rejection.errors == [FieldProblem(field: "data.description", problem: "data.description \(Self.rule)")])
    }

    @Test func everyOffendingStringIsListedTheAttributesFirst() throws {
        var json = try Fixture.openWorkOrderJSON()
        json = json.replacing([.key("source")], with: "/ot/\u{0}")
        json = json.replacing([.key("data"), .key("description")], with: "\u{0}")
        json = json.replacing([.key("data"), .key("documents"), .index(0), .key("uri")], with: "\u{0}\u{0}")
        for error in rejections(of: json.data) {
            let error = try #require(error)
            #expect(error.field == "source", "an envelope problem comes before the payload's")
            #expect(error.problems.map(\.field) == ["source", "data.description", "data.documents[0].uri"])
        }
        let header = try #require(throws: ContractError.self) { try Wire.decodeHeader(json.data) }
        #expect(header.problems.map(\.field) == ["source"])
    }

    @Test func anEscapedBackslashFollowedByU0000IsText() throws {
        let text = #"C:\u0000\carpeta"#  // a backslash, then the six characters u0000: no NUL
        let body = try openWorkOrder(with: .string(text), at: [.key("data"), .key("description")])
        #expect(String(decoding: body, as: UTF8.self).contains(#""C:\\u0000\\carpeta""#))
        let envelope = try Wire.decode(OpenWorkOrder.self, from: body)
        #expect(envelope.data.description == text)
        #expect(try MessageRegistry.decode(body).message.isEqual(to: envelope.data))
    }

    @Test func anEscapedBackslashFollowedByARealNULEscapeIsRefused() throws {
        let body = try openWorkOrder(with: "C:\\\u{0}", at: [.key("data"), .key("description")])
        #expect(String(decoding: body, as: UTF8.self).contains(#""C:\\\u0000""#))
        for error in rejections(of: body) {
            #expect(error?.field == "data.description")
        }
    }

    @Test func aRawNULByteIsRefusedToo() throws {
        let text = try #require(String(data: Fixture.encodedExample(OpenWorkOrder.self), encoding: .utf8))
        let body = Data(text.replacingOccurrences(of: "Verificación", with: "Verifica\u{0}ción").utf8)
        #expect(body.contains(0))
        for error in rejections(of: body) {
            let error = try #require(error)
            #expect(error.code == .invalidValue || error.code == .malformedJSON)
            if error.code == .invalidValue { #expect(error.field == "data.description") }
        }
    }

    @Test func otherControlCharactersAndEscapesPass() throws {
        let body = try openWorkOrder(with: "tab\there \u{1}\u{1F} \"quoted\" \\ / ü", at: [.key("data"), .key("description")])
        #expect(try Wire.decode(OpenWorkOrder.self, from: body).data.description == "tab\there \u{1}\u{1F} \"quoted\" \\ / ü")
    }

    @Test(arguments: [
        (#"{"a":"\u0000"}"#, true),
        (#"{"a":"\\u0000"}"#, false),
        (#"{"a":"\\\u0000"}"#, true),
        (#"{"a":"\\\\u0000"}"#, false),
        (#"{"a":"\u00000"}"#, true),
        (#"{"a":"\u0001\u1000\u0100"}"#, false),
        (#"{"a":"\u000"}"#, false),
        (#"{"a":"\"#, false),
        (#"{"a\u0000":1}"#, true),
        ("", false),
    ])
    func theScanFindsExactlyTheNULEscapes(body: String, found: Bool) {
        #expect(NULCheck.mayContainNUL(Data(body.utf8)) == found, "\(body)")
    }

    @Test func aBodyThatIsNotJSONIsStillMalformedJSON() {
        let body = Data(#"{"id": "\u0000", "#.utf8)
        #expect(throws: ContractError.self) { try MessageRegistry.decode(body) }
        do {
            _ = try MessageRegistry.decode(body)
        } catch {
            #expect(error.code == .malformedJSON)
        }
    }
}
