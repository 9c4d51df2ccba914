import Foundation
import Logging
import Platform
import PostgresNIO
@testable import Runtime
import Testing

/// The kit's batch statements are planned once per connection, often while a service's tables
/// hold a few rows (runtime migration 7 says why that matters): in every service's schema, with
/// the sessions the services use, their plans must find aggregates and timers by their whole
/// key — never through an index that matches only part of it, which would walk every row of a
/// kind (or every timer of a name) for each key once the tables have grown.
@Suite("the kit's statements and the keys", .serialized)
struct KitPlanTests {
    @Test func theKitStatementsFindAggregatesAndTimersByTheirWholeKeysInEveryServiceSchema() async throws {
        try await withTestSystem("kit-plans") { system in
            let url = try DatabaseURL(system.databaseURL)
            var logger = Logger(label: "kit-plans")
            logger.logLevel = .warning
            for service in Platform.services {
                let client = Database.makeClient(url, poolSize: 2, schema: service.name, logger: logger)
                let run = Task { await client.run() }
                defer { run.cancel() }
                try await Database.migrate(client, schema: service.name, migrations: service.migrations, logger: logger)
                try await client.withConnection { conn in
                    // Rows of one kind, from a service that just started to one that has run a while:
                    // which index looks cheapest depends on how many pages each one has.
                    var rows = 0
                    for total in [1, 10, 100, 1_000, 10_000] {
                        _ = try await conn.query(
                            """
                            INSERT INTO aggregates (kind, id, status, data, version, last_message_id, created_at, updated_at)
                            SELECT 'workorder', 'OT-' || lpad(g::text, 8, '0'), 'open', '{"level": 3}', 1, 'm-' || g, now(), now()
                            FROM generate_series(\(rows + 1), \(total)) g
                            """, logger: logger)
                        _ = try await conn.query(
                            """
                            INSERT INTO timers (kind, id, name, due_at)
                            SELECT 'workorder', 'OT-' || lpad(g::text, 8, '0'), 'sla', now() FROM generate_series(\(rows + 1), \(total)) g
                            """, logger: logger)
                        rows = total
                        for (name, sql) in [
                            ("BatchBegin", BatchBegin.sql), ("BatchSave", BatchSave.sql), ("AggregateLoad", AggregateLoad.sql),
                            ("ParkSweep", ParkSweep.sql),
                        ] {
                            let plan = try await Self.genericPlan(sql, on: conn, logger: logger)
                            let (lookups, problems) = Self.keyedLookups(plan, tables: ["aggregates", "timers"])
                            #expect(lookups > 0, "\(service.name) \(name), \(rows) rows: no lookup of aggregates or timers in\n\(plan)")
                            #expect(problems.isEmpty, "\(service.name) \(name), \(rows) rows: \(problems)")
                        }
                    }
                }
            }
        }
    }

    /// The generic plan of `sql` on this session (the services' settings: a generic plan, no
    /// sequential scans), its parameters all NULL.
    static func genericPlan(_ sql: String, on conn: PostgresConnection, logger: Logger) async throws -> [String] {
        let parameters = sql.matches(of: /\$(\d+)/).compactMap { Int($0.output.1) }.max() ?? 0
        _ = try await conn.query(PostgresQuery(unsafeSQL: "PREPARE plan_check AS " + sql), logger: logger)
        let arguments = Array(repeating: "NULL", count: parameters).joined(separator: ", ")
        var lines: [String] = []
        for try await line in try await conn.query(
            PostgresQuery(unsafeSQL: "EXPLAIN EXECUTE plan_check(\(arguments))"), logger: logger
        ).decode(String.self) {
            lines.append(line)
        }
        _ = try await conn.query("DEALLOCATE plan_check", logger: logger)
        return lines
    }

    /// The keys the kit's statements look rows up by.
    static let keys = ["aggregates": ["kind", "id"], "timers": ["kind", "id", "name"]]

    /// How many scans of the keyed `tables` the plan has, and those whose index condition does not
    /// bound every column of the key (a sequential or bitmap scan, or an index that matches only
    /// part of the key).
    static func keyedLookups(_ plan: [String], tables: [String]) -> (lookups: Int, problems: [String]) {
        var lookups = 0
        var problems: [String] = []
        for (i, line) in plan.enumerated() {
            for table in tables {
                let columns = keys[table] ?? []
                if line.contains("Seq Scan on \(table) ") || line.hasSuffix("Seq Scan on \(table)")
                    || line.contains("Bitmap Heap Scan on \(table)")
                {
                    problems.append(line)
                }
                guard let m = line.firstMatch(of: /Scan using (\w+) on (\w+)/), m.output.2 == table else { continue }
                lookups += 1
                let condition = plan[(i + 1)...].prefix { !$0.contains("->") }.first { $0.contains("Index Cond:") } ?? ""
                if !columns.allSatisfy({ condition.contains("(\($0) = ") }) { problems.append(line + " / " + condition) }
            }
        }
        return (lookups, problems)
    }
}
