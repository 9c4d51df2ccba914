import Contracts
import Foundation
import Runtime

/// A supplementary service (GC-PRC-OPE-ASE-04 A, step 2.1).
public enum SupplementaryService: String, Sendable, CaseIterable {
    case callerId, pin, categoryA0, routing013, callTransfer, callWaiting, centrex
}

public enum ServiceAction: String, Sendable, CaseIterable { case enable, disable }

/// Whose lines a call detail is of (G): Boliviatel's are free, COMTECO's cost Bs 12 a past month.
public enum Carrier: String, Sendable, CaseIterable { case comteco, boliviatel }

/// What a preventive check found (K, step 2).
public enum PreventiveFinding: String, Sendable, CaseIterable { case none, upsell, fiberMigration, problem }

/// How a request arrived (CONTRACT: `postsale.request.channel`).
public enum Channel: String, Sendable, CaseIterable { case email, whatsapp, inPerson, phone, letter }

/// A request's `details`, read and typed per flow.
public enum FlowDetails: Sendable, Equatable {
    case supplementary(productId: String, service: SupplementaryService, action: ServiceAction)
    case planChange(productId: String, plan: String, monthly: Money)
    case transfer(productIds: [String], address: String, technologyChange: Bool, technology: Technology?)
    case suspension(from: Day, to: Day, productIds: [String]?)
    case reconnection(on: Day?)
    case damage(productId: String, fault: String, address: String, referencePhone: String)
    case billingClaim(month: YearMonth, claim: String)
    case callDetail(lineId: String, carrier: Carrier, months: [YearMonth])
    case withdrawal(productIds: [String], requestDate: Day, reason: String)
    case collection(month: YearMonth, promisedBy: Day?)
    case loyaltyCall(productId: String?, fault: String?)
    case preventiveCheck(productId: String?, finding: PreventiveFinding, surplusCable: Money?)
    case supportVisit(productId: String?, notes: String?)

    /// The contract's products the details name (they must exist).
    var productIds: [String] {
        switch self {
        case .supplementary(let p, _, _), .planChange(let p, _, _), .damage(let p, _, _, _): [p]
        case .transfer(let ps, _, _, _), .withdrawal(let ps, _, _): ps
        case .suspension(_, _, let ps): ps ?? []
        case .callDetail(let line, _, _): [line]
        case .loyaltyCall(let p, _), .preventiveCheck(let p, _, _), .supportVisit(let p, _): p.map { [$0] } ?? []
        case .reconnection, .billingClaim, .collection: []
        }
    }
}

/// Every flow's requirements, as a table (GC-PRC-OPE-ASE-04 "verifica requisitos"): the documents
/// the client brings and the fields of `details`. What is missing is listed by name: a document
/// by its kind (`requestLetter`), a field by its path (`details.from`).
public enum Requirements {
    /// Documents each flow needs. A COMTECO call detail needs the request letter too (G, step 4.1);
    /// Boliviatel's does not.
    public static let documents: [PostSaleFlow: [DocumentKind]] = [
        .supplementaryService: [.requestLetter], .planChange: [.requestLetter], .transfer: [.requestLetter],
        .suspension: [.requestLetter], .reconnection: [], .damage: [], .billingClaim: [], .callDetail: [],
        .withdrawal: [.requestLetter], .collection: [], .loyaltyCall: [], .preventiveCheck: [], .supportVisit: [],
    ]

    /// Fields each flow needs in `details` (optional ones in brackets, for documentation).
    public static let fields: [PostSaleFlow: [String]] = [
        .supplementaryService: ["productId", "service", "action"], .planChange: ["productId", "newPlan", "newMonthly"],
        .transfer: ["productIds", "newAddress", "technologyChange", "[newTechnology]"],
        .suspension: ["from", "to", "[productIds]"], .reconnection: ["[on]"],
        .damage: ["productId", "fault", "address", "referencePhone"], .billingClaim: ["month", "claim"],
        .callDetail: ["lineId", "carrier", "months"], .withdrawal: ["productIds", "requestDate", "reason"],
        .collection: ["month", "[promisedBy]"], .loyaltyCall: ["[productId]", "[fault]"],
        .preventiveCheck: ["finding", "[productId]", "[surplusCable]"], .supportVisit: ["[productId]", "[notes]"],
    ]

    /// Reads the details of `flow`: the typed details when nothing is missing, what is missing,
    /// and the fields present but invalid (a validation problem of the command).
    public static func read(
        _ flow: PostSaleFlow, details: JSONObject, documents: [Document], receivedIn month: YearMonth
    ) -> (details: FlowDetails?, missing: [String], problems: [FieldProblem]) {
        var r = DetailsReader(details)
        var parsed: FlowDetails?
        var needsLetter = Self.documents[flow] ?? []
        switch flow {
        case .supplementaryService:
            let p = r.string("productId"), s = r.oneOf("service", SupplementaryService.self), a = r.oneOf("action", ServiceAction.self)
            if let p, let s, let a { parsed = .supplementary(productId: p, service: s, action: a) }
        case .planChange:
            let p = r.string("productId"), plan = r.string("newPlan"), m = r.money("newMonthly")
            if let p, let plan, let m { parsed = .planChange(productId: p, plan: plan, monthly: m) }
        case .transfer:
            let ps = r.strings("productIds"), a = r.string("newAddress"), t = r.bool("technologyChange")
            let tech = r.oneOf("newTechnology", Technology.self, required: false)
            if let ps, let a, let t { parsed = .transfer(productIds: ps, address: a, technologyChange: t, technology: tech) }
        case .suspension:
            let from = r.day("from"), to = r.day("to"), ps = r.strings("productIds", required: false)
            if let from, let to {
                if to < from {
                    return (nil, r.missing, r.problems + [FieldProblem(field: "data.details.to", problem: "is before data.details.from")])
                }
                parsed = .suspension(from: from, to: to, productIds: ps)
            }
        case .reconnection:
            let on = r.day("on", required: false)
            parsed = .reconnection(on: on)
        case .damage:
            let p = r.string("productId"), f = r.string("fault"), a = r.string("address"), phone = r.string("referencePhone")
            if let p, let f, let a, let phone { parsed = .damage(productId: p, fault: f, address: a, referencePhone: phone) }
        case .billingClaim:
            let m = r.month("month"), c = r.string("claim")
            if let m, let c { parsed = .billingClaim(month: m, claim: c) }
        case .callDetail:
            let line = r.string("lineId"), carrier = r.oneOf("carrier", Carrier.self), months = r.months("months")
            if carrier == .comteco { needsLetter = [.requestLetter] }
            if let months, let late = months.first(where: { $0 > month }) {
                return (nil, r.missing, r.problems + [FieldProblem(field: "data.details.months", problem: "\(late) has not begun")])
            }
            if let line, let carrier, let months { parsed = .callDetail(lineId: line, carrier: carrier, months: Array(Set(months)).sorted()) }
        case .withdrawal:
            let ps = r.strings("productIds"), d = r.day("requestDate"), why = r.string("reason")
            if let ps, let d, let why { parsed = .withdrawal(productIds: ps, requestDate: d, reason: why) }
        case .collection:
            let m = r.month("month"), promised = r.day("promisedBy", required: false)
            if let m { parsed = .collection(month: m, promisedBy: promised) }
        case .loyaltyCall:
            let p = r.string("productId", required: false), f = r.string("fault", required: false)
            if f != nil, p == nil { _ = r.string("productId") }
            parsed = .loyaltyCall(productId: p, fault: f)
        case .preventiveCheck:
            let finding = r.oneOf("finding", PreventiveFinding.self), p = r.string("productId", required: false)
            let cable = r.money("surplusCable", required: false)
            if finding == .problem || finding == .fiberMigration, p == nil { _ = r.string("productId") }
            if let finding { parsed = .preventiveCheck(productId: p, finding: finding, surplusCable: cable) }
        case .supportVisit:
            parsed = .supportVisit(productId: r.string("productId", required: false), notes: r.string("notes", required: false))
        }
        let have = Set(documents.filter { !$0.uri.isBlank }.map(\.kind))
        let missingDocuments = needsLetter.filter { !have.contains($0) }.map(\.rawValue)
        let missing = missingDocuments + r.missing
        return (missing.isEmpty && r.problems.isEmpty ? parsed : nil, missing, r.problems)
    }
}

/// The seed's prices.
public enum PostSalePrices {
    /// G, step 5.1: each month before the current one, Bs 12 (COMTECO lines).
    public static let callDetailMonth = Money.bolivianos(12)

    /// G: what a call detail costs: Boliviatel free; COMTECO the current month free, each earlier
    /// month Bs 12. "Current" is the month the request was received in (UTC).
    public static func callDetail(carrier: Carrier, months: [YearMonth], current: YearMonth) -> (charged: [YearMonth], amount: Money) {
        guard carrier == .comteco else { return ([], Money(minor: 0, currency: .bob)) }
        let charged = months.filter { $0 < current }
        return (charged, Money(minor: callDetailMonth.minor * Int64(charged.count), currency: .bob))
    }
}
