import Contracts
import Foundation
import Runtime

/// OPE-SUM-GES-P08, steps 1–7: a pole move for a person with no active service.
public enum PoleMoveRules {
    /// The CxC charged for a pole move (step 3): Bs 1000.
    public static let fee = Money(minor: 100_000, currency: .bob)
    /// The generic COMTECO customer number under which the request is registered (step 2).
    public static let genericCustomerId = "COMTECO-GENERICO"
    /// Engineering-service activity codes (steps 7 and 9).
    public static let activity = "52137 Servicio de Ingeniería Traslado Poste Usuario / 8074 LBC Venta Servicio de Ingeniería"

    /// Step 1: existing customers go to the generic procedure; the rest must name who pays and where.
    public static func validate(_ request: RequestPoleMove) throws(Rejection) {
        if request.isExistingCustomer {
            throw Rejection(
                .useGenericProcedure,
                "the requester is an existing customer: use the generic procedure",
                errors: [FieldProblem(field: "data.isExistingCustomer", problem: "existing customers use the generic procedure")])
        }
        var problems: [FieldProblem] = []
        if request.requester.name.isBlank {
            problems.append(FieldProblem(field: "data.requester.name", problem: "must not be empty"))
        }
        if request.requester.idNumber.isBlank {
            problems.append(FieldProblem(field: "data.requester.idNumber", problem: "the CI or NIT the CxC is issued to"))
        }
        if request.address.isBlank {
            problems.append(FieldProblem(field: "data.address", problem: "must not be empty"))
        }
        if !problems.isEmpty { throw Rejection.validation(problems) }
    }

    /// The id of the OT a pole-move request leads to once its CxC is paid: known from the
    /// request on, so the charge names it (billing links the two with it).
    public static func workOrderId(requestId: String) -> String { "PM-\(requestId)" }

    /// Step 3: the CxC in the requester's name, for the OT it pays for (opened after payment).
    public static func charge(requestId: String, for request: RequestPoleMove) -> ChargeRequested {
        ChargeRequested(
            requestId: requestId, amount: fee, payer: request.requester,
            reason: "Movimiento de poste para usuario sin servicios activos (OPE-SUM-GES-P08)",
            workOrderId: workOrderId(requestId: requestId))
    }

    /// Steps 6–7, once the CxC is paid: the OT, with no document gate.
    public static func workOrder(requestId: String, requester: Payer, address: String) -> OpenWorkOrder {
        OpenWorkOrder(
            workOrderId: workOrderId(requestId: requestId), kind: .poleMove,
            customer: Customer(
                id: genericCustomerId, name: requester.name, taxId: requester.idNumber, sector: .private,
                segment: .residential, country: .bo),
            documents: [], description: "\(activity) — \(address)")
    }
}

/// SGC-PC-07 §4.9: scope changes are formalised with the SGC-DC-03 form; a change that alters the
/// OT's amount names the new amount, in the OT's currency.
public enum ScopeRules {
    public static func validate(_ command: ChangeScope, state: WorkOrderState?, currency: Currency? = nil) throws(Rejection) {
        guard let state else {
            throw .notFound(
                "work order \(command.workOrderId) does not exist", field: "data.workOrderId", problem: "unknown work order",
                mayBeLate: false)
        }
        if state.isFinal {
            throw Rejection(
                .invalidTransition, "work order \(command.workOrderId) is \(state.rawValue): its scope can no longer change",
                errors: [FieldProblem(field: "data.workOrderId", problem: "work order is \(state.rawValue)")])
        }
        var problems: [FieldProblem] = []
        if command.changes.isEmpty { problems.append(FieldProblem(field: "data.changes", problem: "must list at least one change")) }
        if command.document.uri.isBlank {
            problems.append(FieldProblem(field: "data.document.uri", problem: "the signed SGC-DC-03 form is required"))
        }
        if let amount = command.amount {
            if amount.minor <= 0 { problems.append(FieldProblem(field: "data.amount.minor", problem: "must be positive")) }
            if let currency, amount.currency != currency {
                problems.append(FieldProblem(field: "data.amount.currency", problem: "must be the OT's currency, \(currency.rawValue)"))
            }
        }
        if !problems.isEmpty { throw Rejection.validation(problems) }
    }
}
