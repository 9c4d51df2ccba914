import Contracts
import DispatchCenter
import Foundation
import Runtime
import Testing

@Suite("dispatch rules")
struct DispatchRulesTests {
    func customer(_ sector: Sector, _ segment: Segment) -> Customer {
        var c = Customer.example
        c.sector = sector
        c.segment = segment
        return c
    }
    let due = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func theLevelIsThePriorityServicesAndLevelFourUntilItArrives() {
        #expect(DispatchRules.priority(prioritized: nil).level == 4)
        for level in 1...4 { #expect(DispatchRules.priority(prioritized: level).level == level) }
        #expect(DispatchRules.priority(prioritized: 0).level == 4)
        #expect(DispatchRules.priority(prioritized: 5).level == 4)
    }

    @Test func dispatchHasNoMatrixOfItsOwn() {
        // A TOP A public-sector OT with a tender deadline is not level 1 unless the priority service says so.
        #expect(DispatchRules.priority(prioritized: nil) == DispatchRules.Priority(level: 4, reason: "not yet prioritized (level 4 until workorder.prioritized)"))
    }

    @Test func assignIsAllowedOnlyOnDispatchedOrAssigned() throws {
        try DispatchRules.check(.assign, from: .dispatched, workOrderId: "W")
        try DispatchRules.check(.assign, from: .assigned, workOrderId: "W")
        for s in WorkOrderState.allCases where s != .dispatched && s != .assigned {
            #expect(throws: Rejection.self) { try DispatchRules.check(.assign, from: s, workOrderId: "W") }
        }
    }

    @Test func closeFromDispatchedIsAnInvalidTransitionNamingTheState() {
        do {
            try DispatchRules.check(.close, from: .dispatched, workOrderId: "W-1")
            Issue.record("expected a rejection")
        } catch {
            #expect(error.code == .invalidTransition)
            #expect(error.message.contains("dispatched"))
        }
    }

    @Test func cancelIsAllowedFromEveryNonFinalStateOnly() {
        for s in WorkOrderState.allCases {
            let ok = (try? DispatchRules.check(.cancel, from: s, workOrderId: "W")) != nil
            #expect(ok == !s.isFinal, "\(s)")
        }
    }

    @Test func outcomeOnlyOnAssignedAndCloseOnlyOnAttended() {
        #expect((try? DispatchRules.check(.reportOutcome, from: .assigned, workOrderId: "W")) != nil)
        #expect((try? DispatchRules.check(.reportOutcome, from: .dispatched, workOrderId: "W")) == nil)
        #expect((try? DispatchRules.check(.close, from: .attended, workOrderId: "W")) != nil)
        #expect((try? DispatchRules.check(.close, from: .assigned, workOrderId: "W")) == nil)
    }

    @Test func aCancelWithoutReasonIsAValidationError() {
        do {
            try DispatchRules.validate(CancelWorkOrder(workOrderId: "W", reason: "  "))
            Issue.record("expected a rejection")
        } catch {
            #expect(error.code == .validation)
            #expect(error.errors.map(\.field) == ["data.reason"])
        }
    }

    @Test func anAssignmentNeedsAWholeAssignee() {
        do {
            try DispatchRules.validate(AssignWorkOrder(workOrderId: "W", assignee: Assignee(id: "", name: "Ana", role: "")))
            Issue.record("expected a rejection")
        } catch {
            #expect(Set(error.errors.map(\.field)) == ["data.assignee.id", "data.assignee.role"])
        }
    }

    /// The state an event first moves the OT into (its first transition), nil when it moves
    /// nothing.
    func afterEvent(_ input: DispatchWorkOrder.Input, current: WorkOrderState?) -> WorkOrderState? {
        var context = DecisionContext(now: Date())
        let state = current.map { DispatchWorkOrder.State(id: "W-1", state: $0) }
        guard let d = try? DispatchWorkOrder.decide(state, input, &context) else { return nil }
        return d.history.first { $0.to != nil }.flatMap { WorkOrderState(rawValue: $0.to!) }
    }

    @Test func outOfOrderFactsCreateTheRowAndStaleOnesAreIgnored() {
        let approved = DispatchWorkOrder.Input.approved(.example)
        #expect(afterEvent(approved, current: nil) == .approved)
        #expect(afterEvent(approved, current: .dispatched) == nil)
        #expect(afterEvent(approved, current: .cancelled) == nil)
        #expect(afterEvent(.approvalPending(.example), current: .dispatched) == nil)
        #expect(afterEvent(.rejected(.example), current: .approvalPending) == .rejected)
        #expect(afterEvent(.opened(.example), current: .dispatched) == nil)
    }
}

@Suite("follow-up report")
struct ReportRulesTests {
    @Test func statesFallIntoTheSeedBuckets() {
        #expect(ReportBucket.of(state: .opened, outcome: nil) == .registrado)
        #expect(ReportBucket.of(state: .dispatched, outcome: nil) == .registrado)
        #expect(ReportBucket.of(state: .assigned, outcome: nil) == .asignado)
        #expect(ReportBucket.of(state: .attended, outcome: .resolved) == .atendido)
        #expect(ReportBucket.of(state: .closed, outcome: .resolved) == .atendido)
        #expect(ReportBucket.of(state: .attended, outcome: .unresolved) == .atendidoSinSolucion)
        #expect(ReportBucket.of(state: .cancelled, outcome: nil) == .anulado)
    }
}
