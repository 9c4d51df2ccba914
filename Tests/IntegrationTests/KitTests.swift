import AMQP
import Contracts
import Foundation
import Logging
import PostgresNIO
@testable import Runtime
import Testing

/// A tiny aggregate to test the service kit itself against PostgreSQL: `workorder.open` adds to a
/// tally named by the work-order id (its description becomes the label); `workorder.approve`
/// adds to an existing tally only (`notFound`, may be late, otherwise); a label `ping` sets a
/// timer that is due at once, a label `join` a join (`done`) on every `ping` timer, due earlier.
enum Tally: Aggregate {
    static let kind = "tally"

    struct State: AggregateState {
        var id: String
        var count: Int
        var label: String
        var pings: Int = 0
        var dones: Int = 0
        var status: String { "counting" }
    }

    enum Input: Sendable {
        case add(String, String)
        case addExisting(String)
        case ping
        case done
    }

    static let machine = StateMachine(
        title: "tally", procedure: "kit tests", states: [.init("counting")],
        transitions: [
            .init(nil, "counting", on: OpenWorkOrder.type), .init("counting", "counting", on: OpenWorkOrder.type),
            .init("counting", "counting", on: ApproveWorkOrder.type),
        ])

    static func timerFired(_ name: String, dueAt: Date) -> Input? { name == "ping" ? .ping : name == "done" ? .done : nil }

    static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        switch input {
        case .add(let id, let label):
            var s = state ?? State(id: id, count: 0, label: label)
            s.count += 1
            s.label = label
            return Decision(
                state: s, history: [HistoryEntry("add", from: state?.status, to: s.status)],
                timers: label == "ping"
                    ? [.set("ping", at: context.now.addingTimeInterval(-1))]
                    : label == "join" ? [.join("done", at: context.now.addingTimeInterval(-2), after: "ping")] : [])
        case .addExisting(let id):
            guard var s = state else {
                throw .notFound("no tally \(id)", field: "data.workOrderId", problem: "unknown tally")
            }
            s.count += 1
            return Decision(state: s, history: [HistoryEntry("add", from: s.status, to: s.status)])
        case .ping:
            guard var s = state else { return .ignore("no tally") }
            s.pings += 1
            return Decision(state: s, history: [HistoryEntry("ping", from: nil, to: nil)])
        case .done:
            guard var s = state else { return .ignore("no tally") }
            s.dones += 1
            return Decision(state: s, history: [HistoryEntry("done", from: nil, to: nil)])
        }
    }
}

@Suite("the service kit against PostgreSQL", .serialized)
struct KitTests {
    static let routes = Routes { r in
        r.on(OpenWorkOrder.self) { c, _ in [.to(Tally.self, c.workOrderId ?? "?", .add(c.workOrderId ?? "?", c.description))] }
        r.on(ApproveWorkOrder.self) { c, _ in [.to(Tally.self, c.workOrderId, .addExisting(c.workOrderId))] }
    }

    /// A kit runner over a fresh schema of the test database.
    static func withRunner(
        _ system: TestSystem, parkTimeout: Duration = .seconds(60), _ body: (BatchRunner, PostgresClient) async throws -> Void
    ) async throws {
        var logger = Logger(label: "kit-test")
        logger.logLevel = .warning
        let url = try DatabaseURL(system.databaseURL)
        let client = Database.makeClient(url, poolSize: 4, schema: "kittest", logger: logger)
        let run = Task { await client.run() }
        defer { run.cancel() }
        try await Database.migrate(client, schema: "kittest", migrations: [], logger: logger)
        let amqp = AMQPConnection(configuration: .init(url: try AMQPURL(string: system.amqpURL), name: "kit"), logger: logger)
        let relay = OutboxRelay(postgres: client, amqp: amqp, schema: "kittest", batch: 100, publisherUser: nil, logger: logger)
        let engine = Engine(
            service: "kittest", routes: routes, aggregates: [Tally.kind: AggregateInfo(Tally.self)], emits: [],
            parkTimeout: parkTimeout, logger: logger)
        let runner = BatchRunner(
            engine: engine, postgres: client, relay: relay, clock: SystemClock(), transactionTimeout: .seconds(10), logger: logger)
        try await body(runner, client)
    }

    /// The parking service of a kit runner, with rounds `every` so long.
    static func parking(_ runner: BatchRunner, every interval: Duration) -> ParkingService {
        ParkingService(
            runner: runner, parser: MessageParser(provenance: Provenance(ownUser: "kittest")), interval: interval,
            logger: Logger(label: "p"))
    }

    static func item<M: Message>(_ m: M, id: String) -> WorkItem {
        let envelope = Envelope(id: id, source: "/test", correlationId: nil, causationId: nil, data: m)
        var raw = RawMessage(
            queue: "kittest.commands", exchange: PlatformTopology.commands, routingKey: M.type,
            properties: MessageProperties(messageId: id, type: M.type, userId: "crm"), body: (try? Wire.encodeBytes(envelope)) ?? [])
        raw.properties.correlationId = id
        return WorkItem(
            origin: .delivery, raw: raw, messageId: id, type: M.type, header: envelope.header, message: m, failure: nil,
            isCommand: M.kind == .command, sender: "crm")
    }

    /// Runs a batch of items through the runner.
    static func run(_ runner: BatchRunner, _ items: [WorkItem]) async throws -> BatchReport {
        try await runner.run { _, _ in items }
    }

    static func open(_ id: String, _ label: String = "x") -> OpenWorkOrder {
        var c = OpenWorkOrder.example
        c.workOrderId = id
        c.description = label
        return c
    }

    func count(_ system: TestSystem, _ sql: String) async throws -> Int { try await system.count(sql) }

    @Test func aValueTheDatabaseRefusesRejectsOnlyItsMessageAndItsBatchMatesAreSaved() async throws {
        try await withTestSystem("kit-data") { system in
            try await Self.withRunner(system) { runner, _ in
                // A NUL character (which PostgreSQL refuses, SQLSTATE 22P05 in jsonb) reaching the
                // store, whatever let it through decoding.
                let items = [
                    Self.item(Self.open("T-1", "uno"), id: "m-1"), Self.item(Self.open("T-2", "dos\u{0}"), id: "m-2"),
                    Self.item(Self.open("T-3", "tres"), id: "m-3"),
                ]
                let report = try await Self.run(runner, items)
                #expect(report.outcomes == [.handled, .rejected("invalidData"), .handled])
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.aggregates") == 2)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.aggregates WHERE id = 'T-2'") == 0)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.inbox WHERE outcome = 'rejected'") == 1)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.outbox WHERE routing_key = 'kittest.dead'") == 1)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.outbox WHERE routing_key = 'command.rejected'") == 1)
                // Redelivered, they are duplicates: nothing twice.
                let again = try await Self.run(runner, items)
                #expect(again.outcomes == [.duplicate, .duplicate, .duplicate])
            }
        }
    }

    @Test func twoBatchesCreatingTheSameAggregateAtOnceBothCount() async throws {
        try await withTestSystem("kit-race") { system in
            try await Self.withRunner(system) { runner, _ in
                for round in 0..<5 {
                    let id = "RACE-\(round)"
                    async let a = Self.run(runner, [Self.item(Self.open(id), id: "\(id)-a")])
                    async let b = Self.run(runner, [Self.item(Self.open(id), id: "\(id)-b")])
                    let (ra, rb) = try await (a, b)
                    #expect(ra.outcomes == [.handled] && rb.outcomes == [.handled])
                    #expect(try await count(system, "SELECT (data->>'count')::int8 FROM kittest.aggregates WHERE id = '\(id)'") == 2)
                    #expect(try await count(system, "SELECT version::int8 FROM kittest.aggregates WHERE id = '\(id)'") == 2)
                }
            }
        }
    }

    /// Two batches of one queue touching one aggregate, the earlier one slower to reach its load
    /// (here: a slow start of its transaction): the later one waits for its turn, so the facts
    /// apply in delivery order and the last label is the later batch's.
    @Test func concurrentBatchesOfAQueueApplyTheirFactsInDeliveryOrder() async throws {
        try await withTestSystem("kit-order") { system in
            try await Self.withRunner(system) { runner, _ in
                _ = try await Self.run(runner, [Self.item(Self.open("ORD", "zero"), id: "o-0")])
                let order = LoadOrder(maxWait: .seconds(10))
                let (early, late) = (order.issue(), order.issue())
                let earlier = [Self.item(Self.open("ORD", "one"), id: "o-1")]
                let later = [Self.item(Self.open("ORD", "two"), id: "o-2")]
                async let a = runner.run(turn: early) { _, _ in
                    try await Task.sleep(for: .milliseconds(400))
                    return earlier
                }
                try await Task.sleep(for: .milliseconds(50))
                async let b = runner.run(turn: late) { _, _ in later }
                let (ra, rb) = try await (a, b)
                #expect(ra.outcomes == [.handled] && rb.outcomes == [.handled])
                let label = try await system.strings("SELECT data->>'label' FROM kittest.aggregates WHERE id = 'ORD'").first
                #expect(label == "two")
                #expect(try await count(system, "SELECT (data->>'count')::int8 FROM kittest.aggregates WHERE id = 'ORD'") == 3)
            }
        }
    }

    /// `BEGIN` goes out without a wait for its answer: the body's statements still run inside the
    /// transaction (a savepoint is refused outside one), a body that throws leaves nothing, and a
    /// body that returns is committed.
    @Test func aTransactionWhoseBeginIsQueuedRunsItsBodyInsideItAndRollsBackOnError() async throws {
        try await withTestSystem("kit-tx") { system in
            try await Self.withRunner(system) { _, client in
                let logger = Logger(label: "kit-tx")
                _ = try await client.withTransaction(within: .seconds(10), "create", logger: logger) { conn in
                    try await conn.query("CREATE TABLE kittest.tx_probe (n int)", logger: logger)
                }
                struct Refused: Error {}
                await #expect(throws: Refused.self) {
                    try await client.withTransaction(within: .seconds(10), "rolled back", logger: logger) { conn in
                        try await conn.query("INSERT INTO kittest.tx_probe VALUES (1)", logger: logger)
                        try await conn.query("SAVEPOINT inside", logger: logger)
                        throw Refused()
                    }
                }
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.tx_probe") == 0)
                try await client.withTransaction(within: .seconds(10), "committed", logger: logger) { conn in
                    try await conn.query("INSERT INTO kittest.tx_probe VALUES (2)", logger: logger)
                    try await conn.query("SAVEPOINT inside", logger: logger)
                }
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.tx_probe WHERE n = 2") == 1)
            }
        }
    }

    @Test func aDueTimerFiresOnceWhenTwoInstancesLookForIt() async throws {
        try await withTestSystem("kit-timer") { system in
            try await Self.withRunner(system) { runner, _ in
                let pings = (0..<20).map { n in Self.item(Self.open("P-\(n)", "ping"), id: "p-\(n)") }
                _ = try await Self.run(runner, pings)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.timers") == 20)
                let timers = TimerService(runner: runner, interval: .milliseconds(10), batch: 7, logger: Logger(label: "t"))
                // Two instances racing over the same due timers, in rounds of 7.
                async let one: Int = { var n = 0; for _ in 0..<6 { n += try await timers.tick() }; return n }()
                async let two: Int = { var n = 0; for _ in 0..<6 { n += try await timers.tick() }; return n }()
                let fired = try await one + two
                #expect(fired == 20)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.timers") == 0)
                #expect(try await count(system, "SELECT sum((data->>'pings')::int8)::int8 FROM kittest.aggregates") == 20)
            }
        }
    }

    @Test func aJoinFiresOnlyOnceEveryTimerItWaitsForHasFiredAndCommitted() async throws {
        try await withTestSystem("kit-join") { system in
            try await Self.withRunner(system) { runner, client in
                let items = (0..<5).map { n in Self.item(Self.open("J-\(n)", "ping"), id: "j-\(n)") } + [
                    Self.item(Self.open("J-end", "join"), id: "j-end")
                ]
                _ = try await Self.run(runner, items)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.timers") == 6)
                let dones = "SELECT coalesce(sum((data->>'dones')::int8), 0)::int8 FROM kittest.aggregates"
                let pings = "SELECT coalesce(sum((data->>'pings')::int8), 0)::int8 FROM kittest.aggregates"
                // The join is due first, yet a round of one fires a ping: the join waits.
                let one = TimerService(runner: runner, interval: .milliseconds(10), batch: 1, logger: Logger(label: "t"))
                #expect(try await one.tick() == 1)
                #expect(try await count(system, dones) == 0)
                #expect(try await count(system, pings) == 1)
                // A round in flight holds a ping it has taken (locked, deleted, not committed):
                // the other rounds fire the rest, never the join.
                let timers = TimerService(runner: runner, interval: .milliseconds(10), batch: 100, concurrency: 2, logger: Logger(label: "t"))
                try await client.withConnection { held in
                    try await held.query("BEGIN", logger: runner.logger)
                    try await held.query("DELETE FROM kittest.timers WHERE id = 'J-1' AND name = 'ping'", logger: runner.logger)
                    #expect(try await timers.tick() == 3)
                    #expect(try await timers.tick() == 0)
                    #expect(try await count(system, dones) == 0)
                    #expect(try await count(system, pings) == 4)
                    try await held.query("COMMIT", logger: runner.logger)
                }
                #expect(try await timers.tick() == 1)
                #expect(try await count(system, dones) == 1)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.timers") == 0)
            }
        }
    }

    @Test func aBatchThatWaitedForARowStampsItsHistoryAfterTheBatchItWaitedFor() async throws {
        try await withTestSystem("kit-now") { system in
            try await Self.withRunner(system) { runner, client in
                _ = try await Self.run(runner, [Self.item(Self.open("W-1", "uno"), id: "w-1")])
                let released = try await client.withConnection { held -> Date in
                    try await held.query("BEGIN", logger: runner.logger)
                    try await held.query("SELECT 1 FROM kittest.aggregates WHERE id = 'W-1' FOR UPDATE", logger: runner.logger)
                    let waiting = Task { try await Self.run(runner, [Self.item(Self.open("W-1", "dos"), id: "w-2")]) }
                    try await Task.sleep(for: .milliseconds(400))
                    let released = Date()
                    try await held.query("COMMIT", logger: runner.logger)
                    #expect(try await waiting.value.outcomes == [.handled])
                    return released
                }
                var at: Date?
                for try await t in try await client.query(
                    "SELECT at FROM kittest.history WHERE message_id = 'w-2'", logger: runner.logger
                ).decode(Date.self) { at = t }
                let stamped = try #require(at)
                #expect(stamped >= released.addingTimeInterval(-0.001), "stamped \(stamped), the lock released at \(released)")
            }
        }
    }

    @Test func concurrentTimerRoundsFireEveryTimerOnce() async throws {
        try await withTestSystem("kit-lanes") { system in
            try await Self.withRunner(system) { runner, _ in
                let pings = (0..<300).map { n in Self.item(Self.open("L-\(n)", "ping"), id: "l-\(n)") }
                _ = try await Self.run(runner, pings)
                let timers = TimerService(runner: runner, interval: .milliseconds(10), batch: 16, concurrency: 3, logger: Logger(label: "t"))
                let lanes = Task { try await timers.run() }
                defer { lanes.cancel() }
                let drained = try await eventually(timeout: .seconds(20)) {
                    try await count(system, "SELECT count(*)::int8 FROM kittest.timers") == 0
                }
                lanes.cancel()
                #expect(drained)
                #expect(try await count(system, "SELECT sum((data->>'pings')::int8)::int8 FROM kittest.aggregates") == 300)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.aggregates WHERE (data->>'pings')::int8 <> 1") == 0)
            }
        }
    }

    @Test func aCommandForAnUnknownSubjectIsParkedAndRunsWhenTheSubjectAppears() async throws {
        try await withTestSystem("kit-park") { system in
            try await Self.withRunner(system) { runner, _ in
                let parking = Self.parking(runner, every: .milliseconds(50))
                let early = Self.item(ApproveWorkOrder(workOrderId: "LATE-1", by: "x"), id: "early")
                #expect(try await Self.run(runner, [early]).outcomes == [.parked])
                #expect(try await parking.tick() == 0, "asleep until its subject appears")
                // The subject appears: the batch that creates it wakes the parked command…
                let created = try await Self.run(runner, [Self.item(Self.open("LATE-1"), id: "creates")])
                #expect(created.woken == 1)
                // …which then runs, once.
                #expect(try await parking.tick() == 1)
                #expect(try await parking.tick() == 0)
                #expect(try await count(system, "SELECT (data->>'count')::int8 FROM kittest.aggregates WHERE id = 'LATE-1'") == 2)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.parked") == 0)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.inbox WHERE message_id = 'early' AND outcome = 'handled'") == 1)
            }
        }
    }

    @Test func aCommandParkedWhileItsSubjectWasBeingCreatedIsWokenWithinARound() async throws {
        // The race: batch A parks a command while batch B creates its subject; B's wake does not
        // see A's uncommitted row. The sweep that runs every round while messages may be parked
        // must wake it within about one round (the sweep of every tenth round would take 5 s).
        try await withTestSystem("kit-park-race") { system in
            try await Self.withRunner(system) { runner, _ in
                let parking = Self.parking(runner, every: .milliseconds(500))
                let loop = Task { try await parking.run() }
                defer { loop.cancel() }
                try await Task.sleep(for: .milliseconds(700))  // past the loop's first sweep
                #expect(try await Self.run(runner, [Self.item(ApproveWorkOrder(workOrderId: "RACE-1", by: "x"), id: "raced")]).outcomes == [.parked])
                // B commits without seeing the parked row (as if its statement began before A's commit)…
                runner.parkingMayExist.store(false, ordering: .relaxed)
                #expect(try await Self.run(runner, [Self.item(Self.open("RACE-1"), id: "creates-race")]).woken == 0)
                // …and A's after-commit bookkeeping comes last.
                runner.parkingMayExist.store(true, ordering: .relaxed)
                let started = ContinuousClock.now
                let ran = try await eventually(timeout: .seconds(3), every: .milliseconds(50)) {
                    try await count(system, "SELECT count(*)::int8 FROM kittest.inbox WHERE message_id = 'raced' AND outcome = 'handled'") == 1
                }
                #expect(ran, "the parked command ran \(ContinuousClock.now - started) after its subject appeared")
                #expect(try await count(system, "SELECT (data->>'count')::int8 FROM kittest.aggregates WHERE id = 'RACE-1'") == 2)
            }
        }
    }

    @Test func aParkedCommandWhoseSubjectNeverAppearsIsRejectedAfterTheBound() async throws {
        try await withTestSystem("kit-park-exp") { system in
            try await Self.withRunner(system, parkTimeout: .milliseconds(300)) { runner, _ in
                let parking = Self.parking(runner, every: .milliseconds(50))
                #expect(try await Self.run(runner, [Self.item(ApproveWorkOrder(workOrderId: "NEVER", by: "x"), id: "never")]).outcomes == [.parked])
                try await Task.sleep(for: .milliseconds(400))
                #expect(try await parking.tick() == 1)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.parked") == 0)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.outbox WHERE routing_key = 'command.rejected'") == 1)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.inbox WHERE message_id = 'never' AND outcome = 'rejected'") == 1)
            }
        }
    }

    @Test func theSweepSkipsAParkedRowAnotherTransactionHoldsAndWakesItOnceFree() async throws {
        // A sweep that waited for a locked row would stall the parking round behind whatever
        // holds it (in the worst case an abandoned transaction); it must pass it by.
        try await withTestSystem("kit-park-lock") { system in
            try await Self.withRunner(system) { runner, client in
                let parking = Self.parking(runner, every: .milliseconds(50))
                #expect(try await Self.run(runner, [Self.item(ApproveWorkOrder(workOrderId: "HELD-1", by: "x"), id: "held")]).outcomes == [.parked])
                runner.parkingMayExist.store(false, ordering: .relaxed)  // its creation does not wake it
                #expect(try await Self.run(runner, [Self.item(Self.open("HELD-1"), id: "creates-held")]).woken == 0)
                let locked = AsyncSignal()
                let release = AsyncSignal()
                let holder = Task {
                    try await client.withTransaction(logger: Logger(label: "holder")) { conn in
                        try await conn.query("SELECT 1 FROM parked WHERE message_id = 'held' FOR UPDATE", logger: Logger(label: "holder"))
                        locked.notify()
                        await release.wait(upTo: .seconds(30))
                    }
                }
                await locked.wait(upTo: .seconds(10))
                let started = ContinuousClock.now
                try await withDeadline(.seconds(3), "sweep past a locked row") { try await parking.sweep() }
                #expect(ContinuousClock.now - started < .seconds(3))
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.parked WHERE wake_at IS NULL") == 1, "the held row is left alone")
                release.notify()
                try await holder.value
                try await parking.sweep()
                #expect(try await parking.tick() == 1)
                #expect(try await count(system, "SELECT count(*)::int8 FROM kittest.inbox WHERE message_id = 'held' AND outcome = 'handled'") == 1)
            }
        }
    }

    @Test func aTransactionItsClientAbandonedIsEndedByTheServerAndItsHungQueryGivesBackTheConnection() async throws {
        try await withTestSystem("kit-abandoned") { system in
            let logger = { var l = Logger(label: "kit-test"); l.logLevel = .critical; return l }()
            let client = Database.makeClient(
                try DatabaseURL(system.databaseURL), poolSize: 1, abandonedTransactionTimeout: .milliseconds(500), logger: logger)
            let run = Task { await client.run() }
            defer { run.cancel() }
            let observer = Database.makeClient(try DatabaseURL(system.databaseURL), poolSize: 1, logger: logger)
            let observing = Task { await observer.run() }
            defer { observing.cancel() }
            // A transaction left idle: the server ends its session (idle_in_transaction_session_timeout);
            // the driver's next query on it never answers, and the bound closes the connection.
            let outcome: String
            do {
                try await client.withConnection(within: .seconds(4), "abandoned transaction") { conn in
                    try await conn.query("BEGIN", logger: logger)
                    var backend = 0
                    for try await p in try await conn.query("SELECT pg_backend_pid()", logger: logger).decode(Int.self) { backend = p }
                    let pid = backend
                    let gone = try await eventually(timeout: .seconds(3), every: .milliseconds(100)) {
                        try await observer.withConnection(within: .seconds(2), "observer") { o in
                            var n = 1
                            for try await c in try await o.query("SELECT count(*)::int8 FROM pg_stat_activity WHERE pid = \(pid)", logger: logger)
                                .decode(Int.self)
                            { n = c }
                            return n == 0
                        }
                    }
                    #expect(gone, "the server ended the idle transaction's session")
                    try await conn.query("SELECT 1", logger: logger)
                }
                outcome = "answered"
            } catch is DeadlineExceeded {
                outcome = "bounded"
            } catch {
                outcome = "failed"
            }
            #expect(outcome != "answered", "a query on an ended session cannot succeed")
            // The pool (one connection) goes on with a fresh connection.
            let one = try await client.withConnection(within: .seconds(5), "after the abandoned transaction") { conn in
                var v = 0
                for try await x in try await conn.query("SELECT 1", logger: logger).decode(Int.self) { v = x }
                return v
            }
            #expect(one == 1)
        }
    }
}
