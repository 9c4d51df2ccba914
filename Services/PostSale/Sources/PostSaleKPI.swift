import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The post-sale KPIs of a month (GC-PRC-OPE-ASE-04 §III.2), over the requests received in it:
/// - efficacy = requests attended effectively / all requests × 100, ≥ 98 % accepted;
/// - timeliness = requests attended in under 24 h / all requests × 100, ≥ 95 % accepted;
/// otherwise observed (the comparison is exact, in integers: 49 of 50 is 98 % and accepted).
///
/// Attended effectively: completed with a good quality-control call, or answered as the procedure
/// says (turned down by one of its rules: a second suspension, no feasibility, retained, …).
/// Not effective: still open at the time of the report, abandoned, naming an unknown contract or
/// product, its OT cancelled, or completed with a failed quality-control call. Attended: the
/// flow's own steps done (the quality-control call requested) or the procedure's answer given.
public struct PostSaleKPI: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable { case accepted, observed, noData }

    public struct Request: Sendable, Equatable {
        public var receivedAt: Date
        public var attendedAt: Date?
        /// `completed`, a rejection code, `abandoned`, or nil while open.
        public var outcome: String?
        public var qualityOk: Bool?

        public init(receivedAt: Date, attendedAt: Date?, outcome: String?, qualityOk: Bool?) {
            self.receivedAt = receivedAt
            self.attendedAt = attendedAt
            self.outcome = outcome
            self.qualityOk = qualityOk
        }
    }

    /// Rejection codes that are the procedure's own answer (the request was attended as it says).
    public static let procedureAnswers: Set<String> = [
        "suspensionAlreadyThisYear", "suspensionTooLong", "accountNotUpToDate", "notFeasible", "penaltyRefused", "retained",
        "notSuspended", "nothingToChange", "alreadySuspended",
    ]

    public var total: Int
    public var effective: Int
    public var onTime: Int
    public var efficacyPercent: Double?
    public var timelinessPercent: Double?
    public var efficacy: Verdict
    public var timeliness: Verdict

    public static func isEffective(_ r: Request) -> Bool {
        switch r.outcome {
        case "completed"?: r.qualityOk == true
        case let code?: procedureAnswers.contains(code)
        case nil: false
        }
    }

    public static func isOnTime(_ r: Request) -> Bool {
        guard let attended = r.attendedAt else { return false }
        return attended.timeIntervalSince(r.receivedAt) < 86_400
    }

    static func verdict(_ n: Int, of total: Int, atLeast threshold: Int) -> Verdict {
        total == 0 ? .noData : n * 100 >= threshold * total ? .accepted : .observed
    }

    public static func compute(_ requests: [Request]) -> PostSaleKPI {
        let total = requests.count
        let effective = requests.filter(isEffective).count
        let onTime = requests.filter(isOnTime).count
        let percent = { (n: Int) in total == 0 ? nil : Double(n) * 100 / Double(total) }
        return PostSaleKPI(
            total: total, effective: effective, onTime: onTime, efficacyPercent: percent(effective), timelinessPercent: percent(onTime),
            efficacy: verdict(effective, of: total, atLeast: 98), timeliness: verdict(onTime, of: total, atLeast: 95))
    }
}

/// The KPIs of the requests received in `month` (UTC), from the `postsale` schema; nil where the
/// schema does not exist.
public func postSaleKPI(on conn: PostgresConnection, month: YearMonth, logger: Logger = Logger(label: "ot.postsale.kpi")) async throws -> PostSaleKPI? {
    guard try await Database.exists("postsale.requests", on: conn, logger: logger) else { return nil }
    let from = month.firstDay.start, to = month.adding(months: 1).firstDay.start
    let rows = try await conn.query(
        "SELECT received_at, attended_at, outcome, quality_ok FROM postsale.requests WHERE received_at >= \(from) AND received_at < \(to)",
        logger: logger)
    var requests: [PostSaleKPI.Request] = []
    for try await (received, attended, outcome, ok) in rows.decode((Date, Date?, String?, Bool?).self) {
        requests.append(.init(receivedAt: received, attendedAt: attended, outcome: outcome, qualityOk: ok))
    }
    return PostSaleKPI.compute(requests)
}
