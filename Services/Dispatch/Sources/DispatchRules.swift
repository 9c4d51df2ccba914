import Contracts
import Foundation
import Runtime

/// The operations rules of an OT (SGC-PC-07 §4.5–4.6, COM-GCM-P12 Anexo 2), as pure functions.
public enum DispatchRules {
    /// §4.5: the line head contacts the customer within 24 hours of the approval.
    public static let contactWindow: TimeInterval = 24 * 3600

    /// §4.5 is CERCAL's procedure for projects: the 24 h contact deadline (and, in approval, the
    /// satisfaction survey of §4.8) applies to project OTs of the service lines CSV, SPOT and GEP,
    /// not to COMTECO's pole moves, repairs or post-sale OTs (installations, transfers,
    /// withdrawals, visits), whose clock is the priority level's deadline.
    public static func contactSLAApplies(to kind: WorkOrderKind) -> Bool { kind == .project }

    /// §4.5: a public-sector OT with work outside the city has its travel budget requested by the
    /// line head from the Head of Administration.
    public static func travelBudgetRequest(
        workOrderId: String, customer: Customer, serviceLine: ServiceLine?, travel: Travel?
    ) -> TravelBudgetRequested? {
        guard customer.sector == .public, let travel else { return nil }
        return TravelBudgetRequested(
            workOrderId: workOrderId, destination: travel.destination, budget: travel.budget,
            requestedBy: "Head \(serviceLine?.rawValue ?? "of operations")", requestedFrom: "Head of Administration")
    }

    /// §4.8: the report is delivered to the customer after the work (attended or closed), and its
    /// delivery is recorded once; `deliveredAt` is never in the future.
    public static let reportDeliverableFrom: Set<WorkOrderState> = [.attended, .closed]

    public static func checkReportDelivery(
        _ c: DeliverReport, state: WorkOrderState, deliveredBefore: Date?
    ) throws(Rejection) {
        guard reportDeliverableFrom.contains(state) else {
            throw Rejection(
                .invalidTransition,
                "cannot record the report delivery of work order \(c.workOrderId) in state \(state.rawValue) (allowed from: attended, closed)",
                errors: [FieldProblem(field: "data.workOrderId", problem: "work order is \(state.rawValue)")])
        }
        if let at = deliveredBefore {
            throw Rejection(
                .alreadyDone, "the report of work order \(c.workOrderId) was delivered at \(Wire.timestamp(at))",
                errors: [FieldProblem(field: "data.workOrderId", problem: "report already delivered")])
        }
    }

    /// A priority level of the operations center and why.
    public struct Priority: Sendable, Equatable {
        public var level: Int
        public var reason: String
        public init(level: Int, reason: String) {
            self.level = level
            self.reason = reason
        }
    }

    /// The dispatch priority (1 = highest) is the priority service's: the level of the last
    /// `workorder.prioritized` (COM-GCM-P12 Anexo 2). Dispatch has no matrix of its own; an OT
    /// approved before its prioritization goes out at level 4 — the level of an OT that matches no
    /// row — and the `workorder.prioritized` that follows re-levels it on the operations center's
    /// queue.
    public static func priority(prioritized: Int?) -> Priority {
        guard let level = prioritized, (1...4).contains(level) else {
            return Priority(level: 4, reason: "not yet prioritized (level 4 until workorder.prioritized)")
        }
        return Priority(level: level, reason: "prioritized")
    }

    /// What an operator asks of an OT.
    public enum Action: String, Sendable, CaseIterable {
        case assign, reportOutcome = "report an outcome for", close, cancel
    }

    /// The states from which an action is allowed (CONTRACT.md state machine).
    public static func allowedFrom(_ action: Action) -> Set<WorkOrderState> {
        switch action {
        case .assign: [.dispatched, .assigned]  // a second assignment is a reassignment
        case .reportOutcome: [.assigned]
        case .close: [.attended]
        case .cancel: Set(WorkOrderState.allCases.filter { !$0.isFinal })
        }
    }

    /// The state an action leads to.
    public static func target(_ action: Action) -> WorkOrderState {
        switch action {
        case .assign: .assigned
        case .reportOutcome: .attended
        case .close: .closed
        case .cancel: .cancelled
        }
    }

    /// Throws `invalidTransition` unless the action is allowed from `state`.
    public static func check(_ action: Action, from state: WorkOrderState, workOrderId: String) throws(Rejection) {
        guard allowedFrom(action).contains(state) else {
            let allowed = allowedFrom(action).map(\.rawValue).sorted().joined(separator: ", ")
            throw Rejection(
                .invalidTransition,
                "cannot \(action.rawValue) work order \(workOrderId) in state \(state.rawValue) (allowed from: \(allowed))",
                errors: [FieldProblem(field: "data.workOrderId", problem: "work order is \(state.rawValue)")])
        }
    }

    /// Throws `validation` listing every empty required string.
    public static func requireNonEmpty(_ fields: [(field: String, value: String)]) throws(Rejection) {
        try Rejection.requireNonEmpty(fields.map { ($0.field, $0.value) })
    }

    /// The required strings of each command.
    public static func validate(_ c: AssignWorkOrder) throws(Rejection) {
        try requireNonEmpty([
            ("data.workOrderId", c.workOrderId), ("data.assignee.id", c.assignee.id),
            ("data.assignee.name", c.assignee.name), ("data.assignee.role", c.assignee.role),
        ])
    }
    public static func validate(_ c: ReportOutcome) throws(Rejection) {
        try requireNonEmpty([("data.workOrderId", c.workOrderId)])
    }
    public static func validate(_ c: CloseWorkOrder) throws(Rejection) {
        try requireNonEmpty([("data.workOrderId", c.workOrderId), ("data.by", c.by)])
    }
    public static func validate(_ c: DeliverReport, now: Date) throws(Rejection) {
        try requireNonEmpty([("data.workOrderId", c.workOrderId), ("data.by", c.by), ("data.report.uri", c.report.uri)])
        if let at = c.deliveredAt, at > now.addingTimeInterval(60) {
            throw Rejection.validation([FieldProblem(field: "data.deliveredAt", problem: "is in the future")])
        }
    }
    public static func validate(_ c: CancelWorkOrder) throws(Rejection) {
        try requireNonEmpty([("data.workOrderId", c.workOrderId), ("data.reason", c.reason)])
    }
}
