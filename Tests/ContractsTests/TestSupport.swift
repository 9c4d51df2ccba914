import Contracts
import Foundation

/// Fixed attributes so encoded examples are deterministic.
enum Fixture {
    static let source = "/ot/tests"
    static let id = "6f1c0d4e-8f7a-4b7e-9d55-0a8d2b3c9e11"
    static let time = Wire.parseTimestamp("2026-11-22T14:03:11.250Z")!

    /// The example of `P` in an envelope.
    static func envelope<P: Message>(_: P.Type) -> Envelope<P> {
        Envelope(
            id: id, source: source, time: time, correlationId: "b0b2a9d6-5c3e-4f1a-9b8d-7e6f5a4b3c2d",
            causationId: "c3e1f2a4-6b8d-4c0e-9f1a-3b5d7f9a1c2e",
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            data: P.example)
    }

    /// The encoded example envelope of a registered type.
    static func encodedExample(_ messageType: any Message.Type) throws -> Data {
        try encodedExample(of: messageType)
    }

    private static func encodedExample<P: Message>(of _: P.Type) throws -> Data {
        try Wire.encode(envelope(P.self))
    }

    /// The encoded example envelope of a registered type, as a JSON value.
    static func exampleJSON(_ messageType: any Message.Type) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: encodedExample(messageType))
    }

    /// The encoded example envelope of `workorder.open`, as a JSON value, to tamper with.
    static func openWorkOrderJSON() throws -> JSONValue {
        try exampleJSON(OpenWorkOrder.self)
    }

    static var allTypes: [String] {
        MessageRegistry.allDescriptors.map(\.type)
    }

    static func descriptor(_ type: String) -> MessageDescriptor {
        guard let descriptor = MessageRegistry.descriptor(for: type) else {
            preconditionFailure("\(type) is not registered")
        }
        return descriptor
    }
}
