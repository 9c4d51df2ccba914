import AMQP
import Contracts
import Foundation
import Logging
import Runtime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The commercial hop: `workorder.open` on `ot.commands` → the `commercial` service (inbox, state,
/// outbox in one transaction; outbox relay) → `workorder.opened` on `ot.events`.
///
/// Runs the real `commercial` binary of this build folder against a throwaway vhost and database,
/// then measures (i) throughput: N commands published as fast as confirms allow, timed from the
/// first publish to the last `workorder.opened`; (ii) latency: commands paced at half that rate
/// (published every 2 ms, those due by then), each timed from its scheduled instant to the
/// reception of its event (matched by the event's `causationid`).
struct HopBench {
    var amqpURL: AMQPURL
    var managementURL: String
    var postgres: DatabaseEndpoint
    var commands: Int
    var confirmBatch: Int
    var latencySeconds: Double
    var latencyCommands: Int
    var latencyRate: Double?
    /// Measures the floor instead: no commercial and no database; an in-process relay takes each
    /// batch of up to 64 commands off a quorum queue of its own and publishes, as commercial with
    /// confirms, a `workorder.opened` per command (encoded then, caused by it), then acks.
    var floor = false
    var serviceEnvironment: [String: String]
    var showTop: Bool
    var logger: Logger

    struct Throughput {
        var commands: Int
        var seconds: Double
        var distinctWorkOrders: Int
        var duplicates: Int
        var cpu: CPUUsage
        var top: String?
        var rate: Double { Double(commands) / seconds }
    }

    struct Latency {
        var commands: Int
        var targetRate: Double
        var achievedRate: Double
        var p50: Double
        var p99: Double
        var max: Double
        /// The same latency in two parts, split at the event's `time` (the service's clock when its
        /// batch began): send → batch start (broker in, delivery, batch window), then batch start →
        /// received (transaction, relay, broker out).
        var toBatch: LatencySummary
        var fromBatch: LatencySummary
        var cpu: CPUUsage
    }

    struct Result {
        var tunables: String
        var throughput: Throughput
        var latency: Latency?
    }

    /// Service settings shown in the report: env overrides, else the service's defaults.
    static let tunableDefaults: [(String, String)] = [
        ("PREFETCH", "512"), ("BATCH_SIZE", "64"), ("BATCH_WAIT_MS", "5"), ("WORKERS", "4"), ("DB_POOL_SIZE", "16"),
        ("OUTBOX_BATCH", "500"),
    ]

    func run(janitor: Janitor) async throws -> Result {
        try await ServiceCluster(
            services: floor ? [] : ["commercial"], amqpURL: amqpURL, managementURL: managementURL, postgres: postgres,
            serviceEnvironment: serviceEnvironment, janitor: janitor
        ).measuring { cluster in
            let tunables = Self.tunableDefaults.map { k, d in "\(k)=\(cluster.environment[k] ?? d)" }.joined(separator: " ")
            let relay = floor ? Self.floorRelay(cluster, logger: logger) : nil
            do {
                try await relay?.start()
                let result = try await measure(
                    url: cluster.url, publisherURL: cluster.url(as: "crm"), service: cluster.services.first?.process, relay: relay,
                    database: cluster.name)
                await relay?.stop()
                return Result(tunables: tunables, throughput: result.0, latency: result.1)
            } catch {
                await relay?.stop()
                throw error
            }
        }
    }

    /// The floor's stand-in for commercial: a `workorder.opened` per `workorder.open`, caused by it.
    private static func floorRelay(_ cluster: ServiceCluster, logger: Logger) -> FloorRelay {
        FloorRelay(
            cluster: cluster, binding: (PlatformTopology.commands, OpenWorkOrder.type), publisher: "commercial", batchSize: 64,
            logger: logger
        ) { d in
            guard let id = d.properties.messageId else { return nil }
            var e = WorkOrderOpened.example
            e.workOrderId = id
            let envelope = Envelope(source: "/ot/commercial", correlationId: d.properties.correlationId, causationId: id, data: e)
            return try? EnvelopeCodec.outgoing(envelope, appId: "commercial").published(by: "commercial")
        }
    }

    /// Runs once the service has started (``ServiceCluster/measuring(_:)`` waits for it).
    private func measure(
        url: AMQPURL, publisherURL: AMQPURL, service: Process?, relay: FloorRelay?, database: String
    ) async throws -> (Throughput, Latency?) {

        let events = "otbench.events"
        // The commands come from the CRM's user (consumers check the publisher may send them).
        let pub = AMQPConnection(configuration: .init(url: publisherURL, name: "otbench-commands"), logger: logger)
        let con = AMQPConnection(configuration: .init(url: url, name: "otbench-events"), logger: logger)
        pub.start()
        con.start()
        let collector = EventCollector()
        var consumerTask: Task<Void, Never>?
        do {
            try await con.waitUntilConnected()
            try await pub.waitUntilConnected()
            var topology = PlatformTopology.exchanges
            topology.queues.append(.quorum(events))
            topology.bindings.append(.init(queue: events, exchange: PlatformTopology.events, routingKey: WorkOrderOpened.type))
            topology.bindings.append(.init(queue: events, exchange: PlatformTopology.events, routingKey: CommandRejected.type))
            try await con.declare(topology)
            // The service consumes once its queue has a consumer.
            let consumerDeadline = ContinuousClock.now + .seconds(30)
            let input = relay?.queue ?? "commercial.commands"
            while try await con.queueStatus(input).consumers == 0 {
                guard ContinuousClock.now < consumerDeadline else { throw BenchError("\(input) has no consumer after 30 s") }
                try await Task.sleep(for: .milliseconds(50))
            }
            let consumer = try await con.consume(queue: events, prefetch: 1000)
            consumerTask = Task {
                let decoder = ContractJSONDecoder()
                var n = 0
                for await d in consumer.deliveries {
                    let at = ContinuousClock.now
                    let probe = try? decoder.decode(EventProbe.self, from: Data(d.body))
                    collector.record(probe, at: at)
                    n += 1
                    if n % 100 == 0 { con.ack(d, multiple: true) }
                }
            }

            let throughput = try await throughputPhase(pub: pub, collector: collector, service: service, relay: relay, database: database)
            var latency: Latency?
            if latencyCommands > 0 && latencySeconds > 0 {
                let rate = latencyRate ?? throughput.rate / 2
                latency = try await latencyPhase(
                    pub: pub, collector: collector, service: service, relay: relay, database: database, rate: rate)
            }
            try? await con.cancel(consumer)
            await consumerTask?.value
            await pub.shutdown()
            await con.shutdown()
            return (throughput, latency)
        } catch {
            consumerTask?.cancel()
            await pub.shutdown()
            await con.shutdown()
            throw error
        }
    }

    /// N valid `workorder.open` commands with server-assigned work-order ids, encoded up front so
    /// encoding does not compete with the service for CPU during the measurement.
    private func makeCommands(_ n: Int) throws -> (ids: [String], messages: [OutgoingMessage]) {
        var ids: [String] = []
        var messages: [OutgoingMessage] = []
        ids.reserveCapacity(n)
        messages.reserveCapacity(n)
        let due = Date().addingTimeInterval(90 * 86_400)
        for _ in 0..<n {
            var command = OpenWorkOrder.example
            command.workOrderId = nil
            command.dueBy = due
            let envelope = Envelope(source: "/ot/otbench", correlationId: nil, causationId: nil, data: command)
            ids.append(envelope.id)
            messages.append(try EnvelopeCodec.outgoing(envelope, appId: "otbench").published(by: "crm"))
        }
        return (ids, messages)
    }

    private func throughputPhase(
        pub: AMQPConnection, collector: EventCollector, service: Process?, relay: FloorRelay?, database: String
    ) async throws -> Throughput {
        let (ids, messages) = try makeCommands(commands)
        collector.begin(ids: ids)
        let topTask: Task<String?, Never>? =
            showTop
            ? Task.detached {
                // Sample the middle of the run: start after a second, `top` measures over one more.
                try? await Task.sleep(for: .seconds(1))
                return try? topFrame()
            } : nil
        let cpu0 = CPUSnapshot.take(servicePID: service?.processIdentifier, database: database)
        let start = ContinuousClock.now
        var sent = 0
        while sent < messages.count {
            let end = min(sent + confirmBatch, messages.count)
            let outcomes = try await pub.publish(Array(messages[sent..<end]))
            if let bad = outcomes.first(where: { $0 != .confirmed }) { throw BenchError("command publish not confirmed: \(bad)") }
            sent = end
        }
        let done = try await waitForAll(collector, count: ids.count, service: service, relay: relay)
        let cpu = CPUSnapshot.take(servicePID: service?.processIdentifier, database: database).usage(since: cpu0)
        // Late duplicates (at-least-once relay) or rejections would show up now.
        try await Task.sleep(for: .milliseconds(500))
        let s = collector.state()
        if s.rejected > 0 { throw BenchError("\(s.rejected) commands rejected, e.g. \(s.rejectionSample ?? "?")") }
        guard s.workOrderIds.count == ids.count else {
            throw BenchError("\(s.workOrderIds.count) distinct workOrderIds for \(ids.count) commands")
        }
        return Throughput(
            commands: ids.count, seconds: seconds(done - start), distinctWorkOrders: s.workOrderIds.count,
            duplicates: s.duplicates, cpu: cpu, top: await topTask?.value ?? nil)
    }

    private func latencyPhase(
        pub: AMQPConnection, collector: EventCollector, service: Process?, relay: FloorRelay?, database: String, rate: Double
    ) async throws -> Latency {
        let count = max(1, min(latencyCommands, Int(rate * latencySeconds)))
        let (ids, messages) = try makeCommands(count)
        collector.begin(ids: ids)
        let cpu0 = CPUSnapshot.take(servicePID: service?.processIdentifier, database: database)
        let start = ContinuousClock.now + .milliseconds(5)
        let wallStart = Date().addingTimeInterval(0.005)
        let (sentTimes, achievedRate) = try await pacedPublish(pub, messages, rate: rate, start: start, what: "commands")
        _ = try await waitForAll(collector, count: count, service: service, relay: relay)
        let cpu = CPUSnapshot.take(servicePID: service?.processIdentifier, database: database).usage(since: cpu0)
        let s = collector.state()
        if s.rejected > 0 { throw BenchError("\(s.rejected) commands rejected, e.g. \(s.rejectionSample ?? "?")") }
        // Each command's latency, and its part up to the batch's start (the event's `time`).
        var latencies: [Double] = []
        var toBatch: [Double?] = []
        latencies.reserveCapacity(count)
        toBatch.reserveCapacity(count)
        for i in 0..<count {
            guard let r = s.received[i] else { throw BenchError("no event for paced command \(i)") }
            latencies.append(seconds(r - sentTimes[i]) * 1000)
            toBatch.append(s.decided[i].map { $0.timeIntervalSince(wallStart.addingTimeInterval(seconds(sentTimes[i] - start))) * 1000 })
        }
        if let path = ProcessInfo.processInfo.environment["OTBENCH_HOP_LATENCIES"] {
            // One line per paced command: scheduled send (s from the first), total, to batch, from batch (ms).
            var out = "sent_s,total_ms,to_batch_ms,from_batch_ms\n"
            for i in 0..<count {
                let first = toBatch[i] ?? .nan
                out += "\(seconds(sentTimes[i] - start)),\(latencies[i]),\(first),\(latencies[i] - first)\n"
            }
            try? out.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let all = LatencySummary(latencies)
        let split = zip(latencies, toBatch).compactMap { total, first in first.map { (first: $0, rest: total - $0) } }
        return Latency(
            commands: count, targetRate: rate, achievedRate: achievedRate, p50: all.p50, p99: all.p99, max: all.max,
            toBatch: LatencySummary(split.map(\.first)), fromBatch: LatencySummary(split.map(\.rest)), cpu: cpu)
    }

    /// Waits until every command of the current phase has its event; returns the instant the last
    /// one arrived. Fails when nothing new arrives for 30 s or the service dies.
    private func waitForAll(
        _ collector: EventCollector, count: Int, service: Process?, relay: FloorRelay?
    ) async throws -> ContinuousClock.Instant {
        var lastProgress = ContinuousClock.now
        var lastCount = -1
        while true {
            let (answered, lastAt) = collector.progress()
            if answered >= count, let lastAt { return lastAt }
            if answered != lastCount {
                lastCount = answered
                lastProgress = .now
            }
            if let service, !service.isRunning {
                throw BenchError("commercial exited (status \(service.terminationStatus)) after \(answered) of \(count) events")
            }
            if let e = relay?.error { throw BenchError(e) }
            guard ContinuousClock.now - lastProgress < .seconds(30) else {
                throw BenchError("stalled: \(answered) of \(count) events after 30 s without progress")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// The few fields of an event the benchmark reads.
struct EventProbe: Decodable {
    var type: String
    var causationid: String?
    var time: Date?
    var data: Payload?

    struct Payload: Decodable {
        var workOrderId: String?
        var code: String?
        var message: String?
    }
}

/// Events of the current phase, by the index of the command that caused them.
final class EventCollector: Sendable {
    struct State {
        var index: [String: Int] = [:]
        var received: [ContinuousClock.Instant?] = []
        /// The event's `time`, by command.
        var decided: [Date?] = []
        var answered = 0
        var workOrderIds: Set<String> = []
        var duplicates = 0
        var stray = 0
        var rejected = 0
        var rejectionSample: String?
        var lastAt: ContinuousClock.Instant?
    }

    private let s = Mutex(State())

    func begin(ids: [String]) {
        var index: [String: Int] = [:]
        index.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() { index[id] = i }
        s.withLock {
            $0 = State()
            $0.index = index
            $0.received = Array(repeating: nil, count: ids.count)
            $0.decided = Array(repeating: nil, count: ids.count)
        }
    }

    func record(_ probe: EventProbe?, at: ContinuousClock.Instant) {
        s.withLock { s in
            guard let probe, let cause = probe.causationid, let i = s.index[cause] else {
                s.stray += 1
                return
            }
            if probe.type == CommandRejected.type {
                s.rejected += 1
                if s.rejectionSample == nil { s.rejectionSample = "\(probe.data?.code ?? "?"): \(probe.data?.message ?? "?")" }
            }
            if s.received[i] != nil {
                s.duplicates += 1
                return
            }
            s.received[i] = at
            s.decided[i] = probe.time
            s.answered += 1
            s.lastAt = at
            if let wo = probe.data?.workOrderId { s.workOrderIds.insert(wo) }
        }
    }

    func progress() -> (Int, ContinuousClock.Instant?) { s.withLock { ($0.answered, $0.lastAt) } }

    func state() -> State { s.withLock { $0 } }
}

/// Things to undo however the run ends (also on Ctrl-C): run in reverse order of registration.
final class Janitor: Sendable {
    private let tasks = Mutex<[(String, @Sendable () -> Void)]>([])

    func add(_ what: String, _ task: @escaping @Sendable () -> Void) { tasks.withLock { $0.append((what, task)) } }

    /// Held while tasks run: a second caller (Ctrl-C racing the normal or error path) waits
    /// until the first one has finished, so nobody exits half-way through the clean-up.
    private let running = Mutex(())

    func runAll() {
        running.withLock { _ in runPending() }
    }

    private func runPending() {
        let all = tasks.withLock { t in
            let all = t
            t = []
            return all
        }
        for (_, task) in all.reversed() { task() }
    }
}

/// SIGTERM, up to 20 s for a graceful exit, then SIGKILL. (Foundation's `Process` reaps the
/// child; `kill(pid, 0)` fails once it is gone.)
func stopProcess(_ pid: Int32) {
    guard kill(pid, SIGTERM) == 0 else { return }
    for _ in 0..<200 {
        if kill(pid, 0) != 0 { return }
        usleep(100_000)
    }
    kill(pid, SIGKILL)
    for _ in 0..<50 where kill(pid, 0) == 0 { usleep(100_000) }
}

/// The second frame of `top` (the first one averages since boot): the busiest processes.
func topFrame() throws -> String {
    let r = try run("top", ["-b", "-d", "1", "-n", "2", "-w", "150"])
    let frames = r.stdout.components(separatedBy: "top - ")
    guard let last = frames.last else { return "" }
    let lines = ("top - " + last).split(separator: "\n", omittingEmptySubsequences: false)
    return lines.prefix(14).joined(separator: "\n")
}
