import Contracts
import Foundation
import Priority
import Runtime
import Testing

/// The owned messages check of the tables: events priority owns, and the commands it may send
/// (a repair OT's `workorder.open`), per the platform catalog. ``MachineTable/audit`` checks
/// events only, so its finding about the command is replaced by this check.
func checkOwnedMessages(_ emitted: Set<String>) throws {
    let priority = try #require(PlatformCatalog.participant("priority"))
    for type in emitted.sorted() {
        switch MessageRegistry.descriptor(for: type)?.kind {
        case .event?: #expect(priority.events.contains(type), "priority emits the event \(type), which it does not own")
        case .command?: #expect(priority.commands.contains(type), "priority sends the command \(type), which it may not send")
        default: Issue.record("\(type) is not a registered message")
        }
    }
}

/// The damage cases of a product, exhaustively: every state × every input, with the expected
/// effect of each cell written down. An internet product of a residential customer; its damage
/// DN-2026-000001 waits for the repair OT `ot1`; the table decides three days after t0.
@Suite("damage cases of a product: every state × every input")
struct ProductDamagesMachineTests {
    typealias Product = ProductDamages
    typealias Table = MachineTable<Product, Given>

    enum Given: CaseIterable, Sendable {
        case report, reportRemote, opened, assigned, closedResolved, closedUnresolved, closedUnfounded, cancelled
        case qualityOk, qualityLine, qualityService, escalationSolved, escalationUnsolved, qualityDue
    }

    static func column(of input: Product.Input) -> Given {
        switch input {
        case .report(let c): c.resolvedRemotely == true ? .reportRemote : .report
        case .workOrderOpened: .opened
        case .assigned: .assigned
        case .closed(let e): e.outcome == .resolved ? .closedResolved : e.outcome == .unresolved ? .closedUnresolved : .closedUnfounded
        case .cancelled: .cancelled
        case .qualityCheck(let c): c.ok ? .qualityOk : c.problem == .line ? .qualityLine : .qualityService
        case .escalation(let c): c.solved ? .escalationSolved : .escalationUnsolved
        case .qualityDue: .qualityDue
        }
    }

    static let now = P.hours(72)
    static let dn1 = P.damageId(1)
    static let ot1 = P.repairOT(dn1)

    static func input(_ given: Given) -> (input: Product.Input, trigger: String) {
        switch given {
        case .report: (.report(P.report()), ReportDamage.type)
        case .reportRemote: (.report(P.report(channel: .helpDesk, remote: true)), ReportDamage.type)
        case .opened: (.workOrderOpened(P.opened(ot1, damageId: dn1)), WorkOrderOpened.type)
        case .assigned: (.assigned(workOrderId: ot1), WorkOrderAssigned.type)
        case .closedResolved: (.closed(P.closed(ot1, .resolved, at: now)), WorkOrderClosed.type)
        case .closedUnresolved: (.closed(P.closed(ot1, .unresolved, at: now)), WorkOrderClosed.type)
        case .closedUnfounded: (.closed(P.closed(ot1, .unfounded, at: now)), WorkOrderClosed.type)
        case .cancelled: (.cancelled(workOrderId: ot1), WorkOrderCancelled.type)
        case .qualityOk: (P.quality(dn1, ok: true), RecordDamageQualityCheck.type)
        case .qualityLine: (P.quality(dn1, ok: false, problem: .line), RecordDamageQualityCheck.type)
        case .qualityService: (P.quality(dn1, ok: false, problem: .service), RecordDamageQualityCheck.type)
        case .escalationSolved: (P.escalation(dn1, solved: true), RecordEscalationResult.type)
        case .escalationUnsolved: (P.escalation(dn1, solved: false), RecordEscalationResult.type)
        case .qualityDue: (.qualityDue, StateMachine.timer(Product.qualityTimer))
        }
    }

    /// One product per state, each reached the way the service reaches it. `qualityCheck` and
    /// `escalated` are reiterated damages (reported again while open), so that a failing service
    /// goes up the ladder.
    static func states() throws -> [Product.State] {
        let known = try P.step(Product.self, nil, .workOrderOpened(P.opened("W-INST", kind: .installation)))
        let registered = try P.withOpenOT()
        let assigned = try P.step(Product.self, registered, .assigned(workOrderId: ot1), at: P.hours(1))
        let checking = try P.closedOT(P.internet, .resolved, reiterated: true)
        let escalated = try P.step(Product.self, checking, P.quality(dn1, ok: false, problem: .service), at: P.hours(27))
        let solved = try P.step(Product.self, try P.closedOT(P.internet, .resolved), P.quality(dn1, ok: true), at: P.hours(27))
        let unsolved = try P.closedOT(P.internet, .unresolved)
        let unfounded = try P.closedOT(P.internet, .unfounded)
        let cancelled = try P.step(Product.self, registered, .cancelled(workOrderId: ot1), at: P.hours(1))
        return [known, registered, assigned, checking, escalated, solved, unsolved, unfounded, cancelled]
    }

    static func table() throws -> Table { try Table(service: PriorityService.definition, states: states(), now: now, input: input) }

    static let registered = DamageRegistered.type, reiterated = DamageReiterated.type, open = OpenWorkOrder.type
    static let solved = DamageSolved.type, escalated = WorkOrderEscalated.type, due = DamageQualityCheckDue.type
    static let ot = PriorityWorkOrder.kind

    /// A report on a product without an open damage; after one closed without solution it is
    /// reiterated.
    static func newDamage(reiterating: Bool = false) -> [Given: Table.Effect] {
        let r = reiterating ? [reiterated] : []
        return [
            .report: .transition(to: "registered", emits: [registered] + r + [open], followUps: [ot]),
            .reportRemote: .transition(to: "solved", emits: [registered] + r + [solved]),
        ]
    }

    /// What every input does to a damage case that no longer waits for anything.
    static func closed(_ extra: [Given: Table.Effect]) -> [Given: Table.Effect] {
        var row: [Given: Table.Effect] = [
            .opened: .unchanged(followUps: [ot]),
            .assigned: .ignored, .closedResolved: .ignored, .closedUnresolved: .ignored, .closedUnfounded: .ignored,
            // The product's last OT cancelled: the next one is its re-issue (a line, no transition).
            .cancelled: .unchanged(),
            .qualityOk: .rejected(.invalidTransition), .qualityLine: .rejected(.invalidTransition),
            .qualityService: .rejected(.invalidTransition), .escalationSolved: .rejected(.invalidTransition),
            .escalationUnsolved: .rejected(.invalidTransition), .qualityDue: .ignored,
        ]
        row.merge(extra) { $1 }
        return row
    }

    /// A damage waiting for its repair OT.
    static func waiting(_ phase: String) -> [Given: Table.Effect] {
        [
            // The repair OT is re-levelled and tells the caller (damage.reiterated) its new deadline.
            .report: .unchanged(followUps: [ot]), .reportRemote: .unchanged(followUps: [ot]),
            .opened: .unchanged(followUps: [ot]),
            .assigned: phase == "registered" ? .transition(to: "assigned") : .ignored,
            .closedResolved: .transition(to: "qualityCheck", timers: ["+quality"]),
            .closedUnresolved: .transition(to: "unsolved"), .closedUnfounded: .transition(to: "unfounded"),
            .cancelled: .transition(to: "cancelled"),
            .qualityOk: .rejected(.invalidTransition), .qualityLine: .rejected(.invalidTransition),
            .qualityService: .rejected(.invalidTransition), .escalationSolved: .rejected(.invalidTransition),
            .escalationUnsolved: .rejected(.invalidTransition), .qualityDue: .ignored,
        ]
    }

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: newDamage().merging([
            .opened: .transition(to: "known", followUps: [ot]),
            .assigned: .ignored, .closedResolved: .ignored, .closedUnresolved: .ignored, .closedUnfounded: .ignored, .cancelled: .ignored,
            .qualityOk: .rejected(.notFound), .qualityLine: .rejected(.notFound), .qualityService: .rejected(.notFound),
            .escalationSolved: .rejected(.notFound), .escalationUnsolved: .rejected(.notFound), .qualityDue: .ignored,
        ]) { $1 },
        // Known from an installation OT only.
        "known": newDamage().merging([
            .opened: .unchanged(followUps: [ot]),
            .assigned: .ignored, .closedResolved: .ignored, .closedUnresolved: .ignored, .closedUnfounded: .ignored,
            // Not its last OT.
            .cancelled: .ignored,
            .qualityOk: .rejected(.notFound), .qualityLine: .rejected(.notFound), .qualityService: .rejected(.notFound),
            .escalationSolved: .rejected(.notFound), .escalationUnsolved: .rejected(.notFound), .qualityDue: .ignored,
        ]) { $1 },
        "registered": waiting("registered"),
        "assigned": waiting("assigned"),
        // Repaired, reiterated, its check due since t0 + 26 h.
        "qualityCheck": closed([
            .report: .unchanged(emits: [reiterated]), .reportRemote: .unchanged(emits: [reiterated]),
            .qualityOk: .transition(to: "solved", emits: [solved], timers: ["-quality"]),
            .qualityLine: .transition(to: "registered", emits: [open], followUps: [ot]),
            .qualityService: .transition(to: "escalated", emits: [escalated]),
            .qualityDue: .unchanged(emits: [due]),
        ]),
        // At step 1 of the ladder.
        "escalated": closed([
            .report: .unchanged(emits: [reiterated]), .reportRemote: .unchanged(emits: [reiterated]),
            .escalationSolved: .transition(to: "solved", emits: [solved], timers: ["-quality"]),
            // Step 2: the supervisor's immediate OT.
            .escalationUnsolved: .unchanged(emits: [open, escalated], followUps: [ot]),
        ]),
        "solved": closed(newDamage()),
        "unsolved": closed(newDamage(reiterating: true)),
        "unfounded": closed(newDamage()),
        "cancelled": closed(newDamage().merging([.cancelled: .ignored]) { $1 }),
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken; owned messages checked on their own.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        let table = try Self.table()
        let problems = table.audit(Self.expected, owner: "priority", column: Self.column(of:))
        for problem in problems where problem != "priority emits events it does not own: [\"workorder.open\"]" { Issue.record("\(problem)") }
        try checkOwnedMessages(table.emitted)
        #expect(table.emitted.isSuperset(of: [Self.registered, Self.reiterated, Self.open, Self.solved, Self.escalated, Self.due]))
    }

    @Test func noInputLeavesTheDeclaredStates() throws {
        let declared = Set(Product.machine.states.map(\.name))
        #expect(declared == ["known", "registered", "assigned", "qualityCheck", "escalated", "solved", "unsolved", "unfounded", "cancelled"])
        for cell in try Self.table().cells {
            if case .success(let d) = cell.result, let s = d.state, !declared.contains(s.status) { Issue.record("\(cell) ends in \(s.status)") }
        }
    }
}

/// The priority of an OT, exhaustively: every state × every input. A multimedia repair of a
/// residential customer, opened at t0; the table decides at 72 h, when its age row applies.
@Suite("work order priority: every state × every input")
struct PriorityWorkOrderMachineTests {
    typealias OT = PriorityWorkOrder
    typealias Table = MachineTable<OT, Given>

    enum Given: CaseIterable, Sendable { case opened, reiterated, attended, closed, cancelled, rejected, age }

    static func column(of input: OT.Input) -> Given {
        switch input {
        case .opened: .opened
        case .damage, .reiterated: .reiterated
        case .ended(_, let how): how == "attended" ? .attended : how == "closed" ? .closed : how == "cancelled" ? .cancelled : .rejected
        case .age: .age
        }
    }

    static let id = "W-1"
    static let now = P.hours(72)

    static func facts(reiteration: Int) -> OT.Input {
        .damage(workOrderId: id, OT.DamageFacts(damageId: "DN-2026-000001", product: P.multipack, channel: .callCenter, reiteration: reiteration, immediate: false))
    }

    static func input(_ given: Given) -> (input: OT.Input, trigger: String) {
        switch given {
        case .opened: (.opened(P.opened(id, product: P.multipack), reissue: false), WorkOrderOpened.type)
        case .reiterated: (facts(reiteration: 1), OT.damageTrigger)
        case .attended: (.ended(workOrderId: id, how: "attended"), WorkOrderAttended.type)
        case .closed: (.ended(workOrderId: id, how: "closed"), WorkOrderClosed.type)
        case .cancelled: (.ended(workOrderId: id, how: "cancelled"), WorkOrderCancelled.type)
        case .rejected: (.ended(workOrderId: id, how: "rejected"), WorkOrderRejected.type)
        case .age: (.age, StateMachine.timer(OT.ageTimer))
        }
    }

    static func states() throws -> [OT.State] {
        let pending = try P.step(OT.self, nil, facts(reiteration: 0), at: P.t0)
        let open = try P.step(OT.self, pending, input(.opened).input, at: P.t0)
        let ended = try P.step(OT.self, open, .ended(workOrderId: id, how: "closed"), at: P.hours(10))
        return [pending, open, ended]
    }

    static func table() throws -> Table { try Table(service: PriorityService.definition, states: states(), now: now, input: input) }

    static let prioritized = WorkOrderPrioritized.type, vulnerable = DamageHighVulnerability.type
    static let product = ProductDamages.kind
    static let ending: [Given: Table.Effect] = [
        .attended: .transition(to: "ended", timers: ["-age"]), .closed: .transition(to: "ended", timers: ["-age"]),
        .cancelled: .transition(to: "ended", timers: ["-age"]), .rejected: .transition(to: "ended", timers: ["-age"]),
    ]

    static let expected: [String?: [Given: Table.Effect]] = [
        // Opened at 72 h (its own opening): level 4, the multimedia row due 72 h later.
        nil: [
            .opened: .transition(to: "open", emits: [prioritized], timers: ["+age"]),
            .reiterated: .transition(to: "pending"),
            .attended: .ignored, .closed: .ignored, .cancelled: .ignored, .rejected: .ignored, .age: .ignored,
        ],
        "pending": ending.merging([
            .opened: .transition(to: "open", emits: [prioritized], timers: ["+age"]),
            .reiterated: .unchanged(),
            .age: .ignored,
        ]) { $1 },
        // Opened at t0, level 4.
        "open": ending.merging([
            .opened: .ignored,
            // Repeated damage multimedia: level 2, high vulnerability; no age row can change it.
            .reiterated: .unchanged(emits: [prioritized, vulnerable], timers: ["-age"]),
            // Multimedia > 72 h: level 3.
            .age: .unchanged(emits: [prioritized], timers: ["-age"]),
        ]) { $1 },
        "ended": [
            .opened: .ignored, .reiterated: .unchanged(),
            .attended: .ignored, .closed: .ignored, .cancelled: .ignored, .rejected: .ignored, .age: .ignored,
        ],
    ]

    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        let table = try Self.table()
        for problem in table.audit(Self.expected, owner: "priority", column: Self.column(of:)) { Issue.record("\(problem)") }
        try checkOwnedMessages(table.emitted)
    }

    @Test func noInputLeavesTheDeclaredStates() throws {
        #expect(Set(OT.machine.states.map(\.name)) == ["pending", "open", "ended"])
        #expect(OT.machine.states.filter(\.isFinal).map(\.name) == ["ended"])
        for cell in try Self.table().cells {
            if case .success(let d) = cell.result, let s = d.state, !["pending", "open", "ended"].contains(s.status) {
                Issue.record("\(cell) ends in \(s.status)")
            }
        }
    }
}

