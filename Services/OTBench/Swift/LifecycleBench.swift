import AMQP
import Contracts
import Foundation
import Logging
import Runtime
import Synchronization

/// Full lifecycles: N complete `project` OTs from `workorder.open` to `billing.invoice-issued`
/// through commercial, approval, dispatch and billing, each its own process, on a throwaway vhost
/// and database. A reactive driver consumes every event (its own queue, `#` on `ot.events`) and
/// sends the next command of each OT as its event arrives, like the CRM and the field would:
///
///     open → opened (commercial) → approved (approval) → dispatched (dispatch)
///     assign → assigned; report-outcome resolved → attended; close → closed (dispatch)
///     → prefactura-issued (billing); prefactura-review approve → prefactura-approved (approval)
///     → invoice-issued (billing)
///
/// All N opens are published at once (confirm batches); the figure is complete lifecycles per
/// second from the first open published to the last invoice received, with p50/p99/max per hop.
struct LifecycleBench {
    /// The driver sends every command of the lifecycle as the operators' tool, which may send
    /// them all (consumers check the publisher of every message).
    static let driverUser = "otctl"

    var amqpURL: AMQPURL
    var managementURL: String
    var postgres: DatabaseEndpoint
    var lifecycles: Int
    var confirmBatch: Int
    var serviceEnvironment: [String: String]
    var logger: Logger

    static let services = ["commercial", "approval", "dispatch", "billing"]

    struct Hop {
        var name: String
        var p50: Double
        var p99: Double
        var max: Double
    }

    struct Result {
        var tunables: String
        var lifecycles: Int
        var seconds: Double
        var invoices: Int
        var distinctWorkOrders: Int
        var rejected: Int
        var rejectionSample: String?
        var reviewRetries: Int
        var duplicates: Int
        var hops: [Hop]
        var cpu: CPUUsage
        var rate: Double { Double(lifecycles) / seconds }
    }

    func run(janitor: Janitor) async throws -> Result {
        try await ServiceCluster(
            services: Self.services, amqpURL: amqpURL, managementURL: managementURL, postgres: postgres,
            serviceEnvironment: serviceEnvironment, janitor: janitor
        ).measuring { try await measure($0) }
    }

    private func measure(_ cluster: ServiceCluster) async throws -> Result {
        let url = cluster.url
        let env = cluster.environment
        let tunables =
            HopBench.tunableDefaults.map { k, d in "\(k)=\(env[k] ?? d)" }.joined(separator: " ")
            + " (billing: BATCH_SIZE=\(env["BATCH_SIZE"] ?? "256") BATCH_WAIT_MS=\(env["BATCH_WAIT_MS"] ?? "20"))"

        let n = lifecycles
        let runId = String(cluster.name.dropFirst("otbench_".count))
        let ids = (0..<n).map { "WO-bench-\(runId)-\($0)" }
        let opens = try ids.enumerated().map { try Self.openCommand(workOrderId: $0.element, index: $0.offset) }
        let state = LifecycleState(ids: ids)

        let pub = AMQPConnection(configuration: .init(url: cluster.url(as: Self.driverUser), name: "otbench-driver-commands"), logger: logger)
        let con = AMQPConnection(configuration: .init(url: url, name: "otbench-driver-events"), logger: logger)
        pub.start()
        con.start()
        let outbox = CommandOutbox()
        var consumerTask: Task<Void, Never>?
        var publisherTask: Task<Void, Never>?
        do {
            try await con.waitUntilConnected()
            try await pub.waitUntilConnected()
            let queue = "otbench.driver"
            var topology = PlatformTopology.exchanges
            topology.queues.append(.quorum(queue))
            topology.bindings.append(.init(queue: queue, exchange: PlatformTopology.events, routingKey: "#"))
            try await con.declare(topology)
            let consumer = try await con.consume(queue: queue, prefetch: 2000)
            consumerTask = Task {
                var driver = Driver(state: state, outbox: outbox)
                var k = 0
                for await d in consumer.deliveries {
                    driver.handle(d, at: ContinuousClock.now)
                    k += 1
                    if k % 200 == 0 { con.ack(d, multiple: true) }
                }
            }
            publisherTask = Task { await outbox.publishLoop(pub, state: state) }

            let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
            let start = ContinuousClock.now
            var sent = 0
            while sent < n {
                let end = min(sent + confirmBatch, n)
                state.sent((sent..<end).map { ($0, Step.open) }, at: .now)
                let outcomes = try await pub.publish(Array(opens[sent..<end]))
                if let bad = outcomes.first(where: { $0 != .confirmed }) { throw BenchError("open not confirmed: \(bad)") }
                sent = end
            }
            // Until every OT has its invoice.
            var lastProgress = ContinuousClock.now
            var lastCount = -1
            var doneAt: ContinuousClock.Instant
            while true {
                let p = state.progress()
                if let e = p.error { throw BenchError(e) }
                if p.invoices >= n, let at = p.lastInvoiceAt {
                    doneAt = at
                    break
                }
                if p.events != lastCount {
                    lastCount = p.events
                    lastProgress = .now
                }
                try cluster.checkRunning()
                guard ContinuousClock.now - lastProgress < .seconds(30) else {
                    throw BenchError("stalled: \(p.invoices) of \(n) invoices after 30 s without events; \(state.stepCounts())")
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
            // Late duplicates (at-least-once relays) or rejections would show up now.
            try await Task.sleep(for: .milliseconds(500))
            outbox.finish()
            try? await con.cancel(consumer)
            await consumerTask?.value
            await publisherTask?.value
            await pub.shutdown()
            await con.shutdown()

            let s = state.snapshot()
            var hops: [Hop] = []
            func hop(_ name: String, _ from: Step, _ to: Step) throws {
                var v: [Double] = []
                v.reserveCapacity(n)
                for i in 0..<n {
                    guard let a = s.at(i, from), let b = s.at(i, to) else { throw BenchError("OT \(i): no \(from.label) or \(to.label) time") }
                    v.append(seconds(b - a) * 1000)
                }
                v.sort()
                func pct(_ p: Double) -> Double { v[min(v.count - 1, Int((p * Double(v.count)).rounded(.up)) - 1)] }
                hops.append(Hop(name: name, p50: pct(0.5), p99: pct(0.99), max: v.last ?? .nan))
            }
            try hop("open → opened", .open, .opened)
            try hop("opened → approved", .opened, .approved)
            try hop("approved → dispatched", .approved, .dispatched)
            try hop("assign → assigned", .assign, .assigned)
            try hop("outcome → attended", .outcome, .attended)
            try hop("close → closed", .close, .closed)
            try hop("closed → prefactura-issued", .closed, .prefacturaIssued)
            try hop("review → prefactura-approved", .review, .prefacturaApproved)
            try hop("prefactura-approved → invoice-issued", .prefacturaApproved, .invoiceIssued)
            try hop("whole lifecycle open → invoice", .open, .invoiceIssued)
            return Result(
                tunables: tunables, lifecycles: n, seconds: seconds(doneAt - start), invoices: s.invoices,
                distinctWorkOrders: s.invoicedWorkOrders.count, rejected: s.rejected, rejectionSample: s.rejectionSample,
                reviewRetries: s.reviewRetries, duplicates: s.duplicates, hops: hops, cpu: cpu)
        } catch {
            outbox.finish()
            consumerTask?.cancel()
            publisherTask?.cancel()
            await pub.shutdown()
            await con.shutdown()
            throw error
        }
    }

    /// A complete `project` OT: offer + purchase-order documents, a purchase-order amount, the
    /// given id; the country (and currency) varies with `index`.
    static func openCommand(workOrderId: String, index: Int) throws -> OutgoingMessage {
        var c = OpenWorkOrder.example
        c.workOrderId = workOrderId
        c.dueBy = Date().addingTimeInterval(90 * 86_400)
        let (country, currency): (Country, Currency) = [(.bo, .bob), (.cl, .clp), (.co, .cop)][index % 3]
        c.customer.country = country
        c.purchaseOrder = PurchaseOrder(number: "OC-\(workOrderId)", amount: Money(minor: 4_850_000, currency: currency))
        return try EnvelopeCodec.outgoing(Envelope(source: "/ot/otbench", correlationId: nil, causationId: nil, data: c), appId: "otbench")
            .published(by: Self.driverUser)
    }
}

/// The instants recorded per OT: commands when published (just before the publish call), events
/// when received.
enum Step: Int, CaseIterable {
    case open, opened, approved, dispatched, assign, assigned, outcome, attended, close, closed
    case prefacturaIssued, review, prefacturaApproved, invoiceIssued
}

/// The fields of an event the driver reads.
private struct DriverProbe: Decodable {
    var id: String
    var correlationid: String?
    var data: Payload?

    struct Payload: Decodable {
        var workOrderId: String?
        var prefacturaId: String?
        var commandId: String?
        var commandType: String?
        var code: String?
        var message: String?
    }
}

/// Shared between the driver (consumer task), the publisher and the main task.
final class LifecycleState: Sendable {
    struct S {
        var index: [String: Int] = [:]
        var times: [ContinuousClock.Instant?]
        var events = 0
        var invoices = 0
        var invoicedWorkOrders: Set<String> = []
        var lastInvoiceAt: ContinuousClock.Instant?
        var rejected = 0
        var rejectionSample: String?
        var reviewRetries = 0
        var duplicates = 0
        var error: String?
        /// Command id → (OT index, what it was): for rejections.
        var commands: [String: (Int, Step)] = [:]
        /// Prefactura to review, per OT (for a retried review).
        var prefactura: [Int: String] = [:]
        var correlation: [Int: String] = [:]

        func at(_ i: Int, _ step: Step) -> ContinuousClock.Instant? { times[i * Step.allCases.count + step.rawValue] }
    }

    private let s: Mutex<S>
    let ids: [String]

    init(ids: [String]) {
        self.ids = ids
        var index: [String: Int] = [:]
        index.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() { index[id] = i }
        s = Mutex(S(index: index, times: Array(repeating: nil, count: ids.count * Step.allCases.count)))
    }

    func sent(_ items: [(Int, Step)], at t: ContinuousClock.Instant) {
        s.withLock { s in for (i, step) in items { s.times[i * Step.allCases.count + step.rawValue] = t } }
    }

    func fail(_ message: String) { s.withLock { if $0.error == nil { $0.error = message } } }

    func progress() -> (events: Int, invoices: Int, lastInvoiceAt: ContinuousClock.Instant?, error: String?) {
        s.withLock { ($0.events, $0.invoices, $0.lastInvoiceAt, $0.error) }
    }

    func snapshot() -> S { s.withLock { $0 } }

    /// How many OTs reached each step (for a stall report).
    func stepCounts() -> String {
        s.withLock { s in
            let k = Step.allCases.count
            return Step.allCases.map { step in
                var c = 0
                for i in 0..<ids.count where s.times[i * k + step.rawValue] != nil { c += 1 }
                return "\(step.label) \(c)"
            }.joined(separator: ", ") + "; command.rejected \(s.rejected)" + (s.rejectionSample.map { " (\($0))" } ?? "")
        }
    }

    func withState<R>(_ body: (inout S) -> R) -> R { s.withLock { body(&$0) } }
}

extension Step {
    var label: String {
        switch self {
        case .open: "open"
        case .opened: "opened"
        case .approved: "approved"
        case .dispatched: "dispatched"
        case .assign: "assign"
        case .assigned: "assigned"
        case .outcome: "outcome"
        case .attended: "attended"
        case .close: "close"
        case .closed: "closed"
        case .prefacturaIssued: "prefactura-issued"
        case .review: "review"
        case .prefacturaApproved: "prefactura-approved"
        case .invoiceIssued: "invoice-issued"
        }
    }
}

/// Reacts to each event: records its arrival and queues the OT's next command.
private struct Driver {
    let state: LifecycleState
    let outbox: CommandOutbox
    let decoder = ContractJSONDecoder()

    static let steps: [String: Step] = [
        WorkOrderOpened.type: .opened, WorkOrderApproved.type: .approved, WorkOrderDispatched.type: .dispatched,
        WorkOrderAssigned.type: .assigned, WorkOrderAttended.type: .attended, WorkOrderClosed.type: .closed,
        PrefacturaIssued.type: .prefacturaIssued, PrefacturaApproved.type: .prefacturaApproved,
        InvoiceIssued.type: .invoiceIssued,
    ]

    mutating func handle(_ d: Delivery, at: ContinuousClock.Instant) {
        let key = d.routingKey
        let step = Self.steps[key]
        guard step != nil || key == CommandRejected.type else {
            state.withState { $0.events += 1 }
            return
        }
        guard let probe = try? decoder.decode(DriverProbe.self, from: Data(d.body)) else {
            state.fail("cannot decode a \(key) event")
            return
        }
        if key == CommandRejected.type {
            rejected(probe)
            return
        }
        guard let step, let wo = probe.data?.workOrderId else { return }
        let k = Step.allCases.count
        // Record; react only to the first copy of an event.
        let react: (Int, String?)? = state.withState { s in
            s.events += 1
            guard let i = s.index[wo] else { return nil }
            if s.times[i * k + step.rawValue] != nil {
                s.duplicates += 1
                return nil
            }
            s.times[i * k + step.rawValue] = at
            if step == .opened, let c = probe.correlationid { s.correlation[i] = c }
            if step == .prefacturaIssued, let p = probe.data?.prefacturaId { s.prefactura[i] = p }
            if step == .invoiceIssued {
                s.invoices += 1
                s.invoicedWorkOrders.insert(wo)
                s.lastInvoiceAt = at
            }
            return (i, s.correlation[i])
        }
        guard let (i, correlation) = react else { return }
        do {
            switch step {
            case .dispatched:
                try send(AssignWorkOrder(workOrderId: wo, assignee: .example), i, .assign, correlation)
            case .assigned:
                try send(ReportOutcome(workOrderId: wo, outcome: .resolved), i, .outcome, correlation)
            case .attended:
                try send(CloseWorkOrder(workOrderId: wo, by: "head.csv"), i, .close, correlation)
            case .prefacturaIssued:
                guard let p = probe.data?.prefacturaId else { throw BenchError("prefactura-issued without prefacturaId") }
                try send(ReviewPrefactura(prefacturaId: p, decision: .approve, by: "commercial.head"), i, .review, correlation)
            default:
                break
            }
        } catch {
            state.fail("cannot encode the next command of \(wo): \(error)")
        }
    }

    /// A rejection is counted (the check wants none). A review refused as `notFound` raced
    /// approval's intake of the same prefactura-issued event: it is sent again after 20 ms (new
    /// id) so that the run completes, and counted as such; any other rejection stalls that OT.
    private mutating func rejected(_ probe: DriverProbe) {
        let retry: (Int, String, String?)? = state.withState { s in
            s.events += 1
            s.rejected += 1
            let c = probe.data
            if s.rejectionSample == nil {
                s.rejectionSample = "\(c?.commandType ?? "?") \(c?.code ?? "?"): \(c?.message ?? "?")"
            }
            guard let cid = c?.commandId, let (i, step) = s.commands[cid], step == .review, c?.code == "notFound",
                let p = s.prefactura[i]
            else { return nil }
            s.reviewRetries += 1
            return (i, p, s.correlation[i])
        }
        guard let (i, p, correlation) = retry else { return }
        let outbox = outbox
        let state = state
        Task {
            try? await Task.sleep(for: .milliseconds(20))
            do {
                let env = Envelope(
                    source: "/ot/otbench", correlationId: correlation, causationId: nil,
                    data: ReviewPrefactura(prefacturaId: p, decision: .approve, by: "commercial.head"))
                state.withState { $0.commands[env.id] = (i, .review) }
                outbox.enqueue(i, .review, try EnvelopeCodec.outgoing(env, appId: "otbench").published(by: LifecycleBench.driverUser))
            } catch {
                state.fail("cannot encode a review: \(error)")
            }
        }
    }

    private func send<M: Message>(_ m: M, _ i: Int, _ step: Step, _ correlation: String?) throws {
        let env = Envelope(source: "/ot/otbench", correlationId: correlation, causationId: nil, data: m)
        state.withState { $0.commands[env.id] = (i, step) }
        outbox.enqueue(i, step, try EnvelopeCodec.outgoing(env, appId: "otbench").published(by: LifecycleBench.driverUser))
    }
}

/// Commands the driver wants sent: published in batches with confirms, up to 4 batches in flight,
/// each batch's instant taken just before its publish call.
final class CommandOutbox: Sendable {
    private let pending = Mutex<[(Int, Step, OutgoingMessage)]>([])
    private let signal: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (signal, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func enqueue(_ i: Int, _ step: Step, _ m: OutgoingMessage) {
        pending.withLock { $0.append((i, step, m)) }
        continuation.yield()
    }

    func finish() { continuation.finish() }

    func publishLoop(_ pub: AMQPConnection, state: LifecycleState) async {
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for await _ in signal {
                while true {
                    let batch = pending.withLock { p -> [(Int, Step, OutgoingMessage)] in
                        let b = Array(p.prefix(500))
                        p.removeFirst(b.count)
                        return b
                    }
                    if batch.isEmpty { break }
                    if inFlight >= 4 {
                        await group.next()
                        inFlight -= 1
                    }
                    inFlight += 1
                    group.addTask {
                        state.sent(batch.map { ($0.0, $0.1) }, at: .now)
                        do {
                            let outcomes = try await pub.publish(batch.map(\.2))
                            if let bad = outcomes.first(where: { $0 != .confirmed }) { state.fail("command not confirmed: \(bad)") }
                        } catch {
                            state.fail("command publish failed: \(error)")
                        }
                    }
                }
            }
        }
    }
}
