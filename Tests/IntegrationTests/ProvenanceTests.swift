import AMQP
import Contracts
import Foundation
import Runtime
import Testing

/// Who may publish what (DESIGN.md "Provenance"): the broker refuses an event type a user does
/// not own on `ot.events` (topic permissions), and a consumer refuses — dead-letters as
/// `forbidden` — an event that reaches its queue from a user that does not own its type (through
/// the default exchange, or from a user without topic permissions) or that carries no `user_id`.
@Suite("provenance: forged events are refused", .serialized)
struct ProvenanceTests {
    /// An event as `service` publishes it, with `user_id` = `user` (nil: none).
    static func event<E: Event>(_ e: E, id: String = MessageID.new(), user: String?, correlationId: String? = nil) throws -> OutgoingMessage {
        let envelope = Envelope(id: id, source: "/ot/\(user ?? "unknown")", correlationId: correlationId, causationId: nil, data: e)
        var m = try EnvelopeCodec.outgoing(envelope, appId: user ?? "unknown")
        m.properties.userId = user
        return m
    }

    /// Every dead letter of a queue (taken off it).
    static func deadLetters(_ queue: String, on conn: AMQPConnection, atLeast n: Int) async -> [FetchedMessage] {
        var dead: [FetchedMessage] = []
        _ = await eventually(timeout: .seconds(30), every: .milliseconds(200)) {
            while let m = try? await conn.get(queue: queue) {
                conn.ack(m.delivery)
                dead.append(m)
            }
            return dead.count >= n
        }
        return dead
    }

    static func header(_ m: FetchedMessage, _ name: String) -> String? { m.delivery.properties.headers[name]?.stringValue }

    @Test func theBrokerRefusesAnEventTypeFromAUserThatDoesNotOwnIt() async throws {
        try await withTestSystem("prov-topic") { system in
            let tap = try await EventTap(system: system, queue: "test.provenance")
            let commercial = try await system.connect("commercial")

            var invoice = InvoiceIssued.example
            invoice.workOrderId = "WO-prov-forged"
            let forged = try Self.event(invoice, id: "forged-invoice", user: "commercial")
            var refusal: String?
            do {
                let outcome = try await commercial.publish(forged)
                if outcome != .confirmed { refusal = "\(outcome)" }
            } catch {
                refusal = "\(error)"
            }
            #expect(refusal != nil, "the broker confirmed a billing.invoice-issued published by commercial")
            #expect(refusal?.contains("ACCESS_REFUSED") == true || refusal?.contains("403") == true, "refused by the topic permissions: \(refusal ?? "")")

            // The connection recovers (a new channel, or a reconnect) and what commercial owns goes through.
            var opened = WorkOrderOpened.example
            opened.workOrderId = "WO-prov-allowed"
            let allowed = try Self.event(opened, id: "allowed-opened", user: "commercial")
            var outcome: PublishOutcome?
            var lastError = ""
            let published = await eventually(timeout: .seconds(30), every: .milliseconds(200)) {
                do {
                    outcome = try await commercial.publish(allowed)
                } catch {
                    lastError = "\(error)"
                }
                return outcome == .confirmed
            }
            #expect(published, "workorder.opened from commercial after the refusal: \(outcome.map { "\($0)" } ?? lastError)")
            #expect(await eventually(timeout: .seconds(10)) { tap.count(WorkOrderOpened.type) == 1 })
            try await Task.sleep(for: .seconds(1))
            #expect(tap.count(InvoiceIssued.type) == 0, "no forged invoice reached a consumer")
        }
    }

    @Test func aForgedPaymentOpensNoWorkOrderAndThePaymentBillingPublishesDoes() async throws {
        try await withTestSystem("prov-forged") { system in
            let commercialService = try system.start("commercial")
            let billingService = try system.start("billing")
            try await commercialService.waitUntilReady()
            try await billingService.waitUntilReady()
            let tap = try await EventTap(system: system, queue: "test.provenance")
            let sender = try await system.sender()
            let inspector = try await system.connect("inspector")

            // A real pending pole move: requested, charged by billing.
            let requester = Payer(name: "Juana Condori", idNumber: "6655443")
            try await sender.publishConfirmed([
                try CommandSender.message(RequestPoleMove(requester: requester, address: "Calle Sucre 45", isExistingCustomer: false), id: "pm-prov")
            ])
            #expect(await eventually(timeout: .seconds(30)) { tap.count(ChargeCreated.type) == 1 })
            let charge = try #require(tap.events(ChargeCreated.type).first?.data)
            let chargeId = try #require(charge.chargeId)
            let amount = try #require(charge.amount)
            #expect(try await eventually(timeout: .seconds(30)) {
                try await system.count("SELECT count(*)::int8 FROM commercial.pole_move_requests WHERE state = 'charged'") == 1
            }, "commercial knows the charge")

            // Forged payments of that very charge: as dispatch straight into commercial's queue
            // (claiming to re-publish for billing), and as guest on ot.events.
            let paid = ChargePaid(chargeId: chargeId, amount: amount, receipt: "FORGED-1")
            var viaDefault = try Self.event(paid, id: "forged-by-dispatch", user: "dispatch")
            viaDefault.exchange = ""
            viaDefault.routingKey = "commercial.events"
            viaDefault.properties.headers[Provenance.userHeader] = .string("billing")
            let dispatch = try await system.connect("dispatch")
            #expect(try await dispatch.publish(viaDefault) == .confirmed, "the broker lets dispatch use the default exchange")
            let guest = try await system.connect("forger", as: nil)
            #expect(try await guest.publish(try Self.event(paid, id: "forged-by-guest", user: "guest")) == .confirmed)

            let dead = await Self.deadLetters("commercial.dead", on: inspector, atLeast: 2)
            let codes = Dictionary(dead.map { ($0.delivery.properties.messageId ?? "?", Self.header($0, Headers.deadCode) ?? "?") }, uniquingKeysWith: { a, _ in a })
            #expect(codes == ["forged-by-dispatch": "forbidden", "forged-by-guest": "forbidden"], "dead letters: \(codes)")
            for m in dead {
                #expect(Self.header(m, Headers.deadReason)?.contains("does not own") == true, "\(Self.header(m, Headers.deadReason) ?? "")")
            }
            try await Task.sleep(for: .seconds(1))
            #expect(tap.count(WorkOrderOpened.type) == 0, "no OT from a forged payment")
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.pole_move_requests WHERE state = 'charged'") == 1)

            // The cashier takes the payment; billing publishes billing.charge-paid; the OT opens.
            try await sender.publishConfirmed([
                try CommandSender.message(RecordPayment(chargeId: chargeId, amount: amount, receipt: "CAJA-PROV-1"), id: "pay-prov")
            ])
            #expect(await eventually(timeout: .seconds(30)) { tap.count(WorkOrderOpened.type) == 1 })
            let real = try #require(tap.events(ChargePaid.type).first { $0.service == "billing" && $0.causationid == "pay-prov" })
            let opened = try #require(tap.events(WorkOrderOpened.type).first)
            #expect(opened.data?.kind == WorkOrderKind.poleMove.rawValue)
            #expect(opened.causationid == real.id, "opened by the payment billing published")
            try await Task.sleep(for: .seconds(1))
            #expect(tap.count(WorkOrderOpened.type) == 1)
            #expect(tap.count(CommandRejected.type) == 0)
            #expect(try await inspector.queueStatus("commercial.dead").messages == 0, "nothing else dead-lettered")
            #expect(commercialService.isRunning && billingService.isRunning)
        }
    }

    @Test func anEventWithoutUserIdIsDeadLetteredAsForbidden() async throws {
        try await withTestSystem("prov-anonymous") { system in
            let service = try system.start("commercial")
            try await service.waitUntilReady()
            let tap = try await EventTap(system: system, queue: "test.provenance")
            let sender = try await system.sender()
            let inspector = try await system.connect("inspector")
            try await sender.publishConfirmed([try CommandSender.message(openCommand(1, run: "prov"))])
            #expect(await eventually(timeout: .seconds(30)) { tap.count(WorkOrderOpened.type) == 1 })

            // workorder.closed for that OT, without user_id: refused.
            var closed = WorkOrderClosed.example
            closed.workOrderId = "WO-prov-1"
            let guest = try await system.connect("anonymous", as: nil)
            #expect(try await guest.publish(try Self.event(closed, id: "closed-anonymous", user: nil)) == .confirmed)
            let dead = await Self.deadLetters("commercial.dead", on: inspector, atLeast: 1)
            #expect(dead.count == 1)
            let letter = try #require(dead.first)
            #expect(letter.delivery.properties.messageId == "closed-anonymous")
            #expect(Self.header(letter, Headers.deadCode) == "forbidden")
            #expect(Self.header(letter, Headers.deadReason)?.contains("user_id") == true, "\(Self.header(letter, Headers.deadReason) ?? "")")
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.work_orders WHERE id = 'WO-prov-1' AND state = 'opened'") == 1)

            // The same fact from its owner is applied.
            try await sender.publishConfirmed([try Self.event(closed, id: "closed-by-dispatch", user: "dispatch")])
            #expect(try await eventually(timeout: .seconds(30)) {
                try await system.count("SELECT count(*)::int8 FROM commercial.work_orders WHERE id = 'WO-prov-1' AND state = 'closed'") == 1
            })
            #expect(tap.count(CommandRejected.type) == 0, "an event is dead-lettered, not answered with command.rejected")
            #expect(service.isRunning)
        }
    }
}
