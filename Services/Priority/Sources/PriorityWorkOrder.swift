import Contracts
import Foundation
import Runtime

/// A work order as the priority service sees it (COM-GCM-P12 Anexo 2): every OT of the platform
/// gets its level and deadline from the matrix when it opens (`workorder.prioritized`), and again
/// whenever its facts change — its damage reiterated, a row reached by its age (a durable `age`
/// timer). A reiterated claim at level 1 or 2 is a case of high vulnerability
/// (`damage.high-vulnerability`, once per OT).
///
/// The facts of a repair OT's damage may arrive before the OT opens (the damage opened it):
/// the OT is then `pending` until `workorder.opened`.
public enum PriorityWorkOrder: Aggregate {
    public static let kind = "workorder"
    /// The re-levelling timer.
    public static let ageTimer = "age"
    /// The trigger of the facts a damage case passes to its repair OT.
    public static let damageTrigger = "damage"

    /// What a damage case tells its repair OT.
    @JSONMembers
    public struct DamageFacts: Codable, Sendable, Equatable {
        public var damageId: String
        public var product: ProductRef
        public var channel: DamageChannel
        /// Times the damage was reported after its first report (with the damages before it closed
        /// without solution).
        public var reiteration: Int
        public var immediate: Bool
        /// The product's previous OT was cancelled (the repair OT is its re-issue).
        public var reissue: Bool?
        public init(damageId: String, product: ProductRef, channel: DamageChannel, reiteration: Int, immediate: Bool, reissue: Bool? = nil) {
            self.damageId = damageId
            self.product = product
            self.channel = channel
            self.reiteration = reiteration
            self.immediate = immediate
            self.reissue = reissue
        }
    }

    @JSONMembers
    public struct State: AggregateState {
        public var workOrderId: String
        public var number: String?
        public var kind: WorkOrderKind?
        public var customer: Customer?
        public var productId: String?
        public var productType: ProductType?
        public var damage: DamageFacts?
        /// The product's previous OT was cancelled.
        public var reissue: Bool = false
        public var openedAt: Date?
        public var level: Int?
        public var row: PriorityMatrix.Row?
        public var reiterated: Bool = false
        public var deadline: Date?
        /// `attended`, `closed`, `cancelled` or `rejected`.
        public var ended: String?
        public var endedAt: Date?
        public var highVulnerabilityAt: Date?

        public var status: String { ended != nil ? "ended" : openedAt != nil ? "open" : "pending" }

        /// The matrix's facts, once the opening told the kind and the customer.
        public var facts: PriorityFacts? {
            guard let kind, let customer else { return nil }
            return PriorityFacts(
                kind: kind, segment: customer.segment, product: productType ?? damage?.product.type, channel: damage?.channel,
                reiterated: (damage?.reiteration ?? 0) > 0, reissue: reissue, immediate: damage?.immediate ?? false)
        }
    }

    public enum Input: Sendable {
        /// The OT opened; `reissue`: its product's previous OT was cancelled.
        case opened(WorkOrderOpened, reissue: Bool)
        case damage(workOrderId: String, DamageFacts)
        /// The damage was reported again while this OT repairs it: `damage.reiterated` is told
        /// with the OT's new deadline.
        case reiterated(workOrderId: String, DamageFacts)
        case ended(workOrderId: String, how: String)
        case age
    }

    static let endings = [WorkOrderAttended.type, WorkOrderClosed.type, WorkOrderCancelled.type, WorkOrderRejected.type]

    public static let machine = StateMachine(
        title: "work order priority", procedure: "COM-GCM-P12 Anexo 2",
        states: [.init("pending"), .init("open"), .init("ended", final: true)],
        transitions: [
            .init(nil, "pending", on: damageTrigger), .init(nil, "open", on: WorkOrderOpened.type),
            .init("pending", "open", on: WorkOrderOpened.type),
        ] + endings.flatMap { [.init("open", "ended", on: $0), .init("pending", "ended", on: $0)] })

    public static func timerFired(_ name: String, dueAt: Date) -> Input? { name == ageTimer ? .age : nil }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .opened(let e, let reissue):
            if let state, state.openedAt != nil { return .ignore("work order \(e.workOrderId) already opened") }
            var s = state ?? State(workOrderId: e.workOrderId)
            let from = state?.status
            s.number = e.number
            s.kind = e.kind
            s.customer = e.customer
            s.productId = e.productId ?? s.productId
            s.productType = e.productType ?? s.productType
            // A repair OT's re-issue is known from its damage (its opening does not pass through the product).
            s.reissue = reissue || (s.damage?.reissue ?? false)
            // The deadlines count from the opening: the event's time, never later than now.
            s.openedAt = min(context.messageTime, now)
            let opened = HistoryEntry(WorkOrderOpened.type, from: from, to: s.status, reason: e.number)
            guard s.ended == nil else {
                return Decision(
                    state: s, history: [HistoryEntry(WorkOrderOpened.type, from: nil, to: nil, reason: "\(e.number), after its end: not prioritized")],
                    note: "work order \(e.workOrderId) ended before its opening arrived")
            }
            return prioritize(s, now: now).prepending(history: [opened], events: [])
        case .damage(let id, let facts):
            return damage(state, id, facts, now: now)
        case .reiterated(let id, let facts):
            // The damage was reported again: re-levelled first, so that the caller is told the new deadline.
            var d = damage(state, id, facts, now: now)
            d.events.append(
                DamageReiterated(
                    damageId: facts.damageId, previousDamageId: facts.damageId, count: facts.reiteration, product: facts.product,
                    estimatedRepairBy: (d.state ?? state)?.deadline))
            return d
        case .ended(let id, let how):
            guard var s = state else { return .ignore("end of work order \(id), unknown to priority") }
            guard s.ended == nil else { return .ignore("work order \(id) already \(s.ended ?? "")") }
            let from = s.status
            s.ended = how
            s.endedAt = now
            return Decision(
                state: s, history: [HistoryEntry(how, from: from, to: s.status)], timers: [.clear(ageTimer)])
        case .age:
            guard let s = state, s.status == "open" else { return .ignore("age timer of a work order no longer open") }
            return prioritize(s, now: now)
        }
    }

    static func damage(_ state: State?, _ id: String, _ facts: DamageFacts, now: Date) -> Decision<State> {
        var s = state ?? State(workOrderId: id)
        let previous = state?.damage
        s.damage = facts
        let line = HistoryEntry(
            damageTrigger, from: state == nil ? nil : s.status, to: state == nil ? s.status : nil,
            reason: "damage \(facts.damageId), reiteration \(facts.reiteration)\(facts.immediate ? ", immediate" : "")")
        guard state != nil else { return Decision(state: s, history: [line]) }
        guard previous != facts else { return .ignore("facts of damage \(facts.damageId) already known") }
        guard s.status == "open" else { return Decision(state: s, history: [line]) }
        return prioritize(s, now: now).prepending(history: [line], events: [])
    }

    /// Levels the OT by the matrix: emits `workorder.prioritized` when its row or its
    /// reiteration changed, re-arms the age timer, and raises a high vulnerability once.
    static func prioritize(_ state: State, now: Date) -> Decision<State> {
        var s = state
        guard let facts = s.facts, let openedAt = s.openedAt, s.ended == nil else { return Decision(state: s) }
        let age = max(0, now.timeIntervalSince(openedAt))
        let result = PriorityMatrix.evaluate(facts, age: age)
        var events: [any Message] = []
        var history: [HistoryEntry] = []
        if s.row != result.row || s.reiterated != result.reiterated || s.level == nil {
            let deadline = PriorityMatrix.deadline(level: result.level, openedAt: openedAt)
            s.row = result.row
            s.level = result.level
            s.reiterated = result.reiterated
            s.deadline = deadline
            events.append(
                WorkOrderPrioritized(
                    workOrderId: s.workOrderId, level: result.level, deadline: deadline, reason: result.reason,
                    reiterated: result.reiterated ? true : nil))
            history.append(
                HistoryEntry(
                    WorkOrderPrioritized.type, from: nil, to: nil,
                    reason: "level \(result.level)\(result.reiterated ? ", reiterated" : ""): \(result.reason)"))
        }
        if result.reiterated, result.level <= 2, s.highVulnerabilityAt == nil, let damage = s.damage, let customer = s.customer {
            s.highVulnerabilityAt = now
            events.append(
                DamageHighVulnerability(
                    damageId: damage.damageId, workOrderId: s.workOrderId, product: damage.product, customer: customer, level: result.level,
                    reiteration: damage.reiteration, assignedTo: ["operations-center administrator", "head of the operations center"],
                    notify: ["head of provisioning and assurance"]))
            history.append(HistoryEntry(DamageHighVulnerability.type, from: nil, to: nil, reason: "reiterated claim at level \(result.level)"))
        }
        var timers: [TimerChange] = [.clear(ageTimer)]
        if let next = PriorityMatrix.nextChange(facts, after: age) {
            timers = [.set(ageTimer, at: openedAt.addingTimeInterval(next))]
        }
        return Decision(state: s, history: history, events: events, timers: timers)
    }

}
