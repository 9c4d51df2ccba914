import Contracts
import Foundation
import Runtime

/// An enterprise contract in billing (GC-PRC-OPE-ASE-04 I, H step 7): its products' life (from
/// `contract.registered` and post-sale's `contract.product-changed`), the fees added to its next
/// recurring invoice, and its monthly proformas with their payments.
///
/// Either event may arrive first (they travel in separate batches): a change or a fee of a
/// contract not registered yet makes a `pending` contract the registration completes.
public enum BillingContract: Aggregate {
    public static let kind = "contract"
    /// The timer of a month's billing, `bill#YYYY-MM#YYYY-MM-DD` (the month, the due date).
    public static let billTimer = "bill"

    @JSONMembers
    public struct Product: Codable, Sendable, Equatable {
        public var product: ContractProduct
        public var changes: [RecurringRules.Change]
        /// The last invoice of a withdrawn product (its proration).
        public var lastMonth: ProrationComputed?
        /// Known from a change only: its first step stands in for the installation until the
        /// registration says what that was.
        public var provisional: Bool = false
        public var status: ProductStatus { changes.last?.status ?? .active }
    }

    @JSONMembers
    public struct Fee: Codable, Sendable, Equatable {
        public var charge: RecurringChargeAdded
        public var addedAt: Date
        public var billedIn: YearMonth?
    }

    @JSONMembers
    public struct Proforma: Codable, Sendable, Equatable {
        public var issued: ProformaIssued
        public var issuedAt: Date
        public var paid: ProformaPaid?
        public var paidAt: Date?
    }

    @JSONMembers
    public struct State: AggregateState {
        public var contractId: String
        public var customer: Customer?
        public var products: [Product] = []
        public var fees: [Fee] = []
        public var proformas: [Proforma] = []
        public var registeredAt: Date?

        /// `pending` (known from a change or a fee only), `active`, or `closed` (every product
        /// withdrawn, its last month billed and no fee waiting: a later fee opens it again for the
        /// next cycle; its proformas can still be paid).
        public var status: String {
            if customer == nil { return "pending" }
            let lastWithdrawal = products.compactMap { p in p.status == .withdrawn ? p.changes.last?.on.yearMonth : nil }.max()
            if !products.isEmpty, products.allSatisfy({ $0.status == .withdrawn }), let last = lastWithdrawal,
                proformas.contains(where: { $0.issued.month >= last }), fees.allSatisfy({ $0.billedIn != nil })
            {
                return "closed"
            }
            return "active"
        }

        public var currency: Currency { customer?.country.currency ?? products.first?.product.monthly.currency ?? .bob }
        func index(_ productId: String) -> Int? { products.firstIndex { $0.product.id == productId } }
    }

    public enum Input: Sendable {
        case registered(ContractRegistered)
        case productChanged(ContractProductChanged)
        case fee(RecurringChargeAdded)
        case bill(month: YearMonth, dueBy: Day)
        case payment(RecordProformaPayment)
    }

    static let follows = [ContractProductChanged.type, RecurringChargeAdded.type]

    public static let machine = StateMachine(
        title: "enterprise contract in billing", procedure: "GC-PRC-OPE-ASE-04 H step 7, I",
        states: [.init("pending"), .init("active"), .init("closed")],
        transitions: follows.map { .init(nil, "pending", on: $0) } + follows.map { .init("pending", "pending", on: $0) }
            + [.init(nil, "active", on: ContractRegistered.type), .init("pending", "active", on: ContractRegistered.type)]
            + (follows + [RecordProformaPayment.type]).map { .init("active", "active", on: $0) }
            + [.init("active", "active", on: StateMachine.timer(billTimer)), .init("active", "closed", on: StateMachine.timer(billTimer))]
            // A withdrawal dated in a month already billed; a payment or a change after the last invoice; a fee after it.
            + [.init("active", "closed", on: ContractProductChanged.type)]
            + [ContractProductChanged.type, RecordProformaPayment.type].map { .init("closed", "closed", on: $0) }
            // A fee after the last invoice, a product a transfer adds: billed from the next cycle.
            + [RecurringChargeAdded.type, ContractProductChanged.type].map { .init("closed", "active", on: $0) })

    public static func timerFired(_ name: String, dueAt: Date) -> Input? {
        guard StateMachine.timerBase(name) == billTimer, let p = StateMachine.timerParameter(name) else { return nil }
        let parts = p.split(separator: "#").map(String.init)
        guard parts.count == 2, let month = YearMonth(parts[0]), let due = Day(parts[1]) else { return nil }
        return .bill(month: month, dueBy: due)
    }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let before = state?.status
        switch input {
        case .registered(let e):
            if let state, state.customer != nil { return .ignore("contract \(e.contractId) known") }
            var s = state ?? State(contractId: e.contractId)
            s.customer = e.customer
            s.registeredAt = context.now
            for p in e.products {
                let installed = RecurringRules.Change(on: p.installedOn, status: .active, monthly: p.monthly)
                if let i = s.index(p.id) {
                    // Changes arrived first: the registration says how the product began.
                    guard s.products[i].provisional else { continue }
                    s.products[i].changes[0] = installed
                    s.products[i].changes.sort { $0.on < $1.on }
                    s.products[i].provisional = false
                } else {
                    s.products.append(Product(product: p, changes: [installed]))
                }
            }
            return Decision(state: s, history: [HistoryEntry("registered", from: before, to: s.status, reason: "\(e.products.count) products")])

        case .productChanged(let e):
            var s = state ?? State(contractId: e.contractId)
            var events: [any Message] = []
            let i: Int
            if let known = s.index(e.product.id) {
                i = known
            } else {
                // A product added by a transfer, or one of a registration still on its way.
                s.products.append(
                    Product(
                        product: e.product, changes: [.init(on: e.product.installedOn, status: .active, monthly: e.product.monthly)],
                        provisional: e.change != .added))
                i = s.products.count - 1
                if e.change == .added { return Decision(state: s, history: [HistoryEntry("productAdded", from: before, to: s.status, reason: e.product.id)]) }
            }
            let change = RecurringRules.Change(on: e.on, status: e.status, monthly: e.product.monthly)
            if s.products[i].changes.contains(change) { return .ignore("change known") }
            s.products[i].product = e.product
            s.products[i].changes.append(change)
            s.products[i].changes.sort { $0.on < $1.on }
            if e.change == .withdrawn {
                // The product's last invoice (H, step 7), stated once.
                let before = s.products[i].changes.dropLast().last { $0.on <= e.on }?.monthly ?? e.product.monthly
                let r = RecurringRules.withdrawal(type: e.product.type, monthly: before, on: e.on)
                let proration = ProrationComputed(
                    requestId: e.requestId ?? "contract:\(e.contractId)", productId: e.product.id, charged: r.charged, days: r.days,
                    daysInMonth: r.daysInMonth, rule: r.rule)
                s.products[i].lastMonth = proration
                events.append(proration)
            }
            return Decision(
                state: s, history: [HistoryEntry(e.change.rawValue, from: before, to: s.status, reason: "\(e.product.id) on \(e.on)")],
                events: events)

        case .fee(let e):
            var s = state ?? State(contractId: e.contractId)
            if s.fees.contains(where: { $0.charge.chargeId == e.chargeId }) { return .ignore("fee known") }
            s.fees.append(Fee(charge: e, addedAt: context.now))
            return Decision(state: s, history: [HistoryEntry("fee", from: before, to: s.status, reason: "\(e.chargeId): \(e.amount.minor)")])

        case .bill(let month, let dueBy):
            guard var s = state, s.customer != nil else { return .ignore("no registered contract to bill") }
            // Closed between the run and this timer: nothing left to bill.
            if s.status == "closed" { return .ignore("contract \(s.contractId) is closed") }
            if s.proformas.contains(where: { $0.issued.month == month }) { return .ignore("\(month) billed already") }
            let proforma = proforma(&s, month: month, dueBy: dueBy)
            s.proformas.append(Proforma(issued: proforma, issuedAt: context.now))
            return Decision(
                state: s, history: [HistoryEntry("proformaIssued", from: before, to: s.status, reason: "\(proforma.proformaId): \(proforma.total.minor)")],
                events: [proforma], aliases: [proforma.proformaId],
                followUps: [.to(BillingCyclePart.self, BillingCyclePart.id(month, part: context.shard), .billed(month, part: context.shard))])

        case .payment(let c):
            try Rejection.requireNonEmpty([("data.receipt", c.receipt)])
            guard var s = state, let i = s.proformas.firstIndex(where: { $0.issued.proformaId == c.proformaId }) else {
                throw .notFound("proforma \(c.proformaId) is not known", field: "data.proformaId", problem: "unknown proforma", mayBeLate: false)
            }
            let p = s.proformas[i]
            if p.paid != nil {
                throw Rejection(.alreadyDone, "proforma \(c.proformaId) is paid", errors: [FieldProblem(field: "data.proformaId", problem: "already paid")])
            }
            guard c.amount == p.issued.total else {
                throw Rejection(
                    .amountMismatch, "proforma \(c.proformaId) is \(p.issued.total.minor) \(p.issued.total.currency.rawValue)",
                    errors: [FieldProblem(field: "data.amount", problem: "must be \(p.issued.total.minor) \(p.issued.total.currency.rawValue)")])
            }
            let paid = ProformaPaid(proformaId: c.proformaId, contractId: s.contractId, amount: c.amount, receipt: c.receipt)
            s.proformas[i].paid = paid
            s.proformas[i].paidAt = context.now
            return Decision(state: s, history: [HistoryEntry("proformaPaid", from: before, to: s.status, reason: c.receipt)], events: [paid])
        }
    }

    static let names: [ProductType: String] = [
        .line: "Línea fija", .hspa: "HSPA", .internet: "Internet", .tv: "Televisión", .duoPack: "Duo Pack", .multipack: "Multipack",
    ]

    /// The month's proforma (pure): each product's charge, the fees added by then.
    static func proforma(_ s: inout State, month: YearMonth, dueBy: Day) -> ProformaIssued {
        var lines: [ProformaLine] = []
        let currency = s.currency
        for p in s.products {
            let name = "\(names[p.product.type] ?? p.product.type.rawValue) \(p.product.id)"
            if let last = p.lastMonth, let withdrawn = p.changes.last(where: { $0.status == .withdrawn })?.on {
                if withdrawn.yearMonth == month {
                    lines.append(ProformaLine(productId: p.product.id, description: "\(name): retiro (\(last.rule), \(last.days)/\(last.daysInMonth) días)", amount: last.charged))
                }
                if withdrawn.yearMonth <= month { continue }
            }
            let charge = RecurringRules.monthCharge(p.changes, month: month)
            guard charge.days > 0 else { continue }
            lines.append(
                ProformaLine(productId: p.product.id, description: "\(name) (\(charge.days)/\(month.days) días)", amount: Money(minor: charge.amount, currency: currency)))
        }
        let monthEnd = month.adding(months: 1).firstDay.start
        for i in s.fees.indices where s.fees[i].billedIn == nil && s.fees[i].addedAt < monthEnd {
            s.fees[i].billedIn = month
            let fee = s.fees[i].charge
            lines.append(ProformaLine(productId: fee.productId, description: fee.reason, amount: fee.amount))
        }
        let total = lines.filter { $0.amount.currency == currency }.reduce(Int64(0)) { $0 + $1.amount.minor }
        return ProformaIssued(
            proformaId: RecurringRules.proformaId(contractId: s.contractId, month: month), contractId: s.contractId, month: month, lines: lines,
            total: Money(minor: total, currency: currency), dueBy: dueBy)
    }
}

/// A month's billing runs (`billing.run-cycle`): each run sets the month's billing timer on every
/// active contract at once (one statement, ``Broadcast``); the shared timers then bill them a round
/// at a time, rounds side by side, each proforma counted in its round's part of the month
/// (``BillingCyclePart``: rounds running together count in different rows and never wait for
/// each other). The run's own timer, a join on the contracts', fires once none of them is left:
/// it collects the parts and ends the run with `billing.cycle-completed` and the count. Running a
/// month again issues nothing new (each contract bills a month once) and completes with 0.
public enum BillingCycle: Aggregate {
    public static let kind = "cycle"
    public static let completeTimer = "complete"

    @JSONMembers
    public struct Run: Codable, Sendable, Equatable {
        public var requestedAt: Date
        public var dueBy: Day
        public var contractIds: [String]?
        public var proformas: Int = 0
        /// While completing: the parts counted so far.
        public var partsCounted: Int?
        public var completedAt: Date?
    }

    @JSONMembers
    public struct State: AggregateState {
        public var month: YearMonth
        public var runs: [Run] = []
        public var status: String { runs.last?.completedAt == nil ? "running" : "completed" }
    }

    public enum Input: Sendable {
        case run(RunBillingCycle)
        case complete
        /// A part's count (the follow-up of ``BillingCyclePart``'s `collect`).
        case counted(part: Int, proformas: Int)
    }

    public static let machine = StateMachine(
        title: "recurring billing cycle of a month", procedure: "GC-PRC-OPE-ASE-04 I",
        states: [.init("running"), .init("completed")],
        transitions: [
            .init(nil, "running", on: RunBillingCycle.type), .init("completed", "running", on: RunBillingCycle.type),
            .init("running", "completed", on: StateMachine.timer(completeTimer)),
        ])

    public static func timerFired(_ name: String, dueAt: Date) -> Input? { name == completeTimer ? .complete : nil }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        switch input {
        case .run(let c):
            if c.month > YearMonth(context.now) {
                throw .validation([FieldProblem(field: "data.month", problem: "\(c.month) has not begun")])
            }
            if let ids = c.contractIds, ids.isEmpty || ids.contains(where: \.isBlank) {
                throw .validation([FieldProblem(field: "data.contractIds", problem: "must name contracts")])
            }
            if let state, state.status == "running" {
                throw .invalidTransition("a run of \(c.month) is in progress", field: "data.month", problem: "run in progress")
            }
            let dueBy = c.dueBy ?? RecurringRules.defaultDueBy(c.month)
            var s = state ?? State(month: c.month)
            s.runs.append(Run(requestedAt: context.now, dueBy: dueBy, contractIds: c.contractIds))
            let bill = "\(BillingContract.billTimer)#\(c.month)#\(dueBy)"
            return Decision(
                state: s, history: [HistoryEntry("run", from: state?.status, to: s.status, reason: "run \(s.runs.count), due \(dueBy)")],
                // Completes once every contract's timer has fired and its round committed.
                timers: [.join(completeTimer, at: context.now.addingTimeInterval(0.001), after: bill)],
                broadcasts: [Broadcast(kind: BillingContract.kind, status: "active", ids: c.contractIds, timer: bill, at: context.now)])

        case .complete:
            guard var s = state, s.status == "running", s.runs[s.runs.count - 1].partsCounted == nil else {
                return .ignore("no run in progress")
            }
            s.runs[s.runs.count - 1].partsCounted = 0
            return Decision(
                state: s,
                followUps: (0..<DecisionContext.shards).map { .to(BillingCyclePart.self, BillingCyclePart.id(s.month, part: $0), .collect(s.month, part: $0)) })

        case .counted(let part, let n):
            guard var s = state, s.status == "running", let counted = s.runs[s.runs.count - 1].partsCounted else {
                return .ignore("part \(part) counted with no run completing")
            }
            let last = s.runs.count - 1
            s.runs[last].proformas += n
            s.runs[last].partsCounted = counted + 1
            guard counted + 1 == DecisionContext.shards else { return Decision(state: s) }
            s.runs[last].partsCounted = nil
            s.runs[last].completedAt = context.now
            let total = s.runs[last].proformas
            return Decision(
                state: s, history: [HistoryEntry("completed", from: "running", to: s.status, reason: "\(total) proformas")],
                events: [BillingCycleCompleted(month: s.month, proformas: total)])
        }
    }
}

/// One part of a month's count of proformas, `YYYY-MM#k` (k, the shard of the round that billed:
/// ``DecisionContext/shard``): each proforma adds one to its round's part; the run, completing,
/// collects every part (its count, which starts again from zero for the month's next run).
public enum BillingCyclePart: Aggregate {
    public static let kind = "cyclePart"

    public static func id(_ month: YearMonth, part: Int) -> String { "\(month)#\(part)" }

    @JSONMembers
    public struct State: AggregateState {
        public var month: YearMonth
        public var part: Int
        public var proformas: Int = 0
        public var status: String { "counting" }
    }

    public enum Input: Sendable {
        case billed(YearMonth, part: Int)
        case collect(YearMonth, part: Int)
    }

    public static let machine = StateMachine(
        title: "part of a billing cycle's count", procedure: "GC-PRC-OPE-ASE-04 I",
        states: [.init("counting")],
        transitions: [.init(nil, "counting", on: StateMachine.timer(BillingContract.billTimer))])

    public static func timerFired(_ name: String, dueAt: Date) -> Input? { nil }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        switch input {
        case .billed(let month, let part):
            guard var s = state else {
                let s = State(month: month, part: part, proformas: 1)
                return Decision(state: s, history: [HistoryEntry("counting", from: nil, to: s.status)])
            }
            s.proformas += 1
            return Decision(state: s)
        case .collect(let month, let part):
            let n = state?.proformas ?? 0
            var s = state
            s?.proformas = 0
            return Decision(state: n > 0 ? s : nil, followUps: [.to(BillingCycle.self, month.description, .counted(part: part, proformas: n))])
        }
    }
}
