import Approval
import Contracts
import Foundation
import Runtime
import Testing

/// The approval service's three machines, exhaustively: every state × every input, with the
/// expected effect of each cell written down.
enum ApprovalFixtures {
    static let id = "W-1"
    static let t0 = Date(timeIntervalSince1970: 1_795_356_000)  // 2026-11-22T14:00:00Z
    static let now = t0.addingTimeInterval(86_400)
    static let offer = Document(kind: .offer, uri: "s3://d/oferta.pdf")
    static let purchaseOrder = Document(kind: .purchaseOrder, uri: "s3://d/oc.pdf")
    static let annex = Document(kind: .technicalAnnex, uri: "s3://d/anexo.pdf")

    static func opening(_ documents: [Document]) -> WorkOrderOpened {
        WorkOrderOpened(
            workOrderId: id, number: "OT-BO-2026-000001", kind: .project, serviceLine: .csv, customer: .example,
            documents: documents, dueBy: t0.addingTimeInterval(20 * 86_400),
            purchaseOrder: PurchaseOrder(number: "OC-1", amount: .bolivianos(48_500)))
    }

    static let closing = WorkOrderClosed(
        workOrderId: id, kind: .project, customer: .example, outcome: .resolved, closedAt: t0, amount: .bolivianos(48_500))

    /// The report of a project delivered to the customer (§4.8).
    static func delivery(_ kind: WorkOrderKind = .project) -> WorkOrderReportDelivered {
        WorkOrderReportDelivered(
            workOrderId: id, kind: kind, customer: .example, report: Document(kind: .other, uri: "s3://d/informe.pdf"),
            deliveredBy: "diego.arce", deliveredAt: t0)
    }

    /// The state after `input`, decided at t0 (the state before when the decision changes nothing).
    static func step<A: Aggregate>(_ a: A.Type, _ state: A.State?, _ input: A.Input, messageId: String = "m-0") throws -> A.State {
        var context = DecisionContext(now: t0, messageId: messageId)
        return try #require(try A.decide(state, input, &context).state ?? state)
    }
}

@Suite("OT at the quality gate: every state × every input")
struct ApprovalWorkOrderMachineTests {
    typealias OT = ApprovalWorkOrder
    typealias Table = MachineTable<OT, Given>
    typealias F = ApprovalFixtures

    enum Given: CaseIterable, Sendable {
        case openedComplete, openedIncomplete, attachMissing, attachUnrelated, approve, reject, cancelled, closed
    }

    static func column(of input: OT.Input) -> Given {
        switch input {
        case .opened(let e): QualityGate.missingDocuments(kind: e.kind, documents: e.documents).isEmpty ? .openedComplete : .openedIncomplete
        case .attach(let c): c.document.kind == .technicalAnnex ? .attachUnrelated : .attachMissing
        case .approve: .approve
        case .reject: .reject
        case .cancelled: .cancelled
        case .closed: .closed
        }
    }

    static func input(_ given: Given) -> (input: OT.Input, trigger: String) {
        switch given {
        case .openedComplete: (.opened(F.opening([F.offer, F.purchaseOrder])), WorkOrderOpened.type)
        case .openedIncomplete: (.opened(F.opening([F.offer])), WorkOrderOpened.type)
        case .attachMissing: (.attach(AttachDocument(workOrderId: F.id, document: F.purchaseOrder)), AttachDocument.type)
        case .attachUnrelated: (.attach(AttachDocument(workOrderId: F.id, document: F.annex)), AttachDocument.type)
        case .approve: (.approve(ApproveWorkOrder(workOrderId: F.id, by: "lucia.mendoza", reason: "OC en trámite")), ApproveWorkOrder.type)
        case .reject: (.reject(RejectWorkOrder(workOrderId: F.id, by: "lucia.mendoza", reason: "sin firma")), RejectWorkOrder.type)
        case .cancelled: (.cancelled(WorkOrderCancelled(workOrderId: F.id, reason: "desistió")), WorkOrderCancelled.type)
        case .closed: (.closed(F.closing), WorkOrderClosed.type)
        }
    }

    static func states() throws -> [OT.State] {
        let pending = try F.step(OT.self, nil, input(.openedIncomplete).input)
        let approved = try F.step(OT.self, pending, input(.attachMissing).input)
        let rejected = try F.step(OT.self, pending, input(.reject).input)
        let cancelled = try F.step(OT.self, approved, input(.cancelled).input)
        let closed = try F.step(OT.self, approved, input(.closed).input)
        return [pending, approved, rejected, cancelled, closed]
    }

    static func table() throws -> Table {
        try Table(service: ApprovalService.definition, states: states(), now: F.now, input: input)
    }

    static let approvedType = WorkOrderApproved.type, pendingType = WorkOrderApprovalPending.type

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [
            .openedComplete: .transition(to: "approved", emits: [approvedType]),
            .openedIncomplete: .transition(to: "approvalPending", emits: [pendingType]),
            .attachMissing: .rejected(.notFound), .attachUnrelated: .rejected(.notFound), .approve: .rejected(.notFound),
            .reject: .rejected(.notFound),
            .cancelled: .transition(to: "cancelled"),
            .closed: .ignored,
        ],
        "approvalPending": [
            .openedComplete: .ignored, .openedIncomplete: .ignored,
            .attachMissing: .transition(to: "approved", emits: [approvedType]),
            .attachUnrelated: .transition(to: "approvalPending", emits: [pendingType]),
            .approve: .transition(to: "approved", emits: [approvedType]),
            .reject: .transition(to: "rejected", emits: [WorkOrderRejected.type]),
            .cancelled: .transition(to: "cancelled"),
            .closed: .ignored,
        ],
        "approved": [
            .openedComplete: .ignored, .openedIncomplete: .ignored,
            .attachMissing: .rejected(.invalidTransition), .attachUnrelated: .rejected(.invalidTransition),
            .approve: .rejected(.invalidTransition), .reject: .rejected(.invalidTransition),
            .cancelled: .transition(to: "cancelled"),
            .closed: .transition(to: "closed"),
        ],
        "rejected": finalRow,
        "cancelled": finalRow,
        "closed": finalRow,
    ]

    /// A settled OT takes no command and no further fact.
    static let finalRow: [Given: Table.Effect] = [
        .openedComplete: .ignored, .openedIncomplete: .ignored,
        .attachMissing: .rejected(.invalidTransition), .attachUnrelated: .rejected(.invalidTransition),
        .approve: .rejected(.invalidTransition), .reject: .rejected(.invalidTransition),
        .cancelled: .ignored, .closed: .ignored,
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "approval", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    @Test func finalStatesAcceptNoTransition() throws {
        let table = try Self.table()
        let finals = Set(OT.machine.states.filter(\.isFinal).map(\.name))
        #expect(finals == ["rejected", "cancelled", "closed"])
        for cell in table.cells where finals.contains(cell.status ?? "") {
            if case .transition = cell.effect { Issue.record("\(cell) moves a settled OT: \(cell.effect)") }
        }
    }
}

@Suite("satisfaction survey: every state × every input")
struct SurveyMachineTests {
    typealias Table = MachineTable<Survey, Given>
    typealias F = ApprovalFixtures

    enum Given: CaseIterable, Sendable { case reportDelivered, answer }

    static func column(of input: Survey.Input) -> Given {
        switch input {
        case .reportDelivered: .reportDelivered
        case .answer: .answer
        }
    }

    static let surveyId = Survey.surveyId(workOrderId: F.id)

    static func input(_ given: Given) -> (input: Survey.Input, trigger: String) {
        switch given {
        case .reportDelivered: (.reportDelivered(F.delivery()), WorkOrderReportDelivered.type)
        case .answer:
            (.answer(RecordSurveyAnswer(surveyId: surveyId, score: 4, comments: "puntuales", by: "call-center")),
             RecordSurveyAnswer.type)
        }
    }

    static func table() throws -> Table {
        let requested = try F.step(Survey.self, nil, input(.reportDelivered).input)
        let answered = try F.step(Survey.self, requested, input(.answer).input)
        return Table(service: ApprovalService.definition, states: [requested, answered], now: F.now, input: input)
    }

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [.reportDelivered: .transition(to: "requested", emits: [SurveyRequested.type]), .answer: .rejected(.notFound)],
        "requested": [.reportDelivered: .ignored, .answer: .transition(to: "answered", emits: [SurveyAnswered.type])],
        "answered": [.reportDelivered: .ignored, .answer: .rejected(.alreadyDone)],
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "approval", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    @Test func anAnsweredSurveyAcceptsNoTransition() throws {
        #expect(Survey.machine.states.filter(\.isFinal).map(\.name) == ["answered"])
        for cell in try Self.table().cells where cell.status == "answered" {
            if case .transition = cell.effect { Issue.record("\(cell) moves an answered survey") }
        }
    }
}

@Suite("prefactura review: every state × every input")
struct PrefacturaReviewMachineTests {
    typealias Review = PrefacturaReview
    typealias Table = MachineTable<Review, Given>
    typealias F = ApprovalFixtures

    enum Given: CaseIterable, Sendable { case issued, approve, `return` }

    static func column(of input: Review.Input) -> Given {
        switch input {
        case .issued: .issued
        case .review(let c): c.decision == .approve ? .approve : .return
        }
    }

    static let line = PrefacturaLine(description: "Proyecto — OT W-1", quantity: 1, unitPrice: .bolivianos(48_500), amount: .bolivianos(48_500))

    static func issued(_ prefacturaId: String) -> PrefacturaIssued {
        PrefacturaIssued(prefacturaId: prefacturaId, workOrderId: F.id, amount: .bolivianos(48_500), lines: [line])
    }

    /// Every state's latest prefactura is PF-1; the table's issue is its next version, PF-2.
    static func input(_ given: Given) -> (input: Review.Input, trigger: String) {
        switch given {
        case .issued: (.issued(issued("PF-2026-000002")), PrefacturaIssued.type)
        case .approve:
            (.review(ReviewPrefactura(prefacturaId: "PF-2026-000001", decision: .approve, by: "carla.rojas")), ReviewPrefactura.type)
        case .return:
            (.review(ReviewPrefactura(prefacturaId: "PF-2026-000001", decision: .return, by: "carla.rojas", notes: "falta el ítem 3")),
             ReviewPrefactura.type)
        }
    }

    static func table() throws -> Table {
        let pending = try F.step(Review.self, nil, .issued(issued("PF-2026-000001")))
        let approved = try F.step(Review.self, pending, input(.approve).input)
        let returned = try F.step(Review.self, pending, input(.return).input)
        return Table(
            service: ApprovalService.definition, states: [pending, approved, returned],
            transient: ["superseded": "only an older version is superseded; the status is the latest version's"], now: F.now,
            input: input)
    }

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [.issued: .transition(to: "pending"), .approve: .rejected(.notFound), .return: .rejected(.notFound)],
        "pending": [
            .issued: .transition(to: "pending"),
            .approve: .transition(to: "approved", emits: [PrefacturaApproved.type]),
            .return: .transition(to: "returned", emits: [PrefacturaReturned.type]),
        ],
        "approved": [.issued: .transition(to: "pending"), .approve: .rejected(.invalidTransition), .return: .rejected(.invalidTransition)],
        "returned": [.issued: .transition(to: "pending"), .approve: .rejected(.invalidTransition), .return: .rejected(.invalidTransition)],
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, only owned events emitted.
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        for problem in try Self.table().audit(Self.expected, owner: "approval", column: Self.column(of:)) { Issue.record("\(problem)") }
    }

    /// The review has no final state: a returned or approved prefactura still takes its next version.
    @Test func theReviewHasNoFinalStateAndNoDecisionLeavesItSuperseded() throws {
        #expect(Review.machine.states.filter(\.isFinal).isEmpty)
        for cell in try Self.table().cells {
            if case .success(let d) = cell.result { #expect(d.state?.status != "superseded", "\(cell)") }
        }
    }
}
