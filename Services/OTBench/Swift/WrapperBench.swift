import AMQP
import Foundation
import Logging

/// Raw wrapper rates: publish-with-confirms into a quorum queue, then consume-with-ack from it —
/// the same two loops as the C baseline (`amqp-c-baseline`), through ``AMQPConnection``.
struct WrapperBench {
    var url: AMQPURL
    var messages: Int
    var size: Int
    var confirmBatch: Int
    var prefetch: UInt16

    struct Result {
        var publishRate: Double
        var consumeRate: Double
        /// User + system CPU seconds of this process over the whole run (connect to delete).
        var cpuSeconds: Double
        /// User + system CPU seconds of the consume phase alone (consume to the last delivery).
        var consumeCPUSeconds: Double? = nil
    }

    func run(logger: Logger) async throws -> Result {
        let cpu0 = processCPUSeconds()
        let queue = "otbench.wrapper.\(UUID().uuidString.prefix(8).lowercased())"
        let conn = AMQPConnection(configuration: .init(url: url, name: "bench-pub"), logger: logger)
        let consumer = AMQPConnection(configuration: .init(url: url, name: "bench-con"), logger: logger)
        conn.start()
        do {
            let r = try await measure(conn, consumer, queue)
            await consumer.shutdown()
            await conn.shutdown()
            let result = Result(
                publishRate: r.0, consumeRate: r.1, cpuSeconds: processCPUSeconds() - cpu0, consumeCPUSeconds: r.2)
            note("Swift wrapper", result, messages: messages)
            return result
        } catch {
            try? await conn.deleteQueue(queue)
            await consumer.shutdown()
            await conn.shutdown()
            throw error
        }
    }

    private func measure(_ conn: AMQPConnection, _ consumer: AMQPConnection, _ queue: String) async throws -> (
        Double, Double, Double
    ) {
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
            if let bad = outcomes.first(where: { $0 != .confirmed }) { throw BenchError("unconfirmed publish: \(bad)") }
            sent += n
        }
        let publishSeconds = seconds(ContinuousClock.now - publishStart)

        consumer.start()
        try await consumer.waitUntilConnected()
        let consumeStart = ContinuousClock.now
        let consumeCPU0 = processCPUSeconds()
        let c = try await consumer.consume(queue: queue, prefetch: prefetch)
        let ackEvery = max(1, Int(prefetch) / 4)
        var received = 0
        for await delivery in c.deliveries {
            received += 1
            // Acknowledge in groups, as a batch consumer would.
            if received % ackEvery == 0 || received == messages { consumer.ack(delivery, multiple: true) }
            if received == messages { break }
        }
        let consumeSeconds = seconds(ContinuousClock.now - consumeStart)
        let consumeCPU = processCPUSeconds() - consumeCPU0
        guard received == messages else { throw BenchError("consumer stream ended after \(received) of \(messages)") }
        try await consumer.cancel(c)
        try await conn.deleteQueue(queue)
        return (Double(messages) / publishSeconds, Double(messages) / consumeSeconds, consumeCPU)
    }
}

/// One line on stderr with the consume phase's CPU, which the table does not show.
func note(_ who: String, _ r: WrapperBench.Result, messages: Int) {
    guard let cpu = r.consumeCPUSeconds else { return }
    let line =
        "[otbench] raw: \(who) consume phase: \(fmtInt(r.consumeRate)) msg/s, \(fmt(cpu, 3)) CPU s "
        + "(\(fmt(cpu / Double(messages) * 1e6, 2)) µs/msg)\n"
    FileHandle.standardError.write(Data(line.utf8))
}

/// The same loops in C (`amqp-c-baseline`, from this executable's build folder), as a subprocess.
struct CBaseline {
    var url: AMQPURL
    var messages: Int
    var size: Int
    var confirmBatch: Int
    var prefetch: UInt16

    func run() throws -> WrapperBench.Result {
        let exe = buildFolder().appendingPathComponent("amqp-c-baseline").path
        guard FileManager.default.isExecutableFile(atPath: exe) else {
            throw BenchError("\(exe) not found: build it (swift build --product amqp-c-baseline) or pass --skip-c")
        }
        if url.tls { throw BenchError("the C baseline speaks plain AMQP only (amqps:// given)") }
        let queue = "otbench.c.\(UUID().uuidString.prefix(8).lowercased())"
        let r = try OTBench.run(
            exe,
            [url.host, "\(url.port)", url.vhost, url.user, url.password, queue, "\(messages)", "\(size)", "\(confirmBatch)", "\(prefetch)"])
        guard r.status == 0 else { throw BenchError("amqp-c-baseline exited \(r.status): \(r.stderr)") }
        var values: [String: Double] = [:]
        for field in r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let kv = field.split(separator: "=", maxSplits: 1)
            if kv.count == 2, let v = Double(kv[1]) { values[String(kv[0])] = v }
        }
        guard let p = values["publish_rate"], let c = values["consume_rate"], let cpu = values["cpu_seconds"] else {
            throw BenchError("cannot read amqp-c-baseline output: \(r.stdout)")
        }
        let result = WrapperBench.Result(
            publishRate: p, consumeRate: c, cpuSeconds: cpu, consumeCPUSeconds: values["consume_cpu_seconds"])
        note("C baseline", result, messages: messages)
        return result
    }
}
