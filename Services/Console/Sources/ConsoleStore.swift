import ConsoleUI
import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime
import Synchronization

/// Reads the console's read model (its own schema only).
public struct ConsoleStore: Sendable {
    let postgres: PostgresClient
    let logger: Logger
    let counts = BoardCounts()

    public init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    static let finals = ["closed", "rejected", "cancelled"]

    /// The board: OTs not yet final (or, with `filter.status`, those in that state, final ones too),
    /// by level then deadline. Only OTs
    /// opened (with their number): a view first seen through another fact — a pole move's charge
    /// naming the OT it will pay for, a prioritization that overtook the opening — waits for it.
    /// `version`: the read model's board version (``boardVersion()``) when known — the counts of a
    /// filter are then computed once for that version and refreshed in the background at most every
    /// two seconds (``BoardCounts``), not for each request (counting reads every open OT; the page
    /// is an index walk).
    public func board(_ filter: BoardFilter, now: Date, version: String? = nil) async throws -> BoardPage {
        let limit = Int64(max(1, min(filter.limit, 500))), offset = Int64(max(0, filter.offset))
        var pageBinds = PostgresBindings()
        let pageWhere = Self.boardWhere(filter, &pageBinds)
        pageBinds.append(limit)
        pageBinds.append(offset)
        var countBinds = PostgresBindings()
        countBinds.append(Wire.timestamp(now))
        let countWhere = Self.boardWhere(filter, &countBinds)
        let countQuery = PostgresQuery(
            unsafeSQL: """
                SELECT count(*)::int8, (count(*) FILTER (WHERE board_breached OR board_deadline < $1))::int8
                FROM console.aggregates WHERE \(countWhere)
                """, binds: countBinds)
        let logger = logger, postgres = postgres
        let rows = try await postgres.withConnection { conn in
            var rows: [BoardRow] = []
            let page = try await conn.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT \(Self.rowColumns) FROM console.aggregates WHERE \(pageWhere)
                        ORDER BY board_level, board_deadline, id
                        LIMIT $\(pageBinds.count - 1) OFFSET $\(pageBinds.count)
                        """, binds: pageBinds), logger: logger)
            for try await row in page {
                rows.append(try Self.row(row))
            }
            return rows
        }
        let count: @Sendable () async throws -> (Int, Int) = {
                try await postgres.withConnection { conn in
                    var total: Int64 = 0, breached: Int64 = 0
                    let counts = try await conn.query(countQuery, logger: logger)
                    for try await (t, b) in counts.decode((Int64, Int64).self) {
                        total = t
                        breached = b
                    }
                    return (Int(total), Int(breached))
                }
            }
        let (total, breached) =
            if let version { try await counts.counts(BoardCounts.Key(filter: filter, version: version), now: now, count) } else {
                try await count()
            }
        return BoardPage(rows: rows, total: total, breached: breached, filter: filter, now: now)
    }

    /// The board's condition for `f`, its values bound after those already in `binds`: only the
    /// filters given (the planner sees plain predicates, and the partial index `board_order`
    /// serves the default of every state not final).
    static func boardWhere(_ f: BoardFilter, _ binds: inout PostgresBindings) -> String {
        func bind(_ value: String) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        // The board_* columns are the view's fields as PostgreSQL keeps them (migration 4).
        var clauses = ["kind = 'workorder'", "board_numbered"]
        if let s = f.status {
            clauses.append("status = \(bind(s))")
        } else {
            clauses.append("status NOT IN ('closed', 'rejected', 'cancelled')")
        }
        if let c = f.country { clauses.append("board_country = \(bind(c))") }
        if let l = f.serviceLine { clauses.append("board_service_line = \(bind(l))") }
        if let k = f.kind { clauses.append("board_kind = \(bind(k))") }
        if let a = f.assignee {
            // A part of the name, taken literally (no LIKE wildcards from the user).
            let literal = a.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
            clauses.append("data->>'assignee' ILIKE '%' || \(bind(literal)) || '%'")
        }
        if let l = f.level {
            binds.append(Int64(l))
            clauses.append("board_level = $\(binds.count)")
        }
        return clauses.joined(separator: " AND ")
    }

    /// The board's fields of a ``WorkOrderView`` as columns, in the order ``row(_:)-(PostgresRow)``
    /// reads them: a page of the board is read without decoding each OT's whole stored JSON.
    static let rowColumns = """
        id, status, data->>'number', data->>'kind', data->>'serviceLine', data->>'country', data->>'customer',
        (data->>'level')::int8, data->>'deadline', data->>'deadlineWhat',
        ARRAY(SELECT jsonb_array_elements_text(COALESCE(data->'breaches', '[]'::jsonb))), data->>'assignee',
        data->>'openedAt', data->>'updatedAt'
        """

    /// A board row from the columns of ``rowColumns``; the stored timestamps are the contract's
    /// RFC 3339 text.
    static func row(_ row: PostgresRow) throws -> BoardRow {
        let c = row.makeRandomAccess()
        func text(_ i: Int) throws -> String? { try c[i].decode(String?.self) }
        func date(_ i: Int) throws -> Date? {
            guard let t = try text(i) else { return nil }
            guard let d = Wire.parseTimestamp(t) else { throw ConsoleStoreError("a stored OT view has the timestamp \"\(t)\"") }
            return d
        }
        guard let updatedAt = try date(13) else { throw ConsoleStoreError("a stored OT view has no updatedAt") }
        return BoardRow(
            workOrderId: try c[0].decode(String.self), number: try text(2), status: try c[1].decode(String.self), kind: try text(3),
            serviceLine: try text(4), country: try text(5), customer: try text(6), level: try c[7].decode(Int64?.self).map(Int.init),
            deadline: try date(8), deadlineWhat: try text(9), breaches: try c[10].decode([String].self), assignee: try text(11),
            openedAt: try date(12), updatedAt: updatedAt)
    }

    static func row(_ v: WorkOrderView) -> BoardRow {
        BoardRow(
            workOrderId: v.id, number: v.number, status: v.status, kind: v.kind, serviceLine: v.serviceLine, country: v.country,
            customer: v.customer, level: v.level, deadline: v.deadline, deadlineWhat: v.deadlineWhat, breaches: v.breaches,
            assignee: v.assignee, openedAt: v.openedAt, updatedAt: v.updatedAt)
    }

    /// One OT with its timeline; nil when the console has never heard of it.
    public func workOrder(_ id: String) async throws -> WorkOrderDetail? {
        try await postgres.withConnection { conn in
            var view: WorkOrderView?
            for try await text in try await conn.query(
                "SELECT data::text FROM console.aggregates WHERE kind = 'workorder' AND id = \(id)", logger: logger
            ).decode(String.self) {
                view = try Wire.fastDecoder.decode(WorkOrderView.self, from: Array(text.utf8))
            }
            guard let v = view else { return nil }
            var timeline: [TimelineEntry] = []
            for try await (action, from, to, details, messageId) in try await conn.query(
                """
                SELECT action, from_status, to_status, COALESCE(details::text, '{}'), message_id FROM console.history
                WHERE kind = 'workorder' AND id = \(id) ORDER BY seq
                """, logger: logger
            ).decode((String, String?, String?, String, String).self) {
                let d = (try? JSONSerialization.jsonObject(with: Data(details.utf8))) as? [String: String] ?? [:]
                timeline.append(
                    TimelineEntry(
                        at: d["at"].flatMap(Wire.parseTimestamp) ?? v.updatedAt, type: action, from: from, to: to,
                        summary: d["summary"] ?? action, messageId: messageId))
            }
            timeline.sort { $0.at < $1.at }
            return WorkOrderDetail(
                row: Self.row(v), customerId: v.customerId, sector: v.sector, outcome: v.outcome, closedAt: v.closedAt,
                documents: v.documents, prefacturaId: v.prefacturaId, prefacturaStatus: v.prefacturaStatus,
                prefacturaAmount: v.prefacturaAmount, invoiceId: v.invoiceId, invoiceAmount: v.invoiceAmount,
                invoiceIssuer: v.invoiceIssuer, damageId: v.damageId, timeline: timeline)
        }
    }

    /// Every indicator over the `count` months up to `month` (`YYYY-MM`), oldest first.
    public func indicators(upTo month: YearMonth, count: Int = 12) async throws -> [IndicatorSeries] {
        let months = (0..<count).reversed().map { month.adding(months: -$0).description }
        let first = months[0], last = months[months.count - 1]
        var found: [String: [String: (Int, Int)]] = [:]
        try await postgres.withConnection { conn in
            for try await (indicator, m, total, hits) in try await conn.query(
                """
                SELECT k.key, k.value->>'month', count(*)::int8, (count(*) FILTER (WHERE (k.value->>'hit')::boolean))::int8
                FROM console.aggregates a CROSS JOIN LATERAL jsonb_each(a.data->'kpis') AS k
                WHERE a.kind IN ('workorder', 'request', 'damage', 'retrieval') AND a.data->'kpis' <> '{}'::jsonb
                  AND k.value->>'month' BETWEEN \(first) AND \(last)
                GROUP BY 1, 2
                """, logger: logger
            ).decode((String, String, Int64, Int64).self) {
                found[indicator, default: [:]][m] = (Int(hits), Int(total))
            }
        }
        return Indicators.all.map { i in
            IndicatorSeries(
                indicator: i,
                months: months.map { m in
                    let (hits, total) = found[i.id]?[m] ?? (0, 0)
                    return IndicatorMonth(month: m, numerator: hits, denominator: total, threshold: i.threshold)
                })
        }
    }

    /// How many cases of each view kind are in each state today.
    public func stateCounts() async throws -> [String: [String: Int]] {
        try await postgres.withConnection { conn in
            var counts: [String: [String: Int]] = [:]
            for try await (kind, status, n) in try await conn.query(
                "SELECT kind, status, count(*)::int8 FROM console.aggregates GROUP BY 1, 2", logger: logger
            ).decode((String, String, Int64).self) {
                counts[kind, default: [:]][status] = Int(n)
            }
            return counts
        }
    }

    /// A value that changes whenever an OT's view changes (the board's live updates).
    public func boardVersion() async throws -> String {
        try await postgres.withConnection { conn in
            for try await at in try await conn.query(
                "SELECT COALESCE(max(updated_at)::text, '') FROM console.aggregates WHERE kind = 'workorder'", logger: logger
            ).decode(String.self) {
                return at
            }
            return ""
        }
    }
}

/// The board's counts by filter for the current read-model version. The first request of a filter
/// computes them (others asking meanwhile wait for the same computation); afterwards requests get
/// the last counts at once, and one that finds them older than `ttl` starts a refresh in the
/// background — a count reads every open OT, so no request waits for one it does not need.
final class BoardCounts: Sendable {
    struct Key: Hashable {
        var country, serviceLine, kind, assignee, status: String?
        var level: Int?
        var version: String

        init(filter f: BoardFilter, version: String) {
            country = f.country
            serviceLine = f.serviceLine
            kind = f.kind
            assignee = f.assignee
            status = f.status
            level = f.level
            self.version = version
        }
    }

    struct Entry {
        var value: (Int, Int)?
        var at: Date
        var computing: Task<(Int, Int), any Error>?
    }

    /// How old counts may be before a request starts a refresh (the breached count depends on the
    /// time too).
    let ttl: TimeInterval = 2
    private let entries = Mutex<[Key: Entry]>([:])

    func counts(_ key: Key, now: Date, _ compute: @escaping @Sendable () async throws -> (Int, Int)) async throws -> (Int, Int) {
        let (ready, pending) = entries.withLock { e -> ((Int, Int)?, Task<(Int, Int), any Error>?) in
            if let any = e.keys.first, any.version != key.version { e.removeAll() }
            if var hit = e[key] {
                if let value = hit.value {
                    if now.timeIntervalSince(hit.at) >= ttl, hit.computing == nil {
                        hit.computing = start(key, now: now, compute)
                        e[key] = hit
                    }
                    return (value, nil)
                }
                if let t = hit.computing { return (nil, t) }
            }
            guard e.count < 1024 else { return (nil, Task { try await compute() }) }
            let t = start(key, now: now, compute)
            e[key] = Entry(value: nil, at: now, computing: t)
            return (nil, t)
        }
        if let ready { return ready }
        return try await pending!.value
    }

    /// A computation whose result becomes the entry's value, as of `now` — the time of the
    /// request that started it, on the caller's clock (a failed one is forgotten).
    private func start(_ key: Key, now: Date, _ compute: @escaping @Sendable () async throws -> (Int, Int)) -> Task<(Int, Int), any Error> {
        Task {
            do {
                let value = try await compute()
                entries.withLock { e in
                    if e[key] != nil { e[key] = Entry(value: value, at: now, computing: nil) }
                }
                return value
            } catch {
                entries.withLock { e in e[key]?.computing = nil }
                throw error
            }
        }
    }
}

/// A stored view the console cannot read back.
struct ConsoleStoreError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
