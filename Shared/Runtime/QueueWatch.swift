import AMQP
import Contracts
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// A queue a service keeps an eye on although it does not consume it (e.g. the operations
/// center's queue, read by people's tools): an absent reader must show.
public struct WatchedQueue: Sendable, Equatable {
    /// What is normal for the queue.
    public enum Expectation: Sendable, Equatable {
        /// Someone consumes it: a warning when it holds messages and has no consumer, or when
        /// its head message has waited longer than `maxHeadAge`.
        case consumed(maxHeadAge: Duration)
        /// It stays empty (an overflow or dead-letter queue): a warning when it holds messages.
        case empty
    }

    public var name: String
    public var expectation: Expectation

    public init(_ name: String, expecting expectation: Expectation) {
        self.name = name
        self.expectation = expectation
    }
}

/// One sample of a watched queue.
///
/// `messages` and `consumers` come from a passive `queue.declare` (ready messages, not those
/// delivered and unacknowledged). `headAge` is the age of the message at the **head** of the
/// queue — the one a consumer would get next — read by `basic.get` and put back at once
/// (`basic.reject` with requeue: it keeps its place, and is marked redelivered). AMQP 0-9-1 shows
/// nothing but the head, and in a priority queue the head is the oldest message of the highest
/// priority present: older messages of lower priorities may wait behind it, so `headAge` is a
/// lower bound on the age of the oldest message. The age counts from the message's AMQP
/// `timestamp` (set by the outbox relay when it publishes; whole seconds), else its envelope's
/// `time`; nil when the queue is empty or the head carries neither.
public struct QueueSample: Sendable, Equatable {
    public var messages: UInt32
    public var consumers: UInt32
    public var headAge: Duration?

    public init(messages: UInt32, consumers: UInt32, headAge: Duration? = nil) {
        self.messages = messages
        self.consumers = consumers
        self.headAge = headAge
    }

    /// What is wrong with `queue` in this sample (empty when nothing is).
    public func warnings(_ queue: WatchedQueue) -> [String] {
        guard messages > 0 else { return [] }
        switch queue.expectation {
        case .empty:
            return ["\(queue.name) holds \(messages) message(s); it should be empty"]
        case .consumed(let maxHeadAge):
            var out: [String] = []
            if consumers == 0 {
                out.append("\(queue.name) holds \(messages) message(s) and has no consumer")
            }
            if let headAge, headAge > maxHeadAge {
                out.append(
                    "\(queue.name): its next message has waited \(Self.seconds(headAge)) s (more than \(Self.seconds(maxHeadAge)) s)")
            }
            return out
        }
    }

    /// The age of a message published at `published` (nil: unknown), at `now`; never negative
    /// (clocks of different machines).
    static func age(published: Date?, now: Date) -> Duration? {
        guard let published else { return nil }
        return .milliseconds(Int64(max(0, now.timeIntervalSince(published)) * 1000))
    }

    static func seconds(_ d: Duration) -> Int64 { d.components.seconds }
}

/// Samples watched queues every `interval` into gauges — `ot_queue_messages`,
/// `ot_queue_consumers` and `ot_queue_head_age_seconds` (0 when empty), each with `service` and
/// `queue` labels — and keeps the warnings `/health/ready` shows. A warning does not make the
/// service unready: its own work goes on; someone else's is missing. Warnings are logged when
/// they appear and when they clear, not at every sample.
public final class QueueWatch: Service, Sendable {
    let queues: [WatchedQueue]
    let amqp: AMQPConnection
    let interval: Duration
    let logger: Logger
    let gauges: [String: (messages: Gauge, consumers: Gauge, headAge: Gauge)]
    let current = Mutex<[String: [String]]>([:])

    public init(queues: [WatchedQueue], amqp: AMQPConnection, service: String, interval: Duration, logger: Logger) {
        self.queues = queues
        self.amqp = amqp
        self.interval = interval
        var l = logger
        l[metadataKey: "component"] = "queue-watch"
        self.logger = l
        var gauges: [String: (messages: Gauge, consumers: Gauge, headAge: Gauge)] = [:]
        for q in queues {
            let labels = [("service", service), ("queue", q.name)]
            gauges[q.name] = (
                Gauge(label: "ot_queue_messages", dimensions: labels), Gauge(label: "ot_queue_consumers", dimensions: labels),
                Gauge(label: "ot_queue_head_age_seconds", dimensions: labels)
            )
        }
        self.gauges = gauges
    }

    /// The warnings of the last samples, in the order of the watched queues.
    public var warnings: [String] {
        let c = current.withLock { $0 }
        return queues.flatMap { c[$0.name] ?? [] }
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await sampleAll()
            try? await Task.sleep(for: interval)
        }
    }

    /// Samples every watched queue once.
    public func sampleAll() async {
        for q in queues {
            let found: [String]
            do {
                let s = try await sample(q.name)
                if let g = gauges[q.name] {
                    g.messages.record(Double(s.messages))
                    g.consumers.record(Double(s.consumers))
                    g.headAge.record(s.headAge.map { Double($0.components.seconds) } ?? 0)
                }
                found = s.warnings(q)
            } catch {
                found = ["\(q.name) cannot be sampled: \(error)"]
            }
            let before = current.withLock { c in
                defer { c[q.name] = found }
                return c[q.name] ?? []
            }
            if found.isEmpty, !before.isEmpty {
                logger.info("watched queue back to normal", metadata: ["queue": "\(q.name)"])
            } else if Set(found.map(Self.kind)) != Set(before.map(Self.kind)) {
                for w in found { logger.warning("\(w)", metadata: ["queue": "\(q.name)"]) }
            }
        }
    }

    /// A warning without its numbers: a depth that grows is the same warning.
    static func kind(_ warning: String) -> String { String(warning.filter { !$0.isNumber }) }

    /// Depth and consumers by passive declare; the head's age by a `basic.get` put back at once.
    func sample(_ queue: String) async throws -> QueueSample {
        let status = try await amqp.queueStatus(queue)
        var sample = QueueSample(messages: status.messages, consumers: status.consumers)
        guard status.messages > 0, let head = try await amqp.get(queue: queue) else { return sample }
        amqp.reject(head.delivery, requeue: true)
        let props = head.delivery.properties
        let published = props.timestamp.map { Date(timeIntervalSince1970: TimeInterval($0)) }
            ?? (try? Wire.decodeHeader(head.delivery.body))?.time
        sample.headAge = QueueSample.age(published: published, now: Date())
        return sample
    }
}
