import Approval
import Contracts
import Foundation
import Runtime
import Testing

/// What the approval service's decisions carry, rule by rule.
@Suite("approval decisions")
struct ApprovalDecisionTests {
    typealias F = ApprovalFixtures
    typealias OT = ApprovalWorkOrder

    func decide<A: Aggregate>(_ a: A.Type, _ state: A.State?, _ input: A.Input, messageId: String = "m-1") throws(Rejection) -> Decision<A.State> {
        var context = DecisionContext(now: F.t0, messageId: messageId)
        return try A.decide(state, input, &context)
    }

    // MARK: Quality gate

    @Test func aProjectWithItsDocumentsIsApprovedAtOpeningWithWhatTheOpeningTold() throws {
        let opening = F.opening([F.offer, F.purchaseOrder])
        let d = try decide(OT.self, nil, .opened(opening))
        #expect(
            d.emitted(WorkOrderApproved.self) == [
                WorkOrderApproved(
                    workOrderId: F.id, approvedBy: "quality-gate", customer: .example, kind: .project, serviceLine: .csv,
                    dueBy: opening.dueBy, amount: .bolivianos(48_500))
            ])
        #expect(d.state?.documents.map(\.addedByMessage) == ["m-1", "m-1"])
    }

    @Test func anUngatedKindIsApprovedAutomaticallyWithAnEmptyFolder() throws {
        var opening = F.opening([])
        opening.kind = .repair
        let d = try decide(OT.self, nil, .opened(opening))
        #expect(d.state?.state == .approved)
        #expect(d.emitted(WorkOrderApproved.self).first?.approvedBy == "auto:repair")
    }

    @Test func anIncompleteProjectWaitsAndSaysWhatIsMissing() throws {
        let d = try decide(OT.self, nil, .opened(F.opening([F.annex, F.annex])))
        #expect(d.emitted(WorkOrderApprovalPending.self) == [WorkOrderApprovalPending(workOrderId: F.id, missingDocuments: [.offer, .purchaseOrder])])
        #expect(d.state?.documents.count == 1, "a document told twice is kept once")
        #expect(d.history.first?.details == ["missing": "offer,purchaseOrder"])
    }

    @Test func aSecondOpeningIsIgnored() throws {
        let pending = try F.step(OT.self, nil, .opened(F.opening([F.offer])))
        let d = try decide(OT.self, pending, .opened(F.opening([F.offer, F.purchaseOrder])), messageId: "m-2")
        #expect(d.state == nil && d.events.isEmpty)
    }

    @Test func aLateOpeningOfACancelledOTKeepsItCancelled() throws {
        let cancelled = try F.step(OT.self, nil, .cancelled(WorkOrderCancelled(workOrderId: F.id, reason: "desistió")))
        #expect(cancelled.state == .cancelled && cancelled.opening == nil)
        let d = try decide(OT.self, cancelled, .opened(F.opening([F.offer, F.purchaseOrder])))
        let s = try #require(d.state)
        #expect(s.state == .cancelled && s.opening?.number == "OT-BO-2026-000001")
        #expect(d.events.isEmpty, "a cancelled OT is never approved")
        #expect(d.history.map(\.to) == [nil])
        let approve = ApproveWorkOrder(workOrderId: F.id, by: "lucia")
        #expect(throws: Rejection.self) { try decide(OT.self, s, .approve(approve)) }
    }

    @Test func attachingTheMissingDocumentApprovesThroughTheGate() throws {
        let pending = try F.step(OT.self, nil, .opened(F.opening([F.offer])))
        let d = try decide(OT.self, pending, .attach(AttachDocument(workOrderId: F.id, document: F.purchaseOrder)), messageId: "m-2")
        #expect(d.emitted(WorkOrderApproved.self).first?.approvedBy == "quality-gate")
        #expect(d.history.first?.action == "documentAttached:purchaseOrder")
        let added = try #require(d.state?.documents.last)
        #expect(added.document == F.purchaseOrder && added.addedAt == F.t0 && added.addedByMessage == "m-2")
    }

    @Test func anApprovalWithDocumentsMissingIsRecordedAsAnOverride() throws {
        let pending = try F.step(OT.self, nil, .opened(F.opening([F.offer])))
        let d = try decide(OT.self, pending, .approve(ApproveWorkOrder(workOrderId: F.id, by: "lucia", reason: "OC en camino")))
        let h = try #require(d.history.first)
        #expect(h.action == "approvedOverride" && h.by == "lucia" && h.reason == "OC en camino")
        #expect(h.details == ["missing": "purchaseOrder"])
        #expect(d.emitted(WorkOrderApproved.self).first?.approvedBy == "lucia")
    }

    @Test func aRejectionCarriesItsReason() throws {
        let pending = try F.step(OT.self, nil, .opened(F.opening([F.offer])))
        let d = try decide(OT.self, pending, .reject(RejectWorkOrder(workOrderId: F.id, by: "lucia", reason: "sin firma")))
        #expect(d.emitted(WorkOrderRejected.self) == [WorkOrderRejected(workOrderId: F.id, reason: "sin firma")])
    }

    @Test func aRejectionWithoutAReasonIsAValidationErrorEvenForAnUnknownOT() {
        let error = #expect(throws: Rejection.self) {
            try decide(OT.self, nil, .reject(RejectWorkOrder(workOrderId: F.id, by: "lucia")))
        }
        #expect(error?.code == .validation)
    }

    // MARK: Survey

    @Test func theSurveyIdIsDerivedFromTheOT() {
        #expect(Survey.surveyId(workOrderId: "W-1") == Survey.surveyId(workOrderId: "W-1"))
        #expect(Survey.surveyId(workOrderId: "W-1") != Survey.surveyId(workOrderId: "W-2"))
        #expect(Survey.surveyId(workOrderId: "W-1") == DerivedID.uuid("survey", "W-1"))
    }

    /// Issue 7, rule 3 (§4.8 "una vez entregado el informe al cliente"): the survey follows the
    /// delivered report, once.
    @Test func aProjectWhoseReportWasDeliveredGetsOneSurveyFoundByItsId() throws {
        let d = try decide(Survey.self, nil, .reportDelivered(F.delivery()))
        let id = Survey.surveyId(workOrderId: F.id)
        #expect(d.emitted(SurveyRequested.self) == [SurveyRequested(surveyId: id, workOrderId: F.id, customer: .example)])
        #expect(d.aliases == [id])
        let requested = try #require(d.state)
        let again = try decide(Survey.self, requested, .reportDelivered(F.delivery()), messageId: "m-2")
        #expect(again.state == nil && again.events.isEmpty, "a second delivery asks nothing twice")
    }

    /// Issue 7, rule 2: CERCAL's survey is for projects only; no other kind of OT gets one.
    @Test func noOtherKindOfOTGetsASurvey() throws {
        for kind in WorkOrderKind.allCases {
            let d = try decide(Survey.self, nil, .reportDelivered(F.delivery(kind)))
            #expect(d.emitted(SurveyRequested.self).count == (kind == .project ? 1 : 0), "\(kind)")
            #expect((d.state != nil) == (kind == .project), "\(kind)")
        }
    }

    /// The closing alone asks nothing: the survey waits for the report.
    @Test func theClosingDoesNotRequestTheSurvey() {
        #expect(ApprovalService.routes.aggregateKinds(for: F.closing) == [ApprovalWorkOrder.kind])
        #expect(ApprovalService.routes.aggregateKinds(for: F.delivery()) == [Survey.kind])
    }

    @Test func aSurveyIsAnsweredOnce() throws {
        let requested = try F.step(Survey.self, nil, .reportDelivered(F.delivery()))
        let answer = RecordSurveyAnswer(surveyId: requested.surveyId, score: 5, comments: "excelente", by: "call-center")
        let d = try decide(Survey.self, requested, .answer(answer))
        #expect(d.emitted(SurveyAnswered.self) == [SurveyAnswered(surveyId: requested.surveyId, workOrderId: F.id, score: 5, comments: "excelente")])
        let answered = try #require(d.state)
        #expect(answered.answeredBy == "call-center" && answered.answeredAt == F.t0)
        let error = #expect(throws: Rejection.self) { try decide(Survey.self, answered, .answer(answer)) }
        #expect(error?.code == .alreadyDone)
    }

    @Test func aScoreOutOfRangeIsAValidationErrorBeforeTheSurveyIsLookedUp() {
        let error = #expect(throws: Rejection.self) {
            try decide(Survey.self, nil, .answer(RecordSurveyAnswer(surveyId: "S", score: 6, by: "call-center")))
        }
        #expect(error?.code == .validation && error?.errors.map(\.field) == ["data.score"])
    }

    // MARK: Prefactura review

    func issued(_ id: String) -> PrefacturaIssued {
        PrefacturaIssued(prefacturaId: id, workOrderId: F.id, amount: .bolivianos(100), lines: [])
    }

    /// Issue 7, rule 5: a prefactura drafted at 0 is priced before it can be approved; it can
    /// still be returned.
    @Test func anUnpricedPrefacturaCannotBeApproved() throws {
        var unpriced = issued("PF-1")
        unpriced.needsPricing = true
        let s = try F.step(PrefacturaReview.self, nil, .issued(unpriced))
        let error = #expect(throws: Rejection.self) {
            try decide(PrefacturaReview.self, s, .review(ReviewPrefactura(prefacturaId: "PF-1", decision: .approve, by: "carla")))
        }
        #expect(error?.code == .invalidTransition && error?.message.contains("billing.price-prefactura") == true)
        let returned = try decide(PrefacturaReview.self, s, .review(ReviewPrefactura(prefacturaId: "PF-1", decision: .return, by: "carla", notes: "falta precio")))
        #expect(returned.emitted(PrefacturaReturned.self).count == 1)
        // The priced version that follows is approved.
        let priced = try F.step(PrefacturaReview.self, s, .issued(issued("PF-2")))
        let approved = try decide(PrefacturaReview.self, priced, .review(ReviewPrefactura(prefacturaId: "PF-2", decision: .approve, by: "carla")))
        #expect(approved.emitted(PrefacturaApproved.self).count == 1)
    }

    @Test func aPrefacturaIsFoundByItsIdForTheReview() throws {
        let d = try decide(PrefacturaReview.self, nil, .issued(issued("PF-1")))
        #expect(d.aliases == ["PF-1"])
        #expect(d.events.isEmpty, "the review waits for the commercial head")
    }

    @Test func aNewVersionSupersedesTheOneStillPending() throws {
        let first = try F.step(PrefacturaReview.self, nil, .issued(issued("PF-1")))
        let d = try decide(PrefacturaReview.self, first, .issued(issued("PF-2")))
        let s = try #require(d.state)
        #expect(s.prefacturas.map(\.state) == [.superseded, .pending])
        #expect(s.prefacturas[0].notes == "superseded by PF-2")
        let error = #expect(throws: Rejection.self) {
            try decide(PrefacturaReview.self, s, .review(ReviewPrefactura(prefacturaId: "PF-1", decision: .approve, by: "carla")))
        }
        #expect(error?.code == .invalidTransition)
    }

    @Test func aKnownPrefacturaIssuedAgainIsIgnored() throws {
        let first = try F.step(PrefacturaReview.self, nil, .issued(issued("PF-1")))
        let d = try decide(PrefacturaReview.self, first, .issued(issued("PF-1")), messageId: "m-2")
        #expect(d.state == nil)
    }

    @Test func aReturnNeedsNotesAndTellsBillingWhatToCorrect() throws {
        let pending = try F.step(PrefacturaReview.self, nil, .issued(issued("PF-1")))
        let error = #expect(throws: Rejection.self) {
            try decide(PrefacturaReview.self, pending, .review(ReviewPrefactura(prefacturaId: "PF-1", decision: .return, by: "carla")))
        }
        #expect(error?.code == .validation)
        let d = try decide(
            PrefacturaReview.self, pending, .review(ReviewPrefactura(prefacturaId: "PF-1", decision: .return, by: "carla", notes: "ítem 3")))
        #expect(d.emitted(PrefacturaReturned.self) == [PrefacturaReturned(prefacturaId: "PF-1", workOrderId: F.id, by: "carla", notes: "ítem 3")])
        #expect(d.state?.prefacturas.first?.decidedBy == "carla")
    }
}
