/// An error raised by the AMQP wrapper.
///
/// Errors are a struct with an opaque ``Code`` so new cases can be added without breaking callers
/// (the same shape as PostgresNIO's `PSQLError`). Where the broker said no, ``replyCode`` and
/// ``replyText`` carry its answer; for a publish, ``messageIndex`` and ``messageId`` name the
/// message of the `publish` call the error is about.
public struct AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as an opaque, extensible code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }
        public var description: String { raw }

        /// The URL could not be parsed.
        public static let invalidURL = Code("invalidURL")
        /// The TCP/TLS connection or the AMQP handshake failed.
        public static let connectionFailed = Code("connectionFailed")
        /// The connection was lost while an operation was in flight; its outcome is unknown.
        public static let connectionLost = Code("connectionLost")
        /// The connection is not open right now (it is reconnecting); retry later.
        public static let notConnected = Code("notConnected")
        /// The broker refused an operation (channel or connection close with a reply code, see
        /// ``AMQPError/replyCode``). For a publish: refused for a reason other than permissions or
        /// a precondition (e.g. 404, no such exchange); publishing it again as is fails again.
        public static let brokerRefused = Code("brokerRefused")
        /// The broker refused this publish for lack of permission (403 ACCESS_REFUSED): a topic
        /// permission does not allow its routing key, or the user may not write to the exchange.
        /// Publishing it again as is fails again. The broker's text is in ``AMQPError/replyText``.
        public static let accessRefused = Code("accessRefused")
        /// The broker refused this publish because a property breaks a rule (406
        /// PRECONDITION_FAILED), e.g. a `user_id` other than the connection's user. Publishing it
        /// again as is fails again.
        public static let preconditionFailed = Code("preconditionFailed")
        /// The broker closed the channel before this publish was confirmed, because of another
        /// operation (typically another publish it refused). The outcome is unknown: publish it
        /// again (consumers deduplicate). The channel reopens by itself.
        public static let channelClosed = Code("channelClosed")
        /// The connection was shut down by its owner.
        public static let shutDown = Code("shutDown")
        /// An operation did not finish within its bound.
        public static let timeout = Code("timeout")
    }

    /// The error's code.
    public var code: Code
    /// A human-readable explanation, including the broker's reply text where there is one.
    public var message: String
    /// The broker's reply code (403, 404, 406, …) when the broker closed a channel or the
    /// connection; nil otherwise.
    public var replyCode: UInt16?
    /// The broker's reply text, e.g. `ACCESS_REFUSED - write access to topic 'a.b' in exchange
    /// 'ot.events' in vhost 'ot' refused for user 'svc'`; nil when the broker gave none.
    public var replyText: String?
    /// For a publish: the position, in the array given to `publish`, of the message this error is
    /// about (the refused message, when `publish` throws a refusal).
    public var messageIndex: Int?
    /// For a publish: the `message-id` the message was sent with.
    public var messageId: String?

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public init(
        _ code: Code, _ message: String, replyCode: UInt16?, replyText: String?, messageIndex: Int? = nil,
        messageId: String? = nil
    ) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
        self.replyText = replyText
        self.messageIndex = messageIndex
        self.messageId = messageId
    }

    /// Whether the same operation may succeed if tried again later: false for refusals of the
    /// message itself (``Code/accessRefused``, ``Code/preconditionFailed``, ``Code/brokerRefused``)
    /// and for a bad URL or a connection that was shut down.
    public var isRetryable: Bool {
        switch code {
        case .accessRefused, .preconditionFailed, .brokerRefused, .invalidURL, .shutDown: false
        default: true
        }
    }

    public var description: String { "AMQPError.\(code): \(message)" }

    /// The error of the publish a channel close refused.
    static func refusal(_ close: ConfirmTracker.ChannelClose, messageIndex: Int?, messageId: String?) -> AMQPError {
        let code: Code =
            switch close.replyCode {
            case 403: .accessRefused
            case 406: .preconditionFailed
            default: .brokerRefused
            }
        return AMQPError(
            code, "publish refused by the broker: \(close.replyCode) \(close.replyText)", replyCode: close.replyCode,
            replyText: close.replyText, messageIndex: messageIndex, messageId: messageId)
    }
}
