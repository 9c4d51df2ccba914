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
struct OutboxRows: Sendable {
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


    var count: Int { ids.count }

    mutating func append(_ other: OutboxRows) {
        exchanges += other.exchanges
        keys += other.keys
        ids += other.ids
        types += other.types
        correlations += other.correlations
        contentTypes += other.contentTypes
        headers += other.headers
        traceparents += other.traceparents
        priorities += other.priorities
        bodies += other.bodies
    }

    /// Row `i` as the relay publishes it — the same message whether it comes from memory
    /// (``OutboxHandOff``) or from the table.
    func message(_ i: Int, relay: OutboxRelay, timestamp: UInt64) -> OutgoingMessage {
        func nonEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }
        return relay.message(
            exchange: exchanges[i], routingKey: keys[i], messageId: ids[i], type: nonEmpty(types[i]),
            correlationId: nonEmpty(correlations[i]), contentType: nonEmpty(contentTypes[i]), headersJSON: headers[i],
            body: bodies[i], traceparent: nonEmpty(traceparents[i]), priority: priorities[i] < 0 ? nil : priorities[i],
            timestamp: timestamp)
    }

    static let headerEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()
}

/// The outbox rows a committed batch wrote, with their ids in the same order: handed to the
/// relay in memory, which publishes them at once and deletes the confirmed ones, with no round
/// trip to read them back. The rows were written due ``OutboxRelay/handOffLease`` later, so the
/// relay's polling round (the path for retries and for rows a crash left behind) leaves them to
/// this path meanwhile.
struct OutboxHandOff: Sendable {
    var rows = OutboxRows()
    var ids: [Int64] = []
    /// When the relay received it (set by ``OutboxRelay/handOff(_:)``).
    var at: ContinuousClock.Instant?

    var isEmpty: Bool { ids.isEmpty }

    mutating func append(_ other: OutboxHandOff) {
        rows.append(other.rows)
        ids += other.ids
    }
}

/// Published rows leave the outbox without waiting for the commit to reach the disk (in the
/// polling round, the whole round's transaction): a delete a crash loses only publishes its rows
/// again, and delivery is at least once anyway.
struct OutboxDeletePublished: PostgresPreparedStatement {
    static let sql = """
        WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
        DELETE FROM outbox WHERE id = ANY($1::int8[]) AND EXISTS (SELECT 1 FROM relaxed)
        """
    typealias Row = ()
    var ids: [Int64]
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(ids)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
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
/// Two paths. The rows a batch of this process committed are handed over in memory
/// (``handOff(_:)``): the relay publishes them at once, in commit order, and deletes the confirmed
/// ones in one statement. Everything else — a row whose publish failed or was returned, the rows
/// of a process that crashed before publishing, of another instance, or handed over while the
/// relay was too far behind — is found by the polling round: every second (and at once after a
/// full round) it locks up to `batch` due rows (`FOR UPDATE SKIP LOCKED`, so several instances
/// can relay side by side), publishes them, and in the same transaction deletes the confirmed
/// ones and reschedules the rest with backoff. Fresh rows are written due ``handOffLease`` later,
/// so the polling round takes them only if the hand-over did not publish them by then. A crash
/// between publish and delete publishes those rows again: delivery is at least once, and
/// consumers deduplicate on the message id.
public final class OutboxRelay: Service, Sendable {
    let postgres: PostgresClient
    let amqp: AMQPConnection
    let schema: String
    let batch: Int
    let logger: Logger
    let signal = AsyncSignal()
    /// Rows published by the polling round (`path="poll"`): in a healthy service only retries and
    /// what a crash left behind.
    let polled: Counter
    /// Rows published from a committed batch's hand-over (`path="handover"`).
    let handedOver: Counter
    let failures: Counter

    /// The broker user the relay publishes as (stamped as `user_id` on every message).
    let publisherUser: String?

    /// How long a fresh row is left to the hand-over before the polling round takes it.
    public static let handOffLease: Duration = .seconds(5)
    /// A hand-over older than this is left to the polling round (it would take it soon).
    static let handOffMaxAge: Duration = .milliseconds(2500)
    /// Rows held in memory at most; past it, hand-overs are left to the polling round.
    static let handOffLimit = 20_000
    /// The polling round's period while nothing else wakes it.
    static let pollPeriod: Duration = .seconds(1)

    private struct Pending {
        var handOffs: [OutboxHandOff] = []
        var rows = 0
    }
    private let pending = Mutex(Pending())

    /// How long the ids of confirmed hand-over rows wait to be deleted together (or until
    /// `batch` of them wait): at a moderate rate, one statement per batch of a consumer would
    /// otherwise be a delete. A crash before the delete publishes those rows again, as any crash
    /// between publish and delete does.
    static let deleteDelay: Duration = .milliseconds(100)
    private struct Confirmed {
        var ids: [Int64] = []
        var since: ContinuousClock.Instant?
    }
    private let confirmed = Mutex(Confirmed())

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
        polled = Counter(label: "ot_outbox_published_total", dimensions: [("service", schema), ("path", "poll")])
        handedOver = Counter(label: "ot_outbox_published_total", dimensions: [("service", schema), ("path", "handover")])
        failures = Counter(label: "ot_outbox_publish_failures_total", dimensions: [("service", schema)])
    }

    /// The rows a batch committed, for the relay to publish at once (after the commit only).
    func handOff(_ h: OutboxHandOff) {
        guard !h.isEmpty else { return }
        guard h.ids.count == h.rows.count else {
            // Never expected; the polling round publishes them once the lease ends.
            logger.warning("outbox hand-over without one id per row; left to the polling round")
            return
        }
        var h = h
        h.at = .now
        let taken = pending.withLock { p -> Bool in
            guard p.rows + h.ids.count <= Self.handOffLimit || p.rows == 0 else { return false }
            p.handOffs.append(h)
            p.rows += h.ids.count
            return true
        }
        if taken { signal.notify() } else { logger.debug("outbox relay behind; rows left to the polling round") }
    }

    public func run() async throws {
        var backoff = Duration.milliseconds(50)
        var draining = false
        var nextPoll = ContinuousClock.now
        await withGracefulShutdownHandler {
            while true {
                if Task.isCancelled { return }
                do {
                    var busy = try await publishHandedOff() > 0
                    let deleteAt = confirmed.withLock { $0.since.map { $0 + Self.deleteDelay } }
                    if let deleteAt, ContinuousClock.now >= deleteAt || draining { try await deleteConfirmed() }
                    if ContinuousClock.now >= nextPoll || draining {
                        let n = try await relayRound()
                        nextPoll = n >= batch ? .now : .now + Self.pollPeriod
                        busy = busy || n >= batch
                    }
                    backoff = .milliseconds(50)
                    if busy { continue }
                    if draining || Task.isShuttingDownGracefully {
                        // One last pass after shutdown began, to publish what the consumers' final
                        // transactions wrote; then stop.
                        if draining { return }
                        draining = true
                        continue
                    }
                    let wake = confirmed.withLock { $0.since.map { $0 + Self.deleteDelay } } ?? nextPoll
                    await signal.wait(upTo: max(.milliseconds(1), min(.milliseconds(250), nextPoll - .now, wake - .now)))
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

    /// Publishes what was handed over, then one polling round; returns how many rows it handled.
    @discardableResult
    public func relayOnce() async throws -> Int {
        var n = 0
        while case let m = try await publishHandedOff(), m > 0 { n += m }
        try await deleteConfirmed()
        return try await n + relayRound()
    }

    /// One message as the relay publishes it, from the columns of its outbox row.
    func message(
        exchange: String, routingKey: String, messageId: String, type: String?, correlationId: String?, contentType: String?,
        headersJSON: String, body: ByteBuffer, traceparent: String?, priority: Int16?, timestamp: UInt64
    ) -> OutgoingMessage {
        var headers: [String: FieldValue] = [:]
        if let traceparent { headers[Headers.traceparent] = .string(traceparent) }
        if headersJSON != "{}", let dict = try? JSONDecoder().decode([String: String].self, from: Data(headersJSON.utf8)) {
            for (k, v) in dict { headers[k] = .string(v) }
        }
        let props = MessageProperties(
            contentType: contentType, headers: headers, deliveryMode: 2, priority: priority.flatMap { UInt8(exactly: $0) },
            correlationId: correlationId, messageId: messageId, timestamp: timestamp, type: type, userId: publisherUser,
            appId: schema)
        return OutgoingMessage(exchange: exchange, routingKey: routingKey, body: Array(buffer: body), properties: props)
    }

    /// Whole hand-overs, oldest first, up to about `batch` rows.
    private func takeHandedOff() -> [OutboxHandOff] {
        pending.withLock { p in
            var taken = 0
            var n = 0
            while n < p.handOffs.count && (n == 0 || taken + p.handOffs[n].ids.count <= batch) {
                taken += p.handOffs[n].ids.count
                n += 1
            }
            let out = Array(p.handOffs.prefix(n))
            p.handOffs.removeFirst(n)
            p.rows -= taken
            return out
        }
    }

    /// Publishes rows handed over by committed batches and deletes the confirmed ones; a row
    /// that is not confirmed stays for the polling round (which retries it with backoff). Returns
    /// how many rows it took.
    private func publishHandedOff() async throws -> Int {
        let taken = takeHandedOff()
        if taken.isEmpty { return 0 }
        let timestamp = UInt64(Date().timeIntervalSince1970)
        var messages: [OutgoingMessage] = []
        var ids: [Int64] = []
        var stale = 0
        for h in taken {
            if let at = h.at, ContinuousClock.now - at > Self.handOffMaxAge {
                stale += h.ids.count
                continue
            }
            for i in 0..<h.rows.count { messages.append(h.rows.message(i, relay: self, timestamp: timestamp)) }
            ids += h.ids
        }
        if stale > 0 { logger.debug("outbox hand-over too old; left to the polling round", metadata: ["rows": "\(stale)"]) }
        if messages.isEmpty { return stale }
        let outcomes = try await amqp.publish(messages)
        var done: [Int64] = []
        done.reserveCapacity(ids.count)
        for (i, outcome) in outcomes.enumerated() where outcome == .confirmed { done.append(ids[i]) }
        if done.count < ids.count {
            logger.warning(
                "outbox messages not confirmed; the polling round retries them",
                metadata: ["rows": "\(ids.count - done.count)", "lease": "\(Self.handOffLease)"])
        }
        if !done.isEmpty {
            handedOver.increment(by: done.count)
            let full = confirmed.withLock { c -> Bool in
                c.ids += done
                c.since = c.since ?? .now
                return c.ids.count >= batch
            }
            if full { try await deleteConfirmed() }
        }
        return taken.reduce(0) { $0 + $1.ids.count }
    }

    /// Deletes the rows confirmed since the last delete, in one statement. On failure the ids
    /// wait for the next try (and a row the polling round takes meanwhile is published again).
    func deleteConfirmed() async throws {
        let ids = confirmed.withLock { c -> [Int64] in
            defer { c = Confirmed() }
            return c.ids
        }
        if ids.isEmpty { return }
        do {
            let delete = OutboxDeletePublished(ids: ids)
            try await postgres.withConnection(within: .seconds(30), "outbox delete") { conn in
                try await conn.run(delete, logger: self.logger)
            }
        } catch {
            confirmed.withLock { c in
                c.ids = ids + c.ids
                c.since = c.since ?? .now
            }
            throw error
        }
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
        try await postgres.withTransaction(within: .seconds(30), "outbox relay round", logger: logger) { [self] conn in
            var ids: [Int64] = []
            var attempts: [Int32] = []
            var messages: [OutgoingMessage] = []
            let now = UInt64(Date().timeIntervalSince1970)
            for try await (id, exchange, routingKey, messageId, type, correlationId, contentType, headersJSON, body, attempt, trace, priority)
                in try await conn.execute(OutboxDue(limit: Int64(batch)), logger: logger)
            {
                messages.append(
                    message(
                        exchange: exchange, routingKey: routingKey, messageId: messageId, type: type, correlationId: correlationId,
                        contentType: contentType, headersJSON: headersJSON, body: body, traceparent: trace, priority: priority,
                        timestamp: now))
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
                try await conn.run(OutboxDeletePublished(ids: done), logger: logger)
                polled.increment(by: done.count)
            }
            return messages.count
        }
    }
}
