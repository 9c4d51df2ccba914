import Foundation

/// The platform's AsyncAPI 2.6.0 document, generated from ``MessageRegistry``.
///
/// The committed copy lives in `deploy/asyncapi.json`; a test fails when it differs from
/// ``generate()`` byte for byte, so the published contract cannot drift from the code.
public enum AsyncAPIDocument {
    /// The document's `info.version`; bump it whenever a message type or field is added.
    public static let version = "1.0.0"

    /// AMQP binding version used throughout (the one AsyncAPI 2.6.0 ships with).
    static let amqpBindingVersion = "0.2.0"

    /// Example envelope attributes, fixed so the output is deterministic.
    static let exampleId = "6f1c0d4e-8f7a-4b7e-9d55-0a8d2b3c9e11"
    static let exampleCorrelationId = "b0b2a9d6-5c3e-4f1a-9b8d-7e6f5a4b3c2d"
    static let exampleTime = ExampleTime.at("2026-11-22T14:03:11.250Z")

    /// Who publishes and who consumes one message type (from the services' declarations, which
    /// this module does not know): published as `x-ot-publishers` / `x-ot-subscribers`.
    public struct Roles: Sendable, Equatable {
        public var publishers: [String]
        public var subscribers: [String]
        public init(publishers: [String], subscribers: [String]) {
            self.publishers = publishers
            self.subscribers = subscribers
        }
    }

    /// The document as pretty-printed JSON with sorted keys and a trailing newline.
    public static func generate(roles: [String: Roles] = [:]) -> String {
        document(roles: roles).rendered(pretty: true) + "\n"
    }

    /// The document as a JSON value, without roles.
    public static var document: JSONValue { document(roles: [:]) }

    /// The document as a JSON value, each message with its roles when `roles` has them.
    public static func document(roles: [String: Roles]) -> JSONValue {
        let descriptors = MessageRegistry.allDescriptors
        var components: [String: JSONValue] = [:]
        for descriptor in descriptors {
            components[descriptor.type] = message(descriptor, roles: roles[descriptor.type])
        }
        return [
            "asyncapi": "2.6.0",
            "id": "urn:ot-platform",
            "info": [
                "title": "OT Platform",
                "version": .string(version),
                "description": .string(
                    "Work-order, billing, post-sale and damage microservices. Every message is a CloudEvents 1.0 "
                        + "structured-mode JSON envelope (content type application/cloudevents+json) whose `data` "
                        + "is described per message below. The routing key is the CloudEvents `type`; the AMQP "
                        + "properties mirror the envelope (message_id = id, type = type, correlation_id = "
                        + "correlationid, timestamp = time, delivery_mode = 2, header traceparent). Consumers "
                        + "ignore unknown fields; new optional fields and new types may be added, existing ones "
                        + "are never renamed or retyped."),
            ],
            "defaultContentType": .string(Wire.contentType),
            "servers": [
                "local": [
                    "url": "amqp://localhost:5672/ot",
                    "protocol": "amqp",
                    "protocolVersion": "0.9.1",
                    "description": "Local RabbitMQ, virtual host `ot`.",
                ]
            ],
            "channels": [
                MessageKind.command.exchange: channel(
                    kind: .command,
                    descriptors: descriptors.filter { $0.kind == .command }, roles: roles,
                    description: "Durable topic exchange of commands (requests); routing key = command type. "
                        + "Every invalid command produces exactly one `command.rejected` event and a dead letter."
                ),
                MessageKind.event.exchange: channel(
                    kind: .event,
                    descriptors: descriptors.filter { $0.kind == .event }, roles: roles,
                    description: "Durable topic exchange of events (facts); routing key = event type."
                ),
            ],
            "components": [
                "messages": .object(components)
            ],
        ]
    }

    /// JSON Schema of a whole CloudEvents envelope of one message type.
    public static func envelopeSchema(for descriptor: MessageDescriptor) -> JSONSchema {
        .object(
            [
                "specversion": .required(.constant("1.0", description: "CloudEvents spec version")),
                "id": .required(.identifier("unique message id (UUID); consumers deduplicate on it")),
                "source": .required(.identifier("URI reference of the producer, e.g. /ot/commercial")),
                "type": .required(.constant(descriptor.type, description: "message type; also the routing key")),
                "time": .required(.dateTime("RFC 3339 UTC, e.g. 2026-11-22T14:03:11.250Z")),
                "datacontenttype": .optional(.constant("application/json", description: "media type of data")),
                "dataversion": .optional(
                    .integer(min: 1, max: Int64(descriptor.dataVersion), "version of the data shape; 1 when absent")),
                "correlationid": .optional(.string("business-case id shared by every message of one case")),
                "causationid": .optional(.string("id of the message that caused this one")),
                "traceparent": .optional(.string("W3C trace context")),
                "data": .required(descriptor.schema),
            ], description: "CloudEvents 1.0 envelope of \(descriptor.type)")
    }

    /// The example envelope of a message type, as published in the document.
    public static func exampleEnvelope(for messageType: any Message.Type) -> JSONValue {
        exampleEnvelopeJSON(messageType)
    }

    private static func exampleEnvelopeJSON<P: Message>(_: P.Type) -> JSONValue {
        let envelope = Envelope(
            id: exampleId, source: "/ot/\(P.type.prefix { $0 != "." })", time: exampleTime,
            correlationId: exampleCorrelationId, causationId: P.kind == .event ? exampleId : nil,
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", data: P.example)
        do {
            let bytes = try Wire.encode(envelope)
            return try Wire.decoder.decode(JSONValue.self, from: bytes)
        } catch {
            preconditionFailure("the example of \(P.type) cannot be encoded: \(error)")
        }
    }

    private static func message(_ descriptor: MessageDescriptor, roles: Roles?) -> JSONValue {
        var m: [String: JSONValue] = [
            "name": .string(descriptor.type),
            "title": .string(String(describing: descriptor.messageType)),
            "summary": descriptor.schema.json["description"] ?? .string(descriptor.type),
            "contentType": .string(Wire.contentType),
            "correlationId": [
                "description": "business-case id shared by every message of one case",
                "location": "$message.payload#/correlationid",
            ],
            "payload": envelopeSchema(for: descriptor).json,
            "bindings": [
                "amqp": [
                    "messageType": .string(descriptor.type),
                    "bindingVersion": .string(amqpBindingVersion),
                ]
            ],
            "examples": [
                [
                    "name": "example",
                    "payload": exampleEnvelope(for: descriptor.messageType),
                ]
            ],
        ]
        if let roles {
            m["x-ot-publishers"] = .array(roles.publishers.map(JSONValue.string))
            m["x-ot-subscribers"] = .array(roles.subscribers.map(JSONValue.string))
        }
        return .object(m)
    }

    private static func channel(
        kind: MessageKind, descriptors: [MessageDescriptor], roles: [String: Roles], description: String
    ) -> JSONValue {
        let operation: JSONValue = [
            "operationId": kind == .command ? "sendCommand" : "receiveEvent",
            "summary": kind == .command
                ? "Send a command; the owning service consumes it from its <service>.commands queue."
                : "Receive events by binding a queue to the event types of interest.",
            "bindings": [
                "amqp": [
                    "deliveryMode": 2,
                    "timestamp": true,
                    "bindingVersion": .string(amqpBindingVersion),
                ]
            ],
            "message": [
                "oneOf": .array(descriptors.map { message($0, roles: roles[$0.type]) })
            ],
        ]
        return [
            "description": .string(description),
            "bindings": [
                "amqp": [
                    "is": "routingKey",
                    "exchange": [
                        "name": .string(kind.exchange),
                        "type": "topic",
                        "durable": true,
                        "autoDelete": false,
                        "vhost": "ot",
                    ],
                    "bindingVersion": .string(amqpBindingVersion),
                ]
            ],
            // AsyncAPI 2.x verbs are from the client's point of view: clients publish commands
            // and subscribe to events.
            kind == .command ? "publish" : "subscribe": operation,
        ]
    }
}
