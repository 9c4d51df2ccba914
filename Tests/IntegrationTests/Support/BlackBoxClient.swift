import AMQP
import Contracts
import Foundation
import PostgresNIO
import Runtime
import Synchronization

// Helpers of the black-box suites (fault injection, fuzzing, provenance): a seeded random
// generator, hard kills, management API reads, a publisher that insists like a real client, and
// an event tap that deduplicates by envelope id.

/// SplitMix64: a small, fast, seeded generator, so that a run can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed in the environment variable `name`, or a fresh one (short enough to retype).
    static func seed(from name: String) -> UInt64 {
        if let text = ProcessInfo.processInfo.environment[name], let seed = UInt64(text) { return seed }
        return UInt64.random(in: 1...999_999_999)
    }

    /// A uniformly drawn double in `range`.
    mutating func double(in range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// An element drawn with the given weights.
    mutating func weighted<T>(_ choices: [(T, Int)]) -> T {
        let total = choices.reduce(0) { $0 + $1.1 }
        var r = Int.random(in: 0..<total, using: &self)
        for (value, weight) in choices {
            if r < weight { return value }
            r -= weight
        }
        return choices[choices.count - 1].0
    }
}

/// Integer settings of a test run from the environment.
enum TestSetting {
    static func int(_ name: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? value
    }
}

/// Seconds since `start`, for progress lines (`+12.3s`).
func elapsed(since start: ContinuousClock.Instant) -> String {
    "+\(oneDecimal(seconds(ContinuousClock.now - start)))s"
}

/// `12.3`.
func oneDecimal(_ x: Double) -> String { String(format: "%.1f", x) }

/// A duration in seconds.
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// Runs `shell` on a thread of its own, so that a long script (a broker restart takes seconds)
/// does not hold one of the few threads of the cooperative pool.
func shellOffPool(_ args: [String]) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do {
                continuation.resume(returning: try shell(args))
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

extension ServiceProcess {
    /// `kill -9`: no drain, no clean-up, no goodbye; returns once the process is gone (reaped).
    func killHard() async {
        Foundation.kill(pid, SIGKILL)
        _ = await eventually(timeout: .seconds(10), every: .milliseconds(20)) { !isRunning }
    }
}

extension TestSystem {
    /// A GET on the management API; the response body.
    func managementGET(_ path: String) throws -> String {
        let r = try shell([
            "curl", "-sf", "-u", "\(LocalServers.amqpUser):\(LocalServers.amqpPassword)", LocalServers.managementURL + path,
        ])
        if r.status != 0 { throw TestFailure("management API GET \(path) failed: \(r.output)") }
        return r.output
    }

    /// The number of messages in a queue of the test vhost as the management API reports it
    /// (its statistics lag by a few seconds); nil when it does not say yet.
    func managementQueueMessages(_ queue: String) throws -> Int? {
        let vhost = vhost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? vhost
        let body = try managementGET("/api/queues/\(vhost)/\(queue)")
        let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return (json?["messages"] as? NSNumber)?.intValue
    }

    /// The first column of every row of a query on the test database, as text.
    func strings(_ sql: String) async throws -> [String] {
        try await Self.withConnection(database: database) { conn in
            var out: [String] = []
            for try await v in try await conn.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(String.self) { out.append(v) }
            return out
        }
    }

    /// Rows of a service's `outbox` and `parked` tables (the service kit's own tables).
    func pendingRows(_ service: String) async throws -> (outbox: Int, parked: Int) {
        (
            try await count("SELECT count(*)::int8 FROM \(service).outbox"),
            try await count("SELECT count(*)::int8 FROM \(service).parked")
        )
    }

    /// What the parked rows of a service wait for, for a failure message: the subject, whether
    /// it exists by now, whether the row is woken, how often it ran, and whether another
    /// transaction holds it.
    func parkedDiagnosis(_ service: String, limit: Int = 10) async throws -> [String] {
        try await strings(
            """
            SELECT format('%s on %s/%s (alias %s): subject %s, wake_at %s, attempts %s, expires %s, locked %s',
                p.message_id, p.kind, p.key, p.key_is_alias,
                CASE WHEN p.key_is_alias THEN EXISTS (SELECT 1 FROM \(service).aliases l WHERE l.kind = p.kind AND l.alias = p.key)
                     ELSE EXISTS (SELECT 1 FROM \(service).aggregates a WHERE a.kind = p.kind AND a.id = p.key) END,
                coalesce(p.wake_at::text, 'null'), p.attempts, p.expires_at,
                NOT EXISTS (SELECT 1 FROM \(service).parked q WHERE q.message_id = p.message_id FOR UPDATE SKIP LOCKED))
            FROM \(service).parked p ORDER BY p.parked_at LIMIT \(limit)
            """)
    }
}

/// The envelope attributes and the data fields the black-box suites read from an event.
struct EventProbe: Decodable, Sendable {
    var id: String
    var type: String
    var source: String?
    var correlationid: String?
    var causationid: String?
    var data: Fields?

    struct Fields: Decodable, Sendable {
        var workOrderId: String?
        var prefacturaId: String?
        var invoiceId: String?
        var chargeId: String?
        var requestId: String?
        var amount: Money?
        var kind: String?
        var commandId: String?
        var commandType: String?
        var code: String?
        var message: String?
    }

    /// The service that published it (`/ot/<service>`).
    var service: String? { source.map { $0.hasPrefix("/ot/") ? String($0.dropFirst(4)) : $0 } }
}

/// Watches `ot.events` through its own durable quorum queue (it survives broker restarts; the
/// connection resubscribes by itself) and hands every event to `handle` once per envelope id,
/// as every consumer must deduplicate.
final class EventTap: Sendable {
    private struct State {
        var ids: Set<String> = []
        var events: [EventProbe] = []
        var deliveries = 0
        var undecodable: [String] = []
        var lastEventAt = ContinuousClock.now
    }
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts consuming at once; `handle` runs on the tap's task, once per distinct event.
    init(system: TestSystem, queue: String, keys: [String] = ["#"], handle: @escaping @Sendable (EventProbe) -> Void = { _ in }) async throws {
        let conn = try await system.connect(queue)
        try await conn.declare(
            Topology(queues: [.quorum(queue)], bindings: keys.map { .init(queue: queue, exchange: PlatformTopology.events, routingKey: $0) }))
        let consumer = try await conn.consume(queue: queue, prefetch: 1000)
        let t = Task { [self] in
            let decoder = JSONDecoder()
            for await d in consumer.deliveries {
                let probe = try? decoder.decode(EventProbe.self, from: Data(d.body))
                let fresh = state.withLock { s -> Bool in
                    s.deliveries += 1
                    s.lastEventAt = .now
                    guard let probe else {
                        s.undecodable.append("\(d.routingKey) \(d.properties.messageId ?? "?") (\(d.body.count) bytes)")
                        return false
                    }
                    guard s.ids.insert(probe.id).inserted else { return false }
                    s.events.append(probe)
                    return true
                }
                if fresh, let probe { handle(probe) }
                conn.ack(d)
            }
        }
        task.withLock { $0 = t }
    }

    /// Every distinct event so far.
    var events: [EventProbe] { state.withLock { $0.events } }
    func events(_ type: String) -> [EventProbe] { state.withLock { $0.events.filter { $0.type == type } } }
    func count(_ type: String) -> Int { state.withLock { $0.events.reduce(0) { $0 + ($1.type == type ? 1 : 0) } } }
    /// Deliveries, duplicates included.
    var deliveries: Int { state.withLock { $0.deliveries } }
    /// Deliveries that were not an envelope this tap could read.
    var undecodable: [String] { state.withLock { $0.undecodable } }
    var lastEventAt: ContinuousClock.Instant { state.withLock { $0.lastEventAt } }
}

/// Publishes the way a careful client does: every message with a publisher confirm; a message
/// whose publish throws (connection lost, broker restarting) or is not confirmed is published
/// again after a pause under the same message id, until it is confirmed — the services
/// deduplicate by id. Each message goes through the connection of a user allowed to send it
/// (``CommandSender``).
final class ReliablePublisher: Sendable {
    private struct State {
        var pending: [OutgoingMessage] = []
        var inFlight = 0
        var confirmed = 0
        var republished = 0
        var lastError: String?
    }
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)
    let sender: CommandSender

    init(sender: CommandSender) {
        self.sender = sender
        let t = Task { [self] in await run() }
        task.withLock { $0 = t }
    }

    func enqueue(_ messages: [OutgoingMessage]) {
        state.withLock { $0.pending.append(contentsOf: messages) }
    }

    /// Nothing waits to be published or confirmed.
    var isIdle: Bool { state.withLock { $0.pending.isEmpty && $0.inFlight == 0 } }
    var confirmed: Int { state.withLock { $0.confirmed } }
    /// Publishes that failed or were not confirmed, and were published again.
    var republished: Int { state.withLock { $0.republished } }
    var lastError: String? { state.withLock { $0.lastError } }

    /// Waits until everything enqueued is confirmed (or the timeout passes).
    func drain(timeout: Duration) async -> Bool {
        await eventually(timeout: timeout, every: .milliseconds(20)) { isIdle }
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }

    private func run() async {
        while !Task.isCancelled {
            let batch = state.withLock { s -> [OutgoingMessage] in
                let b = Array(s.pending.prefix(200))
                s.pending.removeFirst(b.count)
                s.inFlight = b.count
                return b
            }
            if batch.isEmpty {
                try? await Task.sleep(for: .milliseconds(10))
                continue
            }
            // One publish call per user (order does not matter to a client that reacts to events).
            var groups: [(AMQPConnection, [OutgoingMessage])] = []
            for m in batch {
                let c = m.properties.userId.flatMap { sender.connections[$0] } ?? sender.connection(for: m.routingKey)
                if let i = groups.firstIndex(where: { $0.0 === c }) { groups[i].1.append(m) } else { groups.append((c, [m])) }
            }
            var failed: [OutgoingMessage] = []
            var error: String?
            for (c, group) in groups {
                do {
                    let outcomes = try await c.publish(group)
                    for (m, o) in zip(group, outcomes) where o != .confirmed {
                        failed.append(m)
                        error = "\(o)"
                    }
                } catch let e {
                    failed += group
                    error = "\(e)"
                }
            }
            state.withLock { s in
                s.confirmed += batch.count - failed.count
                s.republished += failed.count
                s.pending.insert(contentsOf: failed, at: 0)
                s.inFlight = 0
                if let error { s.lastError = error }
            }
            if !failed.isEmpty { try? await Task.sleep(for: .milliseconds(250)) }
        }
    }
}
