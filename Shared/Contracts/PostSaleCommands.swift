import Foundation

// Commands of a running post-sale request (GC-PRC-OPE-ASE-04), published on `ot.commands` by the
// CRM: what the executive, the commercial and technical managers and the analyst record as the
// flow goes on. Each names the request.

/// `postsale.complete-requirements`: the client completed what was missing.
@Contract("complete the requirements of a post-sale request")
public struct CompletePostSaleRequirements: Command {
    public static let type = "postsale.complete-requirements"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Documents brought.
    public var documents: [Document]?
    /// Fields brought, merged into the request's details.
    public var details: JSONObject?

    public var correlationKey: String? { requestId }

    public static let example = CompletePostSaleRequirements(
        requestId: "PV-2026-003201",
        documents: [
            Document(
                kind: .requestLetter, uri: "s3://ot-docs/C-5531/carta-retiro.pdf",
                sha256: "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a0c2e4f6a8b0d2f4e6a8c0e")
        ], details: ["requestDate": "2026-12-10"])
}

/// `postsale.abandon`: the client did not complete the requirements; the request ends.
@Contract("abandon a post-sale request")
public struct AbandonPostSale: Command {
    public static let type = "postsale.abandon"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Why.
    public var reason: String

    public var correlationKey: String? { requestId }

    public static let example = AbandonPostSale(requestId: "PV-2026-003201", reason: "El cliente no presentó la carta de solicitud")
}

/// `postsale.record-feasibility`: the commercial manager's technical feasibility (transfer, fiber migration).
@Contract("record the technical feasibility of a post-sale request")
public struct RecordFeasibility: Command {
    public static let type = "postsale.record-feasibility"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Whether it is feasible.
    public var feasible: Bool
    /// Notes.
    public var notes: String?

    public var correlationKey: String? { requestId }

    public static let example = RecordFeasibility(requestId: "PV-2026-002990", feasible: true, notes: "NAP con puertos libres")
}

/// `postsale.record-retention`: the client's answer to the retention offer (withdrawal outside the minimum permanence).
@Contract("record the answer to a retention offer")
public struct RecordRetention: Command {
    public static let type = "postsale.record-retention"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Whether the client accepted the offer (and stays).
    public var accepted: Bool
    /// The offer made.
    public var offer: String?

    public var correlationKey: String? { requestId }

    public static let example = RecordRetention(requestId: "PV-2026-003040", accepted: false, offer: "Tres meses al 50 %")
}

/// `postsale.record-penalty-decision`: whether the client accepts the early-termination penalty.
@Contract("record the answer to the early-termination penalty")
public struct RecordPenaltyDecision: Command {
    public static let type = "postsale.record-penalty-decision"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Whether the client accepts to pay it.
    public var accepted: Bool

    public var correlationKey: String? { requestId }

    public static let example = RecordPenaltyDecision(requestId: "PV-2026-003040", accepted: true)
}

/// `postsale.record-equipment`: the equipment returned on a withdrawal was checked.
@Contract("record the equipment returned on a withdrawal")
public struct RecordEquipment: Command {
    public static let type = "postsale.record-equipment"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// All of it came back.
    public var complete: Bool
    /// Some of it is damaged.
    public var damaged: Bool
    /// What is missing or damaged.
    public var notes: String?

    public var correlationKey: String? { requestId }

    public static let example = RecordEquipment(requestId: "PV-2026-003040", complete: true, damaged: false, notes: "Router y control remoto")
}

/// `postsale.record-diagnosis`: the analyst's remote diagnosis (help-desk tool).
@Contract("record the remote diagnosis of a post-sale request")
public struct RecordDiagnosis: Command {
    public static let type = "postsale.record-diagnosis"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Fixed remotely (closed as infundado).
    public var remoteFix: Bool
    /// What the diagnosis found: cuts, coverage, devices, speed, …
    public var findings: String

    public var correlationKey: String? { requestId }

    public static let example = RecordDiagnosis(
        requestId: "PV-2026-003311", remoteFix: true, findings: "Canal wifi saturado; cambiado a 5 GHz")
}

/// `postsale.record-quality-check`: the executive's quality-control call; the request completes.
@Contract("record the quality-control call of a post-sale request")
public struct RecordPostSaleQualityCheck: Command {
    public static let type = "postsale.record-quality-check"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// The service works and the client agrees.
    public var ok: Bool
    /// Notes of the call.
    public var notes: String?

    public var correlationKey: String? { requestId }

    public static let example = RecordPostSaleQualityCheck(requestId: "PV-2026-002918", ok: true, notes: "Cliente conforme")
}

/// `postsale.record-client-decision`: the client's answer to what the flow offered (a claim's
/// resolution, the cost of surplus cable for a fiber migration).
@Contract("record the client's answer in a post-sale request")
public struct RecordClientDecision: Command {
    public static let type = "postsale.record-client-decision"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Satisfied with the resolution, or accepting the cost.
    public var accepted: Bool
    /// Notes.
    public var notes: String?

    public var correlationKey: String? { requestId }

    public static let example = RecordClientDecision(requestId: "PV-2026-003177", accepted: true, notes: "Acepta el cobro del cable excedente")
}

/// `postsale.record-claim-resolution`: UTAR (billing-claims unit) resolved a billing claim.
@Contract("record UTAR's resolution of a billing claim")
public struct RecordClaimResolution: Command {
    public static let type = "postsale.record-claim-resolution"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// What UTAR resolved.
    public var resolution: String

    public var correlationKey: String? { requestId }

    public static let example = RecordClaimResolution(
        requestId: "PV-2026-003090", resolution: "Se anula el cargo duplicado de noviembre (Bs 70)")
}
