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
// id), `history`, `aliases`, `timers`, `parked`. A batch is two statements, ``BatchBegin`` and
// ``BatchSave``; arrays stand in for rows (`unnest`), an empty string for NULL where arrays cannot
// hold it. The `…Rows` structs are the columns of one part of ``BatchSave``.

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

/// The aggregates a batch changed, each at the version it loaded plus one (1 for a new one).
struct AggregateRows {
    var kinds: [String] = []
    var ids: [String] = []
    var statuses: [String] = []
    var data: [String] = []
    var versions: [Int32] = []
    var correlations: [String] = []
    var lastMessages: [String] = []
    var now: Date
}

/// The history lines of a batch.
struct HistoryRows {
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
}

/// The final timer changes of a batch: clears and sets of distinct timers.
struct TimerRows {
    var clearKinds: [String] = []
    var clearIds: [String] = []
    var clearNames: [String] = []
    var setKinds: [String] = []
    var setIds: [String] = []
    var setNames: [String] = []
    var setAt: [Date] = []
    /// The timer a join waits for ('' for a plain timer).
    var setAfter: [String] = []
    var isEmpty: Bool { clearKinds.isEmpty && setKinds.isEmpty }

    mutating func set(_ kind: String, _ id: String, _ name: String, at: Date, after: String) {
        setKinds.append(kind)
        setIds.append(id)
        setNames.append(name)
        setAt.append(at)
        setAfter.append(after)
    }
}

/// New secondary keys (the first registration of a key wins).
struct AliasRows {
    var kinds: [String] = []
    var aliases: [String] = []
    var ids: [String] = []
}

/// Messages that wait for their subject (``Rejection/mayBeLate``).
struct ParkRows {
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
}

/// Subjects created by a batch: the parked messages waiting for them wake up.
struct WakeRows {
    var kinds: [String] = []
    var keys: [String] = []
    var isAlias: [Bool] = []
    var now: Date
}

/// Timers that are due by the service clock, locked (other rounds and instances skip them). A
/// join (``TimerChange/join(_:at:after:)``) is due only once no timer it waits for is left: the
/// rows a round in flight has taken are still visible (deleted at its commit), so a join never
/// overtakes the rounds that fire what it waits for.
struct TimersDue: PostgresPreparedStatement {
    static let sql = """
        SELECT kind, id, name, due_at FROM timers t
        WHERE due_at <= $1 AND (awaits IS NULL OR NOT EXISTS (SELECT 1 FROM timers o WHERE o.name = t.awaits))
        ORDER BY due_at, kind, id, name LIMIT $2
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
/// another instance, or before a crash): woken by the sweep. Rows another transaction holds are
/// skipped, not waited for (the next sweep finds them): the sweep never blocks the parking round.
struct ParkSweep: PostgresPreparedStatement {
    static let sql = """
        UPDATE parked SET wake_at = $1
        WHERE message_id IN (
            SELECT p.message_id FROM parked p
            WHERE p.wake_at IS NULL AND (
                (NOT p.key_is_alias AND EXISTS (SELECT 1 FROM aggregates a WHERE a.kind = p.kind AND a.id = p.key))
                OR (p.key_is_alias AND EXISTS (SELECT 1 FROM aliases l WHERE l.kind = p.kind AND l.alias = p.key)))
            FOR UPDATE SKIP LOCKED)
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

    /// Runtime migration 3: the outbox keeps `traceparent` in a column (no JSON for most rows).
    /// Due timers are taken in firing order (`due_at, kind, id, name`, ``TimersDue``): an index in
    /// that order lets a round read its first rows instead of sorting every due timer (a billing
    /// cycle sets 100,000 at once: sorting them all each round made the cycle quadratic).
    static func timersOrderMigration(_ s: String) -> Migration {
        Migration(
            4, "timers indexed in firing order",
            ["CREATE INDEX timers_firing ON \(s).timers (due_at, kind, id, name)", "DROP INDEX IF EXISTS \(s).timers_due"])
    }

    static func outboxTraceMigration(_ s: String) -> Migration {
        Migration(3, "outbox traceparent column", ["ALTER TABLE \(s).outbox ADD COLUMN traceparent text"])
    }

    /// Runtime migration 5: the outbox keeps each message's AMQP `priority` (nullable: adding it
    /// rewrites nothing), so that the relay sets it without decoding bodies.
    static func outboxPriorityMigration(_ s: String) -> Migration {
        Migration(5, "outbox priority column", ["ALTER TABLE \(s).outbox ADD COLUMN priority smallint"])
    }

    /// Runtime migration 6: joins (``TimerChange/join(_:at:after:)``): the timer a join waits
    /// for, and timers looked up by name (is any left?).
    static func timerJoinMigration(_ s: String) -> Migration {
        Migration(
            6, "timer joins",
            ["ALTER TABLE \(s).timers ADD COLUMN awaits text", "CREATE INDEX timers_name ON \(s).timers (name)"])
    }

    /// Runtime migration 7: no secondary index of a kit table starts with only part of the key
    /// the kit's statements look rows up by. The statements are planned once per connection
    /// (``Database/makeClient(_:poolSize:schema:abandonedTransactionTimeout:logger:)``), often
    /// while the tables hold a few rows; then every index that matches `kind` looks as good as the
    /// primary key, PostgreSQL took the smallest — `(kind, status)`, `(kind, created_at)`, a
    /// service's `(kind, updated_at)` — and the connection kept that plan while the table grew:
    /// each key of each batch walked every row of its kind (console ingest: 1,200 events/s with
    /// PostgreSQL at 90 % of a core, against 6,000 with the primary key). Those indexes now
    /// lead with their own column, and `timers_name` carries the whole timer key after the name.
    /// ``KitPlanTests`` checks the plans of every service's schema.
    static func keyedIndexesMigration(_ s: String) -> Migration {
        Migration(
            7, "secondary indexes that cannot stand in for a key",
            [
                "DROP INDEX \(s).aggregates_status", "CREATE INDEX aggregates_status ON \(s).aggregates (status, kind)",
                "DROP INDEX \(s).aggregates_created", "CREATE INDEX aggregates_created ON \(s).aggregates (created_at, kind)",
                "DROP INDEX \(s).timers_name", "CREATE INDEX timers_name ON \(s).timers (name, kind, id)",
            ])
    }
}

extension PostgresConnection {
    /// Runs a prepared statement that returns no rows.
    func run<S: PostgresPreparedStatement>(_ statement: S, logger: Logger) async throws where S.Row == () {
        _ = try await execute(statement, logger: logger)
    }
}

/// The first statement of a batch, in one round trip: records the delivered message ids in the
/// inbox (returning the ones not seen before), resolves the secondary keys the routes named,
/// and loads and locks every aggregate the batch touches (in key order: batches locking
/// overlapping sets cannot deadlock).
///
/// Rows: `('i', message id)`, `('l', kind, alias, id)`, `('a', kind, id, data, version,
/// correlation, last message)`.
struct BatchBegin: PostgresPreparedStatement {
    static let sql = """
        WITH ins AS (
            INSERT INTO inbox (message_id, message_type, outcome)
            SELECT id, type, 'handled' FROM unnest($1::text[], $2::text[]) AS t(id, type)
            ON CONFLICT DO NOTHING RETURNING message_id),
        al AS (
            SELECT a.kind, a.alias, a.id FROM aliases a JOIN unnest($5::text[], $6::text[]) AS k(kind, alias)
              ON a.kind = k.kind AND a.alias = k.alias),
        keys AS (
            SELECT k.kind, k.id FROM unnest($3::text[], $4::text[]) AS k(kind, id) UNION SELECT kind, id FROM al),
        loaded AS (
            SELECT a.kind, a.id, a.data::text AS data, a.version, a.correlation_id, a.last_message_id
            FROM aggregates a JOIN keys k ON a.kind = k.kind AND a.id = k.id
            ORDER BY a.kind, a.id
            FOR UPDATE OF a)
        SELECT 'i'::text, message_id, NULL::text, NULL::text, NULL::int4, NULL::text, NULL::text FROM ins
        UNION ALL SELECT 'l', kind, alias, id, NULL, NULL, NULL FROM al
        UNION ALL SELECT 'a', kind, id, data, version, correlation_id, last_message_id FROM loaded
        """
    typealias Row = (String, String, String?, String?, Int32?, String?, String?)
    var inboxIds: [String] = []
    var inboxTypes: [String] = []
    var kinds: [String] = []
    var ids: [String] = []
    var aliasKinds: [String] = []
    var aliases: [String] = []
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 6)
        b.append(inboxIds)
        b.append(inboxTypes)
        b.append(kinds)
        b.append(ids)
        b.append(aliasKinds)
        b.append(aliases)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode((String, String, String?, String?, Int32?, String?, String?).self)
    }
}

/// The last statement of a batch, in one round trip: every aggregate it changed (written only
/// at the version it loaded, or — new — when nobody created it meanwhile), the history lines,
/// the timers set and cleared, new secondary keys, parked messages (new, done, still waiting,
/// woken by a subject the batch created), the outbox rows, and the inbox outcomes other than
/// `handled`. Outbox rows are due ``OutboxRelay/handOffLease`` later: the relay publishes them
/// from memory once the batch commits (``OutboxHandOff``). Returns how many aggregates it wrote
/// (the caller re-runs the batch when that is not all of them), how many parked messages it
/// woke, and the outbox rows' ids in the order of the batch's messages (one statement assigns
/// them in its rows' order), which the relay deletes once it has published them.
struct BatchSave: PostgresPreparedStatement {
    static let sql = """
        WITH up AS (
            INSERT INTO aggregates (kind, id, status, data, version, correlation_id, last_message_id, created_at, updated_at)
            SELECT k, i, s, d::jsonb, v, NULLIF(c, ''), m, $8, $8
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::text[], $7::text[]) AS t(k, i, s, d, v, c, m)
            ON CONFLICT (kind, id) DO UPDATE SET status = EXCLUDED.status, data = EXCLUDED.data, version = EXCLUDED.version,
                last_message_id = EXCLUDED.last_message_id, updated_at = EXCLUDED.updated_at
            WHERE aggregates.version = EXCLUDED.version - 1
            RETURNING 1),
        hist AS (
            INSERT INTO history (kind, id, action, from_status, to_status, by, reason, details, at, message_id)
            SELECT k, i, a, NULLIF(f, ''), NULLIF(t, ''), NULLIF(b, ''), NULLIF(r, ''), NULLIF(d, '')::jsonb, $8, m
            FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
                        $17::text[]) WITH ORDINALITY AS h(k, i, a, f, t, b, r, d, m, n)
            ORDER BY n),
        tclear AS (
            DELETE FROM timers t USING unnest($18::text[], $19::text[], $20::text[]) AS c(k, i, n)
            WHERE t.kind = c.k AND t.id = c.i AND t.name = c.n),
        tset AS (
            INSERT INTO timers (kind, id, name, due_at, awaits)
            SELECT k, i, n, d, NULLIF(a, '') FROM unnest($21::text[], $22::text[], $23::text[], $24::timestamptz[], $56::text[]) AS s(k, i, n, d, a)
            ON CONFLICT (kind, id, name) DO UPDATE SET due_at = EXCLUDED.due_at, awaits = EXCLUDED.awaits),
        al AS (
            INSERT INTO aliases (kind, alias, id) SELECT * FROM unnest($25::text[], $26::text[], $27::text[])
            ON CONFLICT (kind, alias) DO NOTHING),
        park AS (
            INSERT INTO parked (message_id, kind, key, key_is_alias, queue, exchange, routing_key, properties, body, parked_at,
                                expires_at, wake_at)
            SELECT i, k, y, a, q, x, r, p, b, $8, e, CASE WHEN w THEN $8 END
            FROM unnest($28::text[], $29::text[], $30::text[], $31::bool[], $32::text[], $33::text[], $34::text[], $35::text[],
                        $36::bytea[], $37::timestamptz[], $38::bool[]) AS t(i, k, y, a, q, x, r, p, b, e, w)
            ON CONFLICT (message_id) DO UPDATE SET kind = EXCLUDED.kind, key = EXCLUDED.key, key_is_alias = EXCLUDED.key_is_alias,
                wake_at = EXCLUDED.wake_at),
        pdone AS (
            DELETE FROM parked WHERE message_id = ANY($39::text[])),
        psleep AS (
            UPDATE parked SET wake_at = NULL, attempts = attempts + 1 WHERE message_id = ANY($40::text[])),
        woke AS (
            UPDATE parked p SET wake_at = $8 FROM unnest($41::text[], $42::text[], $43::bool[]) AS w(k, y, a)
            WHERE p.kind = w.k AND p.key = w.y AND p.key_is_alias = w.a AND p.wake_at IS NULL
              AND p.message_id <> ALL($39::text[]) AND p.message_id <> ALL($40::text[])
            RETURNING 1),
        outbox_rows AS (
            INSERT INTO outbox (exchange, routing_key, message_id, message_type, correlation_id, content_type, headers, body, traceparent,
                                priority, next_attempt_at)
            SELECT x, k, i, NULLIF(t, ''), NULLIF(c, ''), NULLIF(ct, ''), h, b, NULLIF(tp, ''), NULLIF(p, -1),
                   now() + make_interval(secs => \(OutboxRelay.handOffLease.components.seconds))
            FROM unnest($44::text[], $45::text[], $46::text[], $47::text[], $48::text[], $49::text[], $50::text[], $51::bytea[],
                        $54::text[], $55::int2[])
                 WITH ORDINALITY AS e(x, k, i, t, c, ct, h, b, tp, p, n)
            ORDER BY n
            RETURNING id),
        outcomes AS (
            UPDATE inbox SET outcome = u.o FROM unnest($52::text[], $53::text[]) AS u(i, o) WHERE inbox.message_id = u.i)
        SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM woke), (SELECT array_agg(id ORDER BY id) FROM outbox_rows)
        """
    typealias Row = (Int64, Int64, [Int64]?)

    var upsert: AggregateRows
    var history: HistoryRows
    var timers = TimerRows()
    var aliases = AliasRows()
    var parks: ParkRows
    var parkWoken: [Bool] = []
    var parkDeletes: [String] = []
    var parkSleeps: [String] = []
    var wake: WakeRows
    var outbox = OutboxRows()
    var outcomeIds: [String] = []
    var outcomes: [String] = []

    init(now: Date) {
        upsert = AggregateRows(now: now)
        history = HistoryRows(at: now)
        parks = ParkRows(now: now)
        wake = WakeRows(now: now)
    }

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 56)
        let u = upsert
        b.append(u.kinds); b.append(u.ids); b.append(u.statuses); b.append(u.data); b.append(u.versions)
        b.append(u.correlations); b.append(u.lastMessages); b.append(u.now)
        let h = history
        b.append(h.kinds); b.append(h.ids); b.append(h.actions); b.append(h.froms); b.append(h.tos); b.append(h.bys)
        b.append(h.reasons); b.append(h.details); b.append(h.messageIds)
        let t = timers
        b.append(t.clearKinds); b.append(t.clearIds); b.append(t.clearNames)
        b.append(t.setKinds); b.append(t.setIds); b.append(t.setNames); b.append(t.setAt)
        b.append(aliases.kinds); b.append(aliases.aliases); b.append(aliases.ids)
        let p = parks
        b.append(p.ids); b.append(p.kinds); b.append(p.keys); b.append(p.isAlias); b.append(p.queues); b.append(p.exchanges)
        b.append(p.routingKeys); b.append(p.properties); b.append(p.bodies); b.append(p.expires); b.append(parkWoken)
        b.append(parkDeletes); b.append(parkSleeps)
        b.append(wake.kinds); b.append(wake.keys); b.append(wake.isAlias)
        let o = outbox
        b.append(o.exchanges); b.append(o.keys); b.append(o.ids); b.append(o.types); b.append(o.correlations)
        b.append(o.contentTypes); b.append(o.headers); b.append(o.bodies)
        b.append(outcomeIds); b.append(outcomes)
        b.append(o.traceparents)
        b.append(o.priorities)
        b.append(t.setAfter)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode((Int64, Int64, [Int64]?).self) }
}

/// Numbers from the service's sequences, one per entry of `sequences` (repeats allowed): only
/// those the batch's decisions asked for, so that a duplicate or stale message draws none.
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
