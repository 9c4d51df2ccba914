import Foundation

// Facts of damage cases (COM-GCM-P12), published on `ot.events`.

/// `damage.registered`: a damage was registered and a repair OT opened.
public struct DamageRegistered: Event {
    public static let type = "damage.registered"

    /// The damage case.
    public var damageId: String
    /// The damaged product.
    public var product: ProductRef
    /// The repair OT.
    public var workOrderId: String
    /// 0 for a first damage; n for the n-th reiteration of the same fault.
    public var reiteration: Int

    /// Creates the event.
    public init(damageId: String, product: ProductRef, workOrderId: String, reiteration: Int) {
        self.damageId = damageId
        self.product = product
        self.workOrderId = workOrderId
        self.reiteration = reiteration
    }

    public var correlationKey: String? { damageId }

    public static let schema: JSONSchema = .object(
        [
            "damageId": .required(.identifier("the damage case")),
            "product": .required(ProductRef.schema),
            "workOrderId": .required(.workOrderId),
            "reiteration": .required(.integer(min: 0, "0 = first damage, n = n-th reiteration")),
        ], description: "a damage was registered")

    public static let example = DamageRegistered(
        damageId: "DN-2026-018844", product: .example, workOrderId: "3e5a7c9b-1d2f-4a6b-8c0d-e1f2a3b4c5d6",
        reiteration: 1)
}

/// `damage.reiterated`: a new report arrived for a product with an open or unresolved damage.
public struct DamageReiterated: Event {
    public static let type = "damage.reiterated"

    /// The damage case.
    public var damageId: String
    /// The earlier damage it repeats.
    public var previousDamageId: String
    /// How many times it has been reported.
    public var count: Int
    /// The product.
    public var product: ProductRef

    /// Creates the event.
    public init(damageId: String, previousDamageId: String, count: Int, product: ProductRef) {
        self.damageId = damageId
        self.previousDamageId = previousDamageId
        self.count = count
        self.product = product
    }

    public var correlationKey: String? { damageId }

    public static let schema: JSONSchema = .object(
        [
            "damageId": .required(.identifier("the damage case")),
            "previousDamageId": .required(.identifier("the earlier damage it repeats")),
            "count": .required(.integer(min: 1, "how many times it has been reported")),
            "product": .required(ProductRef.schema),
        ], description: "a damage was reiterated")

    public static let example = DamageReiterated(
        damageId: "DN-2026-018844", previousDamageId: "DN-2026-017302", count: 2, product: .example)
}

/// `command.rejected`: a command was invalid or broke a rule; nothing changed. Exactly one per
/// rejected command, correlated to it.
public struct CommandRejected: Event {
    public static let type = "command.rejected"

    /// The rejected command's envelope id (may be empty if it could not be read).
    public var commandId: String
    /// Its type (may be empty if it could not be read).
    public var commandType: String
    /// Why: a ``ContractError/Code`` name (`missingField`, …) or a domain rule code.
    public var code: String
    /// Human-readable explanation.
    public var message: String
    /// Offending fields.
    public var errors: [FieldProblem]

    /// Creates the event.
    public init(commandId: String, commandType: String, code: String, message: String, errors: [FieldProblem]) {
        self.commandId = commandId
        self.commandType = commandType
        self.code = code
        self.message = message
        self.errors = errors
    }

    /// The rejection of a command that broke the contract.
    public init(commandId: String, commandType: String, error: ContractError) {
        self.init(
            commandId: commandId, commandType: commandType, code: error.code.description,
            message: error.message, errors: error.problems)
    }

    public static let schema: JSONSchema = .object(
        [
            "commandId": .required(.string("the rejected command's envelope id")),
            "commandType": .required(.string("the rejected command's type")),
            "code": .required(.identifier("missingField, invalidValue, malformedJSON, unknownType, … or a rule code")),
            "message": .required(.string("human-readable explanation")),
            "errors": .required(
                .array(
                    of: .object(
                        [
                            "field": .required(.string("dotted path, e.g. data.customer")),
                            "problem": .required(.string("what is wrong")),
                        ], description: "an offending field"), "offending fields")),
        ], description: "a command was rejected")

    public static let example = CommandRejected(
        commandId: "6f1c0d4e-8f7a-4b7e-9d55-0a8d2b3c9e11", commandType: "workorder.open", code: "missingField",
        message: "data.customer is required",
        errors: [FieldProblem(field: "data.customer", problem: "data.customer is required")])
}
