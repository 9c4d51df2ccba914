import Logging
import NIOCore
import PostgresNIO

/// One schema migration: statements applied in order, once, inside one transaction.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    public var statements: [String]

    public init(_ version: Int, _ name: String, _ statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// PostgreSQL set-up shared by the services.
public enum Database {
    /// Whether the table or view `name` (`schema.relation`) exists: a report of a service whose
    /// schema was never created answers nil instead of failing.
    public static func exists(_ name: String, on conn: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await conn.query("SELECT to_regclass(\(name)) IS NOT NULL", logger: logger).collect()
        return try rows.first?.decode(Bool.self) == true
    }

    /// A connection pool for the URL; run it as a `Service` in the service group. With `schema`,
    /// every connection's `search_path` is that schema: the kit's statements name no schema and
    /// are prepared once per connection.
    ///
    /// `abandonedTransactionTimeout` becomes the server's `idle_in_transaction_session_timeout`:
    /// a transaction whose client stopped talking (a batch that ran past its deadline and was
    /// given up, a task that hangs) is ended by the server after that long, so the row locks it
    /// holds cannot stall the rows' other users — the parking and timer rounds skip locked rows
    /// — for longer.
    ///
    /// `plan_cache_mode = force_generic_plan` with `enable_seqscan = off`: the statements are
    /// prepared once per connection and planned once. Left to itself PostgreSQL settles on a
    /// generic plan after five runs, planned when the tables were nearly empty (a new service, a
    /// new month) — sequential scans that it then keeps while the tables grow (damage-report
    /// benchmark: PostgreSQL at 105 % of a core for 363–438 reports/s in some runs). Custom plans
    /// cured that but planned every execution (30 % of PostgreSQL's CPU, 816–874/s); a generic
    /// plan without sequential scans walks the indexes whatever the tables held when it was made
    /// (PostgreSQL 46–49 %, 942–1,017/s). A statement with no usable index still scans.
    public static func makeClient(
        _ url: DatabaseURL, poolSize: Int, schema: String? = nil, abandonedTransactionTimeout: Duration = .seconds(60), logger: Logger
    ) -> PostgresClient {
        var config = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
            tls: url.requireTLS ? .require(.makeClientConfiguration()) : .disable)
        config.options.maximumConnections = poolSize
        config.options.minimumConnections = 1
        config.options.connectTimeout = .seconds(3)
        let idle = abandonedTransactionTimeout.components
        let idleMilliseconds = max(1, idle.seconds * 1000 + idle.attoseconds / 1_000_000_000_000_000)
        config.options.additionalStartupParameters = [
            ("idle_in_transaction_session_timeout", "\(idleMilliseconds)"), ("plan_cache_mode", "force_generic_plan"),
            ("enable_seqscan", "off"),
        ]
        if let schema { config.options.additionalStartupParameters.append(("search_path", schema)) }
        return PostgresClient(configuration: config, backgroundLogger: logger)
    }

    /// Applies the runtime's own tables (inbox, outbox) and then the service's migrations to the
    /// service's schema, each at most once, under an advisory lock so that several instances can
    /// start together.
    public static func migrate(
        _ client: PostgresClient, schema: String, migrations: [Migration], logger: Logger
    ) async throws {
        precondition(schema.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "schema must be an identifier")
        try await client.withTransaction(logger: logger) { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(hashtext(\("migrate:" + schema)))", logger: logger)
            try await conn.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: schema)", logger: logger)
            try await conn.query(
                """
                CREATE TABLE IF NOT EXISTS \(unescaped: schema).schema_migrations (
                    component text NOT NULL, version int NOT NULL, name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))
                """, logger: logger)
            var applied = Set<String>()
            for try await (component, version) in try await conn.query(
                "SELECT component, version FROM \(unescaped: schema).schema_migrations", logger: logger
            ).decode((String, Int).self) {
                applied.insert("\(component)/\(version)")
            }
            let runtime =
                runtimeMigrations(schema) + [
                    kitMigration(schema), outboxTraceMigration(schema), timersOrderMigration(schema), outboxPriorityMigration(schema),
                    timerJoinMigration(schema), keyedIndexesMigration(schema),
                ]
            for (component, list) in [("runtime", runtime), ("service", migrations)] {
                for m in list.sorted(by: { $0.version < $1.version }) where !applied.contains("\(component)/\(m.version)") {
                    for statement in m.statements {
                        try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await conn.query(
                        "INSERT INTO \(unescaped: schema).schema_migrations (component, version, name) VALUES (\(component), \(m.version), \(m.name))",
                        logger: logger)
                    logger.info("applied migration", metadata: ["db.schema": "\(schema)", "migration": "\(component)/\(m.version) \(m.name)"])
                }
            }
        }
    }

    static func runtimeMigrations(_ s: String) -> [Migration] {
        [
            Migration(
                1, "inbox and outbox",
                [
                    """
                    CREATE TABLE \(s).inbox (
                        message_id text PRIMARY KEY,
                        message_type text NOT NULL,
                        outcome text NOT NULL,
                        received_at timestamptz NOT NULL DEFAULT now())
                    """,
                    "CREATE INDEX inbox_received_at ON \(s).inbox (received_at)",
                    """
                    CREATE TABLE \(s).outbox (
                        id bigserial PRIMARY KEY,
                        exchange text NOT NULL,
                        routing_key text NOT NULL,
                        message_id text NOT NULL,
                        message_type text,
                        correlation_id text,
                        content_type text,
                        headers text NOT NULL DEFAULT '{}',
                        body bytea NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        attempts int NOT NULL DEFAULT 0,
                        next_attempt_at timestamptz NOT NULL DEFAULT now(),
                        last_error text)
                    """,
                    "CREATE INDEX outbox_due ON \(s).outbox (next_attempt_at, id)",
                ]),
        ]
    }
}
