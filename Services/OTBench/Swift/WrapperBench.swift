import AMQP
import Foundation
import Logging

/// Raw wrapper rates: publish-with-confirms into a quorum queue, then consume-with-ack from it.
struct WrapperBench {
    var url: AMQPURL
    var messages: Int
    var size: Int
    var confirmBatch: Int
    var prefetch: UInt16

    struct Result {
        var publishRate: Double
        var consumeRate: Double
    }

    func run(logger: Logger) async throws -> Result {
        let queue = "otbench.wrapper.\(UUID().uuidString.prefix(8).lowercased())"
        let conn = AMQPConnection(configuration: .init(url: url, name: "bench-pub"), logger: logger)
        conn.start()
        defer { Task { await conn.shutdown() } }
        try await conn.waitUntilConnected()
        try await conn.declare(Topology(queues: [.quorum(queue)]))
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let template = OutgoingMessage(
            exchange: "", routingKey: queue, body: body, properties: MessageProperties(contentType: "application/octet-stream"))

        let publishStart = ContinuousClock.now
        var sent = 0
        while sent < messages {
            let n = min(confirmBatch, messages - sent)
            let outcomes = try await conn.publish(Array(repeating: template, count: n))
            guard outcomes.allSatisfy({ $0 == .confirmed }) else { throw BenchError("unconfirmed publish: \(outcomes.first { $0 != .confirmed }!)") }
            sent += n
        }
        let publishSeconds = seconds(ContinuousClock.now - publishStart)

        let consumer = AMQPConnection(configuration: .init(url: url, name: "bench-con"), logger: logger)
        consumer.start()
        try await consumer.waitUntilConnected()
        let consumeStart = ContinuousClock.now
        let c = try await consumer.consume(queue: queue, prefetch: prefetch)
        var received = 0
        for await delivery in c.deliveries {
            received += 1
            // Acknowledge in groups, as a batch consumer would.
            if received % Int(max(1, prefetch / 4)) == 0 || received == messages { consumer.ack(delivery, multiple: true) }
            if received == messages { break }
        }
        let consumeSeconds = seconds(ContinuousClock.now - consumeStart)
        try await consumer.cancel(c)
        try await conn.deleteQueue(queue)
        await consumer.shutdown()
        await conn.shutdown()
        return Result(publishRate: Double(messages) / publishSeconds, consumeRate: Double(messages) / consumeSeconds)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
