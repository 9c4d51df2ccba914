import Contracts
import Foundation
import Runtime

/// A closed OT in billing (SGC-PC-07 §4.6–4.7), as a state machine value: its prefactura —
/// drafted once per OT; re-issued as a new version when the process and quality controller
/// prices one drafted without a price (`billing.price-prefactura`), corrects one the commercial
/// review returned (`billing.correct-prefactura`, with the corrected lines), or a scope change
/// (SGC-DC-03) alters the OT's amount — and its invoice, issued once the review approves it, by
/// the country's issuer. A pole move, paid up front by its CxC, gets no prefactura.
///
/// A closed OT is one aggregate, so a second `workorder.closed` (a redelivery, a replay with a
/// new id) finds it and bills nothing twice.
public enum BillingWorkOrder: Aggregate {
    public static let kind = "workOrder"

    /// `superseded`: replaced by a newer version before any review decided it (priced, re-scoped).
    public enum PrefacturaStatus: String, Codable, Sendable { case issued, returned, invoiced, superseded }

    @JSONMembers
    public struct Prefactura: Codable, Sendable, Equatable {
        public var id: String
        public var version: Int
        public var status: PrefacturaStatus
        public var lines: [PrefacturaLine]
        public var amount: Money
        public var needsPricing: Bool
        /// The returned version this one corrects.
        public var corrects: String?
        public var issuedAt: Date
        public var returnedAt: Date?
        public var returnedBy: String?
        public var returnNotes: String?
        /// Who priced or corrected it into this version, and why.
        public var revisedBy: String?
        public var revisionNotes: String?
    }

    @JSONMembers
    public struct Invoice: Codable, Sendable, Equatable {
        public var id: String
        public var prefacturaId: String
        public var amount: Money
        public var issuer: InvoiceIssuer
        public var needsPricing: Bool
        public var approvedBy: String
        public var approvalNotes: String?
        public var issuedAt: Date
    }

    @JSONMembers
    public struct State: AggregateState {
        public var workOrderId: String
        public var kind: WorkOrderKind
        public var customer: Customer
        public var outcome: Outcome
        public var closedAt: Date
        public var receivedAt: Date
        public var closedMessage: String
        public var prefacturas: [Prefactura] = []
        public var invoice: Invoice?

        public var country: Country { customer.country }
        /// `settled` (by its CxC), `unpriced` (drafted at 0, waiting for its price), `issued` (a
        /// prefactura waits for review), `returned` (it waits for its corrections) or `invoiced`.
        public var status: String {
            if invoice != nil { return "invoiced" }
            guard let current = prefacturas.last else { return "settled" }
            if current.status == .returned { return "returned" }
            return current.needsPricing ? "unpriced" : "issued"
        }
        var current: Prefactura? { prefacturas.last }
    }

    public enum Input: Sendable {
        case closed(WorkOrderClosed)
        case approved(PrefacturaApproved)
        case returned(PrefacturaReturned)
        case price(PricePrefactura)
        case correct(CorrectPrefactura)
        case scopeChanged(WorkOrderScopeChanged)
    }

    /// Sequences its routes draw numbers from.
    public static let prefacturaNumber = "prefactura_number", invoiceNumber = "invoice_number"

    public static let machine = StateMachine(
        title: "closed OT in billing", procedure: "SGC-PC-07 §4.6–4.7, OPE-SUM-GES-P08 steps 3–5",
        states: [
            .init("settled", final: true), .init("unpriced"), .init("issued"), .init("returned"), .init("invoiced", final: true),
        ],
        transitions: [
            .init(nil, "settled", on: WorkOrderClosed.type), .init(nil, "issued", on: WorkOrderClosed.type),
            .init(nil, "unpriced", on: WorkOrderClosed.type),
            .init("unpriced", "issued", on: PricePrefactura.type), .init("unpriced", "returned", on: PrefacturaReturned.type),
            .init("issued", "returned", on: PrefacturaReturned.type), .init("issued", "invoiced", on: PrefacturaApproved.type),
            .init("returned", "issued", on: CorrectPrefactura.type),
            .init("unpriced", "issued", on: WorkOrderScopeChanged.type), .init("issued", "issued", on: WorkOrderScopeChanged.type),
            .init("returned", "issued", on: WorkOrderScopeChanged.type),
        ])

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .closed(let e):
            guard state == nil else { return .ignore("closed work order already billed; ignored") }
            var s = State(
                workOrderId: e.workOrderId, kind: e.kind, customer: e.customer, outcome: e.outcome, closedAt: e.closedAt,
                receivedAt: now, closedMessage: context.messageId)
            if BillingRules.settledByCxC(e.kind) {
                return Decision(
                    state: s, history: [HistoryEntry("closed", from: nil, to: s.status)],
                    note: "closed work order was settled by its CxC; no prefactura")
            }
            let draft = BillingRules.draft(e)
            let id = BillingRules.prefacturaId(try context.next(prefacturaNumber), at: now)
            s.prefacturas = [
                Prefactura(
                    id: id, version: 1, status: .issued, lines: draft.lines, amount: draft.amount, needsPricing: draft.needsPricing,
                    issuedAt: now)
            ]
            return Decision(
                state: s, history: [HistoryEntry("closed", from: nil, to: s.status, reason: id)],
                events: [
                    PrefacturaIssued(
                        prefacturaId: id, workOrderId: e.workOrderId, amount: draft.amount, lines: draft.lines,
                        needsPricing: draft.needsPricing ? true : nil)
                ],
                note: draft.needsPricing ? "closed work order has no amount and no list price: prefactura \(id) issued at 0, needs pricing" : nil)

        case .approved(let e):
            guard var s = state, let pf = s.current, pf.id == e.prefacturaId else {
                return .ignore("approval of an unknown prefactura (or of another work order); ignored")
            }
            guard pf.status == .issued, s.invoice == nil else { return .ignore("approval of a prefactura that is \(pf.status.rawValue); ignored") }
            guard !pf.needsPricing else { return .ignore("approval of prefactura \(pf.id), which was never priced; not invoiced") }
            let issuer = BillingRules.issuer(for: s.country)
            let id = BillingRules.invoiceId(try context.next(invoiceNumber), country: s.country, at: now)
            s.invoice = Invoice(
                id: id, prefacturaId: pf.id, amount: pf.amount, issuer: issuer, needsPricing: pf.needsPricing, approvedBy: e.by,
                approvalNotes: e.notes, issuedAt: now)
            s.prefacturas[s.prefacturas.count - 1].status = .invoiced
            return Decision(
                state: s, history: [HistoryEntry("invoiced", from: "issued", to: s.status, by: e.by, reason: id)],
                events: [InvoiceIssued(invoiceId: id, prefacturaId: pf.id, workOrderId: s.workOrderId, amount: pf.amount, issuer: issuer)])

        case .returned(let e):
            guard var s = state, let pf = s.current, pf.id == e.prefacturaId else {
                return .ignore("return of an unknown prefactura (or of another work order); ignored")
            }
            guard pf.status == .issued else { return .ignore("return of a prefactura that is \(pf.status.rawValue); ignored") }
            // It waits for the corrections the review asked for (billing.correct-prefactura).
            let from = s.status
            let last = s.prefacturas.count - 1
            s.prefacturas[last].status = .returned
            s.prefacturas[last].returnedAt = now
            s.prefacturas[last].returnedBy = e.by
            s.prefacturas[last].returnNotes = e.notes
            return Decision(
                state: s, history: [HistoryEntry("returned", from: from, to: s.status, by: e.by, reason: e.notes)],
                note: "prefactura \(pf.id) returned; waiting for its corrections")

        case .price(let c):
            var s = try revisable(state, c.prefacturaId, c.workOrderId, expecting: .issued, what: "priced")
            let pf = s.prefacturas[s.prefacturas.count - 1]
            guard pf.needsPricing else {
                throw Rejection(
                    .invalidTransition, "prefactura \(pf.id) has its price already: a change goes through the review",
                    errors: [FieldProblem(field: "data.prefacturaId", problem: "prefactura is priced")])
            }
            let amount = try BillingRules.validate(lines: c.lines, by: c.by, currency: pf.amount.currency)
            return try reissue(&s, lines: c.lines, amount: amount, previous: .superseded, by: c.by, notes: nil, trigger: "priced", context: &context)

        case .correct(let c):
            var s = try revisable(state, c.prefacturaId, c.workOrderId, expecting: .returned, what: "corrected")
            let pf = s.prefacturas[s.prefacturas.count - 1]
            let amount = try BillingRules.validate(lines: c.lines, by: c.by, currency: pf.amount.currency)
            return try reissue(&s, lines: c.lines, amount: amount, previous: .returned, by: c.by, notes: c.notes, trigger: "corrected", context: &context)

        case .scopeChanged(let e):
            guard let amount = e.amount else { return .ignore("scope change without a new amount") }
            guard var s = state else { return .ignore("scope change of a work order not closed yet: its closing carries the amount") }
            guard s.invoice == nil, let pf = s.current else {
                return .ignore("scope change of a work order already \(s.status): the prefactura is no longer open to it")
            }
            guard pf.amount != amount || pf.needsPricing else { return .ignore("the prefactura has the changed amount already") }
            guard amount.currency == pf.amount.currency else {
                return .ignore("scope change in \(amount.currency.rawValue) for a prefactura in \(pf.amount.currency.rawValue); ignored")
            }
            let line = PrefacturaLine(
                description: BillingRules.lineDescription(kind: s.kind, workOrderId: s.workOrderId) + " (alcance modificado, SGC-DC-03)",
                quantity: 1, unitPrice: amount, amount: amount)
            return try reissue(
                &s, lines: [line], amount: amount, previous: pf.status == .returned ? .returned : .superseded, by: nil,
                notes: "scope change \(e.document.uri)", trigger: "rescoped", context: &context)
        }
    }

    /// The OT's latest prefactura, named by a command, in the status the command needs.
    static func revisable(
        _ state: State?, _ prefacturaId: String, _ workOrderId: String, expecting: PrefacturaStatus, what: String
    ) throws(Rejection) -> State {
        try Rejection.requireNonEmpty([("data.prefacturaId", prefacturaId), ("data.workOrderId", workOrderId)])
        guard let s = state, let pf = s.current, s.prefacturas.contains(where: { $0.id == prefacturaId }) else {
            throw .notFound(
                "prefactura \(prefacturaId) of work order \(workOrderId) is unknown to billing", field: "data.prefacturaId",
                problem: "unknown prefactura", mayBeLate: false)
        }
        guard pf.id == prefacturaId else {
            throw Rejection(
                .invalidTransition, "prefactura \(prefacturaId) was replaced by \(pf.id)",
                errors: [FieldProblem(field: "data.prefacturaId", problem: "replaced by \(pf.id)")])
        }
        guard pf.status == expecting, s.invoice == nil else {
            throw Rejection(
                .invalidTransition, "prefactura \(pf.id) is \(pf.status.rawValue): only a \(expecting.rawValue) one is \(what)",
                errors: [FieldProblem(field: "data.prefacturaId", problem: "prefactura is \(pf.status.rawValue)")])
        }
        return s
    }

    /// A new version of the OT's prefactura with `lines`, for review; the current one becomes
    /// `previous` (returned stays returned, an unreviewed one is superseded).
    static func reissue(
        _ s: inout State, lines: [PrefacturaLine], amount: Money, previous: PrefacturaStatus, by: String?, notes: String?,
        trigger: String, context: inout DecisionContext
    ) throws(Rejection) -> Decision<State> {
        let last = s.prefacturas.count - 1
        let pf = s.prefacturas[last]
        let from = s.status
        s.prefacturas[last].status = previous
        let id = BillingRules.prefacturaId(try context.next(prefacturaNumber), at: context.now)
        s.prefacturas.append(
            Prefactura(
                id: id, version: pf.version + 1, status: .issued, lines: lines, amount: amount, needsPricing: false, corrects: pf.id,
                issuedAt: context.now, revisedBy: by, revisionNotes: notes))
        return Decision(
            state: s, history: [HistoryEntry(trigger, from: from, to: s.status, by: by, reason: "\(pf.id) → \(id)")],
            events: [PrefacturaIssued(prefacturaId: id, workOrderId: s.workOrderId, amount: amount, lines: lines, corrects: pf.id)],
            note: "prefactura \(pf.id) \(trigger) as \(id) (version \(pf.version + 1))")
    }
}

/// A CxC (cuenta por cobrar) charge and its payment at the cashier (OPE-SUM-GES-P08 steps 3–5):
/// created once per request, paid once, for exactly its amount — and linked to the OT it pays
/// for. The request names that OT (`workOrderId`; a pole move's is `PM-<requestId>`, opened once
/// the charge is paid); the charge registers it as an alias, so the OT's `workorder.opened` and
/// `workorder.cancelled` reach it: a paid charge whose OT is cancelled is owed back (`refundDue`),
/// which the monthly reconciliation reports.
public enum Charge: Aggregate {
    public static let kind = "charge"
    public static let chargeNumber = "charge_number"

    @JSONMembers
    public struct Payment: Codable, Sendable, Equatable {
        public var amount: Money
        public var receipt: String
        public var paidAt: Date
        public var recordedByMessage: String
    }

    @JSONMembers
    public struct State: AggregateState {
        public var chargeId: String
        public var requestId: String
        public var amount: Money
        public var payer: Payer
        public var reason: String
        /// The OT the charge pays for, as the request names it.
        public var workOrderId: String?
        public var createdAt: Date
        public var createdByMessage: String
        public var payment: Payment?
        /// When its OT was opened (the `workorder.opened` event's time), once paid.
        public var workOrderOpenedAt: Date?
        /// When its OT was cancelled (the `workorder.cancelled` event's time), once paid, and why.
        public var workOrderCancelledAt: Date?
        public var workOrderCancelReason: String?
        /// Paid before billing learned the OTs of its charges (billing migration 3): whether its OT
        /// was opened is not known here, so the reconciliation does not report it as missing.
        public var workOrderUntracked: Bool?

        public var status: String {
            if payment == nil { return "created" }
            return workOrderCancelledAt == nil ? "paid" : "refundDue"
        }
    }

    public enum Input: Sendable {
        case requested(ChargeRequested)
        case payment(RecordPayment)
        /// The OT of a charge (by its alias) was opened.
        case workOrderOpened(WorkOrderOpened)
        /// The OT of a charge (by its alias) was cancelled.
        case workOrderCancelled(WorkOrderCancelled)
    }

    public static let machine = StateMachine(
        title: "CxC charge", procedure: "OPE-SUM-GES-P08 steps 3–6 and 15",
        states: [.init("created"), .init("paid"), .init("refundDue", final: true)],
        transitions: [
            .init(nil, "created", on: ChargeRequested.type), .init("created", "paid", on: RecordPayment.type),
            .init("paid", "paid", on: WorkOrderOpened.type), .init("paid", "refundDue", on: WorkOrderCancelled.type),
        ])

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        switch input {
        case .requested(let r):
            // A repeated request (even with another message id) creates nothing and emits
            // nothing: `charge-created` was already published through the outbox.
            guard state == nil else { return .ignore("charge already requested; ignored") }
            let id = BillingRules.chargeId(try context.next(chargeNumber), at: context.now)
            let s = State(
                chargeId: id, requestId: r.requestId, amount: r.amount, payer: r.payer, reason: r.reason, workOrderId: r.workOrderId,
                createdAt: context.now, createdByMessage: context.messageId)
            return Decision(
                state: s, history: [HistoryEntry("created", from: nil, to: s.status, reason: r.reason)],
                events: [
                    ChargeCreated(
                        chargeId: id, amount: r.amount, payer: r.payer, reason: r.reason, workOrderId: r.workOrderId, requestId: r.requestId)
                ], aliases: BillingRules.chargeAliases(chargeId: id, workOrderId: r.workOrderId))

        case .payment(let p):
            try BillingRules.validate(p)
            guard var s = state else {
                throw .notFound("no charge \(p.chargeId)", field: "data.chargeId", problem: "no such charge", mayBeLate: false)
            }
            try BillingRules.check(payment: p, chargeAmount: s.amount, alreadyPaid: s.payment != nil)
            s.payment = Payment(amount: p.amount, receipt: p.receipt, paidAt: context.now, recordedByMessage: context.messageId)
            return Decision(
                state: s, history: [HistoryEntry("paid", from: "created", to: s.status, reason: p.receipt)],
                events: [ChargePaid(chargeId: p.chargeId, amount: p.amount, receipt: p.receipt)])

        case .workOrderOpened(let e):
            // Every OT's opening reaches billing; only a charge's own OT finds one (its alias).
            guard var s = state else { return .ignore("work order \(e.workOrderId) is no charge's; ignored") }
            // A CxC's OT is opened once it is paid (steps 5–6); commercial opens it no earlier.
            guard s.payment != nil else { return .ignore("work order \(e.workOrderId) opened before charge \(s.chargeId) was paid; ignored") }
            guard s.workOrderOpenedAt == nil, s.workOrderCancelledAt == nil else { return .ignore("work order \(e.workOrderId) already known; ignored") }
            s.workOrderOpenedAt = context.messageTime
            return Decision(state: s, history: [HistoryEntry("workOrderOpened", from: "paid", to: s.status, reason: e.workOrderId)])

        case .workOrderCancelled(let e):
            guard var s = state else { return .ignore("work order \(e.workOrderId) is no charge's; ignored") }
            guard s.payment != nil else { return .ignore("work order \(e.workOrderId) cancelled before charge \(s.chargeId) was paid; ignored") }
            guard s.workOrderCancelledAt == nil else { return .ignore("work order \(e.workOrderId) already cancelled; ignored") }
            s.workOrderCancelledAt = context.messageTime
            s.workOrderCancelReason = e.reason
            return Decision(
                state: s, history: [HistoryEntry("workOrderCancelled", from: "paid", to: s.status, reason: e.reason)],
                note: "charge \(s.chargeId) was paid and its OT \(e.workOrderId) cancelled: \(s.amount.minor) \(s.amount.currency.rawValue) (minor units) to refund")
        }
    }
}
