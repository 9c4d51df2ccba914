import AMQP
import Foundation
import Contracts
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Synchronization

/// Everything one service executable runs, wired in one `ServiceGroup`:
///
/// 1. the PostgreSQL pool (its connections' `search_path` is the service's schema), 2. the
/// consumer and publisher AMQP connections, 3. the start-up step (schema migrations, broker
/// topology), 4. the outbox relay, 5. one consumer per input queue, 6. the shared timers and the
/// parking service, 7. extra services, 8. the HTTP health/metrics endpoint.
///
/// SIGTERM / SIGINT shut the group down gracefully in reverse order: the HTTP endpoint and the
/// consumers stop first (in-flight batches finish and are acknowledged), then the relay publishes
/// what they wrote, then the connections close.
public struct PlatformService: Sendable {
    public var configuration: ServiceConfiguration
    public var definition: ServiceDefinition
    public var clock: any WallClock

    public init(configuration: ServiceConfiguration, definition: ServiceDefinition, clock: (any WallClock)? = nil) {
        self.configuration = configuration
        self.definition = definition
        self.clock = clock ?? SystemClock(offset: configuration.clockOffset)
    }

    /// Runs `definition` with the configuration of the environment until SIGTERM / SIGINT.
    public static func run(_ definition: ServiceDefinition, environment: [String: String] = ProcessInfo.processInfo.environment)
        async throws
    {
        let configuration = try ServiceConfiguration(name: definition.name, environment: environment)
        try await PlatformService(configuration: configuration, definition: definition).run()
    }

    /// The broker objects this service declares (the operations center's queue, when it declares
    /// it, with the configured bound).
    public var topology: ServiceTopology {
        var t = definition.topology(retryDelays: configuration.retryDelays, serviceName: configuration.name)
        t.extra.bound(queue: ServiceCatalog.operationsQueue, maxLength: configuration.operationsQueueMaxLength)
        return t
    }

    /// What a service's own extra services (an HTTP endpoint of its own) may use.
    public struct Resources: Sendable {
        public let postgres: PostgresClient
        public let relay: OutboxRelay
        /// Inputs decided like deliveries, from inside the service.
        public let inputs: LocalInputs
        public let logger: Logger
        /// The publisher connection (confirms), for a service that publishes what it did not
        /// decide itself (the console's commands from HTTP), and the broker user it is.
        public let publisher: AMQPConnection
        public let brokerUser: String
        /// The consumer connection, for reading queues (dead letters).
        public let consumer: AMQPConnection
    }

    /// Runs `definition` with the configuration of the environment, plus `extraServices`, until
    /// SIGTERM / SIGINT.
    public static func run(
        _ definition: ServiceDefinition, environment: [String: String] = ProcessInfo.processInfo.environment,
        extraServices: @Sendable (Resources) -> [any Service]
    ) async throws {
        let configuration = try ServiceConfiguration(name: definition.name, environment: environment)
        try await PlatformService(configuration: configuration, definition: definition).run(extraServices: extraServices)
    }

    /// Runs until SIGTERM / SIGINT.
    public func run(extraServices: @Sendable (Resources) -> [any Service] = { _ in [] }) async throws {
        let config = configuration
        let registry = Observability.bootstrap(level: config.logLevel)
        var logger = Logger(label: "ot.\(config.name)")
        logger[metadataKey: "service"] = "\(config.name)"
        logger.info("starting", metadata: ["amqp.url": "\(config.amqpURL)", "db.url": "\(config.database)"])
        try definition.validate(serviceName: config.name)

        // Longer than any transaction the service keeps open on purpose (a batch: the transaction
        // timeout; a relay round: 30 s).
        let postgres = Database.makeClient(
            config.database, poolSize: config.databasePoolSize, schema: config.name,
            abandonedTransactionTimeout: max(.seconds(60), config.transactionTimeout * 6), logger: logger)
        let consumerConnection = AMQPConnection(
            configuration: .init(url: config.amqpURL, name: "\(config.name)-consumer"), logger: logger)
        let publisherConnection = AMQPConnection(
            configuration: .init(url: config.amqpURL, name: "\(config.name)-publisher"), logger: logger)
        let gate = StartupGate()
        let startup = StartupService(
            postgres: postgres, schema: config.name, migrations: definition.migrations, amqp: consumerConnection,
            topology: topology.topology, replaceable: topology.extra, gate: gate, logger: logger)
        let relay = OutboxRelay(
            postgres: postgres, amqp: publisherConnection, schema: config.name, batch: config.outboxBatch,
            publisherUser: config.amqpURL.user, logger: logger)
        let engine = Engine(
            service: config.name, routes: definition.routes,
            aggregates: Dictionary(uniqueKeysWithValues: definition.aggregates.map { ($0.kind, $0) }), emits: definition.emits,
            parkTimeout: config.parkTimeout, logger: logger)
        let runner = BatchRunner(
            engine: engine, postgres: postgres, relay: relay, clock: clock, transactionTimeout: config.transactionTimeout,
            logger: logger)
        let provenance = Provenance(ownUser: config.amqpURL.user)
        let consumers = topology.inputs.map { input in
            GatedService(
                gate: gate,
                MessageConsumer(
                    input: input, configuration: config, amqp: consumerConnection, runner: runner, provenance: provenance,
                    logger: logger))
        }
        let timers = TimerService(
            runner: runner, interval: config.timerTick, batch: config.timerBatch, concurrency: config.timerConcurrency, logger: logger)
        let parking = ParkingService(
            runner: runner, parser: MessageParser(provenance: provenance), interval: config.timerTick, logger: logger)
        let probe = DatabaseProbe(postgres: postgres, logger: logger)
        let watch =
            definition.watched.isEmpty
            ? nil
            : QueueWatch(
                queues: definition.watched, amqp: consumerConnection, service: config.name, interval: config.queueWatchInterval,
                logger: logger)
        let health = HealthServer(
            host: config.httpHost, port: config.httpPort, registry: registry, logger: logger,
            readiness: { consumerConnection.isConnected && publisherConnection.isConnected && probe.isHealthy && gate.isOpen },
            warnings: { watch?.warnings ?? [] })

        var services: [any Service] = [
            postgres, AMQPConnectionService(consumerConnection), AMQPConnectionService(publisherConnection), probe,
            startup, GatedService(gate: gate, relay),
        ]
        services += consumers
        services += [GatedService(gate: gate, timers), GatedService(gate: gate, parking)]
        if let watch { services.append(GatedService(gate: gate, watch)) }
        services += extraServices(Resources(
                postgres: postgres, relay: relay, inputs: LocalInputs(runner: runner), logger: logger, publisher: publisherConnection,
                brokerUser: config.amqpURL.user, consumer: consumerConnection))
            .map { GatedService(gate: gate, $0) }
        services.append(health)
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { service in
                    // Start-up finishes early by design; every other service ending ends the group.
                    service is StartupService
                        ? .init(service: service, successTerminationBehavior: .ignore)
                        : .init(service: service)
                },
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [], logger: logger))
        try await group.run()
        logger.info("stopped")
    }
}

/// Logging and metrics bootstrap, once per process.
public enum Observability {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Bootstraps swift-log (stdout, the given level) and swift-metrics (Prometheus); returns the
    /// registry `/metrics` reads.
    @discardableResult
    public static func bootstrap(level: Logger.Level) -> PrometheusCollectorRegistry {
        state.withLock { s in
            if let r = s { return r }
            let registry = PrometheusCollectorRegistry()
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardOutput(label: label)
                h.logLevel = level
                return EscapingLogHandler(h)
            }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            s = registry
            return registry
        }
    }
}

/// Opens once start-up (migrations, topology) is done; services behind it wait.
public final class StartupGate: Sendable {
    private struct State {
        var open = false
        var abandoned = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    public init() {}

    public var isOpen: Bool { state.withLock { $0.open } }

    /// Lets every waiter through: start-up is done.
    public func open() { release { $0.open = true } }

    /// Lets every waiter through without opening (shutdown came first).
    public func abandon() { release { $0.abandoned = true } }

    private func release(_ change: (inout State) -> Void) {
        let ws = state.withLock { s in
            change(&s)
            let w = s.waiters
            s.waiters = []
            return w
        }
        for w in ws { w.resume() }
    }

    /// Returns once the gate is open or abandoned.
    public func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.open || s.abandoned { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}

/// Runs a service once the gate opens (or returns if shutdown comes first).
public struct GatedService: Service {
    let gate: StartupGate
    let service: any Service

    public init(gate: StartupGate, _ service: any Service) {
        self.gate = gate
        self.service = service
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await gate.wait()
        } onGracefulShutdown: {
            gate.abandon()
        }
        guard gate.isOpen else {
            // Shutdown came before start-up finished. Return only when this service's own turn
            // comes: the gate is abandoned at the first service's, and a service that ends before
            // its turn is an unexpected end to the service group (a fatal error).
            try? await gracefulShutdown()
            return
        }
        try await service.run()
    }
}

/// Applies migrations and declares the topology (retrying until PostgreSQL and RabbitMQ answer),
/// then opens the gate. The queues of `replaceable` (the service's extra objects) that exist
/// declared otherwise are replaced first (``QueueReplacement``).
struct StartupService: Service {
    let postgres: PostgresClient
    let schema: String
    let migrations: [Migration]
    let amqp: AMQPConnection
    let topology: Topology
    let replaceable: Topology
    let gate: StartupGate
    let logger: Logger

    func run() async throws {
        var backoff = Duration.milliseconds(200)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // A step waiting for a server that does not answer (a connection from the pool)
                // is cancelled by SIGTERM: shutdown never waits for start-up.
                try await cancelWhenGracefulShutdown {
                    try await Database.migrate(postgres, schema: schema, migrations: migrations, logger: logger)
                    try await amqp.waitUntilConnected(timeout: .seconds(30))
                    for queue in replaceable.queues {
                        try await QueueReplacement(
                            amqp: amqp, exchanges: topology.exchanges, queue: queue,
                            bindings: replaceable.bindings.filter { $0.queue == queue.name }, logger: logger
                        ).run()
                    }
                    try await amqp.declare(topology)
                }
                logger.info("start-up complete: schema migrated, topology declared")
                gate.open()
                return
            } catch where Task.isShuttingDownGracefully || Task.isCancelled {
                logger.info("start-up abandoned: shutting down")
                return
            } catch {
                logger.warning("start-up step failed; retrying", metadata: ["error": "\(error)", "retry.in": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
