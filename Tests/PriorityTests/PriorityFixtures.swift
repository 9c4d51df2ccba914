import Contracts
import Foundation
import Priority
@testable import Runtime
import Testing

/// Values the priority tests share: customers of each segment, products of each group, damage
/// reports, work-order facts, and the decisions of the service's aggregates as the runtime runs
/// them (one number of `damage_number` per report when a test gives one).
enum P {
    typealias Product = ProductDamages
    typealias OT = PriorityWorkOrder

    /// 2026-11-29T13:00:00Z.
    static let t0 = Date(timeIntervalSince1970: 1_795_957_200)
    static func hours(_ h: Double) -> Date { t0.addingTimeInterval(h * 3600) }
    static let hour: TimeInterval = 3600

    static let residential = Customer.residentialExample
    static let topA = Customer(id: "C-7", name: "Banco Unión S.A.", taxId: "1020231026", sector: .private, segment: .topA, country: .bo)
    static let pyme = Customer(id: "C-5531", name: "Importadora Illimani S.R.L.", taxId: "2849301015", sector: .private, segment: .pyme, country: .bo)

    static let internet = ProductRef(id: "INT-1", type: .internet)
    static let tv = ProductRef(id: "TV-1", type: .tv)
    static let line = ProductRef(id: "LIN-1", type: .line)
    static let multipack = ProductRef(id: "MPK-1", type: .multipack)

    static let reporter = Payer(name: "María Fernanda Quispe Mamani", idNumber: "6543210 CB")
    static let address = "Calle Jordán 0457, Cochabamba"
    static let phone = "+591 71234567"
    static let fault = "Sin conexión a internet, luz LOS roja en el router"

    static func report(
        _ product: ProductRef = internet, customer: Customer = residential, channel: DamageChannel = .callCenter, fault: String = fault,
        reporter: Payer? = reporter, address: String? = address, phone: String? = phone, remote: Bool? = nil
    ) -> ReportDamage {
        ReportDamage(
            customer: customer, product: product, channel: channel, fault: fault, address: address, referencePhone: phone, reporter: reporter,
            resolvedRemotely: remote)
    }

    /// The id of damage number `n` registered in 2026.
    static func damageId(_ n: Int64) -> String { String(format: "DN-2026-%06lld", n) }
    /// The id of the `n`-th repair OT of a damage.
    static func repairOT(_ damageId: String, _ n: Int = 1) -> String { DerivedID.uuid("priority.repair", "\(damageId)#\(n)") }

    static func opened(
        _ id: String, kind: WorkOrderKind = .repair, customer: Customer = residential, product: ProductRef? = internet, damageId: String? = nil
    ) -> WorkOrderOpened {
        WorkOrderOpened(
            workOrderId: id, number: "OT-2026-000142", kind: kind, serviceLine: nil, customer: customer, documents: [], productId: product?.id,
            productType: product?.type, damageId: damageId)
    }

    static func closed(_ id: String, _ outcome: Outcome, at time: Date, customer: Customer = residential) -> WorkOrderClosed {
        WorkOrderClosed(workOrderId: id, kind: .repair, customer: customer, outcome: outcome, closedAt: time)
    }

    static func quality(_ damageId: String, ok: Bool, problem: DamageProblem? = nil) -> Product.Input {
        .qualityCheck(RecordDamageQualityCheck(damageId: damageId, ok: ok, problem: problem, notes: nil))
    }

    static func escalation(_ damageId: String, solved: Bool) -> Product.Input {
        .escalation(RecordEscalationResult(damageId: damageId, solved: solved, notes: nil))
    }

    static func decide<A: Aggregate>(
        _ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date = t0, number: Int64? = nil, messageTime: Date? = nil
    ) throws(Rejection) -> Decision<A.State> {
        var context = DecisionContext(
            now: time, messageId: "m-1", messageTime: messageTime, numbers: number.map { [Product.damageNumber: [$0]] } ?? [:])
        return try A.decide(state, input, &context)
    }

    /// The state after `input`, failing the test when the decision leaves none.
    static func step<A: Aggregate>(_ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date = t0, number: Int64? = nil) throws -> A.State {
        try #require(try decide(a, state, input, at: time, number: number).state)
    }

    /// The rejection `body` throws, or nil.
    static func rejection(_ body: () throws -> Void) -> Rejection? { Rejection.thrown(by: body) }

    /// Wire types of the emitted events, in order.
    static func types<S>(_ d: Decision<S>) -> [String] { d.events.map { type(of: $0).type } }
    static func kinds<S>(_ d: Decision<S>) -> [String] { d.followUps.map(\.aggregate.kind) }

    /// What a follow-up decides on `state` (as the runtime runs it, right after its cause).
    static func run<S: AggregateState>(_ target: Target, on state: S?, at time: Date = t0, messageTime: Date? = nil) throws -> (
        state: S?, events: [any Message], timers: [TimerChange], history: [HistoryEntry], followUps: [Target]
    ) {
        var context = DecisionContext(now: time, messageId: "m-1", messageTime: messageTime)
        let d = try target.run(state, &context)
        return (d.state as? S, d.events, d.timers, d.history, d.followUps)
    }

    // MARK: Damage stories

    /// A first damage on `product`, registered at t0 as number `n`.
    static func registered(_ product: ProductRef = internet, customer: Customer = residential, number n: Int64 = 1) throws -> Product.State {
        try step(Product.self, nil, .report(report(product, customer: customer)), at: t0, number: n)
    }

    /// The damage of `registered` after its repair OT opened (the product knows its last OT).
    static func withOpenOT(_ product: ProductRef = internet, customer: Customer = residential, number n: Int64 = 1) throws -> Product.State {
        let s = try registered(product, customer: customer, number: n)
        return try step(Product.self, s, .workOrderOpened(opened(repairOT(damageId(n)), customer: customer, product: product, damageId: damageId(n))))
    }

    /// The damage's repair OT closed `outcome` at t0 + 2 h.
    static func closedOT(_ product: ProductRef = internet, _ outcome: Outcome, reiterated: Bool = false, number n: Int64 = 1) throws -> Product.State {
        var s = try withOpenOT(product, number: n)
        if reiterated { s = try step(Product.self, s, .report(report(product)), at: hours(1)) }
        return try step(Product.self, s, .closed(closed(repairOT(damageId(n)), outcome, at: hours(2))), at: hours(2))
    }
}
