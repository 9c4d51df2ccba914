import AMQP
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Runs an ``AMQPConnection`` as a service: starts it, and closes it on graceful shutdown (after
/// the services listed after it in the group have stopped).
public struct AMQPConnectionService: Service {
    public let connection: AMQPConnection
    public let topology: Topology

    public init(_ connection: AMQPConnection, topology: Topology = Topology()) {
        self.connection = connection
        self.topology = topology
    }

    public func run() async throws {
        connection.start()
        if !topology.exchanges.isEmpty || !topology.queues.isEmpty {
            try await connection.declare(topology)
        }
        try? await gracefulShutdown()
        await connection.shutdown()
    }
}

/// Keeps track of whether PostgreSQL answers (`SELECT 1` every second), for readiness.
public final class DatabaseProbe: Service, Sendable {
    let postgres: PostgresClient
    let logger: Logger
    let healthy = Mutex(false)

    public init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    public var isHealthy: Bool { healthy.withLock { $0 } }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let ok: Bool
            do {
                let logger = self.logger
                try await postgres.withConnection(within: .seconds(5), "database probe") { conn in
                    _ = try await conn.query("SELECT 1", logger: logger)
                }
                ok = true
            } catch {
                ok = false
            }
            let changed = healthy.withLock { h -> Bool in
                defer { h = ok }
                return h != ok
            }
            if changed { logger.info(ok ? "database reachable" : "database unreachable") }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
