import Billing
import Contracts
import Foundation
import Runtime
import Testing

@Suite("billing rules")
struct BillingRulesTests {
    func closed(_ kind: WorkOrderKind = .installation, country: Country = .bo, amount: Money? = nil) -> WorkOrderClosed {
        var customer = WorkOrderClosed.example.customer
        customer.country = country
        return WorkOrderClosed(
            workOrderId: "WO-1", kind: kind, customer: customer, outcome: .resolved,
            closedAt: Date(timeIntervalSince1970: 1_780_000_000), amount: amount)
    }

    func rejection(_ body: () throws -> Void) -> Rejection? {
        do {
            try body()
            return nil
        } catch {
            return error as? Rejection
        }
    }

    @Test(arguments: [(Country.cl, InvoiceIssuer.treasuryCL), (.co, .accountManagerCO), (.bo, .billingBO)])
    func theInvoiceIssuerDependsOnTheCountry(_ country: Country, _ issuer: InvoiceIssuer) {
        #expect(BillingRules.issuer(for: country) == issuer)
    }

    @Test func aClosedOTWithAnAmountIsBilledInOneLineAtThatAmount() {
        let d = BillingRules.draft(closed(amount: Money(minor: 4_850_000, currency: .bob)))
        #expect(d.lines.count == 1)
        #expect(d.lines[0].quantity == 1)
        #expect(d.lines[0].unitPrice == Money(minor: 4_850_000, currency: .bob))
        #expect(d.lines[0].amount == d.lines[0].unitPrice)
        #expect(d.lines[0].description.contains("Instalación"))
        #expect(d.lines[0].description.contains("WO-1"))
        #expect(d.amount == Money(minor: 4_850_000, currency: .bob))
        #expect(!d.needsPricing)
    }

    @Test func aPoleMoveIsSettledByItsCxCAndNeverDraftedAgain() {
        #expect(BillingRules.settledByCxC(.poleMove))
        for kind in [WorkOrderKind.project, .installation] { #expect(!BillingRules.settledByCxC(kind)) }
    }

    /// GC-PRC-OPE-ASE-04: the OTs post-sale opens are billed through the recurring invoice or a
    /// CxC, never through a prefactura.
    @Test func theOTsPostSaleOpensGetNoPrefactura() {
        for kind in [WorkOrderKind.transfer, .visit, .withdrawal, .repair] { #expect(BillingRules.settledByCxC(kind)) }
    }

    @Test func aClosedOTWithoutAnyPriceIsBilledAtZeroInTheCountryCurrencyAndFlagged() {
        let d = BillingRules.draft(closed(.visit, country: .cl))
        #expect(d.amount == Money(minor: 0, currency: .clp))
        #expect(d.needsPricing)
        #expect(d.lines.count == 1)
    }

    @Test func linesInMixedCurrenciesHaveNoTotal() {
        let a = PrefacturaLine(description: "a", quantity: 1, unitPrice: .bolivianos(1), amount: .bolivianos(1))
        var b = a
        b.amount = Money(minor: 100, currency: .usd)
        #expect(BillingRules.total([a, a]) == .bolivianos(2))
        #expect(BillingRules.total([a, b]) == nil)
        #expect(BillingRules.total([]) == nil)
    }

    @Test func aPaymentNeedsAReceipt() {
        let r = rejection { try BillingRules.validate(RecordPayment(chargeId: "CXC-1", amount: .bolivianos(1000), receipt: "  ")) }
        #expect(r?.code == .validation)
        #expect(r?.errors.map(\.field) == ["data.receipt"])
    }

    @Test func aPaymentOfTheExactAmountIsAccepted() {
        let p = RecordPayment(chargeId: "CXC-1", amount: .bolivianos(1000), receipt: "R-1")
        #expect(rejection { try BillingRules.check(payment: p, chargeAmount: .bolivianos(1000), alreadyPaid: false) } == nil)
    }

    @Test(arguments: [Money(minor: 99_999, currency: .bob), Money(minor: 100_000, currency: .usd)])
    func aPaymentOfAnotherAmountOrCurrencyIsAMismatch(_ amount: Money) {
        let p = RecordPayment(chargeId: "CXC-1", amount: amount, receipt: "R-1")
        let r = rejection { try BillingRules.check(payment: p, chargeAmount: .bolivianos(1000), alreadyPaid: false) }
        #expect(r?.code == .amountMismatch)
        #expect(r?.errors.map(\.field) == ["data.amount"])
    }

    @Test func aChargeIsPaidOnlyOnce() {
        let p = RecordPayment(chargeId: "CXC-1", amount: .bolivianos(1000), receipt: "R-2")
        #expect(rejection { try BillingRules.check(payment: p, chargeAmount: .bolivianos(1000), alreadyPaid: true) }?.code == .alreadyDone)
    }
}

@Suite("monthly CxC reconciliation")
struct ReconciliationTests {
    let cal: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()
    func day(_ m: Int, _ d: Int) -> Date { cal.date(from: DateComponents(year: 2026, month: m, day: d, hour: 12))! }
    /// Long after every month of these tests: every grace is over.
    var later: Date { day(12, 31) }
    /// The first instant of a month of 2026 (UTC).
    func monthStart(_ m: Int) -> Date { Reconciliation.interval(year: 2026, month: m).start }
    let ms = 0.001

    /// A charge naming its OT `PM-PMR-<id>` (unless not `namesOT`), opened (unless not
    /// `opened`) and, if `cancelled`, cancelled then.
    func charge(
        _ id: String, _ bs: Int64, _ date: Date, currency: Currency = .bob, opened: Bool = true, cancelled: Date? = nil,
        reason: String = "no procede", untracked: Bool = false, namesOT: Bool = true
    ) -> Reconciliation.Charge {
        Reconciliation.Charge(
            id: id, requestId: "PMR-\(id)", amount: Money(minor: bs * 100, currency: currency), payer: .example,
            workOrderId: namesOT ? "PM-PMR-\(id)" : nil, createdAt: date, workOrderOpenedAt: opened ? date.addingTimeInterval(1) : nil,
            workOrderCancelledAt: cancelled, workOrderCancelReason: cancelled == nil ? nil : reason, workOrderUntracked: untracked)
    }
    func payment(_ id: String, _ bs: Int64, _ date: Date, receipt: String? = nil, currency: Currency = .bob) -> Reconciliation.Payment {
        Reconciliation.Payment(chargeId: id, amount: Money(minor: bs * 100, currency: currency), receipt: receipt ?? "REC-\(id)", paidAt: date)
    }
    func reconcile(
        _ m: Int, _ charges: [Reconciliation.Charge], _ payments: [Reconciliation.Payment], asOf: Date? = nil
    ) -> Reconciliation {
        Reconciliation.compute(year: 2026, month: m, charges: charges, payments: payments, invoices: [], asOf: asOf ?? later)
    }

    @Test func theMonthIsACalendarMonthInUTC() {
        let (start, end) = Reconciliation.interval(year: 2026, month: 12)
        #expect(start == cal.date(from: DateComponents(year: 2026, month: 12, day: 1))!)
        #expect(end == cal.date(from: DateComponents(year: 2027, month: 1, day: 1))!)
    }

    // MARK: Unpaid past the month

    @Test func paidAndUnpaidChargesAreTotalledPerCurrencyAndTheUnpaidOneIsADifference() {
        let r = reconcile(
            3, [charge("A", 1000, day(3, 2)), charge("B", 1000, day(3, 5)), charge("C", 50_000, day(3, 7), currency: .clp)],
            [payment("A", 1000, day(3, 3)), payment("C", 50_000, day(3, 8), currency: .clp)])
        #expect(r.charges.map(\.id) == ["A", "B", "C"])
        #expect(r.totals[.bob] == Reconciliation.Totals(charged: 200_000, paid: 100_000, outstanding: 100_000, invoiced: 0))
        #expect(r.totals[.clp] == Reconciliation.Totals(charged: 5_000_000, paid: 5_000_000, outstanding: 0, invoiced: 0))
        #expect(r.differences == [.unpaid(chargeId: "B", amount: .bolivianos(1000))])
    }

    @Test func aChargePaidAfterTheMonthIsUnpaidInItsMonthAndItsPaymentCountsInTheNext() {
        let charges = [charge("A", 1000, day(3, 30))]
        let payments = [payment("A", 1000, day(4, 2))]
        let march = reconcile(3, charges, payments)
        #expect(march.differences == [.unpaid(chargeId: "A", amount: .bolivianos(1000))])
        #expect(march.totals[.bob]?.paid == 0)
        let april = reconcile(4, charges, payments)
        #expect(april.differences.isEmpty)
        #expect(april.totals[.bob] == Reconciliation.Totals(charged: 0, paid: 100_000, outstanding: 0, invoiced: 0))
    }

    @Test func aPaymentOnTheLastMillisecondOfTheMonthCountsInTheMonthAndOneAtMidnightInTheNext() {
        let end = monthStart(4)
        let charges = [charge("A", 1000, day(3, 30)), charge("B", 1000, end.addingTimeInterval(-ms))]
        let payments = [payment("A", 1000, end.addingTimeInterval(-ms)), payment("B", 1000, end)]
        let march = reconcile(3, charges, payments)
        #expect(march.differences == [.unpaid(chargeId: "B", amount: .bolivianos(1000))], "B, created on the last millisecond, is unpaid at the end")
        #expect(march.totals[.bob] == Reconciliation.Totals(charged: 200_000, paid: 100_000, outstanding: 100_000))
        let april = reconcile(4, charges, payments)
        #expect(april.differences.isEmpty)
        #expect(april.payments.map(\.chargeId) == ["B"])
    }

    // MARK: Paid with no OT

    @Test func aChargePaidWhoseOTWasNeverOpenedIsReportedOnceTheGraceIsOver() {
        let paidAt = day(3, 10)
        let charges = [charge("A", 1000, day(3, 9), opened: false)]
        let payments = [payment("A", 1000, paidAt)]
        let missing = Reconciliation.Difference.paidWithoutWorkOrder(
            chargeId: "A", workOrderId: "PM-PMR-A", amount: .bolivianos(1000), paidAt: paidAt)
        #expect(reconcile(3, charges, payments).differences == [missing])
        let graceOver = paidAt.addingTimeInterval(Reconciliation.workOrderGrace)
        #expect(reconcile(3, charges, payments, asOf: graceOver).differences == [missing], "the grace is over at its last instant")
        #expect(reconcile(3, charges, payments, asOf: graceOver.addingTimeInterval(-ms)).differences.isEmpty, "still within the grace")
        #expect(reconcile(4, charges, payments).differences.isEmpty, "reported in the month of the payment only")
        #expect(Reconciliation.workOrderGrace == 86_400)
    }

    @Test func aChargeWhoseOTWasOpenedOrCancelledOrIsUntrackedHasAnOT() {
        let charges = [
            charge("A", 1000, day(3, 1)), charge("B", 1000, day(3, 1), opened: false, cancelled: day(3, 4)),
            charge("C", 1000, day(3, 1), opened: false, untracked: true),
        ]
        let payments = [payment("A", 1000, day(3, 2)), payment("B", 1000, day(3, 2)), payment("C", 1000, day(3, 2))]
        let r = reconcile(3, charges, payments)
        #expect(!r.differences.contains { $0.check == "paidWithoutWorkOrder" })
        #expect(r.differences.map(\.check) == ["refundDue"])
    }

    @Test func aPaidChargeThatNamesNoOTIsPaidWithNoOT() {
        let r = reconcile(3, [charge("A", 1000, day(3, 1), opened: false, namesOT: false)], [payment("A", 1000, day(3, 2))])
        #expect(r.differences == [.paidWithoutWorkOrder(chargeId: "A", workOrderId: nil, amount: .bolivianos(1000), paidAt: day(3, 2))])
    }

    @Test func aChargePaidOnTheLastMillisecondIsJudgedADayLaterInItsOwnMonth() {
        let paidAt = monthStart(4).addingTimeInterval(-ms)
        let charges = [charge("A", 1000, day(3, 30), opened: false)]
        let payments = [payment("A", 1000, paidAt)]
        #expect(reconcile(3, charges, payments, asOf: monthStart(4).addingTimeInterval(3_600)).differences.isEmpty)
        #expect(reconcile(3, charges, payments, asOf: monthStart(4).addingTimeInterval(86_400)).differences.map(\.check) == ["paidWithoutWorkOrder"])
        #expect(reconcile(4, charges, payments).differences.isEmpty)
    }

    // MARK: Refund due

    @Test func aPaidChargeWhoseOTWasCancelledIsARefundDueInTheMonthOfTheCancellation() {
        let charges = [charge("A", 1000, day(3, 1), cancelled: day(4, 3), reason: "poste en propiedad privada")]
        let payments = [payment("A", 1000, day(3, 2))]
        #expect(!reconcile(3, charges, payments).differences.contains { $0.check == "refundDue" })
        let april = reconcile(4, charges, payments)
        #expect(
            april.differences == [
                .refundDue(
                    chargeId: "A", workOrderId: "PM-PMR-A", amount: .bolivianos(1000), reason: "poste en propiedad privada",
                    paidAt: day(3, 2), cancelledAt: day(4, 3))
            ])
        #expect(april.totals[.bob] == Reconciliation.Totals(refundDue: 100_000))
        #expect(reconcile(5, charges, payments).differences.isEmpty, "once")
    }

    @Test func aCancellationAtMidnightIsTheNextMonthsAndOneStampedBeforeThePaymentCountsFromThePayment() {
        let end = monthStart(4)
        // Cancelled on the first instant of April.
        let atMidnight = [charge("A", 1000, day(3, 1), cancelled: end)]
        #expect(reconcile(3, atMidnight, [payment("A", 1000, day(3, 2))]).differences.isEmpty)
        #expect(reconcile(4, atMidnight, [payment("A", 1000, day(3, 2))]).differences.map(\.check) == ["refundDue"])
        // Another service's clock put the cancellation a moment before billing's payment: the
        // refund is due from the payment, on the last millisecond of March.
        let skewed = [charge("B", 1000, day(3, 1), cancelled: end.addingTimeInterval(-2))]
        let payments = [payment("B", 1000, end.addingTimeInterval(-ms))]
        #expect(reconcile(3, skewed, payments).differences.map(\.check) == ["refundDue"])
        #expect(reconcile(4, skewed, payments).differences.isEmpty)
    }

    @Test func anUnpaidChargeIsOwedNothing() {
        let r = reconcile(3, [charge("A", 1000, day(3, 1), cancelled: day(3, 3))], [])
        #expect(r.differences == [.unpaid(chargeId: "A", amount: .bolivianos(1000))])
        #expect(r.totals[.bob]?.refundDue == 0)
    }

    // MARK: Invoices (receipts) that do not match their charge

    @Test(arguments: [Money.bolivianos(900), Money(minor: 100_000, currency: .usd)])
    func aPaymentWhoseAmountOrCurrencyIsNotItsChargesIsADifference(_ paid: Money) {
        let r = reconcile(
            3, [charge("A", 1000, day(3, 2))], [Reconciliation.Payment(chargeId: "A", amount: paid, receipt: "REC-1", paidAt: day(3, 3))])
        #expect(r.differences == [.amountDiffers(chargeId: "A", charged: .bolivianos(1000), paid: paid)])
        #expect(r.totals[paid.currency]?.paid == paid.minor)
    }

    @Test func aReceiptRecordedForASecondChargeIsReportedInTheMonthOfTheSecond() {
        let charges = [charge("A", 1000, day(3, 1)), charge("B", 1000, day(3, 20)), charge("C", 1000, day(4, 1))]
        let payments = [
            payment("A", 1000, day(3, 2), receipt: "CAJA-0098213"), payment("B", 1000, day(3, 21), receipt: " caja-0098213"),
            payment("C", 1000, day(4, 2), receipt: "CAJA-00 98213"),
        ]
        #expect(
            reconcile(3, charges, payments).differences == [
                .receiptReused(receipt: " caja-0098213", chargeId: "B", firstChargeId: "A", amount: .bolivianos(1000))
            ])
        #expect(
            reconcile(4, charges, payments).differences == [
                .receiptReused(receipt: "CAJA-00 98213", chargeId: "C", firstChargeId: "A", amount: .bolivianos(1000))
            ])
        #expect(Reconciliation.receiptKey(" caja-00\t98213\n") == "CAJA-0098213")
    }

    @Test func distinctReceiptsAreNoDifference() {
        let r = reconcile(
            3, [charge("A", 1000, day(3, 1)), charge("B", 1000, day(3, 1))],
            [payment("A", 1000, day(3, 2), receipt: "REC-1"), payment("B", 1000, day(3, 2), receipt: "REC-2")])
        #expect(r.differences.isEmpty)
    }

    @Test func invoicesOfTheMonthAreTotalledAndUnpricedOnesFlagged() {
        let inv = { (id: String, bs: Int64, date: Date, np: Bool) in
            Reconciliation.Invoice(
                id: id, prefacturaId: "PF-\(id)", workOrderId: "WO-\(id)", amount: .bolivianos(bs), issuer: .billingBO,
                needsPricing: np, issuedAt: date)
        }
        let r = Reconciliation.compute(
            year: 2026, month: 3, charges: [], payments: [],
            invoices: [inv("1", 100, day(3, 1), false), inv("2", 0, day(3, 9), true), inv("3", 5, day(2, 28), false)], asOf: later)
        #expect(r.invoices.map(\.id) == ["1", "2"])
        #expect(r.totals[.bob]?.invoiced == 10_000)
        #expect(r.differences == [.invoiceNeedsPricing(invoiceId: "2", workOrderId: "WO-2")])
    }

    // MARK: Output

    @Test func eachDifferenceIsOneFlatJSONObjectNamingItsCheck() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        let refund = Reconciliation.Difference.refundDue(
            chargeId: "A", workOrderId: "PM-A", amount: .bolivianos(1000), reason: "no procede", paidAt: Date(timeIntervalSince1970: 1),
            cancelledAt: Date(timeIntervalSince1970: 2))
        #expect(
            String(decoding: try encoder.encode(refund), as: UTF8.self)
                == #"{"amount":{"currency":"BOB","minor":100000},"cancelledAt":2,"chargeId":"A","check":"refundDue","paidAt":1,"reason":"no procede","workOrderId":"PM-A"}"#)
        let r = reconcile(3, [charge("A", 1000, day(3, 1))], [])
        let json = try JSONSerialization.jsonObject(with: try encoder.encode(r)) as? [String: Any]
        #expect((json?["totals"] as? [String: Any])?["BOB"] != nil)
        #expect(((json?["differences"] as? [[String: Any]])?.first?["check"] as? String) == "unpaid")
    }
}
