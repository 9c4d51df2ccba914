import AMQP
import Contracts
import Foundation
import Runtime
import Testing

/// The billing service end to end: CxC and payments, the prefactura batch of closed OTs, invoices.
@Suite("billing service against RabbitMQ and PostgreSQL", .serialized)
struct BillingServiceTests {
    static let customer = Customer(id: "C-1", name: "Unidad Educativa", taxId: "1020304", sector: .public, segment: .enterprise, country: .bo)

    func closed(_ id: String, country: Country = .bo, amount: Money? = .bolivianos(4850)) -> WorkOrderClosed {
        var c = Self.customer
        c.country = country
        return WorkOrderClosed(
            workOrderId: id, kind: .repair, customer: c, outcome: .resolved, closedAt: Date(timeIntervalSince1970: 1_790_000_000),
            amount: amount)
    }

    @Test func chargesArePaidOnceForTheirExactAmountAndReconciledMonthly() async throws {
        try await withTestSystem("bill-cxc") { system in
            let service = try system.start("billing")
            try await service.waitUntilReady()
            let events = try await EventCollector(
                system: system, keys: ["billing.charge-created", "billing.charge-paid", "command.rejected"])
            let sender = try await system.sender()

            let payer = Payer(name: "Rodrigo Choque", idNumber: "4829173 LP")
            let request = ChargeRequested(requestId: "PM-1", amount: .bolivianos(1000), payer: payer, reason: "Traslado de poste", workOrderId: "WO-pm-1")
            let other = ChargeRequested(requestId: "PM-2", amount: .bolivianos(1000), payer: payer, reason: "Traslado de poste")
            try await sender.publishConfirmed([try CommandSender.message(request), try CommandSender.message(other)])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.charge-created") >= 2 })
            // The same request again, under a new message id: nothing new.
            try await sender.publishConfirmed([try CommandSender.message(request)])
            #expect(try await eventually(timeout: .seconds(10)) { try await system.count("SELECT count(*)::int8 FROM billing.inbox") == 3 })

            let created = events.decoded(ChargeCreated.self)
            #expect(created.count == 2)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.charges") == 2)
            let charge = try #require(created.first { $0.data.requestId == "PM-1" }).data
            #expect(charge.chargeId.hasPrefix("CXC-"))
            #expect(charge.amount == .bolivianos(1000))
            #expect(charge.payer == payer)
            #expect(charge.workOrderId == "WO-pm-1")
            let unpaid = try #require(created.first { $0.data.requestId == "PM-2" }).data

            // Rejections: wrong amount, wrong currency, unknown charge, no receipt.
            try await sender.publishConfirmed([
                try CommandSender.message(RecordPayment(chargeId: charge.chargeId, amount: .bolivianos(900), receipt: "REC-1"), id: "pay-wrong"),
                try CommandSender.message(
                    RecordPayment(chargeId: charge.chargeId, amount: Money(minor: 100_000, currency: .usd), receipt: "REC-1"), id: "pay-usd"),
                try CommandSender.message(RecordPayment(chargeId: "CXC-0000-999999", amount: .bolivianos(1000), receipt: "REC-1"), id: "pay-unknown"),
                try CommandSender.message(RecordPayment(chargeId: charge.chargeId, amount: .bolivianos(1000), receipt: " "), id: "pay-noreceipt"),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 4 })
            var codes = Dictionary(uniqueKeysWithValues: events.decoded(CommandRejected.self).map { ($0.data.commandId, $0.data) })
            #expect(codes["pay-wrong"]?.code == "amountMismatch")
            #expect(codes["pay-wrong"]?.errors.contains { $0.field == "data.amount" } == true)
            #expect(codes["pay-usd"]?.code == "amountMismatch")
            #expect(codes["pay-unknown"]?.code == "notFound")
            #expect(codes["pay-noreceipt"]?.code == "validation")
            #expect(codes["pay-noreceipt"]?.errors.contains { $0.field == "data.receipt" } == true)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.payments") == 0, "a rejected payment changes nothing")
            #expect(events.count("billing.charge-paid") == 0)

            // The right payment, then a second one.
            let pay = try CommandSender.message(RecordPayment(chargeId: charge.chargeId, amount: .bolivianos(1000), receipt: "REC-CBBA-1"), id: "pay-ok")
            try await sender.publishConfirmed([pay])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.charge-paid") >= 1 })
            try await sender.publishConfirmed([
                pay,  // redelivered: no second effect, no rejection
                try CommandSender.message(RecordPayment(chargeId: charge.chargeId, amount: .bolivianos(1000), receipt: "REC-CBBA-2"), id: "pay-again"),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 5 })
            try await Task.sleep(for: .seconds(1))
            codes = Dictionary(uniqueKeysWithValues: events.decoded(CommandRejected.self).map { ($0.data.commandId, $0.data) })
            #expect(codes["pay-again"]?.code == "alreadyDone")
            #expect(codes["pay-ok"] == nil)
            #expect(events.count("command.rejected") == 5)
            let paid = events.decoded(ChargePaid.self)
            #expect(paid.count == 1)
            #expect(paid.first?.data == ChargePaid(chargeId: charge.chargeId, amount: .bolivianos(1000), receipt: "REC-CBBA-1"))
            #expect(paid.first?.causationid == "pay-ok")
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.payments") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.payments WHERE receipt = 'REC-CBBA-1'") == 1)

            // The month's reconciliation sees both charges, the payment, and the unpaid one. (The
            // same rows `reconciliation(on:month:)` reads; its arithmetic is unit-tested.)
            let month = "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.charges WHERE created_at >= \(month)") == 2)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.payments WHERE paid_at >= \(month)") == 1)
            #expect(try await system.count(
                """
                SELECT count(*)::int8 FROM billing.charges c
                WHERE c.created_at >= \(month) AND NOT EXISTS (SELECT 1 FROM billing.payments p WHERE p.charge_id = c.id)
                  AND c.id = '\(unpaid.chargeId)'
                """) == 1)
        }
    }

    @Test func fiveHundredClosedWorkOrdersAreBilledExactlyOnceWhateverIsRedeliveredOrReplayed() async throws {
        try await withTestSystem("bill-batch") { system in
            let service = try system.start("billing")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["billing.prefactura-issued"])
            let sender = try await system.sender()

            let total = 500
            let countries: [Country] = [.bo, .cl, .co]
            var facts: [WorkOrderClosed] = []
            for i in 0..<total {
                let amount: Money? = i % 50 == 0 ? nil : Money.bolivianos(Int64(100 + i))
                facts.append(closed("WO-batch-\(i)", country: countries[i % 3], amount: amount))
            }
            let originals = try facts.enumerated().map { try CommandSender.message($1, id: "closed-\($0)") }
            for chunk in stride(from: 0, to: total, by: 250) { try await sender.publishConfirmed(Array(originals[chunk..<chunk + 250])) }
            let arrived = await eventually(timeout: .seconds(120)) { events.count("billing.prefactura-issued") >= total }
            #expect(arrived, "only \(events.count("billing.prefactura-issued")) of \(total) prefactura-issued")
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.prefacturas") == total)

            // Delivered again (same ids) and replayed (new ids).
            let replayed = try facts.map { try CommandSender.message($0) }
            for chunk in stride(from: 0, to: total, by: 250) {
                try await sender.publishConfirmed(Array(originals[chunk..<chunk + 250]))
                try await sender.publishConfirmed(Array(replayed[chunk..<chunk + 250]))
            }
            #expect(try await eventually(timeout: .seconds(120)) { try await system.count("SELECT count(*)::int8 FROM billing.inbox") == 2 * total })
            try await Task.sleep(for: .seconds(2))

            #expect(events.count("billing.prefactura-issued") == total)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.prefacturas") == total)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.work_orders") == total)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.inbox WHERE outcome <> 'handled'") == 0)
            let issued = events.decoded(PrefacturaIssued.self)
            #expect(Set(issued.map(\.data.workOrderId)).count == total)
            #expect(Set(issued.map(\.data.prefacturaId)).count == total)
            let byOT = Dictionary(uniqueKeysWithValues: issued.map { ($0.data.workOrderId, $0.data) })
            let priced = try #require(byOT["WO-batch-1"])
            #expect(priced.amount == .bolivianos(101))
            #expect(priced.lines.count == 1)
            #expect(priced.lines.first?.quantity == 1)
            #expect(priced.lines.first?.unitPrice == .bolivianos(101))
            // No amount and no list price: billed at 0 in the country's currency, flagged.
            #expect(byOT["WO-batch-50"]?.amount == Money(minor: 0, currency: .cop))
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.prefacturas WHERE needs_pricing") == total / 50)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.work_orders WHERE country = 'CL'") == 167)
        }
    }

    @Test func anApprovedPrefacturaIsInvoicedOnceByTheCountrysIssuerAndAReturnedOneIsReissuedWithItsCorrections() async throws {
        try await withTestSystem("bill-review") { system in
            let service = try system.start("billing")
            try await service.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["billing.prefactura-issued", "billing.invoice-issued"])
            let sender = try await system.sender()

            try await sender.publishConfirmed([
                try CommandSender.message(closed("WO-cl", country: .cl, amount: Money(minor: 500_000, currency: .clp))),
                try CommandSender.message(closed("WO-co", country: .co, amount: Money(minor: 2_000_000, currency: .cop))),
                try CommandSender.message(closed("WO-bo", country: .bo)),
                try CommandSender.message(closed("WO-ret", country: .bo)),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.prefactura-issued") >= 4 })
            let prefactura = Dictionary(uniqueKeysWithValues: events.decoded(PrefacturaIssued.self).map { ($0.data.workOrderId, $0.data) })

            var approvals: [OutgoingMessage] = []
            for wo in ["WO-cl", "WO-co", "WO-bo"] {
                let pf = try #require(prefactura[wo])
                let approved = PrefacturaApproved(prefacturaId: pf.prefacturaId, workOrderId: wo, by: "carla.rocha")
                approvals.append(try CommandSender.message(approved))
                approvals.append(try CommandSender.message(approved))  // approved twice (another message id)
            }
            try await sender.publishConfirmed(approvals)
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.invoice-issued") >= 3 })

            // Returned: marked returned; it waits for the corrections (issue 7, rule 5), which are
            // then issued as version 2 (new id, same OT).
            let first = try #require(prefactura["WO-ret"])
            let returned = PrefacturaReturned(prefacturaId: first.prefacturaId, workOrderId: "WO-ret", by: "carla.rocha", notes: "precio")
            try await sender.publishConfirmed([try CommandSender.message(returned), try CommandSender.message(returned)])
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM billing.prefacturas WHERE work_order_id = 'WO-ret' AND status = 'returned'")) == 1
            })
            #expect(events.count("billing.prefactura-issued") == 4, "not re-issued with the same lines")
            let corrected = [
                PrefacturaLine(description: "Reparación con descuento", quantity: 1, unitPrice: .bolivianos(4_500), amount: .bolivianos(4_500))
            ]
            try await sender.publishConfirmed([
                try CommandSender.message(
                    CorrectPrefactura(prefacturaId: first.prefacturaId, workOrderId: "WO-ret", lines: corrected, by: "angie.cruz", notes: "descuento"))
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.prefactura-issued") >= 5 })
            // The returned one can no longer be approved; the corrected one can.
            let second = try #require(events.decoded(PrefacturaIssued.self).first { $0.data.workOrderId == "WO-ret" && $0.data.prefacturaId != first.prefacturaId }).data
            try await sender.publishConfirmed([
                try CommandSender.message(PrefacturaApproved(prefacturaId: first.prefacturaId, workOrderId: "WO-ret", by: "carla.rocha")),
                try CommandSender.message(PrefacturaApproved(prefacturaId: second.prefacturaId, workOrderId: "WO-ret", by: "carla.rocha")),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.invoice-issued") >= 4 })
            #expect(try await eventually(timeout: .seconds(10)) { try await system.count("SELECT count(*)::int8 FROM billing.inbox") == 15 })
            try await Task.sleep(for: .seconds(2))

            let invoices = Dictionary(grouping: events.decoded(InvoiceIssued.self).map(\.data), by: \.workOrderId)
            #expect(invoices.count == 4)
            #expect(invoices.values.allSatisfy { $0.count == 1 }, "never two invoices for one OT")
            #expect(invoices["WO-cl"]?.first?.issuer == .treasuryCL)
            #expect(invoices["WO-co"]?.first?.issuer == .accountManagerCO)
            #expect(invoices["WO-bo"]?.first?.issuer == .billingBO)
            #expect(invoices["WO-cl"]?.first?.amount == Money(minor: 500_000, currency: .clp))
            #expect(invoices["WO-cl"]?.first?.prefacturaId == prefactura["WO-cl"]?.prefacturaId)
            #expect(invoices["WO-ret"]?.first?.prefacturaId == second.prefacturaId)
            #expect(second.lines == corrected && second.corrects == first.prefacturaId)
            #expect(second.amount == .bolivianos(4_500) && invoices["WO-ret"]?.first?.amount == .bolivianos(4_500))
            #expect(events.count("billing.prefactura-issued") == 5)
            #expect(try await system.count("SELECT count(*)::int8 FROM billing.invoices") == 4)
            #expect(try await system.count(
                "SELECT count(*)::int8 FROM billing.prefacturas WHERE work_order_id = 'WO-ret' AND status = 'returned' AND return_notes = 'precio' AND version = 1") == 1)
            #expect(try await system.count(
                "SELECT count(*)::int8 FROM billing.prefacturas WHERE work_order_id = 'WO-ret' AND status = 'invoiced' AND version = 2") == 1)
        }
    }

    /// Issue 7, rule 5, through billing and approval: a prefactura drafted at 0 is refused by the
    /// review until the controller prices it; a scope change that alters the amount after the
    /// closing re-issues the prefactura with the changed amount, which is what is invoiced.
    @Test func anUnpricedPrefacturaIsPricedBeforeItsApprovalAndAScopeChangeIsBilledWithItsAmount() async throws {
        try await withTestSystem("bill-price") { system in
            let billing = try system.start("billing")
            let approval = try system.start("approval")
            try await billing.waitUntilReady()
            try await approval.waitUntilReady()
            let events = try await EventCollector(system: system)
            let sender = try await system.sender()
            try await sender.publishConfirmed([
                try CommandSender.message(closed("WO-unpriced", amount: nil)),
                try CommandSender.message(closed("WO-scope", amount: .bolivianos(4_850))),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.prefactura-issued") == 2 })
            let drafts = Dictionary(uniqueKeysWithValues: events.decoded(PrefacturaIssued.self).map { ($0.data.workOrderId, $0.data) })
            let unpriced = try #require(drafts["WO-unpriced"])
            #expect(unpriced.needsPricing == true && unpriced.amount.minor == 0)
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM approval.prefacturas")) == 2
            })

            // The commercial head cannot approve it at 0.
            try await sender.publishConfirmed([
                try CommandSender.message(ReviewPrefactura(prefacturaId: unpriced.prefacturaId, decision: .approve, by: "carla.rocha"), id: "approve-at-zero")
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") == 1 })
            let refusal = try #require(events.decoded(CommandRejected.self).first).data
            #expect(refusal.commandId == "approve-at-zero" && refusal.code == "invalidTransition")

            // The controller prices it; the priced version is approved and invoiced.
            let lines = [PrefacturaLine(description: "Reparación de acometida", quantity: 3, unitPrice: .bolivianos(400), amount: .bolivianos(1_200))]
            try await sender.publishConfirmed([
                try CommandSender.message(PricePrefactura(prefacturaId: unpriced.prefacturaId, workOrderId: "WO-unpriced", lines: lines, by: "angie.cruz"))
            ])
            // A scope change of the other OT's amount reaches billing after its closing.
            let change = WorkOrderScopeChanged(
                workOrderId: "WO-scope", changes: ["sitios": 14], document: Document(kind: .other, uri: "s3://d/sgc-dc-03.pdf"), amount: .bolivianos(5_658))
            try await sender.publishConfirmed([try CommandSender.message(change)])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.prefactura-issued") == 4 })
            let latest = Dictionary(events.decoded(PrefacturaIssued.self).map { ($0.data.workOrderId, $0.data) }, uniquingKeysWith: { $1 })
            let priced = try #require(latest["WO-unpriced"])
            let rescoped = try #require(latest["WO-scope"])
            #expect(priced.amount == .bolivianos(1_200) && priced.lines == lines && priced.corrects == unpriced.prefacturaId && priced.needsPricing == nil)
            #expect(rescoped.amount == .bolivianos(5_658) && rescoped.corrects == drafts["WO-scope"]?.prefacturaId)
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM approval.prefacturas WHERE state = 'pending'")) == 2
            })
            try await sender.publishConfirmed([
                try CommandSender.message(ReviewPrefactura(prefacturaId: priced.prefacturaId, decision: .approve, by: "carla.rocha")),
                try CommandSender.message(ReviewPrefactura(prefacturaId: rescoped.prefacturaId, decision: .approve, by: "carla.rocha")),
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.invoice-issued") == 2 })
            let invoices = Dictionary(uniqueKeysWithValues: events.decoded(InvoiceIssued.self).map { ($0.data.workOrderId, $0.data) })
            #expect(invoices["WO-unpriced"]?.amount == .bolivianos(1_200))
            #expect(invoices["WO-scope"]?.amount == .bolivianos(5_658))
            #expect(events.count("command.rejected") == 1)
        }
    }
}
