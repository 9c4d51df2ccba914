/// Whether a message asks for something (a command, on `ot.commands`) or states a fact
/// (an event, on `ot.events`).
public enum MessageKind: String, Sendable, Codable, CaseIterable {
    case command
    case event

    /// The topic exchange messages of this kind are published to.
    public var exchange: String {
        switch self {
        case .command: "ot.commands"
        case .event: "ot.events"
        }
    }
}

/// The `data` of one CloudEvents message of the contract: a command or an event.
///
/// Each conforming type fixes its CloudEvents `type` (also the AMQP routing key), describes its
/// JSON with a ``JSONSchema`` (derived from its fields by `@Contract`, published in the AsyncAPI
/// document and checked against the Codable implementation by the tests), and gives a realistic
/// example.
public protocol Message: Codable, Sendable, Equatable {
    /// The CloudEvents `type` and AMQP routing key, e.g. `workorder.open`.
    static var type: String { get }
    /// Command or event.
    static var kind: MessageKind { get }
    /// Version of the `data` shape, written to the envelope's `dataversion`. Defaults to 1.
    static var dataVersion: Int { get }
    /// JSON Schema of `data`.
    static var schema: JSONSchema { get }
    /// A realistic instance, used in documentation and tests.
    static var example: Self { get }
    /// The business id this message is about (work order, post-sale request, damage, …), if any.
    var correlationKey: String? { get }
    /// The AMQP `priority` the message is published with (0–``DeliveryPriority/maximum``), or nil
    /// for none. Only messages a priority queue orders carry one (``DeliveryPriority``); the
    /// default is nil.
    var deliveryPriority: UInt8? { get }
}

extension Message {
    public static var dataVersion: Int { 1 }

    public var correlationKey: String? { nil }

    public var deliveryPriority: UInt8? { nil }

    /// The exchange this message is published to: `ot.commands` or `ot.events`.
    public static var exchange: String { kind.exchange }

    /// Whether `other` is a message of the same type with equal contents.
    public func isEqual(to other: any Message) -> Bool {
        guard let other = other as? Self else { return false }
        return self == other
    }
}

/// A message that is a command: published on `ot.commands`.
public protocol Command: Message {}

extension Command {
    public static var kind: MessageKind { .command }
}

/// A message that is an event: published on `ot.events`.
public protocol Event: Message {}

extension Event {
    public static var kind: MessageKind { .event }
}
