import Billing
import Contracts
import Foundation
@testable import Runtime
import Testing

/// Values the recurring-billing tests share: an enterprise contract in Bolivia with a fixed line
/// (Bs 70), internet (Bs 349), cable TV (Bs 120) and a Multipack (Bs 450), all installed long
/// before the months billed, and the decisions of its aggregates as the runtime would run them.
enum RB {
    static let contractId = "CT-1"
    static let customer = Customer(
        id: "C-5531", name: "Importadora Illimani S.R.L.", taxId: "2849301015", sector: .private, segment: .pyme, country: .bo)
    static let line = ContractProduct(id: "LIN-1", type: .line, monthly: .bolivianos(70), installedOn: Day(2020, 1, 10)!, technology: .copper)
    static let internet = ContractProduct(id: "INT-1", type: .internet, monthly: .bolivianos(349), installedOn: Day(2020, 1, 10)!, technology: .copper)
    static let tv = ContractProduct(id: "TV-1", type: .tv, monthly: .bolivianos(120), installedOn: Day(2021, 5, 2)!, technology: .copper)
    static let multipack = ContractProduct(id: "MPK-1", type: .multipack, monthly: .bolivianos(450), installedOn: Day(2024, 6, 3)!, technology: .fiber)
    static let products = [line, internet, tv, multipack]

    static let november = YearMonth(2026, 11)!
    static let december = YearMonth(2026, 12)!
    static let novemberDue = Day(2026, 12, 20)!
    /// 2026-10-05T12:00Z: the contract is learnt.
    static let registeredAt = at(Day(2026, 10, 5)!, hour: 12)
    /// 2026-11-15T12:00Z: inside November.
    static let midNovember = at(Day(2026, 11, 15)!, hour: 12)
    /// 2026-12-01T03:00Z: November's cycle runs.
    static let novemberRun = at(Day(2026, 12, 1)!, hour: 3)
    /// 2027-01-01T03:00Z: December's cycle runs.
    static let decemberRun = at(Day(2027, 1, 1)!, hour: 3)

    static func at(_ day: Day, hour: Int) -> Date { day.start.addingTimeInterval(Double(hour) * 3_600) }

    static func registered(_ products: [ContractProduct] = products, id: String = contractId) -> ContractRegistered {
        ContractRegistered(contractId: id, customer: customer, products: products, minimumPermanenceUntil: nil, earlyTerminationPenalty: nil)
    }

    static func changed(
        _ product: ContractProduct, _ change: ProductChange, on day: Day, status: ProductStatus, requestId: String? = "PV-1"
    ) -> ContractProductChanged {
        ContractProductChanged(contractId: contractId, product: product, change: change, on: day, status: status, requestId: requestId, details: nil)
    }

    static func withdrawn(_ product: ContractProduct, on day: Day, requestId: String? = "PV-1") -> ContractProductChanged {
        changed(product, .withdrawn, on: day, status: .withdrawn, requestId: requestId)
    }

    static func fee(_ chargeId: String, _ amount: Money = .bolivianos(24), productId: String? = "LIN-1") -> RecurringChargeAdded {
        RecurringChargeAdded(
            chargeId: chargeId, requestId: "PV-9", contractId: contractId, productId: productId, amount: amount,
            reason: "Detalle de llamadas salientes")
    }

    static func decide<A: Aggregate>(_ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date) throws(Rejection) -> Decision<A.State> {
        var context = DecisionContext(now: time, messageId: "m-1")
        return try A.decide(state, input, &context)
    }

    /// The state after `input` (the same state when the decision changes nothing).
    static func step<A: Aggregate>(_ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date) throws -> A.State {
        try #require(try decide(a, state, input, at: time).state ?? state)
    }

    /// Whether every status change the decision records is one the aggregate's machine declares
    /// for `trigger` (the runtime refuses the decision otherwise, as an internal error).
    static func declared<A: Aggregate>(_ a: A.Type, _ d: Decision<A.State>, on trigger: String) -> Bool {
        d.history.allSatisfy { h in h.to.map { A.machine.allows(from: h.from, to: $0, on: trigger) } ?? true }
    }

    /// The contract registered on `registeredAt`.
    static func contract(_ products: [ContractProduct] = products) throws -> BillingContract.State {
        try step(BillingContract.self, nil, .registered(registered(products)), at: registeredAt)
    }

    static func bill(_ month: YearMonth) -> BillingContract.Input {
        .bill(month: month, dueBy: RecurringRules.defaultDueBy(month))
    }

    static func pay(_ proformaId: String, _ amount: Money, receipt: String = "REC-1") -> BillingContract.Input {
        .payment(RecordProformaPayment(proformaId: proformaId, amount: amount, receipt: receipt))
    }
}

// MARK: - The arithmetic

@Suite("recurring billing: the arithmetic of a month and of a withdrawal")
struct RecurringRulesTests {
    typealias R = RecurringRules

    func bob(_ minor: Int64) -> Money { Money(minor: minor, currency: .bob) }

    // MARK: Withdrawal

    @Test func aWithdrawalOnTheFirstOfTheMonthChargesOneDay() {
        let r = R.withdrawal(type: .internet, monthly: bob(45_000), on: Day(2026, 11, 1)!)
        #expect(r.days == 1 && r.daysInMonth == 30 && r.rule == "prorated")
        #expect(r.charged == bob(1_500))
    }

    @Test func aWithdrawalOnTheLastDayOfTheMonthChargesTheFullMonthly() {
        let r = R.withdrawal(type: .internet, monthly: bob(34_900), on: Day(2026, 11, 30)!)
        #expect(r.days == 30 && r.daysInMonth == 30 && r.charged == bob(34_900))
        let december = R.withdrawal(type: .tv, monthly: bob(12_345), on: Day(2026, 12, 31)!)
        #expect(december.days == 31 && december.daysInMonth == 31 && december.charged == bob(12_345))
    }

    @Test func februaryOfALeapYearHas29DaysAndOfAnotherYear28() {
        let leap = R.withdrawal(type: .internet, monthly: bob(34_900), on: Day(2028, 2, 14)!)
        #expect(leap.days == 14 && leap.daysInMonth == 29 && leap.charged == bob(16_848))
        let common = R.withdrawal(type: .internet, monthly: bob(34_900), on: Day(2027, 2, 14)!)
        #expect(common.days == 14 && common.daysInMonth == 28 && common.charged == bob(17_450))
        let leapEnd = R.withdrawal(type: .internet, monthly: bob(34_900), on: Day(2028, 2, 29)!)
        #expect(leapEnd.days == 29 && leapEnd.daysInMonth == 29 && leapEnd.charged == bob(34_900))
        let commonEnd = R.withdrawal(type: .internet, monthly: bob(34_900), on: Day(2027, 2, 28)!)
        #expect(commonEnd.days == 28 && commonEnd.daysInMonth == 28 && commonEnd.charged == bob(34_900))
    }

    @Test func theSameDayCostsLessInA31DayMonthThanInA30DayMonth() {
        let thirtyOne = R.withdrawal(type: .internet, monthly: bob(34_900), on: Day(2026, 12, 15)!)
        #expect(thirtyOne.days == 15 && thirtyOne.daysInMonth == 31 && thirtyOne.charged == bob(16_887))
        let thirty = R.withdrawal(type: .internet, monthly: bob(34_900), on: Day(2026, 11, 15)!)
        #expect(thirty.days == 15 && thirty.daysInMonth == 30 && thirty.charged == bob(17_450))
    }

    @Test(arguments: [ProductType.line, .hspa])
    func aLineOrHSPAWithdrawnPaysTheFullMonth(_ type: ProductType) {
        for day in [Day(2026, 12, 1)!, Day(2026, 12, 10)!, Day(2026, 12, 31)!] {
            let r = R.withdrawal(type: type, monthly: bob(7_000), on: day)
            #expect(r.charged == bob(7_000) && r.rule == "fullMonth" && r.daysInMonth == 31)
        }
    }

    /// `billing.proration-computed` states `days` "from the first of the month to the request
    /// date, both included" (RecurringRules.swift, the doc of `withdrawal`); the flat rate returns
    /// the days of the month instead.
    @Test func aLineWithdrawnStatesTheDaysFromTheFirstToTheRequestDate() {
        let r = R.withdrawal(type: .line, monthly: bob(7_000), on: Day(2026, 12, 10)!)
        #expect(r.charged == bob(7_000) && r.rule == "fullMonth")
        #expect(r.days == 10)
    }

    @Test(arguments: [ProductType.internet, .tv, .duoPack])
    func internetTVAndDuoPackAreProratedToTheDay(_ type: ProductType) {
        let r = R.withdrawal(type: type, monthly: bob(34_900), on: Day(2026, 12, 20)!)
        #expect(r.rule == "prorated" && r.days == 20 && r.daysInMonth == 31)
        #expect(r.charged == bob(22_516))  // 34,900 × 20 / 31 = 22,516.13
    }

    @Test func aMultipackInBolivianosPaysBs70InFullAndTheRestProrated() {
        let r = R.withdrawal(type: .multipack, monthly: bob(45_000), on: Day(2026, 12, 10)!)
        #expect(r.rule == "multipackBasicNotProrated" && r.days == 10 && r.daysInMonth == 31)
        #expect(r.charged == bob(19_258))  // 7,000 + round(38,000 × 10 / 31 = 12,258.06)
        #expect(R.multipackBasic == 7_000)
    }

    @Test func aMultipackInAnotherCurrencyIsProratedWhole() {
        let r = R.withdrawal(type: .multipack, monthly: Money(minor: 45_000, currency: .usd), on: Day(2026, 12, 10)!)
        #expect(r.rule == "prorated" && r.charged == Money(minor: 14_516, currency: .usd))  // 45,000 × 10 / 31 = 14,516.13
    }

    @Test func anExactHalfIsRoundedUpAndLessThanAHalfDown() {
        #expect(R.roundHalfUp(31 * 15, 30) == 16)  // 15.5
        #expect(R.roundHalfUp(462, 30) == 15)  // 15.4
        #expect(R.roundHalfUp(29, 2) == 15)  // 14.5
        #expect(R.roundHalfUp(0, 31) == 0)
        let r = R.withdrawal(type: .internet, monthly: bob(31), on: Day(2026, 11, 15)!)
        #expect(r.charged == bob(16))  // 31 × 15 / 30 = 15.5
    }

    // MARK: A month's charge

    func active(_ on: Day, _ monthly: Int64 = 34_900) -> R.Change { R.Change(on: on, status: .active, monthly: bob(monthly)) }

    @Test func aFullActiveMonthCostsExactlyTheMonthly() {
        for month in [RB.november, RB.december, YearMonth(2028, 2)!, YearMonth(2027, 2)!] {
            let c = R.monthCharge([active(Day(2020, 1, 10)!, 34_901)], month: month)
            #expect(c.amount == 34_901 && c.days == month.days)
        }
    }

    @Test func aProductInstalledOnThe11thOfA30DayMonthCosts20Days() {
        let c = R.monthCharge([active(Day(2026, 11, 11)!)], month: RB.november)
        #expect(c.days == 20 && c.amount == 23_267)  // 34,900 × 20 / 30 = 23,266.67
        #expect(R.monthCharge([active(Day(2026, 12, 1)!)], month: RB.november) == (0, 0), "installed after the month")
    }

    @Test func suspendedDaysCostNothing() {
        let changes = [
            active(Day(2020, 1, 10)!),
            R.Change(on: Day(2026, 11, 11)!, status: .suspended, monthly: bob(34_900)),
            active(Day(2026, 11, 21)!),
        ]
        let c = R.monthCharge(changes, month: RB.november)
        #expect(c.days == 20 && c.amount == 23_267)
        #expect(R.monthCharge(changes, month: RB.december) == (34_900, 31), "back to active: the next month is full")
    }

    @Test func aPlanChangeBillsEachPartAtItsFeeRoundedOnce() {
        // 15 days at 349.01 and 15 at 450.01: 17,450.5 + 22,500.5 = 39,951 exactly (rounding each
        // part would give 39,952).
        let c = R.monthCharge([active(Day(2020, 1, 10)!, 34_901), active(Day(2026, 11, 16)!, 45_001)], month: RB.november)
        #expect(c.days == 30 && c.amount == 39_951)
    }

    @Test func daysAfterAWithdrawalCostNothing() {
        let changes = [active(Day(2020, 1, 10)!), R.Change(on: Day(2026, 11, 21)!, status: .withdrawn, monthly: bob(34_900))]
        #expect(R.monthCharge(changes, month: RB.november) == (23_267, 20))
        #expect(R.monthCharge(changes, month: RB.december) == (0, 0))
    }

    @Test func aProformaIsDueOnThe20thOfTheNextMonthAndNamedByMonthAndContract() {
        #expect(R.defaultDueBy(RB.november) == Day(2026, 12, 20)!)
        #expect(R.defaultDueBy(RB.december) == Day(2027, 1, 20)!)
        #expect(R.proformaId(contractId: "CT-1", month: RB.november) == "PRF-2026-11-CT-1")
    }
}

// MARK: - The contract

@Suite("recurring billing: an enterprise contract, its proformas and their payments")
struct BillingContractTests {
    typealias C = BillingContract

    @Test func aRegisteredContractIsActiveWithItsProducts() throws {
        let d = try RB.decide(C.self, nil, .registered(RB.registered()), at: RB.registeredAt)
        let s = try #require(d.state)
        #expect(s.status == "active" && s.customer == RB.customer && s.registeredAt == RB.registeredAt)
        #expect(s.products.map(\.product) == RB.products)
        #expect(s.products.allSatisfy { $0.status == .active && $0.changes.count == 1 })
        #expect(RB.declared(C.self, d, on: ContractRegistered.type))
        #expect(try RB.decide(C.self, s, .registered(RB.registered()), at: RB.midNovember).state == nil, "a second registration changes nothing")
    }

    @Test func aChangeOrAFeeBeforeTheRegistrationMakesAPendingContractTheRegistrationCompletes() throws {
        let suspended = RB.changed(RB.tv, .suspended, on: Day(2026, 11, 11)!, status: .suspended)
        let d1 = try RB.decide(C.self, nil, .productChanged(suspended), at: RB.registeredAt)
        let pending = try #require(d1.state)
        #expect(pending.status == "pending" && pending.products.map(\.product.id) == ["TV-1"])
        #expect(RB.declared(C.self, d1, on: ContractProductChanged.type))
        let d2 = try RB.decide(C.self, pending, .fee(RB.fee("RC-1")), at: RB.registeredAt)
        let withFee = try #require(d2.state)
        #expect(withFee.status == "pending" && withFee.fees.count == 1)
        #expect(try RB.decide(C.self, withFee, RB.bill(RB.november), at: RB.novemberRun).state == nil, "a pending contract is not billed")

        let d3 = try RB.decide(C.self, withFee, .registered(RB.registered()), at: RB.midNovember)
        let s = try #require(d3.state)
        #expect(s.status == "active" && s.customer == RB.customer)
        #expect(s.products.map(\.product.id).sorted() == ["INT-1", "LIN-1", "MPK-1", "TV-1"])
        #expect(s.products.first { $0.product.id == "TV-1" }?.status == .suspended, "the change learnt first is kept")
        #expect(s.fees.map(\.charge.chargeId) == ["RC-1"])
        #expect(RB.declared(C.self, d3, on: ContractRegistered.type))
    }

    /// A plan change that arrives before the registration must still bill the registered fee up
    /// to the day of the change.
    @Test func aPlanChangeLearntBeforeTheRegistrationBillsTheOldFeeUntilTheChange() throws {
        let upgraded = ContractProduct(id: "INT-1", type: .internet, monthly: .bolivianos(450), installedOn: RB.internet.installedOn, technology: .copper)
        let pending = try RB.step(C.self, nil, .productChanged(RB.changed(upgraded, .planChanged, on: Day(2026, 11, 16)!, status: .active)), at: RB.registeredAt)
        let s = try RB.step(C.self, pending, .registered(RB.registered([RB.internet])), at: RB.registeredAt)
        let p = try #require(try RB.decide(C.self, s, RB.bill(RB.november), at: RB.novemberRun).emitted(ProformaIssued.self).first)
        #expect(p.total.minor == 39_950)  // 15 days at 34,900 and 15 at 45,000
    }

    @Test func aWithdrawalStatesItsProrationOnceWithTheRequestId() throws {
        let s = try RB.contract()
        let change = RB.withdrawn(RB.multipack, on: Day(2026, 12, 10)!, requestId: "PV-7")
        let d = try RB.decide(C.self, s, .productChanged(change), at: RB.midNovember)
        #expect(
            d.emitted(ProrationComputed.self) == [
                ProrationComputed(
                    requestId: "PV-7", productId: "MPK-1", charged: Money(minor: 19_258, currency: .bob), days: 10, daysInMonth: 31,
                    rule: "multipackBasicNotProrated")
            ])
        #expect(d.events.count == 1)
        let after = try #require(d.state)
        #expect(after.products.first { $0.product.id == "MPK-1" }?.status == .withdrawn)
        #expect(RB.declared(C.self, d, on: ContractProductChanged.type))
        let again = try RB.decide(C.self, after, .productChanged(change), at: RB.midNovember)
        #expect(again.state == nil && again.events.isEmpty, "the same change again is ignored")
    }

    @Test func aPlanChangeOrASuspensionStatesNoProration() throws {
        let s = try RB.contract()
        let d = try RB.decide(C.self, s, .productChanged(RB.changed(RB.tv, .suspended, on: Day(2026, 11, 11)!, status: .suspended)), at: RB.midNovember)
        #expect(d.events.isEmpty && d.state?.products.first { $0.product.id == "TV-1" }?.status == .suspended)
    }

    @Test func aFeeIsKeptOncePerCharge() throws {
        let s = try RB.contract()
        let d = try RB.decide(C.self, s, .fee(RB.fee("RC-1")), at: RB.midNovember)
        let once = try #require(d.state)
        #expect(once.fees.map(\.charge) == [RB.fee("RC-1")] && once.fees.first?.addedAt == RB.midNovember)
        #expect(try RB.decide(C.self, once, .fee(RB.fee("RC-1", .bolivianos(99))), at: RB.midNovember).state == nil)
        let twice = try RB.step(C.self, once, .fee(RB.fee("RC-2")), at: RB.midNovember)
        #expect(twice.fees.map(\.charge.chargeId) == ["RC-1", "RC-2"])
    }

    @Test func aMonthIsBilledWithALinePerProductAndTheFeesAddedByItsEnd() throws {
        var s = try RB.contract()
        s = try RB.step(C.self, s, .fee(RB.fee("RC-1")), at: RB.midNovember)
        s = try RB.step(C.self, s, .fee(RB.fee("RC-2", .bolivianos(12))), at: RB.novemberRun)  // after November's end
        let d = try RB.decide(C.self, s, .bill(month: RB.november, dueBy: RB.novemberDue), at: RB.novemberRun)
        let p = try #require(d.emitted(ProformaIssued.self).first)
        #expect(d.events.count == 1)
        #expect(p.proformaId == "PRF-2026-11-CT-1" && p.contractId == "CT-1" && p.month == RB.november && p.dueBy == RB.novemberDue)
        #expect(p.lines.map(\.productId) == ["LIN-1", "INT-1", "TV-1", "MPK-1", "LIN-1"])
        #expect(p.lines.map(\.amount) == [.bolivianos(70), .bolivianos(349), .bolivianos(120), .bolivianos(450), .bolivianos(24)])
        #expect(p.total == .bolivianos(70 + 349 + 120 + 450 + 24))
        #expect(p.total.minor == p.lines.reduce(0) { $0 + $1.amount.minor })
        #expect(d.aliases == ["PRF-2026-11-CT-1"])
        #expect(RB.declared(C.self, d, on: StateMachine.timer(C.billTimer)))

        // The fee added after November's end goes on December's proforma.
        let billed = try #require(d.state)
        let december = try #require(try RB.decide(C.self, billed, RB.bill(RB.december), at: RB.decemberRun).emitted(ProformaIssued.self).first)
        #expect(december.lines.last?.amount == .bolivianos(12) && december.total == .bolivianos(70 + 349 + 120 + 450 + 12))
        #expect(december.proformaId == "PRF-2026-12-CT-1" && december.dueBy == Day(2027, 1, 20)!)
    }

    @Test func aProformaTellsTheMonthsCycle() throws {
        let d = try RB.decide(C.self, try RB.contract(), RB.bill(RB.november), at: RB.novemberRun)
        let followUp = try #require(d.followUps.first)
        #expect(d.followUps.count == 1)
        #expect(followUp.aggregate.kind == BillingCyclePart.kind && followUp.key == .id("2026-11#0"))
        // A round on another shard counts in another part.
        var context = DecisionContext(now: RB.novemberRun)
        context.shard = 5
        let other = try BillingContract.decide(try RB.contract(), RB.bill(RB.november), &context)
        #expect(other.followUps.first?.key == .id("2026-11#5"))
    }

    @Test func aMonthIsBilledOnce() throws {
        let billed = try RB.step(C.self, try RB.contract(), RB.bill(RB.november), at: RB.novemberRun)
        let d = try RB.decide(C.self, billed, RB.bill(RB.november), at: RB.novemberRun.addingTimeInterval(60))
        #expect(d.state == nil && d.events.isEmpty && d.followUps.isEmpty)
    }

    @Test func aProductWithdrawnInTheMonthIsBilledAtItsProrationAndNeverAfter() throws {
        var s = try RB.contract()
        s = try RB.step(C.self, s, .productChanged(RB.withdrawn(RB.internet, on: Day(2026, 11, 10)!)), at: RB.midNovember)
        let d = try RB.decide(C.self, s, RB.bill(RB.november), at: RB.novemberRun)
        let p = try #require(d.emitted(ProformaIssued.self).first)
        #expect(p.lines.first { $0.productId == "INT-1" }?.amount == Money(minor: 11_633, currency: .bob))  // 34,900 × 10 / 30
        #expect(p.total.minor == 7_000 + 11_633 + 12_000 + 45_000)
        let november = try #require(d.state)
        #expect(november.status == "active", "the other products go on")
        let december = try #require(try RB.decide(C.self, november, RB.bill(RB.december), at: RB.decemberRun).emitted(ProformaIssued.self).first)
        #expect(!december.lines.contains { $0.productId == "INT-1" })
        #expect(december.total.minor == 7_000 + 12_000 + 45_000)
    }

    @Test func aContractIsClosedOnceEveryProductIsWithdrawnAndThatMonthBilled() throws {
        var s = try RB.contract([RB.internet, RB.line])
        s = try RB.step(C.self, s, .productChanged(RB.withdrawn(RB.internet, on: Day(2026, 11, 10)!)), at: RB.midNovember)
        s = try RB.step(C.self, s, .productChanged(RB.withdrawn(RB.line, on: Day(2026, 11, 12)!, requestId: "PV-2")), at: RB.midNovember)
        #expect(s.status == "active", "its last month is not billed yet")
        let d = try RB.decide(C.self, s, RB.bill(RB.november), at: RB.novemberRun)
        #expect(d.state?.status == "closed")
        #expect(d.emitted(ProformaIssued.self).first?.total == Money(minor: 18_633, currency: .bob))  // 11,633 + 7,000
        #expect(RB.declared(C.self, d, on: StateMachine.timer(C.billTimer)))
    }

    /// A withdrawal dated inside a month already billed (post-sale finishes the request after the
    /// cycle ran) closes the contract on `contract.product-changed`; the machine declares no
    /// `active → closed` on that message, so the runtime refuses the decision.
    @Test func aWithdrawalDatedInAMonthAlreadyBilledClosesTheContractByADeclaredTransition() throws {
        let billed = try RB.step(C.self, try RB.contract([RB.internet]), RB.bill(RB.november), at: RB.novemberRun)
        let d = try RB.decide(C.self, billed, .productChanged(RB.withdrawn(RB.internet, on: Day(2026, 11, 25)!)), at: RB.novemberRun)
        #expect(d.emitted(ProrationComputed.self).count == 1)
        #expect(RB.declared(C.self, d, on: ContractProductChanged.type))
    }

    // MARK: Payment

    func billed(_ products: [ContractProduct] = RB.products) throws -> (C.State, ProformaIssued) {
        let d = try RB.decide(C.self, try RB.contract(products), RB.bill(RB.november), at: RB.novemberRun)
        return (try #require(d.state), try #require(d.emitted(ProformaIssued.self).first))
    }

    @Test func theExactTotalPaysAProforma() throws {
        let (s, p) = try billed()
        let now = RB.novemberRun.addingTimeInterval(86_400)
        let d = try RB.decide(C.self, s, RB.pay(p.proformaId, p.total, receipt: "REC-9"), at: now)
        #expect(d.emitted(ProformaPaid.self) == [ProformaPaid(proformaId: p.proformaId, contractId: "CT-1", amount: p.total, receipt: "REC-9")])
        #expect(d.state?.proformas.first?.paidAt == now)
        #expect(RB.declared(C.self, d, on: RecordProformaPayment.type))
    }

    @Test func anotherAmountIsAMismatch() throws {
        let (s, p) = try billed()
        let error = #expect(throws: Rejection.self) {
            try RB.decide(C.self, s, RB.pay(p.proformaId, Money(minor: p.total.minor - 1, currency: .bob)), at: RB.novemberRun)
        }
        #expect(error?.code == .amountMismatch)
        let currency = #expect(throws: Rejection.self) {
            try RB.decide(C.self, s, RB.pay(p.proformaId, Money(minor: p.total.minor, currency: .usd)), at: RB.novemberRun)
        }
        #expect(currency?.code == .amountMismatch)
    }

    @Test func aProformaIsPaidOnce() throws {
        let (s, p) = try billed()
        let paid = try RB.step(C.self, s, RB.pay(p.proformaId, p.total), at: RB.novemberRun)
        let error = #expect(throws: Rejection.self) { try RB.decide(C.self, paid, RB.pay(p.proformaId, p.total, receipt: "REC-2"), at: RB.novemberRun) }
        #expect(error?.code == .alreadyDone)
    }

    @Test func aPaymentOfAnUnknownProformaIsNotFound() throws {
        let error = #expect(throws: Rejection.self) { try RB.decide(C.self, nil, RB.pay("PRF-2026-11-CT-9", .bolivianos(1)), at: RB.novemberRun) }
        #expect(error?.code == .notFound && error?.mayBeLate == false)
        let (s, _) = try billed()
        let other = #expect(throws: Rejection.self) { try RB.decide(C.self, s, RB.pay("PRF-2026-10-CT-1", .bolivianos(1)), at: RB.novemberRun) }
        #expect(other?.code == .notFound)
    }

    @Test func aPaymentWithoutAReceiptIsInvalid() throws {
        let (s, p) = try billed()
        for receipt in ["", "  \n"] {
            let error = #expect(throws: Rejection.self) { try RB.decide(C.self, s, RB.pay(p.proformaId, p.total, receipt: receipt), at: RB.novemberRun) }
            #expect(error?.code == .validation)
        }
    }

    /// The proforma that closes a contract (its last month) must still be payable; `closed` is a
    /// final state, so the payment's `closed → closed` history is refused by the runtime.
    @Test func theLastProformaOfAClosedContractCanBePaid() throws {
        var s = try RB.contract([RB.internet])
        s = try RB.step(C.self, s, .productChanged(RB.withdrawn(RB.internet, on: Day(2026, 11, 10)!)), at: RB.midNovember)
        let d = try RB.decide(C.self, s, RB.bill(RB.november), at: RB.novemberRun)
        let closed = try #require(d.state)
        let p = try #require(d.emitted(ProformaIssued.self).first)
        #expect(closed.status == "closed")
        let paid = try RB.decide(C.self, closed, RB.pay(p.proformaId, p.total), at: RB.novemberRun)
        #expect(paid.emitted(ProformaPaid.self).count == 1)
        #expect(RB.declared(C.self, paid, on: RecordProformaPayment.type))
    }

    // MARK: Timer

    @Test func theBillTimerNamesTheMonthAndTheDueDate() throws {
        let input = try #require(C.timerFired("bill#2026-11#2026-12-20", dueAt: RB.novemberRun))
        guard case .bill(let month, let dueBy) = input else {
            Issue.record("expected .bill, got \(input)")
            return
        }
        #expect(month == RB.november && dueBy == RB.novemberDue)
    }

    @Test(arguments: ["bill", "bill#2026-11", "bill#2026-13#2026-12-20", "bill#2026-11#2026-12-32", "bill#2026-11#2026-12-20#x", "complete#2026-11#2026-12-20"])
    func aMalformedBillTimerIsDropped(_ name: String) {
        #expect(C.timerFired(name, dueAt: RB.novemberRun) == nil)
    }
}

// MARK: - The cycle

@Suite("recurring billing: the monthly cycle")
struct BillingCycleTests {
    typealias Cycle = BillingCycle

    func run(_ month: YearMonth = RB.november, dueBy: Day? = nil, contractIds: [String]? = ["CT-1", "CT-2"]) -> Cycle.Input {
        .run(RunBillingCycle(month: month, dueBy: dueBy, contractIds: contractIds))
    }

    @Test func aRunSetsTheMonthsBillTimerOnEveryActiveContractAtOnceAndJoinsThem() throws {
        let d = try RB.decide(Cycle.self, nil, run(dueBy: Day(2026, 12, 18)!), at: RB.novemberRun)
        let s = try #require(d.state)
        #expect(s.status == "running" && s.month == RB.november && s.runs.count == 1)
        #expect(s.runs.first?.dueBy == Day(2026, 12, 18)! && s.runs.first?.requestedAt == RB.novemberRun)
        #expect(d.timers == [.join(Cycle.completeTimer, at: RB.novemberRun.addingTimeInterval(0.001), after: "bill#2026-11#2026-12-18")])
        #expect(
            d.broadcasts == [
                Broadcast(kind: "contract", status: "active", ids: ["CT-1", "CT-2"], timer: "bill#2026-11#2026-12-18", at: RB.novemberRun)
            ])
        #expect(RB.declared(Cycle.self, d, on: RunBillingCycle.type))
    }

    @Test func aRunWithoutADueDateDuesOnThe20thOfTheNextMonth() throws {
        let d = try RB.decide(Cycle.self, nil, run(contractIds: nil), at: RB.novemberRun)
        #expect(d.state?.runs.first?.dueBy == RB.novemberDue)
        #expect(d.broadcasts.first?.timer == "bill#2026-11#2026-12-20" && d.broadcasts.first?.ids == nil)
        let december = try RB.decide(Cycle.self, nil, run(RB.december), at: RB.decemberRun)
        #expect(december.broadcasts.first?.timer == "bill#2026-12#2027-01-20")
    }

    @Test func aMonthThatHasNotBegunCannotBeRun() throws {
        let error = #expect(throws: Rejection.self) { try RB.decide(Cycle.self, nil, run(YearMonth(2027, 1)!), at: RB.novemberRun) }
        #expect(error?.code == .validation)
        #expect(try RB.decide(Cycle.self, nil, run(RB.december), at: RB.novemberRun).state?.status == "running", "the current month may run")
    }

    @Test func aRunNamingNoContractIsInvalid() {
        for ids in [[String](), ["CT-1", " "]] {
            let error = #expect(throws: Rejection.self) { try RB.decide(Cycle.self, nil, run(contractIds: ids), at: RB.novemberRun) }
            #expect(error?.code == .validation)
        }
    }

    @Test func aRunWhileOneIsRunningIsAnInvalidTransition() throws {
        let running = try RB.step(Cycle.self, nil, run(), at: RB.novemberRun)
        let error = #expect(throws: Rejection.self) { try RB.decide(Cycle.self, running, run(), at: RB.novemberRun.addingTimeInterval(1)) }
        #expect(error?.code == .invalidTransition)
    }

    /// Completes a run as the runtime does, in one transaction: `.complete`, then every part's
    /// `collect` (part k holding `counts[k]` proformas; absent when 0) and the `counted` each
    /// follows up with on the cycle.
    func complete(_ s: Cycle.State, counts: [Int] = [], at time: Date) throws -> (state: Cycle.State, events: [any Message], history: [HistoryEntry]) {
        let d = try RB.decide(Cycle.self, s, .complete, at: time)
        var state = d.state ?? s
        var events = d.events
        var history = d.history
        for target in d.followUps {
            guard case .id(let id) = target.key, let k = Int(id.split(separator: "#").last ?? "") else {
                Issue.record("a follow-up to \(target.key)")
                continue
            }
            let n = k < counts.count ? counts[k] : 0
            var part: BillingCyclePart.State?
            for _ in 0..<n { part = try RB.step(BillingCyclePart.self, part, .billed(s.month, part: k), at: time) }
            var context = DecisionContext(now: time)
            let collected = try target.run(part, &context)
            #expect(n == 0 ? collected.state == nil : (collected.state as? BillingCyclePart.State)?.proformas == 0, "part \(k) starts again from 0")
            for counted in collected.followUps {
                let r = try counted.run(state, &context)
                state = (r.state as? Cycle.State) ?? state
                events += r.events
                history += r.history
            }
        }
        return (state, events, history)
    }

    @Test func aRunCountsItsProformasAndCompletesWithTheCount() throws {
        let s = try RB.step(Cycle.self, nil, run(), at: RB.novemberRun)
        let done = RB.novemberRun.addingTimeInterval(60)
        let d = try complete(s, counts: [1, 0, 0, 2], at: done)
        #expect(d.events as? [BillingCycleCompleted] == [BillingCycleCompleted(month: RB.november, proformas: 3)])
        #expect(d.state.status == "completed" && d.state.runs.last?.completedAt == done && d.state.runs.last?.proformas == 3)
        #expect(d.history.map(\.to) == ["completed"])
        #expect(d.history.allSatisfy { h in Cycle.machine.allows(from: h.from, to: h.to!, on: StateMachine.timer(Cycle.completeTimer)) })
        #expect(try RB.decide(Cycle.self, d.state, .counted(part: 1, proformas: 1), at: done).state == nil, "no run in progress")
        #expect(try RB.decide(Cycle.self, d.state, .complete, at: done).events.isEmpty)
    }

    @Test func aRunCompletesOnlyOnceEveryPartIsCounted() throws {
        var s = try RB.step(Cycle.self, nil, run(), at: RB.novemberRun)
        let d = try RB.decide(Cycle.self, s, .complete, at: RB.novemberRun)
        #expect(d.followUps.map(\.aggregate.kind) == Array(repeating: BillingCyclePart.kind, count: DecisionContext.shards))
        #expect(d.events.isEmpty && d.history.isEmpty)
        s = try #require(d.state)
        for k in 0..<(DecisionContext.shards - 1) {
            s = try RB.step(Cycle.self, s, .counted(part: k, proformas: 2), at: RB.novemberRun)
            #expect(s.status == "running")
        }
        #expect(try RB.decide(Cycle.self, s, .complete, at: RB.novemberRun).state == nil, "completing already")
        let last = try RB.decide(Cycle.self, s, .counted(part: DecisionContext.shards - 1, proformas: 1), at: RB.novemberRun)
        #expect(last.emitted(BillingCycleCompleted.self) == [BillingCycleCompleted(month: RB.november, proformas: 2 * (DecisionContext.shards - 1) + 1)])
    }

    @Test func aSecondRunAfterCompletionCountsFromZero() throws {
        var s = try RB.step(Cycle.self, nil, run(), at: RB.novemberRun)
        s = try complete(s, counts: [1], at: RB.novemberRun).state
        let later = RB.novemberRun.addingTimeInterval(3_600)
        let d = try RB.decide(Cycle.self, s, run(), at: later)
        let again = try #require(d.state)
        #expect(again.status == "running" && again.runs.count == 2 && again.runs.last?.proformas == 0)
        #expect(RB.declared(Cycle.self, d, on: RunBillingCycle.type))
        let completed = try complete(again, at: later)
        #expect(completed.events as? [BillingCycleCompleted] == [BillingCycleCompleted(month: RB.november, proformas: 0)])
    }

    @Test func onlyTheCompleteTimerEndsARun() {
        if case .complete? = Cycle.timerFired("complete", dueAt: RB.novemberRun) {} else { Issue.record("complete is not .complete") }
        #expect(Cycle.timerFired("bill#2026-11#2026-12-20", dueAt: RB.novemberRun) == nil)
    }
}
