import AMQP
import Contracts
import Foundation
import Logging
import Runtime
import Synchronization

/// The billing batch: N `workorder.closed` events (distinct OTs, customers of the three countries,
/// amount set) published on `ot.events` as fast as confirms allow into a lone `billing` service on
/// a throwaway vhost and database; one `billing.prefactura-issued` is expected per OT. The figure
/// is closed-OT events per second from the first publish to the last prefactura-issued received.
struct BillingBench {
    var amqpURL: AMQPURL
    var managementURL: String
    var postgres: DatabaseEndpoint
    var closed: Int
    var confirmBatch: Int
    var serviceEnvironment: [String: String]
    /// Measures the floor instead: no billing service and no database; an in-process relay takes
    /// each `workorder.closed` batch off its quorum queue, publishes a prepared
    /// `billing.prefactura-issued` per event (with confirms, as billing), then acks — the broker's and
    /// the clients' share of the billing batch, which no service can go below.
    var floor = false
    var logger: Logger

    struct Result {
        var tunables: String
        var events: Int
        var publishSeconds: Double
        var seconds: Double
        var prefacturas: Int
        var distinctWorkOrders: Int
        var duplicates: Int
        var cpu: CPUUsage
        var rate: Double { Double(events) / seconds }
    }

    func run(janitor: Janitor) async throws -> Result {
        try await ServiceCluster(
            services: floor ? [] : ["billing"], amqpURL: amqpURL, managementURL: managementURL, postgres: postgres,
            serviceEnvironment: serviceEnvironment, janitor: janitor
        ).measuring { try await measure($0) }
    }

    private func measure(_ cluster: ServiceCluster) async throws -> Result {
        let env = cluster.environment
        // billing's own defaults (256 / 20 ms) apply unless the environment sets them.
        let defaults = HopBench.tunableDefaults.map { k, d in
            (k, k == "BATCH_SIZE" ? "256" : k == "BATCH_WAIT_MS" ? "20" : d)
        }
        let tunables = defaults.map { k, d in "\(k)=\(env[k] ?? d)" }.joined(separator: " ")

        let n = closed
        let runId = String(cluster.name.dropFirst("otbench_".count))
        let closedAt = Date()
        var messages: [OutgoingMessage] = []
        messages.reserveCapacity(n)
        var prefacturas: [String: OutgoingMessage] = [:]
        for i in 0..<n {
            var e = WorkOrderClosed.example
            e.workOrderId = "WO-closed-\(runId)-\(i)"
            let (country, currency): (Country, Currency) = [(.bo, .bob), (.cl, .clp), (.co, .cop)][i % 3]
            e.customer.country = country
            e.closedAt = closedAt
            e.amount = Money(minor: 100_000 + Int64(i % 1000) * 100, currency: currency)
            messages.append(
                try EnvelopeCodec.outgoing(Envelope(source: "/ot/otbench", correlationId: nil, causationId: nil, data: e), appId: "otbench")
                    .published(by: "dispatch"))
            if floor, let id = messages[i].properties.messageId {
                var p = PrefacturaIssued.example
                p.workOrderId = e.workOrderId
                p.prefacturaId = "PF-\(runId)-\(i)"
                p.amount = e.amount ?? p.amount
                prefacturas[id] = try EnvelopeCodec.outgoing(
                    Envelope(source: "/ot/billing", correlationId: nil, causationId: nil, data: p), appId: "billing"
                ).published(by: "billing")
            }
        }
        let prepared = prefacturas
        let relay =
            floor
            ? FloorRelay(
                cluster: cluster, binding: (PlatformTopology.events, WorkOrderClosed.type), publisher: "billing", logger: logger
            ) { d in d.properties.messageId.flatMap { prepared[$0] } } : nil

        // The closed events come from their owner, dispatch (consumers check the publisher).
        let pub = AMQPConnection(configuration: .init(url: cluster.url(as: "dispatch"), name: "otbench-closed"), logger: logger)
        let con = AMQPConnection(configuration: .init(url: cluster.url, name: "otbench-prefacturas"), logger: logger)
        pub.start()
        con.start()
        let seen = Mutex((ids: Set<String>(), duplicates: 0, last: ContinuousClock.Instant?.none))
        var consumerTask: Task<Void, Never>?
        do {
            try await con.waitUntilConnected()
            try await pub.waitUntilConnected()
            let queue = "otbench.prefacturas"
            var topology = PlatformTopology.exchanges
            topology.queues.append(.quorum(queue))
            topology.bindings.append(.init(queue: queue, exchange: PlatformTopology.events, routingKey: PrefacturaIssued.type))
            try await con.declare(topology)
            try await relay?.start()
            let consumer = try await con.consume(queue: queue, prefetch: 2000)
            consumerTask = Task {
                let decoder = ContractJSONDecoder()
                var k = 0
                for await d in consumer.deliveries {
                    let at = ContinuousClock.now
                    let wo = (try? decoder.decode(EventProbe.self, from: Data(d.body)))?.data?.workOrderId
                    seen.withLock { s in
                        if let wo, s.ids.insert(wo).inserted { s.last = at } else { s.duplicates += 1 }
                    }
                    k += 1
                    if k % 200 == 0 { con.ack(d, multiple: true) }
                }
            }

            let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
            let start = ContinuousClock.now
            var sent = 0
            while sent < n {
                let end = min(sent + confirmBatch, n)
                let outcomes = try await pub.publish(Array(messages[sent..<end]))
                if let bad = outcomes.first(where: { $0 != .confirmed }) { throw BenchError("workorder.closed not confirmed: \(bad)") }
                sent = end
            }
            let published = ContinuousClock.now
            var lastProgress = ContinuousClock.now
            var lastCount = -1
            var doneAt: ContinuousClock.Instant
            while true {
                let (count, last) = seen.withLock { ($0.ids.count, $0.last) }
                if count >= n, let last {
                    doneAt = last
                    break
                }
                if count != lastCount {
                    lastCount = count
                    lastProgress = .now
                }
                try cluster.checkRunning()
                if let e = relay?.error { throw BenchError(e) }
                guard ContinuousClock.now - lastProgress < .seconds(30) else {
                    throw BenchError("stalled: \(count) of \(n) prefacturas after 30 s without progress")
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
            try await Task.sleep(for: .milliseconds(500))
            try? await con.cancel(consumer)
            await consumerTask?.value
            await relay?.stop()
            await pub.shutdown()
            await con.shutdown()
            let s = seen.withLock { $0 }
            return Result(
                tunables: tunables, events: n, publishSeconds: seconds(published - start), seconds: seconds(doneAt - start),
                prefacturas: s.ids.count + s.duplicates, distinctWorkOrders: s.ids.count, duplicates: s.duplicates, cpu: cpu)
        } catch {
            consumerTask?.cancel()
            await relay?.stop()
            await pub.shutdown()
            await con.shutdown()
            throw error
        }
    }
}
