import Contracts
import Foundation
import Testing

/// The hand-written schemas and the Codable implementations cannot drift: every example must
/// validate, must exercise every declared property, every key the encoder emits must be
/// declared, and omitting a property must succeed exactly when the schema calls it optional.
@Suite("Schemas match the code")
struct SchemaTests {
    private let validator = SchemaValidator(strictKeys: true)

    @Test("every example validates against its own data schema", arguments: Fixture.allTypes)
    func everyExampleValidatesAgainstItsSchema(type: String) throws {
        let descriptor = Fixture.descriptor(type)
        let data = try #require(try Fixture.exampleJSON(descriptor.messageType)["data"])
        let violations = validator.violations(of: data, against: descriptor.schema.json)
        #expect(violations.isEmpty, "\(type): \(violations.joined(separator: "; "))")
    }

    @Test("every encoded example validates against its envelope schema", arguments: Fixture.allTypes)
    func everyExampleValidatesAgainstItsEnvelopeSchema(type: String) throws {
        let descriptor = Fixture.descriptor(type)
        let envelope = try Fixture.exampleJSON(descriptor.messageType)
        let schema = AsyncAPIDocument.envelopeSchema(for: descriptor).json
        let violations = validator.violations(of: envelope, against: schema, at: "envelope")
        #expect(violations.isEmpty, "\(type): \(violations.joined(separator: "; "))")
    }

    @Test("every example exercises every property its schema declares", arguments: Fixture.allTypes)
    func everyDeclaredPropertyIsExercisedByTheExample(type: String) throws {
        let descriptor = Fixture.descriptor(type)
        let data = try #require(try Fixture.exampleJSON(descriptor.messageType)["data"])
        let missing = unexercisedProperties(of: data, schema: descriptor.schema.json, at: "data")
        #expect(missing.isEmpty, "\(type): the example leaves out \(missing.joined(separator: ", "))")
    }

    @Test("optional properties may be omitted, required ones may not", arguments: Fixture.allTypes)
    func omittingAPropertySucceedsExactlyWhenTheSchemaSaysItIsOptional(type: String) throws {
        let descriptor = Fixture.descriptor(type)
        let envelope = try Fixture.exampleJSON(descriptor.messageType)
        let data = try #require(envelope["data"])
        let properties = declaredProperties(of: data, schema: descriptor.schema.json, at: [.key("data")])
        #expect(!properties.isEmpty)
        for (path, isRequired) in properties {
            let tampered = envelope.removing(path[...])
            do {
                _ = try descriptor.decode(tampered.data)
                #expect(!isRequired, "\(type): \(path.dotted) is required by the schema but the code accepts its absence")
            } catch {
                #expect(isRequired, "\(type): \(path.dotted) is optional in the schema but the code rejects its absence: \(error)")
                if isRequired {
                    #expect(error.code == .missingField && error.field == path.dotted, "\(type): \(error)")
                }
            }
        }
    }

    @Test func everyDataSchemaIsAnObjectThatToleratesUnknownFields() {
        for descriptor in MessageRegistry.allDescriptors {
            let json = descriptor.schema.json
            #expect(json["type"] == "object", "\(descriptor.type)")
            #expect(json["additionalProperties"] == true, "\(descriptor.type)")
            #expect(json["description"]?.stringValue?.isEmpty == false, "\(descriptor.type)")
        }
    }

    @Test func theValidatorCatchesUndeclaredMissingAndMistypedFields() throws {
        let schema = Money.schema.json
        #expect(validator.violations(of: ["minor": 100, "currency": "BOB"], against: schema).isEmpty)
        #expect(validator.violations(of: ["minor": 100, "currency": "BOB", "cents": 1], against: schema)
            == ["data.cents: not declared in the schema"])
        #expect(validator.violations(of: ["minor": 100], against: schema) == ["data.currency: required but absent"])
        #expect(validator.violations(of: ["minor": 1.5, "currency": "EUR"], against: schema).count == 2)
        let lenient = SchemaValidator(strictKeys: false)
        #expect(lenient.violations(of: ["minor": 100, "currency": "BOB", "cents": 1], against: schema).isEmpty)
        let closed = JSONSchema.object(["a": .required(.boolean())], additionalProperties: false).json
        #expect(lenient.violations(of: ["a": true, "b": 1], against: closed) == ["data.b: not declared in the schema"])
    }

    @Test func schemasRenderAsDraft07JSON() {
        let rendered = JSONSchema.object(
            [
                "level": .required(.integer(min: 1, max: 4)),
                "note": .optional(.string()),
                "when": .required(.dateTime()),
                "tags": .optional(.array(of: .enumeration(Currency.self))),
            ], description: "x"
        ).rendered(pretty: false)
        #expect(
            rendered
                == #"{"additionalProperties":true,"description":"x","properties":{"level":{"maximum":4,"minimum":1,"type":"integer"},"note":{"type":"string"},"tags":{"items":{"enum":["BOB","CLP","COP","USD"],"type":"string"},"type":"array"},"when":{"format":"date-time","type":"string"}},"required":["level","when"],"type":"object"}"#
        )
    }
}
