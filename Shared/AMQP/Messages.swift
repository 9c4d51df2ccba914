/// The AMQP basic properties this platform uses, as Swift values.
public struct MessageProperties: Sendable, Equatable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: [String: FieldValue]
    /// 2 = persistent (the default here), 1 = transient.
    public var deliveryMode: UInt8?
    public var priority: UInt8?
    public var correlationId: String?
    public var replyTo: String?
    public var expiration: String?
    public var messageId: String?
    /// Seconds since 1970, as AMQP carries it.
    public var timestamp: UInt64?
    public var type: String?
    public var userId: String?
    public var appId: String?

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: [String: FieldValue] = [:],
        deliveryMode: UInt8? = 2, priority: UInt8? = nil, correlationId: String? = nil, replyTo: String? = nil,
        expiration: String? = nil, messageId: String? = nil, timestamp: UInt64? = nil, type: String? = nil,
        userId: String? = nil, appId: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageId = messageId
        self.timestamp = timestamp
        self.type = type
        self.userId = userId
        self.appId = appId
    }
}

/// A message to publish.
public struct OutgoingMessage: Sendable {
    /// Exchange name; `""` is the default exchange (routing key = queue name).
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var properties: MessageProperties
    /// Ask the broker to return the message when no queue takes it. On by default: an unroutable
    /// message is an error, not a silent loss.
    public var mandatory: Bool

    public init(
        exchange: String, routingKey: String, body: [UInt8], properties: MessageProperties = .init(),
        mandatory: Bool = true
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
        self.mandatory = mandatory
    }
}

/// What the broker said about one published message.
public enum PublishOutcome: Sendable, Equatable {
    /// Confirmed (`basic.ack`) and routed to at least one queue.
    case confirmed
    /// Returned as unroutable (`basic.return`) — no queue was bound for it.
    case returned(replyCode: Int, replyText: String)
    /// Negatively confirmed (`basic.nack`): the broker could not take responsibility for it.
    case nacked
}

/// A message received from a queue. Acknowledge it through the connection that delivered it.
public struct Delivery: Sendable {
    public var deliveryTag: UInt64
    /// Which connection session delivered it; acks for an older session are dropped (the broker
    /// redelivers those messages after a reconnect).
    public var session: UInt64
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var consumerTag: String
    public var properties: MessageProperties
    public var body: [UInt8]

    public init(
        deliveryTag: UInt64, session: UInt64, redelivered: Bool, exchange: String, routingKey: String, consumerTag: String,
        properties: MessageProperties, body: [UInt8]
    ) {
        self.deliveryTag = deliveryTag
        self.session = session
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.consumerTag = consumerTag
        self.properties = properties
        self.body = body
    }
}

/// A message fetched with `basic.get` (used by operator tools for dead letters).
public struct FetchedMessage: Sendable {
    public var delivery: Delivery
    /// How many messages were left in the queue after this one.
    public var messageCount: UInt32
}
