import AMQP
import Contracts
import Foundation
import Logging
import PostgresNIO
@testable import Runtime
import Testing

/// The outbox relay's two paths against the real broker and database: the rows a committed batch
/// hands over are published from memory at once (before the polling round would see them), a row
/// the broker does not confirm stays for the polling round and its retries, and the rows a process
/// wrote but never published (a crash) are published by the polling round once their lease ends.
@Suite("outbox relay against RabbitMQ and PostgreSQL", .serialized)
struct OutboxRelayIntegrationTests {
    static let schema = "relaytest"

    typealias Rig = RelayRig
}

/// A kit runner for ``Announcer`` and an outbox relay over a fresh schema, as a service wires
/// them (the relay's loop is not running: a test drives it with `relayOnce`).
struct RelayRig {
    let client: PostgresClient
    let amqp: AMQPConnection
    let relay: OutboxRelay
    let runner: BatchRunner
    let run: Task<Void, Never>

    /// `exchanges`: what the test vhost gets (by default the platform's, whose `ot.events`
    /// sends what no queue takes to `ot.unrouted`).
    init(_ system: TestSystem, schema: String = OutboxRelayIntegrationTests.schema, exchanges: Topology = PlatformTopology.exchanges)
        async throws
    {
        var logger = testLogger
        logger.logLevel = .error
        client = Database.makeClient(try DatabaseURL(system.databaseURL), poolSize: 4, schema: schema, logger: logger)
        let client = self.client
        run = Task { await client.run() }
        try await Database.migrate(client, schema: schema, migrations: [], logger: logger)
        amqp = AMQPConnection(configuration: .init(url: try AMQPURL(string: system.amqpURL), name: "relay-test"), logger: logger)
        amqp.start()
        try await amqp.waitUntilConnected()
        try await amqp.declare(exchanges)
        relay = OutboxRelay(postgres: client, amqp: amqp, schema: schema, batch: 500, publisherUser: nil, logger: logger)
        let engine = Engine(
            service: schema, routes: OperationsQueueIntegrationTests.routes,
            aggregates: [Announcer.kind: AggregateInfo(Announcer.self)],
            emits: [WorkOrderDispatched.type, WorkOrderPrioritized.type, WorkOrderEscalated.type], parkTimeout: .seconds(60),
            logger: logger)
        runner = BatchRunner(
            engine: engine, postgres: client, relay: relay, clock: SystemClock(), transactionTimeout: .seconds(10), logger: logger)
    }

    /// Announces `codes` (see ``Announcer``), in batches of `batch`.
    func announce(_ codes: [String], prefix: String, batch: Int = .max) async throws {
        for start in stride(from: 0, to: codes.count, by: batch) {
            let items = codes.indices[start..<min(codes.count, start &+ batch)].map { i in
                var c = OpenWorkOrder.example
                c.workOrderId = "\(prefix)-\(i)"
                c.description = codes[i]
                return KitTests.item(c, id: "\(prefix)-open-\(i)")
            }
            let report = try await runner.run { _, _ in items }
            #expect(report.outcomes.allSatisfy { $0 == .handled })
        }
    }

    func stop() async {
        await amqp.shutdown()
        run.cancel()
    }
}

extension OutboxRelayIntegrationTests {
    /// A quorum queue bound to `types` on `ot.events`.
    static func bind(_ conn: AMQPConnection, _ queue: String, _ types: [String]) async throws {
        try await conn.declare(
            Topology(
                queues: [.quorum(queue)],
                bindings: types.map { .init(queue: queue, exchange: PlatformTopology.events, routingKey: $0) }))
    }

    static func drain(_ conn: AMQPConnection, _ queue: String) async throws -> [Delivery] {
        try await OperationsQueueIntegrationTests.drain(queue, conn)
    }

    @Test func aCommittedBatchIsPublishedFromMemoryBeforeItsRowsAreDue() async throws {
        try await withTestSystem("relay-handoff") { system in
            let rig = try await Rig(system)
            let reader = try await system.connect("relay-reader")
            try await Self.bind(reader, "relaytest.seen", [WorkOrderDispatched.type])
            try await rig.announce(["d1", "d2", "d3"], prefix: "h")
            // The rows are written due a lease later: the polling round alone finds nothing yet.
            #expect(
                try await system.count("SELECT count(*)::int8 FROM relaytest.outbox WHERE next_attempt_at > now() + interval '3 seconds'")
                    == 3)
            // The hand-over publishes them now, in the batch's order, and deletes them.
            #expect(try await rig.relay.relayOnce() == 3)
            #expect(try await system.count("SELECT count(*)::int8 FROM relaytest.outbox") == 0)
            let got = try await Self.drain(reader, "relaytest.seen")
            #expect(got.map(\.properties.priority) == [1, 2, 3].map { Optional(DeliveryPriority.of(level: $0, reiterated: false)) })
            #expect(got.allSatisfy { $0.properties.appId == Self.schema && $0.properties.deliveryMode == 2 && $0.properties.messageId != nil })
            let decoded = got.compactMap { try? Wire.decode(WorkOrderDispatched.self, from: Data($0.body)) }
            #expect(decoded.map(\.data.workOrderId) == ["h-0", "h-1", "h-2"])
            // Nothing is published twice: the polling round has nothing left.
            #expect(try await rig.relay.relayOnce() == 0)
            #expect(try await Self.drain(reader, "relaytest.seen").isEmpty)
            await rig.stop()
        }
    }

    @Test func aMessageTheBrokerReturnsStaysForThePollingRoundWhichPublishesItOnceItCanBeRouted() async throws {
        try await withTestSystem("relay-returned") { system in
            // An `ot.events` without the platform's alternate exchange: the broker returns what no
            // queue takes.
            let rig = try await Rig(system, exchanges: Topology(exchanges: [.init(name: PlatformTopology.events)]))
            let reader = rig.amqp
            // Dispatches are bound; escalations are not yet (the broker returns them).
            try await Self.bind(reader, "relaytest.seen", [WorkOrderDispatched.type])
            try await rig.announce(["d1", "e", "d2"], prefix: "r")
            #expect(try await rig.relay.relayOnce() == 3)
            let first = try await Self.drain(reader, "relaytest.seen")
            #expect(first.count == 2, "the confirmed ones are delivered")
            #expect(try await system.count("SELECT count(*)::int8 FROM relaytest.outbox") == 1)
            #expect(
                try await system.count("SELECT count(*)::int8 FROM relaytest.outbox WHERE routing_key = 'workorder.escalated'") == 1)
            // Still under its lease: the polling round leaves it alone.
            #expect(try await rig.relay.relayOnce() == 0)
            // The binding appears and the lease ends: the polling round publishes it.
            try await Self.bind(reader, "relaytest.seen", [WorkOrderEscalated.type])
            _ = try await TestSystem.withConnection(database: system.database) { conn in
                try await conn.query("UPDATE relaytest.outbox SET next_attempt_at = now()", logger: testLogger)
            }
            #expect(try await rig.relay.relayOnce() == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM relaytest.outbox") == 0)
            let second = try await Self.drain(reader, "relaytest.seen")
            #expect(second.map(\.routingKey) == [WorkOrderEscalated.type])
            await rig.stop()
        }
    }

    @Test func rowsAProcessWroteButNeverPublishedArePublishedByTheNextOnceTheirLeaseEnds() async throws {
        try await withTestSystem("relay-crash") { system in
            let reader = try await system.connect("relay-reader")
            try await Self.bind(reader, "relaytest.seen", [WorkOrderDispatched.type])
            // The first process commits a batch and dies before its relay runs.
            let dead = try await Rig(system)
            try await dead.announce(["d1", "d4"], prefix: "c")
            await dead.stop()
            // The next one does not publish them while the lease runs ...
            let next = try await Rig(system)
            #expect(try await next.relay.relayOnce() == 0)
            #expect(try await system.count("SELECT count(*)::int8 FROM relaytest.outbox") == 2)
            // ... and publishes them once it has ended.
            try await Task.sleep(for: OutboxRelay.handOffLease + .milliseconds(500))
            #expect(try await next.relay.relayOnce() == 2)
            #expect(try await system.count("SELECT count(*)::int8 FROM relaytest.outbox") == 0)
            let got = try await Self.drain(reader, "relaytest.seen")
            #expect(Set(got.compactMap(\.properties.messageId)).count == 2)
            await next.stop()
        }
    }
}
