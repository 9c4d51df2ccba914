import Approval
import Contracts
import Runtime
import Testing

/// The code of the rejection `body` throws, nil when it does not throw.
func rejectionCode(_ body: () throws -> Void) -> String? {
    rejection(body)?.code.description
}

/// The rejection `body` throws, nil when it does not throw.
func rejection(_ body: () throws -> Void) -> Rejection? {
    do {
        try body()
        return nil
    } catch {
        return error as? Rejection
    }
}

let offer = Document(kind: .offer, uri: "s3://d/offer.pdf")
let po = Document(kind: .purchaseOrder, uri: "s3://d/po.pdf")
let quote = Document(kind: .signedQuote, uri: "s3://d/quote.pdf")
let contract = Document(kind: .contract, uri: "s3://d/contract.pdf")
let annex = Document(kind: .technicalAnnex, uri: "s3://d/annex.pdf")
let otPDF = Document(kind: .workOrder, uri: "s3://d/ot.pdf")

@Suite("quality gate (SGC-PC-07 §4.4)")
struct QualityGateTests {
    @Test(arguments: [po, quote, contract])
    func projectWithOfferAndOneSupportingDocumentIsApprovedByTheGate(_ support: Document) {
        #expect(QualityGate.evaluate(kind: .project, documents: [offer, support, otPDF]) == .approved(by: "quality-gate"))
    }

    @Test func projectWithoutPurchaseOrderSignedQuoteOrContractWaitsForPurchaseOrder() {
        #expect(QualityGate.evaluate(kind: .project, documents: [offer, annex, otPDF]) == .pending(missing: [.purchaseOrder]))
    }

    @Test(arguments: [po, quote, contract])
    func projectWithoutOfferWaitsForTheOffer(_ support: Document) {
        #expect(QualityGate.evaluate(kind: .project, documents: [support]) == .pending(missing: [.offer]))
    }

    @Test func emptyProjectFolderMissesOfferAndPurchaseOrderInThatOrder() {
        #expect(QualityGate.missingDocuments(kind: .project, documents: []) == [.offer, .purchaseOrder])
        #expect(QualityGate.missingDocuments(kind: .project, documents: [otPDF, annex]) == [.offer, .purchaseOrder])
    }

    @Test func everySubsetOfTheFolderIsJudgedByTheRule() {
        let all = [offer, po, quote, contract, annex, otPDF]
        for mask in 0..<(1 << all.count) {
            let docs = all.indices.filter { mask & (1 << $0) != 0 }.map { all[$0] }
            let kinds = Set(docs.map(\.kind))
            let complete = kinds.contains(.offer) && !kinds.isDisjoint(with: [.purchaseOrder, .signedQuote, .contract])
            let outcome = QualityGate.evaluate(kind: .project, documents: docs)
            #expect((outcome == .approved(by: "quality-gate")) == complete, "documents \(docs.map(\.kind))")
        }
    }

    @Test(arguments: WorkOrderKind.allCases.filter { $0 != .project })
    func ungatedKindsAreApprovedAtOnceEvenWithAnEmptyFolder(_ kind: WorkOrderKind) {
        #expect(!QualityGate.isGated(kind))
        #expect(QualityGate.evaluate(kind: kind, documents: []) == .approved(by: "auto:\(kind.rawValue)"))
    }

    @Test func onlyProjectsAreGated() {
        #expect(WorkOrderKind.allCases.filter(QualityGate.isGated) == [.project])
    }
}

@Suite("approval transitions")
struct ApprovalTransitionTests {
    let attachQuote = AttachDocument(workOrderId: "WO-1", document: quote)

    @Test func attachingTheMissingDocumentToAPendingProjectApprovesIt() throws {
        let outcome = try ApprovalRules.attach(state: .approvalPending, kind: .project, documents: [offer], command: attachQuote)
        #expect(outcome == .approved(by: "quality-gate"))
    }

    @Test func attachingAnUnrelatedDocumentKeepsItPendingWithTheSameMissingList() throws {
        let cmd = AttachDocument(workOrderId: "WO-1", document: annex)
        #expect(try ApprovalRules.attach(state: .approvalPending, kind: .project, documents: [offer], command: cmd)
            == .pending(missing: [.purchaseOrder]))
        #expect(try ApprovalRules.attach(state: .approvalPending, kind: .project, documents: [], command: cmd)
            == .pending(missing: [.offer, .purchaseOrder]))
    }

    @Test func attachingToAnUnknownWorkOrderIsNotFound() {
        #expect(rejectionCode { _ = try ApprovalRules.attach(state: nil, kind: .project, documents: [], command: attachQuote) } == "notFound")
    }

    @Test(arguments: ApprovalState.allCases.filter { $0 != .approvalPending })
    func attachingToASettledWorkOrderIsInvalidState(_ state: ApprovalState) {
        #expect(rejectionCode { _ = try ApprovalRules.attach(state: state, kind: .project, documents: [offer], command: attachQuote) } == "invalidTransition")
    }

    @Test func attachingADocumentWithoutUriOrWithABadHashIsAValidationError() {
        let bad = AttachDocument(workOrderId: "WO-1", document: Document(kind: .contract, uri: " ", sha256: "xyz"))
        let r = rejection { _ = try ApprovalRules.attach(state: .approvalPending, kind: .project, documents: [], command: bad) }
        #expect(r?.code == .validation)
        #expect(Set(r?.errors.map { $0.field } ?? []) == ["data.document.uri", "data.document.sha256"])
    }

    @Test func theControllerMayApproveAPendingWorkOrderEvenWithDocumentsMissing() {
        #expect(rejectionCode { try ApprovalRules.approve(state: .approvalPending, command: ApproveWorkOrder(workOrderId: "WO-1", by: "lucia")) } == nil)
    }

    @Test func approvingAnUnknownWorkOrderIsNotFound() {
        #expect(rejectionCode { try ApprovalRules.approve(state: nil, command: ApproveWorkOrder(workOrderId: "WO-1", by: "lucia")) } == "notFound")
    }

    @Test(arguments: ApprovalState.allCases.filter { $0 != .approvalPending })
    func approvingASettledWorkOrderIsInvalidState(_ state: ApprovalState) {
        #expect(rejectionCode { try ApprovalRules.approve(state: state, command: ApproveWorkOrder(workOrderId: "WO-1", by: "lucia")) } == "invalidTransition")
    }

    @Test func approvalNeedsWhoApproves() {
        let r = rejection { try ApprovalRules.approve(state: .approvalPending, command: ApproveWorkOrder(workOrderId: "WO-1", by: "  ")) }
        #expect(r?.code == .validation)
        #expect(r?.errors.map { $0.field } == ["data.by"])
    }

    @Test func rejectingAPendingWorkOrderWithAReasonIsAllowed() {
        #expect(rejectionCode { try ApprovalRules.reject(state: .approvalPending, command: RejectWorkOrder(workOrderId: "WO-1", by: "lucia", reason: "sin firma")) } == nil)
    }

    @Test(arguments: [nil, "", "   "] as [String?])
    func rejectionWithoutAReasonIsAValidationErrorNamingTheReason(_ reason: String?) {
        let r = rejection { try ApprovalRules.reject(state: .approvalPending, command: RejectWorkOrder(workOrderId: "WO-1", by: "lucia", reason: reason)) }
        #expect(r?.code == .validation)
        #expect(r?.errors.map { $0.field } == ["data.reason"])
    }

    @Test func validationComesBeforeNotFound() {
        let r = rejection { try ApprovalRules.reject(state: nil, command: RejectWorkOrder(workOrderId: "WO-1", by: "", reason: nil)) }
        #expect(r?.code == .validation)
        #expect(r?.errors.map { $0.field } == ["data.by", "data.reason"])
    }

    @Test func rejectingAnUnknownWorkOrderIsNotFound() {
        #expect(rejectionCode { try ApprovalRules.reject(state: nil, command: RejectWorkOrder(workOrderId: "WO-1", by: "lucia", reason: "x")) } == "notFound")
    }

    @Test(arguments: ApprovalState.allCases.filter { $0 != .approvalPending })
    func rejectingASettledWorkOrderIsInvalidState(_ state: ApprovalState) {
        #expect(rejectionCode { try ApprovalRules.reject(state: state, command: RejectWorkOrder(workOrderId: "WO-1", by: "lucia", reason: "x")) } == "invalidTransition")
    }

    @Test func cancellationSettlesPendingAndApprovedWorkOrdersAndLeavesFinalOnesAlone() {
        let expected: [ApprovalState: ApprovalState?] = [
            .approvalPending: .cancelled, .approved: .cancelled, .rejected: nil, .cancelled: nil, .closed: nil,
        ]
        for state in ApprovalState.allCases {
            #expect(ApprovalRules.cancelled(from: state) == expected[state]!, "from \(state)")
        }
    }

    @Test func closingMovesOnlyApprovedWorkOrders() {
        for state in ApprovalState.allCases {
            #expect(ApprovalRules.closed(from: state) == (state == .approved ? .closed : nil), "from \(state)")
        }
    }
}

@Suite("prefactura review (SGC-PC-07 §4.6)")
struct PrefacturaReviewTests {
    @Test func approvingAPendingPrefacturaApprovesIt() throws {
        #expect(try PrefacturaRules.review(state: .pending, command: ReviewPrefactura(prefacturaId: "PF-1", decision: .approve, by: "carla")) == .approved)
    }

    @Test func returningAPendingPrefacturaWithNotesReturnsIt() throws {
        #expect(try PrefacturaRules.review(state: .pending, command: ReviewPrefactura(prefacturaId: "PF-1", decision: .return, by: "carla", notes: "falta ítem")) == .returned)
    }

    @Test(arguments: [nil, "", " \n"] as [String?])
    func returningWithoutNotesIsAValidationErrorNamingTheNotes(_ notes: String?) {
        let r = rejection { _ = try PrefacturaRules.review(state: .pending, command: ReviewPrefactura(prefacturaId: "PF-1", decision: .return, by: "carla", notes: notes)) }
        #expect(r?.code == .validation)
        #expect(r?.errors.map { $0.field } == ["data.notes"])
    }

    @Test func approvingNeedsNoNotesButNeedsAReviewer() {
        let r = rejection { _ = try PrefacturaRules.review(state: .pending, command: ReviewPrefactura(prefacturaId: "PF-1", decision: .approve, by: "")) }
        #expect(r?.errors.map { $0.field } == ["data.by"])
    }

    @Test func reviewingAnUnknownPrefacturaIsNotFound() {
        #expect(rejectionCode { _ = try PrefacturaRules.review(state: nil, command: ReviewPrefactura(prefacturaId: "PF-1", decision: .approve, by: "carla")) } == "notFound")
    }

    @Test(arguments: PrefacturaState.allCases.filter { $0 != .pending }, PrefacturaDecision.allCases)
    func reviewingADecidedOrSupersededPrefacturaIsInvalidState(_ state: PrefacturaState, _ decision: PrefacturaDecision) {
        #expect(rejectionCode { _ = try PrefacturaRules.review(state: state, command: ReviewPrefactura(prefacturaId: "PF-1", decision: decision, by: "carla", notes: "n")) } == "invalidTransition")
    }
}
