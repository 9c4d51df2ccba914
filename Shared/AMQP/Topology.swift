/// A declarable set of exchanges, queues and bindings. A connection re-declares every topology it
/// was given after each reconnect.
public struct Topology: Sendable, Equatable {
    public var exchanges: [Exchange]
    public var queues: [Queue]
    public var bindings: [Binding]

    public init(exchanges: [Exchange] = [], queues: [Queue] = [], bindings: [Binding] = []) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
    }

    /// Adds another topology's declarations (duplicates removed).
    public mutating func merge(_ other: Topology) {
        for e in other.exchanges where !exchanges.contains(e) { exchanges.append(e) }
        for q in other.queues where !queues.contains(q) { queues.append(q) }
        for b in other.bindings where !bindings.contains(b) { bindings.append(b) }
    }

    public struct Exchange: Sendable, Equatable {
        public enum Kind: String, Sendable { case topic, direct, fanout, headers }
        public var name: String
        public var kind: Kind
        public var durable: Bool
        public var arguments: [String: FieldValue]
        public init(name: String, kind: Kind = .topic, durable: Bool = true, arguments: [String: FieldValue] = [:]) {
            self.name = name
            self.kind = kind
            self.durable = durable
            self.arguments = arguments
        }
    }

    public struct Queue: Sendable, Equatable {
        public var name: String
        public var durable: Bool
        public var exclusive: Bool
        public var autoDelete: Bool
        /// `x-queue-type`, `x-dead-letter-exchange`, `x-message-ttl`, … as the broker expects them.
        public var arguments: [String: FieldValue]
        public init(
            name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
            arguments: [String: FieldValue] = [:]
        ) {
            self.name = name
            self.durable = durable
            self.exclusive = exclusive
            self.autoDelete = autoDelete
            self.arguments = arguments
        }

        /// A durable quorum queue.
        public static func quorum(_ name: String, arguments: [String: FieldValue] = [:]) -> Queue {
            var args = arguments
            args["x-queue-type"] = "quorum"
            return Queue(name: name, arguments: args)
        }

        /// A stream queue (`x-queue-type: stream`): an append-only log that consumers read from
        /// any offset (``AMQPConnection/consume(queue:prefetch:arguments:)`` with
        /// `x-stream-offset`) without removing anything. Always durable, neither exclusive nor
        /// auto-delete (RabbitMQ refuses a stream declared otherwise). `maxAge` is the retention
        /// `x-max-age` (``isValidMaxAge(_:)``): whole segments older than that are deleted.
        ///
        /// A stream's arguments cannot change once it exists: RabbitMQ 3.10 refuses a
        /// redeclaration with another `x-max-age` (406 PRECONDITION_FAILED, inequivalent arg).
        public static func stream(_ name: String, maxAge: String? = nil, arguments: [String: FieldValue] = [:]) -> Queue {
            var args = arguments
            args["x-queue-type"] = "stream"
            if let maxAge { args["x-max-age"] = .string(maxAge) }
            return Queue(name: name, durable: true, exclusive: false, autoDelete: false, arguments: args)
        }

        /// Whether RabbitMQ (3.10) accepts `text` as a stream's `x-max-age`: a positive whole
        /// number and one unit, `Y` (years), `M` (months), `D` (days), `h`, `m` or `s` — e.g.
        /// `400D`, `13M`, `1Y`. (`1d`, `1.5D`, `0D` or a number alone are refused.)
        public static func isValidMaxAge(_ text: String) -> Bool {
            guard let unit = text.last, "YMDhms".contains(unit) else { return false }
            let digits = text.dropLast()
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            return digits.contains { $0 != "0" }
        }
    }

    public struct Binding: Sendable, Equatable {
        public var queue: String
        public var exchange: String
        public var routingKey: String
        public init(queue: String, exchange: String, routingKey: String) {
            self.queue = queue
            self.exchange = exchange
            self.routingKey = routingKey
        }
    }
}
