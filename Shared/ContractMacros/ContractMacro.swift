import SwiftCompilerPlugin
import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxBuilder
import SwiftSyntaxMacros

/// `@Contract("description")` on a struct of the contract: every stored property is declared
/// once, with its `///` doc comment, and this macro derives from them
///
/// - the public memberwise initializer (labels and order of the properties; optionals default to
///   `nil`, a `var` with an initial value defaults to it),
/// - `static let schema: JSONSchema`, an object schema whose properties follow the declaration
///   order (an optional property is optional in the schema) and whose per-property description is
///   the first paragraph of the property's doc comment (see ``ContractMacro/wireDescription(of:)``),
///   refined by an optional `@Field(...)` marker,
/// - a conformance to `ContractValue`, so the type can be the type of another contract field.
public struct ContractMacro: MemberMacro, ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingMembersOf declaration: some DeclGroupSyntax,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard let structDecl = declaration.as(StructDeclSyntax.self) else {
            context.diagnose(Diagnostic(node: node, message: ContractDiagnostic.notAStruct))
            return []
        }
        guard case .argumentList(let arguments) = node.arguments, let description = arguments.first?.expression,
            arguments.count == 1, arguments.first?.label == nil
        else {
            context.diagnose(Diagnostic(node: node, message: ContractDiagnostic.missingDescription))
            return []
        }
        let fields = collectFields(of: structDecl, in: context)
        let access = accessModifier(of: structDecl)
        var members = [
            initializer(for: fields, access: access, subject: subject(of: structDecl)),
            schema(for: fields, description: description, access: access),
        ]
        if let writer = JSONMembersMacro.writer(for: structDecl, access: access) { members.append(writer) }
        return members
    }

    public static func expansion(
        of node: AttributeSyntax,
        attachedTo declaration: some DeclGroupSyntax,
        providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        try JSONMembersMacro.extensions(of: declaration, type, protocols)
    }

    // MARK: Fields

    /// One stored property of the struct.
    struct Field {
        var name: TokenSyntax
        /// The declared type, e.g. `String?`.
        var type: TypeSyntax
        /// The type without its outer `?` / `Optional<…>`, e.g. `String`.
        var valueType: TypeSyntax
        var isOptional: Bool
        var defaultValue: ExprSyntax?
        var description: String?
        /// The arguments of its `@Field(...)` marker, passed on to `JSONSchema.field`.
        var refinements: LabeledExprListSyntax?
    }

    static func collectFields(of structDecl: StructDeclSyntax, in context: some MacroExpansionContext) -> [Field] {
        var fields: [Field] = []
        for member in structDecl.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self), !isStatic(variable) else { continue }
            for binding in variable.bindings {
                if let accessors = binding.accessorBlock, !isObserverBlock(accessors) { continue }  // computed
                guard let pattern = binding.pattern.as(IdentifierPatternSyntax.self) else { continue }
                guard let type = binding.typeAnnotation?.type.trimmed else {
                    context.diagnose(Diagnostic(node: binding, message: ContractDiagnostic.missingType(pattern.identifier.text)))
                    continue
                }
                let isConstant = variable.bindingSpecifier.tokenKind == .keyword(.let)
                if isConstant, binding.initializer != nil { continue }  // a constant: not a field of the init
                let unwrapped = unwrapOptional(type)
                let description = wireDescription(of: variable.leadingTrivia)
                if description == nil {
                    context.diagnose(Diagnostic(node: binding, message: ContractDiagnostic.missingDoc(pattern.identifier.text)))
                }
                fields.append(
                    Field(
                        name: pattern.identifier.trimmed,
                        type: type,
                        valueType: unwrapped ?? type,
                        isOptional: unwrapped != nil,
                        defaultValue: binding.initializer?.value.trimmed,
                        description: description,
                        refinements: fieldMarker(of: variable)
                    ))
            }
        }
        return fields
    }

    static func isStatic(_ variable: VariableDeclSyntax) -> Bool {
        variable.modifiers.contains { $0.name.tokenKind == .keyword(.static) || $0.name.tokenKind == .keyword(.class) }
    }

    static func isObserverBlock(_ block: AccessorBlockSyntax) -> Bool {
        guard case .accessors(let accessors) = block.accessors else { return false }
        return accessors.allSatisfy {
            $0.accessorSpecifier.tokenKind == .keyword(.willSet) || $0.accessorSpecifier.tokenKind == .keyword(.didSet)
        }
    }

    /// `T` for `T?` and `Optional<T>`, else nil.
    static func unwrapOptional(_ type: TypeSyntax) -> TypeSyntax? {
        if let optional = type.as(OptionalTypeSyntax.self) {
            return optional.wrappedType.trimmed
        }
        if let identifier = type.as(IdentifierTypeSyntax.self), identifier.name.text == "Optional",
            let argument = identifier.genericArgumentClause?.arguments.first, identifier.genericArgumentClause?.arguments.count == 1
        {
            return TypeSyntax(argument.argument.trimmed)
        }
        return nil
    }

    /// The arguments of the property's `@Field(...)` attribute, if it has one.
    static func fieldMarker(of variable: VariableDeclSyntax) -> LabeledExprListSyntax? {
        for element in variable.attributes {
            guard case .attribute(let attribute) = element,
                attribute.attributeName.trimmedDescription == "Field"
            else { continue }
            if case .argumentList(let arguments) = attribute.arguments { return arguments }
            return LabeledExprListSyntax([])
        }
        return nil
    }

    /// The description a property's doc comment gives its schema: the first paragraph of the
    /// `///` comment, on one line, without Markdown code marks (`` ` ``), with a final period
    /// dropped and the first letter lower-cased unless the first word is an acronym (`CRM`,
    /// `ISO`, `NIT`). `/// Hex SHA-256 of the content.` describes it as "hex SHA-256 of the content".
    static func wireDescription(of trivia: Trivia) -> String? {
        var lines: [String] = []
        for piece in trivia {
            switch piece {
            case .docLineComment(let text):
                var line = Substring(text.dropFirst(3))
                if line.first == " " { line = line.dropFirst() }
                lines.append(String(line))
            case .newlines(let count) where count > 1, .carriageReturnLineFeeds(let count) where count > 1:
                lines = []  // a blank line: what came before documents something else
            case .lineComment, .blockComment:
                lines = []
            default:
                break
            }
        }
        let summary = lines.prefix { !$0.trimmingWhitespace().isEmpty }.map { $0.trimmingWhitespace() }
        guard !summary.isEmpty else { return nil }
        var text = summary.joined(separator: " ").filter { $0 != "`" }
        if text.hasSuffix("."), !text.hasSuffix("..") { text.removeLast() }
        if let first = text.first, first.isUppercase {
            let second = text.dropFirst().first
            if second.map({ !$0.isUppercase && !$0.isNumber }) ?? true {
                text = first.lowercased() + text.dropFirst()
            }
        }
        return text
    }

    // MARK: Generated members

    static func accessModifier(of structDecl: StructDeclSyntax) -> String {
        for modifier in structDecl.modifiers {
            switch modifier.name.tokenKind {
            case .keyword(.public), .keyword(.open): return "public "
            case .keyword(.package): return "package "
            case .keyword(.fileprivate), .keyword(.private): return "fileprivate "
            default: continue
            }
        }
        return ""
    }

    /// What the initializer's doc comment calls an instance: the command, the event, or a value.
    static func subject(of structDecl: StructDeclSyntax) -> String {
        let inherited = structDecl.inheritanceClause?.inheritedTypes.map { $0.type.trimmedDescription } ?? []
        if inherited.contains("Command") { return "the command" }
        if inherited.contains("Event") { return "the event" }
        return "a ``\(structDecl.name.text)``"
    }

    static func initializer(for fields: [Field], access: String, subject: String) -> DeclSyntax {
        let parameters = fields.map { field -> String in
            var parameter = "\(field.name.text): \(field.type.description)"
            if let defaultValue = field.defaultValue {
                parameter += " = \(defaultValue.description)"
            } else if field.isOptional {
                parameter += " = nil"
            }
            return parameter
        }
        let assignments = fields.map { "self.\($0.name.text) = \($0.name.text)" }
        return """
            /// Creates \(raw: subject) from its fields.
            \(raw: access)init(
                \(raw: parameters.joined(separator: ",\n    "))
            ) {
                \(raw: assignments.joined(separator: "\n    "))
            }
            """
    }

    static func schema(for fields: [Field], description: ExprSyntax, access: String) -> DeclSyntax {
        let properties = fields.map { field -> String in
            var arguments = "\(field.valueType.description).self"
            if let refinements = field.refinements, !refinements.isEmpty {
                arguments += ", \(refinements.trimmedDescription)"
            }
            let text = field.description.map { StringLiteralExprSyntax(content: $0).description } ?? "nil"
            arguments += ", description: \(text)"
            let key = StringLiteralExprSyntax(content: field.name.identifier?.name ?? field.name.text).description
            return "\(key): .\(field.isOptional ? "optional" : "required")(.field(\(arguments)))"
        }
        let list = properties.isEmpty ? ":" : "\n        " + properties.joined(separator: ",\n        ") + ",\n    "
        return """
            /// JSON Schema of this shape, derived from its fields.
            \(raw: access)static let schema: JSONSchema = .object(
                [\(raw: list)],
                description: \(description.trimmed))
            """
    }
}

/// `@JSONMembers` on a `Codable` struct (and `@Contract` on every contract struct): derives
/// `writeJSONMembers(_:)` from the stored properties, in the byte order of their names — what the
/// synthesized `Encodable` writes (a nil optional left out), without a container per value.
/// A struct with its own `CodingKeys` or `encode(to:)`, or generic, keeps its `Encodable` alone.
public struct JSONMembersMacro: MemberMacro, ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingMembersOf declaration: some DeclGroupSyntax,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard let structDecl = declaration.as(StructDeclSyntax.self), canWrite(structDecl) else {
            context.diagnose(Diagnostic(node: node, message: ContractDiagnostic.cannotWriteMembers))
            return []
        }
        return writer(for: structDecl, access: ContractMacro.accessModifier(of: structDecl)).map { [$0] } ?? []
    }

    /// The conformances, with the reading initializer in the extension (an initializer in the
    /// struct's body would take its memberwise initializer away).
    static func extensions(
        of declaration: some DeclGroupSyntax, _ type: some TypeSyntaxProtocol, _ protocols: [TypeSyntax]
    ) throws -> [ExtensionDeclSyntax] {
        guard let structDecl = declaration.as(StructDeclSyntax.self) else { return [] }
        let names = protocols.map(\.trimmedDescription)
            .filter { $0 != "JSONMembersWritable" || canWrite(structDecl) }
            .filter { $0 != "JSONMembersReadable" || canRead(structDecl) }
        guard !names.isEmpty else { return [] }
        let reader = names.contains("JSONMembersReadable") ? reader(for: structDecl, access: ContractMacro.accessModifier(of: structDecl)) : nil
        let body = reader.map { "\n" + $0.description + "\n" } ?? ""
        return [try ExtensionDeclSyntax("extension \(raw: type.trimmedDescription): \(raw: names.joined(separator: ", ")) {\(raw: body)}")]
    }

    public static func expansion(
        of node: AttributeSyntax,
        attachedTo declaration: some DeclGroupSyntax,
        providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        try extensions(of: declaration, type, protocols)
    }

    /// Whether the synthesized `Decodable` is the struct's (it says it is `Decodable`, has no
    /// `init(from:)`, and every stored property it reads has a declared type).
    static func canRead(_ structDecl: StructDeclSyntax) -> Bool {
        guard canWrite(structDecl) else { return false }
        let decodable: Set<String> = ["Codable", "Decodable", "AggregateState", "Command", "Event", "Message"]
        let inherited = structDecl.inheritanceClause?.inheritedTypes.map { $0.type.trimmedDescription } ?? []
        guard inherited.contains(where: decodable.contains) else { return false }
        for member in structDecl.memberBlock.members {
            if let i = member.decl.as(InitializerDeclSyntax.self), i.signature.parameterClause.parameters.first?.firstName.text == "from" {
                return false
            }
        }
        return decodedProperties(of: structDecl) != nil
    }

    /// The stored properties synthesized `Decodable` reads, in declaration order (a `let` with an
    /// initial value is not read); nil when one has no declared type.
    static func decodedProperties(of structDecl: StructDeclSyntax) -> [(name: String, type: String, optional: Bool)]? {
        var out: [(String, String, Bool)] = []
        for member in structDecl.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self), !ContractMacro.isStatic(variable) else { continue }
            if variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.lazy) }) { continue }
            let isConstant = variable.bindingSpecifier.tokenKind == .keyword(.let)
            for binding in variable.bindings {
                if let accessors = binding.accessorBlock, !ContractMacro.isObserverBlock(accessors) { continue }
                guard let pattern = binding.pattern.as(IdentifierPatternSyntax.self) else { return nil }
                if isConstant, binding.initializer != nil { continue }
                guard let type = binding.typeAnnotation?.type.trimmed else { return nil }
                let name = pattern.identifier.identifier?.name ?? pattern.identifier.text
                if let iuo = type.as(ImplicitlyUnwrappedOptionalTypeSyntax.self) {
                    out.append((name, iuo.wrappedType.trimmedDescription, true))
                } else if let wrapped = ContractMacro.unwrapOptional(type) {
                    out.append((name, wrapped.trimmedDescription, true))
                } else {
                    out.append((name, type.trimmedDescription, false))
                }
            }
        }
        return out
    }

    static func reader(for structDecl: StructDeclSyntax, access: String) -> DeclSyntax? {
        guard canRead(structDecl), let properties = decodedProperties(of: structDecl) else { return nil }
        let lines = properties.map { p in
            let key = StringLiteralExprSyntax(content: p.name).description
            return "self.`\(p.name)` = try r.\(p.optional ? "optional" : "member")(\(key))"
        }
        let body = lines.isEmpty ? "" : "\n    " + lines.joined(separator: "\n    ")
        return """
            /// Reads the members synthesized `Decodable` reads, in declaration order (generated).
            \(raw: access)init(jsonMembers r: JSONMemberReader) throws {\(raw: body)
            }
            """
    }

    /// Whether the synthesized `Encodable` is the struct's: no `CodingKeys`, no `encode(to:)`, no
    /// generic parameters.
    static func canWrite(_ structDecl: StructDeclSyntax) -> Bool {
        if structDecl.genericParameterClause != nil { return false }
        for member in structDecl.memberBlock.members {
            let decl = member.decl
            if let e = decl.as(EnumDeclSyntax.self), e.name.text == "CodingKeys" { return false }
            if let t = decl.as(TypeAliasDeclSyntax.self), t.name.text == "CodingKeys" { return false }
            if let s = decl.as(StructDeclSyntax.self), s.name.text == "CodingKeys" { return false }
            if let f = decl.as(FunctionDeclSyntax.self), f.name.text == "encode",
                f.signature.parameterClause.parameters.first?.firstName.text == "to"
            {
                return false
            }
        }
        return true
    }

    /// The stored properties synthesized `Encodable` writes: every stored instance property.
    static func encodedProperties(of structDecl: StructDeclSyntax) -> [(name: String, optional: Bool)] {
        var out: [(String, Bool)] = []
        for member in structDecl.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self), !ContractMacro.isStatic(variable) else { continue }
            if variable.modifiers.contains(where: { $0.name.tokenKind == .keyword(.lazy) }) { continue }
            for binding in variable.bindings {
                if let accessors = binding.accessorBlock, !ContractMacro.isObserverBlock(accessors) { continue }
                guard let pattern = binding.pattern.as(IdentifierPatternSyntax.self) else { continue }
                let optional = binding.typeAnnotation.map {
                    ContractMacro.unwrapOptional($0.type.trimmed) != nil || $0.type.is(ImplicitlyUnwrappedOptionalTypeSyntax.self)
                } ?? false
                out.append((pattern.identifier.identifier?.name ?? pattern.identifier.text, optional))
            }
        }
        return out
    }

    static func writer(for structDecl: StructDeclSyntax, access: String) -> DeclSyntax? {
        guard canWrite(structDecl) else { return nil }
        let properties = encodedProperties(of: structDecl).sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        let lines = properties.map { p in
            let key = StringLiteralExprSyntax(content: p.name).description
            let value = "self.`\(p.name)`"
            return p.optional ? "try w.member(\(key), ifPresent: \(value))" : "try w.member(\(key), \(value))"
        }
        let body = lines.isEmpty ? "" : "\n    " + lines.joined(separator: "\n    ")
        return """
            /// Writes the members synthesized `Encodable` writes, keys in order (generated).
            \(raw: access)func writeJSONMembers(_ w: inout JSONMemberWriter) throws {\(raw: body)
            }
            """
    }
}

/// `@Field(...)`: a marker read by `@Contract`; it expands to nothing.
public struct FieldMacro: PeerMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingPeersOf declaration: some DeclSyntaxProtocol,
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        []
    }
}

enum ContractDiagnostic: DiagnosticMessage {
    case notAStruct
    case missingDescription
    case missingType(String)
    case missingDoc(String)
    case cannotWriteMembers

    var message: String {
        switch self {
        case .notAStruct: "@Contract applies to structs"
        case .missingDescription: "@Contract needs the schema description of the type, e.g. @Contract(\"a customer\")"
        case .missingType(let name): "the contract field '\(name)' needs an explicit type"
        case .missingDoc(let name):
            "the contract field '\(name)' needs a /// doc comment: its first paragraph is the field's description in the schema"
        case .cannotWriteMembers:
            "@JSONMembers applies to non-generic structs whose Encodable is synthesized (no CodingKeys, no encode(to:))"
        }
    }

    var diagnosticID: MessageID {
        switch self {
        case .notAStruct: MessageID(domain: "ContractMacros", id: "notAStruct")
        case .missingDescription: MessageID(domain: "ContractMacros", id: "missingDescription")
        case .missingType: MessageID(domain: "ContractMacros", id: "missingType")
        case .missingDoc: MessageID(domain: "ContractMacros", id: "missingDoc")
        case .cannotWriteMembers: MessageID(domain: "ContractMacros", id: "cannotWriteMembers")
        }
    }

    var severity: DiagnosticSeverity { .error }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

@main
struct ContractMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [ContractMacro.self, FieldMacro.self, JSONMembersMacro.self]
}
