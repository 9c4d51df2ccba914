import AMQP
import Contracts
import Foundation
import Logging
import Metrics
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The outbox rows of a batch, part of ``BatchSave`` (empty strings stand for absent properties).
struct OutboxRows {
    var exchanges: [String] = []
    var keys: [String] = []
    var ids: [String] = []
    var types: [String] = []
    var correlations: [String] = []
    var contentTypes: [String] = []
    var headers: [String] = []
    /// The `traceparent` header, in a column of its own: most messages carry no other header, and
    /// then none is encoded as JSON.
    var traceparents: [String] = []
    /// The AMQP `priority` (``Message/deliveryPriority``), -1 for none: computed from the typed
    /// message when it is written, so that the relay sets it without decoding bodies.
    var priorities: [Int16] = []
    var bodies: [ByteBuffer] = []

    init() {}

    /// The rows of `messages`, in order.
    init(_ messages: [OutgoingMessage]) throws {
        for m in messages {
            var h: [String: String] = [:]
            var traceparent = ""
            for (k, v) in m.properties.headers {
                if k == Headers.traceparent, let s = v.stringValue {
                    traceparent = s
                } else if let s = v.stringValue {
                    h[k] = s
                } else if let i = v.intValue {
                    h[k] = "\(i)"
                }
            }
            traceparents.append(traceparent)
            priorities.append(m.properties.priority.map(Int16.init) ?? -1)
            exchanges.append(m.exchange)
            keys.append(m.routingKey)
            ids.append(m.properties.messageId ?? MessageID.new())
            types.append(m.properties.type ?? "")
            correlations.append(m.properties.correlationId ?? "")
            contentTypes.append(m.properties.contentType ?? "")
            headers.append(h.isEmpty ? "{}" : String(decoding: try Self.headerEncoder.encode(h), as: UTF8.self))
            bodies.append(ByteBuffer(bytes: m.body))
        }
    }


    static let headerEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()
}

/// The relay's round: due rows, locked so that several instances relay side by side.
struct OutboxDue: PostgresPreparedStatement {
    static let sql = """
        SELECT id, exchange, routing_key, message_id, message_type, correlation_id, content_type, headers, body, attempts,
               traceparent, priority
        FROM outbox WHERE next_attempt_at <= now()
        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
        """
    typealias Row = (Int64, String, String, String, String?, String?, String?, String, ByteBuffer, Int32, String?, Int16?)
    var limit: Int64
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(limit)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode((Int64, String, String, String, String?, String?, String?, String, ByteBuffer, Int32, String?, Int16?).self)
    }
}

/// Confirmed rows leave the outbox.
struct OutboxDelete: PostgresPreparedStatement {
    static let sql = "DELETE FROM outbox WHERE id = ANY($1::int8[])"
    typealias Row = ()
    var ids: [Int64]
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(ids)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// A wake-up signal: `notify()` from any task, `wait(upTo:)` in one consumer task.
final class AsyncSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextId: UInt64 = 0
    }
    private let state = Mutex(State())

    func notify() {
        let w = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w.continuation
            }
            s.pending = true
            return nil
        }
        w?.resume()
    }

    /// Returns when notified (or already notified since the last wait), or after `timeout`.
    func wait(upTo timeout: Duration) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let id = state.withLock { s -> UInt64? in
                if s.pending {
                    s.pending = false
                    return nil
                }
                s.nextId += 1
                s.waiter = (s.nextId, c)
                return s.nextId
            }
            guard let id else { return c.resume() }
            Task { [self] in
                try? await Task.sleep(for: timeout)
                let w = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    guard let w = s.waiter, w.id == id else { return nil }
                    s.waiter = nil
                    return w.continuation
                }
                w?.resume()
            }
        }
    }
}

/// Publishes outbox rows with publisher confirms and deletes them once confirmed.
///
/// Each round locks up to `batch` due rows (`FOR UPDATE SKIP LOCKED`, so several instances can
/// relay side by side), publishes them, and in the same transaction deletes the confirmed ones
/// and reschedules the rest with backoff. A crash between publish and commit publishes those rows
/// again: delivery is at least once, and consumers deduplicate on the message id.
public final class OutboxRelay: Service, Sendable {
    let postgres: PostgresClient
    let amqp: AMQPConnection
    let schema: String
    let batch: Int
    let logger: Logger
    let signal = AsyncSignal()
    let published: Counter
    let failures: Counter

    /// The broker user the relay publishes as (stamped as `user_id` on every message).
    let publisherUser: String?

    public init(
        postgres: PostgresClient, amqp: AMQPConnection, schema: String, batch: Int, publisherUser: String?, logger: Logger
    ) {
        self.publisherUser = publisherUser
        self.postgres = postgres
        self.amqp = amqp
        self.schema = schema
        self.batch = batch
        var l = logger
        l[metadataKey: "component"] = "outbox-relay"
        self.logger = l
        published = Counter(label: "ot_outbox_published_total", dimensions: [("service", schema)])
        failures = Counter(label: "ot_outbox_publish_failures_total", dimensions: [("service", schema)])
    }

    /// Wakes the relay after a transaction wrote outbox rows.
    public func notify() { signal.notify() }

    public func run() async throws {
        var backoff = Duration.milliseconds(50)
        var draining = false
        await withGracefulShutdownHandler {
            while true {
                if Task.isCancelled { return }
                do {
                    let n = try await relayOnce()
                    backoff = .milliseconds(50)
                    if n >= batch { continue }
                    if draining || Task.isShuttingDownGracefully {
                        // One last pass after shutdown began, to publish what the consumers' final
                        // transactions wrote; then stop.
                        if draining { return }
                        draining = true
                        continue
                    }
                    await signal.wait(upTo: .milliseconds(250))
                } catch {
                    if Task.isShuttingDownGracefully { return }
                    logger.warning("outbox relay round failed; retrying", metadata: ["error": "\(error)", "retry.in": "\(backoff)"])
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(2))
                }
            }
        } onGracefulShutdown: {
            self.signal.notify()
        }
    }

    /// Publishes one round of due rows; returns how many rows it handled.
    @discardableResult
    public func relayOnce() async throws -> Int {
        try await relayRound()
    }

    /// Publishes each message on its own; a message that fails is rescheduled with backoff
    /// (and logged) and reported as nil: the caller leaves its row alone.
    private func publishSeparately(
        _ messages: [OutgoingMessage], ids: [Int64], attempts: [Int32], _ conn: PostgresConnection
    ) async throws -> [PublishOutcome?] {
        var outcomes: [PublishOutcome?] = []
        for (i, m) in messages.enumerated() {
            do {
                outcomes.append(try await amqp.publish(m))
            } catch where amqp.isConnected {
                failures.increment()
                let delaySeconds = min(3600, 1 << min(Int(attempts[i]) + 2, 12))
                logger.error(
                    "outbox message cannot be published; it waits and is tried again",
                    metadata: [
                        "message.id": "\(m.properties.messageId ?? "")", "routing.key": "\(m.routingKey)",
                        "error": "\(LogSafe.escape("\(error)"))", "attempt": "\(attempts[i] + 1)", "retry.in.s": "\(delaySeconds)",
                    ])
                let reason = String(LogSafe.escape("\(error)").prefix(500))
                try await conn.query(
                    """
                    UPDATE outbox SET attempts = attempts + 1, last_error = \(reason),
                        next_attempt_at = now() + make_interval(secs => \(Double(delaySeconds)))
                    WHERE id = \(ids[i])
                    """, logger: logger)
                outcomes.append(nil)
            }
        }
        return outcomes
    }

    private func relayRound() async throws -> Int {
        let s = schema
        let user = publisherUser
        return try await postgres.withTransaction(within: .seconds(30), "outbox relay round", logger: logger) { [self] conn in
            var ids: [Int64] = []
            var attempts: [Int32] = []
            var messages: [OutgoingMessage] = []
            let now = UInt64(Date().timeIntervalSince1970)
            for try await (id, exchange, routingKey, messageId, type, correlationId, contentType, headersJSON, body, attempt, trace, priority)
                in try await conn.execute(OutboxDue(limit: Int64(batch)), logger: logger)
            {
                var headers: [String: FieldValue] = [:]
                if let trace { headers[Headers.traceparent] = .string(trace) }
                if headersJSON != "{}", let dict = try? JSONDecoder().decode([String: String].self, from: Data(headersJSON.utf8)) {
                    for (k, v) in dict { headers[k] = .string(v) }
                }
                let props = MessageProperties(
                    contentType: contentType, headers: headers, deliveryMode: 2, priority: priority.flatMap { UInt8(exactly: $0) },
                    correlationId: correlationId,
                    messageId: messageId, timestamp: now, type: type, userId: user, appId: s)
                messages.append(
                    OutgoingMessage(exchange: exchange, routingKey: routingKey, body: Array(buffer: body), properties: props))
                ids.append(id)
                attempts.append(attempt)
            }
            if messages.isEmpty { return 0 }
            let outcomes: [PublishOutcome?]
            do {
                outcomes = try await amqp.publish(messages)
            } catch where amqp.isConnected {
                // One message the broker or the client library refuses must not hold up the rest:
                // publish them one by one; the ones that fail wait (with backoff) on their own.
                outcomes = try await publishSeparately(messages, ids: ids, attempts: attempts, conn)
            }
            var done: [Int64] = []
            for (i, outcome) in outcomes.enumerated() {
                guard let outcome else { continue }
                switch outcome {
                case .confirmed:
                    done.append(ids[i])
                case .returned, .nacked:
                    let reason: String
                    if case .returned(let code, let text) = outcome {
                        reason = "unroutable: \(code) \(text)"
                    } else {
                        reason = "nacked by broker"
                    }
                    failures.increment()
                    let delaySeconds = min(300, 1 << min(Int(attempts[i]), 8))
                    logger.error(
                        "outbox message not delivered; will retry",
                        metadata: [
                            "message.id": "\(messages[i].properties.messageId ?? "")", "routing.key": "\(messages[i].routingKey)",
                            "reason": "\(reason)", "attempt": "\(attempts[i] + 1)",
                        ])
                    try await conn.query(
                        """
                        UPDATE outbox SET attempts = attempts + 1, last_error = \(reason),
                            next_attempt_at = now() + make_interval(secs => \(Double(delaySeconds)))
                        WHERE id = \(ids[i])
                        """, logger: logger)
                }
            }
            if !done.isEmpty {
                try await conn.run(OutboxDelete(ids: done), logger: logger)
                published.increment(by: done.count)
            }
            return messages.count
        }
    }
}
