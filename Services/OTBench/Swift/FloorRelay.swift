import AMQP
import Contracts
import Foundation
import Logging
import Runtime
import Synchronization

/// A service's stand-in for a floor measurement: consumes the input from a quorum queue of its own
/// (prefetch 512, as the services), and for each batch of up to `batchSize` deliveries publishes
/// what `output` makes of each (as `publisher`, with confirms), then acks the batch; up to four
/// batches in flight (the services' `WORKERS`). No service and no database: what the broker and the
/// clients alone allow.
final class FloorRelay: Sendable {
    let queue: String
    let binding: (exchange: String, routingKey: String)
    let input: AMQPConnection
    let output: AMQPConnection
    let batchSize: Int
    let make: @Sendable (Delivery) -> OutgoingMessage?
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let failure = Mutex<String?>(nil)

    init(
        cluster: ServiceCluster, binding: (String, String), publisher: String, batchSize: Int = 256, logger: Logger,
        output make: @escaping @Sendable (Delivery) -> OutgoingMessage?
    ) {
        queue = "otbench.floor.\(binding.1)"
        self.binding = binding
        input = AMQPConnection(configuration: .init(url: cluster.url, name: "otbench-floor-in"), logger: logger)
        output = AMQPConnection(configuration: .init(url: cluster.url(as: publisher), name: "otbench-floor-out"), logger: logger)
        self.batchSize = batchSize
        self.make = make
    }

    func start() async throws {
        input.start()
        output.start()
        try await input.waitUntilConnected()
        try await output.waitUntilConnected()
        var topology = PlatformTopology.exchanges
        topology.queues.append(.quorum(queue))
        topology.bindings.append(.init(queue: queue, exchange: binding.exchange, routingKey: binding.routingKey))
        try await input.declare(topology)
        let consumer = try await input.consume(queue: queue, prefetch: 512)
        let batchSize = self.batchSize
        let t = Task { [self] in
            var deliveries = consumer.deliveries.makeAsyncIterator()
            await withTaskGroup(of: Void.self) { group in
                var inFlight = 0
                while let all = await deliveries.nextBatch() {
                    var start = 0
                    while start < all.count {
                        let batch = Array(all[start..<min(start + batchSize, all.count)])
                        start += batch.count
                        if inFlight == 4 {
                            await group.next()
                            inFlight -= 1
                        }
                        inFlight += 1
                        group.addTask { await self.relay(batch) }
                    }
                }
            }
        }
        task.withLock { $0 = t }
    }

    private func relay(_ batch: [Delivery]) async {
        let out = batch.compactMap(make)
        do {
            let outcomes = try await output.publish(out)
            guard out.count == batch.count, outcomes.allSatisfy({ $0 == .confirmed }) else {
                failure.withLock { $0 = $0 ?? "floor relay: a message was not confirmed or could not be made" }
                return
            }
            input.ack(batch)
        } catch {
            failure.withLock { $0 = $0 ?? "floor relay: \(error)" }
        }
    }

    /// The first failure, if any (the run then stalls and reports it).
    var error: String? { failure.withLock { $0 } }

    func stop() async {
        let t = task.withLock { $0 }
        t?.cancel()
        await t?.value
        await input.shutdown()
        await output.shutdown()
    }
}

/// A part that can also measure its floor: the same run with a ``FloorRelay`` standing in for the
/// service.
protocol FloorMeasurable {
    associatedtype Result
    /// Measures the floor instead of the service.
    var floor: Bool { get set }
    func run(janitor: Janitor) async throws -> Result
}

extension FloorMeasurable {
    /// Runs the part, then (unless `skipFloor`) its floor, set up by `adjust` from the service's result.
    func runWithFloor(
        skipFloor: Bool, janitor: Janitor, adjust: (inout Self, Result) -> Void = { _, _ in }
    ) async throws -> (Result, Result?) {
        let r = try await run(janitor: janitor)
        if skipFloor { return (r, nil) }
        progress("\(Self.self): its floor, a relay without service or database …")
        var f = self
        f.floor = true
        adjust(&f, r)
        return (r, try await f.run(janitor: janitor))
    }
}

extension HopBench: FloorMeasurable {}
extension BillingBench: FloorMeasurable {}
