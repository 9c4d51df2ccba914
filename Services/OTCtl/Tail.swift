import AMQP
import ArgumentParser
import Contracts
import Foundation
import Runtime
import Synchronization

/// `otctl tail`: prints the messages flowing through `ot.events` (and `ot.commands`).
struct Tail: OTCtlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print events (and commands) as they are published.",
        discussion: """
            Binds a private queue (exclusive, auto-delete) to ot.events with each --key. Stops after \
            --count messages (exit 0), at --timeout (exit 1 when fewer than --count arrived) or on \
            Ctrl-C.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .customLong("key"),
        help: ArgumentHelp("Binding pattern, e.g. workorder.* or billing.# (repeatable; default #).", valueName: "pattern"))
    var keys: [String] = []

    @Flag(help: "Also bind to ot.commands with the same patterns.")
    var commands = false

    @Option(help: "Stop after this many messages.")
    var count: Int?

    @Option(help: "Stop after this many seconds.")
    var timeout: Double?

    @Flag(help: "Print each whole body as one JSON line.")
    var json = false

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let timeout, !(timeout > 0 && timeout < 1e9) { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    enum End: Sendable {
        case reached, timedOut, interrupted, streamEnded
    }

    func execute() async throws {
        let patterns = keys.isEmpty ? ["#"] : keys
        let queue = "otctl.tail.\(UUID().uuidString.prefix(8).lowercased())"
        var exchanges = [PlatformTopology.events]
        if commands { exchanges.append(PlatformTopology.commands) }
        let topology = Topology(
            queues: [.init(name: queue, durable: false, exclusive: true, autoDelete: true)],
            bindings: exchanges.flatMap { exchange in
                patterns.map { Topology.Binding(queue: queue, exchange: exchange, routingKey: $0) }
            })
        let seen = Counter()
        let (count, timeout, json) = (count, timeout, json)

        let end = try await Broker.withConnection(global) { amqp in
            try await amqp.declare(topology)
            let consumer = try await amqp.consume(queue: queue, prefetch: 200)
            Console.error("otctl: tailing \(exchanges.joined(separator: ", ")) (\(patterns.joined(separator: " "))); Ctrl-C to stop")
            let signals = InterruptSignals()
            defer { signals.stop() }
            let interrupts = signals.stream
            return await withTaskGroup(of: End.self) { group in
                group.addTask {
                    for await delivery in consumer.deliveries {
                        Console.line(json ? Data(delivery.body).singleLine : Self.line(delivery))
                        amqp.ack(delivery)
                        if let count, seen.increment() >= count { return .reached }
                    }
                    return Task.isCancelled ? .interrupted : .streamEnded
                }
                if let timeout {
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                        return .timedOut
                    }
                }
                group.addTask {
                    // Returns at the first signal, or when the group is cancelled.
                    for await _ in interrupts { break }
                    return .interrupted
                }
                let first = await group.next() ?? .streamEnded
                group.cancelAll()
                return first
            }
        }

        switch end {
        case .reached:
            return
        case .streamEnded:
            throw CLIError("the broker cancelled the tail consumer")
        case .timedOut, .interrupted:
            if let count {
                let n = seen.value
                let why = end == .timedOut ? "timed out" : "interrupted"
                throw CLIError("\(why) after \(n) of \(count) messages")
            }
        }
    }

    /// `time  type  id=…  corr=…  data summary`.
    static func line(_ d: Delivery) -> String {
        let body = Data(d.body)
        let header = try? Wire.decodeHeader(body)
        let time =
            header?.time
            ?? d.properties.timestamp.map { Date(timeIntervalSince1970: TimeInterval($0)) } ?? Date()
        let type = header?.type ?? d.properties.type ?? d.routingKey
        let id = header?.id ?? d.properties.messageId ?? "-"
        let correlation = header?.correlationid ?? d.properties.correlationId ?? "-"
        let summary: String
        if header != nil, let value = try? JSONText.parse(body) {
            summary = JSONText.summary(value["data"])
        } else {
            summary = "(not a CloudEvents envelope: \(d.body.count) bytes)"
        }
        return "\(Wire.timestamp(time))  \(type)  id=\(id)  corr=\(correlation)  \(summary)"
    }
}

/// A message count shared by the tail's tasks.
final class Counter: Sendable {
    private let count = Mutex(0)

    var value: Int { count.withLock { $0 } }

    /// Adds one; returns the new count.
    func increment() -> Int {
        count.withLock { n in
            n += 1
            return n
        }
    }
}

/// Ctrl-C and SIGTERM as a stream to await; until `stop()` the signals do not kill the process.
final class InterruptSignals {
    private let sources: [any DispatchSourceSignal]
    /// Yields once per signal received.
    let stream: AsyncStream<Void>

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        self.stream = stream
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield() }
            source.resume()
            return source
        }
    }

    /// Restores the default handling.
    func stop() {
        for source in sources {
            source.cancel()
            signal(Int32(source.handle), SIG_DFL)
        }
    }
}
