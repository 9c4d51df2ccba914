import Console
import ConsoleUI
import Contracts
import Foundation
import Platform
import Runtime
import Testing

/// The console's read model as pure decisions: facts in any order fold into one view per case,
/// with the state only moving forward, the pending deadline, the timeline lines and the
/// indicator marks; every step a decision takes is declared in its machine.
@Suite struct ReadModelTests {
    static let t0 = Date(timeIntervalSince1970: 1_796_000_000)  // 2026-11-29
    static let customer = Customer(
        id: "C-9", name: "Cooperativa <Norte>", taxId: "1020", sector: .public, segment: .topA, country: .cl)

    static func fact(_ m: any Message, _ minutes: Double) -> Observed { Observed(m, time: t0.addingTimeInterval(minutes * 60)) }

    /// Folds `facts` through `A.decide` in the given order, checking each decision against the
    /// machine as the runtime does; returns the last state and the history lines.
    static func fold<A: Aggregate>(_ a: A.Type, _ facts: [Observed]) throws -> (A.State?, [HistoryEntry]) where A.Input == Observed {
        var state: A.State?
        var lines: [HistoryEntry] = []
        for (i, f) in facts.enumerated() {
            var context = DecisionContext(now: f.time, messageId: "m-\(i)", messageTime: f.time)
            let d = try A.decide(state, f, &context)
            for h in d.history {
                if let to = h.to {
                    #expect(A.machine.allows(from: h.from, to: to, on: f.type), "\(h.from ?? "∅") → \(to) on \(f.type) is not declared")
                }
            }
            if let s = d.state {
                #expect(A.machine.state(s.status) != nil)
                if s.status != state?.status { #expect(d.history.last { $0.to != nil }?.to == s.status) }
                state = s
            }
            lines += d.history
        }
        return (state, lines)
    }

    static let opened = WorkOrderOpened(
        workOrderId: "OT-1", number: "OT-CL-2026-000001", kind: .poleMove, serviceLine: .csv, customer: customer, documents: [],
        dueBy: t0.addingTimeInterval(3 * 86_400))

    @Test func aWorkOrderMovesForwardOnlyAndKeepsItsTimelineInAnyOrder() throws {
        let facts = [
            Self.fact(Self.opened, 0),
            Self.fact(WorkOrderPrioritized(workOrderId: "OT-1", level: 2, deadline: Self.t0.addingTimeInterval(86_400), reason: "PYME"), 1),
            Self.fact(WorkOrderApproved(workOrderId: "OT-1", approvedBy: "lucia", customer: Self.customer, kind: .poleMove), 2),
            // Assigned overtakes dispatched: the state stays assigned.
            Self.fact(WorkOrderAssigned(workOrderId: "OT-1", assignee: .example), 4),
            Self.fact(
                WorkOrderDispatched(
                    workOrderId: "OT-1", priority: 4, contactBy: Self.t0.addingTimeInterval(3600), publicSector: true), 3),
        ]
        let (v, lines) = try Self.fold(WorkOrderViews.self, facts)
        let view = try #require(v)
        #expect(view.status == "assigned")
        #expect(view.level == 2, "the priority service's level wins over the dispatch priority")
        #expect(view.assignee == Assignee.example.name)
        #expect(view.country == "CL" && view.customer == "Cooperativa <Norte>" && view.kind == "poleMove")
        // Assigned: the contact deadline no longer counts; the earlier of priority and due is pending.
        #expect(view.deadline == Self.t0.addingTimeInterval(86_400) && view.deadlineWhat == "priority")
        #expect(lines.map(\.action) == facts.map(\.type))
        #expect(lines.last?.to == nil, "the late dispatch changes nothing but the timeline")
        #expect(lines.first?.details["at"] == Wire.timestamp(Self.t0))
        // The pole-move indicator counts it in the month of opening, not yet attended.
        #expect(view.kpis["poleMoves"] == KPIMark(month: "2026-11", hit: false))
    }

    @Test func aFinalStateIsNeverLeftAndTheMoneyIsKept() throws {
        let closed = WorkOrderClosed(
            workOrderId: "OT-1", kind: .poleMove, customer: Self.customer, outcome: .resolved, closedAt: Self.t0.addingTimeInterval(7200),
            amount: Money(minor: 100_000, currency: .clp))
        let facts = [
            Self.fact(Self.opened, 0),
            Self.fact(WorkOrderAttended(workOrderId: "OT-1", outcome: .resolved), 60),
            Self.fact(closed, 120),
            Self.fact(WorkOrderCancelled(workOrderId: "OT-1", reason: "tarde"), 121),
            Self.fact(
                PrefacturaIssued(prefacturaId: "PF-1", workOrderId: "OT-1", amount: Money(minor: 100_000, currency: .clp), lines: []), 122),
            Self.fact(
                InvoiceIssued(
                    invoiceId: "FAC-1", prefacturaId: "PF-1", workOrderId: "OT-1", amount: Money(minor: 100_000, currency: .clp),
                    issuer: .treasuryCL), 130),
        ]
        let (v, _) = try Self.fold(WorkOrderViews.self, facts)
        let view = try #require(v)
        #expect(view.status == "closed")
        #expect(view.deadline == nil, "a final OT has no pending deadline")
        #expect(view.prefacturaId == "PF-1" && view.prefacturaStatus == "issued" && view.invoiceId == "FAC-1")
        #expect(view.invoiceAmount == Amount(minor: 100_000, currency: "CLP") && view.invoiceIssuer == "treasuryCL")
        #expect(view.kpis["poleMoves"] == KPIMark(month: "2026-11", hit: true))
    }

    @Test func aViewFirstSeenThroughATimelineFactStartsOpened() throws {
        let (v, lines) = try Self.fold(
            WorkOrderViews.self, [Self.fact(WorkOrderSLABreached(workOrderId: "OT-7", deadline: Self.t0, what: .contact), 0)])
        #expect(v?.status == "opened" && v?.breaches == ["contact"])
        #expect(lines.first?.from == nil && lines.first?.to == "opened")
    }

    @Test func postSaleIndicatorsFollowTheProceduresRules() throws {
        let received = PostSaleRequestReceived(requestId: "R-1", flow: .suspension, contractId: "K-1", receivedAt: Self.t0)
        // Attended in 30 h by the procedure's own answer: effective, not on time.
        let rejected = PostSaleRequestRejected(requestId: "R-1", flow: .suspension, code: "suspensionAlreadyThisYear")
        let (v, _) = try Self.fold(RequestViews.self, [Self.fact(received, 0), Self.fact(rejected, 30 * 60)])
        #expect(v?.status == "rejected")
        #expect(v?.kpis["postSaleEfficacy"] == KPIMark(month: "2026-11", hit: true))
        #expect(v?.kpis["postSaleTimeliness"] == KPIMark(month: "2026-11", hit: false))
        // Completed with a failed quality call, within the day: on time, not effective.
        let (w, _) = try Self.fold(
            RequestViews.self,
            [
                Self.fact(PostSaleRequestReceived(requestId: "R-2", flow: .planChange, contractId: "K-1", receivedAt: Self.t0), 0),
                Self.fact(PostSaleQualityCheckRequested(requestId: "R-2", flow: .planChange), 60),
                Self.fact(PostSaleRequestCompleted(requestId: "R-2", flow: .planChange, completedAt: Self.t0.addingTimeInterval(7200), qualityOk: false), 120),
            ])
        #expect(w?.status == "completed")
        #expect(w?.kpis["postSaleEfficacy"]?.hit == false && w?.kpis["postSaleTimeliness"]?.hit == true)
    }

    @Test func aDamageCountsWhenItBecomesReiteratedAndHitsWhenSolved() throws {
        let product = ProductRef(id: "P-1", type: .internet)
        let (first, _) = try Self.fold(
            DamageViews.self,
            [Self.fact(DamageRegistered(damageId: "D-1", product: product, workOrderId: "OT-9", reiteration: 0, channel: .callCenter, fault: "sin señal"), 0)])
        #expect(first?.kpis.isEmpty == true, "a first report is not a reiterated damage")
        let (v, _) = try Self.fold(
            DamageViews.self,
            [
                Self.fact(DamageRegistered(damageId: "D-1", product: product, workOrderId: "OT-9", reiteration: 0, channel: .callCenter, fault: "sin señal"), 0),
                Self.fact(DamageReiterated(damageId: "D-1", previousDamageId: "D-1", count: 1, product: product), 10),
                Self.fact(DamageSolved(damageId: "D-1", product: product, reiterated: true, solvedAt: Self.t0.addingTimeInterval(3600), how: .field), 60),
            ])
        #expect(v?.status == "solved" && v?.reports == 1)
        #expect(v?.kpis["repeatedDamages"] == KPIMark(month: "2026-11", hit: true))
    }

    @Test func retrievalsCountInTheMonthTheyWereRequested() throws {
        let (v, _) = try Self.fold(
            RetrievalViews.self,
            [
                Self.fact(RetrievalRequested(retrievalId: "RT-1", fileId: "EXP-1", requestedAt: Self.t0), 0),
                Self.fact(RetrievalDelivered(retrievalId: "RT-1", fileId: "EXP-1", format: .scan, deliveredAt: Self.t0.addingTimeInterval(86_400 * 3)), 3 * 1440),
            ])
        #expect(v?.status == "delivered" && v?.fileId == "EXP-1")
        #expect(v?.kpis["documentRetrieval"] == KPIMark(month: "2026-11", hit: true))
    }

    @Test func everyEventTypeOfTheContractIsRoutedAndEveryViewFactIsDeclared() {
        let events = Set(MessageRegistry.allDescriptors.filter { $0.kind == .event }.map(\.type))
        #expect(Set(ConsoleService.routes.eventTypes) == events)
        #expect(ConsoleService.routes.commandTypes.isEmpty, "the console takes no command from the broker")
        // The console is in the platform, with its own broker user that may send every command.
        #expect(Platform.service("console") != nil)
        let commands = MessageRegistry.allDescriptors.filter { $0.kind == .command }.map(\.type)
        #expect(commands.allSatisfy { PlatformCatalog.senders(ofCommand: $0).contains("console") })
        #expect(PlatformCatalog.owners(ofEvent: WorkOrderOpened.type) == ["commercial"], "the console owns no platform event")
    }

    @Test func theOpenAPIDocumentIsCommittedAsTheCodeMakesIt() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let committed = try String(contentsOf: root.appendingPathComponent("deploy/console-openapi.json"), encoding: .utf8)
        #expect(
            committed.trimmingCharacters(in: .whitespacesAndNewlines) == ConsoleOpenAPI.document.trimmingCharacters(in: .whitespacesAndNewlines),
            "deploy/console-openapi.json is out of date: regenerate it with `.build/debug/console openapi > deploy/console-openapi.json`")
        // Every command type can be sent, each with the contract's own envelope schema.
        let doc = ConsoleOpenAPI.document
        for d in MessageRegistry.allDescriptors where d.kind == .command { #expect(doc.contains("envelope of \(d.type)\"")) }
    }
}
