import Foundation

// Sale and post-sale document management (seed 002), as CONTRACT.md "Records" fixes it; the
// records service that takes and publishes them is issue 10's.

/// Who filed a case's documents.
@Contract("an advisor")
public struct Advisor: Codable, Sendable, Equatable, Hashable {
    /// Staff id (`auto` for the platform's own registrations).
    @Field(.identifier) public var id: String
    /// Full name.
    public var name: String

    public static let example = Advisor(id: "A-221", name: "Gabriela Rojas Camacho")
}

/// Where a file was filed.
public enum RecordsOffice: String, Codable, Sendable, CaseIterable { case plataforma, zonal, mezzanine }

/// What a file documents.
public enum RecordsCaseKind: String, Codable, Sendable, CaseIterable { case sale, postsale, workOrder }

/// How a retrieval is answered.
public enum RetrievalFormat: String, Codable, Sendable, CaseIterable { case scan, copy }

/// Who asks for a file.
@Contract("a unit and person asking for a file")
public struct RetrievalRequester: Codable, Sendable, Equatable, Hashable {
    /// The unit.
    public var unit: String
    /// The person.
    public var name: String

    public static let example = RetrievalRequester(unit: "UTAR", name: "Marcelo Terrazas")
}

/// `records.register`: an advisor's file of a case is registered.
@Contract("register a file of sale or post-sale documents")
public struct RegisterFile: Command {
    public static let type = "records.register"

    /// File id chosen by the sender; assigned when absent.
    @Field(.identifier) public var fileId: String?
    /// Who filed it.
    @Field(.typeDescription) public var advisor: Advisor
    /// Where.
    @Field(.typeDescription) public var office: RecordsOffice
    /// What kind of case.
    @Field(.typeDescription) public var caseKind: RecordsCaseKind
    /// The case (contract, post-sale request, OT).
    @Field(.identifier) public var caseId: String
    /// The service concerned (it may add requirements).
    public var service: String
    /// The documents.
    public var documents: [Document]

    public var correlationKey: String? { caseId }

    public static let example = RegisterFile(
        fileId: "EXP-2026-004410", advisor: .example, office: .plataforma, caseKind: .postsale, caseId: "PV-2026-002918",
        service: "suspension", documents: [Document(kind: .requestLetter, uri: "s3://ot-docs/C-5531/carta-suspension.pdf", sha256: "5d41402abc4b2a76b9719d911017c592ae0f5a1d2c3b4e5f60718293a4b5c6d7")])
}

/// `records.resubmit`: the advisor completed a returned file.
@Contract("resubmit a returned file")
public struct ResubmitFile: Command {
    public static let type = "records.resubmit"

    /// The file.
    @Field(.identifier) public var fileId: String
    /// The documents brought.
    public var documents: [Document]

    public var correlationKey: String? { fileId }

    public static let example = ResubmitFile(
        fileId: "EXP-2026-004410", documents: [Document(kind: .contract, uri: "s3://ot-docs/C-5531/contrato-firmado.pdf", sha256: "c3d4")])
}

/// `records.request-retrieval`: a unit asks for a file.
@Contract("request the retrieval of a file")
public struct RequestRetrieval: Command {
    public static let type = "records.request-retrieval"

    /// Retrieval id chosen by the sender; assigned when absent.
    @Field(.identifier) public var retrievalId: String?
    /// The file.
    @Field(.identifier) public var fileId: String?
    /// Or the case whose file it is.
    @Field(.identifier) public var caseId: String?
    /// Who asks.
    @Field(.typeDescription) public var requestedBy: RetrievalRequester
    /// A scan or a copy.
    @Field(.typeDescription) public var format: RetrievalFormat

    public var correlationKey: String? { retrievalId ?? fileId ?? caseId }

    public static let example = RequestRetrieval(
        retrievalId: "REC-2026-000512", fileId: "EXP-2026-004410", caseId: "PV-2026-002918", requestedBy: .example, format: .scan)
}

/// `records.deliver`: the document manager answers a retrieval.
@Contract("deliver a retrieved file")
public struct DeliverRetrieval: Command {
    public static let type = "records.deliver"

    /// The retrieval.
    @Field(.identifier) public var retrievalId: String
    /// Who delivers.
    @Field(.identifier) public var by: String
    /// A scan or a copy.
    @Field(.typeDescription) public var format: RetrievalFormat

    public var correlationKey: String? { retrievalId }

    public static let example = DeliverRetrieval(retrievalId: "REC-2026-000512", by: "gestor.documental", format: .scan)
}

/// `records.registered`: a file was registered.
@Contract("a file was registered")
public struct FileRegistered: Event {
    public static let type = "records.registered"

    /// The file.
    @Field(.identifier) public var fileId: String
    /// What kind of case.
    @Field(.typeDescription) public var caseKind: RecordsCaseKind
    /// The case.
    @Field(.identifier) public var caseId: String
    /// Who filed it.
    @Field(.typeDescription) public var advisor: Advisor
    /// When.
    public var registeredAt: Date

    public var correlationKey: String? { fileId }

    public static let example = FileRegistered(
        fileId: "EXP-2026-004410", caseKind: .postsale, caseId: "PV-2026-002918", advisor: .example,
        registeredAt: ExampleTime.at("2026-11-24T15:00:00Z"))
}

/// `records.returned`: an incomplete file went back to its advisor.
@Contract("a file was returned to its advisor")
public struct FileReturned: Event {
    public static let type = "records.returned"

    /// The file.
    @Field(.identifier) public var fileId: String
    /// Who must complete it.
    @Field(.typeDescription) public var advisor: Advisor
    /// The document kinds missing.
    public var missing: [String]

    public var correlationKey: String? { fileId }

    public static let example = FileReturned(fileId: "EXP-2026-004410", advisor: .example, missing: ["contract"])
}

/// `records.archived`: a complete file was classified and archived.
@Contract("a file was archived")
public struct FileArchived: Event {
    public static let type = "records.archived"

    /// The file.
    @Field(.identifier) public var fileId: String
    /// Kept until (two years after archiving).
    public var retainUntil: Date
    /// Where it is kept.
    public var location: String

    public var correlationKey: String? { fileId }

    public static let example = FileArchived(
        fileId: "EXP-2026-004410", retainUntil: ExampleTime.at("2028-11-24T15:00:00Z"), location: "Archivo Plataforma, estante 12")
}

/// `records.transferred`: a file's two years are over; it went to the central archive.
@Contract("a file was transferred to the central archive")
public struct FileTransferred: Event {
    public static let type = "records.transferred"

    /// The file.
    @Field(.identifier) public var fileId: String
    /// The central archive: `condebamba`.
    @Field(.identifier) public var to: String
    /// When.
    public var at: Date

    public var correlationKey: String? { fileId }

    public static let example = FileTransferred(fileId: "EXP-2024-000102", to: "condebamba", at: ExampleTime.at("2026-11-24T00:00:00Z"))
}

/// `records.retrieval-requested`: a retrieval was registered.
@Contract("a retrieval was requested")
public struct RetrievalRequested: Event {
    public static let type = "records.retrieval-requested"

    /// The retrieval.
    @Field(.identifier) public var retrievalId: String
    /// The file.
    @Field(.identifier) public var fileId: String
    /// When.
    public var requestedAt: Date

    public var correlationKey: String? { retrievalId }

    public static let example = RetrievalRequested(
        retrievalId: "REC-2026-000512", fileId: "EXP-2026-004410", requestedAt: ExampleTime.at("2026-11-26T10:00:00Z"))
}

/// `records.delivered`: a retrieval was answered.
@Contract("a retrieval was delivered")
public struct RetrievalDelivered: Event {
    public static let type = "records.delivered"

    /// The retrieval.
    @Field(.identifier) public var retrievalId: String
    /// The file.
    @Field(.identifier) public var fileId: String
    /// A scan or a copy.
    @Field(.typeDescription) public var format: RetrievalFormat
    /// When.
    public var deliveredAt: Date
    /// A scan's download links, one per document, to the stored bytes (optional, added).
    public var links: [String]?

    public var correlationKey: String? { retrievalId }

    public static let example = RetrievalDelivered(
        retrievalId: "REC-2026-000512", fileId: "EXP-2026-004410", format: .scan, deliveredAt: ExampleTime.at("2026-11-26T11:30:00Z"),
        links: ["http://records.example.internal:8087/documents/9f2c5d7a1e4b3c6d8f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e"])
}

/// `records.retrieval-failed`: a retrieval cannot be met.
@Contract("a retrieval failed")
public struct RetrievalFailed: Event {
    public static let type = "records.retrieval-failed"

    /// The retrieval.
    @Field(.identifier) public var retrievalId: String
    /// The file, if known.
    @Field(.identifier) public var fileId: String?
    /// Why: no such file, bytes missing, transferred and not recalled.
    public var reason: String

    public var correlationKey: String? { retrievalId }

    public static let example = RetrievalFailed(
        retrievalId: "REC-2026-000513", fileId: "EXP-2024-000102", reason: "Transferido a Condebamba; no fue recuperado")
}
