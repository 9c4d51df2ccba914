import AMQP
import Foundation
import Logging

/// A service's configuration, read from environment variables with defaults that work against the
/// local setup (`deploy/local/servers.sh`).
public struct ServiceConfiguration: Sendable {
    /// `SERVICE_NAME` — the service's name: its queues (`<name>.commands`, `<name>.events`,
    /// `<name>.dead`), its PostgreSQL schema and its CloudEvents `source` (`/ot/<name>`).
    public var name: String
    /// `AMQP_URL` — broker URL, default `amqp://<name>:<name>-local@localhost:5672/ot`.
    public var amqpURL: AMQPURL
    /// `DATABASE_URL` — PostgreSQL URL, default `postgres://ot:ot-local@127.0.0.1:5432/ot`.
    public var database: DatabaseURL
    /// `HTTP_PORT` — port of `/health/live`, `/health/ready` and `/metrics`; 0 picks a free one.
    public var httpPort: Int
    /// `HTTP_HOST` — address the HTTP endpoint binds, default `127.0.0.1` (`0.0.0.0` in containers).
    public var httpHost: String
    /// `LOG_LEVEL` — trace, debug, info (default), notice, warning, error, critical.
    public var logLevel: Logger.Level
    /// `PREFETCH` — unacknowledged deliveries the broker may push to each consumer (default 512).
    public var prefetch: UInt16
    /// `BATCH_SIZE` — messages handled in one database transaction (default 64).
    public var batchSize: Int
    /// `BATCH_WAIT_MS` — how long a partial batch waits for more messages (default 5 ms).
    public var batchWait: Duration
    /// `WORKERS` — batches handled concurrently per consumer (default 4).
    public var workers: Int
    /// `DB_POOL_SIZE` — maximum PostgreSQL connections (default 16).
    public var databasePoolSize: Int
    /// `RETRY_DELAYS_MS` — comma-separated delays of the retry queues (default `1000,5000,30000`);
    /// the last one repeats until `MAX_ATTEMPTS`.
    public var retryDelays: [Duration]
    /// `MAX_ATTEMPTS` — deliveries of one message before a transient failure becomes a dead letter
    /// (default 10).
    public var maxAttempts: Int
    /// `PARK_TIMEOUT_MS` — how long a command naming something not known yet waits (parked in
    /// the service's database, run again as soon as its subject appears) before it is rejected
    /// (default 600000: ten minutes). See ``Rejection/mayBeLate``.
    public var parkTimeout: Duration
    /// `TIMER_TICK_MS` — how often the shared timers look for due deadlines and the parking
    /// service for expired parked messages (default 1000).
    public var timerTick: Duration
    /// `TIMER_BATCH` — due timers fired per round (one transaction); default 256.
    public var timerBatch: Int
    /// `TIMER_CONCURRENCY` — rounds of due timers run side by side (each its own transaction);
    /// default 1.
    public var timerConcurrency: Int
    /// `CLOCK_OFFSET_SECONDS` — shifts the service clock (demos, end-to-end tests of deadlines;
    /// default 0).
    public var clockOffset: TimeInterval
    /// `TRANSACTION_TIMEOUT_MS` — bound on one batch transaction (default 10000); past it the
    /// batch is retried (see ``withDeadline(_:_:_:)``).
    public var transactionTimeout: Duration
    /// `OUTBOX_BATCH` — outbox rows published per relay round (default 500).
    public var outboxBatch: Int
    /// `OPERATIONS_QUEUE_MAX_LENGTH` — bound on `operations.dispatch`, for the service that
    /// declares it (default 100000, ``ServiceCatalog/operationsQueueMaxLength``); past it the
    /// oldest lowest-priority messages move to `operations.dispatch.overflow`. Changing it on an
    /// existing queue replaces the queue at start-up (its messages are moved over).
    public var operationsQueueMaxLength: Int64
    /// `QUEUE_WATCH_INTERVAL_MS` — how often watched queues (``WatchedQueue``) are sampled
    /// (default 5000).
    public var queueWatchInterval: Duration

    public init(name: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let env = environment
        let name = env["SERVICE_NAME"] ?? name
        self.name = name
        do {
            amqpURL = try AMQPURL(string: env["AMQP_URL"] ?? "amqp://\(name):\(name)-local@localhost:5672/ot")
        } catch {
            throw ConfigurationError(key: "AMQP_URL", problem: "\(error)")
        }
        database = try DatabaseURL(env["DATABASE_URL"] ?? "postgres://ot:ot-local@127.0.0.1:5432/ot")
        httpPort = try Self.int(env, "HTTP_PORT", default: 8080)
        httpHost = env["HTTP_HOST"] ?? "127.0.0.1"
        let level = env["LOG_LEVEL"] ?? "info"
        guard let l = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError(key: "LOG_LEVEL", problem: "unknown level \(level)")
        }
        logLevel = l
        prefetch = UInt16(clamping: try Self.int(env, "PREFETCH", default: 512))
        batchSize = max(1, try Self.int(env, "BATCH_SIZE", default: 64))
        batchWait = .milliseconds(try Self.int(env, "BATCH_WAIT_MS", default: 5))
        workers = max(1, try Self.int(env, "WORKERS", default: 4))
        databasePoolSize = max(2, try Self.int(env, "DB_POOL_SIZE", default: 16))
        let delays = (env["RETRY_DELAYS_MS"] ?? "1000,5000,30000").split(separator: ",")  // = ServiceCatalog.defaultRetryDelays
        retryDelays = try delays.map { part in
            guard let ms = Int(part.trimmingCharacters(in: .whitespaces)), ms > 0 else {
                throw ConfigurationError(key: "RETRY_DELAYS_MS", problem: "not a list of positive integers")
            }
            return .milliseconds(ms)
        }
        if retryDelays.isEmpty { throw ConfigurationError(key: "RETRY_DELAYS_MS", problem: "empty") }
        maxAttempts = max(1, try Self.int(env, "MAX_ATTEMPTS", default: 10))
        outboxBatch = max(1, try Self.int(env, "OUTBOX_BATCH", default: 500))
        operationsQueueMaxLength = Int64(
            max(1, try Self.int(env, "OPERATIONS_QUEUE_MAX_LENGTH", default: Int(ServiceCatalog.operationsQueueMaxLength))))
        queueWatchInterval = .milliseconds(max(100, try Self.int(env, "QUEUE_WATCH_INTERVAL_MS", default: 5000)))
        parkTimeout = .milliseconds(max(0, try Self.int(env, "PARK_TIMEOUT_MS", default: 600_000)))
        timerTick = .milliseconds(max(10, try Self.int(env, "TIMER_TICK_MS", default: 1000)))
        timerBatch = max(1, try Self.int(env, "TIMER_BATCH", default: 256))
        timerConcurrency = min(8, max(1, try Self.int(env, "TIMER_CONCURRENCY", default: 1)))
        guard let offset = TimeInterval(env["CLOCK_OFFSET_SECONDS"] ?? "0") else {
            throw ConfigurationError(key: "CLOCK_OFFSET_SECONDS", problem: "not a number")
        }
        clockOffset = offset
        transactionTimeout = .milliseconds(max(100, try Self.int(env, "TRANSACTION_TIMEOUT_MS", default: 10_000)))
    }

    static func int(_ env: [String: String], _ key: String, default value: Int) throws -> Int {
        guard let text = env[key] else { return value }
        guard let v = Int(text) else { throw ConfigurationError(key: key, problem: "not an integer: \(text)") }
        return v
    }
}

/// A configuration variable with an unusable value.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var key: String
    public var problem: String
    public var description: String { "configuration \(key): \(problem)" }
}

/// A parsed `postgres://user:password@host:port/database?sslmode=…` URL.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// `sslmode=require` / `verify-full` turn TLS on; anything else (default) leaves it off.
    public var requireTLS: Bool

    public init(_ string: String) throws {
        guard let c = URLComponents(string: string), ["postgres", "postgresql"].contains(c.scheme ?? "") else {
            throw ConfigurationError(key: "DATABASE_URL", problem: "expected postgres://user:password@host:port/database")
        }
        host = c.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        port = c.port ?? 5432
        user = c.user?.removingPercentEncoding ?? "postgres"
        password = c.password?.removingPercentEncoding
        var path = c.path
        if path.hasPrefix("/") { path.removeFirst() }
        database = path.isEmpty ? user : path
        let mode = c.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        requireTLS = ["require", "verify-ca", "verify-full"].contains(mode)
    }

    public var description: String { "postgres://\(user):***@\(host):\(port)/\(database)" }
}
