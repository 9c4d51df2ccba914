import Billing
import Contracts
import Foundation
import Runtime
import Testing

/// The billing service's two machines, exhaustively: every state × every input, with the
/// expected effect of each cell written down.
enum BillingFixtures {
    static let id = "W-1"
    static let t0 = Date(timeIntervalSince1970: 1_795_356_000)  // 2026-11-22T14:00:00Z
    static let now = t0.addingTimeInterval(86_400)

    static func closing(_ kind: WorkOrderKind = .installation, country: Country = .bo, amount: Money? = .bolivianos(1_200)) -> WorkOrderClosed {
        var customer = Customer.example
        customer.country = country
        return WorkOrderClosed(workOrderId: id, kind: kind, customer: customer, outcome: .resolved, closedAt: t0, amount: amount)
    }

    /// The decision of `input` at `time`, with one number of each given sequence.
    static func decide<A: Aggregate>(
        _ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date = t0, numbers: [String: Int64] = [:]
    ) throws(Rejection) -> Decision<A.State> {
        var context = DecisionContext(now: time, numbers: numbers.mapValues { [$0] })
        return try A.decide(state, input, &context)
    }

    static func step<A: Aggregate>(_ a: A.Type, _ state: A.State?, _ input: A.Input, numbers: [String: Int64] = [:]) throws -> A.State {
        try #require(try decide(a, state, input, numbers: numbers).state ?? state)
    }
}

@Suite("closed OT in billing: every state × every input")
struct BillingWorkOrderMachineTests {
    typealias OT = BillingWorkOrder
    typealias Table = MachineTable<OT, Given>
    typealias F = BillingFixtures

    enum Given: CaseIterable, Sendable { case closed, closedUnpriced, closedPoleMove, approved, returned, price, correct, scopeChanged }

    static func column(of input: OT.Input) -> Given {
        switch input {
        case .closed(let e): e.kind == .poleMove ? .closedPoleMove : e.amount == nil ? .closedUnpriced : .closed
        case .approved: .approved
        case .returned: .returned
        case .price: .price
        case .correct: .correct
        case .scopeChanged: .scopeChanged
        }
    }

    static let lines = [
        PrefacturaLine(description: "Reparación de acometida", quantity: 2, unitPrice: .bolivianos(700), amount: .bolivianos(1_400))
    ]

    /// Every state's latest prefactura is PF-2026-000001.
    static func input(_ given: Given) -> (input: OT.Input, trigger: String) {
        let pf = "PF-2026-000001"
        switch given {
        case .closed: return (.closed(F.closing()), WorkOrderClosed.type)
        case .closedUnpriced: return (.closed(F.closing(amount: nil)), WorkOrderClosed.type)
        case .closedPoleMove: return (.closed(F.closing(.poleMove, amount: nil)), WorkOrderClosed.type)
        case .approved:
            return (.approved(PrefacturaApproved(prefacturaId: pf, workOrderId: F.id, by: "carla.rojas")), PrefacturaApproved.type)
        case .returned:
            return (.returned(PrefacturaReturned(prefacturaId: pf, workOrderId: F.id, by: "carla.rojas", notes: "precio")), PrefacturaReturned.type)
        case .price:
            return (.price(PricePrefactura(prefacturaId: pf, workOrderId: F.id, lines: lines, by: "angie.cruz")), PricePrefactura.type)
        case .correct:
            return (.correct(CorrectPrefactura(prefacturaId: pf, workOrderId: F.id, lines: lines, by: "angie.cruz")), CorrectPrefactura.type)
        case .scopeChanged:
            return (.scopeChanged(
                WorkOrderScopeChanged(
                    workOrderId: F.id, changes: ["sitios": 3], document: Document(kind: .other, uri: "s3://d/sgc-dc-03.pdf"),
                    amount: .bolivianos(1_800))),
             WorkOrderScopeChanged.type)
        }
    }

    static func table() throws -> Table {
        let settled = try F.step(OT.self, nil, input(.closedPoleMove).input)
        let issued = try F.step(OT.self, nil, input(.closed).input, numbers: [OT.prefacturaNumber: 1])
        let unpriced = try F.step(OT.self, nil, input(.closedUnpriced).input, numbers: [OT.prefacturaNumber: 1])
        let returned = try F.step(OT.self, issued, input(.returned).input)
        let invoiced = try F.step(OT.self, issued, input(.approved).input, numbers: [OT.invoiceNumber: 1])
        return Table(service: BillingService.definition, states: [settled, unpriced, issued, returned, invoiced], now: F.now, input: input)
    }

    static let issuedAgain = Table.Effect.transition(to: "issued", emits: [PrefacturaIssued.type])
    static let finalRow: [Given: Table.Effect] = [
        .closed: .ignored, .closedUnpriced: .ignored, .closedPoleMove: .ignored, .approved: .ignored, .returned: .ignored,
        .price: .rejected(.invalidTransition), .correct: .rejected(.invalidTransition), .scopeChanged: .ignored,
    ]

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [
            .closed: .transition(to: "issued", emits: [PrefacturaIssued.type]),
            .closedUnpriced: .transition(to: "unpriced", emits: [PrefacturaIssued.type]), .closedPoleMove: .transition(to: "settled"),
            .approved: .ignored, .returned: .ignored, .price: .rejected(.notFound), .correct: .rejected(.notFound), .scopeChanged: .ignored,
        ],
        "settled": finalRow.merging([.price: .rejected(.notFound), .correct: .rejected(.notFound)]) { $1 },
        "unpriced": [
            .closed: .ignored, .closedUnpriced: .ignored, .closedPoleMove: .ignored,
            .approved: .ignored, .returned: .transition(to: "returned"), .price: issuedAgain, .correct: .rejected(.invalidTransition),
            .scopeChanged: issuedAgain,
        ],
        "issued": [
            .closed: .ignored, .closedUnpriced: .ignored, .closedPoleMove: .ignored,
            .approved: .transition(to: "invoiced", emits: [InvoiceIssued.type]), .returned: .transition(to: "returned"),
            .price: .rejected(.invalidTransition), .correct: .rejected(.invalidTransition), .scopeChanged: issuedAgain,
        ],
        "returned": [
            .closed: .ignored, .closedUnpriced: .ignored, .closedPoleMove: .ignored, .approved: .ignored, .returned: .ignored,
            .price: .rejected(.invalidTransition), .correct: issuedAgain, .scopeChanged: issuedAgain,
        ],
        "invoiced": finalRow,
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "billing", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    @Test func finalStatesAcceptNoTransition() throws {
        let finals = Set(OT.machine.states.filter(\.isFinal).map(\.name))
        #expect(finals == ["settled", "invoiced"])
        for cell in try Self.table().cells where finals.contains(cell.status ?? "") {
            if case .transition = cell.effect { Issue.record("\(cell) moves a settled or invoiced OT: \(cell.effect)") }
        }
    }
}

@Suite("CxC charge: every state × every input")
struct ChargeMachineTests {
    typealias Table = MachineTable<Charge, Given>
    typealias F = BillingFixtures

    enum Given: CaseIterable, Sendable { case requested, payment, workOrderOpened, workOrderCancelled }

    static func column(of input: Charge.Input) -> Given {
        switch input {
        case .requested: .requested
        case .payment: .payment
        case .workOrderOpened: .workOrderOpened
        case .workOrderCancelled: .workOrderCancelled
        }
    }

    /// A pole move's charge, naming the OT it pays for.
    static let request = ChargeRequested(
        requestId: "PMR-m-1", amount: .bolivianos(1_000), payer: .example, reason: "Movimiento de poste (OPE-SUM-GES-P08)",
        workOrderId: "PM-PMR-m-1")
    /// The charge every state has: CXC-2026-000001.
    static let payment = RecordPayment(chargeId: "CXC-2026-000001", amount: .bolivianos(1_000), receipt: "R-77")
    static let opened: WorkOrderOpened = {
        var e = WorkOrderOpened.example
        e.workOrderId = "PM-PMR-m-1"
        e.kind = .poleMove
        return e
    }()
    static let cancelled = WorkOrderCancelled(workOrderId: "PM-PMR-m-1", reason: "poste en propiedad privada, no procede")

    static func input(_ given: Given) -> (input: Charge.Input, trigger: String) {
        switch given {
        case .requested: (.requested(request), ChargeRequested.type)
        case .payment: (.payment(payment), RecordPayment.type)
        case .workOrderOpened: (.workOrderOpened(opened), WorkOrderOpened.type)
        case .workOrderCancelled: (.workOrderCancelled(cancelled), WorkOrderCancelled.type)
        }
    }

    static func table() throws -> Table {
        let created = try F.step(Charge.self, nil, .requested(request), numbers: [Charge.chargeNumber: 1])
        let paid = try F.step(Charge.self, created, .payment(payment))
        let refundDue = try F.step(Charge.self, try F.step(Charge.self, paid, .workOrderOpened(opened)), .workOrderCancelled(cancelled))
        return Table(service: BillingService.definition, states: [created, paid, refundDue], now: F.now, input: input)
    }

    static let expected: [String?: [Given: Table.Effect]] = [
        // Every OT's opening and cancellation reach billing: one that is no charge's is ignored.
        nil: [
            .requested: .transition(to: "created", emits: [ChargeCreated.type]), .payment: .rejected(.notFound),
            .workOrderOpened: .ignored, .workOrderCancelled: .ignored,
        ],
        // A CxC's OT opens only once it is paid (steps 5–6).
        "created": [
            .requested: .ignored, .payment: .transition(to: "paid", emits: [ChargePaid.type]), .workOrderOpened: .ignored,
            .workOrderCancelled: .ignored,
        ],
        "paid": [
            .requested: .ignored, .payment: .rejected(.alreadyDone), .workOrderOpened: .transition(to: "paid"),
            .workOrderCancelled: .transition(to: "refundDue"),
        ],
        "refundDue": [.requested: .ignored, .payment: .rejected(.alreadyDone), .workOrderOpened: .ignored, .workOrderCancelled: .ignored],
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "billing", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    @Test func aChargeWhoseRefundIsDueAcceptsNoTransition() throws {
        #expect(Charge.machine.states.filter(\.isFinal).map(\.name) == ["refundDue"])
        for cell in try Self.table().cells where cell.status == "refundDue" {
            if case .transition = cell.effect { Issue.record("\(cell) moves a charge whose refund is due") }
        }
    }
}
