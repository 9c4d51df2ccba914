import Contracts
import Foundation
import Runtime

/// An OT as the commercial service opened it (SGC-PC-07 §4.1–4.3, §4.9), as a state machine
/// value: its human number, its customer folder and its scope changes. The final states other
/// services report (rejected, cancelled, closed) refuse further scope changes.
public enum CommercialWorkOrder: Aggregate {
    public static let kind = "workOrder"
    /// The sequence of OT numbers (`OT-<country>-<year>-<n>`).
    public static let numberSequence = "work_order_number"

    @JSONMembers
    public struct FolderDocument: Codable, Sendable, Equatable {
        public var document: Document
        public var addedAt: Date
    }

    @JSONMembers
    public struct ScopeChangeRecord: Codable, Sendable, Equatable {
        public var changes: JSONObject
        public var documentUri: String
        public var changedAt: Date
        public var byMessage: String
        /// The OT's new amount, when the change alters it.
        public var amount: Money?
    }

    @JSONMembers
    public struct State: AggregateState {
        public var id: String
        public var number: String
        public var kind: WorkOrderKind
        public var serviceLine: ServiceLine?
        public var customer: Customer
        public var opportunityId: String?
        public var purchaseOrder: PurchaseOrder?
        public var dueBy: Date?
        public var description: String
        public var folder: String
        public var documents: [FolderDocument]
        public var scopeChanges: [ScopeChangeRecord] = []
        public var state: WorkOrderState
        public var openedAt: Date
        public var openedByMessage: String
        public var travel: Travel?
        public var productId: String? = nil
        public var productType: ProductType? = nil
        public var damageId: String? = nil

        public var status: String { state.rawValue }
    }

    public enum Input: Sendable {
        case open(OpenWorkOrder)
        case changeScope(ChangeScope)
        /// A final state reported by another service (rejected, cancelled, closed).
        case finished(WorkOrderState)
        /// A pole-move request naming the customer of this OT (found by its alias), or nobody
        /// the platform knows (nil state): OPE-SUM-GES-P08 step 1, checked.
        case screenPoleMove(requestId: String, RequestPoleMove)
    }

    public static let machine: StateMachine = {
        let o = "opened"
        var t: [StateMachine.Transition] = [
            .init(nil, o, on: OpenWorkOrder.type), .init(nil, o, on: ChargePaid.type), .init(o, o, on: ChangeScope.type),
        ]
        for (state, trigger) in [("rejected", WorkOrderRejected.type), ("cancelled", WorkOrderCancelled.type), ("closed", WorkOrderClosed.type)] {
            t.append(.init(o, state, on: trigger))
        }
        return StateMachine(
            title: "OT opening", procedure: "SGC-PC-07 §4.1–4.3, §4.9 (SGC-DC-03)",
            states: [.init(o), .init("rejected", final: true), .init("cancelled", final: true), .init("closed", final: true)],
            transitions: t)
    }()

    /// The id of an OT opened by a command that names none: derived from the command, so that a
    /// redelivery cannot open a second one.
    public static func id(for command: OpenWorkOrder, messageId: String) -> String {
        command.workOrderId ?? DerivedID.uuid("workorder", messageId)
    }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .open(let c):
            let messageId = context.messageId
            let wo = try OpeningRules.validate(c, now: now) { id(for: c, messageId: messageId) }
            if let existing = state {
                throw Rejection(
                    .alreadyExists, "work order \(existing.id) already exists",
                    errors: [FieldProblem(field: "data.workOrderId", problem: "already exists")])
            }
            let n = try context.next(numberSequence)
            let number = "OT-\(wo.customer.country.rawValue)-\(BillingCalendar.year(of: now))-\(BillingCalendar.padded(n, 6))"
            let s = State(
                id: wo.id, number: number, kind: wo.kind, serviceLine: wo.serviceLine, customer: wo.customer,
                opportunityId: wo.opportunityId, purchaseOrder: wo.purchaseOrder, dueBy: wo.dueBy, description: wo.description,
                folder: wo.folder, documents: wo.documents.map { FolderDocument(document: $0, addedAt: now) }, state: .opened,
                openedAt: now, openedByMessage: messageId, travel: wo.travel, productId: wo.productId, productType: wo.productType,
                damageId: wo.damageId)
            return Decision(
                state: s, history: [HistoryEntry("opened", from: nil, to: s.status, reason: number)],
                events: [
                    WorkOrderOpened(
                        workOrderId: wo.id, number: number, kind: wo.kind, serviceLine: wo.serviceLine, customer: wo.customer,
                        documents: wo.documents, dueBy: wo.dueBy, purchaseOrder: wo.purchaseOrder, travel: wo.travel,
                        productId: wo.productId, productType: wo.productType, damageId: wo.damageId)
                ],
                aliases: KnownCustomers.counts(wo.customer) ? [KnownCustomers.alias(country: wo.customer.country, taxId: wo.customer.taxId)] : [],
                note: "work order \(wo.id) opened as \(number)")

        case .changeScope(let c):
            try ScopeRules.validate(c, state: state?.state, currency: state.map { $0.purchaseOrder?.amount.currency ?? $0.customer.country.currency })
            guard var s = state else { throw Rejection(.internalError, "change-scope: rules accepted an unknown OT") }
            s.scopeChanges.append(
                ScopeChangeRecord(changes: c.changes, documentUri: c.document.uri, changedAt: now, byMessage: context.messageId, amount: c.amount))
            s.documents.append(FolderDocument(document: c.document, addedAt: now))
            return Decision(
                state: s, history: [HistoryEntry("scopeChanged", from: s.status, to: s.status, reason: c.document.uri)],
                events: [WorkOrderScopeChanged(workOrderId: c.workOrderId, changes: c.changes, document: c.document, amount: c.amount)])

        case .screenPoleMove(let requestId, let request):
            return Decision(state: nil, followUps: try KnownCustomers.screen(request, requestId: requestId, known: state))

        case .finished(let final):
            // Events for OTs this service never opened are ignored.
            guard var s = state else { return .ignore("\(final.rawValue) for a work order commercial did not open") }
            guard !s.state.isFinal else { return .ignore("work order already \(s.state.rawValue)") }
            let from = s.status
            s.state = final
            return Decision(state: s, history: [HistoryEntry(final.rawValue, from: from, to: s.status)])
        }
    }
}

/// A pole-move request from a person with no active service (OPE-SUM-GES-P08), from its
/// registration to the end of its OT: the CxC of Bs 1000 is requested from billing; once the
/// cashier has taken the payment, the `poleMove` OT is opened (a follow-up decision of the OT
/// opening), once; then the OT's attendance or cancellation (ANULADO, with its reason and the
/// corrective action the customer-service head records, step 11) is followed here, and every
/// change reaches the month's report (``PoleMoveMonth``, step 14) as a follow-up decision.
///
/// The seed's three states (step 10.1): REGISTRADO (registered, paid or not, or assigned: the
/// states up to `paid`), ATENDIDO (`attended`), ANULADO (`cancelled`). The KPI counts requests,
/// paid or not: one whose CxC is never paid stays REGISTRADO and counts against it.
public enum PoleMoveRequest: Aggregate {
    public static let kind = "poleMoveRequest"

    public enum Status: String, Codable, Sendable { case awaitingPayment, charged, paid, attended, cancelled }

    @JSONMembers
    public struct State: AggregateState {
        public var id: String
        public var requester: Payer
        public var address: String
        public var state: Status
        public var chargeId: String?
        public var workOrderId: String?
        public var requestedAt: Date
        public var paidAt: Date?
        public var attendedAt: Date?
        public var cancelledAt: Date?
        public var cancelReason: String?
        public var correctiveAction: String?
        public var correctiveActionBy: String?
        public var status: String { state.rawValue }

        /// The seed state of step 10.1.
        public var seedState: PoleMoveSeedState {
            switch state {
            case .awaitingPayment, .charged, .paid: .registrado
            case .attended: .atendido
            case .cancelled: .anulado
            }
        }

        /// What the month's report keeps of it.
        var entry: PoleMoveMonth.Entry {
            PoleMoveMonth.Entry(
                requestId: id, state: seedState, workOrderId: workOrderId, reason: cancelReason, correctiveAction: correctiveAction)
        }
    }

    public enum Input: Sendable {
        case request(RequestPoleMove)
        case chargeCreated(ChargeCreated)
        case chargePaid(ChargePaid)
        /// Facts about the pole-move OT (found by its id, an alias of the request).
        case attended(WorkOrderAttended)
        case closed(WorkOrderClosed)
        case cancelled(WorkOrderCancelled)
        case correctiveAction(RecordCorrectiveAction)
    }

    public static let machine = StateMachine(
        title: "pole-move request", procedure: "OPE-SUM-GES-P08 steps 1–13",
        states: [
            .init("awaitingPayment", seed: "REGISTRADO"), .init("charged", seed: "REGISTRADO"), .init("paid", seed: "REGISTRADO"),
            .init("attended", seed: "ATENDIDO"), .init("cancelled", final: true, seed: "ANULADO"),
        ],
        transitions: [
            .init(nil, "awaitingPayment", on: RequestPoleMove.type), .init("awaitingPayment", "charged", on: ChargeCreated.type),
            .init("charged", "paid", on: ChargePaid.type), .init("paid", "attended", on: WorkOrderAttended.type),
            .init("paid", "attended", on: WorkOrderClosed.type), .init("paid", "cancelled", on: WorkOrderCancelled.type),
            .init("attended", "cancelled", on: WorkOrderCancelled.type),
        ])

    /// The request is keyed by the command's id: a redelivery cannot open a second request.
    public static func id(messageId: String) -> String { "PMR-\(messageId)" }

    /// A change the month's report has to know.
    static func tracked(_ s: State) -> Target {
        let month = PoleMoveMonth.key(s.requestedAt)
        return .to(PoleMoveMonth.self, month, .track(month: month, s.entry))
    }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .request(let r):
            try PoleMoveRules.validate(r)
            guard state == nil else { return .ignore("pole-move request already registered") }
            let s = State(
                id: id(messageId: context.messageId), requester: r.requester, address: r.address, state: .awaitingPayment,
                requestedAt: now)
            return Decision(
                state: s, history: [HistoryEntry("requested", from: nil, to: s.status)],
                events: [PoleMoveRules.charge(requestId: s.id, for: r)], followUps: [tracked(s)])

        case .chargeCreated(let e):
            guard var s = state, s.state == .awaitingPayment, s.chargeId == nil else {
                return .ignore("charge \(e.chargeId) is not for a pole move waiting for its charge")
            }
            s.state = .charged
            s.chargeId = e.chargeId
            return Decision(state: s, history: [HistoryEntry("charged", from: "awaitingPayment", to: s.status, reason: e.chargeId)], aliases: [e.chargeId])

        case .chargePaid(let e):
            guard var s = state, s.state == .charged else {
                return .ignore("charge \(e.chargeId) paid is not a pending pole move")
            }
            // Step 5 done (the cashier took the payment): open the pole-move OT, once.
            let command = PoleMoveRules.workOrder(requestId: s.id, requester: s.requester, address: s.address)
            let workOrderId = CommercialWorkOrder.id(for: command, messageId: context.messageId)
            s.state = .paid
            s.paidAt = now
            s.workOrderId = workOrderId
            return Decision(
                state: s, history: [HistoryEntry("paid", from: "charged", to: s.status, reason: e.receipt)], aliases: [workOrderId],
                followUps: [.to(CommercialWorkOrder.self, workOrderId, .open(command)), tracked(s)])

        case .attended(let e):
            return attend(state, e.outcome.rawValue, now)

        case .closed(let e):
            // Attended is implied by the closing (its attendance may not have been seen here).
            return attend(state, e.outcome.rawValue, now)

        case .cancelled(let e):
            guard var s = state else { return .ignore("not a pole-move OT") }
            guard s.state == .paid || s.state == .attended else { return .ignore("cancellation of a pole move that is \(s.status)") }
            let from = s.status
            s.state = .cancelled
            s.cancelledAt = now
            s.cancelReason = e.reason
            return Decision(state: s, history: [HistoryEntry("cancelled", from: from, to: s.status, reason: e.reason)], followUps: [tracked(s)])

        case .correctiveAction(let c):
            try Rejection.requireNonEmpty([("data.workOrderId", c.workOrderId), ("data.action", c.action), ("data.by", c.by)])
            guard var s = state else {
                throw .notFound(
                    "\(c.workOrderId) is not a pole-move OT", field: "data.workOrderId", problem: "unknown pole-move OT", mayBeLate: false)
            }
            guard s.state == .cancelled, let reason = s.cancelReason else {
                throw Rejection(
                    .invalidTransition, "the pole move \(c.workOrderId) is \(s.seedState.rawValue): corrective actions are for ANULADO ones",
                    errors: [FieldProblem(field: "data.workOrderId", problem: "pole move is \(s.seedState.rawValue)")])
            }
            if let done = s.correctiveAction {
                throw Rejection(
                    .alreadyDone, "the corrective action of \(c.workOrderId) was recorded already: \(done)",
                    errors: [FieldProblem(field: "data.workOrderId", problem: "corrective action already recorded")])
            }
            s.correctiveAction = c.action
            s.correctiveActionBy = c.by
            return Decision(
                state: s, history: [HistoryEntry(RecordCorrectiveAction.type, from: nil, to: nil, by: c.by, reason: c.action)],
                events: [CorrectiveActionRecorded(requestId: s.id, workOrderId: c.workOrderId, reason: reason, action: c.action, by: c.by)],
                followUps: [tracked(s)])
        }
    }

    static func attend(_ state: State?, _ outcome: String, _ now: Date) -> Decision<State> {
        guard var s = state else { return .ignore("not a pole-move OT") }
        guard s.state == .paid else { return .ignore("attendance of a pole move that is \(s.status)") }
        s.state = .attended
        s.attendedAt = now
        return Decision(state: s, history: [HistoryEntry("attended", from: "paid", to: s.status, reason: outcome)], followUps: [tracked(s)])
    }
}

/// Numbers in documents, in UTC.
enum BillingCalendar {
    static func year(of date: Date) -> Int { utc.component(.year, from: date) }

    static func padded(_ n: Int64, _ width: Int) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()
}
