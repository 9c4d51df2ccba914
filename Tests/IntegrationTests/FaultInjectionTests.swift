import AMQP
import Contracts
import Foundation
import Runtime
import Synchronization
import Testing

/// N OTs driven through the whole lifecycle (open → approved → dispatched → assign →
/// report-outcome → close → prefactura-issued → prefactura-review → invoice-issued) by a
/// black-box client that reacts to events, while services are killed with SIGKILL and restarted
/// at random moments, and the broker and the database are each restarted once with traffic and
/// retries in flight. Every OT must end invoiced exactly once, seen from the events and from the
/// database, with nothing left in any outbox or parked table.
///
/// Settings: `FAULT_OTS` (default 120), `FAULT_KILLS` (default 6, at least one per service),
/// `FAULT_OPEN_SECONDS` (how long the opens are spread over; default max(40, N/5)),
/// `FAULT_TIMEOUT_SECONDS` (bound on the whole run, default 600), `FAULT_SEED` (replays the plan
/// of a run: which faults, in which order, at which offsets; the interleaving with the traffic
/// still depends on timing). The full-size run: `deploy/local/faults.sh` (FAULT_OTS=400).
@Suite("fault injection: kills, broker and database restarts under load", .serialized)
struct FaultInjectionTests {
    static let services = ["commercial", "approval", "dispatch", "billing"]
    /// TestSystem's short retry delays, and a park timeout long enough that a command which
    /// overtook its event is not rejected while that event is delayed by a kill or a restart.
    static let environment = ["PARK_TIMEOUT_MS": "120000"]

    @Test func everyWorkOrderIsInvoicedExactlyOnceWhileServicesAreKilledAndTheBrokerAndDatabaseRestart() async throws {
        let n = TestSetting.int("FAULT_OTS", default: 120)
        let killCount = max(Self.services.count, TestSetting.int("FAULT_KILLS", default: 6))
        let openSeconds = Double(TestSetting.int("FAULT_OPEN_SECONDS", default: max(40, n / 5)))
        let bound = Duration.seconds(TestSetting.int("FAULT_TIMEOUT_SECONDS", default: 600))
        let seed = SeededGenerator.seed(from: "FAULT_SEED")
        var rng = SeededGenerator(seed: seed)
        let plan = FaultPlan(services: Self.services, kills: killCount, window: openSeconds, using: &rng)
        print("[fault] \(n) OTs, seed \(seed) (FAULT_SEED=\(seed) replays the plan), opens spread over \(Int(openSeconds)) s, bound \(bound)")
        print("[fault] plan: " + plan.steps.map { "\($0.fault) at +\(oneDecimal($0.at))s" }.joined(separator: ", "))

        try await withTestSystem("faults") { system in
            let supervisor = Supervisor(system: system, services: Self.services, environment: Self.environment)
            try await supervisor.startAll()
            let publisher = ReliablePublisher(sender: try await system.sender())
            let ids = (0..<n).map { "WO-faults-\($0)" }
            let client = LifecycleClient(ids: ids, publisher: publisher)
            let tap = try await EventTap(system: system, queue: "test.faults") { client.handle($0) }
            let opens = try (0..<n).map { try CommandSender.message(Self.open($0, id: ids[$0])) }

            let start = ContinuousClock.now
            let log = FaultLog()
            // The opens arrive evenly over the window; the last ones are held back while faults are
            // still to come, and trickle in — one more whenever no more than two OTs are in flight —
            // so that OTs are in flight until the last fault is over (a broker restart can take much
            // longer than its slot; OTs stuck behind it do not use up the reserve). One OT per fault
            // still to come stays held until that fault asks for traffic: a fast machine can finish
            // everything it was given while a slow broker restart is still being waited for.
            let pacing = Task {
                let reserve = max(10, n / 5, plan.steps.count * 2)
                for (i, m) in opens.enumerated() {
                    try? await Task.sleep(until: start + .seconds(openSeconds * Double(i) / Double(n)), clock: .continuous)
                    while i >= n - reserve, !log.finished, !Task.isCancelled, !log.takeTrafficRequest(),
                        client.progress().inFlight > 2 || n - i <= plan.steps.count - log.started
                    {
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                    if Task.isCancelled { return }
                    client.released(ids[i])
                    publisher.enqueue([m])
                }
            }
            let chaos = Task { await plan.run(from: start, supervisor: supervisor, client: client, log: log) }

            // Until every OT has its invoice, the faults are over and every command is confirmed.
            var failure: String?
            var lastPrint = start
            var stalls = StallWatch(start: start)
            while true {
                await supervisor.restartCrashed(log: log, start: start)
                let p = client.progress()
                stalls.sample(p)
                if p.invoiced >= n, log.finished, publisher.isIdle { break }
                if ContinuousClock.now - lastPrint >= .seconds(5) {
                    lastPrint = .now
                    print("[fault \(elapsed(since: start))] \(p.line) | faults \(log.done)/\(plan.steps.count) | commands \(publisher.confirmed) confirmed, \(publisher.republished) publishes repeated")
                }
                if ContinuousClock.now - start > bound {
                    failure = "timed out after \(bound): \(p.line)"
                    break
                }
                if log.finished, ContinuousClock.now - tap.lastEventAt > .seconds(120) {
                    failure = "stalled: no event for 120 s after the faults ended: \(p.line)"
                    break
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            let took = ContinuousClock.now - start
            pacing.cancel()
            await chaos.value
            // Late duplicates or second invoices would show up now.
            try await Task.sleep(for: .seconds(3))
            publisher.stop()

            let s = client.snapshot()
            let kills = await supervisor.kills
            let perService = Self.services.map { "\($0) \(kills[$0] ?? 0)" }.joined(separator: ", ")
            print(
                "[fault] \(n) OTs in \(oneDecimal(seconds(took))) s (seed \(seed)): \(kills.values.reduce(0, +)) kills (\(perService)), "
                    + "1 broker restart, 1 database restart; \(publisher.confirmed) commands confirmed, \(publisher.republished) publishes repeated (same ids); "
                    + "\(tap.events.count) distinct events, \(tap.deliveries) deliveries")
            for r in log.records { print("[fault]   \(r)") }
            for stall in stalls.report { print("[fault]   stall: \(stall)") }

            let logPaths = await supervisor.logPaths
            let crashes = await supervisor.crashes
            #expect(failure == nil, "\(failure ?? ""); logs: \(logPaths)")
            #expect(log.errors.isEmpty, "faults that could not be injected: \(log.errors)")
            #expect(log.late.isEmpty, "faults that landed after the traffic: \(log.late)")
            #expect(crashes.isEmpty, "services that exited by themselves: \(crashes)")
            for service in Self.services { #expect((kills[service] ?? 0) >= 1, "\(service) was killed at least once") }

            // From the events: one prefactura and one invoice per OT, no rejection.
            let missing = ids.filter { s.ots[$0]?.invoices.isEmpty ?? true }
            #expect(missing.isEmpty, "\(missing.count) OTs without an invoice, e.g. \(missing.prefix(5).map { "\($0): \(s.ots[$0]?.summary ?? "")" })")
            let twice = ids.filter { (s.ots[$0]?.count(InvoiceIssued.type) ?? 0) > 1 }
            #expect(twice.isEmpty, "OTs invoiced more than once: \(twice.prefix(10).map { "\($0): \(s.ots[$0]?.summary ?? "")" })")
            let prefacturas = ids.filter { (s.ots[$0]?.count(PrefacturaIssued.type) ?? 0) != 1 }
            #expect(prefacturas.isEmpty, "OTs without exactly one prefactura: \(prefacturas.prefix(10).map { "\($0): \(s.ots[$0]?.summary ?? "")" })")
            #expect(s.rejected.count == 0, "well-formed commands were rejected: \(s.rejected.prefix(5).map { "\($0.data?.commandType ?? "?") \($0.data?.code ?? "?"): \($0.data?.message ?? "")" })")
            #expect(tap.undecodable.isEmpty, "events that are not envelopes: \(tap.undecodable.prefix(5))")

            // From the database: one invoice row and one prefactura row per OT.
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.invoices") == n)
            #expect(try await system.count("SELECT count(DISTINCT work_order_id)::int8 FROM billing.invoices") == n)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.prefacturas") == n)
            #expect(try await system.count("SELECT count(DISTINCT work_order_id)::int8 FROM billing.prefacturas") == n)
            // Nothing left to relay, nothing parked, nothing dead-lettered.
            var pending: [String: (outbox: Int, parked: Int)] = [:]
            let drained = try await eventually(timeout: .seconds(30), every: .milliseconds(500)) {
                for service in Self.services { pending[service] = try await system.pendingRows(service) }
                return pending.values.allSatisfy { $0.outbox == 0 && $0.parked == 0 }
            }
            #expect(drained, "outbox / parked rows left: \(pending)")
            if !drained {
                for (service, rows) in pending where rows.parked > 0 {
                    for line in try await system.parkedDiagnosis(service) { print("[fault] parked in \(service): \(line)") }
                }
                for path in logPaths { Self.printWarnings(path) }
            }
            let inspector = try await system.connect("inspector")
            for service in Self.services {
                let dead = try await inspector.queueStatus("\(service).dead").messages
                #expect(dead == 0, "\(dead) dead letters in \(service).dead")
            }
            let allRunning = await supervisor.allRunning
            #expect(allRunning, "every service runs at the end; logs: \(logPaths)")
        }
    }

    /// The last warnings and errors of a service log, for a failure message.
    static func printWarnings(_ path: String, last: Int = 15) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let lines = text.split(separator: "\n").filter { $0.contains(" warning ") || $0.contains(" error ") || $0.contains(" critical ") }
        for line in lines.suffix(last) { print("[fault] \((path as NSString).lastPathComponent): \(line.prefix(400))") }
    }

    /// A complete project: approved by the quality gate at once. Country (and so currency and
    /// invoice issuer) varies with `i`.
    static func open(_ i: Int, id: String) -> OpenWorkOrder {
        var c = OpenWorkOrder.example
        c.workOrderId = id
        c.dueBy = Date().addingTimeInterval(60 * 86_400)  // a public tender fixes its deadline
        let (country, currency): (Country, Currency) = [(.bo, .bob), (.cl, .clp), (.co, .cop)][i % 3]
        c.customer.country = country
        c.purchaseOrder = PurchaseOrder(number: "OC-faults-\(i)", amount: Money(minor: 1_000_000 + Int64(i), currency: currency))
        return c
    }
}

/// Notices a step of the lifecycle that makes no progress for 10 s or more while OTs wait
/// for it (the step before is ahead), and for how long: how quickly the platform resumes after
/// a fault. Reported, not asserted.
struct StallWatch {
    static let chain = [
        WorkOrderOpened.type, WorkOrderApproved.type, WorkOrderDispatched.type, WorkOrderAssigned.type, WorkOrderAttended.type,
        WorkOrderClosed.type, PrefacturaIssued.type, PrefacturaApproved.type, InvoiceIssued.type,
    ]
    let start: ContinuousClock.Instant
    private var last: [String: (count: Int, at: ContinuousClock.Instant)] = [:]
    private(set) var report: [String] = []

    init(start: ContinuousClock.Instant) { self.start = start }

    mutating func sample(_ p: LifecycleClient.Progress) {
        let now = ContinuousClock.now
        var previous = p.released
        for type in Self.chain {
            let count = p.counts[type] ?? 0
            let waiting = previous > count
            if let l = last[type], l.count == count {
                if !waiting { last[type] = (count, now) }
            } else {
                if let l = last[type], now - l.at >= .seconds(10) {
                    report.append("\(type) stood at \(l.count) for \(oneDecimal(seconds(now - l.at))) s (\(elapsed(since: start)) when it moved)")
                }
                last[type] = (count, now)
            }
            previous = count
        }
    }
}

/// One fault to inject.
enum Fault: CustomStringConvertible, Sendable {
    case kill(String)
    case brokerRestart
    case databaseRestart

    var description: String {
        switch self {
        case .kill(let s): "kill -9 \(s)"
        case .brokerRestart: "broker restart"
        case .databaseRestart: "database restart"
        }
    }
}

/// The faults of a run, drawn from the seed: every service killed at least once, more kills of
/// random services, one broker restart and one database restart, in random order at random
/// offsets within `window` seconds (while the opens are still arriving, so every fault lands
/// with traffic and retries in flight), each kill with a random downtime.
struct FaultPlan: Sendable {
    struct Step: Sendable {
        var fault: Fault
        /// Seconds after the start.
        var at: Double
        /// How long a killed service stays down.
        var down: Double
    }
    var steps: [Step]

    init(services: [String], kills: Int, window: Double, using rng: inout SeededGenerator) {
        var faults = services.shuffled(using: &rng).map(Fault.kill)
        for _ in services.count..<max(kills, services.count) { faults.append(.kill(services.randomElement(using: &rng)!)) }
        faults.shuffle(using: &rng)
        faults.insert(.brokerRestart, at: Int.random(in: 1...faults.count, using: &rng))
        faults.insert(.databaseRestart, at: Int.random(in: 1...faults.count, using: &rng))
        let slot = window / Double(faults.count)
        var steps: [Step] = []
        for (k, f) in faults.enumerated() {
            steps.append(Step(fault: f, at: slot * (Double(k) + rng.double(in: 0.15...0.85)), down: rng.double(in: 0.2...2.5)))
        }
        self.steps = steps
    }

    /// Injects the faults one after the other, each at its offset (or at once, when the one
    /// before overran its slot).
    func run(from start: ContinuousClock.Instant, supervisor: Supervisor, client: LifecycleClient, log: FaultLog) async {
        for step in steps {
            try? await Task.sleep(until: start + .seconds(step.at), clock: .continuous)
            let t0 = ContinuousClock.now
            let at = elapsed(since: start)
            log.begin()
            var before = client.progress()
            if before.inFlight == 0 {
                // Nothing in flight: one of the held-back OTs is let go first. The progress that saw it
                // in flight is the one recorded (read again, a fast OT may have finished meanwhile).
                log.requestTraffic()
                _ = await eventually(timeout: .seconds(5), every: .milliseconds(20)) {
                    before = client.progress()
                    return before.inFlight > 0
                }
            }
            if before.inFlight == 0 { log.late("\(step.fault) at \(at) with no OT in flight (\(before.line))") }
            switch step.fault {
            case .kill(let service):
                do {
                    let (pid, ready) = try await supervisor.killAndRestart(service, down: .seconds(step.down))
                    log.record("kill -9 \(service) (pid \(pid)) at \(at), down \(oneDecimal(step.down)) s, ready again \(oneDecimal(seconds(ready))) s after its restart")
                } catch {
                    log.error("kill -9 \(service) at \(at): \(error)")
                }
            case .brokerRestart, .databaseRestart:
                var script = "db-restart.sh"
                if case .brokerRestart = step.fault { script = "broker-restart.sh" }
                do {
                    let r = try await shellOffPool(["bash", packageRoot.appendingPathComponent("deploy/local/\(script)").path])
                    if r.status != 0 { log.error("\(script) failed (\(r.status)): \(r.output)") }
                    let timing = r.output.split(separator: "\n").last.map { " (\($0))" } ?? ""
                    log.record("\(step.fault) at \(at) took \(oneDecimal(seconds(ContinuousClock.now - t0))) s\(timing)")
                } catch {
                    log.error("\(script): \(error)")
                }
            }
            print("[fault \(elapsed(since: start))] \(log.records.last ?? log.errors.last ?? "") (when it began: \(before.line))")
        }
        log.finish()
    }
}

/// What the faults did, for the report.
final class FaultLog: Sendable {
    private struct State {
        var records: [String] = []
        var errors: [String] = []
        var late: [String] = []
        var done = 0
        var started = 0
        var trafficRequested = false
        var finished = false
    }
    private let state = Mutex(State())

    func record(_ line: String) {
        state.withLock {
            $0.records.append(line)
            $0.done += 1
        }
    }
    func error(_ line: String) {
        state.withLock {
            $0.errors.append(line)
            $0.done += 1
        }
    }
    /// A fault that landed when the traffic was over.
    func late(_ line: String) { state.withLock { $0.late.append(line) } }
    func finish() { state.withLock { $0.finished = true } }
    /// A fault is about to be injected.
    func begin() { state.withLock { $0.started += 1 } }
    /// Faults begun so far.
    var started: Int { state.withLock { $0.started } }
    /// The next fault finds nothing in flight: the pacing lets one held-back OT go.
    func requestTraffic() { state.withLock { $0.trafficRequested = true } }
    /// Whether traffic was asked for (and clears the request).
    func takeTrafficRequest() -> Bool {
        state.withLock { s in
            defer { s.trafficRequested = false }
            return s.trafficRequested
        }
    }
    var late: [String] { state.withLock { $0.late } }
    var records: [String] { state.withLock { $0.records } }
    var errors: [String] { state.withLock { $0.errors } }
    var done: Int { state.withLock { $0.done } }
    var finished: Bool { state.withLock { $0.finished } }
}

/// Owns the service processes of a run: starts them, kills one with SIGKILL and starts it again
/// with the same environment, and notices (and restarts) a service that exited by itself.
actor Supervisor {
    let system: TestSystem
    let services: [String]
    let environment: [String: String]
    private var processes: [String: ServiceProcess] = [:]
    private var down: Set<String> = []
    private(set) var kills: [String: Int] = [:]
    private(set) var crashes: [String] = []

    init(system: TestSystem, services: [String], environment: [String: String]) {
        self.system = system
        self.services = services
        self.environment = environment
    }

    func startAll() async throws {
        for s in services { processes[s] = try system.start(s, environment: environment) }
        for s in services { try await processes[s]!.waitUntilReady() }
    }

    /// Kills the service with SIGKILL, leaves it down for `down`, starts it again and waits
    /// until it consumes; returns the killed pid and how long the new process took to be ready.
    func killAndRestart(_ service: String, down: Duration) async throws -> (pid_t, Duration) {
        guard let p = processes[service] else { throw TestFailure("no process for \(service)") }
        self.down.insert(service)
        defer { self.down.remove(service) }
        await p.killHard()
        kills[service, default: 0] += 1
        try await Task.sleep(for: down)
        let started = ContinuousClock.now
        let next = try system.start(service, environment: environment)
        processes[service] = next
        try await next.waitUntilReady()
        return (p.pid, ContinuousClock.now - started)
    }

    /// Restarts every service that exited without being killed, recording it as a crash.
    func restartCrashed(log: FaultLog, start: ContinuousClock.Instant) async {
        for s in services where !down.contains(s) {
            guard let p = processes[s], !p.isRunning else { continue }
            crashes.append("\(s) (pid \(p.pid)) exited with status \(p.terminationStatus ?? -1) at \(elapsed(since: start)); log \(p.logURL.path):\n\(p.log.suffix(2000))")
            print("[fault \(elapsed(since: start))] \(s) exited by itself (status \(p.terminationStatus ?? -1)); restarting it")
            down.insert(s)
            defer { down.remove(s) }
            do {
                let next = try system.start(s, environment: environment)
                processes[s] = next
                try await next.waitUntilReady()
            } catch {
                crashes.append("\(s) could not be restarted: \(error)")
            }
        }
    }

    var allRunning: Bool { services.allSatisfy { processes[$0]?.isRunning == true } }
    var logPaths: [String] { services.compactMap { processes[$0]?.logURL.path } }
}

/// The black-box client of the fault run: like the CRM and the field, it sends each OT's next
/// command once it has seen the event that command depends on, deduplicating events by
/// envelope id (the tap does) and sending every command once.
final class LifecycleClient: Sendable {
    struct WorkOrder {
        var correlation: String?
        /// Distinct events seen, per type.
        var seen: [String: Int] = [:]
        var sent: Set<String> = []
        var prefacturas: Set<String> = []
        var invoices: Set<String> = []

        func count(_ type: String) -> Int { seen[type] ?? 0 }
        var summary: String {
            seen.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        }
    }
    struct State {
        var ots: [String: WorkOrder]
        var released: Set<String> = []
        var rejected: [EventProbe] = []
        var encodingErrors: [String] = []
    }
    struct Progress {
        var counts: [String: Int]
        var released: Int
        var invoiced: Int
        var rejected: Int
        /// OTs whose open was sent and that have no invoice yet.
        var inFlight: Int { released - invoiced }
        var line: String {
            let steps: [(String, String)] = [
                ("opened", WorkOrderOpened.type), ("approved", WorkOrderApproved.type), ("dispatched", WorkOrderDispatched.type),
                ("closed", WorkOrderClosed.type), ("prefactura", PrefacturaIssued.type), ("reviewed", PrefacturaApproved.type),
                ("invoiced", InvoiceIssued.type),
            ]
            return "sent \(released), " + steps.map { "\($0.0) \(counts[$0.1] ?? 0)" }.joined(separator: ", ") + ", rejected \(rejected)"
        }
    }

    private let state: Mutex<State>
    let publisher: ReliablePublisher
    let technician = Assignee(id: "T-7", name: "Carlos Rojas", role: "technician")

    init(ids: [String], publisher: ReliablePublisher) {
        state = Mutex(State(ots: Dictionary(uniqueKeysWithValues: ids.map { ($0, WorkOrder()) })))
        self.publisher = publisher
    }

    func handle(_ e: EventProbe) {
        if e.type == CommandRejected.type {
            state.withLock { $0.rejected.append(e) }
            return
        }
        guard let wo = e.data?.workOrderId else { return }
        let next: OutgoingMessage? = state.withLock { s in
            guard var ot = s.ots[wo] else { return nil }
            ot.seen[e.type, default: 0] += 1
            if ot.correlation == nil { ot.correlation = e.correlationid }
            var command: (any Message)?
            switch e.type {
            case WorkOrderDispatched.type where ot.sent.insert("assign").inserted:
                command = AssignWorkOrder(workOrderId: wo, assignee: technician)
            case WorkOrderAssigned.type where ot.sent.insert("outcome").inserted:
                command = ReportOutcome(workOrderId: wo, outcome: .resolved)
            case WorkOrderAttended.type where ot.sent.insert("close").inserted:
                command = CloseWorkOrder(workOrderId: wo, by: "head.csv")
            case PrefacturaIssued.type:
                if let p = e.data?.prefacturaId {
                    ot.prefacturas.insert(p)
                    if ot.sent.insert("review").inserted {
                        command = ReviewPrefactura(prefacturaId: p, decision: .approve, by: "commercial.head")
                    }
                }
            case InvoiceIssued.type:
                ot.invoices.insert(e.data?.invoiceId ?? e.id)
            default:
                break
            }
            s.ots[wo] = ot
            guard let command else { return nil }
            do {
                return try Self.message(command, correlationId: ot.correlation)
            } catch {
                s.encodingErrors.append("\(error)")
                return nil
            }
        }
        if let next { publisher.enqueue([next]) }
    }

    private static func message<M: Message>(_ m: M, correlationId: String?) throws -> OutgoingMessage {
        try CommandSender.message(m, correlationId: correlationId)
    }

    /// The open of this OT is being sent.
    func released(_ id: String) { state.withLock { _ = $0.released.insert(id) } }

    func progress() -> Progress {
        state.withLock { s in
            var counts: [String: Int] = [:]
            var invoiced = 0
            for ot in s.ots.values {
                for (type, c) in ot.seen where c > 0 { counts[type, default: 0] += 1 }
                if !ot.invoices.isEmpty { invoiced += 1 }
            }
            return Progress(counts: counts, released: s.released.count, invoiced: invoiced, rejected: s.rejected.count)
        }
    }

    func snapshot() -> State { state.withLock { $0 } }
}
