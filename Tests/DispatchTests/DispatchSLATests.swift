import Contracts
import DispatchCenter
import Foundation
import Runtime
import Testing

/// The rules of an OT in dispatch that the table only hints at: the SLA deadlines as durable
/// timers (set on dispatch, cleared when met, breached once, the priority deadline re-set) and
/// what each decision carries.
@Suite("dispatch decisions and SLA timers")
struct DispatchSLATests {
    typealias OT = DispatchWorkOrder
    let t0 = Date(timeIntervalSince1970: 1_795_356_000)  // 2026-11-22T14:00:00Z
    let id = "W-1"

    func hours(_ h: Double) -> Date { t0.addingTimeInterval(h * 3600) }

    func decide(_ state: OT.State?, _ input: OT.Input, at time: Date) throws(Rejection) -> Decision<OT.State> {
        var context = DecisionContext(now: time)
        return try OT.decide(state, input, &context)
    }

    func step(_ state: OT.State?, _ input: OT.Input, at time: Date) throws -> OT.State {
        try #require(try decide(state, input, at: time).state)
    }

    func approval(customer: Customer = .example, kind: WorkOrderKind = .project, dueBy: Date? = nil) -> WorkOrderApproved {
        WorkOrderApproved(workOrderId: id, approvedBy: "quality-gate", customer: customer, kind: kind, serviceLine: .csv, dueBy: dueBy)
    }

    func prioritized(_ level: Int, until deadline: Date) -> OT.Input {
        .prioritized(WorkOrderPrioritized(workOrderId: id, level: level, deadline: deadline, reason: "matriz"))
    }

    var assign: OT.Input { .assign(AssignWorkOrder(workOrderId: id, assignee: .example)) }
    var attend: OT.Input { .reportOutcome(ReportOutcome(workOrderId: id, outcome: .resolved)) }

    func dispatched(dueBy: Date? = nil) throws -> OT.State {
        try step(nil, .approved(approval(dueBy: dueBy)), at: t0)
    }

    // MARK: Dispatch

    @Test func anApprovalDispatchesAtOnceWithTheContactDeadline24HoursLater() throws {
        let due = hours(72)
        let d = try decide(nil, .approved(approval(dueBy: due)), at: t0)
        #expect(d.state?.state == .dispatched)
        #expect(d.history.map(\.to) == ["approved", "dispatched"])
        let e = try #require(d.emitted(WorkOrderDispatched.self).first)
        #expect(e.contactBy == hours(24) && e.dueBy == due && e.publicSector && e.priority == 4, "level 4 until the priority service's level arrives")
        #expect(d.timers == [.set("sla.contact", at: hours(24)), .set("sla.due", at: due)])
        #expect(d.state?.sla["contact"] == OT.Deadline(deadline: hours(24)))
        #expect(d.state?.sla["due"] == OT.Deadline(deadline: due))
    }

    @Test func theContactDeadlineCountsFromTheApprovalNotFromWhenDispatchProcessesIt() throws {
        // Approved at t0, processed 5 h later (a backlog): contact still due at t0 + 24 h.
        var context = DecisionContext(now: hours(5), messageTime: t0)
        let d = try OT.decide(nil, .approved(approval()), &context)
        #expect(d.emitted(WorkOrderDispatched.self).first?.contactBy == hours(24))
        #expect(d.timers.first == .set("sla.contact", at: hours(24)))
        #expect(d.state?.approvedAt == t0)
        #expect(d.state?.dispatchedAt == hours(5))
        // An approval stamped ahead of the dispatch clock counts from now, never later.
        var ahead = DecisionContext(now: t0, messageTime: hours(2))
        #expect(try OT.decide(nil, .approved(approval()), &ahead).emitted(WorkOrderDispatched.self).first?.contactBy == hours(24))
    }

    @Test func anOTWithoutATenderDeadlineGetsOnlyTheContactTimer() throws {
        let d = try decide(nil, .approved(approval(customer: .residentialExample, kind: .project)), at: t0)
        #expect(d.timers == [.set("sla.contact", at: hours(24))])
        #expect(d.emitted(WorkOrderDispatched.self).first?.priority == 4)
    }

    /// Issue 7, rule 2: the 24 h contact SLA of SGC-PC-07 §4.5 is CERCAL's, for projects; pole
    /// moves, repairs and post-sale OTs get no contact timer and never a contact breach.
    @Test func onlyProjectsGetTheContactDeadline() throws {
        for kind in WorkOrderKind.allCases {
            let d = try decide(nil, .approved(approval(customer: .residentialExample, kind: kind)), at: t0)
            let e = try #require(d.emitted(WorkOrderDispatched.self).first)
            let tracked = kind == .project
            #expect(e.contactSLA == tracked, "\(kind)")
            #expect(d.timers == (tracked ? [.set("sla.contact", at: hours(24))] : []), "\(kind)")
            let ot = try #require(d.state)
            #expect((ot.sla["contact"] != nil) == tracked, "\(kind)")
            let fired = try decide(ot, .deadline(.contact), at: hours(30))
            #expect(fired.emitted(WorkOrderSLABreached.self).count == (tracked ? 1 : 0), "\(kind)")
        }
        #expect(DispatchRules.contactSLAApplies(to: .project))
        #expect(!DispatchRules.contactSLAApplies(to: .poleMove) && !DispatchRules.contactSLAApplies(to: .repair))
    }

    // MARK: Travel budget (issue 7, rule 4)

    /// §4.5: a public OT with work outside the city has its travel budget requested from the Head
    /// of Administration by the line head, once, when it is dispatched.
    @Test func aPublicOTWithTravelHasItsBudgetRequestedOnceOnDispatch() throws {
        var a = approval()
        a.travel = Travel(destination: "Sacaba", budget: .bolivianos(3_200))
        let d = try decide(nil, .approved(a), at: t0)
        #expect(
            d.emitted(TravelBudgetRequested.self) == [
                TravelBudgetRequested(
                    workOrderId: id, destination: "Sacaba", budget: .bolivianos(3_200), requestedBy: "Head CSV",
                    requestedFrom: "Head of Administration")
            ])
        let ot = try #require(d.state)
        #expect(ot.travelRequestedAt == t0)
        #expect(try decide(ot, .approved(a), at: hours(1)).events.isEmpty, "a second approval asks nothing twice")
    }

    @Test func noTravelBudgetIsRequestedWithoutTravelOrForAPrivateCustomer() throws {
        #expect(try decide(nil, .approved(approval()), at: t0).emitted(TravelBudgetRequested.self).isEmpty)
        var a = approval(customer: .residentialExample)
        a.travel = Travel(destination: "Sacaba", budget: .bolivianos(3_200))
        #expect(try decide(nil, .approved(a), at: t0).emitted(TravelBudgetRequested.self).isEmpty)
    }

    @Test func theTravelOfTheOpeningIsUsedWhenTheApprovalCarriesNone() throws {
        let opening = WorkOrderOpened(
            workOrderId: id, number: "OT-1", kind: .project, serviceLine: .gep, customer: .example, documents: [],
            travel: Travel(destination: "Punata", budget: .bolivianos(1_500)))
        let opened = try step(nil, .opened(opening), at: t0)
        var a = approval()
        a.serviceLine = .gep
        let d = try decide(opened, .approved(a), at: t0)
        #expect(d.emitted(TravelBudgetRequested.self).map(\.destination) == ["Punata"])
        #expect(d.emitted(TravelBudgetRequested.self).map(\.requestedBy) == ["Head GEP"])
    }

    // MARK: Report delivery (issue 7, rule 3)

    func delivery(at: Date? = nil) -> OT.Input {
        .deliverReport(DeliverReport(workOrderId: id, report: Document(kind: .other, uri: "s3://d/informe.pdf"), by: "diego.arce", deliveredAt: at))
    }

    @Test func theReportIsDeliveredAfterTheWorkOnceAndTheEventCarriesWhatTheSurveyNeeds() throws {
        let dispatched = try dispatched()
        let early = #expect(throws: Rejection.self) { try decide(dispatched, delivery(), at: hours(1)) }
        #expect(early?.code == .invalidTransition, "no report before the work is attended")
        let attended = try step(try step(dispatched, assign, at: hours(1)), attend, at: hours(2))
        let d = try decide(attended, delivery(at: hours(2.5)), at: hours(3))
        #expect(
            d.emitted(WorkOrderReportDelivered.self) == [
                WorkOrderReportDelivered(
                    workOrderId: id, kind: .project, customer: .example, report: Document(kind: .other, uri: "s3://d/informe.pdf"),
                    deliveredBy: "diego.arce", deliveredAt: hours(2.5))
            ])
        let delivered = try #require(d.state)
        #expect(delivered.state == .attended && delivered.reportDeliveredAt == hours(2.5))
        let twice = #expect(throws: Rejection.self) { try decide(delivered, delivery(), at: hours(4)) }
        #expect(twice?.code == .alreadyDone)
        // Delivered after the closing too (the closing does not wait for the report).
        let closed = try step(attended, .close(CloseWorkOrder(workOrderId: id, by: "diego.arce")), at: hours(3))
        #expect(try decide(closed, delivery(), at: hours(5)).emitted(WorkOrderReportDelivered.self).first?.deliveredAt == hours(5))
    }

    @Test func aDeliveryInTheFutureOrWithoutItsReportIsAValidationError() throws {
        let attended = try step(try step(try dispatched(), assign, at: hours(1)), attend, at: hours(2))
        let future = #expect(throws: Rejection.self) { try decide(attended, delivery(at: hours(10)), at: hours(3)) }
        #expect(future?.code == .validation && future?.errors.map(\.field) == ["data.deliveredAt"])
        let blank = OT.Input.deliverReport(DeliverReport(workOrderId: id, report: Document(kind: .other, uri: " "), by: "diego.arce"))
        let noReport = #expect(throws: Rejection.self) { try decide(attended, blank, at: hours(3)) }
        #expect(noReport?.errors.map(\.field) == ["data.report.uri"])
    }

    @Test func aSecondApprovalDispatchesNothing() throws {
        let ot = try dispatched(dueBy: hours(72))
        let d = try decide(ot, .approved(approval(dueBy: hours(100))), at: hours(1))
        #expect(d.state == nil && d.events.isEmpty && d.timers.isEmpty && d.history.isEmpty)
    }

    @Test func theTenderDeadlineOfTheOpeningIsKeptWhenTheApprovalCarriesNone() throws {
        let opened = try step(
            nil, .opened(WorkOrderOpened(workOrderId: id, number: "OT-1", kind: .project, customer: .example, documents: [], dueBy: hours(50))),
            at: t0)
        let d = try decide(opened, .approved(approval()), at: t0)
        #expect(d.state?.dueBy == hours(50))
        #expect(d.timers.contains(.set("sla.due", at: hours(50))))
    }

    @Test func aPriorityBeforeTheApprovalRaisesTheDispatchPriority() throws {
        let opened = try step(nil, prioritized(1, until: hours(12)), at: t0)
        #expect(opened.state == .opened && opened.prioritizedLevel == 1)
        let d = try decide(opened, .approved(approval(customer: .residentialExample, kind: .visit)), at: t0)
        #expect(d.emitted(WorkOrderDispatched.self).first?.priority == 1)
        #expect(!d.timers.contains { $0.name == "sla.priority" }, "the priority deadline is already set")
    }

    @Test func aPriorityLevelIsClampedToOneToFour() throws {
        #expect(try step(nil, prioritized(9, until: hours(48)), at: t0).prioritizedLevel == 4)
        #expect(try step(nil, prioritized(0, until: hours(12)), at: t0).prioritizedLevel == 1)
    }

    // MARK: Met deadlines

    @Test func theContactDeadlineIsNotBreachedOnceAssigned() throws {
        let ot = try dispatched()
        let d = try decide(ot, assign, at: hours(2))
        #expect(d.timers == [.clear("sla.contact")])
        let assigned = try #require(d.state)
        #expect(assigned.sla["contact"]?.metAt == hours(2))
        let fired = try decide(assigned, .deadline(.contact), at: hours(25))
        #expect(fired.state == nil && fired.events.isEmpty && fired.timers.isEmpty)
    }

    @Test func aReassignmentMeetsNothingTwice() throws {
        let assigned = try step(try dispatched(), assign, at: hours(2))
        let d = try decide(assigned, assign, at: hours(30))
        #expect(d.timers.isEmpty)
        #expect(d.state?.firstAssignedAt == hours(2) && d.state?.assignedAt == hours(30))
        #expect(d.history.first?.reason?.hasPrefix("reassigned") == true)
    }

    @Test func theDueAndPriorityDeadlinesAreMetWhenTheOTIsAttended() throws {
        var ot = try dispatched(dueBy: hours(72))
        ot = try step(ot, prioritized(2, until: hours(24)), at: t0)
        ot = try step(ot, assign, at: hours(1))
        let d = try decide(ot, attend, at: hours(5))
        #expect(d.timers == [.clear("sla.due"), .clear("sla.priority")])
        let attended = try #require(d.state)
        for what in [SLATarget.due, .priority] {
            #expect(attended.sla[what.rawValue]?.metAt == hours(5))
            let fired = try decide(attended, .deadline(what), at: hours(80))
            #expect(fired.events.isEmpty, "\(what)")
        }
    }

    // MARK: Breaches

    @Test func aMissedContactDeadlineIsBreachedOnce() throws {
        let ot = try dispatched()
        let d = try decide(ot, .deadline(.contact), at: hours(24))
        let breach = try #require(d.emitted(WorkOrderSLABreached.self).first)
        #expect(breach == WorkOrderSLABreached(workOrderId: id, deadline: hours(24), what: .contact))
        #expect(d.timers.isEmpty, "a fired timer is gone unless the decision sets it again")
        let breached = try #require(d.state)
        #expect(breached.sla["contact"]?.breachedAt == hours(24))
        #expect(breached.state == .dispatched)
        let again = try decide(breached, .deadline(.contact), at: hours(30))
        #expect(again.state == nil && again.events.isEmpty)
    }

    @Test func aTimerThatFiresEarlyIsSetAgainForItsDeadline() throws {
        let ot = try dispatched()
        let d = try decide(ot, .deadline(.contact), at: hours(23))
        #expect(d.events.isEmpty && d.state == nil)
        #expect(d.timers == [.set("sla.contact", at: hours(24))])
    }

    @Test func aTimerOfACancelledOTBreachesNothing() throws {
        var ot = try dispatched(dueBy: hours(48))
        ot = try step(ot, prioritized(1, until: hours(12)), at: t0)
        let d = try decide(ot, .cancel(CancelWorkOrder(workOrderId: id, reason: "desistió")), at: hours(1))
        #expect(d.timers == [.clear("sla.contact"), .clear("sla.due"), .clear("sla.priority")])
        let cancelled = try #require(d.state)
        for what in SLATarget.allCases {
            let fired = try decide(cancelled, .deadline(what), at: hours(100))
            #expect(fired.events.isEmpty && fired.state == nil, "\(what)")
        }
    }

    @Test func closedAndRejectedOTsBreachNothing() throws {
        var ot = try step(try dispatched(dueBy: hours(48)), assign, at: hours(1))
        ot = try step(ot, attend, at: hours(2))
        var closed = try step(ot, .close(CloseWorkOrder(workOrderId: id, by: "diego")), at: hours(3))
        closed.sla["due"]?.metAt = nil  // even a deadline left unmet is not breached once the OT is closed
        #expect(try decide(closed, .deadline(.due), at: hours(100)).events.isEmpty)

        var opened = try step(nil, prioritized(1, until: hours(12)), at: t0)
        opened = try step(opened, .rejected(WorkOrderRejected(workOrderId: id, reason: "sin OC")), at: hours(1))
        #expect(try decide(opened, .deadline(.priority), at: hours(13)).events.isEmpty)
    }

    @Test func aNewPriorityDeadlineReplacesTheOldOneBeforeItPasses() throws {
        let ot = try step(try dispatched(), prioritized(3, until: hours(48)), at: t0)
        let d = try decide(ot, prioritized(1, until: hours(12)), at: hours(2))
        #expect(d.timers == [.set("sla.priority", at: hours(12))])
        let reprioritized = try #require(d.state)
        #expect(reprioritized.sla["priority"] == OT.Deadline(deadline: hours(12)))
        #expect(reprioritized.priority == 1)
        let fired = try decide(reprioritized, .deadline(.priority), at: hours(12))
        #expect(fired.emitted(WorkOrderSLABreached.self) == [WorkOrderSLABreached(workOrderId: id, deadline: hours(12), what: .priority)])
    }

    @Test func aMissedPriorityDeadlineIsReportedOnce() throws {
        var ot = try step(try dispatched(), prioritized(2, until: hours(24)), at: t0)
        #expect(ot.priority == 2)
        ot = try step(ot, .deadline(.priority), at: hours(24))
        #expect(ot.sla["priority"]?.breachedAt == hours(24))

        // Re-levelled after the breach (an aged OT): the level changes, no second breach is armed.
        let d = try decide(ot, prioritized(1, until: hours(36)), at: hours(25))
        #expect(d.timers.isEmpty)
        let reprioritized = try #require(d.state)
        #expect(reprioritized.priority == 1)
        #expect(reprioritized.sla["priority"]?.breachedAt == hours(24))
        #expect(try decide(reprioritized, .deadline(.priority), at: hours(36)).events.isEmpty)
    }

    @Test func theSamePriorityDeadlineTwiceSetsNoTimer() throws {
        let ot = try step(try dispatched(), prioritized(2, until: hours(24)), at: t0)
        #expect(try decide(ot, prioritized(2, until: hours(24)), at: hours(1)).timers.isEmpty)
    }

    @Test func thePriorityOfAnAttendedOTIsRecordedOnly() throws {
        var ot = try step(try dispatched(), assign, at: hours(1))
        ot = try step(ot, attend, at: hours(2))
        let d = try decide(ot, prioritized(1, until: hours(12)), at: hours(3))
        #expect(d.timers.isEmpty && d.events.isEmpty && d.history.isEmpty)
        #expect(d.state?.prioritizedLevel == 1)
        #expect(d.state?.priority == ot.priority, "the dispatch priority of an attended OT stays")
        #expect(d.state?.sla["priority"] == nil)
    }

    @Test func aTimerNamesItsDeadline() {
        for what in SLATarget.allCases {
            guard case .deadline(let fired)? = OT.timerFired(OT.timer(what), dueAt: t0) else {
                Issue.record("sla.\(what.rawValue) is not a deadline")
                continue
            }
            #expect(fired == what)
        }
        #expect(OT.timer(.contact) == "sla.contact")
        #expect(OT.timerFired("sla.lunch", dueAt: t0) == nil)
        #expect(OT.timerFired("reminder", dueAt: t0) == nil)
    }

    // MARK: Commands

    @Test func validationComesBeforeNotFound() {
        var context = DecisionContext(now: t0)
        #expect(throws: Rejection.validation([FieldProblem(field: "data.assignee.id", problem: "must not be empty")])) {
            try OT.decide(nil, .assign(AssignWorkOrder(workOrderId: id, assignee: Assignee(id: " ", name: "Ana", role: "técnica"))), &context)
        }
    }

    @Test func anUnknownOTMayBeLateSoTheCommandIsParked() {
        var context = DecisionContext(now: t0)
        do {
            _ = try OT.decide(nil, assign, &context)
            Issue.record("expected notFound")
        } catch {
            #expect(error.code == .notFound && error.mayBeLate)
        }
    }

    @Test func theClosedEventCarriesTheKindCustomerOutcomeAndAmountOfTheOT() throws {
        var ot = try step(
            nil,
            .approved(WorkOrderApproved(workOrderId: id, approvedBy: "q", customer: .example, kind: .project, amount: .bolivianos(900))),
            at: t0)
        ot = try step(ot, assign, at: hours(1))
        ot = try step(ot, .reportOutcome(ReportOutcome(workOrderId: id, outcome: .unresolved, notes: "sin repuesto")), at: hours(2))
        let d = try decide(ot, .close(CloseWorkOrder(workOrderId: id, by: "diego")), at: hours(3))
        #expect(
            d.emitted(WorkOrderClosed.self) == [
                WorkOrderClosed(workOrderId: id, kind: .project, customer: .example, outcome: .unresolved, closedAt: hours(3), amount: .bolivianos(900))
            ])
        #expect(d.state?.closedBy == "diego")
    }

    /// Issue 7, rule 5 (SGC-DC-03): a scope change that alters the amount is what the closing
    /// bills, whether it comes before or after the approval.
    @Test func aScopeChangeOfTheAmountIsWhatTheClosingBills() throws {
        let change = WorkOrderScopeChanged(
            workOrderId: id, changes: ["sitios": 14], document: Document(kind: .other, uri: "s3://d/dc-03.pdf"), amount: .bolivianos(1_300))
        let early = try step(nil, .scopeChanged(change), at: t0)
        #expect(early.state == .opened && early.scopeAmount == .bolivianos(1_300))
        var ot = try step(
            early, .approved(WorkOrderApproved(workOrderId: id, approvedBy: "q", customer: .example, kind: .project, amount: .bolivianos(900))),
            at: t0)
        ot = try step(try step(ot, assign, at: hours(1)), attend, at: hours(2))
        let d = try decide(ot, .close(CloseWorkOrder(workOrderId: id, by: "diego")), at: hours(3))
        #expect(d.emitted(WorkOrderClosed.self).first?.amount == .bolivianos(1_300))
        let closed = try #require(d.state)
        #expect(try decide(closed, .scopeChanged(change), at: hours(4)).state == nil, "after the closing billing follows it")
        var noAmount = change
        noAmount.amount = nil
        #expect(try decide(ot, .scopeChanged(noAmount), at: hours(2)).state == nil)
    }

    @Test func closingAnOTThatLacksItsKindCustomerOrOutcomeIsRefused() {
        var context = DecisionContext(now: t0)
        let error = #expect(throws: Rejection.self) {
            try OT.decide(OT.State(id: id, state: .attended), .close(CloseWorkOrder(workOrderId: id, by: "diego")), &context)
        }
        #expect(error?.code == .invalidTransition)
    }

    @Test func anOpeningAfterALaterFactFillsOnlyWhatIsMissing() throws {
        let ot = try dispatched()
        let opening = WorkOrderOpened(
            workOrderId: id, number: "OT-BO-2026-000009", kind: .repair, customer: .residentialExample, documents: [],
            purchaseOrder: PurchaseOrder(number: "OC-9", amount: .bolivianos(10)))
        let d = try decide(ot, .opened(opening), at: hours(1))
        let s = try #require(d.state)
        #expect(s.state == .dispatched && d.history.isEmpty)
        #expect(s.number == "OT-BO-2026-000009" && s.amount == .bolivianos(10))
        #expect(s.kind == .project && s.customer == .example, "what the approval told stays")
    }
}
