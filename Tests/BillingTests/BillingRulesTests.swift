import Billing
import Contracts
import Foundation
import Runtime
import Testing

@Suite("billing rules")
struct BillingRulesTests {
    func closed(_ kind: WorkOrderKind = .repair, country: Country = .bo, amount: Money? = nil) -> WorkOrderClosed {
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
        #expect(d.lines[0].description.contains("Reparación"))
        #expect(d.lines[0].description.contains("WO-1"))
        #expect(d.amount == Money(minor: 4_850_000, currency: .bob))
        #expect(!d.needsPricing)
    }

    @Test func aPoleMoveIsSettledByItsCxCAndNeverDraftedAgain() {
        #expect(BillingRules.settledByCxC(.poleMove))
        for kind in WorkOrderKind.allCases where kind != .poleMove { #expect(!BillingRules.settledByCxC(kind)) }
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
    func charge(_ id: String, _ bs: Int64, _ date: Date, currency: Currency = .bob) -> Reconciliation.Charge {
        Reconciliation.Charge(
            id: id, requestId: "R-\(id)", amount: Money(minor: bs * 100, currency: currency), payer: .example, workOrderId: nil,
            createdAt: date)
    }
    func payment(_ id: String, _ bs: Int64, _ date: Date, receipt: String = "REC", currency: Currency = .bob) -> Reconciliation.Payment {
        Reconciliation.Payment(chargeId: id, amount: Money(minor: bs * 100, currency: currency), receipt: receipt, paidAt: date)
    }

    @Test func theMonthIsACalendarMonthInUTC() {
        let (start, end) = Reconciliation.interval(year: 2026, month: 12)
        #expect(start == cal.date(from: DateComponents(year: 2026, month: 12, day: 1))!)
        #expect(end == cal.date(from: DateComponents(year: 2027, month: 1, day: 1))!)
    }

    @Test func paidAndUnpaidChargesAreTotalledPerCurrencyAndTheUnpaidOneIsADifference() {
        let r = Reconciliation.compute(
            year: 2026, month: 3,
            charges: [charge("A", 1000, day(3, 2)), charge("B", 1000, day(3, 5)), charge("C", 50_000, day(3, 7), currency: .clp)],
            payments: [payment("A", 1000, day(3, 3)), payment("C", 50_000, day(3, 8), currency: .clp)], invoices: [])
        #expect(r.charges.map(\.id) == ["A", "B", "C"])
        #expect(r.totals[.bob] == Reconciliation.Totals(charged: 200_000, paid: 100_000, outstanding: 100_000, invoiced: 0))
        #expect(r.totals[.clp] == Reconciliation.Totals(charged: 5_000_000, paid: 5_000_000, outstanding: 0, invoiced: 0))
        #expect(r.differences == [.unpaid(chargeId: "B", amount: .bolivianos(1000))])
    }

    @Test func aChargePaidAfterTheMonthIsUnpaidInItsMonthAndItsPaymentCountsInTheNext() {
        let charges = [charge("A", 1000, day(3, 30))]
        let payments = [payment("A", 1000, day(4, 2))]
        let march = Reconciliation.compute(year: 2026, month: 3, charges: charges, payments: payments, invoices: [])
        #expect(march.differences == [.unpaid(chargeId: "A", amount: .bolivianos(1000))])
        #expect(march.totals[.bob]?.paid == 0)
        let april = Reconciliation.compute(year: 2026, month: 4, charges: charges, payments: payments, invoices: [])
        #expect(april.differences.isEmpty)
        #expect(april.totals[.bob] == Reconciliation.Totals(charged: 0, paid: 100_000, outstanding: 0, invoiced: 0))
    }

    @Test func paymentsThatDoNotMatchTheirChargeAreDifferences() {
        let r = Reconciliation.compute(
            year: 2026, month: 3, charges: [charge("A", 1000, day(3, 2))],
            payments: [payment("A", 900, day(3, 3), receipt: ""), payment("Z", 10, day(3, 4))], invoices: [])
        #expect(r.differences.contains(.amountDiffers(chargeId: "A", charged: .bolivianos(1000), paid: .bolivianos(900))))
        #expect(r.differences.contains(.paymentWithoutInvoice(chargeId: "A", amount: .bolivianos(900))))
        #expect(r.differences.contains(.paymentWithoutCharge(chargeId: "Z", amount: .bolivianos(10))))
        #expect(!r.differences.contains { if case .unpaid = $0 { true } else { false } })
    }

    @Test func invoicesOfTheMonthAreTotalledAndUnpricedOnesFlagged() {
        let inv = { (id: String, bs: Int64, date: Date, np: Bool) in
            Reconciliation.Invoice(
                id: id, prefacturaId: "PF-\(id)", workOrderId: "WO-\(id)", amount: .bolivianos(bs), issuer: .billingBO,
                needsPricing: np, issuedAt: date)
        }
        let r = Reconciliation.compute(
            year: 2026, month: 3, charges: [], payments: [],
            invoices: [inv("1", 100, day(3, 1), false), inv("2", 0, day(3, 9), true), inv("3", 5, day(2, 28), false)])
        #expect(r.invoices.map(\.id) == ["1", "2"])
        #expect(r.totals[.bob]?.invoiced == 10_000)
        #expect(r.differences == [.invoiceNeedsPricing(invoiceId: "2", workOrderId: "WO-2")])
    }
}
