import Commercial
import Contracts
import Foundation
import Runtime
import Testing

/// The commercial service's two machines, exhaustively: every state × every input, with the
/// expected effect of each cell written down.
enum CommercialFixtures {
    static let id = "W-1"
    static let t0 = Date(timeIntervalSince1970: 1_795_356_000)  // 2026-11-22T14:00:00Z
    static let now = t0.addingTimeInterval(86_400)
    static let requester = Payer(name: "María Quispe", idNumber: "5544332 CB")

    static let open = OpenWorkOrder(
        workOrderId: id, kind: .project, serviceLine: .csv, customer: .example, opportunityId: "OPP-1",
        purchaseOrder: PurchaseOrder(number: "OC-1", amount: .bolivianos(48_500)),
        documents: [Document(kind: .offer, uri: "s3://d/oferta.pdf")], dueBy: t0.addingTimeInterval(30 * 86_400),
        description: "Verificación de puesta a tierra")
    static let poleMove = RequestPoleMove(requester: requester, address: "Av. Ayacucho 1", isExistingCustomer: false)

    /// The decision of `input` at `time`, with one number of each given sequence.
    static func decide<A: Aggregate>(
        _ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date = t0, messageId: String = "m-1",
        numbers: [String: Int64] = [:]
    ) throws(Rejection) -> Decision<A.State> {
        var context = DecisionContext(now: time, messageId: messageId, numbers: numbers.mapValues { [$0] })
        return try A.decide(state, input, &context)
    }

    static func step<A: Aggregate>(
        _ a: A.Type, _ state: A.State?, _ input: A.Input, messageId: String = "m-1", numbers: [String: Int64] = [:]
    ) throws -> A.State {
        try #require(try decide(a, state, input, messageId: messageId, numbers: numbers).state ?? state)
    }
}

@Suite("OT opening: every state × every input")
struct CommercialWorkOrderMachineTests {
    typealias OT = CommercialWorkOrder
    typealias Table = MachineTable<OT, Given>
    typealias F = CommercialFixtures

    /// `open` twice: from the CRM's command, and as the follow-up of a paid pole move (whose
    /// transitions the runtime checks against `billing.charge-paid`).
    /// `screenPoleMove`: a pole-move request whose requester's CI is this OT's customer's.
    enum Given: CaseIterable, Sendable { case open, openPaidPoleMove, changeScope, rejected, cancelled, closed, screenPoleMove }

    static func column(of input: OT.Input) -> Given {
        switch input {
        case .open(let c): c.kind == .poleMove ? .openPaidPoleMove : .open
        case .changeScope: .changeScope
        case .finished(.cancelled): .cancelled
        case .finished(.closed): .closed
        case .finished: .rejected
        case .screenPoleMove: .screenPoleMove
        }
    }

    static func input(_ given: Given) -> (input: OT.Input, trigger: String) {
        switch given {
        case .open: (.open(F.open), OpenWorkOrder.type)
        case .openPaidPoleMove:
            (.open(PoleMoveRules.workOrder(requestId: "PMR-m-1", requester: F.requester, address: "Av. Ayacucho 1")), ChargePaid.type)
        case .changeScope:
            (.changeScope(ChangeScope(workOrderId: F.id, changes: ["addedSites": 2], document: Document(kind: .other, uri: "s3://d/sgc-dc-03.pdf"))),
             ChangeScope.type)
        case .rejected: (.finished(.rejected), WorkOrderRejected.type)
        case .cancelled: (.finished(.cancelled), WorkOrderCancelled.type)
        case .closed: (.finished(.closed), WorkOrderClosed.type)
        case .screenPoleMove:
            (.screenPoleMove(
                requestId: "PMR-m-1",
                RequestPoleMove(requester: Payer(name: "GAMC", idNumber: Customer.example.taxId), address: "Av. Ayacucho 1", isExistingCustomer: false)),
             RequestPoleMove.type)
        }
    }

    static func table() throws -> Table {
        let opened = try F.step(OT.self, nil, .open(F.open), numbers: [OT.numberSequence: 1])
        let finals = try [WorkOrderState.rejected, .cancelled, .closed].map { try F.step(OT.self, opened, .finished($0)) }
        return Table(service: CommercialService.definition, states: [opened] + finals, now: F.now, input: input)
    }

    static let opened = WorkOrderOpened.type

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [
            .open: .transition(to: "opened", emits: [opened]), .openPaidPoleMove: .transition(to: "opened", emits: [opened]),
            .changeScope: .rejected(.notFound), .rejected: .ignored, .cancelled: .ignored, .closed: .ignored,
            .screenPoleMove: .unchanged(followUps: ["poleMoveRequest"]),
        ],
        "opened": [
            .open: .rejected(.alreadyExists), .openPaidPoleMove: .rejected(.alreadyExists),
            .changeScope: .transition(to: "opened", emits: [WorkOrderScopeChanged.type]),
            .rejected: .transition(to: "rejected"), .cancelled: .transition(to: "cancelled"), .closed: .transition(to: "closed"),
            .screenPoleMove: .rejected(.useGenericProcedure),
        ],
        "rejected": finalRow,
        "cancelled": finalRow,
        "closed": finalRow,
    ]

    /// A finished OT is not opened again, its scope no longer changes, and the first final state stays.
    static let finalRow: [Given: Table.Effect] = [
        .open: .rejected(.alreadyExists), .openPaidPoleMove: .rejected(.alreadyExists), .changeScope: .rejected(.invalidTransition),
        .rejected: .ignored, .cancelled: .ignored, .closed: .ignored, .screenPoleMove: .rejected(.useGenericProcedure),
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "commercial", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    @Test func finalStatesAcceptNoTransition() throws {
        let finals = Set(OT.machine.states.filter(\.isFinal).map(\.name))
        #expect(finals == ["rejected", "cancelled", "closed"])
        for cell in try Self.table().cells where finals.contains(cell.status ?? "") {
            if case .transition = cell.effect { Issue.record("\(cell) moves a finished OT: \(cell.effect)") }
        }
    }
}

@Suite("pole-move request: every state × every input")
struct PoleMoveRequestMachineTests {
    typealias Request = PoleMoveRequest
    typealias Table = MachineTable<Request, Given>
    typealias F = CommercialFixtures

    enum Given: CaseIterable, Sendable { case request, chargeCreated, chargePaid }

    static func column(of input: Request.Input) -> Given {
        switch input {
        case .request: .request
        case .chargeCreated: .chargeCreated
        case .chargePaid: .chargePaid
        }
    }

    static let requestId = Request.id(messageId: "m-1")
    static let created = ChargeCreated(
        chargeId: "CXC-2026-000001", amount: PoleMoveRules.fee, payer: F.requester, reason: "Movimiento de poste",
        requestId: requestId)
    static let paid = ChargePaid(chargeId: "CXC-2026-000001", amount: PoleMoveRules.fee, receipt: "R-77")

    static func input(_ given: Given) -> (input: Request.Input, trigger: String) {
        switch given {
        case .request: (.request(F.poleMove), RequestPoleMove.type)
        case .chargeCreated: (.chargeCreated(created), ChargeCreated.type)
        case .chargePaid: (.chargePaid(paid), ChargePaid.type)
        }
    }

    static func table() throws -> Table {
        let awaiting = try F.step(Request.self, nil, .request(F.poleMove))
        let charged = try F.step(Request.self, awaiting, .chargeCreated(created))
        let paidRequest = try F.step(Request.self, charged, .chargePaid(paid))
        return Table(service: CommercialService.definition, states: [awaiting, charged, paidRequest], now: F.now, messageId: "m-1", input: input)
    }

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [
            .request: .transition(to: "awaitingPayment", emits: [ChargeRequested.type]), .chargeCreated: .ignored, .chargePaid: .ignored,
        ],
        "awaitingPayment": [.request: .ignored, .chargeCreated: .transition(to: "charged"), .chargePaid: .ignored],
        "charged": [.request: .ignored, .chargeCreated: .ignored, .chargePaid: .transition(to: "paid", followUps: ["workOrder"])],
        "paid": [.request: .ignored, .chargeCreated: .ignored, .chargePaid: .ignored],
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "commercial", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    @Test func aPaidRequestAcceptsNoTransition() throws {
        #expect(Request.machine.states.filter(\.isFinal).map(\.name) == ["paid"])
        for cell in try Self.table().cells where cell.status == "paid" {
            if case .transition = cell.effect { Issue.record("\(cell) moves a paid request") }
        }
    }
}

