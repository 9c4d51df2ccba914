import Contracts
import Foundation
import Runtime

/// `records.document-stored`: the bytes of one of a file's documents arrived through the document
/// store's HTTP endpoint. Internal to records (``Routes/local(_:_:)``): never on the broker.
public struct DocumentStored: Command {
    public static let type = "records.document-stored"

    /// The file.
    public var fileId: String
    /// The document's SHA-256, its name in the store.
    public var sha256: String
    /// Its size in bytes.
    public var size: Int

    public init(fileId: String, sha256: String, size: Int) {
        self.fileId = fileId
        self.sha256 = sha256
        self.size = size
    }

    public var correlationKey: String? { fileId }

    public static let schema: JSONSchema = .object(
        [
            "fileId": .required(.identifier("the file")), "sha256": .required(.identifier("the document's SHA-256")),
            "size": .required(.integer(min: 0, "its size in bytes")),
        ], description: "the bytes of a file's document were stored")

    public static let example = DocumentStored(
        fileId: "EXP-2026-004410", sha256: "9f2c5d7a1e4b3c6d8f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e", size: 182_044)
}

/// A file of the document manager (seed 002): registered with its advisor and date, checked
/// against its service's requirements, returned to the advisor with what is missing until
/// complete, then classified and archived for two years and transferred to the central archive
/// (Condebamba) by a durable timer. It also knows which of its documents' bytes the store holds,
/// and answers for the retrievals of it.
public enum RecordFile: Aggregate {
    public static let kind = "file"
    /// The two-year transfer to the central archive.
    public static let transferTimer = "transfer"

    /// One return to the advisor.
    @JSONMembers
    public struct Return: Codable, Sendable, Equatable {
        public var at: Date
        public var missing: [String]
    }

    /// Bytes the store holds for one of the documents.
    @JSONMembers
    public struct Stored: Codable, Sendable, Equatable {
        public var size: Int
        public var at: Date
    }

    @JSONMembers
    public struct State: AggregateState {
        public var fileId: String
        public var caseKind: RecordsCaseKind
        public var caseId: String
        public var service: String
        public var office: RecordsOffice
        public var advisor: Advisor
        public var documents: [Document]
        public var registeredAt: Date
        public var automatic: Bool
        public var missing: [String] = []
        public var returns: [Return] = []
        public var archivedAt: Date?
        public var retainUntil: Date?
        public var location: String?
        public var transferredAt: Date?
        /// By SHA-256.
        public var stored: [String: Stored] = [:]
        public var retrievals: [String] = []

        /// `returned` (incomplete, with the advisor), `archived`, `transferred` (to Condebamba).
        public var status: String { transferredAt != nil ? "transferred" : archivedAt != nil ? "archived" : "returned" }

        /// What a retrieval needs to know of the file.
        public var facts: FileFacts {
            let missingBytes = documents.filter { d in d.sha256.map { stored[$0.lowercased()] == nil } ?? true }
            return FileFacts(
                fileId: fileId, status: status, documents: documents.count,
                links: missingBytes.isEmpty && !documents.isEmpty ? documents.compactMap { $0.sha256.map { RecordsRules.link($0.lowercased()) } } : nil,
                missingBytes: missingBytes.map(\.kind.rawValue))
        }
    }

    /// What a retrieval is told of its file.
    @JSONMembers
    public struct FileFacts: Codable, Sendable, Equatable {
        public var fileId: String
        public var status: String
        /// How many documents the file holds.
        public var documents: Int
        /// One download link per document when the store holds every document's bytes.
        public var links: [String]?
        /// The kinds of the documents whose bytes the store does not hold.
        public var missingBytes: [String]
    }

    public enum Input: Sendable {
        case register(RegisterFile, fileId: String, automatic: Bool)
        case resubmit(ResubmitFile)
        case stored(DocumentStored)
        case retrieval(RequestRetrieval, retrievalId: String)
        case delivery(DeliverRetrieval)
        case transfer
    }

    static let registrations = [RegisterFile.type, WorkOrderOpened.type, PostSaleRequestCompleted.type]

    public static let machine = StateMachine(
        title: "a file of the document manager", procedure: "seed 002 (sale / post-sale document management)",
        states: [.init("returned"), .init("archived"), .init("transferred", final: true)],
        transitions: registrations.flatMap { [.init(nil, "returned", on: $0), .init(nil, "archived", on: $0)] } + [
            .init("returned", "archived", on: ResubmitFile.type), .init("returned", "returned", on: ResubmitFile.type),
            .init("archived", "transferred", on: StateMachine.timer(transferTimer)),
        ])

    public static func timerFired(_ name: String, dueAt: Date) -> Input? { name == transferTimer ? .transfer : nil }

    /// The file id a registration without one gets: its case's (one file per case, the platform's
    /// own registrations use the same ids): `EXP-SALE-<caseId>`, `EXP-PV-<caseId>`, `EXP-OT-<caseId>`.
    public static func fileId(for c: RegisterFile, messageId: String) -> String {
        c.fileId ?? caseFileId(c.caseKind, c.caseId)
    }

    /// The file id of a case.
    public static func caseFileId(_ kind: RecordsCaseKind, _ caseId: String) -> String {
        switch kind {
        case .sale: "EXP-SALE-\(caseId)"
        case .postsale: "EXP-PV-\(caseId)"
        case .workOrder: "EXP-OT-\(caseId)"
        }
    }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .register(let c, let fileId, let automatic):
            try validate(c)
            if let existing = state {
                // The same case registered again (a redelivery under another id): nothing new.
                guard existing.caseKind == c.caseKind, existing.caseId == c.caseId else {
                    throw Rejection(
                        .alreadyExists, "file \(fileId) is registered for \(existing.caseKind.rawValue) \(existing.caseId)",
                        errors: [FieldProblem(field: "data.fileId", problem: "already registered")])
                }
                // The same registration again (a redelivery under another id): nothing new. Other
                // documents for a case already filed are a resubmission, never dropped silently.
                guard Set(c.documents) == Set(existing.documents) || automatic else {
                    throw Rejection(
                        .alreadyExists, "case \(c.caseId) is already filed as \(fileId): bring its documents with records.resubmit",
                        errors: [FieldProblem(field: "data.caseId", problem: "already filed as \(fileId)")])
                }
                return .ignore("file \(fileId) already registered")
            }
            var s = State(
                fileId: fileId, caseKind: c.caseKind, caseId: c.caseId, service: c.service, office: c.office, advisor: c.advisor,
                documents: c.documents, registeredAt: now, automatic: automatic)
            let registered = FileRegistered(fileId: fileId, caseKind: c.caseKind, caseId: c.caseId, advisor: c.advisor, registeredAt: now)
            return review(&s, now: now, first: registered, history: []).with(aliases: [caseAlias(c.caseId)])

        case .resubmit(let c):
            try Rejection.requireNonEmpty([("data.fileId", c.fileId)])
            let problems = RecordsRules.problems(c.documents)
            if !problems.isEmpty { throw Rejection.validation(problems) }
            guard var s = state else { throw Rejection.notFound("no file \(c.fileId)", field: "data.fileId", problem: "unknown file") }
            guard s.status == "returned" else {
                throw Rejection.invalidTransition(
                    "file \(c.fileId) is \(s.status): only a returned file is resubmitted", field: "data.fileId", problem: "file is \(s.status)")
            }
            guard !c.documents.isEmpty else {
                throw Rejection.validation([FieldProblem(field: "data.documents", problem: "a resubmission brings the documents that were missing")])
            }
            // The advisor brings what was missing (a signed contract replaces the unsigned one of its kind).
            let brought = Set(c.documents.map(\.kind))
            s.documents = s.documents.filter { !brought.contains($0.kind) } + c.documents
            return review(&s, now: now, first: nil, history: [], trigger: ResubmitFile.type)

        case .stored(let c):
            guard var s = state else { throw Rejection.notFound("no file \(c.fileId)", field: "fileId", problem: "unknown file", mayBeLate: false) }
            let sha = c.sha256.lowercased()
            guard s.documents.contains(where: { $0.sha256?.lowercased() == sha }) else {
                throw Rejection(
                    .invalidTransition, "file \(c.fileId) declares no document with SHA-256 \(sha)",
                    errors: [FieldProblem(field: "sha256", problem: "not a document of the file")])
            }
            guard s.stored[sha] == nil else { return .ignore("bytes of \(sha) already stored for \(c.fileId)") }
            s.stored[sha] = Stored(size: c.size, at: now)
            return Decision(state: s, history: [HistoryEntry(DocumentStored.type, from: nil, to: nil, reason: "\(sha) (\(c.size) bytes)")])

        case .retrieval(let c, let retrievalId):
            guard var s = state else {
                if c.fileId == nil, c.caseId == nil {
                    throw Rejection.validation([FieldProblem(field: "data.fileId", problem: "a retrieval names the file or its case (caseId)")])
                }
                // A file registered in the same instant may still be on its way: wait a little, then fail.
                if context.mayWait {
                    throw Rejection.notFound("no file \(c.fileId ?? c.caseId ?? "")", field: "data.fileId", problem: "unknown file")
                }
                return Decision(state: nil, followUps: [.to(Retrieval.self, retrievalId, .requested(c, retrievalId: retrievalId, file: nil))])
            }
            guard !s.retrievals.contains(retrievalId) else { return .ignore("retrieval \(retrievalId) already requested") }
            s.retrievals.append(retrievalId)
            return Decision(
                state: s, history: [HistoryEntry(RequestRetrieval.type, from: nil, to: nil, by: c.requestedBy.name, reason: retrievalId)],
                aliases: [retrievalAlias(retrievalId)], followUps: [.to(Retrieval.self, retrievalId, .requested(c, retrievalId: retrievalId, file: s.facts))])

        case .delivery(let c):
            // No file knows the retrieval: the retrieval decides (unknown, or failed for want of a file).
            return Decision(state: nil, followUps: [.to(Retrieval.self, c.retrievalId, .deliver(c, file: state?.facts))])

        case .transfer:
            guard var s = state, s.status == "archived" else { return .ignore("transfer timer of a file not archived") }
            s.transferredAt = now
            return Decision(
                state: s, history: [HistoryEntry("transferred", from: "archived", to: s.status, reason: RecordsRules.centralArchive)],
                events: [FileTransferred(fileId: s.fileId, to: RecordsRules.centralArchive, at: now)])
        }
    }

    /// Checks the file against its service's requirements: returned to the advisor with what is
    /// missing, or classified and archived with its two-year timer.
    static func review(
        _ s: inout State, now: Date, first: FileRegistered?, history: [HistoryEntry], trigger: String? = nil
    ) -> Decision<State> {
        let from = first == nil ? s.status : nil
        let action = trigger ?? "registered"
        s.missing = Requirements.current.missing(s.caseKind, service: s.service, documents: s.documents)
        var events: [any Message] = first.map { [$0] } ?? []
        var timers: [TimerChange] = []
        let reason: String
        if s.missing.isEmpty {
            s.archivedAt = now
            let until = RecordsRules.retainUntil(now)
            s.retainUntil = until
            let location = RecordsRules.location(office: s.office, caseKind: s.caseKind, service: s.service, archivedAt: now)
            s.location = location
            events.append(FileArchived(fileId: s.fileId, retainUntil: until, location: location))
            timers = [.set(transferTimer, at: until)]
            reason = "complete: archived at \(location) until \(Wire.timestamp(until))"
        } else {
            s.returns.append(Return(at: now, missing: s.missing))
            events.append(FileReturned(fileId: s.fileId, advisor: s.advisor, missing: s.missing))
            reason = "returned to \(s.advisor.name): missing \(s.missing.joined(separator: ", "))"
        }
        return Decision(
            state: s, history: history + [HistoryEntry(action, from: from, to: s.status, by: s.advisor.id, reason: reason)], events: events,
            timers: timers)
    }

    static func validate(_ c: RegisterFile) throws(Rejection) {
        var problems: [FieldProblem] = []
        for (field, value) in [
            ("data.advisor.id", c.advisor.id), ("data.advisor.name", c.advisor.name), ("data.caseId", c.caseId), ("data.service", c.service),
        ] where value.isBlank {
            problems.append(FieldProblem(field: field, problem: "must not be empty"))
        }
        if let id = c.fileId, id.isBlank { problems.append(FieldProblem(field: "data.fileId", problem: "must not be empty")) }
        problems += RecordsRules.problems(c.documents)
        if !problems.isEmpty { throw Rejection.validation(problems) }
    }

    /// The secondary key of a file by its case.
    public static func caseAlias(_ caseId: String) -> String { "case:\(caseId)" }
    /// The secondary key of a file by one of its retrievals.
    public static func retrievalAlias(_ retrievalId: String) -> String { "retrieval:\(retrievalId)" }
}

extension Decision {
    /// The decision with `aliases` added.
    func with(aliases more: [String]) -> Decision {
        var d = self
        d.aliases += more
        return d
    }
}
