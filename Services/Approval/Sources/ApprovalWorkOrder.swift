import Contracts
import Foundation
import Runtime

/// An OT at the quality gate of the approval service (SGC-PC-07 §4.4), as a state machine value.
///
/// `approvalPending` ⇄ (documents attached) → `approved` | `rejected`; `cancelled` (a fact from
/// dispatch) from `approvalPending` or `approved`, also before the opening reached approval (it
/// then wins over the late opening); `closed` (a fact from dispatch) after `approved`. Only
/// `approvalPending` accepts commands.
public enum ApprovalWorkOrder: Aggregate {
    public static let kind = "workOrder"

    /// What the opening told.
    @JSONMembers
    public struct Opening: Codable, Sendable, Equatable {
        public var number: String
        public var kind: WorkOrderKind
        public var serviceLine: ServiceLine?
        public var customer: Customer
        public var dueBy: Date?
        public var purchaseOrder: PurchaseOrder?
        public var openedAt: Date
        public var travel: Travel?
    }

    /// A document of the OT's folder, as approval saw it arrive.
    @JSONMembers
    public struct FolderDocument: Codable, Sendable, Equatable {
        public var document: Document
        public var addedAt: Date
        public var addedByMessage: String
    }

    @JSONMembers
    public struct State: AggregateState {
        public var id: String
        public var state: ApprovalState
        /// Nil while only a cancellation is known (it came before the opening).
        public var opening: Opening?
        public var documents: [FolderDocument] = []

        public var status: String { state.rawValue }
        var folder: [Document] { documents.map(\.document) }

        func approved(by: String) -> WorkOrderApproved? {
            guard let o = opening else { return nil }
            return WorkOrderApproved(
                workOrderId: id, approvedBy: by, customer: o.customer, kind: o.kind, serviceLine: o.serviceLine, dueBy: o.dueBy,
                amount: o.purchaseOrder?.amount, travel: o.travel)
        }
    }

    public enum Input: Sendable {
        case opened(WorkOrderOpened)
        case attach(AttachDocument)
        case approve(ApproveWorkOrder)
        case reject(RejectWorkOrder)
        case cancelled(WorkOrderCancelled)
        case closed(WorkOrderClosed)
    }

    public static let machine: StateMachine = {
        let (p, a, r, c, x) = ("approvalPending", "approved", "rejected", "cancelled", "closed")
        return StateMachine(
            title: "OT at the quality gate", procedure: "SGC-PC-07 §4.4",
            states: [.init(p), .init(a), .init(r, final: true), .init(c, final: true), .init(x, final: true)],
            transitions: [
                .init(nil, a, on: WorkOrderOpened.type), .init(nil, p, on: WorkOrderOpened.type),
                .init(p, p, on: AttachDocument.type), .init(p, a, on: AttachDocument.type),
                .init(p, a, on: ApproveWorkOrder.type), .init(p, r, on: RejectWorkOrder.type),
                .init(nil, c, on: WorkOrderCancelled.type), .init(p, c, on: WorkOrderCancelled.type),
                .init(a, c, on: WorkOrderCancelled.type), .init(a, x, on: WorkOrderClosed.type),
            ])
    }()

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .opened(let e):
            let opening = Opening(
                number: e.number, kind: e.kind, serviceLine: e.serviceLine, customer: e.customer, dueBy: e.dueBy,
                purchaseOrder: e.purchaseOrder, openedAt: now, travel: e.travel)
            let documents = e.documents.uniqued().map { FolderDocument(document: $0, addedAt: now, addedByMessage: context.messageId) }
            if var s = state {
                guard s.opening == nil else { return .ignore("workorder.opened for a work order already known; ignored") }
                // A cancellation that arrived before the opening (no ordering across producers) wins.
                s.opening = opening
                s.documents = documents
                return Decision(
                    state: s, history: [HistoryEntry("opened", from: nil, to: nil, reason: "cancelled before it was opened here")],
                    note: "work order opened after its cancellation; kept cancelled")
            }
            var s = State(id: e.workOrderId, state: .approvalPending, opening: opening, documents: documents)
            return gate(&s, from: nil, action: "opened")

        case .attach(let c):
            let outcome = try ApprovalRules.attach(
                state: state?.state, kind: state?.opening?.kind ?? .project, documents: state?.folder ?? [], command: c)
            guard var s = state else { throw Rejection(.internalError, "attach: rules accepted an unknown OT") }
            if !s.folder.contains(c.document) {
                s.documents.append(FolderDocument(document: c.document, addedAt: now, addedByMessage: context.messageId))
            }
            return apply(outcome, &s, from: s.state, action: "documentAttached:\(c.document.kind.rawValue)")

        case .approve(let c):
            try ApprovalRules.approve(state: state?.state, command: c)
            guard var s = state, let kind = s.opening?.kind else { throw Rejection(.internalError, "approve: rules accepted an unknown OT") }
            let missing = QualityGate.missingDocuments(kind: kind, documents: s.folder)
            s.state = .approved
            return Decision(
                state: s,
                history: [
                    HistoryEntry(
                        missing.isEmpty ? "approved" : "approvedOverride", from: "approvalPending", to: s.status, by: c.by,
                        reason: c.reason, details: missing.isEmpty ? [:] : ["missing": missing.map(\.rawValue).joined(separator: ",")])
                ],
                events: s.approved(by: c.by).map { [$0] } ?? [])

        case .reject(let c):
            try ApprovalRules.reject(state: state?.state, command: c)
            guard var s = state, let reason = c.reason else { throw Rejection(.internalError, "reject: rules accepted an unknown OT") }
            s.state = .rejected
            return Decision(
                state: s, history: [HistoryEntry("rejected", from: "approvalPending", to: s.status, by: c.by, reason: reason)],
                events: [WorkOrderRejected(workOrderId: s.id, reason: reason)])

        case .cancelled(let e):
            guard var s = state else {
                // Recorded, so that a late `workorder.opened` does not approve a cancelled OT.
                return Decision(
                    state: State(id: e.workOrderId, state: .cancelled),
                    history: [HistoryEntry("cancelled", from: nil, to: "cancelled", reason: e.reason)],
                    note: "workorder.cancelled for an unknown work order; recorded")
            }
            guard let next = ApprovalRules.cancelled(from: s.state) else {
                return .ignore("workorder.cancelled ignored: the work order is \(s.state.rawValue)")
            }
            let from = s.status
            s.state = next
            return Decision(state: s, history: [HistoryEntry("cancelled", from: from, to: s.status, reason: e.reason)])

        case .closed:
            guard var s = state else { return .ignore("workorder.closed for a work order unknown to approval") }
            guard let next = ApprovalRules.closed(from: s.state) else {
                return .ignore(s.state == .closed ? "already closed" : "workorder.closed for a work order that is \(s.state.rawValue)")
            }
            let from = s.status
            s.state = next
            return Decision(state: s, history: [HistoryEntry("closed", from: from, to: s.status)])
        }
    }

    /// Runs the checklist on a new OT.
    static func gate(_ s: inout State, from: ApprovalState?, action: String) -> Decision<State> {
        let outcome = QualityGate.evaluate(kind: s.opening?.kind ?? .project, documents: s.folder)
        return apply(outcome, &s, from: from, action: action)
    }

    /// Approve (emit `workorder.approved`) or stay pending (emit `workorder.approval-pending`
    /// with what is missing).
    static func apply(_ outcome: GateOutcome, _ s: inout State, from: ApprovalState?, action: String) -> Decision<State> {
        switch outcome {
        case .approved(let by):
            s.state = .approved
            return Decision(
                state: s, history: [HistoryEntry(action, from: from?.rawValue, to: s.status, by: by)],
                events: s.approved(by: by).map { [$0] } ?? [])
        case .pending(let missing):
            s.state = .approvalPending
            return Decision(
                state: s,
                history: [
                    HistoryEntry(
                        action, from: from?.rawValue, to: s.status, details: ["missing": missing.map(\.rawValue).joined(separator: ",")])
                ],
                events: [WorkOrderApprovalPending(workOrderId: s.id, missingDocuments: missing)])
        }
    }
}

extension Array where Element: Equatable {
    /// The elements without repeats, first occurrence kept.
    func uniqued() -> [Element] {
        var out: [Element] = []
        for e in self where !out.contains(e) { out.append(e) }
        return out
    }
}

/// The satisfaction survey of a project (SGC-PC-07 §4.8): requested once the report has been
/// delivered to the customer (`workorder.report-delivered`), once per OT, answered once. CERCAL's
/// survey is for projects (CSV, SPOT, GEP): pole moves, repairs and post-sale OTs get none.
public enum Survey: Aggregate {
    public static let kind = "survey"

    @JSONMembers
    public struct State: AggregateState {
        public var surveyId: String
        public var workOrderId: String
        public var customer: Customer
        public var requestedAt: Date
        public var requestedByMessage: String
        public var score: Int?
        public var comments: String?
        public var answeredAt: Date?
        public var answeredBy: String?

        public var status: String { answeredAt == nil ? "requested" : "answered" }
    }

    public enum Input: Sendable {
        case reportDelivered(WorkOrderReportDelivered)
        case answer(RecordSurveyAnswer)
    }

    /// §4.8 applies to CERCAL's projects only.
    public static func follows(_ kind: WorkOrderKind) -> Bool { kind == .project }

    public static let machine = StateMachine(
        title: "satisfaction survey", procedure: "SGC-PC-07 §4.8",
        states: [.init("requested"), .init("answered", final: true)],
        transitions: [
            .init(nil, "requested", on: WorkOrderReportDelivered.type), .init("requested", "answered", on: RecordSurveyAnswer.type),
        ])

    /// The survey id of an OT: derived from it, so that one OT has one survey however often its
    /// report delivery is told.
    public static func surveyId(workOrderId: String) -> String { DerivedID.uuid("survey", workOrderId) }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        switch input {
        case .reportDelivered(let e):
            guard follows(e.kind) else { return .ignore("no satisfaction survey for a \(e.kind.rawValue) OT (SGC-PC-07 §4.8: projects only)") }
            guard state == nil else { return .ignore("survey already requested for this work order") }
            let id = surveyId(workOrderId: e.workOrderId)
            let s = State(
                surveyId: id, workOrderId: e.workOrderId, customer: e.customer, requestedAt: context.now,
                requestedByMessage: context.messageId)
            return Decision(
                state: s, history: [HistoryEntry("requested", from: nil, to: s.status)],
                events: [SurveyRequested(surveyId: id, workOrderId: e.workOrderId, customer: e.customer)], aliases: [id])

        case .answer(let c):
            try SurveyRules.validate(c)
            try SurveyRules.check(surveyId: c.surveyId, answeredAt: state.map { $0.answeredAt })
            guard var s = state else { throw Rejection(.internalError, "answer: rules accepted an unknown survey") }
            s.score = c.score
            s.comments = c.comments
            s.answeredAt = context.now
            s.answeredBy = c.by
            return Decision(
                state: s, history: [HistoryEntry("answered", from: "requested", to: s.status, by: c.by)],
                events: [SurveyAnswered(surveyId: s.surveyId, workOrderId: s.workOrderId, score: c.score, comments: c.comments)])
        }
    }
}

/// The commercial review of an OT's prefacturas (SGC-PC-07 §4.6): every version billing issues
/// waits here for the commercial head; a newer one supersedes one still pending.
public enum PrefacturaReview: Aggregate {
    public static let kind = "prefacturaReview"

    @JSONMembers
    public struct Entry: Codable, Sendable, Equatable {
        public var prefacturaId: String
        public var amount: Money
        public var lines: [PrefacturaLine]
        public var state: PrefacturaState
        public var issuedAt: Date
        public var decidedAt: Date?
        public var decidedBy: String?
        public var notes: String?
        /// Drafted at 0 without a price: not approvable until priced.
        public var needsPricing: Bool?
    }

    @JSONMembers
    public struct State: AggregateState {
        public var workOrderId: String
        public var prefacturas: [Entry]
        /// The state of the latest prefactura.
        public var status: String { prefacturas.last?.state.rawValue ?? PrefacturaState.pending.rawValue }
    }

    public enum Input: Sendable {
        case issued(PrefacturaIssued)
        case review(ReviewPrefactura)
    }

    public static let machine: StateMachine = {
        let (p, a, r) = ("pending", "approved", "returned")
        return StateMachine(
            title: "prefactura review", procedure: "SGC-PC-07 §4.6",
            states: [.init(p), .init(a), .init(r), .init("superseded")],
            transitions: [
                .init(nil, p, on: PrefacturaIssued.type), .init(p, p, on: PrefacturaIssued.type),
                .init(r, p, on: PrefacturaIssued.type), .init(a, p, on: PrefacturaIssued.type),
                .init(p, a, on: ReviewPrefactura.type), .init(p, r, on: ReviewPrefactura.type),
            ])
    }()

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .issued(let e):
            var s = state ?? State(workOrderId: e.workOrderId, prefacturas: [])
            if s.prefacturas.contains(where: { $0.prefacturaId == e.prefacturaId }) {
                return .ignore("billing.prefactura-issued for a known prefactura; ignored")
            }
            let from = state?.status
            // A corrected prefactura replaces the one still waiting for review.
            for i in s.prefacturas.indices where s.prefacturas[i].state == .pending {
                s.prefacturas[i].state = .superseded
                s.prefacturas[i].decidedAt = now
                s.prefacturas[i].notes = "superseded by " + e.prefacturaId
            }
            s.prefacturas.append(
                Entry(
                    prefacturaId: e.prefacturaId, amount: e.amount, lines: e.lines, state: .pending, issuedAt: now,
                    needsPricing: e.needsPricing == true ? true : nil))
            return Decision(
                state: s, history: [HistoryEntry("issued", from: from, to: s.status, reason: e.prefacturaId)],
                aliases: [e.prefacturaId], note: "prefactura \(e.prefacturaId) waiting for commercial review")

        case .review(let c):
            let index = state?.prefacturas.firstIndex { $0.prefacturaId == c.prefacturaId }
            let entry = index.flatMap { state?.prefacturas[$0] }
            let next = try PrefacturaRules.review(state: entry?.state, command: c, needsPricing: entry?.needsPricing == true)
            guard var s = state, let index else { throw Rejection(.internalError, "review: rules accepted an unknown prefactura") }
            let from = s.status
            s.prefacturas[index].state = next
            s.prefacturas[index].decidedAt = now
            s.prefacturas[index].decidedBy = c.by
            s.prefacturas[index].notes = c.notes
            let event: any Message =
                next == .approved
                ? PrefacturaApproved(prefacturaId: c.prefacturaId, workOrderId: s.workOrderId, by: c.by, notes: c.notes)
                : PrefacturaReturned(prefacturaId: c.prefacturaId, workOrderId: s.workOrderId, by: c.by, notes: c.notes)
            // A review of an older version than the latest changes that version only.
            let history = index == s.prefacturas.count - 1
                ? [HistoryEntry(ReviewPrefactura.type, from: from, to: s.status, by: c.by, reason: c.notes)]
                : [HistoryEntry(ReviewPrefactura.type, from: nil, to: nil, by: c.by, reason: "\(c.prefacturaId): \(next.rawValue)")]
            return Decision(state: s, history: history, events: [event])
        }
    }
}
