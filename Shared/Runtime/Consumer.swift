import AMQP
import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// What a handler sees of one incoming message, inside the transaction of its batch.
public struct MessageContext {
    /// The connection of the open transaction: write the service's state here.
    public let connection: PostgresConnection
    /// The CloudEvents attributes of the message being handled.
    public let header: EnvelopeHeader
    /// A logger with `message.id`, `message.type` and `correlation.id` metadata.
    public var logger: Logger
    /// "Now", from the service's clock.
    public let now: Date
    /// The service's schema (qualify table names with it).
    public let schema: String
    let source: String
    let appId: String
    /// Messages to publish when the transaction commits.
    public private(set) var emitted: [OutboxEntry] = []

    /// Publishes a message (through the outbox) as a consequence of the one being handled: same
    /// correlation id, causation = this message's id.
    public mutating func emit<M: Message>(_ message: M) throws {
        let envelope = EnvelopeCodec.envelope(message, source: source, causedBy: header, time: now)
        emitted.append(OutboxEntry(try EnvelopeCodec.outgoing(envelope, appId: appId)))
    }
}

/// A service's domain logic, as the runtime calls it.
public protocol MessageHandler: Sendable {
    /// Handles one decoded message. Write state with `context.connection` and publish with
    /// `context.emit`; both commit together with the inbox record. Throw a ``Rejection`` (or a
    /// `ContractError`) for a permanent failure; any other error is treated as transient and the
    /// message is retried later.
    func handle(_ message: any Message, context: inout MessageContext) async throws
}

/// Consumes one input queue: decodes each delivery, deduplicates it through the inbox, runs the
/// handler in a transaction together with the outbox writes, and acknowledges after commit.
///
/// Deliveries are handled in batches (up to `BATCH_SIZE`, waiting at most `BATCH_WAIT_MS` for a
/// partial batch) by `WORKERS` concurrent workers; each message gets a savepoint, so a rejected
/// message rolls back alone. Failures:
/// - permanent (malformed JSON, unknown type, missing field, rule broken): one `command.rejected`
///   for commands, one dead letter in `<service>.dead` with the reason in headers, and the
///   message is recorded in the inbox so a redelivery does not reject it twice;
/// - transient (database or broker down): the whole batch is republished to a delay queue
///   (`<queue>.retry.<n>`, TTL then dead-letter back) with an attempt counter; after
///   `MAX_ATTEMPTS` it is dead-lettered with the last error.
public final class MessageConsumer: Service, Sendable {
    let input: InputQueue
    let service: String
    let amqp: AMQPConnection
    let postgres: PostgresClient
    let handler: any MessageHandler
    let relay: OutboxRelay
    let configuration: ServiceConfiguration
    let clock: any WallClock
    let logger: Logger
    let metrics: ConsumerMetrics

    public init(
        input: InputQueue, configuration: ServiceConfiguration, amqp: AMQPConnection, postgres: PostgresClient,
        handler: any MessageHandler, relay: OutboxRelay, clock: any WallClock, logger: Logger
    ) {
        self.input = input
        self.service = configuration.name
        self.amqp = amqp
        self.postgres = postgres
        self.handler = handler
        self.relay = relay
        self.configuration = configuration
        self.clock = clock
        var l = logger
        l[metadataKey: "amqp.queue"] = "\(input.name)"
        self.logger = l
        self.metrics = ConsumerMetrics(service: configuration.name)
    }

    var schema: String { service }
    var deadLetterQueue: String { "\(service).dead" }

    public func run() async throws {
        let consumer = try await amqp.consume(queue: input.name, prefetch: configuration.prefetch)
        logger.info("consuming", metadata: ["prefetch": "\(configuration.prefetch)", "workers": "\(configuration.workers)"])
        let buffer = DeliveryBuffer()
        let amqp = self.amqp
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await delivery in consumer.deliveries { buffer.push(delivery) }
                    buffer.finish()
                }
                for _ in 0..<configuration.workers {
                    group.addTask { [self] in
                        while let batch = await buffer.takeBatch(max: configuration.batchSize, wait: configuration.batchWait) {
                            await process(batch)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            // Stop new deliveries; the workers finish what was already delivered, then return.
            Task { try? await amqp.cancel(consumer) }
        }
        logger.info("consumer stopped")
    }

    // MARK: Parsing

    enum Parsed {
        case valid(EnvelopeHeader, any Message)
        case invalid(ContractError, EnvelopeHeader?)
    }

    struct Item {
        let delivery: Delivery
        let parsed: Parsed
        let messageId: String
        let type: String
        var isCommand: Bool
    }

    func parse(_ d: Delivery) -> Item {
        let data = Data(d.body)
        var header: EnvelopeHeader?
        let parsed: Parsed
        do throws(ContractError) {
            let h = try Wire.decodeHeader(data)
            header = h
            guard let descriptor = MessageRegistry.descriptor(for: h.type) else {
                throw ContractError(.unknownType, field: "type", message: "unknown message type '\(h.type)'")
            }
            let decoded = try descriptor.decode(data)
            parsed = .valid(h, decoded)
        } catch {
            parsed = .invalid(error, header)
        }
        let messageId = header?.id ?? d.properties.messageId ?? "sha-\(fnv1a(d.body))-\(d.body.count)"
        let type = header?.type ?? d.properties.type ?? d.routingKey
        let kind = MessageRegistry.descriptor(for: type)?.kind
        let isCommand = kind == .command || (kind == nil && d.exchange == PlatformTopology.commands)
        return Item(delivery: d, parsed: parsed, messageId: messageId, type: type, isCommand: isCommand)
    }

    // MARK: Processing

    func process(_ deliveries: [Delivery]) async {
        let items = deliveries.map(parse)
        let start = ContinuousClock.now
        do {
            let outcomes = try await withDeadline(configuration.transactionTimeout, "batch transaction") { [self] in
                do {
                    // The common case: no savepoints, one pass.
                    return try await postgres.withTransaction(logger: logger) { conn in
                        try await handleBatch(items, conn, isolated: false)
                    }
                } catch let error as PostgresTransactionError where error.closureError is NeedsIsolation {
                    // A handler rejected its message: run the batch again with a savepoint per
                    // message, so that only the rejected ones are rolled back.
                    return try await postgres.withTransaction(logger: logger) { conn in
                        try await handleBatch(items, conn, isolated: true)
                    }
                }
            }
            relay.notify()
            for (item, outcome) in zip(items, outcomes) {
                if outcome == "deferred" {
                    await retry(item.delivery, error: NotKnownYet())
                } else {
                    amqp.ack(item.delivery)
                }
            }
            for (item, outcome) in zip(items, outcomes) { metrics.count(type: item.type, outcome: outcome) }
            metrics.batchSeconds.record(duration: ContinuousClock.now - start)
        } catch {
            logger.warning(
                "batch failed with a transient error; scheduling retries",
                metadata: ["error": "\(String(reflecting: error))", "batch.size": "\(deliveries.count)"])
            for item in items { await retry(item.delivery, error: error) }
        }
    }

    /// A handler rejected a message in a batch run without savepoints.
    struct NeedsIsolation: Error {}

    /// Why a deferred command is retried.
    struct NotKnownYet: Error, CustomStringConvertible {
        var description: String { "names something not known yet; retried in case its event is late" }
    }

    /// How many times this delivery has been handled, this one included.
    func attempt(_ d: Delivery) -> Int { Int(d.properties.headers[Headers.attempt]?.intValue ?? 1) }

    /// Handles a batch inside its transaction; returns each message's outcome.
    ///
    /// Round trips per batch: one inbox insert for all message ids (those already there are
    /// duplicates), the handlers' own statements, and one multi-row outbox insert. With
    /// `isolated`, each handler call runs under a savepoint, and a rejection rolls back only its
    /// message; without, a rejection throws ``NeedsIsolation`` and the caller runs the batch
    /// again isolated (rejections are rare; savepoints cost a round trip and a subtransaction
    /// per message).
    func handleBatch(_ items: [Item], _ conn: PostgresConnection, isolated: Bool) async throws -> [String] {
        let fresh = try await recordInbox(items, conn)
        var seen = Set<String>()
        var outbox: [OutboxEntry] = []
        var rejected: [String] = []
        var deferred: [String] = []
        var outcomes: [String] = []
        outcomes.reserveCapacity(items.count)
        for item in items {
            var log = logger
            log[metadataKey: "message.id"] = "\(item.messageId)"
            log[metadataKey: "message.type"] = "\(item.type)"
            guard fresh.contains(item.messageId), seen.insert(item.messageId).inserted else {
                log.debug("duplicate message ignored")
                outcomes.append("duplicate")
                continue
            }
            switch item.parsed {
            case .invalid(let error, _):
                outbox += try rejection(item, code: error.code.description, message: error.message, problems: problems(error), log)
                rejected.append(item.messageId)
                outcomes.append("rejected")
            case .valid(let header, let message):
                if let c = header.correlationid { log[metadataKey: "correlation.id"] = "\(c)" }
                var context = MessageContext(
                    connection: conn, header: header, logger: log, now: clock.now(), schema: schema,
                    source: "/ot/\(service)", appId: service)
                if isolated { try await conn.query("SAVEPOINT m", logger: log) }
                do {
                    try await handler.handle(message, context: &context)
                    outbox += context.emitted
                    outcomes.append("handled")
                } catch let failure where failure is Rejection || failure is ContractError {
                    guard isolated else { throw NeedsIsolation() }
                    try await conn.query("ROLLBACK TO SAVEPOINT m", logger: log)
                    if let r = failure as? Rejection, r.mayBeLate, attempt(item.delivery) <= configuration.notFoundRetries {
                        log.info("command names something not known yet; retrying later", metadata: ["reason": "\(r.message)"])
                        deferred.append(item.messageId)
                        outcomes.append("deferred")
                        continue
                    }
                    if let r = failure as? Rejection {
                        outbox += try rejection(item, code: r.code, message: r.message, problems: r.errors, log)
                    } else if let e = failure as? ContractError {
                        outbox += try rejection(item, code: e.code.description, message: e.message, problems: problems(e), log)
                    }
                    rejected.append(item.messageId)
                    outcomes.append("rejected")
                }
            }
        }
        if !deferred.isEmpty {
            // Not handled: the retried copy must not look like a duplicate.
            try await conn.query(
                "DELETE FROM \(unescaped: schema).inbox WHERE message_id = ANY(\(deferred))", logger: logger)
        }
        if !rejected.isEmpty {
            try await conn.query(
                "UPDATE \(unescaped: schema).inbox SET outcome = 'rejected' WHERE message_id = ANY(\(rejected))", logger: logger)
        }
        try await OutboxEntry.insert(outbox, schema: schema, on: conn, logger: logger)
        return outcomes
    }

    /// Records every message id of the batch in the inbox with one statement; returns the ids
    /// that were not there yet.
    func recordInbox(_ items: [Item], _ conn: PostgresConnection) async throws -> Set<String> {
        var fresh = Set<String>()
        let rows = try await conn.query(
            """
            INSERT INTO \(unescaped: schema).inbox (message_id, message_type, outcome)
            SELECT id, type, 'handled' FROM unnest(\(items.map(\.messageId))::text[], \(items.map(\.type))::text[]) AS t(id, type)
            ON CONFLICT DO NOTHING RETURNING message_id
            """, logger: logger)
        for try await id in rows.decode(String.self) { fresh.insert(id) }
        return fresh
    }

    func problems(_ error: ContractError) -> [FieldProblem] {
        if !error.problems.isEmpty { return error.problems }
        return [FieldProblem(field: error.field ?? "", problem: error.message)]
    }

    /// What a permanent failure publishes: one `command.rejected` (for commands) and one dead
    /// letter; the caller writes them to the outbox with the batch.
    func rejection(
        _ item: Item, code: String, message: String, problems: [FieldProblem], _ log: Logger
    ) throws -> [OutboxEntry] {
        log.notice("message rejected", metadata: ["reason.code": "\(code)", "reason": "\(message)"])
        var entries: [OutboxEntry] = []
        if item.isCommand {
            let header: EnvelopeHeader? =
                switch item.parsed {
                case .valid(let h, _): h
                case .invalid(_, let h): h
                }
            let rejected = CommandRejected(
                commandId: item.messageId, commandType: item.type, code: code, message: message, errors: problems)
            var envelope = EnvelopeCodec.envelope(rejected, source: "/ot/\(service)", causedBy: header, time: clock.now())
            if header == nil {
                envelope.causationid = item.messageId
                envelope.correlationid = item.delivery.properties.correlationId ?? item.messageId
            }
            entries.append(OutboxEntry(try EnvelopeCodec.outgoing(envelope, appId: service)))
        }
        entries.append(OutboxEntry(deadLetter(item.delivery, code: code, reason: message)))
        return entries
    }

    func deadLetter(_ d: Delivery, code: String, reason: String) -> OutgoingMessage {
        var props = d.properties
        props.headers[Headers.deadCode] = .string(code)
        props.headers[Headers.deadReason] = .string(String(reason.prefix(1000)))
        props.headers[Headers.originalExchange] = .string(d.exchange)
        props.headers[Headers.originalRoutingKey] = .string(d.routingKey)
        props.headers[Headers.originalQueue] = .string(input.name)
        props.headers[Headers.failedAt] = .string(Wire.timestamp(clock.now()))
        props.headers[Headers.service] = .string(service)
        if props.messageId == nil { props.messageId = "dead-\(fnv1a(d.body))" }
        props.deliveryMode = 2
        return OutgoingMessage(exchange: "", routingKey: deadLetterQueue, body: d.body, properties: props)
    }

    /// Sends a delivery to its next delay queue (or to the dead-letter queue once attempts are
    /// exhausted), then acknowledges it. If the broker is unreachable too, the delivery stays
    /// unacknowledged and the broker redelivers it after the reconnect.
    func retry(_ d: Delivery, error: any Error) async {
        let attempt = Int(d.properties.headers[Headers.attempt]?.intValue ?? 1)
        var message: OutgoingMessage
        if attempt >= configuration.maxAttempts {
            message = deadLetter(d, code: "retriesExhausted", reason: "gave up after \(attempt) attempts: \(error)")
            Counter(label: "ot_dead_letters_total", dimensions: [("service", service), ("code", "retriesExhausted")]).increment()
        } else {
            let level = min(attempt - 1, configuration.retryDelays.count - 1)
            var props = d.properties
            props.headers[Headers.attempt] = .int(Int64(attempt + 1))
            props.headers[Headers.lastError] = .string(String("\(error)".prefix(500)))
            message = OutgoingMessage(exchange: "", routingKey: input.retryQueueName(level: level), body: d.body, properties: props)
            Counter(label: "ot_retries_total", dimensions: [("service", service)]).increment()
        }
        message.mandatory = true
        do {
            let outcome = try await amqp.publish(message)
            if outcome == .confirmed {
                amqp.ack(d)
            } else {
                logger.error("retry publish not confirmed; requeueing", metadata: ["outcome": "\(outcome)"])
                amqp.nack(d, requeue: true)
            }
        } catch {
            logger.warning("cannot schedule retry; the broker will redeliver", metadata: ["error": "\(error)"])
        }
    }
}

/// FNV-1a, for a stable id of a message that has none.
func fnv1a(_ bytes: [UInt8]) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    return String(h, radix: 16)
}

/// Deliveries waiting for a worker. Workers take them in batches.
final class DeliveryBuffer: Sendable {
    private struct State {
        var items: [Delivery] = []
        var head = 0
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func push(_ d: Delivery) {
        let w = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.items.append(d)
            return s.waiters.isEmpty ? nil : s.waiters.removeFirst()
        }
        w?.resume()
    }

    func finish() {
        let ws = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.finished = true
            let w = s.waiters
            s.waiters.removeAll()
            return w
        }
        for w in ws { w.resume() }
    }

    private func take(_ max: Int) -> [Delivery] {
        state.withLock { s in
            let n = min(max, s.items.count - s.head)
            guard n > 0 else { return [] }
            let out = Array(s.items[s.head..<(s.head + n)])
            s.head += n
            if s.head == s.items.count {
                s.items.removeAll(keepingCapacity: true)
                s.head = 0
            } else if s.head > 1024 {
                s.items.removeFirst(s.head)
                s.head = 0
            }
            return out
        }
    }

    /// The next batch, or nil once the buffer is finished and empty.
    func takeBatch(max: Int, wait: Duration) async -> [Delivery]? {
        while true {
            var batch = take(max)
            if !batch.isEmpty {
                if batch.count < max && wait > .zero {
                    try? await Task.sleep(for: wait)
                    batch += take(max - batch.count)
                }
                return batch
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.finished || s.head < s.items.count { return true }
                    s.waiters.append(c)
                    return false
                }
                if resumeNow { c.resume() }
            }
            if state.withLock({ $0.finished && $0.head >= $0.items.count }) { return nil }
        }
    }
}

/// The consumer's metrics, created once per label set (creating a metric goes through the
/// factory's registry lock and string keys: too dear per message).
final class ConsumerMetrics: Sendable {
    let service: String
    let batchSeconds: Timer
    private let counters = Mutex<[String: Counter]>([:])

    init(service: String) {
        self.service = service
        batchSeconds = Timer(label: "ot_batch_seconds", dimensions: [("service", service)])
    }

    /// `ot_messages_total{service, type, outcome}`; types outside the contract count as
    /// `unknown` (a sender must not be able to grow the label set).
    func count(type rawType: String, outcome: String) {
        let type = MessageRegistry.descriptor(for: rawType) == nil ? "unknown" : rawType
        let key = type + "|" + outcome
        let counter = counters.withLock { cache in
            if let c = cache[key] { return c }
            let c = Counter(label: "ot_messages_total", dimensions: [("service", service), ("type", type), ("outcome", outcome)])
            cache[key] = c
            return c
        }
        counter.increment()
    }
}
