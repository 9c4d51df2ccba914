import Contracts
import Foundation
import Runtime

/// An OT as the dispatch service follows it, from its opening to its closing (SGC-PC-07
/// §4.5–4.6, OPE-SUM-GES-P08 steps 8–14), as a state machine value.
///
/// Events are facts: one that arrives out of order creates the OT; a stale or duplicate one
/// changes nothing. Commands the state machine forbids are rejected (`validation`, then
/// `notFound`, then `invalidTransition`). The SLA deadlines (contact within 24 h, the tender's
/// due date, the priority level's deadline) are durable timers: when one fires and the OT has
/// not met it, `workorder.sla-breached` is emitted once.
public enum DispatchWorkOrder: Aggregate {
    public static let kind = "workOrder"

    /// A deadline of the OT: `contact` (met by the first assignment), `due` and `priority` (met
    /// when the OT is attended); never breached once the OT is cancelled, closed or rejected.
    @JSONMembers
    public struct Deadline: Codable, Sendable, Equatable {
        public var deadline: Date
        public var metAt: Date?
        public var breachedAt: Date?
        public init(deadline: Date, metAt: Date? = nil, breachedAt: Date? = nil) {
            self.deadline = deadline
            self.metAt = metAt
            self.breachedAt = breachedAt
        }
    }

    @JSONMembers
    public struct State: AggregateState {
        public var id: String
        public var state: WorkOrderState
        public var number: String?
        public var kind: WorkOrderKind?
        public var customer: Customer?
        public var serviceLine: ServiceLine?
        public var dueBy: Date?
        public var amount: Money?
        /// The amount of the latest scope change (SGC-DC-03) that altered it: wins over the
        /// opening's and the approval's.
        public var scopeAmount: Money?
        public var approvedAt: Date?
        public var approvedBy: String?
        public var priority: Int?
        public var prioritizedLevel: Int?
        public var contactBy: Date?
        public var dispatchedAt: Date?
        public var assignee: Assignee?
        public var scheduledFor: Date?
        public var firstAssignedAt: Date?
        public var assignedAt: Date?
        public var outcome: Outcome?
        public var notes: String?
        public var attendedAt: Date?
        public var closedAt: Date?
        public var closedBy: String?
        public var cancelledAt: Date?
        public var cancelReason: String?
        public var rejectedAt: Date?
        public var rejectReason: String?
        /// Work outside the city and its budget (§4.5); when its request was emitted.
        public var travel: Travel?
        public var travelRequestedAt: Date?
        /// The report delivered to the customer (§4.8).
        public var report: Document?
        public var reportDeliveredAt: Date?
        public var reportDeliveredBy: String?
        /// Deadlines by what they are for (`contact`, `due`, `priority`).
        public var sla: [String: Deadline] = [:]

        public init(id: String, state: WorkOrderState) {
            self.id = id
            self.state = state
        }
        public var status: String { state.rawValue }
    }

    public enum Input: Sendable {
        case opened(WorkOrderOpened)
        case approvalPending(WorkOrderApprovalPending)
        case approved(WorkOrderApproved)
        case rejected(WorkOrderRejected)
        case prioritized(WorkOrderPrioritized)
        case scopeChanged(WorkOrderScopeChanged)
        case assign(AssignWorkOrder)
        case reportOutcome(ReportOutcome)
        case close(CloseWorkOrder)
        case cancel(CancelWorkOrder)
        case deliverReport(DeliverReport)
        /// The SLA timer of a deadline (`contact`, `due`, `priority`) is due.
        case deadline(SLATarget)
    }

    /// Timer names of the SLA deadlines.
    public static func timer(_ what: SLATarget) -> String { "sla.\(what.rawValue)" }

    public static func timerFired(_ name: String, dueAt: Date) -> Input? {
        guard name.hasPrefix("sla."), let what = SLATarget(rawValue: String(name.dropFirst(4))) else { return nil }
        return .deadline(what)
    }

    static let opened = WorkOrderOpened.type, pending = WorkOrderApprovalPending.type, approvedType = WorkOrderApproved.type
    static let rejectedType = WorkOrderRejected.type, prioritizedType = WorkOrderPrioritized.type
    static let scopeType = WorkOrderScopeChanged.type

    public static let machine: StateMachine = {
        let s = WorkOrderState.self
        var t: [StateMachine.Transition] = [
            .init(nil, s.opened.rawValue, on: opened),
            .init(nil, s.opened.rawValue, on: prioritizedType),
            .init(nil, s.opened.rawValue, on: scopeType),
            .init(nil, s.approvalPending.rawValue, on: pending),
            .init(nil, s.rejected.rawValue, on: rejectedType),
            .init(nil, s.approved.rawValue, on: approvedType),
            .init(s.opened.rawValue, s.approvalPending.rawValue, on: pending),
            .init(s.opened.rawValue, s.rejected.rawValue, on: rejectedType),
            .init(s.approvalPending.rawValue, s.rejected.rawValue, on: rejectedType),
            .init(s.opened.rawValue, s.approved.rawValue, on: approvedType),
            .init(s.approvalPending.rawValue, s.approved.rawValue, on: approvedType),
            .init(s.approved.rawValue, s.dispatched.rawValue, on: approvedType),
        ]
        for (action, trigger) in [
            (DispatchRules.Action.assign, AssignWorkOrder.type), (.reportOutcome, ReportOutcome.type), (.close, CloseWorkOrder.type),
            (.cancel, CancelWorkOrder.type),
        ] {
            // `approved` is only passed through (the approval dispatches at once): nothing rests there.
            for from in WorkOrderState.allCases where DispatchRules.allowedFrom(action).contains(from) && from != .approved {
                t.append(.init(from.rawValue, DispatchRules.target(action).rawValue, on: trigger))
            }
        }
        return StateMachine(
            title: "OT in dispatch", procedure: "SGC-PC-07 §4.5–4.6, OPE-SUM-GES-P08 steps 8–14",
            states: [
                .init(s.opened.rawValue, seed: "REGISTRADO"), .init(s.approvalPending.rawValue, seed: "REGISTRADO"),
                .init(s.approved.rawValue, seed: "REGISTRADO"), .init(s.dispatched.rawValue, seed: "REGISTRADO"),
                .init(s.assigned.rawValue, seed: "ASIGNADO"), .init(s.attended.rawValue, seed: "ATENDIDO"),
                .init(s.closed.rawValue, final: true, seed: "CERRADO"), .init(s.cancelled.rawValue, final: true, seed: "ANULADO"),
                .init(s.rejected.rawValue, final: true),
            ],
            transitions: t)
    }()

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .opened(let e):
            guard var s = state else {
                var s = State(id: e.workOrderId, state: .opened)
                s.fill(from: e)
                return Decision(state: s, history: [HistoryEntry(opened, from: nil, to: s.status)])
            }
            let before = s
            s.fill(from: e)
            return Decision(
                state: s == before ? nil : s, note: "opening recorded after a later fact (the OT is \(s.state.rawValue))")

        case .approvalPending(let e):
            let why = "missing: " + e.missingDocuments.map(\.rawValue).joined(separator: ", ")
            guard let s = state else {
                return Decision(state: State(id: e.workOrderId, state: .approvalPending), history: [HistoryEntry(pending, from: nil, to: "approvalPending", reason: why)])
            }
            guard s.state == .opened else { return .ignore("stale approval-pending ignored (the OT is \(s.state.rawValue))") }
            return move(s, to: .approvalPending, pending, reason: why)

        case .rejected(let e):
            var s: State
            var history: [HistoryEntry]
            if let existing = state {
                guard existing.state == .opened || existing.state == .approvalPending else {
                    return .ignore("rejection of a work order already \(existing.state.rawValue) ignored")
                }
                s = existing
                history = [HistoryEntry(rejectedType, from: s.status, to: "rejected", reason: e.reason)]
                s.state = .rejected
            } else {
                s = State(id: e.workOrderId, state: .rejected)
                history = [HistoryEntry(rejectedType, from: nil, to: "rejected", reason: e.reason)]
            }
            s.rejectedAt = now
            s.rejectReason = e.reason
            return Decision(state: s, history: history, timers: s.sla.keys.compactMap(SLATarget.init(rawValue:)).map { .clear(timer($0)) })

        case .approved(let e):
            var s: State
            var history: [HistoryEntry]
            if let existing = state {
                guard existing.state == .opened || existing.state == .approvalPending else {
                    // A second approval (another message id) or one after a final state: one dispatch only.
                    return .ignore("approval of a work order already \(existing.state.rawValue) ignored")
                }
                s = existing
                history = [HistoryEntry(approvedType, from: s.status, to: "approved", by: e.approvedBy)]
            } else {
                s = State(id: e.workOrderId, state: .approved)
                history = [HistoryEntry(approvedType, from: nil, to: "approved", by: e.approvedBy)]
            }
            // §4.5: 24 h from the approval — the event's time, not when dispatch gets to it (under a
            // backlog the deadline would drift later); never later than now (a clock ahead).
            let approvedAt = min(context.messageTime, now)
            let contactBy = approvedAt.addingTimeInterval(DispatchRules.contactWindow)
            let dueBy = e.dueBy ?? s.dueBy
            let priority = DispatchRules.priority(prioritized: s.prioritizedLevel)
            let contactSLA = DispatchRules.contactSLAApplies(to: e.kind)
            s.state = .dispatched
            s.kind = e.kind
            s.customer = e.customer
            s.serviceLine = e.serviceLine ?? s.serviceLine
            s.dueBy = dueBy
            s.amount = e.amount ?? s.amount
            s.approvedAt = approvedAt
            s.approvedBy = e.approvedBy
            s.priority = priority.level
            s.contactBy = contactBy
            s.dispatchedAt = now
            s.travel = e.travel ?? s.travel
            history.append(HistoryEntry(approvedType, from: "approved", to: "dispatched", reason: "priority \(priority.level): \(priority.reason)"))
            var timers: [TimerChange] = []
            if contactSLA, s.sla[SLATarget.contact.rawValue] == nil {
                s.sla[SLATarget.contact.rawValue] = Deadline(deadline: contactBy)
                timers.append(.set(timer(.contact), at: contactBy))
            }
            if let dueBy, s.sla[SLATarget.due.rawValue] == nil {
                s.sla[SLATarget.due.rawValue] = Deadline(deadline: dueBy)
                timers.append(.set(timer(.due), at: dueBy))
            }
            var events: [any Message] = [
                WorkOrderDispatched(
                    workOrderId: e.workOrderId, priority: priority.level, contactBy: contactBy, dueBy: dueBy,
                    publicSector: e.customer.sector == .public, contactSLA: contactSLA)
            ]
            if s.travelRequestedAt == nil,
                let request = DispatchRules.travelBudgetRequest(
                    workOrderId: e.workOrderId, customer: e.customer, serviceLine: s.serviceLine, travel: s.travel)
            {
                s.travelRequestedAt = now
                events.append(request)
                history.append(
                    HistoryEntry(
                        TravelBudgetRequested.type, from: nil, to: nil, by: request.requestedBy,
                        reason: "travel to \(request.destination): \(request.budget.minor) \(request.budget.currency.rawValue) minor units"))
            }
            return Decision(state: s, history: history, events: events, timers: timers)

        case .prioritized(let e):
            var s: State
            var history: [HistoryEntry] = []
            if let existing = state {
                s = existing
            } else {
                s = State(id: e.workOrderId, state: .opened)
                history = [HistoryEntry(prioritizedType, from: nil, to: "opened", reason: "first known from workorder.prioritized")]
            }
            let level = min(4, max(1, e.level))
            let active = !s.state.isFinal && s.state != .attended
            s.prioritizedLevel = level
            if active, s.priority != nil { s.priority = level }
            guard active else {
                return Decision(state: s, history: history, note: "priority of a work order already \(s.state.rawValue) recorded only")
            }
            // A new priority deadline replaces the old one, unless it was met or already breached:
            // a missed priority deadline is reported once per OT (re-levelling an aged OT keeps
            // the deadline counted from its opening, which has passed).
            var timers: [TimerChange] = []
            let key = SLATarget.priority.rawValue
            if let d = s.sla[key] {
                if d.metAt == nil, d.breachedAt == nil, d.deadline != e.deadline {
                    s.sla[key] = Deadline(deadline: e.deadline)
                    timers.append(.set(timer(.priority), at: e.deadline))
                }
            } else {
                s.sla[key] = Deadline(deadline: e.deadline)
                timers.append(.set(timer(.priority), at: e.deadline))
            }
            return Decision(state: s, history: history, timers: timers)

        case .scopeChanged(let e):
            // SGC-DC-03: a change that alters the amount is what the closing bills.
            guard let amount = e.amount else { return .ignore("scope change without a new amount") }
            guard var s = state else {
                var s = State(id: e.workOrderId, state: .opened)
                s.scopeAmount = amount
                return Decision(state: s, history: [HistoryEntry(scopeType, from: nil, to: "opened", reason: "first known from workorder.scope-changed")])
            }
            guard !s.state.isFinal else { return .ignore("scope change of a work order already \(s.state.rawValue): billing follows it") }
            guard s.scopeAmount != amount else { return .ignore("scope amount already recorded") }
            s.scopeAmount = amount
            return Decision(
                state: s, history: [HistoryEntry(scopeType, from: nil, to: nil, reason: "amount \(amount.minor) \(amount.currency.rawValue) (minor units)")])

        case .assign(let c):
            try DispatchRules.validate(c)
            var s = try existing(state, c.workOrderId, .assign)
            let reason = "\(s.state == .assigned ? "reassigned" : "assigned") to \(c.assignee.name) (\(c.assignee.role))"
            let from = s.status
            s.state = DispatchRules.target(.assign)
            s.assignee = c.assignee
            s.scheduledFor = c.scheduledFor
            s.assignedAt = now
            s.firstAssignedAt = s.firstAssignedAt ?? now
            let timers = s.meet([.contact], now)
            return Decision(
                state: s, history: [HistoryEntry(AssignWorkOrder.type, from: from, to: s.status, by: c.assignee.id, reason: reason)],
                events: [WorkOrderAssigned(workOrderId: c.workOrderId, assignee: c.assignee, scheduledFor: c.scheduledFor)],
                timers: timers)

        case .reportOutcome(let c):
            try DispatchRules.validate(c)
            var s = try existing(state, c.workOrderId, .reportOutcome)
            let from = s.status
            s.state = DispatchRules.target(.reportOutcome)
            s.outcome = c.outcome
            s.notes = c.notes
            s.attendedAt = now
            let timers = s.meet([.due, .priority], now)
            let reason = [c.outcome.rawValue, c.notes].compactMap { $0 }.joined(separator: ": ")
            return Decision(
                state: s, history: [HistoryEntry(ReportOutcome.type, from: from, to: s.status, reason: reason)],
                events: [WorkOrderAttended(workOrderId: c.workOrderId, outcome: c.outcome)], timers: timers)

        case .close(let c):
            try DispatchRules.validate(c)
            var s = try existing(state, c.workOrderId, .close)
            guard let kind = s.kind, let customer = s.customer, let outcome = s.outcome else {
                throw Rejection(.invalidTransition, "work order \(c.workOrderId) lacks its kind, customer or outcome")
            }
            let from = s.status
            s.state = DispatchRules.target(.close)
            s.closedAt = now
            s.closedBy = c.by
            let timers = s.meet([.contact, .due, .priority], now)
            return Decision(
                state: s, history: [HistoryEntry(CloseWorkOrder.type, from: from, to: s.status, by: c.by)],
                events: [
                    WorkOrderClosed(
                        workOrderId: c.workOrderId, kind: kind, customer: customer, outcome: outcome, closedAt: now,
                        amount: s.scopeAmount ?? s.amount)
                ], timers: timers)

        case .cancel(let c):
            try DispatchRules.validate(c)
            var s = try existing(state, c.workOrderId, .cancel)
            let from = s.status
            s.state = DispatchRules.target(.cancel)
            s.cancelledAt = now
            s.cancelReason = c.reason
            return Decision(
                state: s, history: [HistoryEntry(CancelWorkOrder.type, from: from, to: s.status, reason: c.reason)],
                events: [WorkOrderCancelled(workOrderId: c.workOrderId, reason: c.reason)],
                timers: SLATarget.allCases.map { .clear(timer($0)) })

        case .deliverReport(let c):
            try DispatchRules.validate(c, now: now)
            guard var s = state else {
                throw .notFound("work order \(c.workOrderId) is not known to dispatch", field: "data.workOrderId", problem: "unknown work order")
            }
            try DispatchRules.checkReportDelivery(c, state: s.state, deliveredBefore: s.reportDeliveredAt)
            guard let kind = s.kind, let customer = s.customer else {
                throw Rejection(.invalidTransition, "work order \(c.workOrderId) lacks its kind or customer")
            }
            let at = min(c.deliveredAt ?? now, now)
            s.report = c.report
            s.reportDeliveredAt = at
            s.reportDeliveredBy = c.by
            return Decision(
                state: s, history: [HistoryEntry(DeliverReport.type, from: nil, to: nil, by: c.by, reason: "report \(c.report.uri) delivered")],
                events: [
                    WorkOrderReportDelivered(
                        workOrderId: c.workOrderId, kind: kind, customer: customer, report: c.report, deliveredBy: c.by, deliveredAt: at)
                ])

        case .deadline(let what):
            guard var s = state, let d = s.sla[what.rawValue] else { return .ignore("no \(what.rawValue) deadline") }
            if d.metAt != nil || d.breachedAt != nil { return .ignore("\(what.rawValue) deadline already met or breached") }
            if !s.isBreachable(what) { return .ignore("\(what.rawValue) deadline of a work order \(s.state.rawValue): not breached") }
            if d.deadline > now { return Decision(state: nil, timers: [.set(timer(what), at: d.deadline)]) }
            s.sla[what.rawValue]?.breachedAt = now
            return Decision(
                state: s, history: [HistoryEntry("sla.\(what.rawValue) breached", from: nil, to: nil, reason: "deadline \(Wire.timestamp(d.deadline))")],
                events: [WorkOrderSLABreached(workOrderId: s.id, deadline: d.deadline, what: what)])
        }
    }

    /// The OT a command names, allowed to take `action` now.
    static func existing(_ state: State?, _ id: String, _ action: DispatchRules.Action) throws(Rejection) -> State {
        guard let state else {
            throw .notFound("work order \(id) is not known to dispatch", field: "data.workOrderId", problem: "unknown work order")
        }
        try DispatchRules.check(action, from: state.state, workOrderId: id)
        return state
    }

    static func move(_ s: State, to next: WorkOrderState, _ trigger: String, by: String? = nil, reason: String? = nil) -> Decision<State> {
        var n = s
        n.state = next
        return Decision(state: n, history: [HistoryEntry(trigger, from: s.status, to: next.rawValue, by: by, reason: reason)])
    }
}

extension DispatchWorkOrder.State {
    /// What the opening tells that an earlier (out-of-order) fact did not bring.
    mutating func fill(from e: WorkOrderOpened) {
        number = number ?? e.number
        kind = kind ?? e.kind
        customer = customer ?? e.customer
        serviceLine = serviceLine ?? e.serviceLine
        dueBy = dueBy ?? e.dueBy
        amount = amount ?? e.purchaseOrder?.amount
        travel = travel ?? e.travel
    }

    /// Marks deadlines met (their timers are cleared).
    mutating func meet(_ what: [SLATarget], _ now: Date) -> [TimerChange] {
        var changes: [TimerChange] = []
        for w in what where sla[w.rawValue] != nil && sla[w.rawValue]?.metAt == nil {
            sla[w.rawValue]?.metAt = now
            changes.append(.clear(DispatchWorkOrder.timer(w)))
        }
        return changes
    }

    /// Whether a missed deadline counts as breached: never on cancelled, closed or rejected OTs;
    /// the contact deadline is met by the first assignment, the others by the attendance.
    func isBreachable(_ what: SLATarget) -> Bool {
        if state == .cancelled || state == .closed || state == .rejected { return false }
        switch what {
        case .contact: return firstAssignedAt == nil
        case .due, .priority: return state != .attended
        }
    }
}
