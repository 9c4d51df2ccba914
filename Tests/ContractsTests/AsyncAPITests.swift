import Contracts
import Foundation
import Testing

@Suite("AsyncAPI document")
struct AsyncAPITests {
    /// `deploy/asyncapi.json` next to `Tests/`, found through this file's path whether or not the
    /// compiler was given a path through a symbolic link.
    static var committedDocumentURL: URL? {
        let file = URL(fileURLWithPath: #filePath)
        let candidates = [file.resolvingSymlinksInPath(), file].map {
            $0.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("deploy").appendingPathComponent("asyncapi.json")
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.deletingLastPathComponent().path) }
    }

    static let regenerateHint =
        "deploy/asyncapi.json is out of date with the Contracts module; regenerate it with "
        + "`swift run otctl asyncapi > deploy/asyncapi.json` and commit the result"

    /// The committed document carries each message's publishers and subscribers (`x-ot-…`, from
    /// the services' declarations, checked by RuntimeTests); without them it is exactly what this
    /// module generates.
    @Test func theCommittedDocumentMatchesTheCodeByteForByte() throws {
        let url = try #require(Self.committedDocumentURL, "cannot find the deploy/ folder from \(#filePath)")
        let committed = try Wire.decoder.decode(JSONValue.self, from: Data(contentsOf: url))
        #expect(Self.withoutRoles(committed).rendered(pretty: true) + "\n" == AsyncAPIDocument.generate(), Comment(rawValue: Self.regenerateHint))
    }

    static func withoutRoles(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            .object(members.filter { !$0.key.hasPrefix("x-ot-") }.mapValues(withoutRoles))
        case .array(let items):
            .array(items.map(withoutRoles))
        default:
            value
        }
    }

    @Test func generationIsDeterministic() {
        #expect(AsyncAPIDocument.generate() == AsyncAPIDocument.generate())
        #expect(AsyncAPIDocument.generate().hasSuffix("}\n"))
    }

    @Test func everyMessageIsListedOnItsExchangeWithItsRoutingKey() throws {
        let document = AsyncAPIDocument.document
        #expect(document["asyncapi"] == "2.6.0")
        #expect(document["info"]?["title"] == "OT Platform")
        #expect(document["servers"]?["local"]?["url"] == "amqp://localhost:5672/ot")
        #expect(document["servers"]?["local"]?["protocol"] == "amqp")

        let commands = try #require(document["channels"]?["ot.commands"]?["publish"]?["message"]?["oneOf"]?.arrayValue)
        let events = try #require(document["channels"]?["ot.events"]?["subscribe"]?["message"]?["oneOf"]?.arrayValue)
        #expect(Set(commands.compactMap { $0["name"]?.stringValue }) == RegistryTests.contractCommands)
        #expect(Set(events.compactMap { $0["name"]?.stringValue }) == RegistryTests.contractEvents)

        let components = try #require(document["components"]?["messages"]?.objectValue)
        #expect(Set(components.keys) == RegistryTests.contractCommands.union(RegistryTests.contractEvents))
        for message in commands + events {
            let name = try #require(message["name"]?.stringValue)
            #expect(message["contentType"] == "application/cloudevents+json")
            #expect(message["bindings"]?["amqp"]?["messageType"] == .string(name))
            #expect(message["payload"]?["properties"]?["type"]?["enum"] == [.string(name)])
            #expect(message["payload"]?["properties"]?["data"] == MessageRegistry.descriptor(for: name)?.schema.json)
            #expect(components[name] == message)
        }
        #expect(document["channels"]?["ot.commands"]?["bindings"]?["amqp"]?["exchange"]?["type"] == "topic")
    }

    @Test func everyPublishedExampleValidatesAgainstItsPublishedPayload() throws {
        let messages = try #require(AsyncAPIDocument.document["components"]?["messages"]?.objectValue)
        for (name, message) in messages {
            let payload = try #require(message["payload"])
            let example = try #require(message["examples"]?.arrayValue?.first?["payload"])
            let violations = SchemaValidator().violations(of: example, against: payload, at: name)
            #expect(violations.isEmpty, "\(violations)")
        }
    }
}
