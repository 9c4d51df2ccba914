import AMQP
import Contracts
import Foundation
import Runtime
import Testing

/// The approval service end to end: the quality gate, the controller's decisions, the prefactura
/// review and the survey request, against a real RabbitMQ and PostgreSQL, the service as its own
/// process. The events it consumes are published here as their producers would.
@Suite("approval service against RabbitMQ and PostgreSQL", .serialized)
struct ApprovalServiceTests {
    static let keys = [
        "workorder.approved", "workorder.approval-pending", "workorder.rejected", "command.rejected",
        "billing.prefactura-approved", "billing.prefactura-returned", "survey.requested",
    ]
    static let dueBy = Date(timeIntervalSince1970: 1_800_000_000)
    static let offer = Document(kind: .offer, uri: "s3://ot-docs/C-1042/oferta.pdf")
    static let purchaseOrderDoc = Document(kind: .purchaseOrder, uri: "s3://ot-docs/C-1042/oc.pdf")
    static let signedQuote = Document(kind: .signedQuote, uri: "s3://ot-docs/C-1042/cotizacion-firmada.pdf")

    static func opened(_ id: String, kind: WorkOrderKind = .project, documents: [Document]) -> WorkOrderOpened {
        WorkOrderOpened(
            workOrderId: id, number: "OT-BO-2026-\(id)", kind: kind, serviceLine: kind == .project ? .csv : nil,
            customer: .example, documents: documents, dueBy: kind == .project ? dueBy : nil,
            purchaseOrder: kind == .project ? PurchaseOrder(number: "OC-1", amount: Money(minor: 4_850_000, currency: .bob)) : nil)
    }

    /// Starts the service and returns what a test needs.
    static func start(_ system: TestSystem) async throws -> (EventCollector, CommandSender) {
        let service = try system.start("approval")
        try await service.waitUntilReady()
        let events = try await EventCollector(system: system, keys: keys)
        let sender = try await system.sender()
        return (events, sender)
    }

    static func send<M: Message>(_ sender: CommandSender, _ message: M, id: String = UUID().uuidString.lowercased()) async throws {
        try await sender.publishConfirmed([try CommandSender.message(message, id: id)])
    }

    static func rejection(_ events: EventCollector, _ commandId: String) -> CommandRejected? {
        events.decoded(CommandRejected.self).first { $0.data.commandId == commandId }?.data
    }

    @Test func theGateApprovesCompleteAndUngatedWorkOrdersAndWaitsForMissingDocuments() async throws {
        try await withTestSystem("appr-gate") { system in
            let (events, sender) = try await Self.start(system)

            // A complete project, delivered twice with the same id and once more with a new id.
            let complete = try CommandSender.message(Self.opened("WO-1", documents: [Self.offer, Self.purchaseOrderDoc]), id: "opened-1")
            try await sender.publishConfirmed([complete, complete])
            try await Self.send(sender, Self.opened("WO-1", documents: [Self.offer, Self.purchaseOrderDoc]))
            // A project without purchase order / signed quote / contract; a repair.
            try await Self.send(sender, Self.opened("WO-2", documents: [Self.offer]))
            try await Self.send(sender, Self.opened("WO-3", kind: .repair, documents: []))

            #expect(await eventually(timeout: .seconds(30)) {
                events.count("workorder.approved") >= 2 && events.count("workorder.approval-pending") >= 1
            })
            let pending = try #require(events.decoded(WorkOrderApprovalPending.self).first?.data)
            #expect(pending.workOrderId == "WO-2")
            #expect(pending.missingDocuments == [.purchaseOrder])

            try await Self.send(sender, AttachDocument(workOrderId: "WO-2", document: Self.signedQuote))
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.approved") >= 3 })
            try await Task.sleep(for: .seconds(2))  // would reveal extra events

            let approved = Dictionary(grouping: events.decoded(WorkOrderApproved.self).map(\.data), by: \.workOrderId)
            #expect(approved.mapValues(\.count) == ["WO-1": 1, "WO-2": 1, "WO-3": 1])
            let wo1 = try #require(approved["WO-1"]?.first)
            #expect(wo1.approvedBy == "quality-gate")
            #expect(wo1.dueBy == Self.dueBy)
            #expect(wo1.amount == Money(minor: 4_850_000, currency: .bob))
            #expect(wo1.serviceLine == .csv)
            #expect(wo1.customer == .example)
            #expect(approved["WO-2"]?.first?.approvedBy == "quality-gate")
            #expect(approved["WO-2"]?.first?.dueBy == Self.dueBy)
            #expect(approved["WO-3"]?.first?.approvedBy == "auto:repair")
            #expect(approved["WO-3"]?.first?.amount == nil)
            #expect(events.count("workorder.approval-pending") == 1)
            #expect(events.count("command.rejected") == 0)
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.work_orders WHERE state = 'approved'") == 3)
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.documents WHERE work_order_id = 'WO-2'") == 2)
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.decisions WHERE work_order_id = 'WO-2'") == 2)
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.outbox") == 0)
        }
    }

    @Test func brokenCommandsAreRejectedWithTheirCodeAndChangeNothing() async throws {
        try await withTestSystem("appr-rej") { system in
            let (events, sender) = try await Self.start(system)
            try await Self.send(sender, Self.opened("WO-1", documents: [Self.offer]))
            try await Self.send(sender, Self.opened("WO-2", documents: [Self.offer]))
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.approval-pending") >= 2 })
            let decisionsBefore = try await system.count("SELECT count(*)::int8 FROM approval.decisions")

            // Reject without a reason; approve an unknown OT.
            try await Self.send(sender, RejectWorkOrder(workOrderId: "WO-1", by: "lucia.mendoza"), id: "reject-no-reason")
            try await Self.send(sender, ApproveWorkOrder(workOrderId: "WO-404", by: "lucia.mendoza"), id: "approve-unknown")
            try await Self.send(sender, AttachDocument(workOrderId: "WO-404", document: Self.signedQuote), id: "attach-unknown")
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 3 })
            let noReason = try #require(Self.rejection(events, "reject-no-reason"))
            #expect(noReason.code == "validation")
            #expect(noReason.errors.map(\.field) == ["data.reason"])
            #expect(Self.rejection(events, "approve-unknown")?.code == "notFound")
            #expect(Self.rejection(events, "attach-unknown")?.code == "notFound")
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.work_orders WHERE state = 'approvalPending'") == 2)
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.work_orders") == 2)
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.decisions") == decisionsBefore)

            // Dispatch cancels WO-2: approve and attach are then invalidState.
            try await Self.send(sender, WorkOrderCancelled(workOrderId: "WO-2", reason: "El cliente desistió"))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM approval.work_orders WHERE id = 'WO-2' AND state = 'cancelled'")) == 1
            })
            try await Self.send(sender, ApproveWorkOrder(workOrderId: "WO-2", by: "lucia.mendoza"), id: "approve-cancelled")
            try await Self.send(sender, AttachDocument(workOrderId: "WO-2", document: Self.signedQuote), id: "attach-cancelled")
            // A cancellation for an OT never seen here is recorded, not rejected, and wins over a late opening.
            try await Self.send(sender, WorkOrderCancelled(workOrderId: "WO-3", reason: "duplicada"))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM approval.decisions WHERE work_order_id = 'WO-3'")) == 1
            })
            try await Self.send(sender, Self.opened("WO-3", kind: .visit, documents: []))
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 5 })
            #expect(Self.rejection(events, "approve-cancelled")?.code == "invalidTransition")
            #expect(Self.rejection(events, "attach-cancelled")?.code == "invalidTransition")
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.documents WHERE work_order_id = 'WO-2'") == 1)

            // A proper rejection, then a second decision on it is invalidState.
            try await Self.send(sender, RejectWorkOrder(workOrderId: "WO-1", by: "lucia.mendoza", reason: "Cotización sin firma"))
            #expect(await eventually(timeout: .seconds(30)) { events.count("workorder.rejected") >= 1 })
            try await Self.send(sender, ApproveWorkOrder(workOrderId: "WO-1", by: "lucia.mendoza"), id: "approve-rejected")
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 6 })
            try await Task.sleep(for: .seconds(1))
            #expect(Self.rejection(events, "approve-rejected")?.code == "invalidTransition")
            #expect(events.decoded(WorkOrderRejected.self).map(\.data.reason) == ["Cotización sin firma"])
            #expect(events.count("workorder.approved") == 0, "not WO-2 (cancelled) nor WO-3 (cancelled before opening)")
            #expect(events.count("command.rejected") == 6)
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.work_orders WHERE id = 'WO-3' AND state = 'cancelled'") == 1)
            #expect(try await system.count(
                "SELECT count(*)::int8 FROM approval.decisions WHERE work_order_id = 'WO-1' AND action = 'rejected' AND by = 'lucia.mendoza'") == 1)
        }
    }

    @Test func prefacturasAreReviewedAndEachProjectWhoseReportWasDeliveredGetsOneSurvey() async throws {
        try await withTestSystem("appr-pf") { system in
            let (events, sender) = try await Self.start(system)
            let line = PrefacturaLine(
                description: "Verificación de puesta a tierra", quantity: 12, unitPrice: Money(minor: 404_166, currency: .bob),
                amount: Money(minor: 4_849_992, currency: .bob))
            let amount = Money(minor: 4_849_992, currency: .bob)
            try await Self.send(sender, PrefacturaIssued(prefacturaId: "PF-1", workOrderId: "WO-1", amount: amount, lines: [line]))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM approval.prefacturas WHERE id = 'PF-1'")) == 1
            })

            try await Self.send(sender, ReviewPrefactura(prefacturaId: "PF-1", decision: .return, by: "carla.rocha"), id: "return-no-notes")
            try await Self.send(sender, ReviewPrefactura(prefacturaId: "PF-404", decision: .approve, by: "carla.rocha"), id: "review-unknown")
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 2 })
            let noNotes = try #require(Self.rejection(events, "return-no-notes"))
            #expect(noNotes.code == "validation")
            #expect(noNotes.errors.map(\.field) == ["data.notes"])
            #expect(Self.rejection(events, "review-unknown")?.code == "notFound")
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.prefacturas WHERE state = 'pending' AND decided_by IS NULL") == 1)

            try await Self.send(sender, ReviewPrefactura(prefacturaId: "PF-1", decision: .return, by: "carla.rocha", notes: "Falta descuento"))
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.prefactura-returned") >= 1 })
            let returned = try #require(events.decoded(PrefacturaReturned.self).first?.data)
            #expect(returned == PrefacturaReturned(prefacturaId: "PF-1", workOrderId: "WO-1", by: "carla.rocha", notes: "Falta descuento"))

            // The corrected prefactura: a new id for the same OT.
            try await Self.send(sender, PrefacturaIssued(prefacturaId: "PF-2", workOrderId: "WO-1", amount: amount, lines: [line]))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM approval.prefacturas WHERE id = 'PF-2'")) == 1
            })
            try await Self.send(sender, ReviewPrefactura(prefacturaId: "PF-2", decision: .approve, by: "carla.rocha"))
            try await Self.send(sender, ReviewPrefactura(prefacturaId: "PF-1", decision: .approve, by: "carla.rocha"), id: "review-decided")
            #expect(await eventually(timeout: .seconds(30)) {
                events.count("billing.prefactura-approved") >= 1 && events.count("command.rejected") >= 3
            })
            #expect(events.decoded(PrefacturaApproved.self).map(\.data) == [
                PrefacturaApproved(prefacturaId: "PF-2", workOrderId: "WO-1", by: "carla.rocha"),
            ])
            #expect(Self.rejection(events, "review-decided")?.code == "invalidTransition")

            // The closing asks for no survey: §4.8 waits for the delivered report (issue 7, rule 3).
            let closed = WorkOrderClosed(
                workOrderId: "WO-1", kind: .project, customer: .example, outcome: .resolved, closedAt: Self.dueBy, amount: amount)
            try await Self.send(sender, closed)
            // Reports of a repair and a pole move: no survey for them (issue 7, rule 2).
            for (id, kind) in [("WO-R", WorkOrderKind.repair), ("WO-P", .poleMove)] {
                try await Self.send(
                    sender,
                    WorkOrderReportDelivered(
                        workOrderId: id, kind: kind, customer: .residentialExample, report: Document(kind: .other, uri: "s3://d/\(id).pdf"),
                        deliveredBy: "diego.arce", deliveredAt: Self.dueBy))
            }
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM approval.inbox WHERE message_type = 'workorder.report-delivered'")) == 2
            })
            #expect(events.count("survey.requested") == 0)
            // The project's report, delivered twice with the same id, then again with a new id: one survey.
            let delivered = WorkOrderReportDelivered(
                workOrderId: "WO-1", kind: .project, customer: .example, report: Document(kind: .other, uri: "s3://d/informe.pdf"),
                deliveredBy: "diego.arce", deliveredAt: Self.dueBy)
            let deliveredMessage = try CommandSender.message(delivered, id: "delivered-1")
            try await sender.publishConfirmed([deliveredMessage, deliveredMessage])
            #expect(await eventually(timeout: .seconds(30)) { events.count("survey.requested") >= 1 })
            try await Self.send(sender, delivered)
            try await Task.sleep(for: .seconds(2))
            let surveys = events.decoded(SurveyRequested.self).map(\.data)
            #expect(surveys.count == 1)
            #expect(surveys.first?.workOrderId == "WO-1")
            #expect(surveys.first?.customer == .example)
            #expect(UUID(uuidString: surveys.first?.surveyId ?? "") != nil)
            #expect(try await system.count("SELECT count(*)::int8 FROM approval.surveys") == 1)
            #expect(events.count("command.rejected") == 3)
            #expect(events.count("billing.prefactura-returned") == 1)
        }
    }
}
