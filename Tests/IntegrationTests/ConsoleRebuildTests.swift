import AMQP
import ConsoleUI
import Contracts
import Foundation
import PostgresNIO
import Runtime
import Testing

/// The console rebuilds its read model from its event log (the stream `console.events.log`)
/// against a real RabbitMQ and PostgreSQL, the console as its own process: events published by
/// their owners make views; the console stops, its schema is dropped, and at its next start it
/// replays the log and the same views come back; a later event lands once; `console replay` run
/// again changes nothing (the inbox deduplicates); with `CONSOLE_REPLAY=off` a dropped schema
/// stays empty until `console replay` fills it; and a console configured with another retention
/// than its log's refuses to start.
@Suite("console rebuild from its event log against RabbitMQ and PostgreSQL", .serialized)
struct ConsoleRebuildTests {
    static let token = ConsoleSecrets.randomToken()
    static let environment: [String: String] = [
        "CONSOLE_TOKENS": "api-viewer:viewer:\(ConsoleSecrets.tokenHash(token))", "CONSOLE_HTTP_HOST": "127.0.0.1",
        "CONSOLE_HTTP_PORT": "0",
    ]

    /// What the console's schema holds, in a form that does not depend on the order in which
    /// concurrent batches were folded (the console's workers fold events concurrently, so a
    /// timeline's order and the steps it records may differ from one run to the next): each
    /// view's kind, id and status, its timeline's events (as a multiset, so its length), and the
    /// inbox's rows per type and outcome.
    struct ReadModel: Equatable, CustomStringConvertible {
        var views: [String: String] = [:]
        var timelines: [String: [String]] = [:]
        /// How many inbox rows per message type and outcome.
        var inbox: [String: Int] = [:]

        var messages: Int { inbox.values.reduce(0, +) }

        var description: String {
            views.keys.sorted().map { "\($0) \(views[$0]!): \((timelines[$0] ?? []).joined(separator: ", "))" }.joined(separator: "\n")
                + "\ninbox: " + inbox.keys.sorted().map { "\($0) \(inbox[$0]!)" }.joined(separator: ", ")
        }
    }

    static func readModel(_ system: TestSystem) async throws -> ReadModel {
        try await TestSystem.withConnection(database: system.database) { conn in
            // One snapshot: a batch committed between two of the reads would tear the picture.
            _ = try await conn.query("START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: testLogger)
            var model = ReadModel()
            for try await (kind, id, status) in try await conn.query(
                "SELECT kind, id, status FROM console.aggregates", logger: testLogger
            ).decode((String, String, String).self) {
                model.views["\(kind)/\(id)"] = status
            }
            for try await (kind, id, line) in try await conn.query(
                "SELECT kind, id, action FROM console.history",
                logger: testLogger
            ).decode((String, String, String).self) {
                model.timelines["\(kind)/\(id)", default: []].append(line)
            }
            for key in model.timelines.keys { model.timelines[key]!.sort() }
            for try await (type, outcome, n) in try await conn.query(
                "SELECT message_type, outcome, count(*)::int FROM console.inbox GROUP BY 1, 2", logger: testLogger
            ).decode((String, String, Int).self) {
                model.inbox["\(type) \(outcome)"] = n
            }
            _ = try await conn.query("COMMIT", logger: testLogger)
            return model
        }
    }

    /// The read model once the inbox holds `messages` ids (every event folded), or nil when the
    /// schema is not there yet.
    static func settled(_ system: TestSystem, messages: Int, timeout: Duration = .seconds(60)) async throws -> ReadModel {
        var last: ReadModel?
        let ok = await eventually(timeout: timeout, every: .milliseconds(200)) {
            last = try? await readModel(system)
            return last?.messages == messages
        }
        guard ok, let last else { throw TestFailure("the console's inbox never held \(messages) messages: \(last.map { "\($0)" } ?? "no schema")") }
        return last
    }

    /// `ot_messages_total` of the console's `/metrics` for an outcome, summed over the types.
    static func counted(_ console: ServiceProcess, outcome: String) throws -> Int {
        guard let line = console.log.split(separator: "\n").first(where: { $0.contains("HTTP endpoint listening") }),
            let port = line.firstMatch(of: /http\.port=([0-9]+)/)?.1
        else { throw TestFailure("no health endpoint port in the console's log") }
        let metrics = try shell(["curl", "-sf", "--max-time", "10", "http://127.0.0.1:\(port)/metrics"]).output
        var total = 0
        for line in metrics.split(separator: "\n") where line.hasPrefix("ot_messages_total{") && line.contains("outcome=\"\(outcome)\"") {
            total += Int(Double(line.split(separator: " ").last ?? "") ?? 0)
        }
        return total
    }

    /// The number a log line gives a metadata key, e.g. `replay.republished=12`.
    static func logged(_ console: ServiceProcess, _ message: String, _ key: String) -> [Int] {
        console.log.split(separator: "\n").filter { $0.contains(message) }.compactMap { line in
            guard let range = line.range(of: "\(key)=") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
    }

    static func event<M: Message>(_ event: M) throws -> OutgoingMessage { try CommandSender.message(event) }

    @Test func theReadModelComesBackFromTheEventLogAfterItsSchemaIsDropped() async throws {
        try await withTestSystem("console-rebuild") { system in
            let run = UUID().uuidString.prefix(6).lowercased()
            // 1. A fresh console: its schema holds no view, so it replays its (empty) log at start.
            let first = try system.start("console", environment: Self.environment)
            try await first.waitUntilReady()
            #expect(await eventually(timeout: .seconds(30)) { first.log.contains("replay finished") }, "\(first.log.suffix(2000))")
            #expect(first.log.contains("replay started") && Self.logged(first, "replay finished", "replay.republished") == [0])
            // The log is a stream kept 400 days, bound like the console's input queue.
            let queue = try shell([
                "curl", "-sf", "-u", "\(LocalServers.amqpUser):\(LocalServers.amqpPassword)",
                "\(LocalServers.managementURL)/api/queues/\(system.vhost)/console.events.log",
            ]).output
            #expect(queue.contains("\"type\":\"stream\"") && queue.contains("\"x-max-age\":\"400D\""), "\(queue.prefix(600))")

            // 2. Events as their owners publish them: three OTs, a damage, a records file.
            let sender = try await system.sender()
            let (wo1, wo2, wo3) = ("WO-RB-\(run)-1", "WO-RB-\(run)-2", "WO-RB-\(run)-3")
            func opened(_ id: String) -> WorkOrderOpened {
                var e = WorkOrderOpened.example
                e.workOrderId = id
                e.number = "OT-\(id)"
                return e
            }
            func approved(_ id: String) -> WorkOrderApproved {
                var e = WorkOrderApproved.example
                e.workOrderId = id
                return e
            }
            func dispatched(_ id: String, level: Int) -> WorkOrderDispatched {
                var e = WorkOrderDispatched.example
                e.workOrderId = id
                e.priority = level
                return e
            }
            func assigned(_ id: String) -> WorkOrderAssigned {
                var e = WorkOrderAssigned.example
                e.workOrderId = id
                return e
            }
            var pending = WorkOrderApprovalPending.example
            pending.workOrderId = wo2
            var rejected = WorkOrderRejected.example
            rejected.workOrderId = wo2
            var damage = DamageRegistered.example
            damage.damageId = "DN-RB-\(run)"
            var file = FileRegistered.example
            file.fileId = "EXP-RB-\(run)"
            let events: [OutgoingMessage] = [
                try Self.event(opened(wo1)), try Self.event(approved(wo1)), try Self.event(dispatched(wo1, level: 2)),
                try Self.event(assigned(wo1)), try Self.event(opened(wo2)), try Self.event(pending),
                try Self.event(rejected), try Self.event(opened(wo3)), try Self.event(approved(wo3)),
                try Self.event(dispatched(wo3, level: 1)), try Self.event(damage), try Self.event(file),
            ]
            for e in events { try await sender.publishConfirmed([e]) }
            let before = try await Self.settled(system, messages: events.count)
            for view in ["workorder/\(wo1)", "workorder/\(wo2)", "workorder/\(wo3)", "damage/DN-RB-\(run)", "file/EXP-RB-\(run)"] {
                #expect(before.views[view] != nil, "no view \(view): \(before)")
            }
            #expect(before.views["workorder/\(wo2)"] == "rejected" && (before.timelines["workorder/\(wo1)"]?.count ?? 0) >= 4, "\(before)")

            // 3. The console stops, its schema is dropped; at its next start it replays the log.
            let stopped = await first.terminate()
            #expect(stopped.status == 0, "the console stopped: \(stopped)")
            try await TestSystem.withConnection(database: system.database) { conn in
                _ = try await conn.query("DROP SCHEMA console CASCADE", logger: testLogger)
            }
            let second = try system.start("console", environment: Self.environment)
            try await second.waitUntilReady()
            let after = try await Self.settled(system, messages: events.count)
            #expect(after == before, "rebuilt:\n\(after)\nbefore:\n\(before)")
            #expect(await eventually(timeout: .seconds(30)) { second.log.contains("replay finished") })
            #expect(Self.logged(second, "replay finished", "replay.republished") == [events.count], "\(second.log.suffix(3000))")
            #expect(second.log.contains("the schema does not exist"))

            // 4. One more event lands once: one more timeline line, no duplicate.
            let later = try Self.event(assigned(wo3))
            try await sender.publishConfirmed([later])
            let withLater = try await Self.settled(system, messages: events.count + 1)
            #expect(withLater.timelines["workorder/\(wo3)"]?.count == (before.timelines["workorder/\(wo3)"]?.count ?? 0) + 1, "\(withLater)")
            let laterId = try #require(later.properties.messageId)
            #expect(try await system.count("SELECT count(*) FROM console.history WHERE message_id = '\(laterId)'") == 1)
            #expect(withLater.views["workorder/\(wo3)"] == "assigned", "\(withLater)")

            // 5. `console replay`, with the console running: every event comes again and is a
            // duplicate; the read model does not change.
            let duplicatesBefore = try Self.counted(second, outcome: "duplicate")
            let handledBefore = try Self.counted(second, outcome: "handled")
            let binary = packageRoot.appendingPathComponent(".build/debug/console").path
            let replay = try shell(
                [binary, "replay"], environment: ["AMQP_URL": system.amqpURL(user: "console"), "DATABASE_URL": system.databaseURL])
            #expect(replay.status == 0, "\(replay.output)")
            #expect(replay.output.contains("\(events.count + 1) event(s) replayed from console.events.log into console.events"), "\(replay.output)")
            #expect(
                await eventually(timeout: .seconds(60)) {
                    (try? Self.counted(second, outcome: "duplicate")) == duplicatesBefore + events.count + 1
                }, "duplicates counted: \((try? Self.counted(second, outcome: "duplicate")) ?? -1)")
            #expect(try Self.counted(second, outcome: "handled") == handledBefore)
            #expect(try await Self.readModel(system) == withLater)
            #expect(second.isRunning)

            // 6. The rebuild by hand: with CONSOLE_REPLAY=off a dropped schema comes back empty,
            // and `console replay` fills it.
            #expect(await second.terminate().status == 0)
            try await TestSystem.withConnection(database: system.database) { conn in
                _ = try await conn.query("DROP SCHEMA console CASCADE", logger: testLogger)
            }
            let third = try system.start("console", environment: Self.environment.merging(["CONSOLE_REPLAY": "off"]) { $1 })
            try await third.waitUntilReady()
            try await Task.sleep(for: .seconds(1))
            #expect(try await Self.readModel(system) == ReadModel(), "nothing replayed at start")
            #expect(!third.log.contains("replay started"))
            let byHand = try shell(
                [binary, "replay"], environment: ["AMQP_URL": system.amqpURL(user: "console"), "DATABASE_URL": system.databaseURL])
            #expect(byHand.status == 0 && byHand.output.contains("\(events.count + 1) event(s) replayed"), "\(byHand.output)")
            let refilled = try await Self.settled(system, messages: events.count + 1)
            #expect(refilled == withLater, "rebuilt by hand:\n\(refilled)\nbefore:\n\(withLater)")

            // 7. A log's retention cannot change in place: a console configured with another one
            // stops at once, and says what to do.
            #expect(await third.terminate().status == 0)
            let other = try system.start("console", environment: Self.environment.merging(["CONSOLE_LOG_MAX_AGE": "30D"]) { $1 })
            #expect(await eventually(timeout: .seconds(30)) { !other.isRunning })
            #expect(other.terminationStatus == 2 && other.log.contains("retention cannot change in place"), "\(other.log.suffix(1500))")
        }
    }
}
