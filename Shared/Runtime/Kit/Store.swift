import Foundation
import Logging
import NIOCore
import PostgresNIO

// The service kit's storage: a handful of fixed statements over the runtime's tables, the same
// for every service. The connections of a service's pool have `search_path` set to its schema
// (``Database/makeClient(_:poolSize:schema:logger:)``), so the SQL names no schema and each
// statement is prepared once per connection.
//
// Tables (runtime migration 2): `aggregates` (every aggregate's state as JSON, keyed by kind and
// id), `history`, `aliases`, `timers`, `parked`. Arrays stand in for rows (`unnest`), so one
// statement carries a whole batch; an empty string stands for NULL where arrays cannot hold it.

/// `INSERT … ON CONFLICT DO NOTHING RETURNING`: the message ids not seen before.
struct InboxInsert: PostgresPreparedStatement {
    static let sql = """
        INSERT INTO inbox (message_id, message_type, outcome)
        SELECT id, type, 'handled' FROM unnest($1::text[], $2::text[]) AS t(id, type)
        ON CONFLICT DO NOTHING RETURNING message_id
        """
    typealias Row = String
    var ids: [String]
    var types: [String]
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 2)
        b.append(ids)
        b.append(types)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(String.self) }
}

/// The inbox outcome of messages that were not simply handled (rejected, parked).
struct InboxOutcomes: PostgresPreparedStatement {
    static let sql = """
        UPDATE inbox SET outcome = u.o FROM unnest($1::text[], $2::text[]) AS u(i, o) WHERE inbox.message_id = u.i
        """
    typealias Row = ()
    var ids: [String]
    var outcomes: [String]
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 2)
        b.append(ids)
        b.append(outcomes)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// Which aggregate each secondary key names.
struct AliasLookup: PostgresPreparedStatement {
    static let sql = """
        SELECT a.kind, a.alias, a.id FROM aliases a JOIN unnest($1::text[], $2::text[]) AS k(kind, alias)
          ON a.kind = k.kind AND a.alias = k.alias
        """
    typealias Row = (String, String, String)
    var kinds: [String]
    var aliases: [String]
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 2)
        b.append(kinds)
        b.append(aliases)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode((String, String, String).self) }
}

/// The aggregates of a batch, locked for its transaction, in key order (no deadlock between
/// batches locking overlapping sets).
struct AggregateLoad: PostgresPreparedStatement {
    static let sql = """
        SELECT a.kind, a.id, a.data::text, a.version, a.correlation_id, a.last_message_id
        FROM aggregates a JOIN unnest($1::text[], $2::text[]) AS k(kind, id) ON a.kind = k.kind AND a.id = k.id
        ORDER BY a.kind, a.id
        FOR UPDATE OF a
        """
    typealias Row = (String, String, String, Int32, String?, String?)
    var kinds: [String]
    var ids: [String]
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 2)
        b.append(kinds)
        b.append(ids)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode((String, String, String, Int32, String?, String?).self)
    }
}

/// Writes back every aggregate a batch changed. A row is written only when its stored version
/// is the one loaded (or, for a new one, when nobody created it meanwhile): the caller compares
/// the number of rows returned with the number sent and re-runs the batch when they differ.
struct AggregateUpsert: PostgresPreparedStatement {
    static let sql = """
        INSERT INTO aggregates (kind, id, status, data, version, correlation_id, last_message_id, created_at, updated_at)
        SELECT k, i, s, d::jsonb, v, NULLIF(c, ''), m, $8, $8
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::text[], $7::text[]) AS t(k, i, s, d, v, c, m)
        ON CONFLICT (kind, id) DO UPDATE SET status = EXCLUDED.status, data = EXCLUDED.data, version = EXCLUDED.version,
            last_message_id = EXCLUDED.last_message_id, updated_at = EXCLUDED.updated_at
        WHERE aggregates.version = EXCLUDED.version - 1
        RETURNING 1
        """
    typealias Row = Int32
    var kinds: [String] = []
    var ids: [String] = []
    var statuses: [String] = []
    var data: [String] = []
    var versions: [Int32] = []
    var correlations: [String] = []
    var lastMessages: [String] = []
    var now: Date
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 8)
        b.append(kinds)
        b.append(ids)
        b.append(statuses)
        b.append(data)
        b.append(versions)
        b.append(correlations)
        b.append(lastMessages)
        b.append(now)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int32.self) }
}

/// The history lines of a batch, in one insert.
struct HistoryInsert: PostgresPreparedStatement {
    static let sql = """
        INSERT INTO history (kind, id, action, from_status, to_status, by, reason, details, at, message_id)
        SELECT k, i, a, NULLIF(f, ''), NULLIF(t, ''), NULLIF(b, ''), NULLIF(r, ''), NULLIF(d, '')::jsonb, $9, m
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $10::text[])
            WITH ORDINALITY AS h(k, i, a, f, t, b, r, d, m, n)
        ORDER BY n
        """
    typealias Row = ()
    var kinds: [String] = []
    var ids: [String] = []
    var actions: [String] = []
    var froms: [String] = []
    var tos: [String] = []
    var bys: [String] = []
    var reasons: [String] = []
    var details: [String] = []
    var at: Date
    var messageIds: [String] = []
    var isEmpty: Bool { kinds.isEmpty }
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 10)
        b.append(kinds)
        b.append(ids)
        b.append(actions)
        b.append(froms)
        b.append(tos)
        b.append(bys)
        b.append(reasons)
        b.append(details)
        b.append(at)
        b.append(messageIds)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// The final timer changes of a batch: clears and sets of distinct timers, in one statement.
struct TimersApply: PostgresPreparedStatement {
    static let sql = """
        WITH cleared AS (
            DELETE FROM timers t USING unnest($1::text[], $2::text[], $3::text[]) AS c(k, i, n)
            WHERE t.kind = c.k AND t.id = c.i AND t.name = c.n)
        INSERT INTO timers (kind, id, name, due_at)
        SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::timestamptz[])
        ON CONFLICT (kind, id, name) DO UPDATE SET due_at = EXCLUDED.due_at
        """
    typealias Row = ()
    var clearKinds: [String] = []
    var clearIds: [String] = []
    var clearNames: [String] = []
    var setKinds: [String] = []
    var setIds: [String] = []
    var setNames: [String] = []
    var setAt: [Date] = []
    var isEmpty: Bool { clearKinds.isEmpty && setKinds.isEmpty }
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 7)
        b.append(clearKinds)
        b.append(clearIds)
        b.append(clearNames)
        b.append(setKinds)
        b.append(setIds)
        b.append(setNames)
        b.append(setAt)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// New secondary keys (the first registration of a key wins).
struct AliasInsert: PostgresPreparedStatement {
    static let sql = """
        INSERT INTO aliases (kind, alias, id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
        ON CONFLICT (kind, alias) DO NOTHING
        """
    typealias Row = ()
    var kinds: [String] = []
    var aliases: [String] = []
    var ids: [String] = []
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 3)
        b.append(kinds)
        b.append(aliases)
        b.append(ids)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// Numbers from the service's sequences, one per entry of `sequences` (repeats allowed).
struct NumbersDraw: PostgresPreparedStatement {
    static let sql = "SELECT s, nextval(s::regclass) FROM unnest($1::text[]) WITH ORDINALITY AS q(s, n) ORDER BY n"
    typealias Row = (String, Int64)
    var sequences: [String]
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(sequences)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode((String, Int64).self) }
}

/// Messages that wait for their subject (``Rejection/mayBeLate``).
struct ParkInsert: PostgresPreparedStatement {
    static let sql = """
        INSERT INTO parked (message_id, kind, key, key_is_alias, queue, exchange, routing_key, properties, body, parked_at, expires_at)
        SELECT i, k, y, a, q, x, r, p, b, $10, e
        FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[],
                    $11::timestamptz[]) AS t(i, k, y, a, q, x, r, p, b, e)
        ON CONFLICT (message_id) DO UPDATE SET kind = EXCLUDED.kind, key = EXCLUDED.key, key_is_alias = EXCLUDED.key_is_alias,
            wake_at = NULL
        """
    typealias Row = ()
    var ids: [String] = []
    var kinds: [String] = []
    var keys: [String] = []
    var isAlias: [Bool] = []
    var queues: [String] = []
    var exchanges: [String] = []
    var routingKeys: [String] = []
    var properties: [String] = []
    var bodies: [ByteBuffer] = []
    var now: Date
    var expires: [Date] = []
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 11)
        b.append(ids)
        b.append(kinds)
        b.append(keys)
        b.append(isAlias)
        b.append(queues)
        b.append(exchanges)
        b.append(routingKeys)
        b.append(properties)
        b.append(bodies)
        b.append(now)
        b.append(expires)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// Parked messages that ran again and are done (handled or finally rejected).
struct ParkDelete: PostgresPreparedStatement {
    static let sql = "DELETE FROM parked WHERE message_id = ANY($1::text[])"
    typealias Row = ()
    var ids: [String]
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(ids)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// Parked messages that ran again and still wait: asleep until their subject appears.
struct ParkSleep: PostgresPreparedStatement {
    static let sql = "UPDATE parked SET wake_at = NULL, attempts = attempts + 1 WHERE message_id = ANY($1::text[])"
    typealias Row = ()
    var ids: [String]
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(ids)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// Wakes the parked messages waiting for subjects that now exist; returns how many.
struct ParkWake: PostgresPreparedStatement {
    static let sql = """
        UPDATE parked p SET wake_at = $4 FROM unnest($1::text[], $2::text[], $3::bool[]) AS w(k, y, a)
        WHERE p.kind = w.k AND p.key = w.y AND p.key_is_alias = w.a AND p.wake_at IS NULL
        RETURNING 1
        """
    typealias Row = Int32
    var kinds: [String] = []
    var keys: [String] = []
    var isAlias: [Bool] = []
    var now: Date
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 4)
        b.append(kinds)
        b.append(keys)
        b.append(isAlias)
        b.append(now)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int32.self) }
}

/// Timers that are due by the service clock, locked (other instances skip them).
struct TimersDue: PostgresPreparedStatement {
    static let sql = """
        SELECT kind, id, name, due_at FROM timers WHERE due_at <= $1 ORDER BY due_at, kind, id, name LIMIT $2
        FOR UPDATE SKIP LOCKED
        """
    typealias Row = (String, String, String, Date)
    var now: Date
    var limit: Int64
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 2)
        b.append(now)
        b.append(limit)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode((String, String, String, Date).self) }
}

/// Parked messages to run again: woken by their subject, or expired. Locked.
struct ParkedDue: PostgresPreparedStatement {
    static let sql = """
        SELECT message_id, kind, key, key_is_alias, queue, exchange, routing_key, properties, body, parked_at, expires_at
        FROM parked WHERE wake_at <= $1 OR expires_at <= $1
        ORDER BY parked_at, message_id LIMIT $2
        FOR UPDATE SKIP LOCKED
        """
    typealias Row = (String, String, String, Bool, String, String, String, String, ByteBuffer, Date, Date)
    var now: Date
    var limit: Int64
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 2)
        b.append(now)
        b.append(limit)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode((String, String, String, Bool, String, String, String, String, ByteBuffer, Date, Date).self)
    }
}

/// Parked messages whose subject exists although nobody woke them (a subject created by
/// another instance, or before a crash): woken by the sweep.
struct ParkSweep: PostgresPreparedStatement {
    static let sql = """
        UPDATE parked p SET wake_at = $1
        WHERE p.wake_at IS NULL AND (
            (NOT p.key_is_alias AND EXISTS (SELECT 1 FROM aggregates a WHERE a.kind = p.kind AND a.id = p.key))
            OR (p.key_is_alias AND EXISTS (SELECT 1 FROM aliases l WHERE l.kind = p.kind AND l.alias = p.key)))
        RETURNING 1
        """
    typealias Row = Int32
    var now: Date
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(now)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int32.self) }
}

/// How many messages are parked (readiness of the parking service, metrics).
struct ParkedCount: PostgresPreparedStatement {
    static let sql = "SELECT count(*) FROM parked"
    typealias Row = Int64
    func makeBindings() throws -> PostgresBindings { PostgresBindings() }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int64.self) }
}

extension Database {
    /// The runtime's tables of the service kit (runtime migration 2).
    static func kitMigration(_ s: String) -> Migration {
        Migration(
            2, "service kit: aggregates, history, aliases, timers, parked messages",
            [
                """
                CREATE TABLE \(s).aggregates (
                    kind text NOT NULL,
                    id text NOT NULL,
                    status text NOT NULL,
                    data jsonb NOT NULL,
                    version int NOT NULL,
                    correlation_id text,
                    last_message_id text NOT NULL,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL,
                    PRIMARY KEY (kind, id))
                """,
                "CREATE INDEX aggregates_status ON \(s).aggregates (kind, status)",
                "CREATE INDEX aggregates_created ON \(s).aggregates (kind, created_at)",
                """
                CREATE TABLE \(s).history (
                    seq bigserial PRIMARY KEY,
                    kind text NOT NULL,
                    id text NOT NULL,
                    action text NOT NULL,
                    from_status text,
                    to_status text,
                    by text,
                    reason text,
                    details jsonb,
                    at timestamptz NOT NULL,
                    message_id text NOT NULL)
                """,
                "CREATE INDEX history_aggregate ON \(s).history (kind, id, seq)",
                """
                CREATE TABLE \(s).aliases (
                    kind text NOT NULL,
                    alias text NOT NULL,
                    id text NOT NULL,
                    PRIMARY KEY (kind, alias))
                """,
                """
                CREATE TABLE \(s).timers (
                    kind text NOT NULL,
                    id text NOT NULL,
                    name text NOT NULL,
                    due_at timestamptz NOT NULL,
                    PRIMARY KEY (kind, id, name))
                """,
                "CREATE INDEX timers_due ON \(s).timers (due_at)",
                """
                CREATE TABLE \(s).parked (
                    message_id text PRIMARY KEY,
                    kind text NOT NULL,
                    key text NOT NULL,
                    key_is_alias boolean NOT NULL,
                    queue text NOT NULL,
                    exchange text NOT NULL,
                    routing_key text NOT NULL,
                    properties text NOT NULL,
                    body bytea NOT NULL,
                    parked_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    wake_at timestamptz,
                    attempts int NOT NULL DEFAULT 0)
                """,
                "CREATE INDEX parked_key ON \(s).parked (kind, key)",
                "CREATE INDEX parked_wake ON \(s).parked (wake_at)",
                "CREATE INDEX parked_expires ON \(s).parked (expires_at)",
            ])
    }
}

extension PostgresConnection {
    /// Runs a prepared statement that returns no rows.
    func run<S: PostgresPreparedStatement>(_ statement: S, logger: Logger) async throws where S.Row == () {
        _ = try await execute(statement, logger: logger)
    }
}
