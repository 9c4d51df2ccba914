import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The seed's three states of a pole move (OPE-SUM-GES-P08 step 10.1).
public enum PoleMoveSeedState: String, Codable, Sendable, CaseIterable {
    /// REGISTRADO: registered (paid or not) or assigned, not yet attended.
    case registrado = "REGISTRADO"
    /// ATENDIDO.
    case atendido = "ATENDIDO"
    /// ANULADO.
    case anulado = "ANULADO"
}

/// The pole-move KPI (OPE-SUM-GES-P08 §III.2): requests ATENDIDO / all pole-move requests × 100,
/// paid or not; ≥ 98 % APROBADO, < 98 % OBSERVADO.
public struct PoleMoveKPI: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable { case approved, observed, noData }
    public var attended: Int
    public var total: Int
    /// Percentage, nil when there were no requests.
    public var percent: Double?
    public var verdict: Verdict

    /// Pure arithmetic: the comparison is done in integers (attended × 100 ≥ 98 × total), so
    /// 49/50 = 98 % is approved exactly.
    public static func compute(attended: Int, total: Int) -> PoleMoveKPI {
        guard total > 0 else { return PoleMoveKPI(attended: attended, total: 0, percent: nil, verdict: .noData) }
        return PoleMoveKPI(
            attended: attended, total: total, percent: Double(attended) * 100 / Double(total),
            verdict: attended * 100 >= 98 * total ? .approved : .observed)
    }
}

/// The pole moves of one month (UTC, by the request's registration) and their monthly report to
/// the division head (OPE-SUM-GES-P08 step 14): every request's seed state is tracked here by
/// follow-up decisions of ``PoleMoveRequest``; a durable timer at the month's end produces the
/// report (`polemove.monthly-report`) once and records it, naming the backup reviewer (Resp.
/// Retención de Clientes, step 14.2) when the owner (Resp. Atención de Clientes) is absent then,
/// and opens the next month so that every month is reported, with requests or without.
public enum PoleMoveMonth: Aggregate {
    public static let kind = "poleMoveMonth"

    public static let owner = "Resp. Atención de Clientes"
    public static let backup = "Resp. Retención de Clientes"
    public static let addressee = "Jefa Div. Gestión Relación y Experiencia del Cliente"
    /// The report's timer.
    public static let reportTimer = "report"

    /// One request as the report counts it.
    @JSONMembers
    public struct Entry: Codable, Sendable, Equatable {
        public var requestId: String
        public var state: PoleMoveSeedState
        public var workOrderId: String?
        public var reason: String?
        public var correctiveAction: String?

        public init(
            requestId: String, state: PoleMoveSeedState, workOrderId: String? = nil, reason: String? = nil, correctiveAction: String? = nil
        ) {
            self.requestId = requestId
            self.state = state
            self.workOrderId = workOrderId
            self.reason = reason
            self.correctiveAction = correctiveAction
        }
    }

    /// The owner's absence, `[from, to]`.
    @JSONMembers
    public struct Absence: Codable, Sendable, Equatable {
        public var from: Date
        public var to: Date
    }

    @JSONMembers
    public struct State: AggregateState {
        /// `YYYY-MM`.
        public var month: String
        public var requests: [String: Entry] = [:]
        public var absences: [Absence] = []
        /// The report as sent, once the month has ended.
        public var report: PoleMoveMonthlyReport?
        public var reportedAt: Date?
        public var status: String { report == nil ? "open" : "reported" }
    }

    /// Each input names its month (the aggregate's key), since it may create it.
    public enum Input: Sendable {
        /// A request of the month changed (or was registered).
        case track(month: String, Entry)
        /// The owner is absent `[from, to]`; it matters when the report falls in it.
        case ownerAbsent(month: String, RecordReviewerAbsence)
        /// The previous month was reported: this one exists from now on.
        case ensure(month: String)
        /// The month has ended.
        case reportDue
    }

    /// A month begins with its first request, an absence recorded in it, or the previous month's report.
    static let opensOn = [RequestPoleMove.type, RecordReviewerAbsence.type, StateMachine.timer(reportTimer)]

    public static let machine = StateMachine(
        title: "pole moves of a month", procedure: "OPE-SUM-GES-P08 step 14",
        states: [.init("open"), .init("reported", final: true)],
        transitions: opensOn.map { .init(nil, "open", on: $0) } + [.init("open", "reported", on: StateMachine.timer(reportTimer))])

    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    /// The month of a date, `YYYY-MM` (UTC).
    public static func key(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month], from: date)
        return "\(zeroPadded(c.year ?? 0, width: 4))-\(zeroPadded(c.month ?? 0, width: 2))"
    }

    /// `[start, end)` of a `YYYY-MM` month; nil when the text is not one.
    public static func interval(_ month: String) -> (start: Date, end: Date)? {
        let parts = month.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, (1...12).contains(parts[1]),
            let start = utc.date(from: DateComponents(year: parts[0], month: parts[1], day: 1)),
            let end = utc.date(byAdding: .month, value: 1, to: start)
        else { return nil }
        return (start, end)
    }

    /// When the month's report is due: the first instant of the next month.
    public static func reportDue(_ month: String) -> Date? { interval(month)?.end }

    /// The months an absence `[from, to]` is recorded in: the month it starts in, and every month
    /// whose report falls within it (at most 13 in all).
    public static func months(ofAbsence from: Date, _ to: Date) -> [String] {
        var out = [key(from)]
        guard from <= to else { return out }
        // The report of month M is due at the start of M + 1: M is the month before each month start in range.
        var cursor = interval(key(from))!.start
        if cursor < from { cursor = interval(key(from))!.end }
        while cursor <= to, out.count < 13 {
            let month = key(cursor.addingTimeInterval(-1))
            if !out.contains(month) { out.append(month) }
            cursor = utc.date(byAdding: .month, value: 1, to: cursor)!
        }
        return out
    }

    public static func timerFired(_ name: String, dueAt: Date) -> Input? { name == reportTimer ? .reportDue : nil }

    /// The report of the month's requests as they stand (pure).
    public static func report(_ s: State, at now: Date) -> PoleMoveMonthlyReport {
        let entries = s.requests.values.sorted { $0.requestId < $1.requestId }
        let count = { (state: PoleMoveSeedState) in entries.filter { $0.state == state }.count }
        let kpi = PoleMoveKPI.compute(attended: count(.atendido), total: entries.count)
        let absent = s.absences.contains { $0.from <= now && now <= $0.to }
        return PoleMoveMonthlyReport(
            month: s.month, registrado: count(.registrado), atendido: count(.atendido), anulado: count(.anulado),
            total: entries.count, percent: kpi.percent, verdict: kpi.verdict.rawValue,
            cancellations: entries.filter { $0.state == .anulado }.map {
                PoleMoveCancellation(workOrderId: $0.workOrderId ?? $0.requestId, reason: $0.reason ?? "", correctiveAction: $0.correctiveAction)
            },
            preparedBy: absent ? backup : owner, byBackup: absent, addressedTo: addressee)
    }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let named: String?
        switch input {
        case .track(let m, _), .ownerAbsent(let m, _), .ensure(let m): named = m
        case .reportDue: named = nil
        }
        guard let month = state?.month ?? named else { return .ignore("timer of a month that does not exist") }
        guard let due = reportDue(month) else { throw Rejection(.internalError, "\(month) is not a month") }
        var s = state ?? State(month: month)
        let created = state == nil
        let opening = created ? [HistoryEntry("opened", from: nil, to: "open")] : []
        let timers: [TimerChange] = created ? [.set(reportTimer, at: due)] : []
        switch input {
        case .track(_, let entry):
            if created, entry.workOrderId != nil {
                // Only a registration opens a month: this request is older than the follow-up.
                return .ignore("request \(entry.requestId) was registered before the monthly follow-up existed")
            }
            if s.requests[entry.requestId] == entry, !created { return .ignore("nothing new for the report") }
            s.requests[entry.requestId] = entry
            return Decision(state: s, history: opening, timers: timers)

        case .ownerAbsent(_, let c):
            try Rejection.requireNonEmpty([("data.by", c.by)])
            if c.to < c.from { throw Rejection.validation([FieldProblem(field: "data.to", problem: "is before data.from")]) }
            if c.to.timeIntervalSince(c.from) > 366 * 86_400 {
                throw Rejection.validation([FieldProblem(field: "data.to", problem: "an absence lasts at most a year")])
            }
            let (from, to) = (c.from, c.to)
            let absence = Absence(from: from, to: to)
            if s.absences.contains(absence), !created { return .ignore("absence already recorded") }
            if s.report != nil { return .ignore("the report of \(month) was produced already") }
            s.absences.append(absence)
            return Decision(state: s, history: opening + [HistoryEntry("ownerAbsent", from: nil, to: nil, reason: "\(Wire.timestamp(from)) – \(Wire.timestamp(to))")], timers: timers)

        case .ensure:
            guard created else { return .ignore("\(month) exists") }
            return Decision(state: s, history: opening, timers: timers)

        case .reportDue:
            guard s.report == nil else { return .ignore("the report of \(month) was produced already") }
            if context.now < due { return Decision(state: nil, timers: [.set(reportTimer, at: due)]) }
            let report = report(s, at: context.now)
            s.report = report
            s.reportedAt = context.now
            return Decision(
                state: s,
                history: [HistoryEntry("reported", from: "open", to: "reported", by: report.preparedBy, reason: "\(report.atendido)/\(report.total) ATENDIDO → \(report.verdict)")],
                events: [report], followUps: [.to(PoleMoveMonth.self, key(due), .ensure(month: key(due)))])
        }
    }
}

/// The pole-move follow-up of a period (OPE-SUM-GES-P08 steps 11–14) from the `commercial`
/// schema: every request registered in [from, to), paid or not, in the seed's three states, with
/// the cancelled ones' reasons and corrective actions, and the KPI. For `otctl report`.
public struct PoleMoveFollowUp: Sendable, Equatable, Codable {
    public var registrado: Int
    public var atendido: Int
    public var anulado: Int
    public var total: Int
    public var kpi: PoleMoveKPI
    public var cancellations: [PoleMoveCancellation]

    /// The arithmetic (pure).
    public static func compute(_ requests: [(state: PoleMoveSeedState, cancellation: PoleMoveCancellation?)]) -> PoleMoveFollowUp {
        let count = { (s: PoleMoveSeedState) in requests.filter { $0.state == s }.count }
        return PoleMoveFollowUp(
            registrado: count(.registrado), atendido: count(.atendido), anulado: count(.anulado), total: requests.count,
            kpi: PoleMoveKPI.compute(attended: count(.atendido), total: requests.count),
            cancellations: requests.compactMap { $0.state == .anulado ? $0.cancellation : nil })
    }
}

/// Nil where the commercial schema does not exist (a database of other services only).
public func poleMoveFollowUp(
    on conn: PostgresConnection, from: Date, to: Date, logger: Logger = Logger(label: "ot.commercial.report")
) async throws -> PoleMoveFollowUp? {
    guard try await Database.exists("commercial.pole_move_requests", on: conn, logger: logger) else { return nil }
    let rows = try await conn.query(
        """
        SELECT state, COALESCE(work_order_id, id), COALESCE(cancel_reason, ''), corrective_action
        FROM commercial.pole_move_requests WHERE requested_at >= \(from) AND requested_at < \(to) ORDER BY requested_at, id
        """, logger: logger)
    var requests: [(state: PoleMoveSeedState, cancellation: PoleMoveCancellation?)] = []
    for try await (state, workOrderId, reason, action) in rows.decode((String, String, String, String?).self) {
        let seed: PoleMoveSeedState = state == "attended" ? .atendido : state == "cancelled" ? .anulado : .registrado
        requests.append((seed, seed == .anulado ? PoleMoveCancellation(workOrderId: workOrderId, reason: reason, correctiveAction: action) : nil))
    }
    return PoleMoveFollowUp.compute(requests)
}
