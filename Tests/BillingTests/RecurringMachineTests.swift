import Billing
import Contracts
import Foundation
import Runtime
import Testing

/// The recurring-billing machines, exhaustively: every state × every input, with the expected
/// effect of each cell written down (`RB`'s contract: a line and internet, in Bolivia).
@Suite("enterprise contract in billing: every state × every input")
struct BillingContractMachineTests {
    typealias C = BillingContract
    typealias Table = MachineTable<C, Given>

    /// The inputs: `contract.product-changed` three ways (a product added by a transfer, a plan
    /// change, a withdrawal dated in November), a fee, November's and December's bill timers
    /// and the payment of November's proforma.
    enum Given: CaseIterable, Sendable { case registered, added, planChanged, withdrawn, fee, billNovember, billDecember, payNovember }

    static func column(of input: C.Input) -> Given {
        switch input {
        case .registered: .registered
        case .productChanged(let e): e.change == .added ? .added : e.change == .withdrawn ? .withdrawn : .planChanged
        case .fee: .fee
        case .bill(let month, _): month == RB.november ? .billNovember : .billDecember
        case .payment: .payNovember
        }
    }

    static let now = RB.novemberRun.addingTimeInterval(3_600)
    static let faster = ContractProduct(id: "INT-1", type: .internet, monthly: .bolivianos(450), installedOn: Day(2020, 1, 10)!, technology: .copper)

    /// `payNovember` pays November's proforma of `active` (and `closed`) in full.
    static func input(_ given: Given, november: BillingContract.Proforma?) -> (input: C.Input, trigger: String) {
        let bill = StateMachine.timer("\(C.billTimer)#2026-11#2026-12-20")
        switch given {
        case .registered: return (.registered(RB.registered([RB.line, RB.internet])), ContractRegistered.type)
        case .added: return (.productChanged(RB.changed(RB.tv, .added, on: Day(2026, 11, 25)!, status: .active)), ContractProductChanged.type)
        case .planChanged:
            return (.productChanged(RB.changed(faster, .planChanged, on: Day(2026, 11, 15)!, status: .active)), ContractProductChanged.type)
        case .withdrawn: return (.productChanged(RB.withdrawn(RB.internet, on: Day(2026, 11, 20)!)), ContractProductChanged.type)
        case .fee: return (.fee(RB.fee("RC-9")), RecurringChargeAdded.type)
        case .billNovember: return (RB.bill(RB.november), bill)
        case .billDecember: return (RB.bill(RB.december), bill)
        case .payNovember:
            let id = november?.issued.proformaId ?? RecurringRules.proformaId(contractId: RB.contractId, month: RB.november)
            return (RB.pay(id, november?.issued.total ?? .bolivianos(419)), RecordProformaPayment.type)
        }
    }

    /// pending: known from a fee only; active: its line withdrawn on 2026-11-10, November billed,
    /// internet still active; closed: internet withdrawn on 2026-11-20 too (a month billed).
    static func representatives() throws -> (pending: C.State, active: C.State, closed: C.State) {
        let pending = try RB.step(C.self, nil, .fee(RB.fee("RC-1")), at: RB.registeredAt)
        var active = try RB.contract([RB.line, RB.internet])
        active = try RB.step(C.self, active, .productChanged(RB.withdrawn(RB.line, on: Day(2026, 11, 10)!)), at: RB.midNovember)
        active = try RB.step(C.self, active, RB.bill(RB.november), at: RB.novemberRun)
        let closed = try RB.step(C.self, active, .productChanged(RB.withdrawn(RB.internet, on: Day(2026, 11, 20)!)), at: RB.novemberRun)
        #expect([pending.status, active.status, closed.status] == ["pending", "active", "closed"])
        return (pending, active, closed)
    }

    static func table() throws -> Table {
        let r = try representatives()
        let november = r.active.proformas.first { $0.issued.month == RB.november }
        return Table(service: BillingService.definition, states: [r.pending, r.active, r.closed], now: now) { input($0, november: november) }
    }

    static let proration = ProrationComputed.type
    static let expected: [String?: [Given: Table.Effect]] = [
        // A change or a fee before the registration makes a pending contract.
        nil: [
            .registered: .transition(to: "active"), .added: .transition(to: "pending"), .planChanged: .transition(to: "pending"),
            .withdrawn: .transition(to: "pending", emits: [proration]), .fee: .transition(to: "pending"),
            .billNovember: .ignored, .billDecember: .ignored, .payNovember: .rejected(.notFound),
        ],
        "pending": [
            .registered: .transition(to: "active"), .added: .transition(to: "pending"), .planChanged: .transition(to: "pending"),
            .withdrawn: .transition(to: "pending", emits: [proration]), .fee: .transition(to: "pending"),
            .billNovember: .ignored, .billDecember: .ignored, .payNovember: .rejected(.notFound),
        ],
        "active": [
            .registered: .ignored, .added: .transition(to: "active"), .planChanged: .transition(to: "active"),
            // Its last product withdrawn in a month already billed.
            .withdrawn: .transition(to: "closed", emits: [proration]), .fee: .transition(to: "active"),
            .billNovember: .ignored,
            .billDecember: .transition(to: "active", emits: [ProformaIssued.type], followUps: [BillingCyclePart.kind]),
            .payNovember: .transition(to: "active", emits: [ProformaPaid.type]),
        ],
        "closed": [
            .registered: .ignored,
            // A product added (a transfer with a change of technology) opens it again.
            .added: .transition(to: "active"),
            .planChanged: .transition(to: "closed"), .withdrawn: .ignored,
            // A fee opens it again for the next cycle.
            .fee: .transition(to: "active"),
            .billNovember: .ignored,
            // A bill timer set while it was active, fired after it closed: nothing left to bill.
            .billDecember: .ignored,
            // Its last proforma can still be paid.
            .payNovember: .transition(to: "closed", emits: [ProformaPaid.type]),
        ],
    ]

    /// Decided but refused by the runtime: transitions the machine does not declare
    /// (RecurringBilling.swift, `BillingContract.machine`).
    /// Taken only by an active contract whose every product is withdrawn in a month not billed
    /// yet: see ``theBillThatEndsAContractsLastMonthClosesIt()``.
    static let coveredElsewhere = "no cell takes the declared transition active → closed on timer:bill"

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        let problems = try Self.table().audit(Self.expected, owner: "billing", column: Self.column(of:))
        for problem in problems where problem != Self.coveredElsewhere { Issue.record("\(problem)") }
    }

    /// The one transition a single active representative cannot take with the other: an active
    /// contract whose every product is withdrawn in December (requested ahead), November billed;
    /// December's bill closes it. With the main table, every declared transition is taken.
    @Test func theBillThatEndsAContractsLastMonthClosesIt() throws {
        var s = try RB.contract([RB.line, RB.internet])
        s = try RB.step(C.self, s, .productChanged(RB.withdrawn(RB.line, on: Day(2026, 12, 5)!)), at: RB.midNovember)
        s = try RB.step(C.self, s, .productChanged(RB.withdrawn(RB.internet, on: Day(2026, 12, 10)!)), at: RB.midNovember)
        s = try RB.step(C.self, s, RB.bill(RB.november), at: RB.novemberRun)
        #expect(s.status == "active")
        let november = s.proformas.first { $0.issued.month == RB.november }
        let table = Table(service: BillingService.definition, states: [s], now: Self.now) { Self.input($0, november: november) }
        let row: [Given: Table.Effect] = [
            .registered: .ignored, .added: .transition(to: "active"), .planChanged: .transition(to: "active"),
            // Internet's withdrawal on 2026-12-10 stays its last change.
            .withdrawn: .transition(to: "active", emits: [Self.proration]), .fee: .transition(to: "active"),
            .billNovember: .ignored,
            .billDecember: .transition(to: "closed", emits: [ProformaIssued.type], followUps: [BillingCyclePart.kind]),
            .payNovember: .transition(to: "active", emits: [ProformaPaid.type]),
        ]
        for cell in table.cells where cell.state != nil && cell.effect != row[cell.column] {
            Issue.record("\(cell) decides \(cell.effect); the row says \(row[cell.column].map(\.description) ?? "nothing")")
        }
        for (cell, rejection) in table.refusals { Issue.record("the runtime refuses \(cell): \(rejection)") }
        #expect(table.taken.contains(.init("active", "closed", on: StateMachine.timer(C.billTimer))))
        let taken = try Self.table().taken.union(table.taken)
        let dead = C.machine.transitions.filter { !taken.contains($0) }
        #expect(dead.isEmpty, "never taken: \(dead.map { "\($0.from ?? "∅") → \($0.to) on \($0.on)" })")
    }

    @Test func noInputLeavesTheDeclaredStates() throws {
        let declared = Set(C.machine.states.map(\.name))
        #expect(declared == ["pending", "active", "closed"])
        for cell in try Self.table().cells {
            if case .transition(let to, _, _, _) = cell.effect, !declared.contains(to) { Issue.record("\(cell) moves to \(to)") }
        }
    }
}

@Suite("billing cycle of a month: every state × every input")
struct BillingCycleMachineTests {
    typealias Cycle = BillingCycle
    typealias Table = MachineTable<Cycle, Given>

    /// `counted` is the follow-up of a part's `collect` (its trigger is the complete timer's).
    enum Given: CaseIterable, Sendable { case run, complete, counted }

    static func column(of input: Cycle.Input) -> Given {
        switch input {
        case .run: .run
        case .complete: .complete
        case .counted: .counted
        }
    }

    static let now = RB.novemberRun.addingTimeInterval(3_600)
    static let lastPart = DecisionContext.shards - 1

    static func input(_ given: Given) -> (input: Cycle.Input, trigger: String) {
        switch given {
        case .run: (.run(RunBillingCycle(month: RB.november, dueBy: nil, contractIds: nil)), RunBillingCycle.type)
        case .complete: (.complete, StateMachine.timer(Cycle.completeTimer))
        case .counted: (.counted(part: lastPart, proformas: 5), StateMachine.timer(Cycle.completeTimer))
        }
    }

    /// `running` is represented completing, every part but the last counted (a run only waiting
    /// for its timer decides `complete` as ``RecurringBillingTests``' cycle tests show).
    static func table() throws -> Table {
        var completing = try RB.step(Cycle.self, nil, input(.run).input, at: RB.novemberRun)
        completing = try RB.step(Cycle.self, completing, .complete, at: RB.novemberRun)
        for k in 0..<lastPart { completing = try RB.step(Cycle.self, completing, .counted(part: k, proformas: 1), at: RB.novemberRun) }
        let completed = try RB.step(Cycle.self, completing, .counted(part: lastPart, proformas: 0), at: RB.novemberRun.addingTimeInterval(1))
        return Table(service: BillingService.definition, states: [completing, completed], now: now, input: input)
    }

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [.run: .transition(to: "running", timers: ["+complete"]), .complete: .ignored, .counted: .ignored],
        "running": [
            .run: .rejected(.invalidTransition),
            // Completing already: its parts are being counted.
            .complete: .ignored,
            .counted: .transition(to: "completed", emits: [BillingCycleCompleted.type]),
        ],
        "completed": [.run: .transition(to: "running", timers: ["+complete"]), .complete: .ignored, .counted: .ignored],
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "billing", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    /// Every part of a month's count: a proforma adds one (the first creates the part); the run
    /// completing collects it (its count to the cycle, the part from zero again).
    @Test func thePartsTableCoversItsMachine() throws {
        let counting = try RB.step(BillingCyclePart.self, nil, .billed(RB.november, part: 3), at: RB.novemberRun)
        let table = MachineTable<BillingCyclePart, PartGiven>(
            service: BillingService.definition, states: [counting], now: Self.now,
            input: { g in
                switch g {
                case .billed: (.billed(RB.november, part: 3), StateMachine.timer("\(BillingContract.billTimer)#2026-11#2026-12-20"))
                case .collect: (.collect(RB.november, part: 3), StateMachine.timer(Cycle.completeTimer))
                }
            })
        let expected: [String?: [PartGiven: MachineTable<BillingCyclePart, PartGiven>.Effect]] = [
            nil: [.billed: .transition(to: "counting"), .collect: .unchanged(followUps: [Cycle.kind])],
            "counting": [.billed: .unchanged(), .collect: .unchanged(followUps: [Cycle.kind])],
        ]
        let column: (BillingCyclePart.Input) -> PartGiven = { i in
            switch i {
            case .billed: .billed
            case .collect: .collect
            }
        }
        for problem in table.audit(expected, owner: "billing", column: column) { Issue.record("\(problem)") }
        #expect(try RB.step(BillingCyclePart.self, counting, .billed(RB.november, part: 3), at: RB.novemberRun).proformas == 2)
    }

    enum PartGiven: CaseIterable, Sendable { case billed, collect }
}
