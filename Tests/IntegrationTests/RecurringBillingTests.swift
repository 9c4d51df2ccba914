import AMQP
import Billing
import Contracts
import Foundation
import PostSale
import Runtime
import Testing

/// Post-sale and billing together against a real RabbitMQ and PostgreSQL: contracts learnt by
/// billing, fees "a la recurrente", the proration of a withdrawal, the monthly cycle (one proforma
/// per active contract, once), payments, and an overdue proforma turning a suspension down.
@Suite("recurring billing through post-sale and billing", .serialized)
struct RecurringBillingTests {
    typealias P = PostSaleServiceTests

    @Test func theCycleIssuesOneProformaPerActiveContractOnceAndAnOverdueOneStopsASuspension() async throws {
        try await withTestSystem("recurring") { system in
            let postsale = try system.start("postsale")
            let billing = try system.start("billing")
            try await postsale.waitUntilReady()
            try await billing.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["postsale.#", "contract.#", "billing.#", "command.rejected"])
            let sender = try await system.sender()
            let today = Day(Date())
            let month = today.yearMonth
            for run in ["A", "B", "C"] { try await P.send(sender, P.register(run)) }
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM billing.contracts WHERE state = 'active'")) == 3
            })

            // A: a call detail of the two previous months (Bs 24 on the next invoice).
            try await P.send(sender, P.request("PV-A1", "A", .callDetail, [
                "lineId": "LIN-A", "carrier": "comteco",
                "months": [.string("\(month.adding(months: -2))"), .string("\(month.adding(months: -1))")],
            ]))
            // B: the Multipack withdrawn today, after the retention offer.
            try await P.send(sender, P.request("PV-B1", "B", .withdrawal, ["productIds": ["MPK-B"], "requestDate": .string("\(today)"), "reason": "cierre"]))
            #expect(await P.received(events, "PV-A1", "PV-B1"))
            try await P.send(sender, RecordRetention(requestId: "PV-B1", accepted: false))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM postsale.requests WHERE id = 'PV-B1' AND step = 'equipment'")) == 1
            })
            try await P.send(sender, RecordEquipment(requestId: "PV-B1", complete: true, damaged: false))
            #expect(await eventually(timeout: .seconds(30)) {
                events.count("billing.proration-computed") >= 1 && events.count("billing.recurring-charge-added") >= 1
            })
            let proration = try #require(events.decoded(ProrationComputed.self).first?.data)
            let expected = RecurringRules.withdrawal(type: .multipack, monthly: .bolivianos(450), on: today)
            #expect(proration.requestId == "PV-B1")
            #expect(proration.productId == "MPK-B")
            #expect(proration.rule == "multipackBasicNotProrated")
            #expect(proration.days == today.day && proration.daysInMonth == month.days)
            #expect(proration.charged == expected.charged)

            // The month's cycle, due yesterday: every proforma is overdue at once.
            let dueBy = today.adding(days: -1)
            try await P.send(sender, RunBillingCycle(month: month, dueBy: dueBy))
            #expect(await eventually(timeout: .seconds(60)) { events.count("billing.cycle-completed") >= 1 })
            let proformas = Dictionary(uniqueKeysWithValues: events.decoded(ProformaIssued.self).map { ($0.data.contractId, $0.data) })
            #expect(proformas.keys.sorted() == ["CT-A", "CT-B", "CT-C"])
            #expect(events.decoded(BillingCycleCompleted.self).first?.data.proformas == 3)
            let a = try #require(proformas["CT-A"])
            #expect(a.lines.contains { $0.description.contains("Detalle de llamadas") && $0.amount == .bolivianos(24) })
            #expect(a.lines.filter { $0.productId != nil && !$0.description.contains("Detalle") }.map(\.amount) == [
                .bolivianos(70), .bolivianos(349), .bolivianos(120), .bolivianos(450),
            ])
            #expect(a.total == .bolivianos(70 + 349 + 120 + 450 + 24))
            #expect(a.dueBy == dueBy)
            let b = try #require(proformas["CT-B"])
            #expect(b.lines.first { $0.productId == "MPK-B" }?.amount == expected.charged)
            #expect(b.total.minor == 7_000 + 34_900 + 12_000 + expected.charged.minor)

            // Running the month again issues nothing new.
            try await P.send(sender, RunBillingCycle(month: month, dueBy: dueBy))
            #expect(await eventually(timeout: .seconds(60)) { events.count("billing.cycle-completed") >= 2 })
            try await Task.sleep(for: .seconds(1))
            #expect(events.count("billing.proforma-issued") == 3)
            #expect(events.decoded(BillingCycleCompleted.self).map(\.data.proformas).sorted() == [0, 3])

            // Payments: the exact amount; another amount and an unknown proforma are refused.
            try await P.send(sender, RecordProformaPayment(proformaId: a.proformaId, amount: a.total, receipt: "R-1"))
            try await P.send(sender, RecordProformaPayment(proformaId: b.proformaId, amount: .bolivianos(1), receipt: "R-2"), id: "wrong-amount")
            try await P.send(sender, RecordProformaPayment(proformaId: "PRF-nope", amount: .bolivianos(1), receipt: "R-3"), id: "unknown-proforma")
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.proforma-paid") >= 1 && events.count("command.rejected") >= 2 })
            let codes = Dictionary(uniqueKeysWithValues: events.decoded(CommandRejected.self).map { ($0.data.commandId, $0.data.code) })
            #expect(codes == ["wrong-amount": "amountMismatch", "unknown-proforma": "notFound"])
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.proformas WHERE receipt IS NOT NULL") == 1)

            // Accounts up to date (D): A paid, C did not.
            let next = Day(today.year + 1, 2, 1)!
            let suspension: JSONObject = ["from": .string("\(next)"), "to": .string("\(next.adding(days: 9))")]
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count(
                    "SELECT count(*)::int8 FROM postsale.contracts WHERE (id = 'CT-A' AND unpaid_proformas = 0) OR (id = 'CT-C' AND unpaid_proformas = 1)")) == 2
            })
            try await P.send(sender, P.request("PV-A2", "A", .suspension, suspension))
            try await P.send(sender, P.request("PV-C2", "C", .suspension, suspension))
            #expect(await eventually(timeout: .seconds(30)) { P.qualityDue(events, "PV-A2") && P.rejected(events, "PV-C2") != nil })
            #expect(P.rejected(events, "PV-C2")?.code == "accountNotUpToDate")
        }
    }

    @Test func theOTsPostSaleOpensAreNeverBilledByPrefactura() async throws {
        try await withTestSystem("recurring-ot") { system in
            let billing = try system.start("billing")
            try await billing.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["billing.prefactura-issued"])
            let sender = try await system.sender()
            for (id, kind) in [("PS-PV-1", WorkOrderKind.transfer), ("PS-PV-2", .visit), ("WO-9", .project)] {
                try await P.send(sender, WorkOrderClosed(workOrderId: id, kind: kind, customer: P.customer, outcome: .resolved, closedAt: Date()))
            }
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.prefactura-issued") >= 1 })
            try await Task.sleep(for: .seconds(2))
            #expect(events.decoded(PrefacturaIssued.self).map(\.data.workOrderId) == ["WO-9"])
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.work_orders") == 3)
        }
    }
}
