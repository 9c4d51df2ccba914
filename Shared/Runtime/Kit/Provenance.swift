import AMQP
import Contracts

/// Who published a message, and whether they may (DESIGN.md "Provenance").
///
/// Every publish of the platform carries the AMQP `user_id` property, which the broker checks
/// against the connection's login, so it cannot be forged. Two users re-publish on someone
/// else's behalf and keep the original publisher in the header `x-origin-user`: the service itself
/// (a retry coming back from its delay queue) and an operator tool that replays dead letters
/// (`otctl dead replay`).
public struct Provenance: Sendable {
    /// The header that carries the original publisher of a re-published message.
    public static let userHeader = "x-origin-user"

    /// This service's own broker user.
    public let ownUser: String?

    public init(ownUser: String?) { self.ownUser = ownUser }

    /// The effective publisher of a message with these properties.
    public func publisher(of properties: MessageProperties) -> String? {
        guard let user = properties.userId, !user.isEmpty else { return nil }
        if user == ownUser || PlatformCatalog.participant(user)?.replaysDeadLetters == true,
            let original = properties.headers[Self.userHeader]?.stringValue, !original.isEmpty
        {
            return original
        }
        return user
    }

    /// Refuses a message its publisher may not send: an event from a user that does not own its
    /// type, a command from a user that may not send it, anything without `user_id`.
    public func check(type: String, kind: MessageKind, publisher: String?) throws(Rejection) {
        guard let publisher else {
            throw Rejection(.forbidden, "\(type) carries no user_id: its publisher is unknown")
        }
        switch kind {
        case .event:
            let owners = PlatformCatalog.owners(ofEvent: type)
            guard owners.contains(publisher) else {
                throw Rejection(
                    .forbidden,
                    "\(type) published by \(publisher), who does not own it (owner: \(owners.joined(separator: ", ")))")
            }
        case .command:
            let senders = PlatformCatalog.senders(ofCommand: type)
            guard senders.contains(publisher) else {
                throw Rejection(
                    .forbidden,
                    "\(type) sent by \(publisher), who may not send it (senders: \(senders.joined(separator: ", ")))")
            }
        }
    }
}

/// What the runtime keeps of a message to dead-letter, park or re-publish it.
public struct RawMessage: Sendable {
    /// The queue it was consumed from.
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public var properties: MessageProperties
    public var body: [UInt8]

    public init(queue: String, exchange: String, routingKey: String, properties: MessageProperties, body: [UInt8]) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
        self.body = body
    }

    public init(_ d: Delivery, queue: String) {
        self.init(queue: queue, exchange: d.exchange, routingKey: d.routingKey, properties: d.properties, body: d.body)
    }
}

/// The AMQP properties of a parked message, as stored.
struct StoredProperties: Codable {
    var contentType: String?
    var messageId: String?
    var correlationId: String?
    var type: String?
    var userId: String?
    var appId: String?
    var timestamp: UInt64?
    var headers: [String: String]

    init(_ p: MessageProperties) {
        contentType = p.contentType
        messageId = p.messageId
        correlationId = p.correlationId
        type = p.type
        userId = p.userId
        appId = p.appId
        timestamp = p.timestamp
        headers = [:]
        for (k, v) in p.headers {
            if let s = v.stringValue { headers[k] = s } else if let i = v.intValue { headers[k] = "\(i)" }
        }
    }

    var properties: MessageProperties {
        MessageProperties(
            contentType: contentType, headers: headers.mapValues { .string($0) }, deliveryMode: 2, correlationId: correlationId,
            messageId: messageId, timestamp: timestamp, type: type, userId: userId, appId: appId)
    }
}
