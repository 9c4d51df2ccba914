import Contracts
import Foundation
import Runtime

/// An enterprise post-sale request (GC-PRC-OPE-ASE-04), one state machine for every flow:
/// received → requirements missing ⇄ (`postsale.complete-requirements`) → in progress (the
/// flow's own steps) → awaiting the quality-control call → completed; or rejected (the procedure
/// turns it down: one `postsale.request-rejected` with its code) or abandoned. Every end records
/// an interaction; a request never completes without its quality-control call.
public enum PostSaleRequest: Aggregate {
    public static let kind = "request"
    /// The weekly re-check of a promised payment (I, step 6).
    public static let recheckTimer = "collection.recheck"
    /// The quality-control call is due this long after the flow's steps are done.
    public static let qualityCallWithin: TimeInterval = 86_400

    public enum Phase: String, Codable, Sendable, CaseIterable {
        case received, requirementsMissing, inProgress, awaitingQualityCheck, completed, rejected, abandoned
    }

    /// Where an in-progress request waits.
    public enum Step: String, Codable, Sendable {
        case feasibility, retention, penaltyDecision, equipment, withdrawal, diagnosis, fieldWork, claimResolution,
            clientDecision, promisedPayment
    }

    /// A recorded customer contact ("interacción").
    @JSONMembers
    public struct Interaction: Codable, Sendable, Equatable {
        public var at: Date
        public var note: String
    }

    @JSONMembers
    public struct State: AggregateState {
        public var requestId: String
        public var flow: PostSaleFlow
        public var contractId: String
        public var customer: Customer
        public var channel: String
        public var products: [Product]
        public var details: JSONObject
        public var documents: [Document]
        public var receivedAt: Date
        public var phase: Phase = .received
        public var step: Step?
        public var missing: [String] = []
        public var workOrderId: String?
        /// What the flow did, for the quality-control call and the completion.
        public var results: JSONObject = [:]
        /// When the flow's own steps were done, or the procedure turned it down (timeliness).
        public var attendedAt: Date?
        public var endedAt: Date?
        /// `completed`, or the code it was turned down with.
        public var outcome: String?
        public var qualityOk: Bool?
        public var interactions: [Interaction] = []
        public var status: String { phase.rawValue }
    }

    public enum Input: Sendable {
        /// A new request, with its contract's facts (nil: no such contract).
        case open(RequestPostSale, facts: PostSaleContract.State?)
        /// The contract's facts, as the request asked for them.
        case facts(PostSaleContract.State)
        case complete(CompletePostSaleRequirements)
        case abandon(AbandonPostSale)
        case feasibility(RecordFeasibility)
        case retention(RecordRetention)
        case penalty(RecordPenaltyDecision)
        case equipment(RecordEquipment)
        case diagnosis(RecordDiagnosis)
        case clientDecision(RecordClientDecision)
        case claimResolution(RecordClaimResolution)
        case qualityCheck(RecordPostSaleQualityCheck)
        case workOrderClosed(WorkOrderClosed)
        case workOrderCancelled(WorkOrderCancelled)
        /// The contract withdrew the products (after any open OT on them ended).
        case withdrawn
        case recheck
    }

    /// The request's id: the sender's, or one derived from the command's id.
    public static func id(for c: RequestPostSale, messageId: String) -> String { c.requestId ?? "PV-\(messageId)" }
    /// The OT a request opens (transfer installation, support visit).
    public static func workOrderId(_ requestId: String) -> String { "PS-\(requestId)" }

    /// What each input of an in-progress request may lead to (the flows' steps, as FlowSteps decides them).
    static let steps: [(trigger: String, to: [String])] = [
        (RecordFeasibility.type, ["inProgress", "awaitingQualityCheck", "rejected"]),
        (RecordRetention.type, ["inProgress", "rejected"]),
        (RecordPenaltyDecision.type, ["inProgress", "rejected"]),
        (RecordEquipment.type, ["inProgress", "awaitingQualityCheck"]),
        (RecordDiagnosis.type, ["inProgress", "awaitingQualityCheck"]),
        (RecordClientDecision.type, ["inProgress", "awaitingQualityCheck"]),
        (RecordClaimResolution.type, ["inProgress"]),
        (WorkOrderClosed.type, ["awaitingQualityCheck"]),
        (WorkOrderCancelled.type, ["awaitingQualityCheck", "rejected"]),
        (ProformaPaid.type, ["awaitingQualityCheck"]),
        (StateMachine.timer(recheckTimer), ["inProgress", "awaitingQualityCheck"]),
    ]

    public static let machine: StateMachine = {
        typealias T = StateMachine.Transition
        let started = ["inProgress", "awaitingQualityCheck", "rejected"]
        var t: [T] = [T(nil, "received", on: RequestPostSale.type)]
        t += (["requirementsMissing"] + started).map { T("received", $0, on: RequestPostSale.type) }
        t += (["requirementsMissing"] + started).map { T("requirementsMissing", $0, on: CompletePostSaleRequirements.type) }
        t += ["requirementsMissing", "inProgress"].map { T($0, "abandoned", on: AbandonPostSale.type) }
        for (trigger, targets) in steps { t += targets.map { T("inProgress", $0, on: trigger) } }
        t.append(T("awaitingQualityCheck", "completed", on: RecordPostSaleQualityCheck.type))
        return StateMachine(
            title: "enterprise post-sale request", procedure: "GC-PRC-OPE-ASE-04 A–L",
            states: [
                .init("received"), .init("requirementsMissing"), .init("inProgress"), .init("awaitingQualityCheck"),
                .init("completed", final: true), .init("rejected", final: true), .init("abandoned", final: true),
            ],
            transitions: t)
    }()

    public static func timerFired(_ name: String, dueAt: Date) -> Input? { name == recheckTimer ? .recheck : nil }

    // MARK: Deciding

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        if case .open(let c, let facts) = input { return try open(state, c, facts: facts, context: context) }
        guard var s = state else {
            switch input {
            case .facts, .withdrawn, .recheck, .workOrderClosed, .workOrderCancelled: return .ignore("no such request")
            default:
                throw .notFound("post-sale request is not known", field: "data.requestId", problem: "unknown request")
            }
        }
        let before = s.phase
        switch input {
        case .open:
            return .ignore("handled above")

        case .complete(let c):
            guard s.phase == .requirementsMissing else { throw wrongTime(s, "its requirements are complete") }
            s.documents += c.documents ?? []
            for (k, v) in c.details ?? [:] { s.details[k] = v }
            let read = Requirements.read(s.flow, details: s.details, documents: s.documents, receivedIn: YearMonth(s.receivedAt))
            if !read.problems.isEmpty { throw .validation(read.problems) }
            s.missing = read.missing
            if !read.missing.isEmpty {
                return Decision(
                    state: s, history: [HistoryEntry("requirementsMissing", from: before.rawValue, to: s.status, reason: s.missing.joined(separator: ","))],
                    events: [PostSaleRequirementsMissing(requestId: s.requestId, flow: s.flow, reason: "Requisitos aún incompletos", missing: s.missing)])
            }
            // Complete: the flow starts with the contract's facts as they are now.
            return Decision(
                state: s, history: [HistoryEntry("requirementsCompleted", from: before.rawValue, to: s.status)],
                followUps: [.to(PostSaleContract.self, s.contractId, .refresh(requestId: s.requestId))])

        case .facts(let facts):
            if s.phase == .requirementsMissing, s.missing.isEmpty {
                return try start(&s, facts: facts, context: context)
            }
            if s.phase == .inProgress, s.step == .promisedPayment {
                guard facts.unpaid.isEmpty else { return .ignore("debt still pending") }
                return finish(&s, Progress(results: ["debtSettled": true], interaction: "pagos comprometidos verificados"), context: context)
                    .adding(followUps: [.to(PostSaleContract.self, s.contractId, .apply(requestId: s.requestId, .endCollection))])
                    .adding(timers: [.clear(recheckTimer)])
            }
            if s.phase == .inProgress, let step = s.step, let progress = try FlowSteps.next(s, step, input, context: context) {
                return apply(&s, progress, context: context)
            }
            return .ignore("facts not needed now")

        case .abandon(let c):
            try Rejection.requireNonEmpty([("data.reason", c.reason)])
            guard s.phase == .requirementsMissing || s.phase == .inProgress else { throw wrongTime(s, "it cannot be abandoned now") }
            s.phase = .abandoned
            s.outcome = "abandoned"
            s.endedAt = now
            s.interactions.append(Interaction(at: now, note: "abandonado: \(c.reason)"))
            return Decision(
                state: s, history: [HistoryEntry("abandoned", from: before.rawValue, to: s.status, reason: c.reason)],
                events: [PostSaleRequestRejected(requestId: s.requestId, flow: s.flow, code: "abandoned", reason: c.reason, missing: s.missing)],
                timers: [.clear(recheckTimer)])

        case .qualityCheck(let c):
            guard s.phase == .awaitingQualityCheck else {
                throw wrongTime(s, "the quality-control call comes after the flow's steps (postsale.quality-check-requested)")
            }
            s.phase = .completed
            s.outcome = "completed"
            s.qualityOk = c.ok
            s.endedAt = now
            s.interactions.append(Interaction(at: now, note: "control de calidad: \(c.ok ? "conforme" : "no conforme")\(c.notes.map { " — \($0)" } ?? "")"))
            return Decision(
                state: s, history: [HistoryEntry("completed", from: before.rawValue, to: s.status, reason: c.ok ? "quality ok" : "quality not ok")],
                events: [
                    PostSaleRequestCompleted(
                        requestId: s.requestId, flow: s.flow, completedAt: now, qualityOk: c.ok,
                        reason: s.results["infundado"] == .bool(true) ? "infundado" : c.notes, details: s.results,
                        contractId: s.contractId, documents: s.documents)
                ])

        default:
            guard s.phase == .inProgress, let step = s.step else {
                if isFact(input) { return .ignore("nothing waits for it") }
                throw wrongTime(s, "it does not wait for this")
            }
            guard let progress = try FlowSteps.next(s, step, input, context: context) else {
                if isFact(input) { return .ignore("nothing waits for it at step \(step)") }
                throw wrongTime(s, "it waits for \(step.rawValue)")
            }
            return apply(&s, progress, context: context)
        }
    }

    static func isFact(_ input: Input) -> Bool {
        switch input {
        case .workOrderClosed, .workOrderCancelled, .withdrawn, .recheck, .facts: true
        default: false
        }
    }

    static func wrongTime(_ s: State, _ why: String) -> Rejection {
        .invalidTransition(
            "post-sale request \(s.requestId) is \(s.phase.rawValue)\(s.step.map { " (\($0.rawValue))" } ?? ""): \(why)",
            field: "data.requestId", problem: "request is \(s.phase.rawValue)")
    }

    /// A new request: validated, recorded, screened against its contract, then its requirements.
    static func open(_ state: State?, _ c: RequestPostSale, facts: PostSaleContract.State?, context: DecisionContext) throws(Rejection) -> Decision<State> {
        let requestId = id(for: c, messageId: context.messageId)
        if let state {
            if state.flow == c.flow, state.contractId == c.contractId { return .ignore("request \(requestId) was received already") }
            throw Rejection(.alreadyExists, "post-sale request \(requestId) exists", errors: [FieldProblem(field: "data.requestId", problem: "taken")])
        }
        var problems: [FieldProblem] = []
        if Channel(rawValue: c.channel) == nil {
            problems.append(FieldProblem(field: "data.channel", problem: "must be one of \(Channel.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        if c.contractId.isBlank { problems.append(FieldProblem(field: "data.contractId", problem: "must not be empty")) }
        // Received when the sender says, unless its clock is ahead of the service's.
        let receivedAt = min(context.messageTime, context.now)
        let read = Requirements.read(c.flow, details: c.details, documents: c.documents, receivedIn: YearMonth(receivedAt))
        problems += read.problems
        if !problems.isEmpty { throw .validation(problems) }

        var s = State(
            requestId: requestId, flow: c.flow, contractId: c.contractId, customer: c.customer, channel: c.channel, products: c.products,
            details: c.details, documents: c.documents, receivedAt: receivedAt)
        let received = PostSaleRequestReceived(requestId: requestId, flow: c.flow, contractId: c.contractId, receivedAt: receivedAt, details: c.details)
        var history = [HistoryEntry("received", from: nil, to: "received", reason: c.channel)]
        guard let facts else {
            let d = turnDown(&s, code: "unknownContract", reason: "El contrato \(c.contractId) no existe", context: context)
            return d.prepending(history: history, events: [received])
        }
        // Every product the request names must be one of the contract's (CONTRACT rules).
        var named = c.products.map(\.id)
        if let d = read.details { named += d.productIds } else {
            var r = DetailsReader(c.details)
            named += (r.strings("productIds", required: false) ?? []) + [r.string("productId", required: false), r.string("lineId", required: false)].compactMap { $0 }
        }
        if let unknown = named.first(where: { facts.product($0) == nil }) {
            let d = turnDown(&s, code: "unknownProduct", reason: "El producto \(unknown) no es del contrato \(c.contractId)", context: context)
            return d.prepending(history: history, events: [received])
        }
        if !read.missing.isEmpty {
            s.phase = .requirementsMissing
            s.missing = read.missing
            s.interactions.append(Interaction(at: context.now, note: "requisitos incompletos: \(read.missing.joined(separator: ", "))"))
            history.append(HistoryEntry("requirementsMissing", from: "received", to: s.status, reason: read.missing.joined(separator: ",")))
            return Decision(
                state: s, history: history,
                events: [received, PostSaleRequirementsMissing(requestId: requestId, flow: c.flow, reason: "Requisitos incompletos", missing: read.missing)])
        }
        return try start(&s, facts: facts, context: context).prepending(history: history, events: [received])
    }

    /// The flow's first steps, requirements met.
    static func start(_ s: inout State, facts: PostSaleContract.State, context: DecisionContext) throws(Rejection) -> Decision<State> {
        let read = Requirements.read(s.flow, details: s.details, documents: s.documents, receivedIn: YearMonth(s.receivedAt))
        guard let details = read.details else { throw Rejection(.internalError, "a request started with requirements missing") }
        if let gone = details.productIds.first(where: { facts.product($0)?.status == .withdrawn }) {
            return turnDown(&s, code: "productWithdrawn", reason: "El producto \(gone) ya fue retirado", context: context)
        }
        // Every product withdrawn: only its debt (I) and its bills (F) are still a matter for post-sale.
        if facts.status == "terminated", ![PostSaleFlow.collection, .billingClaim].contains(s.flow) {
            return turnDown(&s, code: "contractTerminated", reason: "El contrato \(facts.contractId) no tiene productos activos", context: context)
        }
        let progress = try FlowSteps.start(s, details, facts: facts, context: context)
        return apply(&s, progress, context: context)
    }

    // MARK: Progress

    /// What a flow's step leads to.
    struct Progress {
        enum Next { case wait(Step), done, turnDown(code: String, reason: String) }
        var next: Next = .done
        var events: [any Message] = []
        var followUps: [Target] = []
        var timers: [TimerChange] = []
        var aliases: [String] = []
        var results: JSONObject = [:]
        var interaction: String?
        var workOrderId: String?

        init(_ next: Next = .done, results: JSONObject = [:], interaction: String? = nil) {
            self.next = next
            self.results = results
            self.interaction = interaction
        }
    }

    static func apply(_ s: inout State, _ p: Progress, context: DecisionContext) -> Decision<State> {
        for (k, v) in p.results { s.results[k] = v }
        if let w = p.workOrderId { s.workOrderId = w }
        switch p.next {
        case .wait(let step):
            let from = s.phase.rawValue
            s.phase = .inProgress
            s.step = step
            if let note = p.interaction { s.interactions.append(Interaction(at: context.now, note: note)) }
            return Decision(
                state: s, history: [HistoryEntry(step.rawValue, from: from, to: s.status)], events: p.events, timers: p.timers,
                aliases: p.aliases, followUps: p.followUps)
        case .done:
            return finish(&s, p, context: context)
        case .turnDown(let code, let reason):
            if let note = p.interaction { s.interactions.append(Interaction(at: context.now, note: note)) }
            let d = turnDown(&s, code: code, reason: reason, context: context)
            return Decision(
                state: d.state, history: d.history, events: p.events + d.events, timers: p.timers + d.timers, aliases: p.aliases,
                followUps: p.followUps)
        }
    }

    /// The flow's own steps are done: the quality-control call is due.
    static func finish(_ s: inout State, _ p: Progress, context: DecisionContext) -> Decision<State> {
        let from = s.phase.rawValue
        for (k, v) in p.results { s.results[k] = v }
        s.phase = .awaitingQualityCheck
        s.step = nil
        s.attendedAt = context.now
        if let note = p.interaction { s.interactions.append(Interaction(at: context.now, note: note)) }
        return Decision(
            state: s, history: [HistoryEntry("stepsDone", from: from, to: s.status)],
            events: p.events + [
                PostSaleQualityCheckRequested(
                    requestId: s.requestId, flow: s.flow, dueBy: context.now.addingTimeInterval(qualityCallWithin), details: s.results)
            ], timers: p.timers, aliases: p.aliases, followUps: p.followUps)
    }

    /// The procedure turns the request down: one `postsale.request-rejected`, an interaction.
    static func turnDown(_ s: inout State, code: String, reason: String, context: DecisionContext) -> Decision<State> {
        let from = s.phase.rawValue
        s.phase = .rejected
        s.step = nil
        s.outcome = code
        s.attendedAt = s.attendedAt ?? context.now
        s.endedAt = context.now
        s.interactions.append(Interaction(at: context.now, note: "rechazado (\(code)): \(reason)"))
        return Decision(
            state: s, history: [HistoryEntry("rejected", from: from, to: s.status, reason: code)],
            events: [PostSaleRequestRejected(requestId: s.requestId, flow: s.flow, code: code, reason: reason, details: s.results.isEmpty ? nil : s.results)],
            timers: [.clear(recheckTimer)])
    }
}
