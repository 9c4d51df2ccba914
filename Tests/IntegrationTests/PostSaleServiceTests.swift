import AMQP
import Contracts
import Foundation
import PostSale
import Runtime
import Testing

/// The post-sale service end to end against a real RabbitMQ and PostgreSQL, the service as its own
/// process: contracts, the request state machine and the flows' rules, as the CRM, the operations
/// center and billing would drive them (each message published by the user allowed to).
@Suite("post-sale service against RabbitMQ and PostgreSQL", .serialized)
struct PostSaleServiceTests {
    static let customer = Customer(
        id: "C-5531", name: "Importadora Illimani S.R.L.", taxId: "2849301015", sector: .private, segment: .pyme, country: .bo)
    static let letter = Document(kind: .requestLetter, uri: "s3://ot-docs/C-5531/carta.pdf")

    static func products(_ run: String) -> [ContractProduct] {
        [
            ContractProduct(id: "LIN-\(run)", type: .line, monthly: .bolivianos(70), installedOn: Day(2021, 3, 1)!, technology: .copper),
            ContractProduct(id: "INT-\(run)", type: .internet, monthly: .bolivianos(349), installedOn: Day(2021, 3, 1)!, technology: .copper),
            ContractProduct(id: "TV-\(run)", type: .tv, monthly: .bolivianos(120), installedOn: Day(2022, 8, 15)!, technology: .copper),
            ContractProduct(id: "MPK-\(run)", type: .multipack, monthly: .bolivianos(450), installedOn: Day(2024, 6, 3)!, technology: .fiber),
        ]
    }

    static func register(_ run: String, permanenceUntil: Day? = nil) -> RegisterContract {
        RegisterContract(
            contractId: "CT-\(run)", customer: customer, products: products(run), minimumPermanenceUntil: permanenceUntil,
            earlyTerminationPenalty: .bolivianos(900))
    }

    static func request(_ id: String, _ run: String, _ flow: PostSaleFlow, _ details: JSONObject, documents: [Document] = [letter], channel: String = "email") -> RequestPostSale {
        RequestPostSale(
            requestId: id, flow: flow, customer: customer, contractId: "CT-\(run)", products: [], channel: channel, details: details,
            documents: documents)
    }

    static func start(_ system: TestSystem, environment: [String: String] = [:]) async throws -> (ServiceProcess, EventCollector, CommandSender) {
        let service = try system.start("postsale", environment: environment)
        try await service.waitUntilReady()
        let events = try await EventCollector(system: system, keys: ["postsale.#", "contract.#", "billing.#", "command.rejected"])
        return (service, events, try await system.sender())
    }

    static func send<M: Message>(_ sender: CommandSender, _ message: M, id: String = UUID().uuidString.lowercased()) async throws {
        try await sender.publishConfirmed([try CommandSender.message(message, id: id)])
    }

    /// A queue of the test on `ot.commands` for the commands post-sale sends (`workorder.open`, `damage.report`).
    static func commandTap(_ system: TestSystem) async throws -> AMQPConnection {
        let conn = try await system.connect("command-tap")
        try await conn.declare(
            Topology(
                queues: [.quorum("test.commands")],
                bindings: ["workorder.open", "damage.report"].map { .init(queue: "test.commands", exchange: PlatformTopology.commands, routingKey: $0) }))
        return conn
    }

    static func tapped(_ conn: AMQPConnection) async -> [DecodedMessage] {
        var out: [DecodedMessage] = []
        while let m = try? await conn.get(queue: "test.commands") {
            if let d = try? MessageRegistry.decode(Data(m.delivery.body)) { out.append(d) }
        }
        return out
    }

    static func rejected(_ events: EventCollector, _ requestId: String) -> PostSaleRequestRejected? {
        events.decoded(PostSaleRequestRejected.self).first { $0.data.requestId == requestId }?.data
    }

    /// Waits until the request was received (commands about it sent before could be parked and
    /// re-run in another order: a CRM sends them as the request moves on).
    static func received(_ events: EventCollector, _ ids: String...) async -> Bool {
        await eventually(timeout: .seconds(30)) {
            let seen = Set(events.decoded(PostSaleRequestReceived.self).map(\.data.requestId))
            return ids.allSatisfy(seen.contains)
        }
    }

    static func qualityDue(_ events: EventCollector, _ requestId: String) -> Bool {
        events.decoded(PostSaleQualityCheckRequested.self).contains { $0.data.requestId == requestId }
    }

    @Test func aSuspensionIsAcceptedOnceAYearAndEveryBrokenRuleIsACaseOutcomeOrACommandRejection() async throws {
        try await withTestSystem("ps-susp") { system in
            let (service, events, sender) = try await Self.start(system)
            let run = "s1"
            let today = Day(Date())
            // January of next year; the second suspension that year comes after the first has ended.
            let from = Day(today.year + 1, 1, 1)!
            // Registered twice: the second is a redelivery of the same terms.
            try await Self.send(sender, Self.register(run))
            try await Self.send(sender, Self.register(run))
            #expect(await eventually(timeout: .seconds(30)) { events.count("contract.registered") >= 1 })

            try await Self.send(sender, Self.request("PV-1", run, .suspension, ["from": .string("\(from)"), "to": .string("\(from.adding(months: 4))"), "productIds": [.string("LIN-\(run)"), .string("TV-\(run)")]]))
            #expect(await eventually(timeout: .seconds(30)) { events.count("postsale.service-suspended") >= 1 })
            try await Self.send(sender, Self.request("PV-2", run, .suspension, ["from": .string("\(Day(from.year, 6, 1)!)"), "to": .string("\(Day(from.year, 6, 10)!)")]))
            try await Self.send(sender, Self.request("PV-3", "nobody", .suspension, ["from": .string("\(from)"), "to": .string("\(from)")]))
            try await Self.send(sender, Self.request("PV-4", run, .suspension, [:], documents: []))
            try await Self.send(sender, Self.request("PV-5", run, .callDetail, [
                "lineId": .string("LIN-\(run)"), "carrier": "comteco",
                "months": [.string("\(today.yearMonth.adding(months: -2))"), .string("\(today.yearMonth.adding(months: -1))"), .string("\(today.yearMonth)")],
            ]))
            try await Self.send(sender, Self.request("PV-6", run, .supplementaryService, ["productId": "NOPE", "service": "callerId", "action": "enable"]))
            // Bad input: a channel outside the contract's list, and a quality check before its time.
            try await Self.send(sender, Self.request("PV-7", run, .suspension, ["from": .string("\(from)"), "to": .string("\(from)")], channel: "fax"), id: "bad-channel")
            #expect(await Self.received(events, "PV-4"))
            try await Self.send(sender, RecordPostSaleQualityCheck(requestId: "PV-4", ok: true), id: "early-check")

            #expect(await eventually(timeout: .seconds(30)) {
                events.count("postsale.request-rejected") >= 3 && events.count("command.rejected") >= 2
                    && events.count("postsale.request-requirements-missing") >= 1 && events.count("billing.recurring-charge-added") >= 1
            })
            try await Task.sleep(for: .seconds(1))
            let suspended = try #require(events.decoded(ServiceSuspended.self).first?.data)
            #expect(suspended.requestId == "PV-1")
            #expect(suspended.productIds == ["LIN-\(run)", "TV-\(run)"])
            #expect(suspended.to == from.adding(months: 4))
            #expect(events.count("postsale.service-suspended") == 1)
            #expect(Self.qualityDue(events, "PV-1"))
            #expect(Self.rejected(events, "PV-2")?.code == "suspensionAlreadyThisYear")
            #expect(Self.rejected(events, "PV-3")?.code == "unknownContract")
            #expect(Self.rejected(events, "PV-6")?.code == "unknownProduct")
            let missing = try #require(events.decoded(PostSaleRequirementsMissing.self).first { $0.data.requestId == "PV-4" }?.data)
            #expect(missing.missing == ["requestLetter", "details.from", "details.to"])
            let fee = try #require(events.decoded(RecurringChargeAdded.self).first { $0.data.requestId == "PV-5" }?.data)
            #expect(fee.amount == Money(minor: 2_400, currency: .bob))
            #expect(fee.productId == "LIN-\(run)")
            let rejections = Dictionary(uniqueKeysWithValues: events.decoded(CommandRejected.self).map { ($0.data.commandId, $0.data) })
            #expect(rejections.count == 2, "a case outcome is never also a command.rejected")
            #expect(rejections["bad-channel"]?.code == "validation")
            #expect(rejections["bad-channel"]?.errors.map(\.field) == ["data.channel"])
            #expect(rejections["early-check"]?.code == "invalidTransition")

            // The quality-control call completes PV-1; the products stay suspended until the end date.
            try await Self.send(sender, RecordPostSaleQualityCheck(requestId: "PV-1", ok: true, notes: "conforme"))
            #expect(await eventually(timeout: .seconds(30)) { events.count("postsale.request-completed") >= 1 })
            let done = try #require(events.decoded(PostSaleRequestCompleted.self).first?.data)
            #expect(done.requestId == "PV-1" && done.qualityOk)
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.requests WHERE state = 'completed'") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.requests WHERE state = 'rejected'") == 3)
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.requests WHERE id = 'PV-7'") == 0)
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.contracts") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.outbox") == 0)
            // Every end records an interaction; the contract's history shows the suspension.
            #expect(try await system.count("SELECT count(DISTINCT request_id)::int8 FROM postsale.interactions WHERE request_id IN ('PV-1', 'PV-2', 'PV-3', 'PV-6')") == 4)
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.contract_history WHERE contract_id = 'CT-s1' AND action = 'suspension'") == 1)
            var dead = 0
            let conn = try await system.connect("dead-reader")
            _ = await eventually(timeout: .seconds(10)) {
                while (try? await conn.get(queue: "postsale.dead")) != nil { dead += 1 }
                return dead >= 2
            }
            #expect(dead == 2)
            #expect(service.isRunning)
        }
    }

    @Test func suspendedProductsComeBackByThemselvesAtTheEndDateOnceAcrossARestart() async throws {
        try await withTestSystem("ps-reconnect") { system in
            let (service, events, sender) = try await Self.start(system)
            let run = "r1"
            let today = Day(Date())
            try await Self.send(sender, Self.register(run))
            try await Self.send(sender, Self.request("PV-1", run, .suspension, [
                "from": .string("\(today.adding(days: -3))"), "to": .string("\(today)"),
                "productIds": [.string("LIN-\(run)"), .string("TV-\(run)"), .string("MPK-\(run)")],
            ]))
            #expect(await eventually(timeout: .seconds(30)) { events.count("postsale.service-suspended") >= 1 })
            #expect(await eventually(timeout: .seconds(10)) {
                (try? await system.count("SELECT count(*)::int8 FROM postsale.products WHERE state = 'suspended'")) == 3
            })
            _ = await service.terminate()
            // Two days later by the service clock: the end date has passed while it was down.
            let later = try system.start("postsale", environment: ["CLOCK_OFFSET_SECONDS": "172800"])
            try await later.waitUntilReady()
            #expect(await eventually(timeout: .seconds(30)) { events.count("postsale.service-reconnected") >= 1 })
            try await Task.sleep(for: .seconds(2))
            #expect(events.count("postsale.service-reconnected") == 1)
            let back = try #require(events.decoded(ServiceReconnected.self).first?.data)
            #expect(back.requestId == "PV-1")
            #expect(back.on == today.adding(days: 1))
            let how = Dictionary(uniqueKeysWithValues: back.products.map { ($0.id, $0.how) })
            #expect(how == ["LIN-\(run)": .automatic, "TV-\(run)": .within24h, "MPK-\(run)": .automatic])
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.products WHERE state = 'suspended'") == 0)
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.timers") == 0)
        }
    }

    @Test func aTransferWaitsForFeasibilityOpensItsOTAndMovesTheProductsOnlyWhenTheOTCloses() async throws {
        try await withTestSystem("ps-transfer") { system in
            let (_, events, sender) = try await Self.start(system)
            let tap = try await Self.commandTap(system)
            let run = "t1"
            try await Self.send(sender, Self.register(run))
            try await Self.send(sender, Self.request("PV-T1", run, .transfer, ["productIds": [.string("INT-\(run)")], "newAddress": "Av. América 500", "technologyChange": false]))
            try await Self.send(sender, Self.request("PV-T2", run, .transfer, ["productIds": [.string("LIN-\(run)")], "newAddress": "Calle Sucre 12", "technologyChange": true]))
            #expect(await Self.received(events, "PV-T1", "PV-T2"))
            try await Self.send(sender, RecordFeasibility(requestId: "PV-T1", feasible: true, notes: "NAP con puertos"))
            try await Self.send(sender, RecordFeasibility(requestId: "PV-T2", feasible: false, notes: "sin red en la zona"))
            #expect(await eventually(timeout: .seconds(30)) {
                events.count("billing.recurring-charge-added") >= 1 && Self.rejected(events, "PV-T2") != nil
            })
            #expect(Self.rejected(events, "PV-T2")?.code == "notFeasible")
            #expect(events.decoded(RecurringChargeAdded.self).first?.data.amount == Tariff().transfer)
            var commands: [DecodedMessage] = []
            _ = await eventually(timeout: .seconds(10)) {
                commands += await Self.tapped(tap)
                return !commands.isEmpty
            }
            let open = try #require(commands.compactMap { $0.message as? OpenWorkOrder }.first)
            #expect(open.kind == .transfer)
            #expect(open.workOrderId == "PS-PV-T1")
            #expect(commands.count == 1, "no OT for the infeasible transfer")
            // The old address stays until the installation OT is closed.
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.products WHERE address IS NOT NULL") == 0)
            #expect(!Self.qualityDue(events, "PV-T1"))
            try await Self.send(
                sender, WorkOrderClosed(workOrderId: "PS-PV-T1", kind: .transfer, customer: Self.customer, outcome: .resolved, closedAt: Date()))
            #expect(await eventually(timeout: .seconds(30)) { Self.qualityDue(events, "PV-T1") })
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.products WHERE product_id = 'INT-\(run)' AND address = 'Av. América 500'") == 1)
            let moved = events.decoded(ContractProductChanged.self).filter { $0.data.change == .moved }
            #expect(moved.map(\.data.product.id) == ["INT-\(run)"])
        }
    }

    @Test func aWithdrawalInsideThePermanencePaysThePenaltyAndWaitsForTheOpenOTOnItsProduct() async throws {
        try await withTestSystem("ps-withdraw") { system in
            let (_, events, sender) = try await Self.start(system)
            let tap = try await Self.commandTap(system)
            let run = "w1"
            let today = Day(Date())
            try await Self.send(sender, Self.register(run, permanenceUntil: today.adding(months: 6)))
            // L: a support visit the analyst cannot fix remotely opens an OT on the Multipack.
            try await Self.send(sender, Self.request("PV-L", run, .supportVisit, ["productId": .string("MPK-\(run)")], documents: []))
            #expect(await Self.received(events, "PV-L"))
            try await Self.send(sender, RecordDiagnosis(requestId: "PV-L", remoteFix: false, findings: "ONT sin señal óptica"))
            // H: the Multipack withdrawn inside the minimum permanence.
            try await Self.send(sender, Self.request("PV-H", run, .withdrawal, ["productIds": [.string("MPK-\(run)")], "requestDate": .string("\(today)"), "reason": "cierre"]))
            #expect(await Self.received(events, "PV-H"))
            try await Self.send(sender, RecordRetention(requestId: "PV-H", accepted: true), id: "no-retention-inside")
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 1 })
            try await Self.send(sender, RecordPenaltyDecision(requestId: "PV-H", accepted: true))
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.charge-requested") >= 1 })
            try await Self.send(sender, RecordEquipment(requestId: "PV-H", complete: false, damaged: false, notes: "falta el control remoto"))
            #expect(await eventually(timeout: .seconds(30)) {
                events.count("billing.charge-requested") >= 1 && events.count("billing.recurring-charge-added") >= 1 && events.count("command.rejected") >= 1
            })
            try await Task.sleep(for: .seconds(1))
            let penalty = try #require(events.decoded(ChargeRequested.self).first?.data)
            #expect(penalty.amount == .bolivianos(900))
            #expect(penalty.payer.idNumber == Self.customer.taxId)
            #expect(events.decoded(RecurringChargeAdded.self).first?.data.amount == Tariff().equipmentNotReturned)
            #expect(events.decoded(CommandRejected.self).first?.data.code == "invalidTransition", "no retention step inside the permanence")
            // The visit's OT is still open: the product is not withdrawn yet.
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.products WHERE state = 'withdrawn'") == 0)
            #expect(!Self.qualityDue(events, "PV-H"))
            var commands: [DecodedMessage] = []
            _ = await eventually(timeout: .seconds(10)) {
                commands += await Self.tapped(tap)
                return !commands.isEmpty
            }
            #expect(commands.compactMap { ($0.message as? OpenWorkOrder)?.kind } == [.visit])
            try await Self.send(sender, WorkOrderClosed(workOrderId: "PS-PV-L", kind: .visit, customer: Self.customer, outcome: .resolved, closedAt: Date()))
            #expect(await eventually(timeout: .seconds(30)) { Self.qualityDue(events, "PV-H") && Self.qualityDue(events, "PV-L") })
            let withdrawn = try #require(events.decoded(ContractProductChanged.self).first { $0.data.change == .withdrawn }?.data)
            #expect(withdrawn.product.id == "MPK-\(run)")
            #expect(withdrawn.on == today)
            #expect(withdrawn.requestId == "PV-H")
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.products WHERE state = 'withdrawn'") == 1)
            for id in ["PV-H", "PV-L"] { try await Self.send(sender, RecordPostSaleQualityCheck(requestId: id, ok: true)) }
            #expect(await eventually(timeout: .seconds(30)) { events.count("postsale.request-completed") >= 2 })
        }
    }

    @Test func internetDamageIsDiagnosedRemotelyFirstAndOtherDamageGoesToThePriorityService() async throws {
        try await withTestSystem("ps-damage") { system in
            let (_, events, sender) = try await Self.start(system)
            let tap = try await Self.commandTap(system)
            let run = "d1"
            try await Self.send(sender, Self.register(run))
            let details = { (p: String) -> JSONObject in
                ["productId": .string(p), "fault": "sin servicio", "address": "Av. Heroínas 100", "referencePhone": "+591 70000000"]
            }
            try await Self.send(sender, Self.request("PV-E1", run, .damage, details("INT-\(run)"), documents: []))
            try await Self.send(sender, Self.request("PV-E2", run, .damage, details("TV-\(run)"), documents: []))
            #expect(await Self.received(events, "PV-E1"))
            try await Self.send(sender, RecordDiagnosis(requestId: "PV-E1", remoteFix: true, findings: "canal wifi saturado"))
            #expect(await eventually(timeout: .seconds(30)) { Self.qualityDue(events, "PV-E1") })
            try await Self.send(sender, RecordPostSaleQualityCheck(requestId: "PV-E1", ok: true))
            #expect(await eventually(timeout: .seconds(30)) { events.count("postsale.request-completed") >= 1 && Self.qualityDue(events, "PV-E2") })
            let completed = try #require(events.decoded(PostSaleRequestCompleted.self).first?.data)
            #expect(completed.requestId == "PV-E1")
            #expect(completed.reason == "infundado")
            var commands: [DecodedMessage] = []
            _ = await eventually(timeout: .seconds(10)) {
                commands += await Self.tapped(tap)
                return !commands.isEmpty
            }
            let damages = commands.compactMap { $0.message as? ReportDamage }
            #expect(damages.map(\.product) == [ProductRef(id: "TV-\(run)", type: .tv)], "the remotely fixed internet damage opens no OT")
            #expect(damages.first?.referencePhone == "+591 70000000")
            #expect(damages.first?.reporter?.idNumber == Self.customer.taxId)
        }
    }

    @Test func everyOtherFlowReachesItsEndAndEveryProcedureCodeComesAsACaseOutcome() async throws {
        try await withTestSystem("ps-flows") { system in
            let (_, events, sender) = try await Self.start(system)
            let today = Day(Date())
            try await Self.send(sender, Self.register("o1"))
            try await Self.send(sender, Self.register("o2", permanenceUntil: today.adding(months: 6)))
            #expect(await eventually(timeout: .seconds(30)) { events.count("contract.registered") >= 2 })
            func due(_ id: String) async -> Bool { await eventually(timeout: .seconds(30)) { Self.qualityDue(events, id) } }
            func turnedDown(_ id: String) async -> String? {
                _ = await eventually(timeout: .seconds(30)) { Self.rejected(events, id) != nil }
                return Self.rejected(events, id)?.code
            }
            func changed(_ id: String, _ change: ProductChange) -> ContractProductChanged? {
                events.decoded(ContractProductChanged.self).first { $0.data.requestId == id && $0.data.change == change }?.data
            }

            // A: Caller ID enabled; its fee goes on the next recurring invoice.
            try await Self.send(sender, Self.request("PV-A", "o1", .supplementaryService, ["productId": "LIN-o1", "service": "callerId", "action": "enable"]))
            #expect(await due("PV-A"))
            #expect(events.decoded(RecurringChargeAdded.self).first { $0.data.requestId == "PV-A" }?.data.amount == Tariff().supplementaryService)
            #expect(changed("PV-A", .servicesChanged)?.details?["services"] == ["callerId"])

            // B: a higher plan, from today.
            try await Self.send(sender, Self.request("PV-B", "o1", .planChange, ["productId": "INT-o1", "newPlan": "Fibra 200", "newMonthly": ["minor": 44_900, "currency": "BOB"]]))
            #expect(await due("PV-B"))
            let plan = try #require(changed("PV-B", .planChanged))
            #expect(plan.product.monthly == .bolivianos(449) && plan.on == today)

            // F: a new claim goes to UTAR; the client is not satisfied once, then is.
            let claim: JSONObject = ["month": .string("\(today.yearMonth.adding(months: -1))"), "claim": "cobro duplicado"]
            try await Self.send(sender, Self.request("PV-F1", "o1", .billingClaim, claim, documents: []))
            #expect(await Self.received(events, "PV-F1"))
            try await Self.send(sender, RecordClaimResolution(requestId: "PV-F1", resolution: "se anula un cobro"))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM postsale.requests WHERE id = 'PV-F1' AND step = 'clientDecision'")) == 1
            })
            try await Self.send(sender, RecordClientDecision(requestId: "PV-F1", accepted: false, notes: "quiere la nota de crédito"))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM postsale.requests WHERE id = 'PV-F1' AND step = 'claimResolution' AND results->>'escalations' = '1'")) == 1
            })
            try await Self.send(sender, RecordClaimResolution(requestId: "PV-F1", resolution: "nota de crédito emitida"))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM postsale.requests WHERE id = 'PV-F1' AND step = 'clientDecision'")) == 1
            })
            try await Self.send(sender, RecordClientDecision(requestId: "PV-F1", accepted: true))
            #expect(await due("PV-F1"))
            // A second call about the same month: the attended claim's resolution is informed.
            try await Self.send(sender, Self.request("PV-F2", "o1", .billingClaim, claim, documents: []))
            #expect(await Self.received(events, "PV-F2"))
            try await Self.send(sender, RecordClientDecision(requestId: "PV-F2", accepted: true))
            #expect(await due("PV-F2"))

            // I: a pending proforma, a promise to pay; the payment ends the follow-up.
            let proforma = ProformaIssued(
                proformaId: "PRF-o1", contractId: "CT-o1", month: today.yearMonth,
                lines: [ProformaLine(productId: "INT-o1", description: "Internet", amount: .bolivianos(349))], total: .bolivianos(349),
                dueBy: today.adding(days: 10))
            try await Self.send(sender, proforma)
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM postsale.contracts WHERE id = 'CT-o1' AND unpaid_proformas = 1")) == 1
            })
            try await Self.send(sender, Self.request("PV-I", "o1", .collection, ["month": .string("\(today.yearMonth)"), "promisedBy": .string("\(today.adding(days: 3))")], documents: []))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM postsale.requests WHERE id = 'PV-I' AND step = 'promisedPayment'")) == 1
            })
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.timers WHERE name = 'collection.recheck'") == 1)
            try await Self.send(sender, ProformaPaid(proformaId: "PRF-o1", contractId: "CT-o1", amount: .bolivianos(349), receipt: "R-9"))
            #expect(await due("PV-I"))
            #expect(try await system.count("SELECT count(*)::int8 FROM postsale.timers WHERE name = 'collection.recheck'") == 0)

            // J: services work; K: a fiber migration with surplus cable the client accepts.
            try await Self.send(sender, Self.request("PV-J", "o1", .loyaltyCall, [:], documents: []))
            #expect(await due("PV-J"))
            try await Self.send(sender, Self.request("PV-K", "o1", .preventiveCheck, ["finding": "fiberMigration", "productId": "INT-o1", "surplusCable": ["minor": 30_000, "currency": "BOB"]], documents: []))
            #expect(await Self.received(events, "PV-K"))
            try await Self.send(sender, RecordFeasibility(requestId: "PV-K", feasible: true))
            #expect(await eventually(timeout: .seconds(30)) {
                (try? await system.count("SELECT count(*)::int8 FROM postsale.requests WHERE id = 'PV-K' AND step = 'clientDecision'")) == 1
            })
            try await Self.send(sender, RecordClientDecision(requestId: "PV-K", accepted: true))
            #expect(await due("PV-K"))
            #expect(events.decoded(RecurringChargeAdded.self).first { $0.data.requestId == "PV-K" }?.data.amount == .bolivianos(300))

            // D: a running suspension, ended early by a reconnection request.
            try await Self.send(sender, Self.request("PV-S", "o1", .suspension, [
                "from": .string("\(today.adding(days: -5))"), "to": .string("\(today.adding(days: 20))"), "productIds": ["LIN-o1", "TV-o1"],
            ]))
            #expect(await due("PV-S"))
            try await Self.send(sender, Self.request("PV-R", "o1", .reconnection, [:], documents: []))
            #expect(await due("PV-R"))
            let back = try #require(events.decoded(ServiceReconnected.self).first?.data)
            #expect(back.requestId == "PV-R" && back.on == today)
            #expect(Dictionary(uniqueKeysWithValues: back.products.map { ($0.id, $0.how) }) == ["LIN-o1": .automatic, "TV-o1": .within24h])

            // The procedure's own answers.
            try await Self.send(sender, Self.request("PV-X1", "o2", .suspension, ["from": .string("\(Day(today.year + 1, 3, 1)!)"), "to": .string("\(Day(today.year + 1, 7, 2)!)")]))
            #expect(await turnedDown("PV-X1") == "suspensionTooLong")
            try await Self.send(sender, Self.request("PV-X2", "o1", .withdrawal, ["productIds": ["TV-o1"], "requestDate": .string("\(today)"), "reason": "no la usa"]))
            #expect(await Self.received(events, "PV-X2"))
            try await Self.send(sender, RecordRetention(requestId: "PV-X2", accepted: true, offer: "tres meses gratis"))
            #expect(await turnedDown("PV-X2") == "retained")
            try await Self.send(sender, Self.request("PV-X3", "o2", .withdrawal, ["productIds": ["TV-o2"], "requestDate": .string("\(today)"), "reason": "no la usa"]))
            #expect(await Self.received(events, "PV-X3"))
            try await Self.send(sender, RecordPenaltyDecision(requestId: "PV-X3", accepted: false))
            #expect(await turnedDown("PV-X3") == "penaltyRefused")
            try await Self.send(sender, Self.request("PV-X4", "o2", .planChange, ["productId": "INT-o2"], documents: []))
            #expect(await Self.received(events, "PV-X4"))
            try await Self.send(sender, AbandonPostSale(requestId: "PV-X4", reason: "el cliente no envió la carta"))
            #expect(await turnedDown("PV-X4") == "abandoned")
            #expect(events.count("command.rejected") == 0)
            #expect(events.count("postsale.request-rejected") == 4)
        }
    }
}
