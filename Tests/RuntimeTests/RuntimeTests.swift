import AMQP
import Contracts
import Foundation
import Platform
@testable import Runtime
import Synchronization
import Testing

@Suite struct ConfigurationTests {
    @Test func defaultsPointAtTheLocalSetupWithTheServicesOwnBrokerUser() throws {
        let c = try ServiceConfiguration(name: "billing", environment: [:])
        #expect(c.amqpURL.user == "billing" && c.amqpURL.password == "billing-local" && c.amqpURL.vhost == "ot")
        #expect(c.database.user == "ot" && c.database.database == "ot" && !c.database.requireTLS)
        #expect(c.retryDelays == ServiceCatalog.defaultRetryDelays)
        #expect(c.httpPort == 8080 && c.batchSize == 64 && c.workers == 4)
    }

    @Test func environmentOverridesAndBadValuesNameTheVariable() throws {
        let c = try ServiceConfiguration(
            name: "x",
            environment: [
                "AMQP_URL": "amqps://u:p@mq:5671/prod", "DATABASE_URL": "postgres://a:b@db:6543/ots?sslmode=require",
                "RETRY_DELAYS_MS": "10, 20", "BATCH_SIZE": "0", "LOG_LEVEL": "DEBUG",
            ])
        #expect(c.amqpURL.tls && c.amqpURL.host == "mq")
        #expect(c.database.port == 6543 && c.database.requireTLS && c.database.password == "b")
        #expect(c.retryDelays == [.milliseconds(10), .milliseconds(20)])
        #expect(c.batchSize == 1, "clamped to at least one")
        #expect(c.logLevel == .debug)
        #expect {
            try ServiceConfiguration(name: "x", environment: ["HTTP_PORT": "eighty"])
        } throws: { ($0 as? ConfigurationError)?.key == "HTTP_PORT" }
        #expect {
            try ServiceConfiguration(name: "x", environment: ["RETRY_DELAYS_MS": "1,-5"])
        } throws: { ($0 as? ConfigurationError)?.key == "RETRY_DELAYS_MS" }
    }
}

@Suite struct TopologyTests {
    @Test func aServiceGetsQuorumInputsBoundToItsTypesADeadLetterQueueAndDelayQueues() {
        let t = ServiceTopology(
            service: "svc", commandTypes: ["a.do"], eventTypes: ["b.done"], retryDelays: [.seconds(1), .seconds(5)]
        ).topology
        let queues = Dictionary(uniqueKeysWithValues: t.queues.map { ($0.name, $0) })
        #expect(queues["svc.commands"]?.arguments["x-queue-type"] == "quorum")
        #expect(queues["svc.events"]?.arguments["x-queue-type"] == "quorum")
        #expect(queues["svc.dead"]?.arguments["x-queue-type"] == "quorum")
        #expect(queues["svc.commands.delay.1"]?.arguments["x-message-ttl"] == .int(5000))
        #expect(queues["svc.commands.delay.0"]?.arguments["x-dead-letter-routing-key"] == "svc.commands")
        #expect(queues["svc.events.delay.0"]?.arguments["x-dead-letter-exchange"] == "")
        #expect(t.bindings.contains(.init(queue: "svc.commands", exchange: "ot.commands", routingKey: "a.do")))
        #expect(t.bindings.contains(.init(queue: "svc.events", exchange: "ot.events", routingKey: "b.done")))
        #expect(!t.bindings.contains { $0.queue == "svc.commands" && $0.exchange == "ot.events" })
        #expect(t.exchanges.first { $0.name == "ot.events" }?.arguments["alternate-exchange"] == "ot.unrouted")
    }

    @Test func everyCatalogTypeIsAContractTypeOfTheRightKind() {
        for service in Platform.services {
            for type in service.routes.commandTypes { #expect(MessageRegistry.descriptor(for: type)?.kind == .command, "\(type)") }
            for type in service.routes.eventTypes { #expect(MessageRegistry.descriptor(for: type)?.kind == .event, "\(type)") }
        }
    }

    @Test func everyCommandOfTheContractHandledTodayHasExactlyOneService() {
        var owners: [String: [String]] = [:]
        for s in Platform.services { for c in s.routes.commandTypes { owners[c, default: []].append(s.name) } }
        #expect(owners.values.allSatisfy { $0.count == 1 }, "\(owners.filter { $0.value.count > 1 })")
    }

    @Test func theOperationsCenterQueueReceivesDispatchesPrioritiesAndEscalations() {
        let keys = Set(ServiceCatalog.operationsCenter.bindings.filter { $0.queue == "operations.dispatch" }.map(\.routingKey))
        #expect(keys == ["workorder.dispatched", "workorder.prioritized", "workorder.escalated"])
    }
}

@Suite struct EnvelopeCodecTests {
    @Test func amqpPropertiesMirrorTheEnvelope() throws {
        let envelope = Envelope(id: "m-1", source: "/ot/x", correlationId: "c-1", causationId: "k-1", traceparent: "00-aa-bb-01", data: OpenWorkOrder.example)
        let m = try EnvelopeCodec.outgoing(envelope, appId: "x")
        #expect(m.exchange == "ot.commands" && m.routingKey == "workorder.open")
        #expect(m.properties.messageId == "m-1" && m.properties.correlationId == "c-1")
        #expect(m.properties.type == "workorder.open" && m.properties.appId == "x" && m.properties.deliveryMode == 2)
        #expect(m.properties.contentType == "application/cloudevents+json")
        #expect(m.properties.headers["traceparent"] == "00-aa-bb-01")
        let decoded = try Wire.decode(OpenWorkOrder.self, from: Data(m.body))
        #expect(decoded.data == envelope.data && decoded.id == "m-1" && decoded.causationid == "k-1")
        #expect(abs(decoded.time.timeIntervalSince(envelope.time)) < 0.001, "milliseconds on the wire")
    }

    @Test func anEmittedMessageKeepsTheCorrelationAndPointsAtItsCause() {
        let cause = EnvelopeHeader(
            specversion: "1.0", id: "cmd-9", source: "/crm", type: "workorder.open", time: Date(), datacontenttype: "application/json",
            dataversion: 1, correlationid: "case-1", causationid: nil, traceparent: "00-11-22-01")
        let e = EnvelopeCodec.envelope(WorkOrderRejected(workOrderId: "W", reason: "r"), source: "/ot/approval", causedBy: cause, time: Date())
        #expect(e.correlationid == "case-1" && e.causationid == "cmd-9" && e.traceparent == "00-11-22-01")
        #expect(e.id != "cmd-9")
    }

    @Test func aFreshTraceparentIsW3CShaped() {
        let parts = TraceContext.new().split(separator: "-")
        #expect(parts.count == 4 && parts[0] == "00" && parts[1].count == 32 && parts[2].count == 16 && parts[3] == "01")
    }
}

/// Values recorded from several tasks.
final class Recorded<T: Sendable>: Sendable {
    private let m = Mutex<[T]>([])
    func append(_ v: T) { m.withLock { $0.append(v) } }
    var values: [T] { m.withLock { $0 } }
}

@Suite struct ConcurrencyPrimitivesTests {
    @Test func deadlineReturnsTheResultOrGivesUpOnAnOperationThatIgnoresCancellation() async throws {
        #expect(try await withDeadline(.seconds(5), "quick") { 42 } == 42)
        let start = ContinuousClock.now
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(100), "stuck") {
                // Ignores cancellation, like a query on a dead connection.
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().asyncAfter(deadline: .now() + 2) { c.resume() }
                }
            }
        }
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func theDeadlineWatchdogFiresWhatIsDueOnceAndNothingForgotten() async throws {
        let dog = DeadlineWatchdog(tick: .milliseconds(10))
        let fired = Recorded<Int>()
        _ = dog.watch(until: .now + .milliseconds(30)) { fired.append(1) }
        let forgotten = dog.watch(until: .now + .milliseconds(30)) { fired.append(2) }
        dog.forget(forgotten)
        _ = dog.watch(until: .now + .seconds(60)) { fired.append(3) }
        let deadline = ContinuousClock.now + .seconds(30)
        while fired.values.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(fired.values == [1])
        #expect(dog.watched == 1, "the far deadline is still watched")
    }

    @Test func deliveriesAreHandedOutInBatchesAndTheBufferEndsWhenFinished() async {
        let buffer = DeliveryBuffer()
        for i in 0..<10 {
            buffer.push(Delivery(deliveryTag: UInt64(i), session: 1, redelivered: false, exchange: "", routingKey: "", consumerTag: "", properties: .init(), body: []))
        }
        buffer.finish()
        var sizes: [Int] = []
        while let b = await buffer.takeBatch(max: 4, wait: .zero) { sizes.append(b.deliveries.count) }
        #expect(sizes == [4, 4, 2])
    }

    static func delivery(_ tag: Int) -> Delivery {
        Delivery(
            deliveryTag: UInt64(tag), session: 1, redelivered: false, exchange: "", routingKey: "", consumerTag: "", properties: .init(),
            body: [])
    }

    /// Waits (up to 10 s) until a worker of `buffer` waits out its batch window.
    static func untilCollecting(_ buffer: DeliveryBuffer) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !buffer.isCollecting && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(buffer.isCollecting)
    }

    /// Two idle workers and a slow stream: what arrives while the first waits out its batch window
    /// is its own, so the stream makes one batch, not one per worker woken.
    @Test func deliveriesArrivingDuringAWorkersBatchWindowJoinItsBatchInsteadOfWakingAnother() async throws {
        let buffer = DeliveryBuffer()
        let batches = Recorded<[UInt64]>()
        let workers = (0..<2).map { _ in
            Task {
                while let b = await buffer.takeBatch(max: 10, wait: .seconds(1)) { batches.append(b.deliveries.map(\.deliveryTag)) }
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        buffer.push(Self.delivery(0))
        try await Self.untilCollecting(buffer)  // a worker has taken it and waits for more
        for i in 1..<5 { buffer.push(Self.delivery(i)) }
        let deadline = ContinuousClock.now + .seconds(5)
        while batches.values.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(batches.values == [[0, 1, 2, 3, 4]])
        buffer.finish()
        for w in workers { await w.value }
        #expect(batches.values == [[0, 1, 2, 3, 4]])
    }

    /// A full batch does not wait for the window of the worker collecting: the window ends as soon
    /// as what arrived fills that worker's batch, and no other worker is woken for a part of it.
    @Test func aCollectingWorkersWindowEndsAsSoonAsItsBatchIsFull() async throws {
        let buffer = DeliveryBuffer()
        let batches = Recorded<(ContinuousClock.Instant, [UInt64])>()
        let workers = (0..<2).map { _ in
            Task {
                while let b = await buffer.takeBatch(max: 3, wait: .seconds(3)) { batches.append((.now, b.deliveries.map(\.deliveryTag))) }
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        buffer.push(Self.delivery(0))
        try await Self.untilCollecting(buffer)  // a worker has taken it and waits for more
        let start = ContinuousClock.now
        for i in 1...3 { buffer.push(Self.delivery(i)) }
        let deadline = ContinuousClock.now + .seconds(2)
        while batches.values.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let early = batches.values
        #expect(early.first?.1 == [0, 1, 2], "the collecting worker took its full batch")
        #expect(early.allSatisfy { $0.0 - start < .seconds(2) }, "before its window ended")
        buffer.finish()
        for w in workers { await w.value }
        #expect(batches.values.map(\.1) == [[0, 1, 2], [3]])
    }

    /// A worker coming back for deliveries while another collects ends that one's window: each
    /// batch is a run of consecutive deliveries, and the turns to load follow them.
    @Test func batchesAreRunsOfConsecutiveDeliveriesWithTurnsInDeliveryOrder() async throws {
        let buffer = DeliveryBuffer()
        buffer.push(Self.delivery(0))
        let collector = Task { await buffer.takeBatch(max: 10, wait: .seconds(5)) }
        try await Self.untilCollecting(buffer)
        for i in 1...3 { buffer.push(Self.delivery(i)) }
        let start = ContinuousClock.now
        // Another worker, back from its batch, takes what is pending.
        let second = await buffer.takeBatch(max: 10, wait: .zero)
        let first = await collector.value
        #expect(ContinuousClock.now - start < .seconds(2), "the collector's window ended early")
        #expect(first?.deliveries.map(\.deliveryTag) == [0])
        #expect(second?.deliveries.map(\.deliveryTag) == [1, 2, 3])
        #expect(first?.turn.ticket == 0 && second?.turn.ticket == 1)
    }

    @Test func aTurnToLoadWaitsForEveryEarlierTurnsRelease() async throws {
        let order = LoadOrder(maxWait: .seconds(600))
        let turns = (0..<3).map { _ in order.issue() }
        let loaded = Recorded<Int>()
        let third = Task {
            await turns[2].wait()
            loaded.append(2)
        }
        let second = Task {
            await turns[1].wait()
            loaded.append(1)
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(loaded.values.isEmpty, "turn 0 is not released")
        turns[1].release()  // released early (its batch ended without loading)
        try await Task.sleep(for: .milliseconds(100))
        #expect(loaded.values.isEmpty, "turn 0 still is not")
        turns[0].release()
        let released = ContinuousClock.now
        await second.value
        await third.value
        #expect(Set(loaded.values) == [1, 2])
        #expect(ContinuousClock.now - released < .seconds(60), "both woken by the release, not by the bound")
        await turns[0].wait()  // a released turn does not wait again (a batch re-run after a lost race)
        turns[0].release()  // and a second release changes nothing
        let fourth = order.issue()
        let start = ContinuousClock.now
        turns[2].release()
        await fourth.wait()
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aTurnWhoseEarlierTurnIsNeverReleasedGoesAheadAfterTheBound() async {
        let order = LoadOrder(maxWait: .milliseconds(200))
        let stuck = order.issue()
        let next = order.issue()
        let start = ContinuousClock.now
        await next.wait()
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(200) && waited < .seconds(60), "went ahead (late only when the test pool is busy)")
        next.release()
        stuck.release()
        let after = order.issue()
        let again = ContinuousClock.now
        await after.wait()
        #expect(ContinuousClock.now - again < .milliseconds(150), "every earlier turn is released")
    }

    @Test func aSignalWakesItsWaiterOrTimesOut() async {
        let signal = AsyncSignal()
        signal.notify()
        let start = ContinuousClock.now
        await signal.wait(upTo: .seconds(5))
        #expect(ContinuousClock.now - start < .seconds(1), "a notification before the wait is kept")
        await signal.wait(upTo: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
    }
}
