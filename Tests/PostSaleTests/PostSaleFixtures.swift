import Contracts
import Foundation
import PostSale
import Runtime
import Testing

/// Values the post-sale tests share: a contract with a line, internet, cable TV on copper and a
/// Multipack, and the decisions of its aggregates as the runtime would run them.
enum PS {
    /// 2026-11-29T13:00:00Z.
    static let t0 = Date(timeIntervalSince1970: 1_795_957_200)
    static let contractId = "CT-1"
    static let customer = Customer(
        id: "C-5531", name: "Importadora Illimani S.R.L.", taxId: "2849301015", sector: .private, segment: .pyme, country: .bo)
    static let line = ContractProduct(id: "LIN-1", type: .line, monthly: .bolivianos(70), installedOn: Day(2020, 1, 10)!, technology: .copper)
    static let internet = ContractProduct(id: "INT-1", type: .internet, monthly: .bolivianos(349), installedOn: Day(2020, 1, 10)!, technology: .copper)
    static let tv = ContractProduct(id: "TV-1", type: .tv, monthly: .bolivianos(120), installedOn: Day(2021, 5, 2)!, technology: .copper)
    static let multipack = ContractProduct(id: "MPK-1", type: .multipack, monthly: .bolivianos(450), installedOn: Day(2024, 6, 3)!, technology: .fiber)
    static let letter = Document(kind: .requestLetter, uri: "s3://docs/carta.pdf")

    static func register(permanenceUntil: Day? = Day(2027, 6, 30)!) -> RegisterContract {
        RegisterContract(
            contractId: contractId, customer: customer, products: [line, internet, tv, multipack], minimumPermanenceUntil: permanenceUntil,
            earlyTerminationPenalty: .bolivianos(900))
    }

    static func request(_ flow: PostSaleFlow, _ details: JSONObject, id: String = "PV-1", documents: [Document] = [letter]) -> RequestPostSale {
        RequestPostSale(requestId: id, flow: flow, customer: customer, contractId: contractId, products: [], channel: "whatsapp", details: details, documents: documents)
    }

    static func decide<A: Aggregate>(_ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date = t0) throws(Rejection) -> Decision<A.State> {
        var context = DecisionContext(now: time, messageId: "m-1")
        return try A.decide(state, input, &context)
    }

    static func contract(permanenceUntil: Day? = Day(2027, 6, 30)!) throws -> PostSaleContract.State {
        try #require(try decide(PostSaleContract.self, nil, .register(register(permanenceUntil: permanenceUntil))).state)
    }
}
