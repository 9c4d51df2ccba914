import ConsoleUI
import Contracts
import Foundation
import Runtime

// The console's read model: what every event on `ot.events` says about an OT, a post-sale
// request, a damage, a records file or a retrieval, folded into one view per case by a pure
// `decide` (the kit's aggregates). Each view keeps the marks of the seed indicators it counts
// in (`kpis`): which month it counts in, and whether it is a hit — the rules are the owning
// procedures' and live here, in `decide`; a query only adds marks up.

/// A case's contribution to one indicator: the month it counts in and whether it is a hit.
@JSONMembers
public struct KPIMark: Codable, Sendable, Equatable {
    public var month: String
    public var hit: Bool

    public init(month: String, hit: Bool) {
        self.month = month
        self.hit = hit
    }
}

/// The states a view moves through, each with its rank: a fact moves a view forward only
/// (events may arrive out of order); a final state is never left.
struct ViewProgress: Sendable {
    let order: [String]
    let finals: Set<String>
    /// The state each event type moves the view to.
    let targets: [String: String]
    /// Steps back that the procedure allows (e.g. assigned again after an unresolved visit).
    let returns: Set<[String]>

    func rank(_ s: String) -> Int { order.firstIndex(of: s) ?? 0 }

    /// Whether a view in `from` (nil: not seen yet) moves to `to` on a fact.
    func moves(from: String?, to: String) -> Bool {
        guard let from else { return true }
        if from == to || finals.contains(from) { return false }
        if finals.contains(to) { return true }
        return rank(to) > rank(from) || returns.contains([from, to])
    }

    /// Moves `status` for `fact` when `moves` allows it; returns the fact's timeline line, with the
    /// state change if any (a view first seen through a fact that names no state starts in
    /// `order[0]`).
    func step(_ status: inout String, before: String?, _ fact: Observed, _ summary: String) -> HistoryEntry {
        var target = targets[fact.type]
        if let t = target, !moves(from: before, to: t) { target = nil }
        if let t = target { status = t }
        return HistoryEntry(
            fact.type, from: target == nil ? nil : before, to: target ?? (before == nil ? status : nil),
            details: ["at": Wire.timestamp(fact.time), "summary": summary])
    }

    /// The machine: every step `moves` allows, on the event types that cause it; a view first
    /// seen through an event that names no state starts in `order[0]`.
    func machine(title: String, procedure: String, seedNames: [String: String] = [:], creators: [String]) -> StateMachine {
        let states = order.map { StateMachine.State($0, final: finals.contains($0), seed: seedNames[$0]) }
        var transitions: [StateMachine.Transition] = []
        for (type, to) in targets.sorted(by: { $0.key < $1.key }) {
            for from in [nil] + order.map(Optional.some) where moves(from: from, to: to) {
                transitions.append(.init(from, to, on: type))
            }
        }
        for type in creators.sorted() { transitions.append(.init(nil, order[0], on: type)) }
        return StateMachine(title: title, procedure: procedure, states: states, transitions: transitions)
    }
}

/// A month `YYYY-MM` (UTC) of a time.
func monthOf(_ date: Date) -> String { String(Wire.timestamp(date).prefix(7)) }

/// What a fact tells a view: the message and when it happened.
public struct Observed: Sendable {
    public var message: any Message
    public var time: Date

    public init(_ message: any Message, time: Date) {
        self.message = message
        self.time = time
    }

    public var type: String { Swift.type(of: message).type }
}


// MARK: - Work orders

/// An OT as the console shows it.
@JSONMembers
public struct WorkOrderView: AggregateState {
    public var status: String
    public var id: String
    public var number: String?
    public var kind: String?
    public var serviceLine: String?
    public var country: String?
    public var customer: String?
    public var customerId: String?
    public var sector: String?
    public var level: Int?
    public var levelReason: String?
    public var priorityDeadline: Date?
    public var contactBy: Date?
    public var dueBy: Date?
    /// The earliest deadline still pending, and what it is (`priority`, `contact`, `due`).
    public var deadline: Date?
    public var deadlineWhat: String?
    public var breaches: [String] = []
    public var assignee: String?
    public var openedAt: Date?
    public var closedAt: Date?
    public var outcome: String?
    public var documents: [DocumentRef] = []
    public var prefacturaId: String?
    public var prefacturaStatus: String?
    public var prefacturaAmount: Amount?
    public var invoiceId: String?
    public var invoiceAmount: Amount?
    public var invoiceIssuer: String?
    public var damageId: String?
    public var kpis: [String: KPIMark] = [:]
    public var updatedAt: Date

    public init(id: String, status: String, updatedAt: Date) {
        self.id = id
        self.status = status
        self.updatedAt = updatedAt
    }
}

/// The console's view of an OT: folds every fact that names it.
public enum WorkOrderViews: Aggregate {
    public typealias State = WorkOrderView
    public typealias Input = Observed
    public static let kind = "workorder"

    static let progress = ViewProgress(
        order: ["opened", "approvalPending", "approved", "dispatched", "assigned", "attended", "closed", "rejected", "cancelled"],
        finals: ["closed", "rejected", "cancelled"],
        targets: [
            WorkOrderOpened.type: "opened", WorkOrderApprovalPending.type: "approvalPending", WorkOrderApproved.type: "approved",
            WorkOrderRejected.type: "rejected", WorkOrderDispatched.type: "dispatched", WorkOrderAssigned.type: "assigned",
            WorkOrderAttended.type: "attended", WorkOrderClosed.type: "closed", WorkOrderCancelled.type: "cancelled",
        ],
        returns: [["attended", "assigned"], ["approvalPending", "opened"]])

    /// Facts about an OT that do not move its state (they go on its timeline).
    static let timelineOnly: [String] = [
        WorkOrderPrioritized.type, WorkOrderSLABreached.type, WorkOrderEscalated.type, WorkOrderScopeChanged.type,
        WorkOrderReportDelivered.type, TravelBudgetRequested.type, PrefacturaIssued.type, PrefacturaApproved.type,
        PrefacturaReturned.type, InvoiceIssued.type, SurveyRequested.type, SurveyAnswered.type, ChargeRequested.type,
        ChargeCreated.type, ChargePaid.type, CorrectiveActionRecorded.type, DamageRegistered.type, DamageHighVulnerability.type,
        DamageQualityCheckDue.type,
    ]

    public static let machine = progress.machine(
        title: "OT as the console sees it", procedure: "CONTRACT.md work-order states",
        seedNames: ["opened": "REGISTRADO", "assigned": "ASIGNADO", "attended": "ATENDIDO", "cancelled": "ANULADO", "closed": "CERRADO"],
        creators: timelineOnly)

    public static func decide(_ state: WorkOrderView?, _ fact: Observed, _ context: inout DecisionContext) throws(Rejection)
        -> Decision<WorkOrderView>
    {
        guard let id = workOrderId(of: fact.message) else { return .ignore("names no OT") }
        var v = state ?? WorkOrderView(id: id, status: progress.order[0], updatedAt: fact.time)
        let before = state?.status
        let summary = apply(fact, to: &v)
        let line = progress.step(&v.status, before: before, fact, summary)
        refresh(&v, now: context.now)
        v.updatedAt = max(v.updatedAt, fact.time)
        return Decision(state: v, history: [line])
    }

    /// What the fact says of the OT; returns its timeline summary.
    static func apply(_ fact: Observed, to v: inout WorkOrderView) -> String {
        switch fact.message {
        case let e as WorkOrderOpened:
            v.number = e.number
            v.kind = e.kind.rawValue
            v.serviceLine = e.serviceLine?.rawValue ?? v.serviceLine
            customer(e.customer, &v)
            v.documents = e.documents.map { DocumentRef(kind: $0.kind.rawValue, uri: $0.uri, sha256: $0.sha256) }
            v.dueBy = e.dueBy ?? v.dueBy
            v.openedAt = fact.time
            v.damageId = e.damageId ?? v.damageId
            return "\(e.number): \(e.kind.rawValue) for \(e.customer.name), \(e.documents.count) document(s)"
        case let e as WorkOrderApprovalPending:
            return "missing \(e.missingDocuments.map(\.rawValue).joined(separator: ", "))"
        case let e as WorkOrderApproved:
            v.kind = e.kind.rawValue
            v.serviceLine = e.serviceLine?.rawValue ?? v.serviceLine
            customer(e.customer, &v)
            v.dueBy = e.dueBy ?? v.dueBy
            return "approved by \(e.approvedBy)"
        case let e as WorkOrderRejected: return e.reason
        case let e as WorkOrderDispatched:
            if v.levelReason == nil { v.level = e.priority }
            v.contactBy = e.contactBy
            v.dueBy = e.dueBy ?? v.dueBy
            return "priority \(e.priority), contact by \(Wire.timestamp(e.contactBy))\(e.publicSector ? ", public sector" : "")"
        case let e as WorkOrderPrioritized:
            v.level = e.level
            v.levelReason = e.reason
            v.priorityDeadline = e.deadline
            return "level \(e.level) until \(Wire.timestamp(e.deadline)): \(e.reason)"
        case let e as WorkOrderAssigned:
            v.assignee = e.assignee.name
            return "\(e.assignee.name) (\(e.assignee.role))"
        case let e as WorkOrderAttended:
            v.outcome = e.outcome.rawValue
            return e.outcome.rawValue
        case let e as WorkOrderClosed:
            v.kind = e.kind.rawValue
            customer(e.customer, &v)
            v.outcome = e.outcome.rawValue
            v.closedAt = e.closedAt
            return "closed \(e.outcome.rawValue)\(e.amount.map { ", \(money($0))" } ?? "")"
        case let e as WorkOrderCancelled: return e.reason
        case let e as WorkOrderSLABreached:
            if !v.breaches.contains(e.what.rawValue) { v.breaches.append(e.what.rawValue) }
            return "\(e.what.rawValue) deadline \(Wire.timestamp(e.deadline)) passed"
        case let e as WorkOrderEscalated: return "step \(e.step) to \(e.to)"
        case let e as PrefacturaIssued:
            v.prefacturaId = e.prefacturaId
            if v.prefacturaStatus == nil { v.prefacturaStatus = "issued" }
            v.prefacturaAmount = Amount(minor: e.amount.minor, currency: e.amount.currency.rawValue)
            return "\(e.prefacturaId): \(money(e.amount))"
        case let e as PrefacturaApproved:
            v.prefacturaId = e.prefacturaId
            v.prefacturaStatus = "approved"
            return "\(e.prefacturaId) approved by \(e.by)"
        case let e as PrefacturaReturned:
            v.prefacturaId = e.prefacturaId
            if v.prefacturaStatus != "approved" { v.prefacturaStatus = "returned" }
            return "\(e.prefacturaId) returned by \(e.by)\(e.notes.map { ": \($0)" } ?? "")"
        case let e as InvoiceIssued:
            v.invoiceId = e.invoiceId
            v.invoiceAmount = Amount(minor: e.amount.minor, currency: e.amount.currency.rawValue)
            v.invoiceIssuer = e.issuer.rawValue
            return "\(e.invoiceId): \(money(e.amount)) by \(e.issuer.rawValue)"
        case let e as WorkOrderScopeChanged:
            v.documents.append(DocumentRef(kind: e.document.kind.rawValue, uri: e.document.uri, sha256: e.document.sha256))
            return "scope changed"
        case let e as DamageRegistered:
            v.damageId = e.damageId
            return "repair of damage \(e.damageId) (\(e.reiteration == 0 ? "first report" : "reiteration \(e.reiteration)"))"
        default:
            return Swift.type(of: fact.message).type
        }
    }

    static func customer(_ c: Customer, _ v: inout WorkOrderView) {
        v.customer = c.name
        v.customerId = c.id
        v.country = c.country.rawValue
        v.sector = c.sector.rawValue
    }

    /// The deadline still pending and the indicator marks, from the facts so far.
    static func refresh(_ v: inout WorkOrderView, now: Date) {
        let r = progress.rank(v.status)
        let final = progress.finals.contains(v.status)
        var pending: [(Date, String)] = []
        if !final, r < progress.rank("attended") {
            if let d = v.priorityDeadline { pending.append((d, "priority")) }
            if let d = v.dueBy { pending.append((d, "due")) }
            if r < progress.rank("assigned"), let d = v.contactBy { pending.append((d, "contact")) }
        }
        let next = pending.min { $0.0 < $1.0 }
        v.deadline = next?.0
        v.deadlineWhat = next?.1
        // OPE-SUM-GES-P08: attended pole moves / all pole-move requests, by the month of opening.
        if v.kind == WorkOrderKind.poleMove.rawValue, let opened = v.openedAt {
            v.kpis[Indicators.poleMoves.id] = KPIMark(
                month: monthOf(opened), hit: v.status == "attended" || (v.status == "closed" && v.outcome != nil))
        }
    }

    static func money(_ m: Money) -> String { "\(m.currency.rawValue) \(m.minor) (minor units)" }

    /// The OT a message names, if any.
    static func workOrderId(of message: any Message) -> String? {
        switch message {
        case let e as WorkOrderOpened: e.workOrderId
        case let e as WorkOrderDispatched: e.workOrderId
        case let e as WorkOrderPrioritized: e.workOrderId
        case let e as WorkOrderClosed: e.workOrderId
        case let e as PrefacturaIssued: e.workOrderId
        case let e as InvoiceIssued: e.workOrderId
        case let e as DamageRegistered: e.workOrderId
        default: Fields.string("workOrderId", of: message)
        }
    }
}

/// Reads a field of a message by name (messages that only go on a timeline).
enum Fields {
    static func string(_ name: String, of message: any Message) -> String? {
        for child in Mirror(reflecting: message).children where child.label == name || child.label == "_\(name)" {
            if let s = child.value as? String { return s }
            if let s = child.value as? String?, let v = s { return v }
        }
        return nil
    }
}

// MARK: - Post-sale requests

/// A post-sale request as the console shows it.
@JSONMembers
public struct RequestView: AggregateState {
    public var status: String
    public var id: String
    public var flow: String?
    public var contractId: String?
    public var receivedAt: Date?
    /// When the procedure's steps were done (quality check asked) or its answer given.
    public var attendedAt: Date?
    /// `completed`, a rejection code, or nil while open.
    public var outcome: String?
    public var qualityOk: Bool?
    public var kpis: [String: KPIMark] = [:]

    public init(id: String, status: String) {
        self.id = id
        self.status = status
    }
}

/// The console's view of a post-sale request (GC-PRC-OPE-ASE-04).
public enum RequestViews: Aggregate {
    public typealias State = RequestView
    public typealias Input = Observed
    public static let kind = "request"

    static let progress = ViewProgress(
        order: ["received", "requirementsMissing", "awaitingQualityCheck", "completed", "rejected"], finals: ["completed", "rejected"],
        targets: [
            PostSaleRequestReceived.type: "received", PostSaleRequirementsMissing.type: "requirementsMissing",
            PostSaleQualityCheckRequested.type: "awaitingQualityCheck", PostSaleRequestCompleted.type: "completed",
            PostSaleRequestRejected.type: "rejected",
        ],
        returns: [["requirementsMissing", "received"]])
    static let timelineOnly = [ServiceSuspended.type, ServiceReconnected.type]

    public static let machine = progress.machine(
        title: "Post-sale request as the console sees it", procedure: "GC-PRC-OPE-ASE-04", creators: timelineOnly)

    /// Rejection codes that are the procedure's own answer: the request was attended (as the
    /// post-sale service counts them).
    static let procedureAnswers: Set<String> = [
        "suspensionAlreadyThisYear", "suspensionTooLong", "accountNotUpToDate", "notFeasible", "penaltyRefused", "retained",
        "notSuspended", "nothingToChange", "alreadySuspended",
    ]

    public static func decide(_ state: RequestView?, _ fact: Observed, _ context: inout DecisionContext) throws(Rejection)
        -> Decision<RequestView>
    {
        guard let id = Fields.string("requestId", of: fact.message) else { return .ignore("names no request") }
        var v = state ?? RequestView(id: id, status: progress.order[0])
        let before = state?.status
        var summary = fact.type
        switch fact.message {
        case let e as PostSaleRequestReceived:
            v.flow = e.flow.rawValue
            v.contractId = e.contractId
            v.receivedAt = e.receivedAt
            summary = "\(e.flow.rawValue) for contract \(e.contractId)"
        case let e as PostSaleRequirementsMissing:
            v.flow = e.flow.rawValue
            summary = "missing \((e.missing ?? []).joined(separator: ", "))"
        case let e as PostSaleQualityCheckRequested:
            v.flow = e.flow.rawValue
            v.attendedAt = v.attendedAt ?? fact.time
            summary = "quality-control call due"
        case let e as PostSaleRequestCompleted:
            v.flow = e.flow.rawValue
            v.outcome = "completed"
            v.qualityOk = e.qualityOk
            v.attendedAt = v.attendedAt ?? e.completedAt
            summary = "completed, quality \(e.qualityOk ? "ok" : "failed")"
        case let e as PostSaleRequestRejected:
            v.flow = e.flow.rawValue
            v.outcome = e.code
            v.attendedAt = v.attendedAt ?? fact.time
            summary = "\(e.code)\(e.reason.map { ": \($0)" } ?? "")"
        default: break
        }
        let line = progress.step(&v.status, before: before, fact, summary)
        // GC-PRC-OPE-ASE-04 §III.2, by the month of receipt: efficacy (completed with a good
        // quality call, or the procedure's own answer) and timeliness (attended within 24 h).
        if let received = v.receivedAt {
            let month = monthOf(received)
            let effective = v.outcome == "completed" ? v.qualityOk == true : v.outcome.map(procedureAnswers.contains) ?? false
            v.kpis[Indicators.postSaleEfficacy.id] = KPIMark(month: month, hit: effective)
            v.kpis[Indicators.postSaleTimeliness.id] = KPIMark(
                month: month, hit: v.attendedAt.map { $0.timeIntervalSince(received) < 86_400 } ?? false)
        }
        return Decision(state: v, history: [line])
    }
}

// MARK: - Damages

/// A damage (COM-GCM-P12) as the console shows it.
@JSONMembers
public struct DamageView: AggregateState {
    public var status: String
    public var id: String
    public var productId: String?
    public var workOrderId: String?
    /// 0 = first report; n = the n-th damage of the product after one closed unsolved.
    public var reiteration: Int = 0
    /// Reports while it was open.
    public var reports: Int = 0
    /// When it became a reiterated damage (registered as a reiteration, or reported again).
    public var reiteratedAt: Date?
    public var solvedAt: Date?
    public var how: String?
    public var kpis: [String: KPIMark] = [:]

    public init(id: String, status: String) {
        self.id = id
        self.status = status
    }
}

/// The console's view of a damage: registered, reiterated, solved.
public enum DamageViews: Aggregate {
    public typealias State = DamageView
    public typealias Input = Observed
    public static let kind = "damage"

    static let progress = ViewProgress(
        order: ["open", "solved"], finals: ["solved"], targets: [DamageRegistered.type: "open", DamageSolved.type: "solved"],
        returns: [])
    public static let machine = progress.machine(
        title: "Damage as the console sees it", procedure: "COM-GCM-P12",
        creators: [DamageReiterated.type, DamageQualityCheckDue.type, DamageHighVulnerability.type])

    public static func decide(_ state: DamageView?, _ fact: Observed, _ context: inout DecisionContext) throws(Rejection)
        -> Decision<DamageView>
    {
        guard let id = Fields.string("damageId", of: fact.message) else { return .ignore("names no damage") }
        var v = state ?? DamageView(id: id, status: progress.order[0])
        let before = state?.status
        var summary = fact.type
        switch fact.message {
        case let e as DamageRegistered:
            v.productId = e.product.id
            v.workOrderId = e.workOrderId ?? v.workOrderId
            v.reiteration = e.reiteration
            if e.reiteration > 0 { v.reiteratedAt = v.reiteratedAt ?? fact.time }
            summary = "\(e.product.id): \(e.fault)\(e.reiteration > 0 ? " (reiteration \(e.reiteration))" : "")"
        case let e as DamageReiterated:
            if e.damageId == id {
                v.reports = max(v.reports, e.count)
                v.reiteratedAt = v.reiteratedAt ?? fact.time
            }
            v.productId = e.product.id
            summary = "reported again (\(e.count))"
        case let e as DamageSolved:
            v.solvedAt = e.solvedAt
            v.how = e.how.rawValue
            summary = "solved (\(e.how.rawValue))"
        default: break
        }
        let line = progress.step(&v.status, before: before, fact, summary)
        // COM-GCM-P12 §IV.2: reiterated damages solved / received, by the month they became reiterated.
        if let at = v.reiteratedAt {
            v.kpis[Indicators.repeatedDamages.id] = KPIMark(month: monthOf(at), hit: v.status == "solved")
        }
        return Decision(state: v, history: [line])
    }
}

// MARK: - Records

/// A records file or a retrieval (seed 002) as the console shows it.
@JSONMembers
public struct RecordView: AggregateState {
    public var status: String
    public var id: String
    public var fileId: String?
    public var caseKind: String?
    public var caseId: String?
    public var at: Date?
    public var kpis: [String: KPIMark] = [:]

    public init(id: String, status: String) {
        self.id = id
        self.status = status
    }
}

/// The console's view of a records file.
public enum FileViews: Aggregate {
    public typealias State = RecordView
    public typealias Input = Observed
    public static let kind = "file"
    static let progress = ViewProgress(
        order: ["registered", "returned", "archived", "transferred"], finals: ["transferred"],
        targets: [
            FileRegistered.type: "registered", FileReturned.type: "returned", FileArchived.type: "archived",
            FileTransferred.type: "transferred",
        ],
        returns: [["returned", "registered"]])
    public static let machine = progress.machine(title: "Records file as the console sees it", procedure: "seed 002", creators: [])

    public static func decide(_ state: RecordView?, _ fact: Observed, _ context: inout DecisionContext) throws(Rejection)
        -> Decision<RecordView>
    {
        guard let id = Fields.string("fileId", of: fact.message) else { return .ignore("names no file") }
        var v = state ?? RecordView(id: id, status: progress.order[0])
        let before = state?.status
        if let e = fact.message as? FileRegistered {
            v.caseKind = e.caseKind.rawValue
            v.caseId = e.caseId
            v.at = e.registeredAt
        }
        let line = progress.step(&v.status, before: before, fact, fact.type)
        return Decision(state: v, history: [line])
    }
}

/// The console's view of a retrieval request.
public enum RetrievalViews: Aggregate {
    public typealias State = RecordView
    public typealias Input = Observed
    public static let kind = "retrieval"
    static let progress = ViewProgress(
        order: ["requested", "delivered", "failed"], finals: ["delivered", "failed"],
        targets: [RetrievalRequested.type: "requested", RetrievalDelivered.type: "delivered", RetrievalFailed.type: "failed"],
        returns: [])
    public static let machine = progress.machine(title: "Retrieval as the console sees it", procedure: "seed 002", creators: [])

    public static func decide(_ state: RecordView?, _ fact: Observed, _ context: inout DecisionContext) throws(Rejection)
        -> Decision<RecordView>
    {
        guard let id = Fields.string("retrievalId", of: fact.message) else { return .ignore("names no retrieval") }
        var v = state ?? RecordView(id: id, status: progress.order[0])
        let before = state?.status
        if let e = fact.message as? RetrievalRequested {
            v.fileId = e.fileId
            v.at = e.requestedAt
        }
        v.fileId = v.fileId ?? Fields.string("fileId", of: fact.message)
        let line = progress.step(&v.status, before: before, fact, fact.type)
        // Seed 002: recovered documents / document requests, by the month of the request.
        if let at = v.at { v.kpis[Indicators.documentRetrieval.id] = KPIMark(month: monthOf(at), hit: v.status == "delivered") }
        return Decision(state: v, history: [line])
    }
}

// MARK: - Indicators

/// The seeds' indicators the console follows.
public enum Indicators {
    public static let poleMoves = Indicator(
        id: "poleMoves", title: "Pole moves attended", procedure: "OPE-SUM-GES-P08", threshold: 98,
        numeratorLabel: "attended", denominatorLabel: "pole-move OTs opened")
    public static let postSaleEfficacy = Indicator(
        id: "postSaleEfficacy", title: "Post-sale efficacy", procedure: "GC-PRC-OPE-ASE-04", threshold: 98,
        numeratorLabel: "attended effectively", denominatorLabel: "requests received")
    public static let postSaleTimeliness = Indicator(
        id: "postSaleTimeliness", title: "Post-sale timeliness (< 24 h)", procedure: "GC-PRC-OPE-ASE-04", threshold: 95,
        numeratorLabel: "attended within 24 h", denominatorLabel: "requests received")
    public static let repeatedDamages = Indicator(
        id: "repeatedDamages", title: "Repeated damages solved", procedure: "COM-GCM-P12", threshold: 98,
        numeratorLabel: "solved", denominatorLabel: "reiterated damages")
    public static let documentRetrieval = Indicator(
        id: "documentRetrieval", title: "Document retrieval", procedure: "seed 002 (records)", threshold: 99,
        numeratorLabel: "recovered", denominatorLabel: "retrieval requests")

    public static let all = [poleMoves, postSaleEfficacy, postSaleTimeliness, repeatedDamages, documentRetrieval]
}
