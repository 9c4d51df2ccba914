import AMQP
import Contracts
import Foundation
import PostgresNIO

/// The platform's broker topology, shared by every service so that all declarers agree.
public enum PlatformTopology {
    /// Requests; routing key = command type.
    public static let commands = "ot.commands"
    /// Facts; routing key = event type.
    public static let events = "ot.events"
    /// Alternate exchange of `ot.events`: events no service subscribes to are kept (bounded) in
    /// the `ot.unrouted` queue instead of being returned to their publisher.
    public static let unrouted = "ot.unrouted"
    /// Bound on the `ot.unrouted` queue (oldest dropped first).
    public static let unroutedMaxLength: Int64 = 100_000

    /// The exchanges every service and tool declares.
    public static var exchanges: Topology {
        Topology(
            exchanges: [
                .init(name: commands, kind: .topic),
                .init(name: unrouted, kind: .fanout),
                .init(name: events, kind: .topic, arguments: ["alternate-exchange": .string(unrouted)]),
            ],
            queues: [
                .quorum(unrouted, arguments: ["x-max-length": .int(unroutedMaxLength), "x-overflow": "drop-head"])
            ],
            bindings: [.init(queue: unrouted, exchange: unrouted, routingKey: "")]
        )
    }
}

/// One input queue of a service: its name, the exchange and routing keys bound to it.
public struct InputQueue: Sendable {
    public var name: String
    public var exchange: String
    public var routingKeys: [String]

    public init(name: String, exchange: String, routingKeys: [String]) {
        self.name = name
        self.exchange = exchange
        self.routingKeys = routingKeys
    }

    /// The delay queues of this input: messages wait there for their TTL, then dead-letter back
    /// to the input queue through the default exchange.
    public func delayQueueName(level: Int) -> String { "\(name).delay.\(level)" }
}

/// A service's queues: `<service>.commands` bound to `ot.commands`, `<service>.events` bound to
/// `ot.events`, `<service>.dead` for dead letters, and `<queue>.delay.<n>` delay queues.
public struct ServiceTopology: Sendable {
    public var service: String
    public var inputs: [InputQueue]
    public var retryDelays: [Duration]
    /// Further objects the service declares (e.g. the operations center's queue).
    public var extra: Topology

    public init(
        service: String, commandTypes: [String], eventTypes: [String], retryDelays: [Duration],
        extra: Topology = Topology()
    ) {
        self.service = service
        self.retryDelays = retryDelays
        self.extra = extra
        var inputs: [InputQueue] = []
        if !commandTypes.isEmpty {
            inputs.append(InputQueue(name: "\(service).commands", exchange: PlatformTopology.commands, routingKeys: commandTypes))
        }
        if !eventTypes.isEmpty {
            inputs.append(InputQueue(name: "\(service).events", exchange: PlatformTopology.events, routingKeys: eventTypes))
        }
        self.inputs = inputs
    }

    public var deadLetterQueue: String { "\(service).dead" }

    /// Everything to declare for this service (exchanges included).
    ///
    /// Delay queues are quorum queues with a message TTL that dead-letter back to their input
    /// queue `at-least-once` (which needs `x-overflow: reject-publish`): a message waiting for its
    /// retry survives a broker restart. (Dead-lettering out of a classic queue is at-most-once.)
    public var topology: Topology {
        var t = PlatformTopology.exchanges
        t.queues.append(.quorum(deadLetterQueue))
        for input in inputs {
            t.queues.append(.quorum(input.name))
            for key in input.routingKeys {
                t.bindings.append(.init(queue: input.name, exchange: input.exchange, routingKey: key))
            }
            for (level, delay) in retryDelays.enumerated() {
                let ms = delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000
                t.queues.append(
                    .quorum(
                        input.delayQueueName(level: level),
                        arguments: [
                            "x-message-ttl": .int(ms),
                            "x-dead-letter-exchange": "",
                            "x-dead-letter-routing-key": .string(input.name),
                            "x-dead-letter-strategy": "at-least-once",
                            "x-overflow": "reject-publish",
                        ]))
            }
        }
        t.merge(extra)
        return t
    }
}

/// AMQP header names the runtime writes.
public enum Headers {
    /// W3C trace context.
    public static let traceparent = "traceparent"
    /// How many times the message has been delivered for handling (retries).
    public static let attempt = "x-ot-attempt"
    /// Why a message is in a dead-letter queue (human readable).
    public static let deadReason = "x-ot-dead-reason"
    /// A machine-readable code for the reason (`malformedJSON`, `unknownType`, `validation`, …).
    public static let deadCode = "x-ot-dead-code"
    /// Where the dead letter came from.
    public static let originalExchange = "x-ot-original-exchange"
    public static let originalRoutingKey = "x-ot-original-routing-key"
    public static let originalQueue = "x-ot-original-queue"
    public static let failedAt = "x-ot-failed-at"
    public static let service = "x-ot-service"
    /// The last transient error of a retried message.
    public static let lastError = "x-ot-last-error"
}

/// Turns a contract message into an AMQP message with the CloudEvents envelope and the AMQP
/// properties mirroring it (CONTRACT.md), its ``Message/deliveryPriority`` as `priority`.
public enum EnvelopeCodec {
    public static func outgoing<M: Message>(_ envelope: Envelope<M>, appId: String) throws -> OutgoingMessage {
        let body = try Wire.encodeBytes(envelope)
        var headers: [String: FieldValue] = [:]
        if let t = envelope.traceparent { headers[Headers.traceparent] = .string(t) }
        return OutgoingMessage(
            exchange: M.exchange, routingKey: M.type, body: body,
            properties: MessageProperties(
                contentType: "application/cloudevents+json", headers: headers, deliveryMode: 2,
                priority: envelope.data.deliveryPriority,
                // AMQP short strings: a value that does not fit stays in the envelope only.
                correlationId: envelope.correlationid.flatMap { $0.utf8.count <= 255 ? $0 : nil }, messageId: envelope.id,
                timestamp: UInt64(max(0, envelope.time.timeIntervalSince1970)), type: M.type, appId: appId))
    }

    /// A new envelope for a message emitted because of `cause` (same correlation, causation = the
    /// cause's id, trace context carried on).
    public static func envelope<M: Message>(
        _ message: M, source: String, causedBy cause: EnvelopeHeader?, time: Date
    ) -> Envelope<M> {
        Envelope(
            source: source, time: time, correlationId: cause?.correlationid ?? cause?.id, causationId: cause?.id,
            traceparent: cause?.traceparent ?? TraceContext.new(), data: message)
    }
}

/// W3C trace context helpers.
public enum TraceContext {
    /// A fresh `traceparent` (version 00, sampled).
    public static func new() -> String {
        "00-\(MessageID.randomHex(bytes: 16))-\(MessageID.randomHex(bytes: 8))-01"
    }
}
