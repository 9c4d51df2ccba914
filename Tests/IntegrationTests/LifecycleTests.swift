import AMQP
import Contracts
import Foundation
import Runtime
import Testing

/// The whole OT lifecycle through commercial, approval, dispatch and billing, each its own process,
/// talking only through RabbitMQ: purchase order to invoice.
@Suite("OT lifecycle end to end", .serialized)
struct LifecycleTests {
    static let services = ["commercial", "approval", "dispatch", "billing"]

    @Test func workOrdersGoFromPurchaseOrderToInvoiceThroughAllFourServices() async throws {
        try await withTestSystem("life") { system in
            var processes: [ServiceProcess] = []
            for s in Self.services { processes.append(try system.start(s)) }
            for p in processes { try await p.waitUntilReady() }
            let events = try await EventCollector(system: system)
            let crm = try await system.sender()
            // A CRM follows up an OT with the OT's correlation id (CONTRACT.md), learnt from its events.
            func correlation(of workOrderId: String) -> String? {
                events.decoded(WorkOrderOpened.self).first { $0.data.workOrderId == workOrderId }?.correlationid
            }
            func send<M: Message>(_ m: M, about workOrderId: String? = nil) async throws {
                let c = workOrderId.flatMap(correlation(of:))
                try await crm.publishConfirmed([try CommandSender.message(m, correlationId: c)])
            }
            func ids<M: Message>(_ type: M.Type, _ key: (M) -> String) -> Set<String> {
                Set(events.decoded(type).map { key($0.data) })
            }

            // 1. A private project in Chile, complete documents.
            var cl = OpenWorkOrder.example
            cl.workOrderId = "WO-life-CL"
            cl.dueBy = nil
            cl.travel = nil
            cl.customer.country = .cl
            cl.customer.sector = .private
            cl.purchaseOrder = PurchaseOrder(number: "OC-1", amount: Money(minor: 2_500_000, currency: .clp))
            // 2. A public tender in Colombia with a deadline.
            var co = OpenWorkOrder.example
            co.workOrderId = "WO-life-CO"
            co.customer.country = .co
            co.customer.sector = .public
            co.dueBy = Date().addingTimeInterval(30 * 86_400)
            co.purchaseOrder = PurchaseOrder(number: "LP-9", amount: Money(minor: 9_000_000, currency: .cop))
            // 3. A project with its purchase order missing.
            var missing = OpenWorkOrder.example
            missing.workOrderId = "WO-life-MISSING"
            missing.dueBy = Date().addingTimeInterval(60 * 86_400)
            missing.documents = missing.documents.filter { $0.kind == .offer }
            // 4. One that will be cancelled.
            var cancelled = OpenWorkOrder.example
            cancelled.workOrderId = "WO-life-CANCEL"
            cancelled.dueBy = Date().addingTimeInterval(60 * 86_400)
            for c in [cl, co, missing, cancelled] { try await send(c) }
            // 5. A pole move in Bolivia for someone with no active service.
            try await send(RequestPoleMove(requester: Payer(name: "Rosa Mamani", idNumber: "7788990"), address: "Calle Jordán 120", isExistingCustomer: false))

            #expect(await eventually(timeout: .seconds(60)) { ids(WorkOrderDispatched.self, \.workOrderId).isSuperset(of: ["WO-life-CL", "WO-life-CO", "WO-life-CANCEL"]) })
            #expect(ids(WorkOrderApprovalPending.self, \.workOrderId) == ["WO-life-MISSING"])
            let coDispatch = try #require(events.decoded(WorkOrderDispatched.self).first { $0.data.workOrderId == "WO-life-CO" })
            #expect(coDispatch.data.publicSector && coDispatch.data.dueBy != nil)

            // The missing purchase order arrives as a signed quotation.
            try await send(AttachDocument(workOrderId: "WO-life-MISSING", document: Document(kind: .signedQuote, uri: "s3://docs/cotizacion-firmada.pdf")), about: "WO-life-MISSING")
            // The cashier takes the pole-move payment.
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.charge-created") == 1 })
            let charge = try #require(events.decoded(ChargeCreated.self).first)
            #expect(charge.data.amount == Money(minor: 100_000, currency: .bob))
            try await crm.publishConfirmed([
                try CommandSender.message(
                    RecordPayment(chargeId: charge.data.chargeId, amount: charge.data.amount, receipt: "CAJA-001"),
                    correlationId: charge.correlationid)
            ])
            #expect(await eventually(timeout: .seconds(60)) { events.decoded(WorkOrderDispatched.self).count == 5 })
            let poleMove = try #require(events.decoded(WorkOrderOpened.self).first { $0.data.kind == .poleMove })
            let poleMoveId = poleMove.data.workOrderId

            // Operations: cancel one, run the others in the field and close them.
            try await send(CancelWorkOrder(workOrderId: "WO-life-CANCEL", reason: "cliente desiste"), about: "WO-life-CANCEL")
            let field = ["WO-life-CL", "WO-life-CO", "WO-life-MISSING", poleMoveId]
            for id in field { try await send(AssignWorkOrder(workOrderId: id, assignee: Assignee(id: "T-7", name: "Carlos Rojas", role: "technician")), about: id) }
            #expect(await eventually(timeout: .seconds(30)) { ids(WorkOrderAssigned.self, \.workOrderId) == Set(field) })
            for id in field { try await send(ReportOutcome(workOrderId: id, outcome: .resolved), about: id) }
            #expect(await eventually(timeout: .seconds(30)) { ids(WorkOrderAttended.self, \.workOrderId) == Set(field) })
            for id in field { try await send(CloseWorkOrder(workOrderId: id, by: "head.csv"), about: id) }
            #expect(await eventually(timeout: .seconds(30)) { ids(WorkOrderClosed.self, \.workOrderId) == Set(field) })
            #expect(ids(WorkOrderCancelled.self, \.workOrderId) == ["WO-life-CANCEL"])
            // The heads deliver the reports (§4.8): the three projects get their survey, the pole move none.
            for id in field {
                try await send(DeliverReport(workOrderId: id, report: Document(kind: .other, uri: "s3://docs/\(id)/informe.pdf"), by: "head.csv"), about: id)
            }
            #expect(await eventually(timeout: .seconds(30)) { ids(WorkOrderReportDelivered.self, \.workOrderId) == Set(field) })

            // Billing drafts prefacturas, the commercial head approves them, invoices follow.
            let billable: Set<String> = ["WO-life-CL", "WO-life-CO", "WO-life-MISSING"]
            #expect(await eventually(timeout: .seconds(30)) { ids(PrefacturaIssued.self, \.workOrderId).isSuperset(of: billable) })
            for p in events.decoded(PrefacturaIssued.self) {
                try await send(ReviewPrefactura(prefacturaId: p.data.prefacturaId, decision: .approve, by: "commercial.head"), about: p.data.workOrderId)
            }
            #expect(await eventually(timeout: .seconds(30)) { ids(InvoiceIssued.self, \.workOrderId).isSuperset(of: billable) })
            let issuers = Dictionary(uniqueKeysWithValues: events.decoded(InvoiceIssued.self).map { ($0.data.workOrderId, $0.data.issuer) })
            #expect(issuers["WO-life-CL"] == .treasuryCL)
            #expect(issuers["WO-life-CO"] == .accountManagerCO)
            let clInvoice = try #require(events.decoded(InvoiceIssued.self).first { $0.data.workOrderId == "WO-life-CL" })
            #expect(clInvoice.data.amount == Money(minor: 2_500_000, currency: .clp))
            #expect(await eventually(timeout: .seconds(30)) { ids(SurveyRequested.self, \.workOrderId) == billable })
            #expect(events.decoded(WorkOrderDispatched.self).filter { $0.data.contactSLA == false }.map(\.data.workOrderId) == [poleMoveId])

            // Every message of one OT shares its correlation id (the CRM passed it along).
            let clEvents = events.decoded(WorkOrderOpened.self).filter { $0.data.workOrderId == "WO-life-CL" }
            let correlation = try #require(clEvents.first?.correlationid)
            #expect(events.decoded(InvoiceIssued.self).first { $0.data.workOrderId == "WO-life-CL" }?.correlationid == correlation)
            #expect(events.count("command.rejected") == 0)

            // The customer answers the survey of the Chilean OT (§4.8); a second answer is refused.
            let survey = try #require(events.decoded(SurveyRequested.self).first { $0.data.workOrderId == "WO-life-CL" })
            try await send(RecordSurveyAnswer(surveyId: survey.data.surveyId, score: 5, comments: "excelente", by: "angie.cruz"), about: "WO-life-CL")
            try await send(RecordSurveyAnswer(surveyId: survey.data.surveyId, score: 1, by: "angie.cruz"), about: "WO-life-CL")
            #expect(await eventually(timeout: .seconds(30)) { events.count("survey.answered") == 1 && events.count("command.rejected") == 1 })
            #expect(events.decoded(CommandRejected.self).first?.data.code == "alreadyDone")

            // The follow-up report and the CxC reconciliation, as an operator runs them.
            let otctl = packageRoot.appendingPathComponent(".build/debug/otctl").path
            let day = String(Wire.timestamp(Date()).prefix(10))
            let report = try shell([otctl, "report", day, "--json", "--database-url", system.databaseURL])
            #expect(report.status == 0, "\(report.output)")
            let json = try JSONSerialization.jsonObject(with: Data(report.output.utf8)) as? [String: Any]
            let states = json?["states"] as? [String: Any]
            let surveys = json?["surveys"] as? [String: Any]
            let kpi = json?["poleMove"] as? [String: Any]
            #expect(states?["anulado"] as? Int == 1)
            #expect(states?["total"] as? Int == 5)
            #expect(surveys?["requested"] as? Int == 3 && surveys?["answered"] as? Int == 1)
            #expect((kpi?["kpi"] as? [String: Any])?["verdict"] as? String == "approved")
            #expect(kpi?["atendido"] as? Int == 1 && kpi?["total"] as? Int == 1, "the one pole-move request, attended")
            let reconcile = try shell([otctl, "reconcile", String(day.prefix(7)), "--database-url", system.databaseURL])
            #expect(reconcile.status == 0, "\(reconcile.output)")
            #expect(reconcile.output.contains("1 charges (1 naming their OT), 1 payments"))
            #expect(reconcile.output.contains("No differences."))
            // The pole move's charge is linked to its OT, opened after the payment and closed.
            let linked = try shell([otctl, "reconcile", String(day.prefix(7)), "--json", "--database-url", system.databaseURL])
            let charges = (try JSONSerialization.jsonObject(with: Data(linked.output.utf8)) as? [String: Any])?["charges"] as? [[String: Any]]
            #expect(charges?.count == 1)
            #expect(charges?.first?["workOrderId"] as? String == poleMoveId)
            #expect(charges?.first?["workOrderOpenedAt"] is String)
            for p in processes { #expect(p.isRunning) }
        }
    }
}
