import Contracts
import Foundation
import Runtime

/// An enterprise contract in post-sale: its products, each active, suspended or withdrawn, with
/// its history (the contract's history lines name the product), and what the flows must know of
/// it — the suspensions of each year, the proformas still unpaid (from billing's events), the
/// billing claims and the OTs post-sale opened on its products.
///
/// Every post-sale request is screened here first (the contract's facts go to the request's
/// decision), and every change a request makes to the products is applied here.
public enum PostSaleContract: Aggregate {
    public static let kind = "contract"

    @JSONMembers
    public struct ProductRecord: Codable, Sendable, Equatable {
        public var product: ContractProduct
        public var status: ProductStatus
        public var plan: String?
        public var address: String?
        /// Supplementary services enabled (A).
        public var services: [String] = []
        public var withdrawnOn: Day?
    }

    @JSONMembers
    public struct Suspension: Codable, Sendable, Equatable {
        public var requestId: String
        public var productIds: [String]
        public var from: Day
        public var to: Day
        /// Set when the products went off (on `from`).
        public var started: Bool = false
        /// Set when the products came back (at `to` + 1, or earlier).
        public var reconnectedOn: Day?

        /// Whether it and `[from, to]` share a day while it is not over.
        public func overlaps(_ from: Day, _ to: Day) -> Bool { reconnectedOn == nil && self.from <= to && from <= self.to }
    }

    @JSONMembers
    public struct Proforma: Codable, Sendable, Equatable {
        public var id: String
        public var month: YearMonth
        public var dueBy: Day
        public var total: Money
        public var lines: [ProformaLine]
    }

    @JSONMembers
    public struct Claim: Codable, Sendable, Equatable {
        public var requestId: String
        public var month: YearMonth
        /// `assigned` (routed to UTAR) or `attended` (UTAR resolved it).
        public var status: String
        public var resolution: String?
    }

    /// A withdrawal that waits for the contract's open OTs on its products to end.
    @JSONMembers
    public struct PendingWithdrawal: Codable, Sendable, Equatable {
        public var requestId: String
        public var productIds: [String]
        public var on: Day
        public var details: JSONObject
    }

    @JSONMembers
    public struct State: AggregateState {
        public var contractId: String
        public var customer: Customer
        public var products: [ProductRecord]
        public var minimumPermanenceUntil: Day?
        public var earlyTerminationPenalty: Money?
        public var registeredAt: Date
        public var suspensions: [Suspension] = []
        public var unpaid: [Proforma] = []
        /// Payments of proformas not (yet) known here.
        public var paidEarly: [String] = []
        public var claims: [Claim] = []
        /// Open OTs post-sale started on the products: OT id → product ids.
        public var workOrders: [String: [String]] = [:]
        public var pendingWithdrawals: [PendingWithdrawal] = []
        /// Open collection requests (I), told when a proforma is paid.
        public var collections: [String] = []

        /// `terminated` once every product is withdrawn.
        public var status: String { products.allSatisfy { $0.status == .withdrawn } ? "terminated" : "active" }

        public func product(_ id: String) -> ProductRecord? { products.first { $0.product.id == id } }

        /// Proformas unpaid after their due date, as of `day`.
        public func overdue(on day: Day) -> [Proforma] { unpaid.filter { $0.dueBy < day } }

        /// The suspension whose products are off now (started, not yet back), if any.
        public var openSuspension: Suspension? { suspensions.last { $0.started && $0.reconnectedOn == nil } }

        /// The contract's two suspension timers, each at its next due day: the first start of a
        /// suspension not yet started, the first end (`to` + 1) of one not yet reconnected.
        var suspensionTimers: [TimerChange] {
            let pending = suspensions.filter { $0.reconnectedOn == nil }
            let start = pending.filter { !$0.started }.map(\.from).min()
            let end = pending.map { $0.to.adding(days: 1) }.min()
            return [
                start.map { .set(PostSaleContract.suspendTimer, at: $0.start) } ?? .clear(PostSaleContract.suspendTimer),
                end.map { .set(PostSaleContract.reconnectTimer, at: $0.start) } ?? .clear(PostSaleContract.reconnectTimer),
            ]
        }
    }

    /// What a request changes on the contract.
    public enum Effect: Sendable, Equatable {
        case suspend(productIds: [String], from: Day, to: Day)
        case reconnect(on: Day)
        case changePlan(productId: String, plan: String, monthly: Money, on: Day)
        case setService(productId: String, service: String, enabled: Bool, on: Day)
        case move(productIds: [String], address: String, on: Day)
        /// A transfer with a change of technology: the old products withdrawn, new ones added.
        case replace(productIds: [String], address: String, technology: Technology?, on: Day)
        case withdraw(productIds: [String], on: Day, details: JSONObject)
        case trackWorkOrder(workOrderId: String, productIds: [String])
        case registerClaim(month: YearMonth)
        case resolveClaim(resolution: String)
        case trackCollection
        case endCollection
    }

    public enum Input: Sendable {
        case register(RegisterContract)
        /// A new request: its facts go to the request's decision.
        case screen(RequestPostSale, requestId: String)
        /// A request asks for the contract's facts again (requirements completed, a re-check).
        case refresh(requestId: String)
        case apply(requestId: String, Effect)
        case proformaIssued(ProformaIssued)
        case proformaPaid(ProformaPaid)
        case workOrderEnded(workOrderId: String)
        case suspensionStarts
        case suspensionEnds
    }

    public static let suspendTimer = "suspension.start", reconnectTimer = "suspension.end"

    /// What changes an existing contract: requests (screened, refreshed, applied), billing's
    /// proformas, the OTs post-sale opened, the suspension timers. A terminated contract still
    /// learns its last proformas and their payments and answers collections and claims.
    static let changes = [
        RequestPostSale.type, CompletePostSaleRequirements.type, RecordFeasibility.type, RecordEquipment.type, RecordDiagnosis.type,
        RecordClaimResolution.type, ProformaIssued.type, ProformaPaid.type, WorkOrderClosed.type, WorkOrderCancelled.type,
        StateMachine.timer(suspendTimer), StateMachine.timer(reconnectTimer), StateMachine.timer(PostSaleRequest.recheckTimer),
    ]

    /// What still reaches a terminated contract: its last proformas and their payments, the
    /// collection of its debt and its billing claims (the flows it still answers).
    static let afterTermination = [
        RequestPostSale.type, CompletePostSaleRequirements.type, RecordClaimResolution.type, ProformaIssued.type, ProformaPaid.type,
        StateMachine.timer(PostSaleRequest.recheckTimer),
    ]

    public static let machine = StateMachine(
        title: "enterprise contract in post-sale", procedure: "GC-PRC-OPE-ASE-04",
        states: [.init("active"), .init("terminated")],
        transitions: [.init(nil, "active", on: RegisterContract.type)]
            + changes.map { .init("active", "active", on: $0) }
            + afterTermination.map { .init("terminated", "terminated", on: $0) }
            + [RecordEquipment.type, WorkOrderClosed.type, WorkOrderCancelled.type].map { .init("active", "terminated", on: $0) })

    public static func timerFired(_ name: String, dueAt: Date) -> Input? {
        switch name {
        case suspendTimer: .suspensionStarts
        case reconnectTimer: .suspensionEnds
        default: nil
        }
    }

    /// The CRM's checks of a new contract.
    static func validate(_ c: RegisterContract) throws(Rejection) {
        var problems: [FieldProblem] = []
        if c.contractId.isBlank { problems.append(FieldProblem(field: "data.contractId", problem: "must not be empty")) }
        if c.products.isEmpty { problems.append(FieldProblem(field: "data.products", problem: "a contract has at least one product")) }
        var seen = Set<String>()
        for (i, p) in c.products.enumerated() {
            if !seen.insert(p.id).inserted { problems.append(FieldProblem(field: "data.products[\(i)].id", problem: "appears twice")) }
            if p.monthly.minor < 0 { problems.append(FieldProblem(field: "data.products[\(i)].monthly.minor", problem: "must not be negative")) }
            if p.monthly.currency != c.customer.country.currency {
                problems.append(
                    FieldProblem(field: "data.products[\(i)].monthly.currency", problem: "must be \(c.customer.country.currency.rawValue)"))
            }
        }
        if let p = c.earlyTerminationPenalty, p.minor <= 0 || p.currency != c.customer.country.currency {
            problems.append(FieldProblem(field: "data.earlyTerminationPenalty", problem: "must be a positive amount in the contract's currency"))
        }
        if !problems.isEmpty { throw .validation(problems) }
    }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let today = Day(context.now)
        if case .register(let c) = input {
            try validate(c)
            if let state {
                let same = state.customer == c.customer && state.products.map(\.product) == c.products
                    && state.minimumPermanenceUntil == c.minimumPermanenceUntil
                if same { return .ignore("contract \(c.contractId) is registered already") }
                throw Rejection(
                    .alreadyExists, "contract \(c.contractId) is registered with other terms",
                    errors: [FieldProblem(field: "data.contractId", problem: "already registered")])
            }
            let s = State(
                contractId: c.contractId, customer: c.customer,
                products: c.products.map { ProductRecord(product: $0, status: .active) },
                minimumPermanenceUntil: c.minimumPermanenceUntil, earlyTerminationPenalty: c.earlyTerminationPenalty,
                registeredAt: context.now)
            return Decision(
                state: s, history: [HistoryEntry("registered", from: nil, to: "active", reason: "\(c.products.count) products")],
                events: [
                    ContractRegistered(
                        contractId: c.contractId, customer: c.customer, products: c.products,
                        minimumPermanenceUntil: c.minimumPermanenceUntil, earlyTerminationPenalty: c.earlyTerminationPenalty)
                ])
        }
        switch input {
        case .screen(let c, let requestId):
            var problems: [FieldProblem] = []
            if c.contractId.isBlank { problems.append(FieldProblem(field: "data.contractId", problem: "must not be empty")) }
            if let r = c.requestId, r.isBlank { problems.append(FieldProblem(field: "data.requestId", problem: "must not be empty")) }
            if !problems.isEmpty { throw .validation(problems) }
            if state == nil, context.mayWait {
                // Its registration may still be on its way (another batch, not yet committed):
                // the request waits for it, and is turned down as unknownContract only after.
                throw .notFound("contract \(c.contractId) is not known (yet)", field: "data.contractId", problem: "unknown contract")
            }
            return Decision(state: nil, followUps: [.to(PostSaleRequest.self, requestId, .open(c, facts: state))])
        case .refresh(let requestId):
            guard let state else { return .ignore("no contract") }
            return Decision(state: nil, followUps: [.to(PostSaleRequest.self, requestId, .facts(state))])
        default:
            break
        }
        guard var s = state else {
            switch input {
            case .apply: throw Rejection(.internalError, "a request changed a contract that does not exist")
            default: return .ignore("not a contract of post-sale")
            }
        }
        let before = s.status
        switch input {
        case .register, .screen, .refresh:
            return .ignore("handled above")

        case .proformaIssued(let e):
            if let i = s.paidEarly.firstIndex(of: e.proformaId) {
                s.paidEarly.remove(at: i)
                return Decision(state: s, history: [HistoryEntry("proformaIssued", from: before, to: s.status, reason: e.proformaId)])
            }
            guard !s.unpaid.contains(where: { $0.id == e.proformaId }) else { return .ignore("proforma known") }
            s.unpaid.append(Proforma(id: e.proformaId, month: e.month, dueBy: e.dueBy, total: e.total, lines: e.lines))
            return Decision(state: s, history: [HistoryEntry("proformaIssued", from: before, to: s.status, reason: e.proformaId)])

        case .proformaPaid(let e):
            if let i = s.unpaid.firstIndex(where: { $0.id == e.proformaId }) {
                s.unpaid.remove(at: i)
            } else if !s.paidEarly.contains(e.proformaId) {
                s.paidEarly.append(e.proformaId)
            } else {
                return .ignore("payment known")
            }
            let told = s.collections.map { Target.to(PostSaleRequest.self, $0, .facts(s)) }
            return Decision(
                state: s, history: [HistoryEntry("proformaPaid", from: before, to: s.status, reason: e.proformaId)], followUps: told)

        case .workOrderEnded(let workOrderId):
            guard s.workOrders.removeValue(forKey: workOrderId) != nil else { return .ignore("not an OT of this contract") }
            var events: [any Message] = []
            var followUps: [Target] = []
            var history: [HistoryEntry] = []
            // Withdrawals that waited for the OTs on their products.
            let ready = s.pendingWithdrawals.filter { w in !s.workOrders.values.contains { !Set($0).isDisjoint(with: w.productIds) } }
            for w in ready {
                s.pendingWithdrawals.removeAll { $0.requestId == w.requestId }
                let r = withdraw(&s, w, today: today)
                events += r.events
                history += r.history
                followUps.append(.to(PostSaleRequest.self, w.requestId, .withdrawn))
            }
            history.append(HistoryEntry("workOrderEnded", from: before, to: s.status, reason: workOrderId))
            return Decision(state: s, history: history, events: events, followUps: followUps)

        case .suspensionStarts where s.status == "terminated", .suspensionEnds where s.status == "terminated":
            // Every product withdrawn: the suspensions are over, with nothing to switch.
            for i in s.suspensions.indices where s.suspensions[i].reconnectedOn == nil {
                s.suspensions[i].started = true
                s.suspensions[i].reconnectedOn = today
            }
            return Decision(state: s, timers: s.suspensionTimers, note: "suspension timer of a terminated contract")

        case .suspensionStarts:
            var events: [any Message] = []
            var history: [HistoryEntry] = []
            for i in s.suspensions.indices where !s.suspensions[i].started && s.suspensions[i].reconnectedOn == nil && s.suspensions[i].from <= today {
                s.suspensions[i].started = true
                let open = s.suspensions[i]
                for id in open.productIds where s.product(id)?.status == .active {
                    events.append(change(&s, id, to: .suspended, .suspended, on: open.from, requestId: open.requestId))
                }
                history.append(HistoryEntry("suspended", from: before, to: s.status, reason: "\(open.requestId): \(open.productIds.joined(separator: ","))"))
            }
            guard !history.isEmpty else { return Decision(state: nil, timers: s.suspensionTimers) }
            return Decision(state: s, history: history, events: events, timers: s.suspensionTimers)

        case .suspensionEnds:
            var events: [any Message] = []
            var history: [HistoryEntry] = []
            for open in s.suspensions where open.reconnectedOn == nil && open.to.adding(days: 1) <= today {
                let r = reconnect(&s, open, on: open.to.adding(days: 1), requestId: open.requestId)
                events += r.events
                history += r.history
            }
            guard !history.isEmpty else { return Decision(state: nil, timers: s.suspensionTimers) }
            return Decision(state: s, history: history, events: events, timers: s.suspensionTimers)

        case .apply(let requestId, let effect):
            return try apply(&s, requestId, effect, today: today, context: &context)
        }
    }

    /// One product's change, and its event.
    static func change(
        _ s: inout State, _ id: String, to status: ProductStatus, _ change: ProductChange, on: Day, requestId: String?,
        details: JSONObject? = nil
    ) -> ContractProductChanged {
        let i = s.products.firstIndex { $0.product.id == id }!
        s.products[i].status = status
        if status == .withdrawn { s.products[i].withdrawnOn = on }
        return ContractProductChanged(
            contractId: s.contractId, product: s.products[i].product, change: change, on: on, status: status, requestId: requestId,
            details: details)
    }

    /// How a product comes back (seed D, step 8.1): internet and line at once; cable TV on copper
    /// within 24 h; on fiber everything at once. Products that carry cable TV: `tv`, `duoPack`
    /// (internet + TV) and `multipack`.
    public static func reconnection(of p: ContractProduct) -> ReconnectionHow {
        let carriesTV = [ProductType.tv, .duoPack, .multipack].contains(p.type)
        return carriesTV && p.technology != .fiber && p.technology != .hspa ? .within24h : .automatic
    }

    static func reconnect(_ s: inout State, _ open: Suspension, on day: Day, requestId: String) -> (events: [any Message], history: [HistoryEntry]) {
        let before = s.status
        var events: [any Message] = []
        var back: [ReconnectedProduct] = []
        for id in open.productIds {
            guard let p = s.product(id), p.status != .withdrawn else { continue }
            if p.status == .suspended {
                events.append(change(&s, id, to: .active, .reconnected, on: day, requestId: requestId))
            }
            back.append(ReconnectedProduct(id: id, how: reconnection(of: p.product)))
        }
        if let i = s.suspensions.lastIndex(where: { $0.requestId == open.requestId }) {
            s.suspensions[i].reconnectedOn = day
            s.suspensions[i].started = true
        }
        events.append(ServiceReconnected(requestId: requestId, contractId: s.contractId, products: back, on: day))
        return (events, [HistoryEntry("reconnected", from: before, to: s.status, reason: back.map(\.id).joined(separator: ","))])
    }

    static func withdraw(_ s: inout State, _ w: PendingWithdrawal, today: Day) -> (events: [any Message], history: [HistoryEntry]) {
        let before = s.status
        var events: [any Message] = []
        for id in w.productIds where s.product(id).map({ $0.status != .withdrawn }) ?? false {
            events.append(change(&s, id, to: .withdrawn, .withdrawn, on: w.on, requestId: w.requestId, details: w.details))
        }
        return (events, [HistoryEntry("withdrawn", from: before, to: s.status, reason: w.productIds.joined(separator: ","))])
    }

    static func apply(
        _ s: inout State, _ requestId: String, _ effect: Effect, today: Day, context: inout DecisionContext
    ) throws(Rejection) -> Decision<State> {
        let before = s.status
        func line(_ action: String, _ reason: String) -> HistoryEntry { HistoryEntry(action, from: before, to: s.status, reason: reason) }
        switch effect {
        case .registerClaim, .resolveClaim, .trackCollection, .endCollection:
            break
        default:
            // Every product withdrawn: a request still running has nothing left to change.
            if before == "terminated" { return .ignore("contract \(s.contractId) is terminated") }
        }
        switch effect {
        case .suspend(let ids, let from, let to):
            var suspension = Suspension(requestId: requestId, productIds: ids, from: from, to: to)
            var events: [any Message] = [ServiceSuspended(requestId: requestId, contractId: s.contractId, productIds: ids, from: from, to: to)]
            if from <= today {
                suspension.started = true
                for id in ids where s.product(id)?.status == .active {
                    events.append(change(&s, id, to: .suspended, .suspended, on: from, requestId: requestId))
                }
            }
            s.suspensions.append(suspension)
            return Decision(
                state: s, history: [line("suspension", "\(from) – \(to): \(ids.joined(separator: ","))")], events: events,
                timers: s.suspensionTimers)

        case .reconnect(let on):
            guard let open = s.openSuspension else { throw Rejection(.internalError, "no suspension to reconnect") }
            let i = s.suspensions.lastIndex { $0.requestId == open.requestId }!
            if on > today {
                // The reconnection date moves (seed D, step 5).
                s.suspensions[i].to = on.adding(days: -1)
                return Decision(state: s, history: [line("reconnectionMoved", "\(on)")], timers: s.suspensionTimers)
            }
            let r = reconnect(&s, open, on: on, requestId: requestId)
            return Decision(state: s, history: r.history, events: r.events, timers: s.suspensionTimers)

        case .changePlan(let id, let plan, let monthly, let on):
            let i = s.products.firstIndex { $0.product.id == id }!
            s.products[i].product.monthly = monthly
            s.products[i].plan = plan
            let e = change(&s, id, to: s.products[i].status, .planChanged, on: on, requestId: requestId, details: ["plan": .string(plan)])
            return Decision(state: s, history: [line("planChanged", "\(id): \(plan)")], events: [e])

        case .setService(let id, let service, let enabled, let on):
            let i = s.products.firstIndex { $0.product.id == id }!
            var services = Set(s.products[i].services)
            if enabled { services.insert(service) } else { services.remove(service) }
            s.products[i].services = services.sorted()
            let e = change(
                &s, id, to: s.products[i].status, .servicesChanged, on: on, requestId: requestId,
                details: ["services": .array(s.products[i].services.map(JSONValue.string))])
            return Decision(state: s, history: [line(enabled ? "serviceEnabled" : "serviceDisabled", "\(id): \(service)")], events: [e])

        case .move(let ids, let address, let on):
            var events: [any Message] = []
            for id in ids {
                let i = s.products.firstIndex { $0.product.id == id }!
                s.products[i].address = address
                events.append(change(&s, id, to: s.products[i].status, .moved, on: on, requestId: requestId, details: ["address": .string(address)]))
            }
            return Decision(state: s, history: [line("moved", "\(ids.joined(separator: ",")) → \(address)")], events: events)

        case .replace(let ids, let address, let technology, let on):
            var events: [any Message] = []
            for id in ids {
                guard let old = s.product(id), old.status != .withdrawn else { continue }
                events.append(change(&s, id, to: .withdrawn, .withdrawn, on: on, requestId: requestId, details: ["equipment": "to be returned"]))
                var new = old.product
                new.id = "\(id)-\(requestId)"
                new.installedOn = on
                new.technology = technology ?? old.product.technology
                s.products.append(ProductRecord(product: new, status: .active, plan: old.plan, address: address, services: old.services))
                events.append(
                    ContractProductChanged(
                        contractId: s.contractId, product: new, change: .added, on: on, status: .active, requestId: requestId,
                        details: ["replaces": .string(id), "address": .string(address)]))
            }
            return Decision(state: s, history: [line("replaced", ids.joined(separator: ","))], events: events)

        case .withdraw(let ids, let on, let details):
            let w = PendingWithdrawal(requestId: requestId, productIds: ids, on: on, details: details)
            let open = s.workOrders.filter { !Set($0.value).isDisjoint(with: ids) }.keys.sorted()
            if !open.isEmpty {
                s.pendingWithdrawals.append(w)
                return Decision(state: s, history: [line("withdrawalWaits", "open OTs: \(open.joined(separator: ","))")])
            }
            let r = withdraw(&s, w, today: today)
            return Decision(state: s, history: r.history, events: r.events, followUps: [.to(PostSaleRequest.self, requestId, .withdrawn)])

        case .trackWorkOrder(let workOrderId, let ids):
            s.workOrders[workOrderId] = ids
            return Decision(state: s, history: [line("workOrderOpened", workOrderId)], aliases: [workOrderId])

        case .registerClaim(let month):
            s.claims.append(Claim(requestId: requestId, month: month, status: "assigned"))
            return Decision(state: s, history: [line("claimRegistered", "\(month)")])

        case .resolveClaim(let resolution):
            guard let i = s.claims.lastIndex(where: { $0.requestId == requestId }) else { return .ignore("no such claim") }
            s.claims[i].status = "attended"
            s.claims[i].resolution = resolution
            return Decision(state: s, history: [line("claimAttended", resolution)])

        case .trackCollection:
            guard !s.collections.contains(requestId) else { return .ignore("collection tracked") }
            s.collections.append(requestId)
            return Decision(state: s, history: [line("collectionOpened", requestId)])

        case .endCollection:
            s.collections.removeAll { $0 == requestId }
            return Decision(state: s, history: [line("collectionEnded", requestId)])
        }
    }
}
