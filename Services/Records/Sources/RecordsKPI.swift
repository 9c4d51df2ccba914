import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The KPI of seed 002 for a month: files recovered / retrieval requests × 100 over the requests
/// registered in the month (UTC), delivered by the time of the report; ≥ 99 % approved, below
/// observed (exact integer comparison: 99 of 100 is approved, 98 of 99 is observed).
public struct RecordsKPI: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable { case approved, observed, noData }

    public var requests: Int
    public var recovered: Int
    public var percent: Double?
    public var verdict: Verdict

    public static func verdict(recovered: Int, of requests: Int) -> Verdict {
        requests == 0 ? .noData : recovered * 100 >= 99 * requests ? .approved : .observed
    }

    public static func compute(requests: Int, recovered: Int) -> RecordsKPI {
        RecordsKPI(
            requests: requests, recovered: recovered, percent: requests == 0 ? nil : Double(recovered) * 100 / Double(requests),
            verdict: verdict(recovered: recovered, of: requests))
    }
}

/// The KPI of the retrievals requested in `month`, from the `records` schema; nil where the schema
/// does not exist.
public func recordsKPI(on conn: PostgresConnection, month: YearMonth, logger: Logger = Logger(label: "ot.records.kpi")) async throws -> RecordsKPI? {
    guard try await Database.exists("records.retrievals", on: conn, logger: logger) else { return nil }
    let from = month.firstDay.start, to = month.adding(months: 1).firstDay.start
    let rows = try await conn.query(
        """
        SELECT count(*)::int8, (count(*) FILTER (WHERE state = 'delivered'))::int8
        FROM records.retrievals WHERE requested_at >= \(from) AND requested_at < \(to)
        """, logger: logger)
    for try await (requests, recovered) in rows.decode((Int64, Int64).self) {
        return RecordsKPI.compute(requests: Int(requests), recovered: Int(recovered))
    }
    return RecordsKPI.compute(requests: 0, recovered: 0)
}
