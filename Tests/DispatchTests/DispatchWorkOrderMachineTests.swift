import Contracts
import DispatchCenter
import Foundation
import Runtime
import Testing

/// The OT in dispatch, exhaustively: every state × every input, with the expected effect of each
/// cell written down.
@Suite("OT in dispatch: every state × every input")
struct DispatchWorkOrderMachineTests {
    typealias OT = DispatchWorkOrder
    typealias Table = MachineTable<OT, Given>

    /// One input per case of ``DispatchWorkOrder/Input`` (one per deadline for the timers).
    enum Given: CaseIterable, Sendable {
        case opened, approvalPending, approved, rejected, prioritized, scopeChanged
        case assign, reportOutcome, close, cancel, deliverReport
        case contactDeadline, dueDeadline, priorityDeadline
    }

    /// The column of an input: exhaustive, so a new input case does not compile without a column.
    static func column(of input: OT.Input) -> Given {
        switch input {
        case .opened: .opened
        case .approvalPending: .approvalPending
        case .approved: .approved
        case .rejected: .rejected
        case .prioritized: .prioritized
        case .scopeChanged: .scopeChanged
        case .assign: .assign
        case .reportOutcome: .reportOutcome
        case .close: .close
        case .cancel: .cancel
        case .deliverReport: .deliverReport
        case .deadline(.contact): .contactDeadline
        case .deadline(.due): .dueDeadline
        case .deadline(.priority): .priorityDeadline
        }
    }

    static let id = "W-1"
    /// The OT's story starts at t0; the table decides three days later, after every deadline.
    static let t0 = Date(timeIntervalSince1970: 1_795_356_000)  // 2026-11-22T14:00:00Z
    static let now = t0.addingTimeInterval(3 * 86_400)
    static let dueBy = t0.addingTimeInterval(2 * 86_400)

    static let opening = WorkOrderOpened(
        workOrderId: id, number: "OT-BO-2026-000001", kind: .project, serviceLine: .csv, customer: .example, documents: [],
        dueBy: dueBy, purchaseOrder: PurchaseOrder(number: "OC-1", amount: .bolivianos(48_500)))
    static let approval = WorkOrderApproved(
        workOrderId: id, approvedBy: "quality-gate", customer: .example, kind: .project, serviceLine: .csv, dueBy: dueBy,
        amount: .bolivianos(48_500), travel: Travel(destination: "Sacaba", budget: .bolivianos(3_200)))
    static let assignment = AssignWorkOrder(workOrderId: id, assignee: .example, scheduledFor: t0.addingTimeInterval(86_400))

    static func input(_ given: Given) -> (input: OT.Input, trigger: String) {
        switch given {
        case .opened: (.opened(opening), WorkOrderOpened.type)
        case .approvalPending:
            (.approvalPending(WorkOrderApprovalPending(workOrderId: id, missingDocuments: [.offer])), WorkOrderApprovalPending.type)
        case .approved: (.approved(approval), WorkOrderApproved.type)
        case .rejected: (.rejected(WorkOrderRejected(workOrderId: id, reason: "sin orden de compra")), WorkOrderRejected.type)
        case .prioritized:
            (.prioritized(WorkOrderPrioritized(workOrderId: id, level: 1, deadline: now.addingTimeInterval(12 * 3600), reason: "TOP A")),
             WorkOrderPrioritized.type)
        case .scopeChanged:
            (.scopeChanged(
                WorkOrderScopeChanged(
                    workOrderId: id, changes: ["sitios": 14], document: Document(kind: .other, uri: "s3://d/sgc-dc-03.pdf"),
                    amount: .bolivianos(56_580))),
             WorkOrderScopeChanged.type)
        case .assign: (.assign(assignment), AssignWorkOrder.type)
        case .reportOutcome: (.reportOutcome(ReportOutcome(workOrderId: id, outcome: .resolved, notes: "ok")), ReportOutcome.type)
        case .close: (.close(CloseWorkOrder(workOrderId: id, by: "diego.arce")), CloseWorkOrder.type)
        case .cancel: (.cancel(CancelWorkOrder(workOrderId: id, reason: "el cliente desistió")), CancelWorkOrder.type)
        case .deliverReport:
            (.deliverReport(DeliverReport(workOrderId: id, report: Document(kind: .other, uri: "s3://d/informe.pdf"), by: "diego.arce")),
             DeliverReport.type)
        case .contactDeadline: (.deadline(.contact), StateMachine.timer(OT.timer(.contact)))
        case .dueDeadline: (.deadline(.due), StateMachine.timer(OT.timer(.due)))
        case .priorityDeadline: (.deadline(.priority), StateMachine.timer(OT.timer(.priority)))
        }
    }

    /// One OT per state, each reached the way operations reach it.
    static func states() throws -> [OT.State] {
        let opened = try step(nil, .opened(opening), at: t0)
        let pending = try step(opened, input(.approvalPending).input, at: t0)
        var dispatched = try step(pending, .approved(approval), at: t0)
        dispatched = try step(
            dispatched, .prioritized(WorkOrderPrioritized(workOrderId: id, level: 2, deadline: t0.addingTimeInterval(12 * 3600), reason: "PYME")),
            at: t0)
        let assigned = try step(dispatched, .assign(assignment), at: t0.addingTimeInterval(3600))
        let attended = try step(assigned, input(.reportOutcome).input, at: t0.addingTimeInterval(2 * 3600))
        let closed = try step(attended, input(.close).input, at: t0.addingTimeInterval(3 * 3600))
        let cancelled = try step(dispatched, input(.cancel).input, at: t0.addingTimeInterval(3600))
        let rejected = try step(opened, input(.rejected).input, at: t0)
        return [opened, pending, dispatched, assigned, attended, closed, cancelled, rejected]
    }

    static func step(_ state: OT.State?, _ input: OT.Input, at time: Date) throws -> OT.State {
        var context = DecisionContext(now: time)
        return try #require(try OT.decide(state, input, &context).state ?? state)
    }

    static func table() throws -> Table {
        try Table(
            service: DispatchService.definition, states: states(),
            transient: ["approved": "the approval dispatches at once: approved → dispatched in one decision"], now: now,
            input: input)
    }

    static let dispatched = "workorder.dispatched", assigned = "workorder.assigned", attended = "workorder.attended"
    static let closed = "workorder.closed", cancelled = "workorder.cancelled", breached = "workorder.sla-breached"
    static let delivered = "workorder.report-delivered", travel = "workorder.travel-budget-requested"
    static let onApproval = [dispatched, travel]
    static let setOnApproval = ["+sla.contact", "+sla.due"], clearAll = ["-sla.contact", "-sla.due", "-sla.priority"]

    /// What every input does in every state.
    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [
            .opened: .transition(to: "opened"),
            .approvalPending: .transition(to: "approvalPending"),
            .approved: .transition(to: "dispatched", emits: onApproval, timers: setOnApproval),
            .rejected: .transition(to: "rejected"),
            .prioritized: .transition(to: "opened", timers: ["+sla.priority"]), .scopeChanged: .transition(to: "opened"),
            .assign: .rejected(.notFound), .reportOutcome: .rejected(.notFound), .close: .rejected(.notFound),
            .cancel: .rejected(.notFound), .deliverReport: .rejected(.notFound),
            .contactDeadline: .ignored, .dueDeadline: .ignored, .priorityDeadline: .ignored,
        ],
        "opened": [
            .opened: .ignored,
            .approvalPending: .transition(to: "approvalPending"),
            .approved: .transition(to: "dispatched", emits: onApproval, timers: setOnApproval),
            .rejected: .transition(to: "rejected"),
            .prioritized: .unchanged(timers: ["+sla.priority"]), .scopeChanged: .unchanged(),
            .assign: .rejected(.invalidTransition), .reportOutcome: .rejected(.invalidTransition),
            .close: .rejected(.invalidTransition), .deliverReport: .rejected(.invalidTransition),
            .cancel: .transition(to: "cancelled", emits: [cancelled], timers: clearAll),
            .contactDeadline: .ignored, .dueDeadline: .ignored, .priorityDeadline: .ignored,
        ],
        "approvalPending": [
            .opened: .ignored,
            .approvalPending: .ignored,
            .approved: .transition(to: "dispatched", emits: onApproval, timers: setOnApproval),
            .rejected: .transition(to: "rejected"),
            .prioritized: .unchanged(timers: ["+sla.priority"]), .scopeChanged: .unchanged(),
            .assign: .rejected(.invalidTransition), .reportOutcome: .rejected(.invalidTransition),
            .close: .rejected(.invalidTransition), .deliverReport: .rejected(.invalidTransition),
            .cancel: .transition(to: "cancelled", emits: [cancelled], timers: clearAll),
            .contactDeadline: .ignored, .dueDeadline: .ignored, .priorityDeadline: .ignored,
        ],
        "dispatched": [
            .opened: .ignored, .approvalPending: .ignored, .approved: .ignored, .rejected: .ignored,
            .prioritized: .unchanged(timers: ["+sla.priority"]), .scopeChanged: .unchanged(),
            .assign: .transition(to: "assigned", emits: [assigned], timers: ["-sla.contact"]),
            .reportOutcome: .rejected(.invalidTransition), .close: .rejected(.invalidTransition),
            .deliverReport: .rejected(.invalidTransition),
            .cancel: .transition(to: "cancelled", emits: [cancelled], timers: clearAll),
            .contactDeadline: .unchanged(emits: [breached]), .dueDeadline: .unchanged(emits: [breached]),
            .priorityDeadline: .unchanged(emits: [breached]),
        ],
        "assigned": [
            .opened: .ignored, .approvalPending: .ignored, .approved: .ignored, .rejected: .ignored,
            .prioritized: .unchanged(timers: ["+sla.priority"]), .scopeChanged: .unchanged(),
            .assign: .transition(to: "assigned", emits: [assigned]),
            .reportOutcome: .transition(to: "attended", emits: [attended], timers: ["-sla.due", "-sla.priority"]),
            .close: .rejected(.invalidTransition), .deliverReport: .rejected(.invalidTransition),
            .cancel: .transition(to: "cancelled", emits: [cancelled], timers: clearAll),
            .contactDeadline: .ignored, .dueDeadline: .unchanged(emits: [breached]), .priorityDeadline: .unchanged(emits: [breached]),
        ],
        "attended": [
            .opened: .ignored, .approvalPending: .ignored, .approved: .ignored, .rejected: .ignored,
            .prioritized: .unchanged(), .scopeChanged: .unchanged(),
            .assign: .rejected(.invalidTransition), .reportOutcome: .rejected(.invalidTransition),
            .close: .transition(to: "closed", emits: [closed]), .deliverReport: .unchanged(emits: [delivered]),
            .cancel: .transition(to: "cancelled", emits: [cancelled], timers: clearAll),
            .contactDeadline: .ignored, .dueDeadline: .ignored, .priorityDeadline: .ignored,
        ],
        "closed": finalRow.merging([.deliverReport: .unchanged(emits: [delivered])]) { $1 },
        "cancelled": finalRow,
        "rejected": finalRow,
    ]

    /// A final OT takes no command, changes with no fact, breaches nothing; only a new priority
    /// level is recorded (and, once closed, the delivery of its report).
    static let finalRow: [Given: Table.Effect] = [
        .opened: .ignored, .approvalPending: .ignored, .approved: .ignored, .rejected: .ignored,
        .prioritized: .unchanged(), .scopeChanged: .ignored,
        .assign: .rejected(.invalidTransition), .reportOutcome: .rejected(.invalidTransition),
        .close: .rejected(.invalidTransition), .cancel: .rejected(.invalidTransition),
        .deliverReport: .rejected(.invalidTransition),
        .contactDeadline: .ignored, .dueDeadline: .ignored, .priorityDeadline: .ignored,
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "dispatch", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    @Test func dispatchEmitsExactlyItsEightEvents() throws {
        let emitted = try Self.table().emitted
        #expect(
            emitted == [
                Self.dispatched, Self.assigned, Self.attended, Self.closed, Self.cancelled, Self.breached, Self.delivered, Self.travel,
            ])
    }

    @Test func finalStatesAcceptNoTransition() throws {
        let table = try Self.table()
        let finals = Set(OT.machine.states.filter(\.isFinal).map(\.name))
        #expect(finals == ["closed", "cancelled", "rejected"])
        for cell in table.cells where finals.contains(cell.status ?? "") {
            if case .transition = cell.effect { Issue.record("\(cell) moves a final OT: \(cell.effect)") }
        }
        #expect(table.taken.filter { finals.contains($0.from ?? "") }.isEmpty)
    }

    @Test func noStoredOTIsLeftInTheTransientApprovedState() throws {
        for cell in try Self.table().cells {
            if case .success(let d) = cell.result { #expect(d.state?.status != "approved", "\(cell)") }
        }
    }
}
