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

    enum Given: CaseIterable, Sendable { case request, chargeCreated, chargePaid, attended, closed, cancelled, correctiveAction }

    static func column(of input: Request.Input) -> Given {
        switch input {
        case .request: .request
        case .chargeCreated: .chargeCreated
        case .chargePaid: .chargePaid
        case .attended: .attended
        case .closed: .closed
        case .cancelled: .cancelled
        case .correctiveAction: .correctiveAction
        }
    }

    static let requestId = Request.id(messageId: "m-1")
    static let workOrderId = "PM-\(requestId)"
    static let created = ChargeCreated(
        chargeId: "CXC-2026-000001", amount: PoleMoveRules.fee, payer: F.requester, reason: "Movimiento de poste",
        requestId: requestId)
    static let paid = ChargePaid(chargeId: "CXC-2026-000001", amount: PoleMoveRules.fee, receipt: "R-77")
    static let attended = WorkOrderAttended(workOrderId: workOrderId, outcome: .resolved)
    static let closed = WorkOrderClosed(
        workOrderId: workOrderId, kind: .poleMove, customer: .example, outcome: .resolved, closedAt: F.now)
    static let cancelled = WorkOrderCancelled(workOrderId: workOrderId, reason: "el poste no era accesible")
    static let action = RecordCorrectiveAction(workOrderId: workOrderId, action: "nueva visita coordinada", by: "rosa.vargas")

    static func input(_ given: Given) -> (input: Request.Input, trigger: String) {
        switch given {
        case .request: (.request(F.poleMove), RequestPoleMove.type)
        case .chargeCreated: (.chargeCreated(created), ChargeCreated.type)
        case .chargePaid: (.chargePaid(paid), ChargePaid.type)
        case .attended: (.attended(attended), WorkOrderAttended.type)
        case .closed: (.closed(closed), WorkOrderClosed.type)
        case .cancelled: (.cancelled(cancelled), WorkOrderCancelled.type)
        case .correctiveAction: (.correctiveAction(action), RecordCorrectiveAction.type)
        }
    }

    static func table() throws -> Table {
        let awaiting = try F.step(Request.self, nil, .request(F.poleMove))
        let charged = try F.step(Request.self, awaiting, .chargeCreated(created))
        let paidRequest = try F.step(Request.self, charged, .chargePaid(paid))
        let attendedRequest = try F.step(Request.self, paidRequest, .attended(attended))
        let cancelledRequest = try F.step(Request.self, paidRequest, .cancelled(cancelled))
        return Table(
            service: CommercialService.definition, states: [awaiting, charged, paidRequest, attendedRequest, cancelledRequest], now: F.now,
            messageId: "m-1", input: input)
    }

    static let month = ["poleMoveMonth"]
    static let notYet: [Given: Table.Effect] = [
        .attended: .ignored, .closed: .ignored, .cancelled: .ignored, .correctiveAction: .rejected(.invalidTransition),
    ]

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [
            .request: .transition(to: "awaitingPayment", emits: [ChargeRequested.type], followUps: month), .chargeCreated: .ignored,
            .chargePaid: .ignored, .attended: .ignored, .closed: .ignored, .cancelled: .ignored, .correctiveAction: .rejected(.notFound),
        ],
        "awaitingPayment": notYet.merging([.request: .ignored, .chargeCreated: .transition(to: "charged"), .chargePaid: .ignored]) { $1 },
        "charged": notYet.merging([
            .request: .ignored, .chargeCreated: .ignored, .chargePaid: .transition(to: "paid", followUps: ["workOrder"] + month),
        ]) { $1 },
        "paid": [
            .request: .ignored, .chargeCreated: .ignored, .chargePaid: .ignored,
            .attended: .transition(to: "attended", followUps: month), .closed: .transition(to: "attended", followUps: month),
            .cancelled: .transition(to: "cancelled", followUps: month), .correctiveAction: .rejected(.invalidTransition),
        ],
        "attended": [
            .request: .ignored, .chargeCreated: .ignored, .chargePaid: .ignored, .attended: .ignored, .closed: .ignored,
            .cancelled: .transition(to: "cancelled", followUps: month), .correctiveAction: .rejected(.invalidTransition),
        ],
        "cancelled": [
            .request: .ignored, .chargeCreated: .ignored, .chargePaid: .ignored, .attended: .ignored, .closed: .ignored,
            .cancelled: .ignored,
            .correctiveAction: .unchanged(emits: [CorrectiveActionRecorded.type], followUps: month),
        ],
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "commercial", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    @Test func aCancelledRequestAcceptsNoTransition() throws {
        #expect(Request.machine.states.filter(\.isFinal).map(\.name) == ["cancelled"])
        for cell in try Self.table().cells where cell.status == "cancelled" {
            if case .transition = cell.effect { Issue.record("\(cell) moves a cancelled request") }
        }
    }

    @Test func theStatesAreTheSeedsThree() {
        #expect(Request.machine.states.map { $0.seedName ?? "" } == ["REGISTRADO", "REGISTRADO", "REGISTRADO", "ATENDIDO", "ANULADO"])
    }
}

@Suite("pole moves of a month: every state × every input")
struct PoleMoveMonthMachineTests {
    typealias Month = PoleMoveMonth
    typealias Table = MachineTable<Month, Given>
    typealias F = CommercialFixtures

    enum Given: CaseIterable, Sendable { case track, ownerAbsent, ensure, reportDue }

    static func column(of input: Month.Input) -> Given {
        switch input {
        case .track: .track
        case .ownerAbsent: .ownerAbsent
        case .ensure: .ensure
        case .reportDue: .reportDue
        }
    }

    /// The table decides in 2026-12, after November's report is due.
    static let month = "2026-11"
    static let entry = Month.Entry(requestId: "PMR-1", state: .registrado)
    static let absence = RecordReviewerAbsence(
        from: Date(timeIntervalSince1970: 1_796_083_200), to: Date(timeIntervalSince1970: 1_796_083_200 + 86_400), by: "jefa")

    static func input(_ given: Given) -> (input: Month.Input, trigger: String) {
        switch given {
        case .track: (.track(month: month, Month.Entry(requestId: "PMR-2", state: .atendido)), RequestPoleMove.type)
        case .ownerAbsent: (.ownerAbsent(month: month, absence), RecordReviewerAbsence.type)
        case .ensure: (.ensure(month: month), StateMachine.timer(Month.reportTimer))
        case .reportDue: (.reportDue, StateMachine.timer(Month.reportTimer))
        }
    }

    static func table() throws -> Table {
        let open = try F.step(Month.self, nil, .track(month: month, entry))
        var context = DecisionContext(now: Month.reportDue(month)!)
        let reported = try #require(try Month.decide(open, .reportDue, &context).state)
        return Table(service: CommercialService.definition, states: [open, reported], now: F.now.addingTimeInterval(20 * 86_400), input: input)
    }

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [
            .track: .transition(to: "open", timers: ["+report"]), .ownerAbsent: .transition(to: "open", timers: ["+report"]),
            .ensure: .transition(to: "open", timers: ["+report"]), .reportDue: .ignored,
        ],
        "open": [
            .track: .unchanged(), .ownerAbsent: .unchanged(), .ensure: .ignored,
            .reportDue: .transition(to: "reported", emits: [PoleMoveMonthlyReport.type], followUps: ["poleMoveMonth"]),
        ],
        "reported": [.track: .unchanged(), .ownerAbsent: .ignored, .ensure: .ignored, .reportDue: .ignored],
    ]

    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "commercial", column: Self.column(of:)) { Issue.record("\(problem)") }
    }
}
