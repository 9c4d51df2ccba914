import AMQP
import Contracts
import Foundation
import Logging
import Runtime
import Synchronization

/// Post-sale and the recurring billing cycle, each service alone on a throwaway vhost and database:
/// - requests: `postsale` with C contracts; N call-detail requests (Boliviatel: no fee, no letter)
///   published at once, a reactive client sends each one's quality-control call when its
///   `postsale.quality-check-requested` arrives; the figure is requests/s from the first publish to
///   the last `postsale.request-completed`;
/// - cycle: `billing` learns K contracts (`contract.registered`, as post-sale publishes them), then
///   one `billing.run-cycle`; the figure is proformas/s from the run's publish to
///   `billing.cycle-completed`, with every `billing.proforma-issued` counted (exactly one per contract).
struct PostSaleBench {
    var amqpURL: AMQPURL
    var managementURL: String
    var postgres: DatabaseEndpoint
    var requests: Int
    var contracts: Int
    /// Contracts of the billing cycle.
    var cycleContracts: Int
    var confirmBatch: Int
    var serviceEnvironment: [String: String]
    var logger: Logger

    struct RequestsResult {
        var requests: Int
        var seconds: Double
        var completed: Int
        var cpu: CPUUsage
        var rate: Double { Double(requests) / seconds }
    }

    struct CycleResult {
        var contracts: Int
        var registerSeconds: Double
        var seconds: Double
        var proformas: Int
        var distinct: Int
        var reported: Int
        var cpu: CPUUsage
        var rate: Double { Double(contracts) / seconds }
    }

    static let customer = Customer(
        id: "C-BENCH", name: "Empresa de prueba S.R.L.", taxId: "1000000019", sector: .private, segment: .pyme, country: .bo)

    static func products(_ i: Int) -> [ContractProduct] {
        [
            ContractProduct(id: "LIN-\(i)", type: .line, monthly: .bolivianos(70), installedOn: Day(2024, 1, 10)!, technology: .copper),
            ContractProduct(id: "INT-\(i)", type: .internet, monthly: .bolivianos(349), installedOn: Day(2024, 1, 10)!, technology: .fiber),
        ]
    }

    /// Publishes in groups of `confirmBatch`, insisting on confirms.
    func publish(_ connection: AMQPConnection, _ messages: [OutgoingMessage]) async throws {
        var sent = 0
        while sent < messages.count {
            let end = min(sent + confirmBatch, messages.count)
            let outcomes = try await connection.publish(Array(messages[sent..<end]))
            if let bad = outcomes.first(where: { $0 != .confirmed }) { throw BenchError("not confirmed: \(bad)") }
            sent = end
        }
    }

    func message<M: Message>(_ m: M, by user: String) throws -> OutgoingMessage {
        try EnvelopeCodec.outgoing(Envelope(source: "/ot/otbench", correlationId: nil, causationId: nil, data: m), appId: "otbench").published(by: user)
    }

    /// A consumer of some event types; `handle` sees each (type, body) and returns whether the wait is over.
    func watch(_ connection: AMQPConnection, keys: [String], _ handle: @escaping @Sendable (String, [UInt8]) -> Void) async throws -> Task<Void, Never> {
        let queue = "otbench.watch.\(UUID().uuidString.prefix(6))"
        var topology = PlatformTopology.exchanges
        topology.queues.append(.quorum(queue))
        for k in keys { topology.bindings.append(.init(queue: queue, exchange: PlatformTopology.events, routingKey: k)) }
        try await connection.declare(topology)
        let consumer = try await connection.consume(queue: queue, prefetch: 2000)
        return Task {
            var k = 0
            for await d in consumer.deliveries {
                handle(d.properties.type ?? "", d.body)
                k += 1
                if k % 200 == 0 { connection.ack(d, multiple: true) }
            }
        }
    }

    func waitFor(
        _ what: String, _ cluster: ServiceCluster, stallAfter: Duration = .seconds(60), every: Duration = .milliseconds(5),
        _ progress: () -> (done: Bool, count: Int)
    ) async throws {
        var last = -1
        var lastChange = ContinuousClock.now
        while true {
            let p = progress()
            if p.done { return }
            if p.count != last {
                last = p.count
                lastChange = .now
            }
            try cluster.checkRunning()
            guard ContinuousClock.now - lastChange < stallAfter else { throw BenchError("stalled: \(what) at \(p.count)") }
            try await Task.sleep(for: every)
        }
    }

    /// `service` alone on a throwaway vhost and database, with started connections as the given
    /// users (nil: the benchmark's own, for its queues), shut down afterwards.
    func measuring<T>(
        _ service: String, as users: [(user: String?, name: String)], janitor: Janitor,
        _ body: (ServiceCluster, [AMQPConnection]) async throws -> T
    ) async throws -> T {
        try await ServiceCluster(
            services: [service], amqpURL: amqpURL, managementURL: managementURL, postgres: postgres,
            serviceEnvironment: serviceEnvironment, janitor: janitor
        ).measuring { cluster in
            let connections = users.map { u in
                AMQPConnection(configuration: .init(url: u.user.map { cluster.url(as: $0) } ?? cluster.url, name: u.name), logger: logger)
            }
            for c in connections { c.start() }
            defer { Task { for c in connections { await c.shutdown() } } }
            for c in connections { try await c.waitUntilConnected() }
            return try await body(cluster, connections)
        }
    }

    // MARK: Requests through to completion

    func runRequests(janitor: Janitor) async throws -> RequestsResult {
        try await measuring("postsale", as: [("crm", "otbench-crm"), (nil, "otbench-postsale")], janitor: janitor) { cluster, connections in
            let (crm, con) = (connections[0], connections[1])
            let contractCount = max(1, min(contracts, requests))
            let registered = Mutex(0)
            let due = Mutex<[String]>([])
            let completed = Mutex((ids: Set<String>(), last: ContinuousClock.Instant?.none))
            let task = try await watch(con, keys: [ContractRegistered.type, PostSaleQualityCheckRequested.type, PostSaleRequestCompleted.type]) {
                type, body in
                let id = (try? ContractJSONDecoder().decode(RequestProbe.self, from: Data(body)))?.data?.requestId
                switch type {
                case ContractRegistered.type: registered.withLock { $0 += 1 }
                case PostSaleQualityCheckRequested.type: if let id { due.withLock { $0.append(id) } }
                case PostSaleRequestCompleted.type:
                    if let id { completed.withLock { c in if c.ids.insert(id).inserted { c.last = .now } } }
                default: break
                }
            }
            defer { task.cancel() }
            try await publish(crm, try (0..<contractCount).map {
                try message(RegisterContract(contractId: "CT-\($0)", customer: Self.customer, products: Self.products($0)), by: "crm")
            })
            try await waitFor("contracts registered", cluster) { (registered.withLock { $0 } >= contractCount, registered.withLock { $0 }) }

            let months = [YearMonth(Date()).adding(months: -1).description]
            let messages = try (0..<requests).map { i in
                try message(
                    RequestPostSale(
                        requestId: "PV-\(i)", flow: .callDetail, customer: Self.customer, contractId: "CT-\(i % contractCount)", products: [],
                        channel: "email",
                        details: ["lineId": .string("LIN-\(i % contractCount)"), "carrier": "boliviatel", "months": .array(months.map(JSONValue.string))],
                        documents: []), by: "crm")
            }
            let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
            let start = ContinuousClock.now
            try await publish(crm, messages)
            // The executives' quality-control calls, as the requests become due.
            var called = 0
            while called < requests {
                let batch = due.withLock { d in
                    let b = d
                    d.removeAll()
                    return b
                }
                if batch.isEmpty {
                    try cluster.checkRunning()
                    if ContinuousClock.now - start > .seconds(300) { throw BenchError("requests stalled at \(called) calls") }
                    try await Task.sleep(for: .milliseconds(5))
                    continue
                }
                try await publish(crm, try batch.map { try message(RecordPostSaleQualityCheck(requestId: $0, ok: true), by: "crm") })
                called += batch.count
            }
            try await waitFor("requests completed", cluster) {
                let c = completed.withLock { $0.ids.count }
                return (c >= requests, c)
            }
            let end = completed.withLock { $0.last } ?? .now
            let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
            return RequestsResult(requests: requests, seconds: seconds(end - start), completed: completed.withLock { $0.ids.count }, cpu: cpu)
        }
    }

    // MARK: The billing cycle

    func runCycle(janitor: Janitor) async throws -> CycleResult {
        // contract.registered comes from its owner, post-sale; the run from a CRM.
        try await measuring(
            "billing", as: [("postsale", "otbench-contracts"), ("crm", "otbench-crm"), (nil, "otbench-proformas")], janitor: janitor
        ) { cluster, connections in
            let (pub, crm, con) = (connections[0], connections[1], connections[2])
            let seen = Mutex((ids: Set<String>(), total: 0, completed: Int?.none, at: ContinuousClock.Instant?.none))
            let task = try await watch(con, keys: [ProformaIssued.type, BillingCycleCompleted.type]) { type, body in
                if type == BillingCycleCompleted.type {
                    let n = (try? ContractJSONDecoder().decode(CycleProbe.self, from: Data(body)))?.data?.proformas
                    seen.withLock { s in
                        s.completed = n
                        s.at = .now
                    }
                } else {
                    let id = (try? ContractJSONDecoder().decode(ProformaProbe.self, from: Data(body)))?.data?.contractId
                    seen.withLock { s in
                        s.total += 1
                        if let id { s.ids.insert(id) }
                    }
                }
            }
            defer { task.cancel() }
            let registerStart = ContinuousClock.now
            let events = try (0..<cycleContracts).map { i in
                try message(ContractRegistered(contractId: "CT-\(i)", customer: Self.customer, products: Self.products(i)), by: "postsale")
            }
            try await publish(pub, events)
            // Until billing has them all (the shared timers only reach committed contracts).
            let database = cluster.name
            try await waitFor("contracts learnt by billing", cluster, stallAfter: .seconds(120), every: .milliseconds(500)) {
                let n = (try? countRows(postgres, database: database, "SELECT count(*) FROM billing.aggregates WHERE kind = 'contract'")) ?? 0
                return (n >= cycleContracts, n)
            }
            let registerSeconds = seconds(.now - registerStart)
            let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
            let start = ContinuousClock.now
            try await publish(crm, [try message(RunBillingCycle(month: YearMonth(Date()).adding(months: -1)), by: "crm")])
            try await waitFor("proformas issued", cluster, stallAfter: .seconds(120)) {
                let s = seen.withLock { $0 }
                return (s.completed != nil && s.total >= (s.completed ?? 0), s.total)
            }
            let s = seen.withLock { $0 }
            let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
            return CycleResult(
                contracts: cycleContracts, registerSeconds: registerSeconds, seconds: seconds((s.at ?? .now) - start), proformas: s.total,
                distinct: s.ids.count, reported: s.completed ?? -1, cpu: cpu)
        }
    }
}

struct RequestProbe: Decodable {
    struct D: Decodable { var requestId: String? }
    var data: D?
}

struct CycleProbe: Decodable {
    struct D: Decodable { var proformas: Int? }
    var data: D?
}

struct ProformaProbe: Decodable {
    struct D: Decodable { var contractId: String? }
    var data: D?
}

/// A count from psql (the benchmark's own read of a service schema).
func countRows(_ url: DatabaseEndpoint, database: String, _ sql: String) throws -> Int {
    Int(try psql(url, database: database, sql).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
}
