import Foundation

// Facts of damage cases (COM-GCM-P12), published on `ot.events`.

/// `damage.registered`: a damage was registered and, unless the help desk fixed it on the line, a
/// repair OT opened.
@Contract("a damage was registered")
public struct DamageRegistered: Event {
    public static let type = "damage.registered"

    /// The damage case.
    @Field(.identifier) public var damageId: String
    /// The damaged product.
    @Field(.typeDescription) public var product: ProductRef
    /// Work-order id.
    ///
    /// The repair OT; absent when the help desk fixed the damage on the line.
    @Field(.identifier) public var workOrderId: String?
    /// 0 = first damage, n = n-th reiteration.
    ///
    /// Counts reiterations of the same fault.
    @Field(min: 0) public var reiteration: Int
    /// Where the report came in.
    @Field(.typeDescription) public var channel: DamageChannel
    /// The fault; a damage after one closed without solution keeps the same fault.
    public var fault: String

    public var correlationKey: String? { damageId }

    public static let example = DamageRegistered(
        damageId: "DN-2026-018844", product: .example, workOrderId: "3e5a7c9b-1d2f-4a6b-8c0d-e1f2a3b4c5d6",
        reiteration: 1, channel: .callCenter, fault: "Sin conexión a internet, luz LOS roja en el router")
}

/// `damage.reiterated`: a new report arrived for a product with an open or unresolved damage.
@Contract("a damage was reiterated")
public struct DamageReiterated: Event {
    public static let type = "damage.reiterated"

    /// The damage case.
    @Field(.identifier) public var damageId: String
    /// The earlier damage it repeats.
    @Field(.identifier) public var previousDamageId: String
    /// How many times it has been reported.
    @Field(min: 1) public var count: Int
    /// The product.
    @Field(.typeDescription) public var product: ProductRef
    /// The estimated repair time told to the caller (optional, added).
    ///
    /// The priority deadline of the open damage's repair OT, when it has one.
    public var estimatedRepairBy: Date?

    public var correlationKey: String? { damageId }

    public static let example = DamageReiterated(
        damageId: "DN-2026-018844", previousDamageId: "DN-2026-017302", count: 2, product: .example,
        estimatedRepairBy: ExampleTime.at("2026-11-23T14:03:11.250Z"))
}

/// `damage.high-vulnerability`: a reiterated claim of priority level 1 or 2 (COM-GCM-P12 steps
/// 25–27): the operations-center administrator and its head take it, and the head of provisioning
/// and assurance is notified (a message other systems can turn into an email).
@Contract("a reiterated damage of high vulnerability")
public struct DamageHighVulnerability: Event {
    public static let type = "damage.high-vulnerability"

    /// The damage case.
    @Field(.identifier) public var damageId: String
    /// Work-order id.
    ///
    /// The repair OT.
    @Field(.identifier) public var workOrderId: String
    /// The product.
    @Field(.typeDescription) public var product: ProductRef
    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// Priority level of the OT (1 or 2).
    @Field(min: 1, max: 2) public var level: Int
    /// How many times the damage was reported.
    @Field(min: 1) public var reiteration: Int
    /// Who takes the case.
    public var assignedTo: [String]
    /// Who is notified.
    public var notify: [String]

    public var correlationKey: String? { damageId }

    public static let example = DamageHighVulnerability(
        damageId: "DN-2026-018844", workOrderId: "3e5a7c9b-1d2f-4a6b-8c0d-e1f2a3b4c5d6", product: .example,
        customer: .residentialExample, level: 2, reiteration: 1,
        assignedTo: ["operations-center administrator", "head of the operations center"],
        notify: ["head of provisioning and assurance"])
}

/// `command.rejected`: a command was invalid or broke a rule; nothing changed. Exactly one per
/// rejected command, correlated to it.
@Contract("a command was rejected")
public struct CommandRejected: Event {
    public static let type = "command.rejected"

    /// The rejected command's envelope id.
    ///
    /// May be empty if it could not be read.
    public var commandId: String
    /// The rejected command's type.
    ///
    /// May be empty if it could not be read.
    public var commandType: String
    /// `missingField`, `invalidValue`, `malformedJSON`, `unknownType`, … or a rule code.
    ///
    /// Why: a ``ContractError/Code`` name or a domain rule code.
    @Field(.identifier) public var code: String
    /// Human-readable explanation.
    public var message: String
    /// Offending fields.
    public var errors: [FieldProblem]

    /// The rejection of a command that broke the contract.
    public init(commandId: String, commandType: String, error: ContractError) {
        self.init(
            commandId: commandId, commandType: commandType, code: error.code.description,
            message: error.message, errors: error.problems)
    }

    public static let example = CommandRejected(
        commandId: "6f1c0d4e-8f7a-4b7e-9d55-0a8d2b3c9e11", commandType: "workorder.open", code: "missingField",
        message: "data.customer is required",
        errors: [FieldProblem(field: "data.customer", problem: "data.customer is required")])
}

// Quality control and escalation of damage cases (COM-GCM-P12), as CONTRACT.md fixes them; the
// repeated-damage service that sends and takes them is issue 9's.

/// What a failed quality-control check found.
public enum DamageProblem: String, Codable, Sendable, CaseIterable {
    /// Fixed from the system.
    case configuration
    /// An immediate OT.
    case line
    /// The service still fails (telephony / TV): the escalation ladder.
    case service
}

/// How a damage was solved.
public enum DamageSolution: String, Codable, Sendable, CaseIterable {
    case field
    case remote
    case qualityCheck
    case escalation
}

/// `damage.record-quality-check`: the check 24 h after an internet repair, or the operations
/// center's call on telephony / TV.
@Contract("record the quality check of a repaired damage")
public struct RecordDamageQualityCheck: Command {
    public static let type = "damage.record-quality-check"

    /// The damage case.
    @Field(.identifier) public var damageId: String
    /// The service works.
    public var ok: Bool
    /// What is still wrong.
    public var problem: DamageProblem?
    /// Notes.
    public var notes: String?

    public var correlationKey: String? { damageId }

    public static let example = RecordDamageQualityCheck(
        damageId: "DN-2026-018844", ok: false, problem: .line, notes: "Atenuación alta en la acometida")
}

/// `damage.record-escalation-result`: the outcome of the current step of the escalation ladder.
@Contract("record the outcome of an escalation step")
public struct RecordEscalationResult: Command {
    public static let type = "damage.record-escalation-result"

    /// The damage case.
    @Field(.identifier) public var damageId: String
    /// Solved at this step.
    public var solved: Bool
    /// Notes.
    public var notes: String?

    public var correlationKey: String? { damageId }

    public static let example = RecordEscalationResult(damageId: "DN-2026-018844", solved: true, notes: "Cambio de par en el armario 14")
}

/// `damage.quality-check-due`: a repaired internet damage is checked 24 h after its OT closed.
@Contract("a repaired damage is due for its quality check")
public struct DamageQualityCheckDue: Event {
    public static let type = "damage.quality-check-due"

    /// The damage case.
    @Field(.identifier) public var damageId: String
    /// Work-order id.
    ///
    /// The repair OT.
    @Field(.identifier) public var workOrderId: String
    /// When the check is due.
    public var dueAt: Date

    public var correlationKey: String? { damageId }

    public static let example = DamageQualityCheckDue(
        damageId: "DN-2026-018844", workOrderId: "3e5a7c9b-1d2f-4a6b-8c0d-e1f2a3b4c5d6", dueAt: ExampleTime.at("2026-11-25T16:00:00Z"))
}

/// `damage.solved`: a damage case ended solved.
@Contract("a damage was solved")
public struct DamageSolved: Event {
    public static let type = "damage.solved"

    /// The damage case.
    @Field(.identifier) public var damageId: String
    /// The product.
    @Field(.typeDescription) public var product: ProductRef
    /// It was a reiterated damage.
    public var reiterated: Bool
    /// When it was solved.
    public var solvedAt: Date
    /// How.
    @Field(.typeDescription) public var how: DamageSolution

    public var correlationKey: String? { damageId }

    public static let example = DamageSolved(
        damageId: "DN-2026-018844", product: .example, reiterated: true, solvedAt: ExampleTime.at("2026-11-25T18:30:00Z"), how: .qualityCheck)
}
