import Contracts
import Foundation
import Runtime

extension DemoScript {
    /// The post-sale act (GC-PRC-OPE-ASE-04): an enterprise contract registered, a suspension
    /// accepted and a second one in the same year refused, a COMTECO call detail of two earlier
    /// months (Bs 24 on the line's next invoice), a Multipack withdrawn mid-month after the
    /// retention offer, each ended by its quality-control call.
    func postSale() async throws {
        let contractId = "CT-DEMO-\(run)"
        let customer = Customer(
            id: "C-BO-5531", name: "Importadora Illimani S.R.L.", taxId: "2849301015", sector: .private, segment: .pyme, country: .bo)
        let today = Day(Date())
        let letter = Document(kind: .requestLetter, uri: "s3://ot-docs/C-BO-5531/carta.pdf")
        let products = [
            ContractProduct(id: "LIN-\(run)", type: .line, monthly: .bolivianos(70), installedOn: Day(2021, 3, 1)!, technology: .copper),
            ContractProduct(id: "INT-\(run)", type: .internet, monthly: .bolivianos(349), installedOn: Day(2021, 3, 1)!, technology: .copper),
            ContractProduct(id: "TV-\(run)", type: .tv, monthly: .bolivianos(120), installedOn: Day(2022, 8, 15)!, technology: .copper),
            ContractProduct(id: "MPK-\(run)", type: .multipack, monthly: .bolivianos(450), installedOn: Day(2024, 6, 3)!, technology: .fiber),
        ]
        func request(_ n: Int, _ flow: PostSaleFlow, _ details: JSONObject, documents: [Document] = [letter]) -> RequestPostSale {
            RequestPostSale(
                requestId: "PV-\(run)-\(n)", flow: flow, customer: customer, contractId: contractId, products: [], channel: "whatsapp",
                details: details, documents: documents)
        }
        func qualityCall(_ id: String) async throws {
            _ = try await watch.first(PostSaleQualityCheckRequested.self, timeout: timeout) { $0.requestId == id }
            try await send(RecordPostSaleQualityCheck(requestId: id, ok: true, notes: "cliente conforme"), correlation: id)
            _ = try await watch.first(PostSaleRequestCompleted.self, timeout: timeout) { $0.requestId == id }
        }

        say("8. Post-sale (GC-PRC-OPE-ASE-04): an enterprise contract is registered")
        try await send(
            RegisterContract(contractId: contractId, customer: customer, products: products, minimumPermanenceUntil: Day(2025, 6, 2)!,
                             earlyTerminationPenalty: .bolivianos(900)))
        _ = try await watch.first(ContractRegistered.self, timeout: timeout) { $0.contractId == contractId }

        // January of next year, so that a second suspension later that year shows the once-a-year rule.
        let from = Day(today.year + 1, 1, 1)!
        let to = Day(today.year + 1, 1, 31)!
        say("   D: a temporary suspension from \(from) to \(to) (accounts up to date, first this year, at most 4 months): accepted")
        try await send(request(1, .suspension, ["from": .string("\(from)"), "to": .string("\(to)"), "productIds": [.string("LIN-\(run)"), .string("TV-\(run)")]]))
        _ = try await watch.first(ServiceSuspended.self, timeout: timeout) { $0.requestId == "PV-\(run)-1" }
        try await qualityCall("PV-\(run)-1")
        say("   D: a second suspension in \(from.year): refused (once per calendar year)")
        try await send(request(2, .suspension, ["from": .string("\(Day(from.year, 3, 1)!)"), "to": .string("\(Day(from.year, 3, 15)!)")]))
        let refused = try await watch.first(PostSaleRequestRejected.self, timeout: timeout) { $0.requestId == "PV-\(run)-2" }.data
        say("   refused: \(refused.code) — \(refused.reason ?? "")")

        let months = [today.yearMonth.adding(months: -2), today.yearMonth.adding(months: -1)].map { JSONValue.string("\($0)") }
        say("   G: the detail of outgoing calls of a COMTECO line for the two previous months: Bs 12 each, on the line's invoice")
        try await send(request(3, .callDetail, ["lineId": .string("LIN-\(run)"), "carrier": "comteco", "months": .array(months)]))
        let fee = try await watch.first(RecurringChargeAdded.self, timeout: timeout) { $0.requestId == "PV-\(run)-3" }.data
        say("   billed a la recurrente: Bs \(fee.amount.minor / 100) (\(fee.reason))")
        try await qualityCall("PV-\(run)-3")

        say("   H: the client withdraws the Multipack on \(today) (outside the minimum permanence: the retention offer comes first)")
        try await send(
            request(4, .withdrawal, ["productIds": [.string("MPK-\(run)")], "requestDate": .string("\(today)"), "reason": "cierre de sucursal"]))
        try await Task.sleep(for: .milliseconds(300))
        try await send(RecordRetention(requestId: "PV-\(run)-4", accepted: false, offer: "tres meses al 50 %"), correlation: "PV-\(run)-4")
        try await send(RecordEquipment(requestId: "PV-\(run)-4", complete: true, damaged: false, notes: "router ONT y decodificador"), correlation: "PV-\(run)-4")
        _ = try await watch.first(ContractProductChanged.self, timeout: timeout) { $0.requestId == "PV-\(run)-4" && $0.change == .withdrawn }
        let proration = try await watch.first(ProrationComputed.self, timeout: timeout) { $0.requestId == "PV-\(run)-4" }.data
        say("   billing prorates its last month (H step 7.3): Bs 70 of basic telephony in full, the rest for \(proration.days) of \(proration.daysInMonth) days = Bs \(Self.bolivianos(proration.charged)) (\(proration.rule))")
        try await qualityCall("PV-\(run)-4")

        say("   I: billing runs the month's cycle for the contract: one proforma, with the fee and the proration; post-sale learns it for collections")
        try await send(RunBillingCycle(month: today.yearMonth, contractIds: [contractId]))
        let proforma = try await watch.first(ProformaIssued.self, timeout: timeout) { $0.contractId == contractId }.data
        for line in proforma.lines { Console.line("     \(line.description): Bs \(Self.bolivianos(line.amount))") }
        Console.line("     total Bs \(Self.bolivianos(proforma.total)), due \(proforma.dueBy)  (\(proforma.proformaId))")
        _ = try await watch.first(BillingCycleCompleted.self, timeout: timeout) { $0.month == today.yearMonth }
        let kinds = Dictionary(grouping: watch.events(PostSaleRequestCompleted.self).map(\.data.flow), by: { $0 }).mapValues(\.count)
        Console.line("  post-sale requests completed: \(kinds.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")); refused by the procedure: 1")
    }

    /// `12.34` for 1234 minor units.
    static func bolivianos(_ m: Money) -> String { String(format: "%lld.%02lld", m.minor / 100, m.minor % 100) }
}
