import Contracts
import Foundation
import Runtime

/// The damage cases of one product (COM-GCM-P12): reports from the call center, the help desk and
/// the retention unit (and post-sale's damage flow), the repair OTs they open, the quality control
/// after a repair and the escalation ladder.
///
/// A product has at most one open damage. A report for it:
/// - while a damage is open (its repair OT registered or assigned, its quality check pending, or
///   on the escalation ladder) opens nothing: a **reiteration** (`damage.reiterated`, with the
///   estimated repair time), and the repair OT's priority follows it;
/// - after a damage closed *atendido sin solución* → a new damage with the same fault, marked
///   reiterated (`damage.registered` reiteration ≥ 1 and `damage.reiterated` naming the previous);
/// - otherwise → a new damage (reiteration 0) and a repair OT; a help-desk remote fix
///   (`resolvedRemotely`) registers it solved (`how` = remote) with no OT.
///
/// The aggregate also remembers the product's last OT, so that an OT after a cancelled one is its
/// re-issue (the matrix's *OT anuladas* rows).
public enum ProductDamages: Aggregate {
    public static let kind = "product"
    /// The sequence of damage numbers (`DN-<year>-<n>`).
    public static let damageNumber = "damage_number"
    /// The 24-hour quality-check timer of a repaired internet or multimedia product.
    public static let qualityTimer = "quality"
    /// How long after closing its OT a data product is checked.
    public static let qualityDelay: TimeInterval = 24 * 3600

    /// Where a damage stands.
    public enum Phase: String, Codable, Sendable, CaseIterable {
        /// Its repair OT is open (*orden de reparación*).
        case registered
        /// Its repair OT is assigned to a technician.
        case assigned
        /// Repaired: the quality check is pending.
        case qualityCheck
        /// Still failing on a reiterated claim: on the escalation ladder.
        case escalated
        case solved
        /// *Atendido sin solución*: the next report is a new damage with the same fault.
        case unsolved
        /// *Infundado*: nothing was broken in the field.
        case unfounded
        /// Its repair OT was cancelled.
        case cancelled

        public var isOpen: Bool { self == .registered || self == .assigned || self == .qualityCheck || self == .escalated }
    }

    /// One damage case.
    @JSONMembers
    public struct Damage: Codable, Sendable, Equatable {
        public var damageId: String
        public var channel: DamageChannel
        public var fault: String
        public var reporter: Payer?
        public var address: String?
        public var referencePhone: String?
        /// Reiterations at registration: 0 for a first damage, the previous damage's count + 1
        /// after one closed without solution.
        public var reiteration: Int
        /// Reports received while it was open.
        public var reports: Int = 0
        public var previousDamageId: String?
        public var registeredAt: Date
        /// When it became a reiterated damage (the KPI's month).
        public var reiteratedAt: Date?
        public var workOrderIds: [String] = []
        /// The OT it waits for.
        public var workOrderId: String?
        public var phase: Phase
        public var qualityDueAt: Date?
        public var qualityChecks: Int = 0
        public var escalationStep: Int = 0
        public var closedAt: Date?
        public var solvedAt: Date?
        public var how: DamageSolution?

        /// Its reiterations so far.
        public var count: Int { reiteration + reports }
        public var reiterated: Bool { count > 0 }
    }

    @JSONMembers
    public struct State: AggregateState {
        public var productId: String
        public var productType: ProductType?
        public var customer: Customer
        /// Oldest first.
        public var damages: [Damage] = []
        public var lastWorkOrderId: String?
        public var lastWorkOrderCancelled: Bool = false

        /// The last damage's phase, or `known` (only OTs seen).
        public var status: String { damages.last?.phase.rawValue ?? "known" }
        public var current: Damage? { damages.last }
        var product: ProductRef { ProductRef(id: productId, type: productType ?? .line) }
    }

    public enum Input: Sendable {
        case report(ReportDamage)
        case workOrderOpened(WorkOrderOpened)
        case assigned(workOrderId: String)
        case closed(WorkOrderClosed)
        case cancelled(workOrderId: String)
        case qualityCheck(RecordDamageQualityCheck)
        case escalation(RecordEscalationResult)
        case qualityDue
    }

    /// Who takes each step of the escalation ladder.
    public static let ladder = [
        1: "technician (returns with priority)", 2: "supervisor (immediate OT)", 3: "network division",
        4: "head of the operations center",
    ]

    static let open: [Phase] = [.registered, .assigned]
    static let closedPhases = ["known", Phase.solved.rawValue, Phase.unsolved.rawValue, Phase.unfounded.rawValue, Phase.cancelled.rawValue]

    static var transitions: [StateMachine.Transition] {
        typealias T = StateMachine.Transition
        let registered = Phase.registered.rawValue, solved = Phase.solved.rawValue
        var t: [T] = []
        for from in [nil] + closedPhases.map(Optional.some) {
            t.append(T(from, registered, on: ReportDamage.type))
            t.append(T(from, solved, on: ReportDamage.type))
        }
        t.append(T(nil, "known", on: WorkOrderOpened.type))
        t.append(T(registered, Phase.assigned.rawValue, on: WorkOrderAssigned.type))
        for from in open.map(\.rawValue) {
            for to in [Phase.qualityCheck, .unsolved, .unfounded] { t.append(T(from, to.rawValue, on: WorkOrderClosed.type)) }
            t.append(T(from, Phase.cancelled.rawValue, on: WorkOrderCancelled.type))
        }
        for to in [Phase.solved, .registered, .escalated] {
            t.append(T(Phase.qualityCheck.rawValue, to.rawValue, on: RecordDamageQualityCheck.type))
        }
        t.append(T(Phase.escalated.rawValue, solved, on: RecordEscalationResult.type))
        return t
    }

    public static let machine = StateMachine(
        title: "damage cases of a product", procedure: "COM-GCM-P12",
        states: [.init("known")] + Phase.allCases.map { .init($0.rawValue) }, transitions: transitions)

    public static func timerFired(_ name: String, dueAt: Date) -> Input? { name == qualityTimer ? .qualityDue : nil }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .report(let c):
            return try report(state, c, &context)

        case .workOrderOpened(let e):
            guard let productId = e.productId else { return .ignore("work order \(e.workOrderId) names no product") }
            var s = state ?? State(productId: productId, productType: e.productType, customer: e.customer)
            s.productType = e.productType ?? s.productType
            let reissue = s.lastWorkOrderCancelled && s.lastWorkOrderId != e.workOrderId
            if s.lastWorkOrderId != e.workOrderId {
                s.lastWorkOrderId = e.workOrderId
                s.lastWorkOrderCancelled = false
            }
            let history = state == nil ? [HistoryEntry(WorkOrderOpened.type, from: nil, to: s.status, reason: e.workOrderId)] : []
            return Decision(
                state: s, history: history, aliases: [e.workOrderId],
                followUps: [.to(PriorityWorkOrder.self, e.workOrderId, .opened(e, reissue: reissue))])

        case .assigned(let id):
            guard let s = state, var d = s.current, d.workOrderId == id, d.phase == .registered else {
                return .ignore("assignment of work order \(id): no damage waits for it")
            }
            d.phase = .assigned
            return s.replacing(d, HistoryEntry(WorkOrderAssigned.type, from: Phase.registered.rawValue, to: d.phase.rawValue, reason: id))

        case .closed(let e):
            guard let s = state, var d = s.current, d.workOrderId == e.workOrderId, open.contains(d.phase) else {
                return .ignore("closing of work order \(e.workOrderId): no damage waits for it")
            }
            let from = d.phase.rawValue
            var events: [any Message] = []
            var timers: [TimerChange] = []
            switch e.outcome {
            case .resolved:
                d.phase = .qualityCheck
                let closedAt = min(e.closedAt, now)
                if ProductGroup(s.productType ?? .line).checkedAfter24Hours {
                    let due = closedAt.addingTimeInterval(qualityDelay)
                    d.qualityDueAt = due
                    timers = [.set(qualityTimer, at: due)]
                } else {
                    // Telephony and TV: the operations center calls the client now.
                    d.qualityDueAt = closedAt
                    events = [DamageQualityCheckDue(damageId: d.damageId, workOrderId: e.workOrderId, dueAt: closedAt)]
                }
            case .unresolved:
                d.phase = .unsolved
                d.closedAt = now
            case .unfounded:
                d.phase = .unfounded
                d.closedAt = now
            }
            return s.replacing(
                d, HistoryEntry(WorkOrderClosed.type, from: from, to: d.phase.rawValue, reason: "\(e.workOrderId) \(e.outcome.rawValue)"),
                events: events, timers: timers)

        case .cancelled(let id):
            guard var s = state else { return .ignore("cancellation of work order \(id), unknown") }
            var changed = false
            if s.lastWorkOrderId == id, !s.lastWorkOrderCancelled {
                s.lastWorkOrderCancelled = true
                changed = true
            }
            if var d = s.current, d.workOrderId == id, open.contains(d.phase) {
                let from = d.phase.rawValue
                d.phase = .cancelled
                d.closedAt = now
                return s.replacing(d, HistoryEntry(WorkOrderCancelled.type, from: from, to: d.phase.rawValue, reason: id))
            }
            return changed
                ? Decision(state: s, history: [HistoryEntry(WorkOrderCancelled.type, from: nil, to: nil, reason: "\(id): the next OT is its re-issue")])
                : .ignore("cancellation of work order \(id): nothing waits for it")

        case .qualityDue:
            guard let s = state, let d = s.current, d.phase == .qualityCheck, let due = d.qualityDueAt, let ot = d.workOrderId else {
                return .ignore("quality-check timer of a damage no longer waiting for it")
            }
            return Decision(
                state: s, history: [HistoryEntry(DamageQualityCheckDue.type, from: nil, to: nil, reason: d.damageId)],
                events: [DamageQualityCheckDue(damageId: d.damageId, workOrderId: ot, dueAt: due)])

        case .qualityCheck(let c):
            try Rejection.requireNonEmpty([("data.damageId", c.damageId)])
            var (s, d) = try damage(state, c.damageId, in: .qualityCheck, "record a quality check")
            if let due = d.qualityDueAt, now < due {
                throw Rejection.invalidTransition(
                    "the quality check of damage \(c.damageId) is due at \(Wire.timestamp(due)) (24 h after its repair OT closed)",
                    field: "data.damageId", problem: "quality check not due yet")
            }
            d.qualityChecks += 1
            let from = d.phase.rawValue
            let product = s.product
            if c.ok || c.problem == .configuration {
                // A configuration problem is fixed from the system.
                return s.solving(d, how: c.ok ? .field : .qualityCheck, now: now, product: product, from: from, on: RecordDamageQualityCheck.type,
                                 reason: c.ok ? "quality check ok" : "configuration fixed from the system")
            }
            if c.problem == .line || !d.reiterated {
                // A line problem (or a first damage still failing): an immediate OT.
                return immediateOT(&s, d, from: from, on: RecordDamageQualityCheck.type, reason: "quality check failed (\(c.problem?.rawValue ?? "service")): immediate OT")
            }
            // Still failing on a reiterated claim: the escalation ladder, step 1.
            d.phase = .escalated
            d.escalationStep = 1
            return s.replacing(
                d, HistoryEntry(RecordDamageQualityCheck.type, from: from, to: d.phase.rawValue, by: ladder[1], reason: "step 1"),
                events: [WorkOrderEscalated(workOrderId: d.workOrderId ?? d.workOrderIds.last ?? "", step: 1, to: ladder[1]!, damageId: d.damageId)])

        case .escalation(let c):
            try Rejection.requireNonEmpty([("data.damageId", c.damageId)])
            var (s, d) = try damage(state, c.damageId, in: .escalated, "record an escalation result")
            let from = d.phase.rawValue
            if c.solved {
                return s.solving(d, how: .escalation, now: now, product: s.product, from: from, on: RecordEscalationResult.type,
                                 reason: "solved at step \(d.escalationStep) (\(ladder[d.escalationStep] ?? ""))")
            }
            guard d.escalationStep < 4 else {
                return s.replacing(
                    d, HistoryEntry(RecordEscalationResult.type, from: nil, to: nil, by: ladder[4],
                                    reason: "still unsolved at the top of the ladder: the head of the operations center keeps it"))
            }
            d.escalationStep += 1
            let step = d.escalationStep
            if step == 2 {
                // The supervisor generates an immediate OT.
                let ot = repairWorkOrderId(d)
                var decision = immediateOT(&s, d, from: from, on: RecordEscalationResult.type, reason: "step 2", keepPhase: true)
                decision.events.append(WorkOrderEscalated(workOrderId: ot, step: step, to: ladder[step]!, damageId: d.damageId))
                return decision
            }
            return s.replacing(
                d, HistoryEntry(RecordEscalationResult.type, from: nil, to: nil, by: ladder[step], reason: "step \(step)"),
                events: [WorkOrderEscalated(workOrderId: d.workOrderIds.last ?? "", step: step, to: ladder[step]!, damageId: d.damageId)])
        }
    }

    // MARK: Reports

    static func report(_ state: State?, _ c: ReportDamage, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        try Rejection.requireNonEmpty([("data.customer.id", c.customer.id), ("data.product.id", c.product.id), ("data.fault", c.fault)])
        let now = context.now
        var s = state ?? State(productId: c.product.id, productType: c.product.type, customer: c.customer)
        s.productType = c.product.type
        s.customer = c.customer
        let product = s.product

        if var d = s.current, d.phase.isOpen {
            // A reiteration: no new OT; the caller is told the estimated repair time.
            d.reports += 1
            d.reiteratedAt = d.reiteratedAt ?? now
            let line = HistoryEntry(ReportDamage.type, from: nil, to: nil, reason: "reiteration \(d.count) via \(c.channel.rawValue) while \(d.phase.rawValue)")
            if open.contains(d.phase), let ot = d.workOrderId {
                // Its repair OT is re-levelled and tells the caller its new deadline.
                var decision = s.replacing(d, line)
                decision.followUps = [facts(ot, d, product: product, immediate: d.qualityChecks > 0 || d.escalationStep > 0, reiterated: true)]
                return decision
            }
            return s.replacing(
                d, line, events: [DamageReiterated(damageId: d.damageId, previousDamageId: d.damageId, count: d.count, product: product)])
        }

        // A new damage: who reports it, where and how to call back are mandatory.
        var missing: [FieldProblem] = []
        if (c.reporter?.name ?? "").isBlank {
            missing.append(FieldProblem(field: "data.reporter.name", problem: "a new damage needs the reporter's name"))
        }
        if (c.referencePhone ?? "").isBlank {
            missing.append(FieldProblem(field: "data.referencePhone", problem: "a new damage needs a reference phone"))
        }
        if (c.address ?? "").isBlank {
            missing.append(FieldProblem(field: "data.address", problem: "a new damage needs the address"))
        }
        if !missing.isEmpty { throw Rejection.validation(missing) }

        let previous = s.current.flatMap { $0.phase == .unsolved ? $0 : nil }
        let number = try context.next(damageNumber)
        let id = "DN-\(zeroPadded(Day(now).year, width: 4))-\(zeroPadded(number, width: 6))"
        var d = Damage(
            damageId: id, channel: c.channel, fault: previous?.fault ?? c.fault, reporter: c.reporter, address: c.address,
            referencePhone: c.referencePhone, reiteration: previous.map { $0.count + 1 } ?? 0, previousDamageId: previous?.damageId,
            registeredAt: now, phase: .registered)
        if previous != nil { d.reiteratedAt = now }
        let from = state?.status
        var events: [any Message] = []
        var aliases = [id]
        var followUps: [Target] = []
        if c.resolvedRemotely == true {
            // The help desk fixed it on the line: no OT.
            d.phase = .solved
            d.solvedAt = now
            d.closedAt = now
            d.how = .remote
        } else {
            let ot = repairWorkOrderId(d)
            d.workOrderIds = [ot]
            d.workOrderId = ot
            aliases.append(ot)
            followUps = [facts(ot, d, product: product, immediate: false, reissue: s.opens(ot))]
        }
        events.append(
            DamageRegistered(
                damageId: id, product: product, workOrderId: d.workOrderId, reiteration: d.reiteration, channel: c.channel, fault: d.fault))
        if let previous {
            events.append(DamageReiterated(damageId: id, previousDamageId: previous.damageId, count: d.reiteration, product: product))
        }
        if let ot = d.workOrderId {
            events.append(repairOrder(ot, d, s, description: "Reparación: \(d.fault)"))
        } else {
            events.append(DamageSolved(damageId: id, product: product, reiterated: d.reiterated, solvedAt: now, how: .remote))
        }
        s.damages.append(d)
        let reason = "\(id) via \(c.channel.rawValue)\(previous.map { ", reiteration \(d.reiteration) of \($0.damageId)" } ?? "")"
        return Decision(
            state: s, history: [HistoryEntry(ReportDamage.type, from: from, to: d.phase.rawValue, by: c.reporter?.name, reason: reason)],
            events: events, aliases: aliases, followUps: followUps)
    }

    // MARK: Helpers

    /// The damage `id` of the product, which must be its current one and in `phase`.
    static func damage(_ state: State?, _ id: String, in phase: Phase, _ what: String) throws(Rejection) -> (State, Damage) {
        guard let s = state, let d = s.damages.first(where: { $0.damageId == id }) else {
            throw Rejection.notFound("no damage \(id)", field: "data.damageId", problem: "unknown damage")
        }
        guard d.damageId == s.current?.damageId, d.phase == phase else {
            throw Rejection.invalidTransition(
                "cannot \(what) for damage \(id): it is \(d.phase.rawValue)\(d.damageId == s.current?.damageId ? "" : " and not the product's current damage") (allowed when \(phase.rawValue))",
                field: "data.damageId", problem: "damage is \(d.phase.rawValue)")
        }
        return (s, d)
    }

    /// The id of the next repair OT of a damage (derived: a redelivery opens nothing twice).
    static func repairWorkOrderId(_ d: Damage) -> String {
        DerivedID.uuid("priority.repair", "\(d.damageId)#\(d.workOrderIds.count + 1)")
    }

    /// The repair OT's facts, for its priority.
    static func facts(_ ot: String, _ d: Damage, product: ProductRef, immediate: Bool, reiterated: Bool = false, reissue: Bool? = nil) -> Target {
        let f = PriorityWorkOrder.DamageFacts(
            damageId: d.damageId, product: product, channel: d.channel, reiteration: d.count, immediate: immediate, reissue: reissue)
        return .to(PriorityWorkOrder.self, ot, reiterated ? .reiterated(workOrderId: ot, f) : .damage(workOrderId: ot, f), trigger: PriorityWorkOrder.damageTrigger)
    }

    static func repairOrder(_ ot: String, _ d: Damage, _ s: State, description: String) -> OpenWorkOrder {
        var text = "\(description) — daño \(d.damageId), producto \(s.productId)"
        if let address = d.address { text += ", \(address)" }
        if let phone = d.referencePhone { text += ", tel. ref. \(phone)" }
        return OpenWorkOrder(
            workOrderId: ot, kind: .repair, customer: s.customer,
            documents: [], description: text, productId: s.productId, productType: s.productType, damageId: d.damageId)
    }

    /// Opens an immediate OT for the damage (quality control's line problem, the supervisor's step).
    static func immediateOT(_ s: inout State, _ damage: Damage, from: String, on trigger: String, reason: String, keepPhase: Bool = false) -> Decision<State> {
        var d = damage
        let ot = repairWorkOrderId(d)
        d.workOrderIds.append(ot)
        if !keepPhase {
            d.phase = .registered
            d.workOrderId = ot
            d.qualityDueAt = nil
        }
        let product = s.product
        var decision = s.replacing(
            d, HistoryEntry(trigger, from: keepPhase ? nil : from, to: keepPhase ? nil : d.phase.rawValue, reason: "\(reason): \(ot)"),
            events: [repairOrder(ot, d, s, description: "OT inmediata: \(d.fault)")])
        decision.aliases = [ot]
        let reissue = decision.state?.opens(ot) ?? false
        decision.followUps = [facts(ot, d, product: product, immediate: true, reissue: reissue)]
        return decision
    }
}

extension ProductDamages.State {
    /// Whether an OT `ot` the damage opens now re-issues a cancelled one (the product's last OT
    /// was cancelled); records it as the product's last OT. A repair OT's opening then goes
    /// straight to its OT, which knows this from its damage's facts.
    mutating func opens(_ ot: String) -> Bool {
        let reissue = lastWorkOrderCancelled && lastWorkOrderId != ot
        lastWorkOrderId = ot
        lastWorkOrderCancelled = false
        return reissue
    }

    /// The state with its current damage replaced by `d`.
    func replacing(
        _ d: ProductDamages.Damage, _ line: HistoryEntry, events: [any Message] = [], timers: [TimerChange] = []
    ) -> Decision<ProductDamages.State> {
        var s = self
        s.damages[s.damages.count - 1] = d
        return Decision(state: s, history: [line], events: events, timers: timers)
    }

    /// The current damage solved.
    func solving(
        _ damage: ProductDamages.Damage, how: DamageSolution, now: Date, product: ProductRef, from: String, on trigger: String, reason: String
    ) -> Decision<ProductDamages.State> {
        var d = damage
        d.phase = .solved
        d.solvedAt = now
        d.closedAt = now
        d.how = how
        return replacing(
            d, HistoryEntry(trigger, from: from, to: d.phase.rawValue, reason: reason),
            events: [DamageSolved(damageId: d.damageId, product: product, reiterated: d.reiterated, solvedAt: now, how: how)],
            timers: [.clear(ProductDamages.qualityTimer)])
    }
}
