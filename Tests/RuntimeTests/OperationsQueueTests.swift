import AMQP
import Contracts
import Foundation
import Platform
@testable import Runtime
import Testing

/// The operations center's queue as declared: a bounded classic priority queue that overflows to
/// a dead letter; its watch; what the outbox keeps of a message's priority.
@Suite("operations center queue")
struct OperationsQueueTests {
    static var queue: Topology.Queue? {
        ServiceCatalog.operationsCenter.queues.first { $0.name == ServiceCatalog.operationsQueue }
    }

    static var dispatch: ServiceDefinition? { Platform.services.first { $0.name == "dispatch" } }

    @Test func itIsABoundedClassicPriorityQueueThatOverflowsItsOldestToADeadLetterQueue() throws {
        let q = try #require(Self.queue)
        #expect(q.durable && !q.exclusive && !q.autoDelete)
        #expect(q.arguments["x-queue-type"] == "classic")
        #expect(q.arguments["x-max-priority"] == .int(Int64(DeliveryPriority.maximum)))
        #expect(q.arguments["x-max-length"] == .int(100_000))
        #expect(q.arguments["x-overflow"] == "drop-head", "reject-publish would nack the relays")
        #expect(q.arguments["x-dead-letter-exchange"] == "")
        #expect(q.arguments["x-dead-letter-routing-key"] == .string(ServiceCatalog.operationsOverflowQueue))
        let overflow = try #require(ServiceCatalog.operationsCenter.queues.first { $0.name == "operations.dispatch.overflow" })
        #expect(overflow.arguments["x-queue-type"] == "quorum" && overflow.arguments["x-max-length"] == nil)
        #expect(
            ServiceCatalog.operationsCenter.queues.map(\.name) == ["operations.dispatch.overflow", "operations.dispatch"],
            "the dead-letter target is declared first")
    }

    @Test func theConfiguredBoundReplacesTheDefaultOnlyOnTheOperationsQueue() throws {
        let config = try ServiceConfiguration(name: "dispatch", environment: ["OPERATIONS_QUEUE_MAX_LENGTH": "25"])
        #expect(config.operationsQueueMaxLength == 25)
        #expect(try ServiceConfiguration(name: "dispatch", environment: [:]).operationsQueueMaxLength == 100_000)
        #expect(throws: ConfigurationError.self) {
            try ServiceConfiguration(name: "dispatch", environment: ["OPERATIONS_QUEUE_MAX_LENGTH": "many"])
        }
        let service = PlatformService(configuration: config, definition: try #require(Self.dispatch))
        let queues = service.topology.topology.queues
        #expect(queues.first { $0.name == "operations.dispatch" }?.arguments["x-max-length"] == .int(25))
        #expect(queues.filter { $0.arguments["x-max-length"] != nil }.map(\.name) == ["ot.unrouted", "operations.dispatch"])
        #expect(queues.first { $0.name == "ot.unrouted" }?.arguments["x-max-length"] == .int(PlatformTopology.unroutedMaxLength))
    }

    @Test func dispatchWatchesTheOperationsQueueAndItsOverflow() {
        #expect(Self.dispatch?.watched.map(\.name) == ["operations.dispatch", "operations.dispatch.overflow"])
        #expect(Platform.services.filter { !$0.watched.isEmpty }.map(\.name) == ["dispatch"])
    }

    @Test func aQueueWithMessagesAndNoConsumerWarnsAndAnEmptyOneNever() {
        let q = WatchedQueue("operations.dispatch", expecting: .consumed(maxHeadAge: .seconds(900)))
        #expect(QueueSample(messages: 0, consumers: 0).warnings(q).isEmpty)
        #expect(QueueSample(messages: 12, consumers: 1, headAge: .seconds(3)).warnings(q).isEmpty)
        #expect(
            QueueSample(messages: 12, consumers: 0, headAge: .seconds(3)).warnings(q)
                == ["operations.dispatch holds 12 message(s) and has no consumer"])
        #expect(
            QueueSample(messages: 3, consumers: 2, headAge: .seconds(901)).warnings(q)
                == ["operations.dispatch: its next message has waited 901 s (more than 900 s)"])
        #expect(QueueSample(messages: 3, consumers: 0, headAge: .seconds(901)).warnings(q).count == 2)
        let overflow = WatchedQueue("operations.dispatch.overflow", expecting: .empty)
        #expect(QueueSample(messages: 0, consumers: 0).warnings(overflow).isEmpty)
        #expect(QueueSample(messages: 4, consumers: 1).warnings(overflow) == ["operations.dispatch.overflow holds 4 message(s); it should be empty"])
    }

    @Test func theHeadAgeCountsFromThePublicationAndIsNeverNegative() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(QueueSample.age(published: now.addingTimeInterval(-42.5), now: now) == .milliseconds(42_500))
        #expect(QueueSample.age(published: now.addingTimeInterval(10), now: now) == .zero)
        #expect(QueueSample.age(published: nil, now: now) == nil)
        #expect(QueueWatch.kind("q holds 12 message(s)") == QueueWatch.kind("q holds 13 message(s)"))
    }

    @Test func readinessWarningsAreLinesAfterTheVerdict() {
        #expect(HealthHandler.readyBody(ready: true, warnings: []) == "ready\n")
        #expect(HealthHandler.readyBody(ready: true, warnings: ["a", "b"]) == "ready\nwarning: a\nwarning: b\n")
        #expect(HealthHandler.readyBody(ready: false, warnings: ["a"]).hasSuffix("\nwarning: a\n"))
    }

    @Test func theOutboxKeepsEachMessagesPriorityAndMinusOneForNone() throws {
        let messages = try [
            EnvelopeCodec.outgoing(Envelope(source: "/t", correlationId: nil, causationId: nil, data: WorkOrderEscalated.example), appId: "t"),
            EnvelopeCodec.outgoing(Envelope(source: "/t", correlationId: nil, causationId: nil, data: OpenWorkOrder.example), appId: "t"),
        ]
        #expect(messages.map(\.properties.priority) == [8, nil])
        #expect(try OutboxRows(messages).priorities == [8, -1])
    }

    @Test func aMovedMessageKeepsItsIdGainsItsPriorityAndNamesItsPublisherInAHeader() throws {
        var prioritized = WorkOrderPrioritized.example
        prioritized.level = 3
        prioritized.reiterated = true
        var message = try EnvelopeCodec.outgoing(Envelope(id: "m-9", source: "/t", correlationId: nil, causationId: nil, data: prioritized), appId: "t")
        message.properties.priority = nil
        message.properties.userId = "priority"
        let delivery = Delivery(
            deliveryTag: 1, session: 1, redelivered: false, exchange: "ot.events", routingKey: "workorder.prioritized", consumerTag: "",
            properties: message.properties, body: message.body)
        let moved = QueueReplacement.moved(delivery, to: "operations.dispatch", prioritize: true)
        #expect(moved.exchange == "" && moved.routingKey == "operations.dispatch" && moved.body == message.body)
        #expect(moved.properties.messageId == "m-9" && moved.properties.priority == 4)
        #expect(moved.properties.userId == nil && moved.properties.headers[Provenance.userHeader] == "priority")
        #expect(QueueReplacement.moved(delivery, to: "x", prioritize: false).properties.priority == nil)
        #expect(QueueReplacement.priority(ofBody: Array("not json".utf8), type: nil) == nil)
        #expect(QueueReplacement.priority(ofBody: message.body, type: nil) == 4, "the type read from the envelope")
    }
}
