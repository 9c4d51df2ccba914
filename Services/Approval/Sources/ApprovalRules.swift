import Contracts
import Foundation
import Runtime

/// Where an OT stands in the approval service's view of it (SGC-PC-07 §4.4).
///
/// `approvalPending` ⇄ (documents attached) → `approved` | `rejected`; `cancelled` (a fact from
/// dispatch) from `approvalPending` or `approved`; `closed` (a fact from dispatch) after `approved`.
/// Only `approvalPending` accepts commands.
public enum ApprovalState: String, Codable, Sendable, CaseIterable {
    case approvalPending
    case approved
    case rejected
    case cancelled
    case closed
}

/// The outcome of running the documentation checklist on an OT.
public enum GateOutcome: Sendable, Equatable {
    /// Approved without a person: `by` is `quality-gate` (a complete project) or `auto:<kind>`.
    case approved(by: String)
    /// Waiting for documents; the list follows the convention of ``QualityGate/missingDocuments(kind:documents:)``.
    case pending(missing: [DocumentKind])
}

/// The documentation checklist per OT kind (SGC-PC-07 §4.3–4.4).
public enum QualityGate {
    /// Any one of these supports a project OT besides the offer (§4.4).
    public static let supportingDocuments: Set<DocumentKind> = [.purchaseOrder, .signedQuote, .contract]

    /// Whether an OT of this kind goes through the documentation check. Only `project` OTs do;
    /// pole moves, repairs, installations, transfers, withdrawals and visits come from procedures
    /// that have already checked their own requirements.
    public static func isGated(_ kind: WorkOrderKind) -> Bool { kind == .project }

    /// What a gated OT still lacks, in a fixed order. Convention: `offer` when there is no offer;
    /// `purchaseOrder` when there is none of purchase order, signed quotation or contract — it
    /// stands for "one of the three". Empty when complete, and always empty for ungated kinds.
    /// Only documents in the folder count: the `purchaseOrder` data of `workorder.opened` without the
    /// document itself does not satisfy the gate.
    public static func missingDocuments(kind: WorkOrderKind, documents: [Document]) -> [DocumentKind] {
        guard isGated(kind) else { return [] }
        let kinds = Set(documents.map(\.kind))
        var missing: [DocumentKind] = []
        if !kinds.contains(.offer) { missing.append(.offer) }
        if kinds.isDisjoint(with: supportingDocuments) { missing.append(.purchaseOrder) }
        return missing
    }

    /// Who approves an OT that needs no person: `quality-gate` for a complete project, `auto:<kind>`
    /// for an ungated kind.
    public static func automaticApprover(_ kind: WorkOrderKind) -> String {
        isGated(kind) ? "quality-gate" : "auto:\(kind.rawValue)"
    }

    /// Runs the checklist.
    public static func evaluate(kind: WorkOrderKind, documents: [Document]) -> GateOutcome {
        let missing = missingDocuments(kind: kind, documents: documents)
        return missing.isEmpty ? .approved(by: automaticApprover(kind)) : .pending(missing: missing)
    }
}

/// The transitions of an OT in the approval service, as pure functions: the current state (nil =
/// the OT is unknown here) and the command in, the decision out, or a ``Rejection``. Input
/// problems are reported first (`validation`), then `notFound`, then `invalidTransition`.
public enum ApprovalRules {
    static func blank(_ s: String?) -> Bool {
        (s ?? "").isBlank
    }

    static func requireKnown(_ state: ApprovalState?, _ workOrderId: String) throws(Rejection) -> ApprovalState {
        guard let state else {
            throw .notFound(
                "work order \(workOrderId) is unknown to approval", field: "data.workOrderId", problem: "unknown work order")
        }
        return state
    }

    static func requirePending(_ state: ApprovalState, _ workOrderId: String, _ action: String) throws(Rejection) {
        guard state == .approvalPending else {
            throw .invalidTransition(
                "cannot \(action) work order \(workOrderId): it is \(state.rawValue), not approvalPending",
                field: "data.workOrderId", problem: "work order is \(state.rawValue)")
        }
    }

    /// `workorder.attach-document`: only a pending OT takes documents (an approved, rejected or
    /// cancelled one is `invalidTransition`: its approval is settled, so a late document could only be
    /// misleading); the checklist then runs again on the folder plus the new document.
    public static func attach(
        state: ApprovalState?, kind: WorkOrderKind, documents: [Document], command: AttachDocument
    ) throws(Rejection) -> GateOutcome {
        var problems: [FieldProblem] = []
        if blank(command.workOrderId) { problems.append(FieldProblem(field: "data.workOrderId", problem: "must not be empty")) }
        if blank(command.document.uri) { problems.append(FieldProblem(field: "data.document.uri", problem: "must not be empty")) }
        if let sha = command.document.sha256, sha.count != 64 || !sha.allSatisfy(\.isHexDigit) {
            problems.append(FieldProblem(field: "data.document.sha256", problem: "must be 64 hexadecimal characters"))
        }
        if !problems.isEmpty { throw Rejection.validation(problems) }
        let state = try requireKnown(state, command.workOrderId)
        try requirePending(state, command.workOrderId, "attach a document to")
        return QualityGate.evaluate(kind: kind, documents: documents + [command.document])
    }

    /// `workorder.approve`: the quality controller's decision. Allowed on a pending OT even when
    /// documents are missing (an override, recorded with who and why); `invalidTransition` otherwise.
    public static func approve(state: ApprovalState?, command: ApproveWorkOrder) throws(Rejection) {
        var problems: [FieldProblem] = []
        if blank(command.workOrderId) { problems.append(FieldProblem(field: "data.workOrderId", problem: "must not be empty")) }
        if blank(command.by) { problems.append(FieldProblem(field: "data.by", problem: "must not be empty")) }
        if !problems.isEmpty { throw Rejection.validation(problems) }
        try requirePending(try requireKnown(state, command.workOrderId), command.workOrderId, "approve")
    }

    /// `workorder.reject`: needs who and why; a pending OT only.
    public static func reject(state: ApprovalState?, command: RejectWorkOrder) throws(Rejection) {
        var problems: [FieldProblem] = []
        if blank(command.workOrderId) { problems.append(FieldProblem(field: "data.workOrderId", problem: "must not be empty")) }
        if blank(command.by) { problems.append(FieldProblem(field: "data.by", problem: "must not be empty")) }
        if blank(command.reason) { problems.append(FieldProblem(field: "data.reason", problem: "a rejection needs a reason")) }
        if !problems.isEmpty { throw Rejection.validation(problems) }
        try requirePending(try requireKnown(state, command.workOrderId), command.workOrderId, "reject")
    }

    /// `workorder.cancelled` (a fact): the new state, or nil when there is nothing to change (already
    /// cancelled, or rejected/closed — final states keep their state and the fact is only logged).
    public static func cancelled(from state: ApprovalState) -> ApprovalState? {
        switch state {
        case .approvalPending, .approved: .cancelled
        case .rejected, .cancelled, .closed: nil
        }
    }

    /// `workorder.closed` (a fact): `approved` becomes `closed`; anything else is left as it is.
    public static func closed(from state: ApprovalState) -> ApprovalState? {
        state == .approved ? .closed : nil
    }
}

/// Where a prefactura stands in its commercial review (SGC-PC-07 §4.6).
public enum PrefacturaState: String, Codable, Sendable, CaseIterable {
    /// Issued, waiting for the commercial head.
    case pending
    /// Matches the commercial agreements: billing may invoice.
    case approved
    /// Sent back with notes.
    case returned
    /// A newer prefactura for the same OT was issued before this one was reviewed.
    case superseded
}

/// The commercial review of a prefactura, as a pure function.
public enum PrefacturaRules {
    /// `billing.prefactura-review`: the state after the decision, or a ``Rejection``. `by` is
    /// required; a return needs notes; only a pending prefactura (nil = unknown → `notFound`) is
    /// reviewed.
    /// A prefactura drafted without a price (`needsPricing`) is returned or priced, never approved
    /// as it stands (issue 7, rule 5).
    public static func review(state: PrefacturaState?, command: ReviewPrefactura, needsPricing: Bool = false) throws(Rejection) -> PrefacturaState {
        var problems: [FieldProblem] = []
        if ApprovalRules.blank(command.prefacturaId) {
            problems.append(FieldProblem(field: "data.prefacturaId", problem: "must not be empty"))
        }
        if ApprovalRules.blank(command.by) { problems.append(FieldProblem(field: "data.by", problem: "must not be empty")) }
        if command.decision == .return, ApprovalRules.blank(command.notes) {
            problems.append(FieldProblem(field: "data.notes", problem: "a returned prefactura needs notes saying what to correct"))
        }
        if !problems.isEmpty { throw Rejection.validation(problems) }
        guard let state else {
            throw .notFound(
                "prefactura \(command.prefacturaId) is unknown to approval", field: "data.prefacturaId", problem: "unknown prefactura")
        }
        guard state == .pending else {
            throw .invalidTransition(
                "prefactura \(command.prefacturaId) is \(state.rawValue), not pending review", field: "data.prefacturaId",
                problem: "prefactura is \(state.rawValue)")
        }
        if command.decision == .approve, needsPricing {
            throw .invalidTransition(
                "prefactura \(command.prefacturaId) was drafted at 0 without a price: it is priced first (billing.price-prefactura)",
                field: "data.prefacturaId", problem: "prefactura needs pricing")
        }
        return command.decision == .approve ? .approved : .returned
    }
}
