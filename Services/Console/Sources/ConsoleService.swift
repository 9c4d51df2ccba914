import AMQP
import ConsoleUI
import Contracts
import Foundation
import Runtime

/// The console service: a read model of every event on `ot.events` (one view per OT, post-sale
/// request, damage, records file and retrieval, see `ReadModel.swift`), the operations board and
/// dashboards in the browser and an HTTP API (``ConsoleHTTP``).
public enum ConsoleService {
    /// Event types whose facts go to an OT's view.
    static let workOrderTypes = Set(WorkOrderViews.progress.targets.keys).union(WorkOrderViews.timelineOnly)
    static let requestTypes = Set(RequestViews.progress.targets.keys).union(RequestViews.timelineOnly)
    static let damageTypes: Set<String> = [
        DamageRegistered.type, DamageReiterated.type, DamageSolved.type, DamageQualityCheckDue.type, DamageHighVulnerability.type,
    ]
    static let fileTypes = Set(FileViews.progress.targets.keys)
    static let retrievalTypes = Set(RetrievalViews.progress.targets.keys)

    /// The views a fact goes to.
    static func targets(_ message: any Message, _ incoming: Incoming) -> [Target] {
        let type = Swift.type(of: message).type
        let fact = Observed(message, time: incoming.time)
        var targets: [Target] = []
        if workOrderTypes.contains(type), let id = WorkOrderViews.workOrderId(of: message) {
            targets.append(.to(WorkOrderViews.self, id, fact))
        }
        if requestTypes.contains(type), let id = Fields.string("requestId", of: message) {
            targets.append(.to(RequestViews.self, id, fact))
        }
        if damageTypes.contains(type), let id = Fields.string("damageId", of: message) {
            targets.append(.to(DamageViews.self, id, fact))
        }
        if fileTypes.contains(type), let id = Fields.string("fileId", of: message) {
            targets.append(.to(FileViews.self, id, fact))
        }
        if retrievalTypes.contains(type), let id = Fields.string("retrievalId", of: message) {
            targets.append(.to(RetrievalViews.self, id, fact))
        }
        return targets
    }

    /// Every event type of the contract: the console reads them all (those no view keeps are
    /// acknowledged and counted).
    public static let routes = Routes { r in
        for descriptor in MessageRegistry.allDescriptors where descriptor.kind == .event {
            route(descriptor.messageType, &r)
        }
    }

    static func route<M: Message>(_ type: M.Type, _ r: inout Routes) {
        r.on(type) { message, incoming in targets(message, incoming) }
    }

    public static let aggregates: [any Aggregate.Type] = [
        WorkOrderViews.self, RequestViews.self, DamageViews.self, FileViews.self, RetrievalViews.self,
    ]

    /// The console as the platform declares it (broker definitions, permissions), its event log
    /// with the default retention.
    public static let definition = definition(logMaxAge: ConsoleEventLog.defaultMaxAge)

    /// The console with its event log kept `logMaxAge` (`CONSOLE_LOG_MAX_AGE`, an `x-max-age`).
    public static func definition(logMaxAge: String) -> ServiceDefinition {
        ServiceDefinition(
            name: "console", routes: routes, aggregates: aggregates, migrations: ConsoleMigrations.all,
            extra: ConsoleEventLog.topology(eventTypes: routes.eventTypes, maxAge: logMaxAge))
    }
}

/// The console's event log: the RabbitMQ **stream** `console.events.log`, bound to `ot.events`
/// with every event type the console routes (the same keys as its input queue `console.events`;
/// its broker user may bind exactly those), so that it holds every event the console was sent,
/// in order, kept `x-max-age` (default ``defaultMaxAge``) whether or not it was consumed. The
/// read model is rebuilt from it by ``ConsoleReplay``.
public enum ConsoleEventLog {
    /// The stream's name (the console's broker user owns the queues `console.*`).
    public static let queue = "console.events.log"

    /// Retention when `CONSOLE_LOG_MAX_AGE` is not set: 400 days, a year of indicators and more.
    public static let defaultMaxAge = "400D"

    /// The stream and its bindings.
    public static func topology(eventTypes: [String], maxAge: String) -> Topology {
        Topology(
            queues: [.stream(queue, maxAge: maxAge)],
            bindings: eventTypes.sorted().map { .init(queue: queue, exchange: PlatformTopology.events, routingKey: $0) })
    }
}

/// The `console` schema: the kit's tables and the board's index.
public enum ConsoleMigrations {
    /// Open OTs by priority, then deadline: the board reads its page straight from this index.
    public static let all: [Migration] = [
        Migration(
            1, "board index: open OTs by level then deadline",
            [
                """
                CREATE INDEX board_order ON console.aggregates
                    ((COALESCE((data->>'level')::int, 5)), (data->>'deadline'), id)
                    WHERE kind = 'workorder' AND status NOT IN ('closed', 'rejected', 'cancelled')
                """,
                // The board's live updates ask for the latest change.
                "CREATE INDEX aggregates_updated ON console.aggregates (kind, updated_at)",
            ]),
        Migration(
            2, "replays of the event log: one row each, finished or not",
            [
                // The automatic rebuild at start (ConsoleReplay): a start whose schema's latest
                // replay never finished (stopped half-way) replays again.
                """
                CREATE TABLE console.replays (
                    id text PRIMARY KEY,
                    started_at timestamptz NOT NULL DEFAULT now(),
                    finished_at timestamptz,
                    republished bigint,
                    skipped bigint)
                """
            ]),
        Migration(
            3, "statistics of the board's filter fields",
            [
                // Without them PostgreSQL guesses a combined filter (a kind in a country) matches a
                // couple of rows, scans and sorts the whole table instead of walking board_order.
                """
                CREATE STATISTICS console.board_fields ON (data->>'country'), (data->>'kind'), (data->>'serviceLine')
                    FROM console.aggregates
                """
            ]),
        Migration(
            4, "the board's filter fields as columns, and an index that counts the open OTs",
            [
                // Counting the board (how many OTs match a filter, how many are breached) read
                // every open OT's whole JSON row — a parallel scan of the table taking both cores
                // for 60–110 ms with 100,000 OTs. These columns are copies of the view's fields
                // PostgreSQL keeps itself; the covering index lets a count read only the index.
                """
                ALTER TABLE console.aggregates
                    ADD COLUMN board_numbered boolean GENERATED ALWAYS AS (data ? 'number') STORED,
                    ADD COLUMN board_country text GENERATED ALWAYS AS (data->>'country') STORED,
                    ADD COLUMN board_kind text GENERATED ALWAYS AS (data->>'kind') STORED,
                    ADD COLUMN board_service_line text GENERATED ALWAYS AS (data->>'serviceLine') STORED,
                    ADD COLUMN board_level int GENERATED ALWAYS AS (COALESCE((data->>'level')::int, 5)) STORED,
                    ADD COLUMN board_deadline text GENERATED ALWAYS AS (data->>'deadline') STORED,
                    ADD COLUMN board_breached boolean GENERATED ALWAYS AS (COALESCE(data->'breaches', '[]'::jsonb) <> '[]'::jsonb) STORED
                """,
                """
                CREATE INDEX board_counts ON console.aggregates (board_country, board_kind, board_service_line, board_level)
                    INCLUDE (board_deadline, board_breached)
                    WHERE kind = 'workorder' AND board_numbered AND status NOT IN ('closed', 'rejected', 'cancelled')
                """,
                // The board's order on the same columns (a level asked for walks it too).
                "DROP INDEX console.board_order",
                """
                CREATE INDEX board_order ON console.aggregates (board_level, board_deadline, id)
                    WHERE kind = 'workorder' AND status NOT IN ('closed', 'rejected', 'cancelled')
                """,
                // As migration 3 for the expressions: a kind in a country is not two independent guesses.
                """
                CREATE STATISTICS console.board_columns ON board_country, board_kind, board_service_line
                    FROM console.aggregates
                """,
            ]),
        Migration(
            5, "the latest change of a work order without an index that starts with kind",
            [
                // A `(kind, updated_at)` index could stand in for the primary key in the kit's
                // load statement (runtime migration 7 says why): the board's latest change reads
                // this one instead.
                "DROP INDEX console.aggregates_updated",
                "CREATE INDEX aggregates_updated ON console.aggregates (updated_at) WHERE kind = 'workorder'",
            ]),
    ]
}
