import Foundation

/// Why a message could not be read or written: the contract it broke, where, and how.
///
/// Like `PSQLError`, this is a struct with an opaque ``Code`` rather than an enum, so new
/// failure kinds can be added without breaking anyone who switches over them. `field` is a
/// dotted path into the envelope (`data.customer`, `data.documents[0].kind`); `problems`
/// lists every offending field and is what `command.rejected` carries in its `errors`.
public struct ContractError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of contract violation. Compare against the static members; never switch
    /// exhaustively.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case malformedJSON
            case unknownType
            case missingField
            case invalidValue
            case unsupportedVersion
            case invalidEnvelope
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The body is not syntactically valid UTF-8 JSON.
        public static let malformedJSON = Code(.malformedJSON)
        /// The envelope's `type` names no message of the contract.
        public static let unknownType = Code(.unknownType)
        /// A required field is absent (or `null`).
        public static let missingField = Code(.missingField)
        /// A field has the wrong JSON type or a value outside its allowed set, or a string of the
        /// envelope (value or key) contains U+0000.
        public static let invalidValue = Code(.invalidValue)
        /// The envelope's `dataversion` is newer than this build understands.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The CloudEvents envelope itself is wrong (spec version, empty id/source/type, …).
        public static let invalidEnvelope = Code(.invalidEnvelope)

        /// Stable camel-case name of the code, e.g. `missingField`; this is what goes into
        /// `command.rejected.code`.
        public var description: String { base.rawValue }
    }

    /// What kind of violation this is.
    public var code: Code
    /// Dotted path of the offending field from the envelope root (`data.customer`), if any.
    public var field: String?
    /// Human-readable explanation, safe to send back to the sender.
    public var message: String
    /// Every offending field; at least the one named by `field` when there is one.
    public var problems: [FieldProblem]

    /// Creates an error; when `problems` is empty and `field` is given, the field and message
    /// become the single problem.
    public init(_ code: Code, field: String? = nil, message: String, problems: [FieldProblem] = []) {
        self.code = code
        self.field = field
        self.message = message
        if problems.isEmpty, let field {
            self.problems = [FieldProblem(field: field, problem: message)]
        } else {
            self.problems = problems
        }
    }

    public var description: String {
        if let field {
            return "ContractError(\(code)): \(field): \(message)"
        }
        return "ContractError(\(code)): \(message)"
    }
}

/// One offending field of a rejected message: `{"field": "data.customer", "problem": "…"}`.
@Contract("an offending field")
public struct FieldProblem: Codable, Sendable, Equatable, Hashable {
    /// Dotted path, e.g. `data.customer`.
    ///
    /// The path starts at the envelope root; array elements are written `data.documents[0].kind`.
    public var field: String
    /// What is wrong.
    public var problem: String
}

extension ContractError {
    /// Translates a Foundation `DecodingError` into the contract's vocabulary, naming the full
    /// path of the offending field.
    init(decoding error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            let path = Self.path(context.codingPath + [key])
            self.init(.missingField, field: path, message: "\(path) is required")
        case .valueNotFound(_, let context):
            let path = Self.path(context.codingPath)
            self.init(.missingField, field: path, message: "\(path) is required and must not be null")
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty {
                self.init(.invalidEnvelope, message: "the body must be a JSON object (a CloudEvents envelope)")
            } else {
                let path = Self.path(context.codingPath)
                self.init(.invalidValue, field: path, message: "\(path) must be \(Self.jsonTypeName(type))")
            }
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self.init(.malformedJSON, message: "the body is not valid JSON: \(Self.detail(context))")
            } else {
                let path = Self.path(context.codingPath)
                self.init(.invalidValue, field: path, message: "\(path) is invalid: \(Self.detail(context))")
            }
        @unknown default:
            self.init(.malformedJSON, message: "undecodable body: \(error)")
        }
    }

    /// Renders a coding path as `data.documents[0].kind`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var result = ""
        for key in codingPath {
            // Array elements come as keys whose string value is "Index N" (swift-foundation and
            // corelibs alike); dictionary keys that merely look numeric keep their name.
            if let index = key.intValue, key.stringValue.hasPrefix("Index ") {
                result += "[\(index)]"
            } else {
                if !result.isEmpty { result += "." }
                result += key.stringValue
            }
        }
        return result.isEmpty ? "<root>" : result
    }

    private static func detail(_ context: DecodingError.Context) -> String {
        var text = context.debugDescription
        if let underlying = context.underlyingError {
            text += " (\(underlying))"
        }
        return text
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default: "of type \(type)"
        }
    }
}
