import AMQP
import Contracts
import Foundation
import Logging
import PostgresNIO
@testable import Runtime
import Testing

/// A test aggregate that emits what the operations center receives: `workorder.open` with
/// description `d<level>` emits `workorder.dispatched` at that level, `p<level>` / `p<level>r`
/// `workorder.prioritized` (reiterated with `r`), `e` `workorder.escalated`.
enum Announcer: Aggregate {
    static let kind = "announcer"

    struct State: AggregateState {
        var id: String
        var status: String { "announced" }
    }

    typealias Input = OpenWorkOrder

    static let machine = StateMachine(
        title: "announcer", procedure: "operations queue tests", states: [.init("announced")],
        transitions: [.init(nil, "announced", on: OpenWorkOrder.type)])

    static func timerFired(_ name: String, dueAt: Date) -> Input? { nil }

    static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let id = input.workOrderId ?? "?"
        let code = input.description
        let level = Int(code.dropFirst().filter(\.isNumber)) ?? 4
        let event: any Message =
            switch code.first {
            case "d":
                WorkOrderDispatched(
                    workOrderId: id, priority: level, contactBy: context.now, dueBy: nil, publicSector: false, contactSLA: true)
            case "p":
                WorkOrderPrioritized(
                    workOrderId: id, level: level, deadline: context.now, reason: "test", reiterated: code.hasSuffix("r"))
            default:
                WorkOrderEscalated(workOrderId: id, step: 1, to: "technician")
            }
        return Decision(state: State(id: id), history: [HistoryEntry("announce", from: nil, to: "announced")], events: [event])
    }
}

/// The operations center's queue against the real broker: priority order of a backlog published
/// through the kit's outbox relay, the bound and its overflow, the watch in `/health/ready` and
/// `/metrics`, and the replacement of an old quorum queue.
@Suite("operations center queue against RabbitMQ and PostgreSQL", .serialized)
struct OperationsQueueIntegrationTests {
    static let routes = Routes { r in
        r.on(OpenWorkOrder.self) { c, _ in [.to(Announcer.self, c.workOrderId ?? "?", c)] }
    }

    /// Runs `codes` (see ``Announcer``) through a kit runner over a fresh schema — inbox, decision,
    /// outbox — and publishes the outbox with the relay, as a service would.
    static func announce(_ codes: [String], in system: TestSystem) async throws {
        let rig = try await RelayRig(system, schema: "opstest")
        try await rig.announce(codes, prefix: "OT", batch: 100)
        while try await rig.relay.relayOnce() > 0 {}
        #expect(try await system.count("SELECT count(*)::int8 FROM opstest.outbox") == 0, "everything published")
        await rig.stop()
    }

    /// The operations center's objects in the test vhost, as dispatch declares them.
    static func declareOperationsQueue(_ system: TestSystem, maxLength: Int64) async throws -> AMQPConnection {
        let ops = try await system.connect("ops-reader")
        try await ops.declare(ServiceCatalog.operationsCenter(maxLength: maxLength))
        return ops
    }

    /// Every message of a queue, in the order `basic.get` hands them out.
    static func drain(_ queue: String, _ conn: AMQPConnection) async throws -> [Delivery] {
        var out: [Delivery] = []
        while let m = try await conn.get(queue: queue) {
            out.append(m.delivery)
            conn.ack(m.delivery)
        }
        return out
    }

    /// (level, reiterated) of a delivery of the operations queue.
    static func level(_ d: Delivery) -> (Int, Bool)? {
        let data = Data(d.body)
        if let e = try? Wire.decode(WorkOrderDispatched.self, from: data) { return (e.data.priority, false) }
        if let e = try? Wire.decode(WorkOrderPrioritized.self, from: data) { return (e.data.level, e.data.reiterated ?? false) }
        return nil
    }

    /// 1,000 codes of mixed levels, in an order unrelated to their level.
    static let mixed: [String] = (0..<1000).map { i in
        let level = (i * 7) % 4 + 1
        return switch (i * 3) % 5 {
        case 0, 1: "d\(level)"
        case 2: "p\(level)r"
        default: "p\(level)"
        }
    }

    @Test func aBackloggedOperationsCenterGetsLevelOneBeforeTwoBeforeThreeBeforeFour() async throws {
        try await withTestSystem("ops-priority") { system in
            let ops = try await Self.declareOperationsQueue(system, maxLength: ServiceCatalog.operationsQueueMaxLength)
            // The operations center is away while 1,000 dispatches and priorities queue up.
            try await Self.announce(Self.mixed, in: system)
            #expect(try await ops.queueStatus(ServiceCatalog.operationsQueue).messages == 1000)
            // It comes back.
            let got = try await Self.drain(ServiceCatalog.operationsQueue, ops)
            #expect(got.count == 1000)
            let priorities = got.map { Int($0.properties.priority ?? 0) }
            let levels = got.compactMap(Self.level)
            #expect(levels.count == 1000)
            #expect(priorities == priorities.sorted(by: >), "non-increasing AMQP priority")
            #expect(levels.map(\.0) == levels.map(\.0).sorted(), "level 1 before 2 before 3 before 4")
            for level in 1...4 {
                let within = levels.filter { $0.0 == level }.map(\.1)
                #expect(!within.isEmpty && within == within.sorted { $0 && !$1 }, "level \(level): reiterated claims first")
            }
            for (d, l) in zip(got, levels) { #expect(d.properties.priority == DeliveryPriority.of(level: l.0, reiterated: l.1)) }
            #expect(Set(got.compactMap(\.properties.messageId)).count == 1000)
        }
    }

    @Test func aFullQueueDeadLettersItsHeadToTheOverflowQueueWithReasonMaxlenAndLosesNothing() async throws {
        try await withTestSystem("ops-overflow") { system in
            let bound = 50
            let ops = try await Self.declareOperationsQueue(system, maxLength: Int64(bound))
            let codes = Array(Self.mixed.prefix(200))
            try await Self.announce(codes, in: system)
            let kept = try await Self.drain(ServiceCatalog.operationsQueue, ops)
            let overflowed = try await Self.drain(ServiceCatalog.operationsOverflowQueue, ops)
            #expect(kept.count == bound)
            #expect(kept.count + overflowed.count == codes.count, "count in + count dead = total")
            let ids = Set((kept + overflowed).compactMap(\.properties.messageId))
            #expect(ids.count == codes.count, "every message once")
            for d in overflowed {
                guard case .array(let deaths)? = d.properties.headers["x-death"], case .table(let death)? = deaths.first else {
                    Issue.record("no x-death on an overflowed message")
                    continue
                }
                #expect(death["reason"]?.stringValue == "maxlen")
                #expect(death["queue"]?.stringValue == ServiceCatalog.operationsQueue)
            }
            // What RabbitMQ 3.10 drops from a full priority queue is its head — the most urgent
            // messages (documented in ServiceCatalog.operationsCenter): the kept ones are the
            // lowest priorities.
            let keptMax = kept.map { $0.properties.priority ?? 0 }.max() ?? 0
            let overflowMin = overflowed.map { $0.properties.priority ?? 0 }.min() ?? 0
            #expect(keptMax <= overflowMin)
        }
    }

    /// `/health/ready` and `/metrics` of a running service (its port read from its log).
    static func http(_ service: ServiceProcess, _ path: String) throws -> String {
        let port = try #require(service.log.firstMatch(of: /http\.port=([0-9]+)/)?.1)
        return try shell(["curl", "-s", "http://127.0.0.1:\(port)\(path)"]).output
    }

    @Test func dispatchWarnsInItsReadinessWhenTheOperationsQueueHoldsMessagesAndNobodyReadsIt() async throws {
        try await withTestSystem("ops-watch") { system in
            let dispatch = try system.start("dispatch", environment: ["QUEUE_WATCH_INTERVAL_MS": "200"])
            try await dispatch.waitUntilReady()
            #expect(await eventually(timeout: .seconds(10)) { ((try? Self.http(dispatch, "/health/ready")) ?? "") == "ready\n" })
            #expect(await eventually(timeout: .seconds(10)) {
                ((try? Self.http(dispatch, "/metrics")) ?? "").contains(#"ot_queue_messages{service="dispatch",queue="operations.dispatch"} 0.0"#)
            })

            let sender = try await system.sender()
            let escalated = try CommandSender.message(WorkOrderEscalated(workOrderId: "W-ESC", step: 1, to: "technician"))
            try await sender.publishConfirmed([escalated])
            #expect(await eventually(timeout: .seconds(10)) {
                ((try? Self.http(dispatch, "/health/ready")) ?? "").contains(
                    "warning: operations.dispatch holds 1 message(s) and has no consumer")
            })
            let port = try #require(dispatch.log.firstMatch(of: /http\.port=([0-9]+)/)?.1)
            let status = try shell(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/health/ready"])
            #expect(status.output == "200", "a warning, not a failure")
            let metrics = try Self.http(dispatch, "/metrics")
            #expect(metrics.contains(#"ot_queue_messages{service="dispatch",queue="operations.dispatch"} 1.0"#), "\(metrics)")
            #expect(metrics.contains(#"ot_queue_consumers{service="dispatch",queue="operations.dispatch"} 0.0"#))
            #expect(metrics.contains(#"ot_queue_head_age_seconds{service="dispatch",queue="operations.dispatch"}"#))
            #expect(dispatch.log.contains("operations.dispatch holds 1 message(s) and has no consumer"), "logged once it appears")

            // The operations center comes back: the warning clears.
            let ops = try await system.connect("operations")
            let consumer = try await ops.consume(queue: ServiceCatalog.operationsQueue, prefetch: 10)
            var iterator = consumer.deliveries.makeAsyncIterator()
            let delivery = try #require(await iterator.next())
            #expect(delivery.properties.priority == DeliveryPriority.escalation)
            ops.ack(delivery)
            #expect(await eventually(timeout: .seconds(10)) { ((try? Self.http(dispatch, "/health/ready")) ?? "") == "ready\n" })
        }
    }

    @Test func anOldQuorumOperationsQueueIsReplacedAtStartUpWithItsMessagesMovedInPriorityOrder() async throws {
        try await withTestSystem("ops-replace") { system in
            // The queue as it was: a quorum queue in arrival order, holding messages nobody read.
            let old = try await system.connect("old-declarer")
            try await old.declare(
                Topology(
                    queues: [.quorum(ServiceCatalog.operationsQueue)],
                    bindings: ServiceCatalog.operationsCenter.bindings))
            let sender = try await system.sender()
            var messages: [OutgoingMessage] = []
            for i in 0..<40 {
                let level = i % 4 + 1
                var m = try CommandSender.message(
                    WorkOrderDispatched(
                        workOrderId: "W-\(i)", priority: level, contactBy: Date(), dueBy: nil, publicSector: false, contactSLA: true),
                    id: "old-\(i)")
                m.properties.priority = nil  // published before priorities existed
                messages.append(m)
            }
            try await sender.publishConfirmed(messages)
            #expect(try await old.queueStatus(ServiceCatalog.operationsQueue).messages == 40)

            let dispatch = try system.start("dispatch")
            try await dispatch.waitUntilReady()
            #expect(dispatch.log.contains("queue replaced; held messages moved into it"))
            let ops = try await system.connect("operations")
            let got = try await Self.drain(ServiceCatalog.operationsQueue, ops)
            #expect(got.count == 40, "nothing lost")
            #expect(Set(got.compactMap(\.properties.messageId)).count == 40)
            let levels = got.compactMap(Self.level).map(\.0)
            #expect(levels == levels.sorted(), "moved with their priorities: level order")
            #expect(got.allSatisfy { $0.properties.headers[Provenance.userHeader] == "dispatch" }, "original publisher named")
            // The new queue is the priority queue: a redeclaration as dispatch declares it is accepted.
            try await ops.declareOnce(Topology(queues: ServiceCatalog.operationsCenter.queues))
            await #expect(throws: AMQPError.self) { try await ops.queueStatus("operations.dispatch.replacing") }
        }
    }

    @Test func anOldQueueWithAConsumerIsLeftAloneAndStartUpSaysWhatToDo() async throws {
        try await withTestSystem("ops-busy") { system in
            let old = try await system.connect("old-declarer")
            try await old.declare(
                Topology(queues: [.quorum(ServiceCatalog.operationsQueue)], bindings: ServiceCatalog.operationsCenter.bindings))
            let reader = try await old.consume(queue: ServiceCatalog.operationsQueue, prefetch: 1)
            let dispatch = try system.start("dispatch")
            #expect(await eventually(timeout: .seconds(20)) { dispatch.log.contains("cannot replace queue operations.dispatch") })
            #expect(dispatch.log.contains("consumer(s): stop them"))
            #expect(!dispatch.log.contains("start-up complete"))
            // The operations center lets go: start-up goes on by itself.
            try await old.cancel(reader)
            try await dispatch.waitUntilReady(timeout: .seconds(30))
            #expect(dispatch.log.contains("queue replaced; held messages moved into it"))
        }
    }
}
