import AMQP
import Foundation
import Testing

/// The AMQP wrapper against the real broker.
@Suite("AMQP wrapper against RabbitMQ", .serialized)
struct AMQPWrapperTests {
    func message(_ key: String, _ text: String, exchange: String = "") -> OutgoingMessage {
        OutgoingMessage(exchange: exchange, routingKey: key, body: Array(text.utf8), properties: MessageProperties(messageId: text))
    }

    @Test func anUnroutableMandatoryMessageIsReturnedNotLost() async throws {
        try await withTestSystem("amqp-ret") { system in
            let c = try await system.connect("wrapper")
            try await c.declare(Topology(exchanges: [.init(name: "t.x", kind: .topic)], queues: [.quorum("t.q")], bindings: [.init(queue: "t.q", exchange: "t.x", routingKey: "a.*")]))
            let outcomes = try await c.publish([message("a.b", "routed", exchange: "t.x"), message("z.z", "nowhere", exchange: "t.x"), message("a.c", "routed-2", exchange: "t.x")])
            #expect(outcomes[0] == .confirmed && outcomes[2] == .confirmed)
            guard case .returned(let code, let text) = outcomes[1] else {
                Issue.record("expected a return, got \(outcomes[1])")
                return
            }
            #expect(code == 312 && text == "NO_ROUTE")
            #expect(try await c.queueStatus("t.q").messages == 2)
        }
    }

    @Test func consumersGetPrefetchedDeliveriesAndNackRequeueRedelivers() async throws {
        try await withTestSystem("amqp-con") { system in
            let c = try await system.connect("wrapper")
            try await c.declare(Topology(queues: [.quorum("t.q")]))
            _ = try await c.publish((0..<20).map { message("t.q", "m\($0)") })
            let consumer = try await c.consume(queue: "t.q", prefetch: 5)
            var bodies: [String] = []
            var redelivered = 0
            for await d in consumer.deliveries {
                let text = String(decoding: d.body, as: UTF8.self)
                if text == "m3" && !d.redelivered {
                    c.nack(d, requeue: true)
                    continue
                }
                if d.redelivered { redelivered += 1 }
                bodies.append(text)
                c.ack(d)
                if bodies.count == 20 { break }
            }
            #expect(Set(bodies) == Set((0..<20).map { "m\($0)" }))
            #expect(redelivered == 1, "the nacked message came back once, flagged redelivered")
            try await c.cancel(consumer)
            #expect(await eventually(timeout: .seconds(5)) { (try? await c.queueStatus("t.q").messages) == 0 })
        }
    }

    @Test func aRejectedDeliveryGoesToTheDeadLetterExchange() async throws {
        try await withTestSystem("amqp-rej") { system in
            let c = try await system.connect("wrapper")
            try await c.declare(
                Topology(queues: [
                    .quorum("t.dead"), .quorum("t.in", arguments: ["x-dead-letter-exchange": "", "x-dead-letter-routing-key": "t.dead"]),
                ]))
            #expect(try await c.publish(message("t.in", "poison")) == .confirmed)
            let fetched = try #require(try await c.get(queue: "t.in"))
            #expect(fetched.delivery.body == Array("poison".utf8))
            c.reject(fetched.delivery, requeue: false)
            #expect(await eventually(timeout: .seconds(5)) { (try? await c.queueStatus("t.dead").messages) == 1 })
            #expect(try await c.get(queue: "t.in") == nil)
            let dead = try #require(try await c.get(queue: "t.dead"))
            #expect(dead.delivery.properties.messageId == "poison")
            c.ack(dead.delivery)
        }
    }
}
