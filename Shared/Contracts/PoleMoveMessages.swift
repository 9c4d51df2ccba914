import Foundation

// The follow-up of pole moves (OPE-SUM-GES-P08 steps 11–14). Added to the contract after
// CONTRACT.md v1.

/// `polemove.record-corrective-action`: the customer-service head records, for a cancelled
/// (ANULADO) pole move, the corrective action taken on the reason it was not done (step 11).
@Contract("record the corrective action of a cancelled pole move")
public struct RecordCorrectiveAction: Command {
    public static let type = "polemove.record-corrective-action"

    /// The pole-move OT.
    ///
    /// The `PM-…` id of its `workorder.opened`.
    @Field(.identifier) public var workOrderId: String
    /// The corrective action taken.
    public var action: String
    /// Who records it (Resp. Atención de Clientes, or Resp. Retención de Clientes standing in).
    @Field(.identifier) public var by: String

    public var correlationKey: String? { workOrderId }

    public static let example = RecordCorrectiveAction(
        workOrderId: "PM-PMR-6f1c0d4e-8f7a-4b7e-9d55-0a8d2b3c9e11",
        action: "Se coordinó con Gestión de Redes una nueva visita con el vecino presente", by: "rosa.vargas")
}

/// `polemove.corrective-action-recorded`: the corrective action of a cancelled pole move was recorded.
@Contract("the corrective action of a cancelled pole move was recorded")
public struct CorrectiveActionRecorded: Event {
    public static let type = "polemove.corrective-action-recorded"

    /// The pole-move request.
    @Field(.identifier) public var requestId: String
    /// The pole-move OT.
    @Field(.identifier) public var workOrderId: String
    /// Why the OT was cancelled.
    public var reason: String
    /// The corrective action taken.
    public var action: String
    /// Who recorded it.
    @Field(.identifier) public var by: String

    public var correlationKey: String? { workOrderId }

    public static let example = CorrectiveActionRecorded(
        requestId: "PMR-6f1c0d4e-8f7a-4b7e-9d55-0a8d2b3c9e11", workOrderId: "PM-PMR-6f1c0d4e-8f7a-4b7e-9d55-0a8d2b3c9e11",
        reason: "El poste no era accesible", action: RecordCorrectiveAction.example.action, by: "rosa.vargas")
}

/// `polemove.record-reviewer-absence`: the owner of the pole-move follow-up (Resp. Atención de
/// Clientes) is absent from `from` to `to`: the monthly reports due then are prepared by the backup
/// reviewer (Resp. Retención de Clientes, step 14.2).
@Contract("record the absence of the owner of the pole-move follow-up")
public struct RecordReviewerAbsence: Command {
    public static let type = "polemove.record-reviewer-absence"

    /// First instant of the absence.
    public var from: Date
    /// Last instant of the absence.
    ///
    /// At most a year after `from`.
    public var to: Date
    /// Who records it.
    @Field(.identifier) public var by: String

    public static let example = RecordReviewerAbsence(
        from: ExampleTime.at("2026-11-28T00:00:00.000Z"), to: ExampleTime.at("2026-12-06T23:59:59.000Z"), by: "jefa.division")
}

/// A cancelled (ANULADO) pole move in a monthly report: its reason and the corrective action.
@Contract("a cancelled pole move in the monthly report")
public struct PoleMoveCancellation: Codable, Sendable, Equatable, Hashable {
    /// The pole-move OT.
    @Field(.identifier) public var workOrderId: String
    /// Why it was cancelled.
    public var reason: String
    /// The corrective action recorded (step 11), if any yet.
    public var correctiveAction: String?
}

/// `polemove.monthly-report`: the month's pole-move follow-up (step 14), produced by a timer when
/// the month ends and sent to the division head: the requests of the month by the seed's states
/// as they stood then, and the KPI (attended / all requests × 100, paid or not; ≥ 98 % approved).
@Contract("the monthly report of pole moves")
public struct PoleMoveMonthlyReport: Event {
    public static let type = "polemove.monthly-report"

    /// The month reported, `YYYY-MM` (UTC).
    @Field(.identifier) public var month: String
    /// REGISTRADO: registered (paid or not) or assigned, not yet attended.
    public var registrado: Int
    /// ATENDIDO: attended.
    public var atendido: Int
    /// ANULADO: cancelled.
    public var anulado: Int
    /// Every pole-move request of the month.
    public var total: Int
    /// atendido / total × 100; absent when there was no request.
    public var percent: Double?
    /// `approved` (≥ 98 %), `observed` or `noData`.
    @Field(.identifier) public var verdict: String
    /// The cancelled ones, with their reasons and corrective actions.
    public var cancellations: [PoleMoveCancellation]
    /// Who prepares it.
    ///
    /// `Resp. Atención de Clientes`, or `Resp. Retención de Clientes` when the owner is absent.
    @Field(.identifier) public var preparedBy: String
    /// Whether the backup reviewer prepared it.
    public var byBackup: Bool
    /// To whom it goes.
    @Field(.identifier) public var addressedTo: String

    public var correlationKey: String? { "polemove-report-\(month)" }

    public static let example = PoleMoveMonthlyReport(
        month: "2026-11", registrado: 1, atendido: 48, anulado: 1, total: 50, percent: 96, verdict: "observed",
        cancellations: [
            PoleMoveCancellation(
                workOrderId: "PM-PMR-6f1c0d4e-8f7a-4b7e-9d55-0a8d2b3c9e11", reason: "El poste no era accesible",
                correctiveAction: RecordCorrectiveAction.example.action)
        ],
        preparedBy: "Resp. Atención de Clientes", byBackup: false,
        addressedTo: "Jefa Div. Gestión Relación y Experiencia del Cliente")
}
