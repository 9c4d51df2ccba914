/// An error raised by the AMQP wrapper.
///
/// Errors are a struct with an opaque ``Code`` so new cases can be added without breaking callers
/// (the same shape as PostgresNIO's `PSQLError`).
public struct AMQPError: Error, Sendable, CustomStringConvertible {
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
        /// The broker refused an operation (channel or connection close with a reply code).
        public static let brokerRefused = Code("brokerRefused")
        /// The connection was shut down by its owner.
        public static let shutDown = Code("shutDown")
        /// An operation did not finish within its bound.
        public static let timeout = Code("timeout")
    }

    /// The error's code.
    public var code: Code
    /// A human-readable explanation, including the broker's reply text where there is one.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "AMQPError.\(code): \(message)" }
}
