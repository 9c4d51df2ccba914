import AMQP
import Contracts
import Foundation
import Runtime
import Testing

/// Thousands of commands from a seeded generator — valid ones and mutated ones (see
/// ``CommandMutator``) mixed in the same bursts, so that they share batches — sent to the five
/// running services. Every command must be accounted for: exactly one `command.rejected`
/// naming it (`commandId`) or its effect (an event whose `causationid` is its id), never both,
/// never neither; every unmutated command takes effect; every rejection has its dead letter; and
/// every service still runs at the end.
///
/// Settings: `FUZZ_COUNT` (default 2000), `FUZZ_SEED` (replays the same commands),
/// `FUZZ_BOUND_SECONDS` (how long after the last publish every command must be accounted for,
/// default 60), `FUZZ_KINDS` (only these mutations, comma-separated names of
/// ``CommandMutator/Kind``, e.g. `eventType,nulString`: to look at one defect at a time).
///
/// Defects this test found in the service kit at 8af5401, fixed in 1b013db (`FUZZ_KINDS` replays
/// each class on its own):
/// - `eventType`: a message on `ot.commands` whose envelope names an event type was
///   dead-lettered as `forbidden` without a `command.rejected`.
/// - `nulString` in the envelope `id`, `type` or `correlationid`: the database refused the value
///   again while the message was being rejected, the batch failed as transient, and after
///   `MAX_ATTEMPTS` the command was dead-lettered `retriesExhausted` without a `command.rejected`;
///   its batch-mates were retried with it.
/// - `emptyString` on the envelope `id` (seed 995350081, fixed after d9ea9a1): the command took
///   effect, or was rejected, under a made-up id (`sha-…`), so nobody could trace it; a blank
///   `id` is now `invalidEnvelope`, answered under the AMQP `message_id`.
/// - `oversizedString` on `correlationid`: effects and rejections inherited a 100 KB correlation
///   id that the AMQP `correlation_id` property (at most 255 bytes) cannot carry; every relay
///   round failed ("basic.publish: invalid AMQP data") and the service's outbox was blocked
///   behind that row for good.
@Suite("fuzzing: malformed commands among valid ones", .serialized)
struct FuzzTests {
    static let services = ["commercial", "approval", "dispatch", "billing", "postsale", "priority", "records"]
    /// A command naming an unknown subject is rejected after a short park; a transient failure
    /// gives up (dead letter) after ten attempts instead of sixty.
    static let environment = ["PARK_TIMEOUT_MS": "1000", "MAX_ATTEMPTS": "10"]

    /// What a fuzzed command asks for, and the service that handles it.
    enum Target: String, CaseIterable, Sendable {
        case open, poleMove, changeScope, assign, cancel, payment, approve, attach, reject, contract, postSale, damage, file

        var service: String {
            switch self {
            case .open, .poleMove, .changeScope: "commercial"
            case .assign, .cancel: "dispatch"
            case .payment: "billing"
            case .approve, .attach, .reject: "approval"
            case .contract, .postSale: "postsale"
            case .damage: "priority"
            case .file: "records"
            }
        }

        var type: String {
            switch self {
            case .open: OpenWorkOrder.type
            case .poleMove: RequestPoleMove.type
            case .changeScope: ChangeScope.type
            case .assign: AssignWorkOrder.type
            case .cancel: CancelWorkOrder.type
            case .payment: RecordPayment.type
            case .approve: ApproveWorkOrder.type
            case .attach: AttachDocument.type
            case .reject: RejectWorkOrder.type
            case .contract: RegisterContract.type
            case .postSale: RequestPostSale.type
            case .damage: ReportDamage.type
            case .file: RegisterFile.type
            }
        }

        static let weights: [(Target, Int)] = [
            (.open, 22), (.poleMove, 6), (.changeScope, 8), (.assign, 14), (.cancel, 6), (.payment, 18), (.approve, 12),
            (.attach, 8), (.reject, 6), (.contract, 5), (.postSale, 10), (.damage, 8), (.file, 8),
        ]
    }

    struct Case {
        var index: Int
        var target: Target
        var mutations: [(CommandMutator.Kind, String)]
        var message: OutgoingMessage
        /// The ids the service may name it by.
        var ids: Set<String>
        var isValid: Bool { mutations.isEmpty }
        var label: String {
            "#\(index) \(target.type)" + (isValid ? " (valid)" : ": " + mutations.map(\.1).joined(separator: "; "))
        }
    }

    @Test func everyCommandIsRejectedExactlyOnceOrTakesEffectAndEveryServiceKeepsRunning() async throws {
        let total = TestSetting.int("FUZZ_COUNT", default: 2000)
        let bound = Duration.seconds(TestSetting.int("FUZZ_BOUND_SECONDS", default: 60))
        let seed = SeededGenerator.seed(from: "FUZZ_SEED")
        var rng = SeededGenerator(seed: seed)
        let kinds = ProcessInfo.processInfo.environment["FUZZ_KINDS"].map { $0.split(separator: ",").compactMap { CommandMutator.Kind(rawValue: String($0)) } }
            ?? CommandMutator.Kind.allCases
        try #require(!kinds.isEmpty, "FUZZ_KINDS names none of \(CommandMutator.Kind.allCases.map(\.rawValue))")
        print("[fuzz] \(total) commands, seed \(seed) (FUZZ_SEED=\(seed) replays them)"
            + (kinds.count < CommandMutator.Kind.allCases.count ? ", mutations: \(kinds.map(\.rawValue).joined(separator: ","))" : ""))
        // Targets and mutation counts first: the subjects to prepare follow from them.
        let drawn: [(Target, Int)] = (0..<total).map { _ in
            (rng.weighted(Target.weights), rng.chance(0.3) ? 0 : rng.weighted([(1, 65), (2, 25), (3, 10)]))
        }
        func needed(_ targets: Target...) -> Int { drawn.filter { targets.contains($0.0) }.count }

        try await withTestSystem("fuzz") { system in
            var processes: [String: ServiceProcess] = [:]
            for s in Self.services { processes[s] = try system.start(s, environment: Self.environment) }
            for p in processes.values { try await p.waitUntilReady() }
            let tap = try await EventTap(system: system, queue: "test.fuzz")
            let sender = try await system.sender()
            let start = ContinuousClock.now

            // The subjects the commands name, made known the way the platform would: OTs opened
            // by commercial (scope changes), OTs approved (dispatched: assignments, cancels), OTs
            // opened with a document missing (pending at approval), charges requested (billing).
            let scopePool = (0..<20).map { "WO-fzc-\($0)" }
            let assignPool = (0..<30).map { "WO-fzd-a-\($0)" }
            let cancelPool = (0..<needed(.cancel)).map { "WO-fzd-c-\($0)" }
            let approvalPool = (0..<needed(.approve, .attach, .reject)).map { "WO-fza-\($0)" }
            let requests = (0..<needed(.payment)).map { "FZB-\($0)" }
            var setup: [OutgoingMessage] = []
            for id in scopePool {
                var c = OpenWorkOrder.example
                c.workOrderId = id
                c.dueBy = Date().addingTimeInterval(60 * 86_400)  // a public tender fixes its deadline
                setup.append(try CommandSender.message(c))
            }
            for id in assignPool + cancelPool {
                setup.append(try CommandSender.message(WorkOrderApproved(workOrderId: id, approvedBy: "lucia.mendoza", customer: .example, kind: .project)))
            }
            for id in approvalPool {
                setup.append(
                    try CommandSender.message(
                        WorkOrderOpened(
                            workOrderId: id, number: "OT-BO-2026-\(id)", kind: .project, serviceLine: .csv, customer: .example,
                            documents: [Document(kind: .offer, uri: "s3://ot-docs/\(id)/oferta.pdf")])))
            }
            for (i, r) in requests.enumerated() {
                setup.append(
                    try CommandSender.message(
                        ChargeRequested(
                            requestId: r, amount: Money(minor: 100_000 + Int64(i), currency: .bob),
                            payer: Payer(name: "Pagador \(i)", idNumber: "\(1_000_000 + i)"), reason: "Traslado de poste")))
            }
            // A contract the post-sale requests name.
            var contract = RegisterContract.example
            contract.contractId = "CT-fz"
            setup.append(try CommandSender.message(contract))
            try await sender.publishConfirmed(setup)
            func ids(_ type: String) -> Set<String> { Set(tap.events(type).compactMap { $0.data?.workOrderId ?? $0.data?.requestId }) }
            let ready = await eventually(timeout: .seconds(90), every: .milliseconds(200)) {
                ids(WorkOrderDispatched.type).isSuperset(of: assignPool + cancelPool + scopePool)
                    && ids(WorkOrderApprovalPending.type).isSuperset(of: approvalPool) && ids(ChargeCreated.type).isSuperset(of: requests)
                    && tap.count(ContractRegistered.type) >= 1
            }
            try #require(ready, "the subjects of the fuzzed commands are known; logs: \(processes.values.map(\.logURL.path))")
            var charges: [String: (String, Money)] = [:]
            for e in tap.events(ChargeCreated.type) {
                if let r = e.data?.requestId, let c = e.data?.chargeId, let a = e.data?.amount { charges[r] = (c, a) }
            }
            let setupRejections = tap.count(CommandRejected.type)
            print("[fuzz \(elapsed(since: start))] subjects ready: \(scopePool.count + assignPool.count + cancelPool.count + approvalPool.count) OTs, \(charges.count) charges")

            // The commands.
            var cases: [Case] = []
            var next: [Target: Int] = [:]
            var approvals = 0
            for (i, (target, mutationCount)) in drawn.enumerated() {
                let k = next[target, default: 0]
                next[target] = k + 1
                let id = "fuzz-\(i)"
                let base: OutgoingMessage
                switch target {
                case .open:
                    var c = OpenWorkOrder.example
                    c.workOrderId = "WO-fz-\(i)"
                    c.dueBy = Date().addingTimeInterval(60 * 86_400)  // a public tender fixes its deadline
                    base = try CommandSender.message(c, id: id)
                case .poleMove:
                    base = try CommandSender.message(
                        RequestPoleMove(requester: Payer(name: "Solicitante \(i)", idNumber: "\(5_000_000 + i)"), address: "Calle \(i)", isExistingCustomer: false),
                        id: id)
                case .changeScope:
                    base = try CommandSender.message(
                        ChangeScope(
                            workOrderId: scopePool[i % scopePool.count], changes: ["puntos": .number(Double(i))],
                            document: Document(kind: .other, uri: "s3://ot-docs/SGC-DC-03/fuzz-\(i).pdf")),
                        id: id)
                case .assign:
                    base = try CommandSender.message(
                        AssignWorkOrder(workOrderId: assignPool[i % assignPool.count], assignee: Assignee(id: "T-\(i)", name: "Técnico \(i)", role: "technician")),
                        id: id)
                case .cancel:
                    base = try CommandSender.message(CancelWorkOrder(workOrderId: cancelPool[k], reason: "cliente desiste"), id: id)
                case .payment:
                    let (charge, amount) = try #require(charges[requests[k]])
                    base = try CommandSender.message(RecordPayment(chargeId: charge, amount: amount, receipt: "REC-\(i)"), id: id)
                case .contract:
                    var c = RegisterContract.example
                    c.contractId = "CT-fz-\(i)"
                    base = try CommandSender.message(c, id: id)
                case .postSale:
                    // A call detail of Boliviatel lines: no letter, no fee; done at once.
                    base = try CommandSender.message(
                        RequestPostSale(
                            requestId: "PV-fz-\(i)", flow: .callDetail, customer: RegisterContract.example.customer, contractId: "CT-fz",
                            products: [], channel: "email",
                            details: ["lineId": .string(ContractProduct.lineExample.id), "carrier": "boliviatel", "months": ["2026-01"]], documents: []),
                        id: id)
                case .damage:
                    // A damage on a product of its own: a new damage and its repair OT.
                    var report = ReportDamage.example
                    report.product = ProductRef(id: "INT-fz-\(i)", type: .internet)
                    base = try CommandSender.message(report, id: id)
                case .file:
                    // An advisor's file of a case of its own.
                    var file = RegisterFile.example
                    file.fileId = "EXP-fz-\(i)"
                    file.caseId = "PV-fz-\(i)"
                    base = try CommandSender.message(file, id: id)
                case .approve, .attach, .reject:
                    let wo = approvalPool[approvals]
                    approvals += 1
                    switch target {
                    case .approve: base = try CommandSender.message(ApproveWorkOrder(workOrderId: wo, by: "lucia.mendoza", reason: "conforme"), id: id)
                    case .attach:
                        base = try CommandSender.message(AttachDocument(workOrderId: wo, document: Document(kind: .purchaseOrder, uri: "s3://ot-docs/\(wo)/oc.pdf")), id: id)
                    default: base = try CommandSender.message(RejectWorkOrder(workOrderId: wo, by: "lucia.mendoza", reason: "sin firma"), id: id)
                    }
                }
                if mutationCount == 0 {
                    cases.append(Case(index: i, target: target, mutations: [], message: base, ids: [id]))
                } else {
                    let foreign = Target.allCases.filter { $0.service != target.service }.map(\.type)
                    let (m, done) = try CommandMutator.mutate(base, index: i, count: mutationCount, kinds: kinds, foreignTypes: foreign, using: &rng)
                    cases.append(Case(index: i, target: target, mutations: done, message: m, ids: CommandMutator.ids(of: m).union([id])))
                }
            }

            // Published in bursts of mixed commands, like several CRMs at once.
            let publisher = ReliablePublisher(sender: sender)
            var order = cases.indices.shuffled(using: &rng)
            var bursts = 0
            while !order.isEmpty {
                let n = min(order.count, Int.random(in: 20...120, using: &rng))
                publisher.enqueue(order.prefix(n).map { cases[$0].message })
                order.removeFirst(n)
                bursts += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 10...80, using: &rng)))
            }
            let published = await publisher.drain(timeout: .seconds(120))
            publisher.stop()
            #expect(published, "every command confirmed by the broker; last error: \(publisher.lastError ?? "none")")
            let publishedAt = ContinuousClock.now
            print("[fuzz \(elapsed(since: start))] \(cases.count) commands published in \(bursts) bursts (\(publisher.republished) re-published)")

            // Accounting: rejections by commandId, effects by causationid.
            var owner: [String: Int] = [:]
            for c in cases { for id in c.ids { owner[id] = c.index } }
            func account() -> (rejections: [Int: [EventProbe]], effects: [Int: [EventProbe]]) {
                var r: [Int: [EventProbe]] = [:]
                var e: [Int: [EventProbe]] = [:]
                for ev in tap.events {
                    if ev.type == CommandRejected.type {
                        if let id = ev.data?.commandId, let i = owner[id] { r[i, default: []].append(ev) }
                    } else if let cause = ev.causationid, let i = owner[cause] {
                        e[i, default: []].append(ev)
                    }
                }
                return (r, e)
            }
            let accounted = await eventually(timeout: bound, every: .milliseconds(500)) {
                let a = account()
                return cases.allSatisfy { a.rejections[$0.index] != nil || a.effects[$0.index] != nil }
            }
            print("[fuzz \(elapsed(since: start))] accounted for \(accounted ? "every command" : "not every command") \(oneDecimal(seconds(ContinuousClock.now - publishedAt))) s after the last publish")
            try await Task.sleep(for: .seconds(3))  // a late second outcome would show now
            let (rejections, effects) = account()

            var codes: [String: Int] = [:]
            var effected = 0
            var neither: [Case] = []
            var both: [Case] = []
            var twice: [Case] = []
            var validRejected: [(Case, EventProbe)] = []
            var byKind: [CommandMutator.Kind: (rejected: Int, effect: Int, wrong: Int)] = [:]
            for c in cases {
                let r = rejections[c.index] ?? []
                let e = effects[c.index] ?? []
                let ok = (r.count == 1 && e.isEmpty) || (r.isEmpty && !e.isEmpty)
                switch (r.count, e.count) {
                case (1, 0): codes[r[0].data?.code ?? "?", default: 0] += 1
                case (0, 1...): effected += 1
                case (0, 0): neither.append(c)
                case (1, 1...): both.append(c)
                default: twice.append(c)
                }
                if c.isValid, let first = r.first { validRejected.append((c, first)) }
                if c.mutations.count == 1, let kind = c.mutations.first?.0 {
                    var k = byKind[kind] ?? (0, 0, 0)
                    if !ok { k.wrong += 1 } else if r.isEmpty { k.effect += 1 } else { k.rejected += 1 }
                    byKind[kind] = k
                }
            }
            var byTarget: [Target: (rejected: Int, effect: Int, wrong: Int)] = [:]
            for c in cases {
                let r = rejections[c.index]?.count ?? 0
                let e = effects[c.index]?.count ?? 0
                var t = byTarget[c.target] ?? (0, 0, 0)
                if r == 1 && e == 0 { t.rejected += 1 } else if r == 0 && e > 0 { t.effect += 1 } else { t.wrong += 1 }
                byTarget[c.target] = t
            }
            let valid = cases.filter(\.isValid).count
            print("[fuzz] \(total) commands (seed \(seed)): \(valid) valid, \(total - valid) mutated; \(effected) took effect, \(codes.values.reduce(0, +)) rejected once, \(neither.count) neither, \(both.count) both, \(twice.count) rejected more than once")
            print("[fuzz] rejections by code: " + codes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("[fuzz] single mutations (rejected / took effect / not exactly one outcome): "
                + byKind.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value.rejected)/\($0.value.effect)/\($0.value.wrong)" }.joined(separator: ", "))
            print("[fuzz] per command type (rejected / took effect / not exactly one outcome): "
                + Target.allCases.map { t in byTarget[t].map { "\(t.type) \($0.rejected)/\($0.effect)/\($0.wrong)" } ?? "" }.joined(separator: ", "))
            for c in (neither + both + twice).prefix(25) {
                print("[fuzz]   not exactly one outcome: \(c.label.prefix(300)) → rejections \(rejections[c.index]?.map { $0.data?.code ?? "?" } ?? []), effects \(effects[c.index]?.map(\.type) ?? [])")
            }

            // Counts, not the cases: a failed expectation prints its operands, and a case holds its body.
            let (neitherCount, bothCount, twiceCount, validRejectedCount) = (neither.count, both.count, twice.count, validRejected.count)
            #expect(neitherCount == 0, "\(neither.count) commands neither rejected nor taking effect, e.g. \(neither.prefix(5).map { String($0.label.prefix(200)) })")
            #expect(bothCount == 0, "\(both.count) commands rejected and taking effect, e.g. \(both.prefix(5).map { String($0.label.prefix(200)) })")
            #expect(twiceCount == 0, "\(twice.count) commands rejected more than once, e.g. \(twice.prefix(5).map { String($0.label.prefix(200)) })")
            #expect(validRejectedCount == 0, "valid commands rejected: \(validRejected.prefix(5).map { "\($0.0.label): \($0.1.data?.code ?? "?") \($0.1.data?.message ?? "")" })")
            #expect(setupRejections == 0)
            #expect(tap.undecodable.isEmpty, "events that are not envelopes: \(tap.undecodable.prefix(5))")

            // One dead letter per rejection, per service (management API; its figures lag).
            var rejectedBy: [String: Int] = [:]
            for e in tap.events(CommandRejected.type) { rejectedBy[e.service ?? "?", default: 0] += 1 }
            var dead: [String: Int] = [:]
            let matched = await eventually(timeout: .seconds(30), every: .seconds(1)) {
                for s in Self.services { dead[s] = (try? system.managementQueueMessages("\(s).dead")) ?? -1 }
                return Self.services.allSatisfy { dead[$0] == rejectedBy[$0] ?? 0 }
            }
            print("[fuzz] per service (command.rejected / dead letters): " + Self.services.map { "\($0) \(rejectedBy[$0] ?? 0)/\(dead[$0] ?? -1)" }.joined(separator: ", "))
            #expect(matched, "dead letters per service \(dead) vs rejections \(rejectedBy)")

            // What the dead letters say (taken off their queues, now that they are counted).
            let inspector = try await system.connect("inspector")
            for s in Self.services {
                var byCode: [String: Int] = [:]
                var samples: [String] = []
                while let m = try await inspector.get(queue: "\(s).dead") {
                    inspector.ack(m.delivery)
                    let code = m.delivery.properties.headers[Headers.deadCode]?.stringValue ?? "?"
                    byCode[code, default: 0] += 1
                    if code == "retriesExhausted" || code == "forbidden", samples.count < 3 {
                        let reason = m.delivery.properties.headers[Headers.deadReason]?.stringValue ?? ""
                        samples.append("\(String((m.delivery.properties.messageId ?? "?").prefix(40))) \(code): \(reason.prefix(240))")
                    }
                }
                print("[fuzz] \(s).dead: " + byCode.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                for sample in samples { print("[fuzz]   \(sample)") }
            }
            // Nothing stays in an outbox (a row the relay cannot publish would block the ones after it).
            var stuck: [String: Int] = [:]
            let relayed = try await eventually(timeout: .seconds(20), every: .seconds(1)) {
                for s in Self.services { stuck[s] = try await system.pendingRows(s).outbox }
                return stuck.values.allSatisfy { $0 == 0 }
            }
            for (s, n) in stuck where n > 0 {
                let rows = try await system.strings(
                    """
                    SELECT format('%s to %s: message_id %s bytes, correlation_id %s bytes, type %s bytes, %s attempts', coalesce(message_type, '?'),
                                  routing_key, octet_length(message_id), octet_length(correlation_id), octet_length(message_type), attempts)
                    FROM \(s).outbox
                    ORDER BY greatest(octet_length(message_id), octet_length(correlation_id), octet_length(message_type)) DESC, id LIMIT 3
                    """)
                print("[fuzz] \(s).outbox: \(n) rows left, those with the longest properties: \(rows)")
            }
            #expect(relayed, "outbox rows left: \(stuck)")
            for (s, p) in processes { #expect(p.isRunning, "\(s) still runs; log \(p.logURL.path)") }
            print("[fuzz] took \(oneDecimal(seconds(ContinuousClock.now - start))) s after start-up")
        }
    }
}
