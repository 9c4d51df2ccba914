import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The follow-up report of OT states (OPE-SUM-GES-P08 steps 11–14): how the OTs registered in a
/// period stood at its end, in the seed's buckets, with the reasons of the cancelled ones.
public struct StateReport: Sendable, Equatable, Codable {
    /// A cancelled OT and why (step 11: review the reason, take corrective action).
    public struct Cancellation: Sendable, Equatable, Codable {
        public var workOrderId: String
        public var kind: String?
        public var reason: String
        public var at: Date
    }

    public var from: Date
    public var to: Date
    /// REGISTRADO: opened, approvalPending, approved, dispatched (step 12: push for attention).
    public var registrado: Int
    /// ASIGNADO / orden de reparación: assigned.
    public var asignado: Int
    /// ATENDIDO: attended or closed with outcome resolved or unfounded (step 13: verify).
    public var atendido: Int
    /// ATENDIDO SIN SOLUCIÓN: attended or closed with outcome unresolved.
    public var atendidoSinSolucion: Int
    /// ANULADO: cancelled.
    public var anulado: Int
    /// Rejected at approval (not a seed state; listed so the total adds up).
    public var rechazado: Int
    /// CERRADO: of `atendido` + `atendidoSinSolucion`, how many are closed.
    public var cerrado: Int
    /// Every OT registered in the period.
    public var total: Int
    public var cancellations: [Cancellation]
}

/// The seed buckets of a state (and outcome).
public enum ReportBucket: String, Sendable, CaseIterable, Codable {
    case registrado, asignado, atendido, atendidoSinSolucion, anulado, rechazado

    public static func of(state: WorkOrderState, outcome: Outcome?) -> ReportBucket {
        switch state {
        case .opened, .approvalPending, .approved, .dispatched: .registrado
        case .assigned: .asignado
        case .attended, .closed: outcome == .unresolved ? .atendidoSinSolucion : .atendido
        case .cancelled: .anulado
        case .rejected: .rechazado
        }
    }
}

/// The state of every OT registered in [from, to) (first known to dispatch then), as of `to`
/// — replayed from the transition history, so a report of a past month does not move.
public func stateReport(on conn: PostgresConnection, from: Date, to: Date, kind: WorkOrderKind? = nil, logger: Logger = Logger(label: "ot.dispatch.report")) async throws -> StateReport {
    let rows = try await conn.query(
        """
        SELECT w.id, w.kind, t.to_state, w.outcome, COALESCE(w.cancel_reason, ''), t.at
        FROM dispatch.work_orders w
        JOIN LATERAL (SELECT to_state, at FROM dispatch.transitions
                      WHERE work_order_id = w.id AND at < \(to) ORDER BY at DESC, id DESC LIMIT 1) t ON true
        WHERE w.created_at >= \(from) AND w.created_at < \(to) AND (\(kind?.rawValue)::text IS NULL OR w.kind = \(kind?.rawValue))
        ORDER BY w.id
        """, logger: logger)
    var counts: [ReportBucket: Int] = [:]
    var closed = 0
    var total = 0
    var cancellations: [StateReport.Cancellation] = []
    for try await (id, k, state, outcome, reason, at) in rows.decode((String, String?, String, String?, String, Date).self) {
        guard let s = WorkOrderState(rawValue: state) else { continue }
        let bucket = ReportBucket.of(state: s, outcome: outcome.flatMap(Outcome.init(rawValue:)))
        counts[bucket, default: 0] += 1
        total += 1
        if s == .closed { closed += 1 }
        if s == .cancelled { cancellations.append(.init(workOrderId: id, kind: k, reason: reason, at: at)) }
    }
    return StateReport(
        from: from, to: to, registrado: counts[.registrado] ?? 0, asignado: counts[.asignado] ?? 0,
        atendido: counts[.atendido] ?? 0, atendidoSinSolucion: counts[.atendidoSinSolucion] ?? 0,
        anulado: counts[.anulado] ?? 0, rechazado: counts[.rechazado] ?? 0, cerrado: closed, total: total,
        cancellations: cancellations)
}
