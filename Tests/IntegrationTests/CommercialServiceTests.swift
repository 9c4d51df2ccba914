import AMQP
import Commercial
import Contracts
import Foundation
import Runtime
import Testing

/// The commercial service end to end: a real RabbitMQ, a real PostgreSQL, the service as its own
/// process. Each test gets its own vhost and database.
@Suite("commercial service against RabbitMQ and PostgreSQL", .serialized)
struct CommercialServiceTests {
    @Test func tenThousandOpenCommandsOpenExactlyTenThousandWorkOrders() async throws {
        try await withTestSystem("tenk") { system in
            let service = try system.start("commercial")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["workorder.opened", "command.rejected"])
            let sender = try await system.sender()

            let total = 10_000
            var batch: [OutgoingMessage] = []
            for i in 0..<total {
                batch.append(try CommandSender.message(openCommand(i, run: "tenk")))
                if batch.count == 500 {
                    try await sender.publishConfirmed(batch)
                    batch.removeAll()
                }
        }
        let arrived = await eventually(timeout: .seconds(180)) { events.count("workorder.opened") >= total }
        #expect(arrived, "only \(events.count("workorder.opened")) of \(total) workorder.opened events arrived")
        try await Task.sleep(for: .seconds(2))  // would reveal extra events

        #expect(events.count("workorder.opened") == total)
        #expect(events.deliveries == total, "no event should be published twice in a quiet run")
        #expect(events.count("command.rejected") == 0)
        #expect(Set(events.decoded(WorkOrderOpened.self).map(\.data.workOrderId)).count == total)
        #expect(try await system.count("SELECT count(*)::int8 FROM commercial.work_orders") == total)
        #expect(try await system.count("SELECT count(DISTINCT number)::int8 FROM commercial.work_orders") == total)
        #expect(try await system.count("SELECT count(*)::int8 FROM commercial.outbox") == 0)
            // Every event went out from its batch's hand-over, none waited for the polling round.
            let metrics = try OperationsQueueIntegrationTests.http(service, "/metrics")
            #expect(Self.counter(metrics, "ot_outbox_published_total", #"path="handover""#) == Double(total), "\(metrics)")
            #expect((Self.counter(metrics, "ot_outbox_published_total", #"path="poll""#) ?? 0) == 0)
        }
    }

    /// The value of a counter's line in a Prometheus text page (the line with `label`).
    static func counter(_ page: String, _ name: String, _ label: String) -> Double? {
        for line in page.split(separator: "\n") where line.hasPrefix(name + "{") && line.contains(label) {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }

    @Test func sameCommandDeliveredTwiceOpensOneWorkOrderAndOneEvent() async throws {
        try await withTestSystem("dup") { system in
            let service = try system.start("commercial")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["workorder.opened", "command.rejected"])
            let sender = try await system.sender()

            let message = try CommandSender.message(openCommand(1, run: "dup"))
            try await sender.publishConfirmed([message, message])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.opened") >= 1 })
            // Once more, after the first was handled.
            try await sender.publishConfirmed([message])
            try await Task.sleep(for: .seconds(2))

            #expect(events.count("workorder.opened") == 1)
            #expect(events.count("command.rejected") == 0)
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.work_orders") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.inbox") == 1)
            let opened = try #require(events.decoded(WorkOrderOpened.self).first)
            #expect(opened.data.workOrderId == "WO-dup-1")
            #expect(opened.causationid == message.properties.messageId)
            #expect(opened.data.number.hasPrefix("OT-BO-"))
            #expect(opened.data.documents.contains { $0.kind == .workOrder }, "the OT itself is filed in the folder")
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.documents WHERE work_order_id = 'WO-dup-1'") == 3)
        }
    }

    /// PostgreSQL refuses U+0000 in text (SQLSTATE 22021): such a command is rejected naming the
    /// field, and the valid commands sharing its batch are opened as if it had not been there.
    @Test func aNulCharacterIsRejectedNamingItsFieldAndItsBatchMatesAreUnaffected() async throws {
        try await withTestSystem("nul") { system in
            let service = try system.start("commercial", environment: ["BATCH_WAIT_MS": "50"])
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["workorder.opened", "command.rejected"])
            let sender = try await system.sender()
            var poisoned = openCommand(0, run: "nul")
            poisoned.customer.name = "Cooperativa\u{0}de Agua"
            var batch = try (1...20).map { try CommandSender.message(openCommand($0, run: "nul"), id: "nul-ok-\($0)") }
            batch.insert(try CommandSender.message(poisoned, id: "nul-bad"), at: 10)
            try await sender.publishConfirmed(batch)
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.opened") >= 20 && events.count("command.rejected") >= 1 })
            try await Task.sleep(for: .seconds(1))
            let rejected = try #require(events.decoded(CommandRejected.self).first)
            #expect(rejected.data.commandId == "nul-bad")
            #expect(rejected.data.errors.map(\.field) == ["data.customer.name"], "\(rejected.data)")
            #expect(events.count("command.rejected") == 1)
            #expect(events.count("workorder.opened") == 20)
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.work_orders") == 20)
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.inbox WHERE outcome = 'rejected'") == 1)
            #expect(!service.log.unicodeScalars.contains("\u{0}"), "the log stays text")
            #expect(service.isRunning)
        }
    }

    @Test func invalidCommandsAreRejectedDeadLetteredAndChangeNothing() async throws {
        try await withTestSystem("bad") { system in
            let service = try system.start("commercial")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["workorder.opened", "command.rejected"])
            let crm = try await system.connect("inspector")
            let sender = try await system.sender()

            // 1. malformed JSON
            #expect(try await sender.publishRaw(Array("{\"specversion\": \"1.0\", oops".utf8), routingKey: "workorder.open", messageId: "bad-json") == .confirmed)
            // 2. unknown type (routed as workorder.open, the envelope names a type nobody knows)
            var unknown = try JSONSerialization.jsonObject(with: Data(try CommandSender.message(openCommand(2, run: "bad")).body)) as! [String: Any]
            unknown["type"] = "workorder.teleport"
            unknown["id"] = "bad-type"
            #expect(try await sender.publishRaw(Array(try JSONSerialization.data(withJSONObject: unknown)), routingKey: "workorder.open", messageId: "bad-type") == .confirmed)
            // 3. missing customer
            var missing = try JSONSerialization.jsonObject(with: Data(try CommandSender.message(openCommand(3, run: "bad")).body)) as! [String: Any]
            var data = missing["data"] as! [String: Any]
            data.removeValue(forKey: "customer")
            missing["data"] = data
            missing["id"] = "bad-customer"
            #expect(try await sender.publishRaw(Array(try JSONSerialization.data(withJSONObject: missing)), routingKey: "workorder.open", messageId: "bad-customer") == .confirmed)
            // 4. a business rule: a project without a service line
            var noLine = openCommand(4, run: "bad")
            noLine.serviceLine = nil
            try await sender.publishConfirmed([try CommandSender.message(noLine, id: "bad-rule")])
            // …and the service keeps consuming: a valid one afterwards.
            try await sender.publishConfirmed([try CommandSender.message(openCommand(5, run: "bad"))])

            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 4 && events.count("workorder.opened") >= 1 })
            try await Task.sleep(for: .seconds(1))
            let rejections = events.decoded(CommandRejected.self)
            #expect(rejections.count == 4)
            let byCommand = Dictionary(uniqueKeysWithValues: rejections.map { ($0.data.commandId, $0) })
            #expect(byCommand["bad-json"]?.data.code == "malformedJSON")
            #expect(byCommand["bad-type"]?.data.code == "unknownType")
            #expect(byCommand["bad-customer"]?.data.code == "missingField")
            #expect(byCommand["bad-customer"]?.data.errors.contains { $0.field == "data.customer" } == true)
            #expect(byCommand["bad-rule"]?.data.code == "validation")
            #expect(byCommand["bad-rule"]?.data.errors.contains { $0.field == "data.serviceLine" } == true)
            for r in rejections { #expect(r.causationid == r.data.commandId, "correlated to its command") }
            #expect(events.count("workorder.opened") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.work_orders") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.documents WHERE work_order_id <> 'WO-bad-5'") == 0)

            // Dead letters carry the reason.
            var dead: [FetchedMessage] = []
            _ = await eventually(timeout: .seconds(10)) {
                while let m = try? await crm.get(queue: "commercial.dead") { dead.append(m) }
                return dead.count >= 4
        }
        #expect(dead.count == 4)
        let codes = Dictionary(uniqueKeysWithValues: dead.map { ($0.delivery.properties.messageId ?? "", $0.delivery.properties.headers[Headers.deadCode]?.stringValue ?? "") })
        #expect(codes == ["bad-json": "malformedJSON", "bad-type": "unknownType", "bad-customer": "missingField", "bad-rule": "validation"])
        #expect(dead.allSatisfy { !($0.delivery.properties.headers[Headers.deadReason]?.stringValue ?? "").isEmpty })
        #expect(service.isRunning)
        }
    }

    @Test func serviceAndRelayRecoverFromABrokerRestartWithoutLossOrDuplicates() async throws {
        try await recoversFromRestart(of: "broker-restart.sh", run: "mq")
    }

    @Test func serviceRecoversFromAPostgresRestartWithoutLossOrDuplicates() async throws {
        try await recoversFromRestart(of: "db-restart.sh", run: "pg")
    }

    func recoversFromRestart(of script: String, run: String) async throws {
        try await withTestSystem(run) { system in
            let service = try system.start("commercial")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["workorder.opened"])
            let sender = try await system.sender()

            let total = 3_000
            let publishing = Task {
                for chunk in stride(from: 0, to: total, by: 100) {
                    let batch = try (chunk..<min(chunk + 100, total)).map { try CommandSender.message(openCommand($0, run: run), id: "\(run)-\($0)") }
                    try await sender.publishConfirmed(batch)
                    try await Task.sleep(for: .milliseconds(50))
                }
        }
        #expect(await eventually(timeout: .seconds(60)) { events.count("workorder.opened") >= 300 })
        let restart = try shell(["bash", packageRoot.appendingPathComponent("deploy/local/\(script)").path])
        #expect(restart.status == 0, "\(script) failed: \(restart.output)")
        try await publishing.value

        let arrived = await eventually(timeout: .seconds(180)) { events.count("workorder.opened") >= total }
        #expect(arrived, "\(events.count("workorder.opened")) of \(total) after the restart; log: \(service.logURL.path)")
        try await Task.sleep(for: .seconds(2))
        #expect(events.count("workorder.opened") == total, "distinct events")
        #expect(Set(events.decoded(WorkOrderOpened.self).map(\.data.workOrderId)).count == total)
        #expect(try await system.count("SELECT count(*)::int8 FROM commercial.work_orders") == total)
        #expect(try await system.count("SELECT count(*)::int8 FROM commercial.outbox") == 0)
        #expect(service.isRunning, "the service survived the restart by itself")
        #expect(service.log.contains("reconnect") || service.log.contains("unreachable") || service.log.contains("retr"))
        }
    }

    /// Start-up waits for a database that does not answer; SIGTERM then ends the service cleanly
    /// (every gated service returns at its own turn, none "finished unexpectedly").
    @Test func sigtermBeforeStartUpCompletesExitsCleanly() async throws {
        try await withTestSystem("term-early") { system in
            let service = try system.start("commercial", environment: ["DATABASE_URL": "postgres://ot:wrong@127.0.0.1:1/nowhere"])
            #expect(await eventually(timeout: .seconds(20)) { service.log.contains("starting") })
            try await Task.sleep(for: .seconds(1))
            #expect(!service.log.contains("start-up complete"))
            let (status, took) = await service.terminate()
            #expect(status == 0, "clean exit on SIGTERM before start-up; log \(service.logURL.path)")
            #expect(took < .seconds(15), "prompt, took \(took)")
            #expect(!service.log.contains("finished unexpectedly"))
        }
    }

    @Test func sigtermDuringLoadDrainsAndARestartCompletesTheRest() async throws {
        try await withTestSystem("term") { system in
            let first = try system.start("commercial")
            try await first.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["workorder.opened"])
            let sender = try await system.sender()

            let total = 4_000
            for chunk in stride(from: 0, to: total, by: 500) {
                try await sender.publishConfirmed(try (chunk..<min(chunk + 500, total)).map { try CommandSender.message(openCommand($0, run: "term")) })
        }
        #expect(await eventually(timeout: .seconds(60)) { events.count("workorder.opened") >= 200 })
        let (status, took) = await first.terminate()
        #expect(status == 0, "clean exit on SIGTERM; log \(first.logURL.path)")
        #expect(took < .seconds(15), "prompt shutdown, took \(took)")
        #expect(first.log.contains("stopped"))
        let handledBeforeStop = try await system.count("SELECT count(*)::int8 FROM commercial.work_orders")
        #expect(handledBeforeStop < total, "SIGTERM came while commands were still queued")
        // Everything the first instance committed was also published before it exited.
        #expect(try await system.count("SELECT count(*)::int8 FROM commercial.outbox") == 0)

        let second = try system.start("commercial")
        try await second.waitUntilReady()
        #expect(await eventually(timeout: .seconds(120)) { events.count("workorder.opened") >= total })
        try await Task.sleep(for: .seconds(2))
        #expect(events.count("workorder.opened") == total)
        #expect(try await system.count("SELECT count(*)::int8 FROM commercial.work_orders") == total)
        }
    }

    @Test func scopeChangesApplyToOpenWorkOrdersAndAreRefusedOnFinishedOnes() async throws {
        try await withTestSystem("scope") { system in
            let service = try system.start("commercial")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["workorder.*", "command.rejected"])
            let sender = try await system.sender()
            try await sender.publishConfirmed([try CommandSender.message(openCommand(1, run: "scope")), try CommandSender.message(openCommand(2, run: "scope"))])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.opened") == 2 })

            let form = Document(kind: .other, uri: "s3://ot-docs/SGC-DC-03/cambio-1.pdf")
            try await sender.publishConfirmed([
                try CommandSender.message(ChangeScope(workOrderId: "WO-scope-1", changes: ["puntos": .number(12)], document: form), id: "chg-ok")
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.scope-changed") == 1 })
            let changed = try #require(events.decoded(WorkOrderScopeChanged.self).first)
            #expect(changed.data.workOrderId == "WO-scope-1" && changed.data.changes["puntos"] == .number(12))

            // WO-scope-2 is closed by operations; WO-missing does not exist.
            var base = WorkOrderClosed.example
            base.workOrderId = "WO-scope-2"
            let closed = try EnvelopeCodec.outgoing(Envelope(source: "/ot/dispatch", correlationId: nil, causationId: nil, data: base), appId: "dispatch")
            try await sender.publishConfirmed([closed])
            try await Task.sleep(for: .seconds(1))
            try await sender.publishConfirmed([
                try CommandSender.message(ChangeScope(workOrderId: "WO-scope-2", changes: ["puntos": .number(3)], document: form), id: "chg-closed"),
                try CommandSender.message(ChangeScope(workOrderId: "WO-missing", changes: ["puntos": .number(3)], document: form), id: "chg-missing"),
                try CommandSender.message(ChangeScope(workOrderId: "WO-scope-1", changes: [:], document: form), id: "chg-empty"),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") == 3 })
            let codes = Dictionary(uniqueKeysWithValues: events.decoded(CommandRejected.self).map { ($0.data.commandId, $0.data.code) })
            #expect(codes == ["chg-closed": "invalidTransition", "chg-missing": "notFound", "chg-empty": "validation"])
            #expect(events.count("workorder.scope-changed") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.scope_changes") == 1)
        }
    }

    @Test func poleMoveForANonCustomerIsChargedAndOpensItsWorkOrderWhenPaid() async throws {
        try await withTestSystem("pole") { system in
            let service = try system.start("commercial")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["workorder.opened", "billing.charge-requested", "command.rejected"])
            let sender = try await system.sender()
            let requester = Payer(name: "María Quispe", idNumber: "5544332")
            try await sender.publishConfirmed([
                try CommandSender.message(RequestPoleMove(requester: requester, address: "Av. Blanco Galindo km 4", isExistingCustomer: true), id: "pm-customer"),
                try CommandSender.message(RequestPoleMove(requester: requester, address: "Av. Blanco Galindo km 4", isExistingCustomer: false), id: "pm-1"),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.charge-requested") == 1 && events.count("command.rejected") == 1 })
            let rejected = try #require(events.decoded(CommandRejected.self).first)
            #expect(rejected.data.commandId == "pm-customer" && rejected.data.code == "useGenericProcedure")
            #expect(rejected.data.message.contains("generic procedure"))
            let charge = try #require(events.decoded(ChargeRequested.self).first)
            #expect(charge.data.amount == Money(minor: 100_000, currency: .bob))
            #expect(charge.data.payer == requester)
            #expect(events.count("workorder.opened") == 0, "no OT before the payment")

            // Billing creates the CxC, the cashier takes the payment.
            func event<M: Message>(_ m: M) throws -> OutgoingMessage {
                try EnvelopeCodec.outgoing(Envelope(source: "/ot/billing", correlationId: charge.correlationid, causationId: nil, data: m), appId: "billing")
            }
            try await sender.publishConfirmed([try event(ChargeCreated(chargeId: "CXC-1", amount: charge.data.amount, payer: requester, reason: charge.data.reason, requestId: charge.data.requestId))])
            try await Task.sleep(for: .milliseconds(500))
            let paid = try event(ChargePaid(chargeId: "CXC-1", amount: charge.data.amount, receipt: "R-0099"))
            try await sender.publishConfirmed([paid, paid])
            try await sender.publishConfirmed([try event(ChargePaid(chargeId: "CXC-1", amount: charge.data.amount, receipt: "R-0099"))])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.opened") == 1 })
            try await Task.sleep(for: .seconds(1))
            #expect(events.count("workorder.opened") == 1, "one OT per paid request, whatever is redelivered")
            let opened = try #require(events.decoded(WorkOrderOpened.self).first)
            #expect(opened.data.kind == .poleMove)
            #expect(opened.data.customer.taxId == "5544332" && opened.data.customer.country == .bo)
            #expect(opened.correlationid == charge.correlationid, "the whole case shares one correlation id")
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.pole_move_requests WHERE state = 'paid'") == 1)
        }
    }

    /// Issue 7, rule 8: `isExistingCustomer` is checked against the customers the platform knows
    /// (those of the OTs opened so far), not trusted.
    @Test func aPoleMoveOfACustomerThePlatformKnowsIsRefusedThoughItsFlagSaysOtherwise() async throws {
        try await withTestSystem("pole-known") { system in
            let service = try system.start("commercial")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["workorder.opened", "billing.charge-requested", "command.rejected"])
            let sender = try await system.sender()
            var open = openCommand(1, run: "known")
            open.customer.taxId = "7.654.321 LP"
            try await sender.publishConfirmed([try CommandSender.message(open)])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.opened") == 1 })
            try await sender.publishConfirmed([
                try CommandSender.message(
                    RequestPoleMove(requester: Payer(name: "GAMC", idNumber: "7654321LP"), address: "Av. Heroínas 1", isExistingCustomer: false),
                    id: "pm-known"),
                try CommandSender.message(
                    RequestPoleMove(requester: Payer(name: "Rosa Mamani", idNumber: "7788990"), address: "Calle Jordán 120", isExistingCustomer: false),
                    id: "pm-new"),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") == 1 && events.count("billing.charge-requested") == 1 })
            let rejected = try #require(events.decoded(CommandRejected.self).first)
            #expect(rejected.data.commandId == "pm-known" && rejected.data.code == "useGenericProcedure")
            #expect(rejected.data.message.contains(open.customer.id))
            #expect(events.decoded(ChargeRequested.self).first?.data.payer.idNumber == "7788990")
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.pole_move_requests") == 1, "nothing stored for the refused one")
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.aliases WHERE alias = 'customer:BO:7654321LP'") == 1)

            // A platform upgraded from before migration 4 knows the customers of its earlier OTs:
            // the migration files them, in the shape the service reads back.
            _ = await service.terminate()
            try await TestSystem.withConnection(database: system.database) { conn in
                _ = try await conn.query("DELETE FROM commercial.aliases WHERE alias LIKE 'customer:%'", logger: testLogger)
                _ = try await conn.query("DELETE FROM commercial.schema_migrations WHERE component = 'service' AND version = 4", logger: testLogger)
            }
            let upgraded = try system.start("commercial")
            try await upgraded.waitUntilReady()
            #expect(try await system.count(
                "SELECT count(*)::int8 FROM commercial.aliases WHERE alias = 'customer:BO:7654321LP' AND id = '\(open.workOrderId!)'") == 1)
            try await sender.publishConfirmed([
                try CommandSender.message(
                    RequestPoleMove(requester: Payer(name: "GAMC", idNumber: "7654321-LP"), address: "Av. Heroínas 1", isExistingCustomer: false),
                    id: "pm-known-again")
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") == 2 })
            #expect(events.decoded(CommandRejected.self).last?.data.code == "useGenericProcedure")
        }
    }
    /// Issue 7, rule 6: the pole-move follow-up as OPE-SUM-GES-P08 counts it, through the
    /// service: a paid request whose OT is cancelled (ANULADO, with its corrective action) and one
    /// whose CxC is never paid; at the month's end the durable timer produces the monthly report
    /// once — naming the backup reviewer, the owner being absent — also across a restart.
    @Test func theMonthlyPoleMoveReportCountsEveryRequestPaidOrNotOnceTheMonthEnds() async throws {
        try await withTestSystem("pole-month") { system in
            let service = try system.start("commercial", environment: ["TIMER_TICK_MS": "200"])
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system)
            let sender = try await system.sender()
            try await sender.publishConfirmed([
                try CommandSender.message(
                    RequestPoleMove(requester: Payer(name: "Rosa Mamani", idNumber: "7788990"), address: "Calle Jordán 120", isExistingCustomer: false)),
                try CommandSender.message(
                    RequestPoleMove(requester: Payer(name: "Juan Pérez", idNumber: "5566778"), address: "Av. Petrolera km 3", isExistingCustomer: false)),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.charge-requested") == 2 })
            let paying = try #require(events.decoded(ChargeRequested.self).first { $0.data.payer.idNumber == "7788990" })
            func event<M: Message>(_ m: M) throws -> OutgoingMessage {
                try EnvelopeCodec.outgoing(Envelope(source: "/test", correlationId: paying.correlationid, causationId: nil, data: m), appId: "test")
            }
            try await sender.publishConfirmed([
                try event(ChargeCreated(chargeId: "CXC-9", amount: paying.data.amount, payer: paying.data.payer, reason: paying.data.reason, requestId: paying.data.requestId))
            ])
            try await Task.sleep(for: .milliseconds(500))
            try await sender.publishConfirmed([try event(ChargePaid(chargeId: "CXC-9", amount: paying.data.amount, receipt: "R-9"))])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.opened") == 1 })
            let ot = try #require(events.decoded(WorkOrderOpened.self).first).data.workOrderId

            // Network management cancels the OT; the customer-service head records the corrective action (step 11).
            try await sender.publishConfirmed([try event(WorkOrderCancelled(workOrderId: ot, reason: "el poste no era accesible"))])
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM commercial.pole_move_requests WHERE seed_state = 'ANULADO'")) == 1
            })
            try await sender.publishConfirmed([
                try CommandSender.message(RecordCorrectiveAction(workOrderId: ot, action: "nueva visita con el vecino presente", by: "rosa.vargas")),
                try CommandSender.message(RecordCorrectiveAction(workOrderId: "PM-unknown", action: "x", by: "rosa.vargas"), id: "ca-unknown"),
            ])
            #expect(await eventually(timeout: .seconds(30)) {
                events.count("polemove.corrective-action-recorded") == 1 && events.count("command.rejected") == 1
            })
            #expect(events.decoded(CommandRejected.self).first?.data.code == "notFound")

            // The owner is away when the month's report falls due.
            let month = PoleMoveMonth.key(Date())
            let due = try #require(PoleMoveMonth.reportDue(month))
            try await sender.publishConfirmed([
                try CommandSender.message(RecordReviewerAbsence(from: due.addingTimeInterval(-86_400), to: due.addingTimeInterval(86_400), by: "jefa.division"))
            ])
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM commercial.aggregates WHERE kind = 'poleMoveMonth' AND jsonb_array_length(data->'absences') = 1")) == 1
            }, "recorded in the month it starts in, whose report falls in it")
            try await Task.sleep(for: .seconds(1))
            #expect(events.count("polemove.monthly-report") == 0, "nothing before the month ends")
            _ = await service.terminate()

            // The month has ended (the service clock is moved past it).
            let offset = Int(due.timeIntervalSinceNow) + 120
            let later = try system.start("commercial", environment: ["CLOCK_OFFSET_SECONDS": "\(offset)", "TIMER_TICK_MS": "200"])
            try await later.waitUntilReady()
            #expect(await eventually(timeout: .seconds(30)) { events.count("polemove.monthly-report") >= 1 })
            let report = try #require(events.decoded(PoleMoveMonthlyReport.self).first { $0.data.month == month }).data
            #expect(report.total == 2 && report.registrado == 1 && report.atendido == 0 && report.anulado == 1)
            #expect(report.verdict == "observed" && report.percent == 0)
            #expect(report.cancellations == [
                PoleMoveCancellation(workOrderId: ot, reason: "el poste no era accesible", correctiveAction: "nueva visita con el vecino presente")
            ])
            #expect(report.preparedBy == PoleMoveMonth.backup && report.byBackup)
            #expect(try await system.count(
                "SELECT count(*)::int8 FROM commercial.pole_move_reports WHERE month = '\(month)' AND state = 'reported' AND by_backup AND total = 2") == 1)
            _ = await later.terminate()
            let again = try system.start("commercial", environment: ["CLOCK_OFFSET_SECONDS": "\(offset)", "TIMER_TICK_MS": "200"])
            try await again.waitUntilReady()
            try await Task.sleep(for: .seconds(2))
            #expect(events.decoded(PoleMoveMonthlyReport.self).filter { $0.data.month == month }.count == 1, "once, also across a restart")
            #expect(again.isRunning)
        }
    }
}
