import Contracts

/// A permanent failure of one message: a validation problem, a broken business rule, an unknown
/// subject, a refused sender. The runtime turns it into one `command.rejected` (for commands) and
/// one dead letter, and none of the message's decisions is saved.
///
/// Like `PSQLError`, a struct with an opaque ``Code``: new codes can be added without breaking
/// anyone, and every code of the platform is listed once, here.
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of permanent failure this is; `description` is the wire value of
    /// `command.rejected.code` and of the dead letter's `x-ot-dead-code`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A field is missing, empty or out of range (the `errors` name each field).
        public static let validation = Code("validation")
        /// The command names something this service does not know. With ``Rejection/mayBeLate``
        /// the command is parked until the event that makes its subject known arrives.
        public static let notFound = Code("notFound")
        /// The subject's state machine does not allow this now (e.g. closing an OT that is not
        /// attended, approving a rejected one, changing the scope of a closed one).
        public static let invalidTransition = Code("invalidTransition")
        /// What the command asks for has already happened (a charge already paid, a survey
        /// already answered).
        public static let alreadyDone = Code("alreadyDone")
        /// The command would create something that exists already (an OT id taken).
        public static let alreadyExists = Code("alreadyExists")
        /// An amount differs from the one it must match (a payment and its charge).
        public static let amountMismatch = Code("amountMismatch")
        /// The procedure sends this request elsewhere (a pole move for an existing customer).
        public static let useGenericProcedure = Code("useGenericProcedure")
        /// The publisher may not send this message (provenance: `user_id` is not the owner of
        /// the event type, or not an allowed sender of the command).
        public static let forbidden = Code("forbidden")
        /// The database refused a value of the message (SQLSTATE classes 22 and 23).
        public static let invalidData = Code("invalidData")
        /// The service has no route for this type (bound by mistake): dead-lettered, never
        /// acknowledged silently.
        public static let unhandled = Code("unhandled")
        /// The stored state of the subject cannot be read: an operator has to look at it.
        public static let corruptState = Code("corruptState")
        /// A decision broke the service's own declarations (an undeclared transition or event
        /// type): a defect, surfaced instead of saved.
        public static let internalError = Code("internalError")
        /// A transient failure outlived its retries (dead letters only).
        public static let retriesExhausted = Code("retriesExhausted")

        /// The code of a decoding failure (`malformedJSON`, `missingField`, `invalidValue`, …).
        public init(_ contract: ContractError.Code) { name = contract.description }
    }

    public var code: Code
    /// Human-readable explanation, safe to send back to the sender.
    public var message: String
    /// Every offending field (`command.rejected.errors`).
    public var errors: [FieldProblem]
    /// For ``Code/notFound``: the subject may simply not be known *yet* — the event that
    /// makes it known travels on another queue (brokers do not order across queues). The
    /// runtime parks such a command in the service's database and runs it again when the
    /// subject appears, rejecting it only after `PARK_TIMEOUT_MS`.
    public var mayBeLate: Bool

    public init(_ code: Code, _ message: String, errors: [FieldProblem] = [], mayBeLate: Bool = false) {
        self.code = code
        self.message = message
        self.errors = errors
        self.mayBeLate = mayBeLate
    }

    /// A validation failure listing the fields at fault.
    public static func validation(_ problems: [FieldProblem]) -> Rejection {
        Rejection(.validation, problems.map { "\($0.field): \($0.problem)" }.joined(separator: "; "), errors: problems)
    }

    /// Throws ``Code/validation`` listing every empty (or blank) required string.
    public static func requireNonEmpty(_ fields: [(field: String, value: String?)]) throws(Rejection) {
        let problems = fields.filter { ($0.value ?? "").allSatisfy(\.isWhitespace) }
            .map { FieldProblem(field: $0.field, problem: "must not be empty") }
        if !problems.isEmpty { throw validation(problems) }
    }

    /// An unknown subject (`what` e.g. "work order W-1 is not known to dispatch").
    public static func notFound(_ what: String, field: String, problem: String, mayBeLate: Bool = true) -> Rejection {
        Rejection(.notFound, what, errors: [FieldProblem(field: field, problem: problem)], mayBeLate: mayBeLate)
    }

    /// A transition the state machine does not allow.
    public static func invalidTransition(_ message: String, field: String, problem: String) -> Rejection {
        Rejection(.invalidTransition, message, errors: [FieldProblem(field: field, problem: problem)])
    }

    /// The rejection of a decoding failure.
    public init(_ error: ContractError) {
        self.init(
            Code(error.code), error.message,
            errors: error.problems.isEmpty ? [FieldProblem(field: error.field ?? "", problem: error.message)] : error.problems)
    }

    public var description: String { "\(code): \(message)" }
}

extension Rejection {
    /// The rejection `body` throws, or nil (tests and tools: what a decision refused).
    public static func thrown(by body: () throws -> Void) -> Rejection? {
        do {
            try body()
            return nil
        } catch {
            return error as? Rejection
        }
    }
}
