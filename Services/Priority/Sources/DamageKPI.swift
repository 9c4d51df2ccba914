import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The KPI of COM-GCM-P12 §IV.2 for a month: reiterated damages solved / reiterated damages
/// received × 100, over the damages that became reiterated in the month (UTC) — registered after
/// one closed without solution, or reported again while open — solved by the time of the report.
///
/// Verdict, compared exactly in integers: ≥ 98 % **accepted**; ≤ 97 % **observed**; in between
/// (above 97 %, below 98 %) **watch**: the procedure names neither, so it is shown as its own
/// band — not accepted, not yet observed — for the head of customer support to follow.
public struct DamageKPI: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable { case accepted, watch, observed, noData }

    public struct Damage: Sendable, Equatable {
        public var reiteratedAt: Date
        public var solvedAt: Date?
        public init(reiteratedAt: Date, solvedAt: Date?) {
            self.reiteratedAt = reiteratedAt
            self.solvedAt = solvedAt
        }
    }

    public var received: Int
    public var solved: Int
    public var percent: Double?
    public var verdict: Verdict

    public static func verdict(solved: Int, of received: Int) -> Verdict {
        if received == 0 { return .noData }
        if solved * 100 >= 98 * received { return .accepted }
        if solved * 100 <= 97 * received { return .observed }
        return .watch
    }

    public static func compute(_ damages: [Damage]) -> DamageKPI {
        let received = damages.count
        let solved = damages.filter { $0.solvedAt != nil }.count
        return DamageKPI(
            received: received, solved: solved, percent: received == 0 ? nil : Double(solved) * 100 / Double(received),
            verdict: verdict(solved: solved, of: received))
    }
}

/// The KPI of the damages that became reiterated in `month`, from the `priority` schema; nil where
/// the schema does not exist.
public func damageKPI(on conn: PostgresConnection, month: YearMonth, logger: Logger = Logger(label: "ot.priority.kpi")) async throws -> DamageKPI? {
    guard try await Database.exists("priority.damages", on: conn, logger: logger) else { return nil }
    let from = month.firstDay.start, to = month.adding(months: 1).firstDay.start
    let rows = try await conn.query(
        "SELECT reiterated_at, solved_at FROM priority.damages WHERE reiterated_at >= \(from) AND reiterated_at < \(to)", logger: logger)
    var damages: [DamageKPI.Damage] = []
    for try await (reiterated, solved) in rows.decode((Date, Date?).self) {
        damages.append(.init(reiteratedAt: reiterated, solvedAt: solved))
    }
    return DamageKPI.compute(damages)
}
