import Contracts
import Foundation
import PostSale
import Runtime
import Testing

/// Helpers on top of `PS`: opening requests, chaining decisions and reading their outcome.
extension PS {
    typealias Request = PostSaleRequest
    typealias Contract = PostSaleContract

    /// Midnight UTC of a day written `YYYY-MM-DD`.
    static func midnight(_ text: String) -> Date { Day(text)!.start }

    /// `PS.t0`'s day (2026-11-29).
    static var today: Day { Day(t0) }

    static func suspensionDetails(_ from: String, _ to: String) -> JSONObject { ["from": .string(from), "to": .string(to)] }

    /// The decision of a new request of `flow` against the contract's `facts`.
    static func open(
        _ flow: PostSaleFlow, _ details: JSONObject, documents: [Document] = [letter], facts: Contract.State?, at time: Date = t0
    ) throws(Rejection) -> Decision<Request.State> {
        try decide(Request.self, nil, .open(request(flow, details, documents: documents), facts: facts), at: time)
    }

    /// The state after `input`, failing the test when the decision leaves none.
    static func step<A: Aggregate>(_ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date = t0) throws -> A.State {
        try #require(try decide(a, state, input, at: time).state)
    }

    /// The contract after a request's effect.
    static func applied(_ contract: Contract.State, _ effect: Contract.Effect, requestId: String = "PV-0", at time: Date = t0) throws
        -> Contract.State
    {
        try step(Contract.self, contract, .apply(requestId: requestId, effect), at: time)
    }

    /// The rejection `body` throws, or nil.
    static func rejection(_ body: () throws -> Void) -> Rejection? { Rejection.thrown(by: body) }

    /// The code of the only `postsale.request-rejected` of a decision.
    static func rejectedCode(_ d: Decision<Request.State>) -> String? {
        let rejected = d.emitted(PostSaleRequestRejected.self)
        return rejected.count == 1 ? rejected[0].code : nil
    }

    /// Wire types of the emitted events, in order.
    static func types<S>(_ d: Decision<S>) -> [String] { d.events.map { type(of: $0).type } }

    static func kinds<S>(_ d: Decision<S>) -> [String] { d.followUps.map(\.aggregate.kind) }
}
