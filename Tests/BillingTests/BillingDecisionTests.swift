import Billing
import Contracts
import Foundation
import Runtime
import Testing

/// What billing's decisions carry, rule by rule: prefacturas and invoices numbered from their
/// sequences, the returned prefactura's next version, the CxC paid once for its amount.
@Suite("billing decisions")
struct BillingDecisionTests {
    typealias F = BillingFixtures
    typealias OT = BillingWorkOrder

    func issued(_ closing: WorkOrderClosed = F.closing(), number: Int64 = 41) throws -> OT.State {
        try F.step(OT.self, nil, .closed(closing), numbers: [OT.prefacturaNumber: number])
    }

    func approved(_ prefacturaId: String) -> OT.Input {
        .approved(PrefacturaApproved(prefacturaId: prefacturaId, workOrderId: F.id, by: "carla", notes: "conforme"))
    }

    func returned(_ prefacturaId: String) -> OT.Input {
        .returned(PrefacturaReturned(prefacturaId: prefacturaId, workOrderId: F.id, by: "carla", notes: "falta el ítem 3"))
    }

    // MARK: Prefactura

    @Test func aClosedOTIsBilledWithAPrefacturaNumberedFromItsSequence() throws {
        let d = try F.decide(OT.self, nil, .closed(F.closing(amount: .bolivianos(1_200))), numbers: [OT.prefacturaNumber: 42])
        let e = try #require(d.emitted(PrefacturaIssued.self).first)
        #expect(e.prefacturaId == "PF-2026-000042" && e.workOrderId == F.id && e.amount == .bolivianos(1_200))
        #expect(e.lines == BillingRules.draft(F.closing(amount: .bolivianos(1_200))).lines)
        let pf = try #require(d.state?.prefacturas.first)
        #expect(pf.version == 1 && pf.status == .issued && !pf.needsPricing && pf.corrects == nil)
    }

    @Test func aClosedOTWithoutANumberDrawnIsAnInternalError() {
        let error = #expect(throws: Rejection.self) { try F.decide(OT.self, nil, .closed(F.closing())) }
        #expect(error?.code == .internalError)
    }

    @Test func aPoleMoveIsSettledByItsCxCAndDrawsNoNumber() throws {
        let d = try F.decide(OT.self, nil, .closed(F.closing(.poleMove)))
        #expect(d.state?.status == "settled" && d.state?.prefacturas == [])
        #expect(d.events.isEmpty)
    }

    @Test func aSecondClosingBillsNothing() throws {
        let ot = try issued()
        let d = try F.decide(OT.self, ot, .closed(F.closing()), numbers: [OT.prefacturaNumber: 43])
        #expect(d.state == nil && d.events.isEmpty)
    }

    @Test func aClosedOTWithoutAPriceIsBilledAtZeroAndNeedsPricing() throws {
        let ot = try issued(F.closing(country: .cl, amount: nil))
        let pf = try #require(ot.prefacturas.first)
        #expect(pf.amount == Money(minor: 0, currency: .clp) && pf.needsPricing)
    }

    // MARK: Invoice

    @Test(arguments: [(Country.bo, InvoiceIssuer.billingBO), (.cl, .treasuryCL), (.co, .accountManagerCO)])
    func anApprovedPrefacturaIsInvoicedByTheCountrysIssuer(_ country: Country, _ issuer: InvoiceIssuer) throws {
        let ot = try issued(F.closing(country: country))
        let d = try F.decide(OT.self, ot, approved("PF-2026-000041"), numbers: [OT.invoiceNumber: 9])
        #expect(
            d.emitted(InvoiceIssued.self) == [
                InvoiceIssued(
                    invoiceId: "FAC-\(country.rawValue)-2026-0000009", prefacturaId: "PF-2026-000041", workOrderId: F.id,
                    amount: .bolivianos(1_200), issuer: issuer)
            ])
        let s = try #require(d.state)
        #expect(s.status == "invoiced" && s.prefacturas.last?.status == .invoiced)
        #expect(s.invoice?.approvedBy == "carla" && s.invoice?.approvalNotes == "conforme")
    }

    @Test func anInvoiceWithoutANumberDrawnIsAnInternalError() throws {
        let ot = try issued()
        let error = #expect(throws: Rejection.self) { try F.decide(OT.self, ot, approved("PF-2026-000041")) }
        #expect(error?.code == .internalError)
    }

    @Test func anApprovalOfAnotherPrefacturaIsIgnored() throws {
        let ot = try issued()
        let d = try F.decide(OT.self, ot, approved("PF-2026-000999"), numbers: [OT.invoiceNumber: 9])
        #expect(d.state == nil && d.events.isEmpty)
    }

    @Test func aSecondApprovalInvoicesNothing() throws {
        let invoiced = try F.step(OT.self, try issued(), approved("PF-2026-000041"), numbers: [OT.invoiceNumber: 9])
        let d = try F.decide(OT.self, invoiced, approved("PF-2026-000041"), numbers: [OT.invoiceNumber: 10])
        #expect(d.state == nil && d.events.isEmpty)
    }

    // MARK: Return

    @Test func aReturnedPrefacturaIsReissuedAsTheNextVersionWithANewNumber() throws {
        let ot = try issued()
        let d = try F.decide(OT.self, ot, returned("PF-2026-000041"), at: F.now, numbers: [OT.prefacturaNumber: 57])
        let s = try #require(d.state)
        #expect(s.prefacturas.map(\.id) == ["PF-2026-000041", "PF-2026-000057"])
        let old = s.prefacturas[0], next = s.prefacturas[1]
        #expect(old.status == .returned && old.returnedBy == "carla" && old.returnNotes == "falta el ítem 3" && old.returnedAt == F.now)
        #expect(next.version == 2 && next.status == .issued && next.corrects == "PF-2026-000041")
        #expect(next.lines == old.lines && next.amount == old.amount)
        #expect(
            d.emitted(PrefacturaIssued.self) == [
                PrefacturaIssued(prefacturaId: "PF-2026-000057", workOrderId: F.id, amount: old.amount, lines: old.lines)
            ])
        #expect(s.status == "issued")
    }

    @Test func aReissueWithoutANumberDrawnIsAnInternalError() throws {
        let ot = try issued()
        let error = #expect(throws: Rejection.self) { try F.decide(OT.self, ot, returned("PF-2026-000041")) }
        #expect(error?.code == .internalError)
    }

    @Test func anApprovalOfAReturnedVersionIsIgnoredAndTheNewVersionIsInvoiced() throws {
        let reissued = try F.step(OT.self, try issued(), returned("PF-2026-000041"), numbers: [OT.prefacturaNumber: 57])
        let stale = try F.decide(OT.self, reissued, approved("PF-2026-000041"), numbers: [OT.invoiceNumber: 9])
        #expect(stale.state == nil && stale.events.isEmpty)
        let d = try F.decide(OT.self, reissued, approved("PF-2026-000057"), numbers: [OT.invoiceNumber: 9])
        #expect(d.emitted(InvoiceIssued.self).first?.prefacturaId == "PF-2026-000057")
    }

    @Test func aSecondReturnOfTheSameVersionIssuesNothing() throws {
        let reissued = try F.step(OT.self, try issued(), returned("PF-2026-000041"), numbers: [OT.prefacturaNumber: 57])
        let d = try F.decide(OT.self, reissued, returned("PF-2026-000041"), numbers: [OT.prefacturaNumber: 58])
        #expect(d.state == nil && d.events.isEmpty)
    }

    // MARK: CxC

    let request = ChargeRequested(
        requestId: "PMR-m-1", amount: .bolivianos(1_000), payer: .example, reason: "Movimiento de poste", workOrderId: nil)

    func created() throws -> Charge.State {
        try F.step(Charge.self, nil, .requested(request), numbers: [Charge.chargeNumber: 12])
    }

    @Test func aChargeIsNumberedFromItsSequenceAndFoundByItsId() throws {
        let d = try F.decide(Charge.self, nil, .requested(request), numbers: [Charge.chargeNumber: 12])
        #expect(
            d.emitted(ChargeCreated.self) == [
                ChargeCreated(
                    chargeId: "CXC-2026-000012", amount: .bolivianos(1_000), payer: .example, reason: "Movimiento de poste",
                    requestId: "PMR-m-1")
            ])
        #expect(d.aliases == ["CXC-2026-000012"])
    }

    @Test func aChargeWithoutANumberDrawnIsAnInternalError() {
        let error = #expect(throws: Rejection.self) { try F.decide(Charge.self, nil, .requested(request)) }
        #expect(error?.code == .internalError)
    }

    @Test func aRepeatedRequestCreatesNothing() throws {
        let d = try F.decide(Charge.self, try created(), .requested(request), numbers: [Charge.chargeNumber: 13])
        #expect(d.state == nil && d.events.isEmpty)
    }

    @Test func aPaymentOfTheExactAmountPaysTheCharge() throws {
        let d = try F.decide(Charge.self, try created(), .payment(RecordPayment(chargeId: "CXC-2026-000012", amount: .bolivianos(1_000), receipt: "R-1")))
        #expect(d.emitted(ChargePaid.self) == [ChargePaid(chargeId: "CXC-2026-000012", amount: .bolivianos(1_000), receipt: "R-1")])
        #expect(d.state?.payment?.receipt == "R-1")
    }

    @Test(arguments: [Money.bolivianos(999), Money(minor: 100_000, currency: .usd)])
    func aPaymentOfTheWrongAmountIsAnAmountMismatch(_ amount: Money) throws {
        let charge = try created()
        let error = #expect(throws: Rejection.self) {
            try F.decide(Charge.self, charge, .payment(RecordPayment(chargeId: "CXC-2026-000012", amount: amount, receipt: "R-1")))
        }
        #expect(error?.code == .amountMismatch)
    }

    @Test func aChargeIsPaidOnce() throws {
        let payment = RecordPayment(chargeId: "CXC-2026-000012", amount: .bolivianos(1_000), receipt: "R-1")
        let paid = try F.step(Charge.self, try created(), .payment(payment))
        let error = #expect(throws: Rejection.self) { try F.decide(Charge.self, paid, .payment(payment)) }
        #expect(error?.code == .alreadyDone)
    }

    @Test func aPaymentOfAnUnknownChargeIsNotFoundAndNotParked() {
        let error = #expect(throws: Rejection.self) {
            try F.decide(Charge.self, nil, .payment(RecordPayment(chargeId: "CXC-2026-999999", amount: .bolivianos(1_000), receipt: "R-1")))
        }
        #expect(error?.code == .notFound && error?.mayBeLate == false)
    }

    @Test func aPaymentWithoutReceiptIsAValidationErrorBeforeTheChargeIsLookedUp() {
        let error = #expect(throws: Rejection.self) {
            try F.decide(Charge.self, nil, .payment(RecordPayment(chargeId: "CXC-1", amount: .bolivianos(1_000), receipt: " ")))
        }
        #expect(error?.code == .validation)
    }

    // MARK: A charge and its OT (issue 7, rule 7)

    let poleMove = ChargeRequested(
        requestId: "PMR-m-1", amount: .bolivianos(1_000), payer: .example, reason: "Movimiento de poste", workOrderId: "PM-PMR-m-1")

    func paidPoleMove() throws -> Charge.State {
        let created = try F.step(Charge.self, nil, .requested(poleMove), numbers: [Charge.chargeNumber: 12])
        return try F.step(
            Charge.self, created, .payment(RecordPayment(chargeId: "CXC-2026-000012", amount: .bolivianos(1_000), receipt: "R-1")))
    }

    func opened(_ id: String = "PM-PMR-m-1") -> WorkOrderOpened {
        var e = WorkOrderOpened.example
        e.workOrderId = id
        e.kind = .poleMove
        return e
    }

    @Test func aChargeIsAlsoFoundByTheOTItPaysFor() throws {
        let d = try F.decide(Charge.self, nil, .requested(poleMove), numbers: [Charge.chargeNumber: 12])
        #expect(d.aliases == ["CXC-2026-000012", "PM-PMR-m-1"])
        #expect(d.emitted(ChargeCreated.self).first?.workOrderId == "PM-PMR-m-1")
        #expect(BillingRules.chargeAliases(chargeId: "CXC-1", workOrderId: " ") == ["CXC-1"])
        #expect(BillingService.routes.aggregateKinds(for: opened()) == [Charge.kind])
        #expect(BillingService.routes.aggregateKinds(for: WorkOrderCancelled(workOrderId: "PM-PMR-m-1", reason: "x")) == [Charge.kind])
    }

    @Test func theOpeningOfAPaidChargesOTIsRecordedAtTheEventsTime() throws {
        let eventTime = F.t0.addingTimeInterval(5)
        var context = DecisionContext(now: F.t0.addingTimeInterval(60), messageId: "m-9", messageTime: eventTime)
        let d = try Charge.decide(try paidPoleMove(), .workOrderOpened(opened()), &context)
        #expect(d.state?.workOrderOpenedAt == eventTime)
        #expect(d.state?.status == "paid")
        #expect(d.events.isEmpty)
        // Once: a second opening (a replay) changes nothing.
        let withOT = try F.step(Charge.self, try paidPoleMove(), .workOrderOpened(opened()))
        let again = try F.decide(Charge.self, withOT, .workOrderOpened(opened()))
        #expect(again.state == nil)
    }

    @Test func theCancellationOfAPaidChargesOTMakesItsRefundDueWithTheReason() throws {
        let eventTime = F.t0.addingTimeInterval(3_600)
        var context = DecisionContext(now: F.t0.addingTimeInterval(3_700), messageId: "m-9", messageTime: eventTime)
        let withOT = try F.step(Charge.self, try paidPoleMove(), .workOrderOpened(opened()))
        let d = try Charge.decide(withOT, .workOrderCancelled(WorkOrderCancelled(workOrderId: "PM-PMR-m-1", reason: "no procede")), &context)
        #expect(d.state?.status == "refundDue")
        #expect(d.state?.workOrderCancelledAt == eventTime && d.state?.workOrderCancelReason == "no procede")
        #expect(d.history.map(\.to) == ["refundDue"])
        #expect(d.events.isEmpty, "billing owns no refund event: the reconciliation reports it")
    }

    @Test func theOTOfAnUnpaidChargeChangesNothing() throws {
        let created = try F.step(Charge.self, nil, .requested(poleMove), numbers: [Charge.chargeNumber: 12])
        #expect(try F.decide(Charge.self, created, .workOrderOpened(opened())).state == nil)
        #expect(try F.decide(Charge.self, created, .workOrderCancelled(WorkOrderCancelled(workOrderId: "PM-PMR-m-1", reason: "x"))).state == nil)
    }
}
