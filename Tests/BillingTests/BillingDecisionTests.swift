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

    // MARK: Return, correction, pricing, scope change (issue 7, rule 5)

    static let corrected = [
        PrefacturaLine(description: "Reparación de acometida", quantity: 1, unitPrice: .bolivianos(1_000), amount: .bolivianos(1_000)),
        PrefacturaLine(description: "Materiales", quantity: 4, unitPrice: .bolivianos(25), amount: .bolivianos(100)),
    ]

    func correct(_ prefacturaId: String, lines: [PrefacturaLine] = Self.corrected) -> OT.Input {
        .correct(CorrectPrefactura(prefacturaId: prefacturaId, workOrderId: F.id, lines: lines, by: "angie.cruz", notes: "descuento"))
    }

    func price(_ prefacturaId: String, lines: [PrefacturaLine] = Self.corrected) -> OT.Input {
        .price(PricePrefactura(prefacturaId: prefacturaId, workOrderId: F.id, lines: lines, by: "angie.cruz"))
    }

    @Test func aReturnedPrefacturaWaitsForItsCorrections() throws {
        let d = try F.decide(OT.self, try issued(), returned("PF-2026-000041"), at: F.now)
        let s = try #require(d.state)
        #expect(d.events.isEmpty, "not re-issued with the same lines")
        let old = try #require(s.prefacturas.last)
        #expect(s.prefacturas.count == 1 && s.status == "returned")
        #expect(old.status == .returned && old.returnedBy == "carla" && old.returnNotes == "falta el ítem 3" && old.returnedAt == F.now)
        #expect(try F.decide(OT.self, s, returned("PF-2026-000041")).state == nil, "a second return changes nothing")
    }

    /// The corrections the review asked for travel in `billing.correct-prefactura`; the new
    /// version carries them.
    @Test func aCorrectedPrefacturaIsReissuedWithTheCorrectedLinesAsTheNextVersion() throws {
        let returned = try F.step(OT.self, try issued(), returned("PF-2026-000041"))
        let d = try F.decide(OT.self, returned, correct("PF-2026-000041"), at: F.now, numbers: [OT.prefacturaNumber: 57])
        let s = try #require(d.state)
        #expect(s.prefacturas.map(\.id) == ["PF-2026-000041", "PF-2026-000057"])
        let next = s.prefacturas[1]
        #expect(next.version == 2 && next.status == .issued && next.corrects == "PF-2026-000041" && next.revisedBy == "angie.cruz")
        #expect(next.lines == Self.corrected && next.amount == .bolivianos(1_100))
        #expect(
            d.emitted(PrefacturaIssued.self) == [
                PrefacturaIssued(
                    prefacturaId: "PF-2026-000057", workOrderId: F.id, amount: .bolivianos(1_100), lines: Self.corrected,
                    corrects: "PF-2026-000041")
            ])
        #expect(s.prefacturas[0].status == .returned && s.status == "issued")
        // The returned version is no longer approvable; the corrected one is.
        #expect(try F.decide(OT.self, s, approved("PF-2026-000041"), numbers: [OT.invoiceNumber: 9]).events.isEmpty)
        #expect(try F.decide(OT.self, s, approved("PF-2026-000057"), numbers: [OT.invoiceNumber: 9]).emitted(InvoiceIssued.self).first?.amount == .bolivianos(1_100))
        // Only a returned one is corrected, and only its latest version.
        let again = #expect(throws: Rejection.self) { try F.decide(OT.self, s, correct("PF-2026-000057"), numbers: [OT.prefacturaNumber: 58]) }
        #expect(again?.code == .invalidTransition)
        let stale = #expect(throws: Rejection.self) { try F.decide(OT.self, s, correct("PF-2026-000041"), numbers: [OT.prefacturaNumber: 58]) }
        #expect(stale?.code == .invalidTransition && stale?.message.contains("replaced by PF-2026-000057") == true)
    }

    @Test func correctedLinesAreCheckedBeforeAnythingIsIssued() throws {
        let returned = try F.step(OT.self, try issued(), returned("PF-2026-000041"))
        let wrongTotal = [PrefacturaLine(description: "x", quantity: 2, unitPrice: .bolivianos(10), amount: .bolivianos(25))]
        let wrongCurrency = [PrefacturaLine(description: "x", quantity: 1, unitPrice: Money(minor: 10, currency: .usd), amount: Money(minor: 10, currency: .usd))]
        let zero = [PrefacturaLine(description: "x", quantity: 1, unitPrice: .bolivianos(0), amount: .bolivianos(0))]
        for (lines, field) in [
            (wrongTotal, "data.lines[0].amount.minor"), (wrongCurrency, "data.lines[0].amount.currency"), (zero, "data.lines"),
            ([], "data.lines"),
        ] {
            let error = #expect(throws: Rejection.self) { try F.decide(OT.self, returned, correct("PF-2026-000041", lines: lines), numbers: [OT.prefacturaNumber: 57]) }
            #expect(error?.code == .validation && error?.errors.map(\.field) == [field], "\(field)")
        }
        let unknown = #expect(throws: Rejection.self) { try F.decide(OT.self, nil, correct("PF-2026-000041"), numbers: [OT.prefacturaNumber: 57]) }
        #expect(unknown?.code == .notFound)
    }

    /// A prefactura drafted at 0 is priced by the controller before the review can approve it.
    @Test func aPrefacturaDraftedWithoutAPriceIsPricedIntoTheNextVersion() throws {
        let unpriced = try issued(F.closing(amount: nil))
        #expect(unpriced.status == "unpriced")
        #expect(try F.decide(OT.self, unpriced, approved("PF-2026-000041"), numbers: [OT.invoiceNumber: 9]).events.isEmpty, "never invoiced at 0")
        let d = try F.decide(OT.self, unpriced, price("PF-2026-000041"), numbers: [OT.prefacturaNumber: 57])
        let s = try #require(d.state)
        #expect(s.status == "issued" && s.prefacturas.map(\.status) == [.superseded, .issued])
        #expect(s.prefacturas[1].amount == .bolivianos(1_100) && !s.prefacturas[1].needsPricing)
        #expect(d.emitted(PrefacturaIssued.self).first?.corrects == "PF-2026-000041")
        let twice = #expect(throws: Rejection.self) { try F.decide(OT.self, s, price("PF-2026-000057"), numbers: [OT.prefacturaNumber: 58]) }
        #expect(twice?.code == .invalidTransition, "a priced prefactura changes through the review")
    }

    @Test func theUnpricedDraftSaysSoToTheReview() throws {
        let d = try F.decide(OT.self, nil, .closed(F.closing(amount: nil)), numbers: [OT.prefacturaNumber: 41])
        #expect(d.emitted(PrefacturaIssued.self).first?.needsPricing == true)
        let priced = try F.decide(OT.self, nil, .closed(F.closing()), numbers: [OT.prefacturaNumber: 41])
        #expect(priced.emitted(PrefacturaIssued.self).first?.needsPricing == nil)
    }

    func rescoped(_ amount: Money?) -> OT.Input {
        .scopeChanged(
            WorkOrderScopeChanged(workOrderId: F.id, changes: ["sitios": 3], document: Document(kind: .other, uri: "s3://d/dc-03.pdf"), amount: amount))
    }

    /// SGC-DC-03: a scope change that alters the amount after the closing re-issues the open
    /// prefactura with the changed amount; an invoiced one is no longer open to it.
    @Test func aScopeChangeOfTheAmountReissuesTheOpenPrefactura() throws {
        let d = try F.decide(OT.self, try issued(), rescoped(.bolivianos(1_800)), numbers: [OT.prefacturaNumber: 57])
        let s = try #require(d.state)
        #expect(s.prefacturas.map(\.status) == [.superseded, .issued] && s.prefacturas[1].amount == .bolivianos(1_800))
        #expect(d.emitted(PrefacturaIssued.self).first?.amount == .bolivianos(1_800))
        #expect(try F.decide(OT.self, s, rescoped(.bolivianos(1_800)), numbers: [OT.prefacturaNumber: 58]).state == nil, "the same amount again")
        #expect(try F.decide(OT.self, try issued(), rescoped(nil), numbers: [OT.prefacturaNumber: 58]).state == nil)
        #expect(try F.decide(OT.self, nil, rescoped(.bolivianos(1_800)), numbers: [OT.prefacturaNumber: 58]).state == nil, "not closed yet")
        let invoiced = try F.step(OT.self, try issued(), approved("PF-2026-000041"), numbers: [OT.invoiceNumber: 9])
        #expect(try F.decide(OT.self, invoiced, rescoped(.bolivianos(1_800)), numbers: [OT.prefacturaNumber: 58]).state == nil)
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
