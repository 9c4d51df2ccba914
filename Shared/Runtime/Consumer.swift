import AMQP
import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Consumes one input queue of a service: decodes each delivery and checks its provenance, runs
/// the batch through the service kit (inbox, load, decide, save, outbox in one transaction), and
/// acknowledges after commit.
///
/// Deliveries are handled in batches (up to `BATCH_SIZE`, waiting at most `BATCH_WAIT_MS` for a
/// partial batch) by `WORKERS` concurrent workers. Every delivery ends in exactly one way:
/// - handled (its decisions saved, its events in the outbox), or a duplicate of a handled one;
/// - rejected (malformed, unknown type, missing field, a broken rule, a refused publisher): one
///   `command.rejected` for commands and one dead letter in `<service>.dead`, nothing else saved;
/// - parked: a command naming a subject not known yet waits in the service's database and runs
///   again when the subject appears (``Rejection/mayBeLate``);
/// - on a transient failure (database or broker down) the batch goes to a delay queue
///   (`<queue>.delay.<n>`, a quorum queue that dead-letters back at least once) with an attempt
///   counter; after `MAX_ATTEMPTS` it is dead-lettered with the last error.
public final class MessageConsumer: Service, Sendable {
    let input: InputQueue
    let service: String
    let amqp: AMQPConnection
    let runner: BatchRunner
    let provenance: Provenance
    let configuration: ServiceConfiguration
    let logger: Logger
    let metrics: ConsumerMetrics

    init(
        input: InputQueue, configuration: ServiceConfiguration, amqp: AMQPConnection, runner: BatchRunner,
        provenance: Provenance, logger: Logger
    ) {
        self.input = input
        self.service = configuration.name
        self.amqp = amqp
        self.runner = runner
        self.provenance = provenance
        self.configuration = configuration
        var l = logger
        l[metadataKey: "amqp.queue"] = "\(input.name)"
        self.logger = l
        self.metrics = ConsumerMetrics(service: configuration.name)
    }

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
                        while let (batch, turn) = await buffer.takeBatch(max: configuration.batchSize, wait: configuration.batchWait) {
                            await process(batch, turn: turn)
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

    func parse(_ d: Delivery) -> WorkItem {
        MessageParser(provenance: provenance).parse(RawMessage(d, queue: input.name), origin: .delivery)
    }

    // MARK: Processing

    /// Runs a batch; `turn` is its place in the queue's load order (released here at the latest).
    func process(_ deliveries: [Delivery], turn: LoadTurn? = nil) async {
        let items = deliveries.map(parse)
        let start = ContinuousClock.now
        defer { turn?.release() }
        do {
            let report = try await runner.run(turn: turn) { _, _ in items }
            for d in deliveries { amqp.ack(d) }
            for (item, outcome) in zip(items, report.outcomes) { metrics.count(type: item.type, outcome: outcome.label) }
            metrics.batchSeconds.record(duration: ContinuousClock.now - start)
        } catch {
            logger.warning(
                "batch failed with a transient error; scheduling retries",
                metadata: ["error": "\(LogSafe.escape(String(reflecting: error)))", "batch.size": "\(deliveries.count)"])
            for (d, item) in zip(deliveries, items) { await retry(d, item: item, error: error) }
        }
    }

    /// How many times this delivery has been handled, this one included.
    func attempt(_ d: Delivery) -> Int { Int(d.properties.headers[Headers.attempt]?.intValue ?? 1) }

    /// Sends a delivery to its next delay queue (or to the dead-letter queue once attempts are
    /// exhausted), then acknowledges it. If the broker is unreachable too, the delivery stays
    /// unacknowledged and the broker redelivers it after the reconnect.
    func retry(_ d: Delivery, item: WorkItem, error: any Error) async {
        let attempt = attempt(d)
        var message: OutgoingMessage
        if attempt >= configuration.maxAttempts {
            message = runner.engine.deadLetter(
                RawMessage(d, queue: input.name), code: Rejection.Code.retriesExhausted.description,
                reason: "gave up after \(attempt) attempts: \(error)", sender: item.sender, now: runner.clock.now())
            Counter(label: "ot_dead_letters_total", dimensions: [("service", service), ("code", "retriesExhausted")]).increment()
        } else {
            let level = min(attempt - 1, configuration.retryDelays.count - 1)
            var props = d.properties
            props.headers[Headers.attempt] = .int(Int64(attempt + 1))
            props.headers[Headers.lastError] = .string(String(LogSafe.escape("\(error)").prefix(500)))
            if let sender = item.sender { props.headers[Provenance.userHeader] = .string(sender) }
            message = OutgoingMessage(exchange: "", routingKey: input.delayQueueName(level: level), body: d.body, properties: props)
            Counter(label: "ot_retries_total", dimensions: [("service", service)]).increment()
        }
        message.properties.userId = provenance.ownUser
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
///
/// A worker that takes less than a full batch waits out the batch window for more, and while it
/// does, the deliveries that arrive are its own: no other worker is woken for them, and the window
/// ends as soon as they fill its batch. Otherwise each delivery of a moderate stream would wake
/// the next idle worker for a batch of one or two, and the fixed cost of a transaction would be
/// paid per message.
///
/// Each batch holds a run of consecutive deliveries and gets the next turn of the queue's
/// ``LoadOrder``, so that batches load (and apply) in delivery order. A worker that takes
/// deliveries while another collects (it came back from a batch) ends that one's window: what the
/// collector would add now came after what this worker took.
final class DeliveryBuffer: Sendable {
    private struct State {
        var items: [Delivery] = []
        var head = 0
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// How many more deliveries the worker waiting out its window wants, if one does.
        var collecting: Int?
        /// Numbers the windows, so that a window's timer cannot end a later one.
        var window = 0
        /// The current window has ended (early, or its time is up).
        var windowEnded = false
        /// The collecting worker, once it waits.
        var collector: CheckedContinuation<Void, Never>?
        /// Batches taken so far.
        var takes = 0

        var pending: Int { items.count - head }

        /// Ends the current window: returns the collecting worker to resume, if it waits.
        mutating func endWindow() -> CheckedContinuation<Void, Never>? {
            guard collecting != nil else { return nil }
            windowEnded = true
            defer { collector = nil }
            return collector
        }

        /// Whom a new delivery wakes: the collecting worker once its batch is full, else (while
        /// no worker collects) the next idle one.
        mutating func toWake() -> CheckedContinuation<Void, Never>? {
            guard pending > 0 else { return nil }
            if let need = collecting { return pending >= need ? endWindow() : nil }
            return waiters.isEmpty ? nil : waiters.removeFirst()
        }

        mutating func take(_ max: Int) -> [Delivery] {
            let n = min(max, pending)
            guard n > 0 else { return [] }
            let out = Array(items[head..<(head + n)])
            head += n
            takes += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1024 {
                items.removeFirst(head)
                head = 0
            }
            return out
        }
    }
    private let state = Mutex(State())
    let order: LoadOrder

    init(order: LoadOrder = LoadOrder()) { self.order = order }

    /// Whether a worker is waiting out its batch window (for tests).
    var isCollecting: Bool { state.withLock { $0.collecting != nil } }

    func push(_ d: Delivery) {
        let waiter = state.withLock { s in
            s.items.append(d)
            return s.toWake()
        }
        waiter?.resume()
    }

    func finish() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.finished = true
            let w = s.waiters + [s.endWindow()].compactMap { $0 }
            s.waiters.removeAll()
            return w
        }
        for w in waiters { w.resume() }
    }

    /// The time of window `number` is up.
    private func windowTimeUp(_ number: Int) {
        let collector = state.withLock { s in s.window == number ? s.endWindow() : nil }
        collector?.resume()
    }

    /// The next batch and its turn to load, or nil once the buffer is finished and empty.
    func takeBatch(max: Int, wait: Duration) async -> (deliveries: [Delivery], turn: LoadTurn)? {
        while true {
            let (first, turn, window, takes, interrupted) = state.withLock {
                s -> ([Delivery], LoadTurn?, Int?, Int, CheckedContinuation<Void, Never>?) in
                let batch = s.take(max)
                guard !batch.isEmpty else { return (batch, nil, nil, s.takes, nil) }
                let turn = order.issue()
                // Less than a full batch: wait for more, unless another worker already does.
                guard wait > .zero, s.collecting == nil, !s.finished, batch.count < max else {
                    return (batch, turn, nil, s.takes, s.endWindow())
                }
                s.collecting = max - batch.count
                s.window += 1
                s.windowEnded = false
                return (batch, turn, s.window, s.takes, nil)
            }
            interrupted?.resume()
            if let turn {
                guard let window else { return (first, turn) }
                // The window: a continuation that the timer, a full batch, another worker's take or
                // the end of the buffer resumes (a sleeping task could not be woken early).
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let ended = state.withLock { s -> Bool in
                        if s.windowEnded { return true }
                        s.collector = c
                        return false
                    }
                    if ended {
                        c.resume()
                        return
                    }
                    let nanoseconds = Int(wait.components.seconds) * 1_000_000_000 + Int(wait.components.attoseconds / 1_000_000_000)
                    DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
                        windowTimeUp(window)
                    }
                }
                let (rest, wake) = state.withLock { s -> ([Delivery], CheckedContinuation<Void, Never>?) in
                    s.collecting = nil
                    s.collector = nil
                    let rest = s.takes == takes ? s.take(max - first.count) : []
                    return (rest, s.toWake())
                }
                wake?.resume()
                return (first + rest, turn)
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.finished || s.pending > 0 && s.collecting == nil { return true }
                    s.waiters.append(c)
                    return false
                }
                if resumeNow { c.resume() }
            }
            if state.withLock({ $0.finished && $0.pending == 0 }) { return nil }
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
