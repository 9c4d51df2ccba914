import AMQP
import Contracts
import Foundation
import Logging
import Runtime
import Synchronization

/// Damage reports through to a prioritized repair OT (COM-GCM-P12): `commercial` and `priority`
/// on a throwaway vhost and database. N `damage.report` commands for N distinct products of
/// residential customers (product types and channels mixed, reporter, address and phone given:
/// every one a new damage) are published at once, in confirm batches, as the CRM (`crm`) would;
/// each opens a repair OT (`workorder.open` → commercial → `workorder.opened`) that priority levels
/// by the matrix (`workorder.prioritized`). The figure is reports/s from the first publish to the
/// last repair OT prioritized, with the latency of each report (its batch's publish instant → its
/// OT's `workorder.prioritized`) under that burst; then, unless skipped, the latency of reports
/// paced at half the measured rate.
///
/// The watcher maps a report to its OT through `damage.registered` (product → work order): the
/// repair OT's id is derived from the damage number, unknown before the report.
struct DamageBench {
    static let services = ["commercial", "priority"]
    /// Who sends damage reports: the call center, help desk and retention unit are CRM front offices.
    static let sender = "crm"

    var amqpURL: AMQPURL
    var managementURL: String
    var postgres: DatabaseEndpoint
    var damages: Int
    var confirmBatch: Int
    /// Length of the paced phase, seconds (0 skips it).
    var latencySeconds: Double
    var serviceEnvironment: [String: String]
    var logger: Logger

    struct Latencies {
        var p50: Double
        var p99: Double
        var max: Double
    }

    struct Burst {
        var damages: Int
        var seconds: Double
        var publishSeconds: Double
        var prioritized: Int
        var registeredNew: Int
        var duplicates: Int
        var levels: [Int: Int]
        var latency: Latencies
        var cpu: CPUUsage
        var rate: Double { Double(damages) / seconds }
    }

    struct Paced {
        /// How long the services and the database took to go quiet after the burst.
        var settleSeconds: Double = 0
        var damages: Int
        var targetRate: Double
        var achievedRate: Double
        var latency: Latencies
        var cpu: CPUUsage
    }

    struct Result {
        var tunables: String
        var burst: Burst
        var paced: Paced?
    }

    func run(janitor: Janitor) async throws -> Result {
        try await ServiceCluster(
            services: Self.services, amqpURL: amqpURL, managementURL: managementURL, postgres: postgres,
            serviceEnvironment: serviceEnvironment, janitor: janitor
        ).measuring { try await measure($0) }
    }

    private func measure(_ cluster: ServiceCluster) async throws -> Result {
        let tunables = HopBench.tunableDefaults.map { k, d in "\(k)=\(cluster.environment[k] ?? d)" }.joined(separator: " ")
        let pub = AMQPConnection(configuration: .init(url: cluster.url(as: Self.sender), name: "otbench-damage-reports"), logger: logger)
        let con = AMQPConnection(configuration: .init(url: cluster.url, name: "otbench-damage-events"), logger: logger)
        pub.start()
        con.start()
        let collector = DamageCollector()
        var task: Task<Void, Never>?
        do {
            try await pub.waitUntilConnected()
            try await con.waitUntilConnected()
            let queue = "otbench.damage"
            var topology = PlatformTopology.exchanges
            topology.queues.append(.quorum(queue))
            for key in [DamageRegistered.type, WorkOrderPrioritized.type, CommandRejected.type] {
                topology.bindings.append(.init(queue: queue, exchange: PlatformTopology.events, routingKey: key))
            }
            try await con.declare(topology)
            let consumer = try await con.consume(queue: queue, prefetch: 2000)
            task = Task {
                var k = 0
                for await d in consumer.deliveries {
                    collector.handle(d.routingKey, d.body, at: .now)
                    k += 1
                    if k % 200 == 0 { con.ack(d, multiple: true) }
                }
            }

            // The burst: every report published at once, in confirm batches.
            let (ids, messages) = try Self.reports(damages, prefix: "B")
            collector.begin(products: ids)
            let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
            let start = ContinuousClock.now
            var sent = 0
            var sentAt = Array(repeating: start, count: damages)
            while sent < damages {
                let end = min(sent + confirmBatch, damages)
                let t = ContinuousClock.now
                for i in sent..<end { sentAt[i] = t }
                let outcomes = try await pub.publish(Array(messages[sent..<end]))
                if let bad = outcomes.first(where: { $0 != .confirmed }) { throw BenchError("damage.report not confirmed: \(bad)") }
                sent = end
            }
            let publishSeconds = seconds(.now - start)
            let doneAt = try await waitForAll(collector, count: damages, cluster)
            let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
            // Late duplicates or rejections would show up now.
            try await Task.sleep(for: .milliseconds(500))
            let s = collector.state()
            try Self.check(s, count: damages)
            let burst = Burst(
                damages: damages, seconds: seconds(doneAt - start), publishSeconds: publishSeconds, prioritized: s.prioritized,
                registeredNew: s.registeredNew, duplicates: s.duplicates, levels: s.levels,
                latency: try Self.latencies(s, sentAt: sentAt), cpu: cpu)

            var paced: Paced?
            if latencySeconds > 0 {
                // The burst leaves the database busy for a while (autovacuum, writeback of its rows):
                // paced reports sent into that would measure it, not the path.
                let settled = await settle(cluster)
                paced = try await pacedPhase(pub: pub, collector: collector, cluster: cluster, rate: burst.rate / 2)
                paced?.settleSeconds = settled
            }
            try? await con.cancel(consumer)
            task?.cancel()
            await pub.shutdown()
            await con.shutdown()
            return Result(tunables: tunables, burst: burst, paced: paced)
        } catch {
            task?.cancel()
            await pub.shutdown()
            await con.shutdown()
            throw error
        }
    }

    /// Reports paced at `rate` for `latencySeconds` (at most 10,000), each timed from its
    /// scheduled instant (``pacedPublish``).
    private func pacedPhase(pub: AMQPConnection, collector: DamageCollector, cluster: ServiceCluster, rate: Double) async throws -> Paced {
        let count = max(1, min(10_000, Int(rate * latencySeconds)))
        let (ids, messages) = try Self.reports(count, prefix: "P")
        collector.begin(products: ids)
        let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
        let start = ContinuousClock.now + .milliseconds(5)
        let (sentAt, achievedRate) = try await pacedPublish(pub, messages, rate: rate, start: start, what: "reports")
        _ = try await waitForAll(collector, count: count, cluster)
        let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
        let s = collector.state()
        try Self.check(s, count: count)
        return Paced(
            damages: count, targetRate: rate, achievedRate: achievedRate,
            latency: try Self.latencies(s, sentAt: sentAt), cpu: cpu)
    }

    /// Waits (up to 60 s) until the services and PostgreSQL use under a quarter of a core each over
    /// a second; returns the seconds waited.
    private func settle(_ cluster: ServiceCluster) async -> Double {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(60) {
            let before = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
            try? await Task.sleep(for: .seconds(1))
            let usage = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: before)
            if (Self.services + ["postgres"]).allSatisfy({ (usage.percentOfCore[$0] ?? 0) < 25 }) { break }
        }
        return seconds(.now - start)
    }

    /// Until every report of the phase has its OT prioritized; the instant the last one arrived.
    /// Fails when nothing new arrives for 60 s, a service dies, or a report is rejected.
    private func waitForAll(_ collector: DamageCollector, count: Int, _ cluster: ServiceCluster) async throws -> ContinuousClock.Instant {
        var lastChange = ContinuousClock.now
        var last = -1
        while true {
            let s = collector.state()
            if s.rejected > 0 { throw BenchError("\(s.rejected) damage reports rejected, e.g. \(s.rejectionSample ?? "?")") }
            if s.prioritized >= count, let at = s.lastAt { return at }
            if s.events != last {
                last = s.events
                lastChange = .now
            }
            try cluster.checkRunning()
            guard ContinuousClock.now - lastChange < .seconds(60) else {
                throw BenchError("stalled: \(s.registered) damages registered, \(s.prioritized) of \(count) repair OTs prioritized")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Every report a new damage with its own OT, each OT prioritized once.
    static func check(_ s: DamageCollector.S, count: Int) throws {
        guard s.registered == count, s.registeredNew == count, s.prioritized == count else {
            throw BenchError(
                "expected \(count) new damages and \(count) prioritized OTs: \(s.registered) registered (\(s.registeredNew) new), \(s.prioritized) prioritized")
        }
    }

    static func latencies(_ s: DamageCollector.S, sentAt: [ContinuousClock.Instant]) throws -> Latencies {
        var v: [Double] = []
        v.reserveCapacity(sentAt.count)
        for (i, t) in sentAt.enumerated() {
            guard let r = s.received[i] else { throw BenchError("no workorder.prioritized for report \(i)") }
            v.append(seconds(r - t) * 1000)
        }
        v.sort()
        func pct(_ p: Double) -> Double { v[min(v.count - 1, Int((p * Double(v.count)).rounded(.up)) - 1)] }
        return Latencies(p50: pct(0.5), p99: pct(0.99), max: v.last ?? .nan)
    }

    /// `count` reports, one per product, of residential customers: product types and channels
    /// mixed (every type with every channel), all with reporter, address and reference phone.
    static func reports(_ count: Int, prefix: String) throws -> ([String], [OutgoingMessage]) {
        let types = ProductType.allCases
        let channels = DamageChannel.allCases
        var ids: [String] = []
        var messages: [OutgoingMessage] = []
        ids.reserveCapacity(count)
        messages.reserveCapacity(count)
        for i in 0..<count {
            let type = types[i % types.count]
            let channel = channels[(i / types.count) % channels.count]
            let product = ProductRef(id: "\(prefix)-\(type.rawValue)-\(i)", type: type)
            let customer = Customer(
                id: "C-\(prefix)-\(i)", name: "Cliente residencial \(i)", taxId: "\(1_000_000 + i) CB", sector: .private, segment: .residential,
                country: .bo)
            let report = ReportDamage(
                customer: customer, product: product, channel: channel, fault: "Sin servicio (\(type.rawValue))",
                address: "Calle \(i % 500), Cochabamba", referencePhone: "+591 7\(String(format: "%07d", i % 10_000_000))",
                reporter: Payer(name: customer.name, idNumber: customer.taxId), resolvedRemotely: false)
            ids.append(product.id)
            messages.append(
                try EnvelopeCodec.outgoing(Envelope(source: "/ot/otbench", correlationId: nil, causationId: nil, data: report), appId: "otbench")
                    .published(by: sender))
        }
        return (ids, messages)
    }
}

/// The fields of an event the watcher reads.
private struct DamageProbe: Decodable {
    struct Product: Decodable { var id: String? }
    struct Payload: Decodable {
        var product: Product?
        var workOrderId: String?
        var reiteration: Int?
        var level: Int?
        var commandType: String?
        var code: String?
        var message: String?
    }
    var data: Payload?
}

/// What the watcher saw in the current phase (consumer task and main task share it).
final class DamageCollector: Sendable {
    struct S {
        /// Product → report index.
        var index: [String: Int] = [:]
        /// Repair OT → report index.
        var workOrders: [String: Int] = [:]
        /// `workorder.prioritized` seen before its OT's `damage.registered`: OT → (instant, level).
        var early: [String: (ContinuousClock.Instant, Int)] = [:]
        var received: [ContinuousClock.Instant?] = []
        var events = 0
        var registered = 0
        var registeredNew = 0
        var prioritized = 0
        var duplicates = 0
        var levels: [Int: Int] = [:]
        var lastAt: ContinuousClock.Instant?
        var rejected = 0
        var rejectionSample: String?

        mutating func prioritize(_ i: Int, at: ContinuousClock.Instant, level: Int) {
            guard received[i] == nil else {
                duplicates += 1
                return
            }
            received[i] = at
            prioritized += 1
            levels[level, default: 0] += 1
            if lastAt.map({ at > $0 }) ?? true { lastAt = at }
        }
    }

    private let s = Mutex(S())
    private let decoder = ContractJSONDecoder()

    /// A new phase: these products, nothing seen yet.
    func begin(products: [String]) {
        var index: [String: Int] = [:]
        index.reserveCapacity(products.count)
        for (i, p) in products.enumerated() { index[p] = i }
        s.withLock { $0 = S(index: index, received: Array(repeating: nil, count: products.count)) }
    }

    func state() -> S { s.withLock { $0 } }

    func handle(_ type: String, _ body: [UInt8], at: ContinuousClock.Instant) {
        let probe = try? decoder.decode(DamageProbe.self, from: Data(body))
        let data = probe?.data
        s.withLock { s in
            s.events += 1
            switch type {
            case DamageRegistered.type:
                guard let product = data?.product?.id, let i = s.index[product], let ot = data?.workOrderId else { return }
                s.registered += 1
                if data?.reiteration == 0 { s.registeredNew += 1 }
                s.workOrders[ot] = i
                if let (t, level) = s.early.removeValue(forKey: ot) { s.prioritize(i, at: t, level: level) }
            case WorkOrderPrioritized.type:
                guard let ot = data?.workOrderId else { return }
                let level = data?.level ?? 0
                if let i = s.workOrders[ot] {
                    s.prioritize(i, at: at, level: level)
                } else if s.early[ot] == nil {
                    s.early[ot] = (at, level)
                }
            case CommandRejected.type:
                s.rejected += 1
                if s.rejectionSample == nil {
                    s.rejectionSample = "\(data?.commandType ?? "?") \(data?.code ?? "?"): \(data?.message ?? "?")"
                }
            default:
                break
            }
        }
    }
}
