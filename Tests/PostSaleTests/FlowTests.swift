import Contracts
import Foundation
import PostSale
import Runtime
import Testing

@Suite("Withdrawal (H): penalty inside the minimum permanence, retention outside it")
struct WithdrawalTests {
    static func details(_ requestDate: String) -> JSONObject {
        ["productIds": ["INT-1"], "requestDate": .string(requestDate), "reason": "Cierre de la sucursal"]
    }

    static func opened(_ requestDate: String, permanenceUntil: Day? = Day(2027, 6, 30)!) throws -> PostSaleRequest.State {
        try #require(try PS.open(.withdrawal, details(requestDate), facts: PS.contract(permanenceUntil: permanenceUntil)).state)
    }

    @Test func withdrawalOnTheLastDayOfMinimumPermanenceWaitsForThePenaltyDecision() throws {
        let s = try Self.opened("2027-06-30")
        #expect(s.phase == .inProgress)
        #expect(s.step == .penaltyDecision)
        #expect(s.results["insideMinimumPermanence"] == true)
    }

    @Test func refusedPenaltyRejectsTheWithdrawal() throws {
        let d = try PS.decide(PostSaleRequest.self, Self.opened("2027-01-15"), .penalty(RecordPenaltyDecision(requestId: "PV-1", accepted: false)))
        #expect(d.state?.phase == .rejected)
        #expect(PS.rejectedCode(d) == "penaltyRefused")
        #expect(d.emitted(ChargeRequested.self).isEmpty)
    }

    @Test func acceptedPenaltyIsChargedAndTheEquipmentIsAwaited() throws {
        let d = try PS.decide(PostSaleRequest.self, Self.opened("2027-01-15"), .penalty(RecordPenaltyDecision(requestId: "PV-1", accepted: true)))
        let charges = d.emitted(ChargeRequested.self)
        try #require(charges.count == 1)
        #expect(charges[0].amount == Money(minor: 90_000, currency: .bob))
        #expect(charges[0].requestId == "PEN-PV-1")
        #expect(charges[0].payer.idNumber == PS.customer.taxId)
        #expect(d.state?.phase == .inProgress)
        #expect(d.state?.step == .equipment)
    }

    @Test func withdrawalAfterMinimumPermanenceGoesToRetention() throws {
        let s = try Self.opened("2027-07-01")
        #expect(s.step == .retention)
        #expect(s.results["insideMinimumPermanence"] == false)
        #expect(!s.results.keys.contains("penalty"))
    }

    @Test func withdrawalWithoutMinimumPermanenceGoesToRetention() throws {
        let s = try Self.opened("2027-01-15", permanenceUntil: nil)
        #expect(s.phase == .inProgress)
        #expect(s.step == .retention)
    }

    @Test func acceptedRetentionRejectsTheWithdrawalAsRetained() throws {
        let d = try PS.decide(
            PostSaleRequest.self, Self.opened("2027-07-01"), .retention(RecordRetention(requestId: "PV-1", accepted: true, offer: "3 meses al 50 %")))
        #expect(d.state?.phase == .rejected)
        #expect(PS.rejectedCode(d) == "retained")
    }

    @Test func incompleteEquipmentIsChargedAndTheContractWithdrawsTheProducts() throws {
        let refused = try PS.step(PostSaleRequest.self, Self.opened("2027-07-01"), .retention(RecordRetention(requestId: "PV-1", accepted: false)))
        #expect(refused.step == .equipment)
        let d = try PS.decide(PostSaleRequest.self, refused, .equipment(RecordEquipment(requestId: "PV-1", complete: false, damaged: false)))
        let fees = d.emitted(RecurringChargeAdded.self)
        #expect(fees.map(\.amount) == [Tariff.current.equipmentNotReturned])
        #expect(Tariff().equipmentNotReturned == .bolivianos(350))
        #expect(fees.first?.productId == "INT-1")
        #expect(PS.kinds(d) == ["contract"])
        let waiting = try #require(d.state)
        #expect(waiting.step == .withdrawal)

        // The effect on the contract (run by hand), then the contract's word back.
        let contract = try PS.contract(permanenceUntil: Day(2027, 6, 30)!)
        let applied = try PS.decide(
            PostSaleContract.self, contract, .apply(requestId: "PV-1", .withdraw(productIds: ["INT-1"], on: Day(2027, 7, 1)!, details: [:])))
        #expect(applied.emitted(ContractProductChanged.self).map(\.status) == [.withdrawn])
        #expect(applied.state?.product("INT-1")?.withdrawnOn == Day(2027, 7, 1)!)
        #expect(PS.kinds(applied) == ["request"])
        let done = try PS.decide(PostSaleRequest.self, waiting, .withdrawn)
        #expect(done.state?.phase == .awaitingQualityCheck)
    }

    @Test func completeUndamagedEquipmentIsNotCharged() throws {
        let refused = try PS.step(PostSaleRequest.self, Self.opened("2027-07-01"), .retention(RecordRetention(requestId: "PV-1", accepted: false)))
        let d = try PS.decide(PostSaleRequest.self, refused, .equipment(RecordEquipment(requestId: "PV-1", complete: true, damaged: false)))
        #expect(d.emitted(RecurringChargeAdded.self).isEmpty)
        #expect(PS.kinds(d) == ["contract"])
    }
}

@Suite("Transfer (C): feasibility, fee, installation OT")
struct TransferTests {
    static let details: JSONObject = ["productIds": ["INT-1"], "newAddress": "Av. América 123", "technologyChange": false]

    static func opened() throws -> PostSaleRequest.State {
        try #require(try PS.open(.transfer, details, facts: PS.contract()).state)
    }

    @Test func transferWaitsForFeasibility() throws {
        let s = try Self.opened()
        #expect(s.phase == .inProgress)
        #expect(s.step == .feasibility)
    }

    @Test func infeasibleTransferIsRejected() throws {
        let d = try PS.decide(PostSaleRequest.self, Self.opened(), .feasibility(RecordFeasibility(requestId: "PV-1", feasible: false)))
        #expect(d.state?.phase == .rejected)
        #expect(PS.rejectedCode(d) == "notFeasible")
        #expect(d.emitted(OpenWorkOrder.self).isEmpty)
    }

    @Test func feasibleTransferChargesTheFeeAndOpensATransferWorkOrder() throws {
        let d = try PS.decide(PostSaleRequest.self, Self.opened(), .feasibility(RecordFeasibility(requestId: "PV-1", feasible: true)))
        #expect(d.emitted(RecurringChargeAdded.self).map(\.amount) == [Tariff.current.transfer])
        #expect(Tariff().transfer == .bolivianos(150))
        let ot = try #require(d.emitted(OpenWorkOrder.self).first)
        #expect(ot.kind == .transfer)
        #expect(ot.workOrderId == "PS-PV-1")
        #expect(d.state?.step == .fieldWork)
        #expect(d.state?.workOrderId == "PS-PV-1")
        #expect(d.aliases == ["PS-PV-1"])
        #expect(PS.kinds(d) == ["contract"])
    }

    @Test func closingTheTransferWorkOrderAwaitsTheQualityCheck() throws {
        let field = try PS.step(PostSaleRequest.self, Self.opened(), .feasibility(RecordFeasibility(requestId: "PV-1", feasible: true)))
        func closed(_ id: String) -> PostSaleRequest.Input {
            .workOrderClosed(WorkOrderClosed(workOrderId: id, kind: .transfer, customer: PS.customer, outcome: .resolved, closedAt: PS.t0))
        }
        // Another OT's closing is not this request's.
        #expect(try PS.decide(PostSaleRequest.self, field, closed("PS-PV-9")).state == nil)
        let d = try PS.decide(PostSaleRequest.self, field, closed("PS-PV-1"))
        #expect(d.state?.phase == .awaitingQualityCheck)
        #expect(PS.kinds(d) == ["contract"])
        #expect(d.emitted(PostSaleQualityCheckRequested.self).count == 1)
    }
}

@Suite("Damage (E): internet is diagnosed remotely, the rest is reported at once")
struct DamageTests {
    static func details(_ productId: String) -> JSONObject {
        ["productId": .string(productId), "fault": "Sin servicio", "address": "Calle Jordán 457", "referencePhone": "+591 71234567"]
    }

    @Test func internetDamageWaitsForRemoteDiagnosis() throws {
        let d = try PS.open(.damage, Self.details("INT-1"), documents: [], facts: PS.contract())
        #expect(d.state?.phase == .inProgress)
        #expect(d.state?.step == .diagnosis)
        #expect(d.emitted(ReportDamage.self).isEmpty)
    }

    @Test func remoteFixClosesTheDamageAsInfundado() throws {
        let opened = try #require(try PS.open(.damage, Self.details("INT-1"), documents: [], facts: PS.contract()).state)
        let fixed = try PS.decide(
            PostSaleRequest.self, opened, .diagnosis(RecordDiagnosis(requestId: "PV-1", remoteFix: true, findings: "Canal wifi saturado")))
        let s = try #require(fixed.state)
        #expect(s.phase == .awaitingQualityCheck)
        #expect(s.results["infundado"] == true)
        #expect(fixed.emitted(ReportDamage.self).isEmpty)

        let done = try PS.decide(PostSaleRequest.self, s, .qualityCheck(RecordPostSaleQualityCheck(requestId: "PV-1", ok: true)))
        #expect(done.state?.phase == .completed)
        let completed = try #require(done.emitted(PostSaleRequestCompleted.self).first)
        #expect(completed.qualityOk)
        #expect(completed.reason == "infundado")
    }

    @Test func lineDamageIsReportedAtOnce() throws {
        let d = try PS.open(.damage, Self.details("LIN-1"), documents: [], facts: PS.contract())
        let report = try #require(d.emitted(ReportDamage.self).first)
        #expect(d.emitted(ReportDamage.self).count == 1)
        #expect(report.product.id == "LIN-1")
        #expect(report.product.type == .line)
        #expect(report.fault == "Sin servicio")
        #expect(d.state?.phase == .awaitingQualityCheck)
    }
}

@Suite("Quality check and abandonment")
struct EndingTests {
    @Test func qualityCheckBeforeTheStepsAreDoneIsAnInvalidTransition() throws {
        let waiting = try #require(try PS.open(.transfer, TransferTests.details, facts: PS.contract()).state)
        let r = try #require(PS.rejection {
            _ = try PS.decide(PostSaleRequest.self, waiting, .qualityCheck(RecordPostSaleQualityCheck(requestId: "PV-1", ok: true)))
        })
        #expect(r.code == .invalidTransition)
    }

    @Test func failedQualityCheckStillCompletesWithQualityNotOk() throws {
        let d = try PS.open(.callDetail, CallDetailTests.details("boliviatel", ["2026-11"]), documents: [], facts: PS.contract())
        let s = try #require(d.state)
        let done = try PS.decide(PostSaleRequest.self, s, .qualityCheck(RecordPostSaleQualityCheck(requestId: "PV-1", ok: false)))
        #expect(done.state?.phase == .completed)
        #expect(done.state?.qualityOk == false)
        #expect(done.emitted(PostSaleRequestCompleted.self).map(\.qualityOk) == [false])
        // A completed request takes no second call.
        let again = PS.rejection { _ = try PS.decide(PostSaleRequest.self, done.state, .qualityCheck(RecordPostSaleQualityCheck(requestId: "PV-1", ok: true))) }
        #expect(again?.code == .invalidTransition)
    }

    @Test func abandoningARequestWithMissingRequirementsEndsIt() throws {
        let opened = try #require(try PS.open(.suspension, [:], documents: [], facts: PS.contract()).state)
        let d = try PS.decide(PostSaleRequest.self, opened, .abandon(AbandonPostSale(requestId: "PV-1", reason: "No presentó la carta")))
        #expect(d.state?.phase == .abandoned)
        #expect(d.state?.outcome == "abandoned")
        let rejected = try #require(d.emitted(PostSaleRequestRejected.self).first)
        #expect(rejected.code == "abandoned")
        #expect(rejected.missing == ["requestLetter", "details.from", "details.to"])
    }

    @Test func aRejectedRequestCannotBeAbandoned() throws {
        let rejected = try #require(try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-12-01"), facts: PS.contract()).state)
        #expect(rejected.phase == .rejected)
        let r = PS.rejection { _ = try PS.decide(PostSaleRequest.self, rejected, .abandon(AbandonPostSale(requestId: "PV-1", reason: "x"))) }
        #expect(r?.code == .invalidTransition)
    }
}
