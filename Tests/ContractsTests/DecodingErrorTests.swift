import Contracts
import Foundation
import Testing

@Suite("Decoding failures are typed ContractErrors naming the field")
struct DecodingErrorTests {
    private func rejection(of json: JSONValue) -> ContractError? {
        rejection(of: json.data)
    }

    private func rejection(of data: Data) -> ContractError? {
        do {
            _ = try MessageRegistry.decode(data)
            return nil
        } catch {
            return error
        }
    }

    @Test func anOpenWithoutCustomerIsAMissingFieldNamedDataCustomer() throws {
        let json = try Fixture.openWorkOrderJSON().removing([.key("data"), .key("customer")])
        let error = try #require(rejection(of: json))
        #expect(error.code == .missingField)
        #expect(error.field == "data.customer")
        #expect(error.problems == [FieldProblem(field: "data.customer", problem: error.message)])

        // The typed decode reports the same.
        #expect(throws: error) { try Wire.decode(OpenWorkOrder.self, from: json.data) }
    }

    @Test func aNullRequiredFieldIsAMissingField() throws {
        let json = try Fixture.openWorkOrderJSON().replacing([.key("data"), .key("description")], with: nil)
        let error = try #require(rejection(of: json))
        #expect(error.code == .missingField)
        #expect(error.field == "data.description")
    }

    @Test func aMissingNestedFieldNamesItsFullPath() throws {
        let json = try Fixture.openWorkOrderJSON().removing([.key("data"), .key("customer"), .key("taxId")])
        let error = try #require(rejection(of: json))
        #expect(error.code == .missingField)
        #expect(error.field == "data.customer.taxId")
    }

    @Test func anUnknownEnumValueIsAnInvalidValueNamingTheField() throws {
        let json = try Fixture.openWorkOrderJSON().replacing([.key("data"), .key("customer"), .key("segment")], with: "topC")
        let error = try #require(rejection(of: json))
        #expect(error.code == .invalidValue)
        #expect(error.field == "data.customer.segment")
        #expect(error.description.contains("data.customer.segment"))
    }

    @Test func anInvalidValueInsideAnArrayNamesItsIndex() throws {
        let json = try Fixture.openWorkOrderJSON()
            .replacing([.key("data"), .key("documents"), .index(1), .key("kind")], with: "invoice")
        let error = try #require(rejection(of: json))
        #expect(error.code == .invalidValue)
        #expect(error.field == "data.documents[1].kind")
    }

    @Test func aValueOfTheWrongJSONTypeIsAnInvalidValue() throws {
        let json = try Fixture.openWorkOrderJSON().replacing([.key("data"), .key("kind")], with: 3)
        let error = try #require(rejection(of: json))
        #expect(error.code == .invalidValue)
        #expect(error.field == "data.kind")
    }

    @Test func aMalformedTimestampIsAnInvalidValue() throws {
        let json = try Fixture.openWorkOrderJSON().replacing([.key("data"), .key("dueBy")], with: "mañana")
        let error = try #require(rejection(of: json))
        #expect(error.code == .invalidValue)
        #expect(error.field == "data.dueBy")
    }

    @Test(arguments: ["not json at all", "{\"specversion\": \"1.0\",", "", "\u{FF}\u{FE}"])
    func garbageBytesAreMalformedJSON(body: String) {
        let error = rejection(of: Data(body.utf8))
        #expect(error?.code == .malformedJSON)
    }

    @Test func invalidUTF8IsMalformedJSON() {
        let error = rejection(of: Data([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x7D]))
        #expect(error?.code == .malformedJSON)
    }

    @Test func aJSONValueThatIsNotAnObjectIsAnInvalidEnvelope() {
        #expect(rejection(of: Data("[1, 2]".utf8))?.code == .invalidEnvelope)
    }

    @Test func anUnknownTypeIsRejectedAsUnknownType() throws {
        let json = try Fixture.openWorkOrderJSON().replacing([.key("type")], with: "workorder.teleport")
        let error = try #require(rejection(of: json))
        #expect(error.code == .unknownType)
        #expect(error.field == "type")
        #expect(MessageRegistry.descriptor(for: "workorder.teleport") == nil)
    }

    @Test func aTypedDecodeOfAnotherTypeIsAnInvalidEnvelope() throws {
        let body = try Fixture.encodedExample(CloseWorkOrder.self)
        #expect(throws: ContractError.self) { try Wire.decode(OpenWorkOrder.self, from: body) }
        do {
            _ = try Wire.decode(OpenWorkOrder.self, from: body)
        } catch {
            #expect(error.code == .invalidEnvelope)
            #expect(error.field == "type")
        }
    }

    @Test(arguments: ["0.3", "2.0", ""])
    func aSpecVersionOtherThanOnePointZeroIsAnInvalidEnvelope(version: String) throws {
        let json = try Fixture.openWorkOrderJSON().replacing([.key("specversion")], with: .string(version))
        let error = try #require(rejection(of: json))
        #expect(error.code == .invalidEnvelope)
        #expect(error.field == "specversion")
    }

    @Test(arguments: ["id", "source", "type"])
    func anEmptyRequiredAttributeIsAnInvalidEnvelope(attribute: String) throws {
        let json = try Fixture.openWorkOrderJSON().replacing([.key(attribute)], with: "")
        let error = try #require(rejection(of: json))
        #expect(error.code == .invalidEnvelope)
        #expect(error.field == attribute)
    }

    @Test(arguments: ["specversion", "id", "source", "type", "time", "data"])
    func aMissingRequiredAttributeIsAMissingField(attribute: String) throws {
        let json = try Fixture.openWorkOrderJSON().removing([.key(attribute)])
        let error = try #require(rejection(of: json))
        #expect(error.code == .missingField)
        #expect(error.field == attribute)
    }

    @Test func anEnvelopeProblemIsReportedBeforeAPayloadProblem() throws {
        let json = try Fixture.openWorkOrderJSON()
            .replacing([.key("specversion")], with: "0.3")
            .removing([.key("data"), .key("customer")])
        #expect(rejection(of: json)?.code == .invalidEnvelope)
    }

    @Test func aNewerDataVersionIsUnsupported() throws {
        let json = try Fixture.openWorkOrderJSON().replacing([.key("dataversion")], with: 2)
        let error = try #require(rejection(of: json))
        #expect(error.code == .unsupportedVersion)
        #expect(error.field == "dataversion")
    }

    @Test func aRejectionCarriesTheCodeMessageAndProblemsOfTheError() throws {
        let json = try Fixture.openWorkOrderJSON().removing([.key("data"), .key("customer")])
        let error = try #require(rejection(of: json))
        let event = CommandRejected(commandId: Fixture.id, commandType: "workorder.open", error: error)
        #expect(event.code == "missingField")
        #expect(event.errors == [FieldProblem(field: "data.customer", problem: "data.customer is required")])
        #expect(event.message == "data.customer is required")
    }

    @Test func errorCodesHaveStableNames() {
        let codes: [ContractError.Code] = [
            .malformedJSON, .unknownType, .missingField, .invalidValue, .unsupportedVersion, .invalidEnvelope,
        ]
        #expect(codes.map(\.description) == [
            "malformedJSON", "unknownType", "missingField", "invalidValue", "unsupportedVersion", "invalidEnvelope",
        ])
        #expect(Set(codes).count == codes.count)
    }
}
