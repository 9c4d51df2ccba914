import AMQP
import Contracts
import Foundation
import Runtime
import Testing

/// The dispatch service end to end: events fed on `ot.events` as the commercial and approval
/// services would publish them, commands as the operators' tools would send them.
@Suite("dispatch service against RabbitMQ and PostgreSQL", .serialized)
struct DispatchServiceTests {
    static let eventKeys = [
        "workorder.dispatched", "workorder.assigned", "workorder.attended", "workorder.closed", "workorder.cancelled",
        "workorder.sla-breached", "command.rejected",
    ]

    static func event<E: Event>(_ e: E, id: String = UUID().uuidString.lowercased(), time: Date = Date()) throws -> OutgoingMessage {
        let envelope = Envelope(id: id, source: "/test/approval", time: time, correlationId: nil, causationId: nil, data: e)
        return try EnvelopeCodec.outgoing(envelope, appId: "test")
    }

    static func customer(_ sector: Sector, _ segment: Segment) -> Customer {
        var c = Customer.example
        c.sector = sector
        c.segment = segment
        return c
    }

    static func opened(_ id: String, kind: WorkOrderKind, customer: Customer, dueBy: Date? = nil) -> WorkOrderOpened {
        WorkOrderOpened(workOrderId: id, number: "OT-BO-2026-\(id)", kind: kind, customer: customer, documents: [], dueBy: dueBy)
    }

    static func approved(_ id: String, kind: WorkOrderKind, customer: Customer, dueBy: Date? = nil, amount: Money? = nil) -> WorkOrderApproved {
        WorkOrderApproved(workOrderId: id, approvedBy: "lucia.mendoza", customer: customer, kind: kind, dueBy: dueBy, amount: amount)
    }

    static let tech = Assignee(id: "T-7", name: "Diego Arce", role: "inspector")

    @Test func anApprovalDispatchesOnceAndTheOTFollowsTheStateMachine() async throws {
        try await withTestSystem("dispatch") { system in
            let service = try system.start("dispatch")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: Self.eventKeys)
            let crm = try await system.connect("inspector")
            let sender = try await system.sender()
            let publicCustomer = Self.customer(.public, .enterprise)
            let dueBy = Date(timeIntervalSince1970: 1_900_000_000)
            let amount = Money(minor: 4_850_000, currency: .bob)

            // W1: approved before it was opened (out of order), the approval delivered twice and
            // approved once more under another message id; the opening comes last.
            // The approval was stamped three hours before dispatch gets it (a backlog).
            let approvedAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 3 * 3600).rounded(.down))
            let approval = try Self.event(
                Self.approved("W1", kind: .poleMove, customer: publicCustomer, dueBy: dueBy, amount: amount), id: "approved-1", time: approvedAt)
            try await sender.publishConfirmed([approval, approval])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.dispatched") >= 1 })
            try await sender.publishConfirmed([
                approval,
                try Self.event(Self.approved("W1", kind: .poleMove, customer: publicCustomer, dueBy: dueBy, amount: amount), id: "approved-1b"),
                try Self.event(Self.opened("W1", kind: .poleMove, customer: publicCustomer, dueBy: dueBy)),
                // W2: opened, pending, approved — a private residential project.
                try Self.event(Self.opened("W2", kind: .project, customer: Self.customer(.private, .residential))),
                try Self.event(WorkOrderApprovalPending(workOrderId: "W2", missingDocuments: [.purchaseOrder])),
                try Self.event(Self.approved("W2", kind: .project, customer: Self.customer(.private, .residential))),
                // W3: a pole move still pending; W4: rejected.
                try Self.event(Self.opened("W3", kind: .poleMove, customer: Self.customer(.private, .residential))),
                try Self.event(WorkOrderApprovalPending(workOrderId: "W3", missingDocuments: [.purchaseOrder])),
                try Self.event(Self.opened("W4", kind: .visit, customer: Self.customer(.private, .pyme))),
                try Self.event(WorkOrderRejected(workOrderId: "W4", reason: "sin orden de compra")),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.dispatched") >= 2 })
            #expect(await eventually(timeout: .seconds(10)) {
                (try? await system.count("SELECT count(*)::int8 FROM dispatch.work_orders WHERE state = 'rejected'")) == 1
            })
            try await Task.sleep(for: .seconds(2))

            let dispatched = events.decoded(WorkOrderDispatched.self)
            #expect(dispatched.count == 2, "one dispatch per OT")
            let w1 = try #require(dispatched.first { $0.data.workOrderId == "W1" })
            #expect(w1.data.contactBy == approvedAt.addingTimeInterval(24 * 3600), "contact within 24 h of the approval, not of the dispatch")
            #expect(w1.data.dueBy == dueBy)
            #expect(w1.data.publicSector)
            #expect(w1.data.priority == 4, "level 4 until the priority service prioritizes it")
            #expect(w1.causationid == "approved-1")
            let w2 = try #require(dispatched.first { $0.data.workOrderId == "W2" })
            #expect(!w2.data.publicSector && w2.data.dueBy == nil && w2.data.priority == 4)
            #expect(try await system.count("SELECT count(*)::int8 FROM dispatch.work_orders WHERE id = 'W1' AND number = 'OT-BO-2026-W1' AND state = 'dispatched'") == 1)

            // The operations center's queue got both dispatches.
            var ops: [FetchedMessage] = []
            _ = await eventually(timeout: .seconds(10)) {
                while let m = try? await crm.get(queue: ServiceCatalog.operationsQueue) { ops.append(m) }
                return ops.count >= 2
            }
            #expect(ops.count == 2)
            #expect(ops.allSatisfy { $0.delivery.properties.type == "workorder.dispatched" })

            // Rule violations: rejected, nothing changed.
            try await sender.publishConfirmed([
                try CommandSender.message(CloseWorkOrder(workOrderId: "W2", by: "diego"), id: "close-dispatched"),
                try CommandSender.message(CancelWorkOrder(workOrderId: "W2", reason: " "), id: "cancel-no-reason"),
                try CommandSender.message(AssignWorkOrder(workOrderId: "W404", assignee: Self.tech), id: "assign-unknown"),
                try CommandSender.message(ReportOutcome(workOrderId: "W2", outcome: .resolved), id: "outcome-dispatched"),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 4 })

            // W1: assign → report outcome → close.
            try await sender.publishConfirmed([try CommandSender.message(AssignWorkOrder(workOrderId: "W1", assignee: Self.tech))])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.assigned") >= 1 })
            try await sender.publishConfirmed([try CommandSender.message(ReportOutcome(workOrderId: "W1", outcome: .resolved, notes: "poste trasladado"))])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.attended") >= 1 })
            let close = try CommandSender.message(CloseWorkOrder(workOrderId: "W1", by: "diego.arce"))
            try await sender.publishConfirmed([close])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.closed") >= 1 })
            // A redelivered close has no second effect; a closed OT cannot be cancelled; W2 can.
            try await sender.publishConfirmed([
                close,
                try CommandSender.message(CancelWorkOrder(workOrderId: "W1", reason: "error"), id: "cancel-closed"),
                try CommandSender.message(CancelWorkOrder(workOrderId: "W2", reason: "el cliente desistió")),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.cancelled") >= 1 && events.count("command.rejected") >= 5 })
            try await Task.sleep(for: .seconds(1))

            let closed = try #require(events.decoded(WorkOrderClosed.self).first)
            #expect(events.count("workorder.closed") == 1)
            #expect(closed.data.workOrderId == "W1" && closed.data.kind == .poleMove && closed.data.outcome == .resolved)
            #expect(closed.data.amount == amount, "amount carried from the approval")
            #expect(closed.data.customer == publicCustomer)
            #expect(events.decoded(WorkOrderAttended.self).first?.data.outcome == .resolved)
            #expect(events.decoded(WorkOrderAssigned.self).first?.data.assignee == Self.tech)

            let rejections = Dictionary(uniqueKeysWithValues: events.decoded(CommandRejected.self).map { ($0.data.commandId, $0.data) })
            #expect(rejections.count == 5)
            #expect(rejections["close-dispatched"]?.code == "invalidTransition")
            #expect(rejections["close-dispatched"]?.message.contains("dispatched") == true)
            #expect(rejections["cancel-no-reason"]?.code == "validation")
            #expect(rejections["cancel-no-reason"]?.errors.map(\.field) == ["data.reason"])
            #expect(rejections["assign-unknown"]?.code == "notFound")
            #expect(rejections["outcome-dispatched"]?.code == "invalidTransition")
            #expect(rejections["cancel-closed"]?.code == "invalidTransition")
            #expect(rejections["cancel-closed"]?.message.contains("closed") == true)
            #expect(try await system.count("SELECT count(*)::int8 FROM dispatch.work_orders WHERE id = 'W1' AND state = 'closed'") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM dispatch.work_orders WHERE id = 'W2' AND state = 'cancelled' AND closed_at IS NULL AND outcome IS NULL") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM dispatch.work_orders WHERE id = 'W404'") == 0)
            // History: (first fact) approved → dispatched → assigned → attended → closed.
            #expect(try await system.count("SELECT count(*)::int8 FROM dispatch.transitions WHERE work_order_id = 'W1'") == 5)
            #expect(try await system.count("SELECT count(*)::int8 FROM dispatch.transitions WHERE work_order_id = 'W2' AND to_state = 'cancelled' AND reason = 'el cliente desistió'") == 1)

            // The follow-up report over the period.
            let from = Wire.timestamp(Date().addingTimeInterval(-3600))
            let to = Wire.timestamp(Date().addingTimeInterval(3600))
            let run = try shell(
                [packageRoot.appendingPathComponent(".build/debug/otctl").path, "report", from, to, "--json", "--database-url", system.databaseURL])
            #expect(run.status == 0, "\(run.output)")
            let json = try #require(run.output.firstIndex(of: "{").map { String(run.output[$0...]) })
            let report = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            let states = report["states"] as! [String: Any]
            #expect(states["total"] as? Int == 4)
            #expect(states["registrado"] as? Int == 1)  // W3
            #expect(states["atendido"] as? Int == 1)  // W1
            #expect(states["cerrado"] as? Int == 1)
            #expect(states["anulado"] as? Int == 1)  // W2
            #expect(states["rechazado"] as? Int == 1)  // W4
            let cancellations = states["cancellations"] as! [[String: Any]]
            #expect(cancellations.first?["reason"] as? String == "el cliente desistió")
            // The pole-move KPI counts commercial's requests (issue 7, rule 6): none in a database of dispatch alone.
            #expect(report["poleMove"] == nil)
            #expect(service.isRunning)
        }
    }

    @Test func aMissedContactDeadlineIsBreachedOnceEvenAcrossRestarts() async throws {
        try await withTestSystem("dispatch-sla") { system in
            let first = try system.start("dispatch", environment: ["TIMER_TICK_MS": "200"])
            try await first.waitUntilReady()
            let events = try await EventCollector(system: system, keys: Self.eventKeys)
            let sender = try await system.sender()
            let c = Self.customer(.private, .residential)
            try await sender.publishConfirmed([
                try Self.event(Self.approved("S1", kind: .project, customer: c)),  // never contacted
                try Self.event(Self.approved("S2", kind: .project, customer: c)),  // assigned in time
                try Self.event(Self.approved("S3", kind: .project, customer: c)),  // cancelled
                try Self.event(Self.approved("S4", kind: .repair, customer: c)),  // never contacted, but not a project
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.dispatched") >= 4 })
            let s4 = try #require(events.decoded(WorkOrderDispatched.self).first { $0.data.workOrderId == "S4" })
            #expect(s4.data.contactSLA == false, "the 24 h contact SLA is CERCAL's, for projects (issue 7, rule 2)")
            try await sender.publishConfirmed([
                try CommandSender.message(AssignWorkOrder(workOrderId: "S2", assignee: Self.tech)),
                try CommandSender.message(CancelWorkOrder(workOrderId: "S3", reason: "duplicada")),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.assigned") >= 1 && events.count("workorder.cancelled") >= 1 })
            try await Task.sleep(for: .seconds(1))
            #expect(events.count("workorder.sla-breached") == 0, "nothing is due yet")
            _ = await first.terminate()

            // 25 h later.
            let later = try system.start("dispatch", environment: ["CLOCK_OFFSET_SECONDS": "90000", "TIMER_TICK_MS": "200"])
            try await later.waitUntilReady()
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.sla-breached") >= 1 })
            try await Task.sleep(for: .seconds(2))
            let breaches = events.decoded(WorkOrderSLABreached.self)
            #expect(breaches.count == 1)
            let s1 = try #require(events.decoded(WorkOrderDispatched.self).first { $0.data.workOrderId == "S1" })
            #expect(breaches.first?.data.workOrderId == "S1")
            #expect(breaches.first?.data.what == .contact)
            #expect(breaches.first?.data.deadline == s1.data.contactBy)
            _ = await later.terminate()

            // A restart does not emit it again.
            let again = try system.start("dispatch", environment: ["CLOCK_OFFSET_SECONDS": "90000", "TIMER_TICK_MS": "200"])
            try await again.waitUntilReady()
            try await Task.sleep(for: .seconds(3))
            #expect(events.count("workorder.sla-breached") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM dispatch.sla_deadlines WHERE breached_at IS NOT NULL") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM dispatch.outbox") == 0)
            #expect(again.isRunning)
        }
    }
}
