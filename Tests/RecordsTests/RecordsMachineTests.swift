import Contracts
import Foundation
import Records
import Runtime
import Testing

/// A file of the document manager, exhaustively: every state × every input, with the expected
/// effect of each cell written down. The sale file of `R` (zonal office, internet), returned at
/// t0 for its contract, resubmitted with it the next day, transferred two years later; the table
/// decides on day 10 (the transfer column as its timer would fire).
@Suite("a records file: every state × every input")
struct RecordFileMachineTests {
    typealias File = RecordFile
    typealias Table = MachineTable<File, Given>

    enum Given: CaseIterable, Sendable {
        case register, registerIncomplete, projectOT, projectOTIncomplete, postSale, postSaleIncomplete
        case resubmit, resubmitIncomplete, stored, retrieval, delivery, transfer
    }

    static func column(of input: File.Input) -> Given {
        switch input {
        case .register(let c, _, let automatic):
            switch (c.caseKind, automatic) {
            case (.workOrder, true): c.documents.count == 3 ? .projectOT : .projectOTIncomplete
            case (.postsale, true): c.documents.isEmpty ? .postSaleIncomplete : .postSale
            default: c.documents.contains { $0.kind == .contract } ? .register : .registerIncomplete
            }
        case .resubmit(let c): c.documents.contains { $0.kind == .contract } ? .resubmit : .resubmitIncomplete
        case .stored: .stored
        case .retrieval: .retrieval
        case .delivery: .delivery
        case .transfer: .transfer
        }
    }

    static let now = R.days(10)

    static func automatic(_ c: RegisterFile) -> File.Input { .register(c, fileId: c.fileId ?? "", automatic: true) }

    static func input(_ given: Given) -> (input: File.Input, trigger: String) {
        let auto = RecordsRules.automatic
        switch given {
        case .register:
            return (.register(R.register(documents: [R.doc(.contract, sha: R.shaA)]), fileId: R.fileId, automatic: false), RegisterFile.type)
        case .registerIncomplete:
            return (.register(R.register(documents: [R.doc(.offer, sha: R.shaB)]), fileId: R.fileId, automatic: false), RegisterFile.type)
        case .projectOT, .projectOTIncomplete:
            let docs = given == .projectOT ? [R.doc(.offer), R.doc(.workOrder), R.doc(.signedQuote)] : [R.doc(.workOrder)]
            let c = RegisterFile(
                fileId: "EXP-OT-W-1", advisor: auto, office: .plataforma, caseKind: .workOrder, caseId: "W-1", service: "project", documents: docs)
            return (automatic(c), WorkOrderOpened.type)
        case .postSale, .postSaleIncomplete:
            let docs = given == .postSale ? [R.doc(.requestLetter)] : []
            let c = RegisterFile(
                fileId: "EXP-PV-PV-1", advisor: auto, office: .plataforma, caseKind: .postsale, caseId: "PV-1", service: "suspension", documents: docs)
            return (automatic(c), PostSaleRequestCompleted.type)
        case .resubmit:
            return (.resubmit(ResubmitFile(fileId: R.fileId, documents: [R.doc(.contract, sha: R.shaA)])), ResubmitFile.type)
        case .resubmitIncomplete:
            return (.resubmit(ResubmitFile(fileId: R.fileId, documents: [R.doc(.technicalAnnex)])), ResubmitFile.type)
        case .stored:
            return (.stored(DocumentStored(fileId: R.fileId, sha256: R.shaB, size: 2_048)), DocumentStored.type)
        case .retrieval:
            return (.retrieval(R.request(), retrievalId: "REC-1"), RequestRetrieval.type)
        case .delivery:
            return (.delivery(R.deliver()), DeliverRetrieval.type)
        case .transfer:
            return (.transfer, StateMachine.timer(File.transferTimer))
        }
    }

    /// One file per state, each reached the way the service reaches it.
    static func states() throws -> [File.State] {
        let returned = try R.returned()
        let archived = try R.step(File.self, returned, input(.resubmit).input, at: R.days(1))
        let transferred = try R.step(File.self, archived, .transfer, at: try #require(archived.retainUntil))
        return [returned, archived, transferred]
    }

    static func table() throws -> Table { try Table(service: RecordsService.definition, states: states(), now: now, input: input) }

    static let registered = FileRegistered.type, returned = FileReturned.type, archived = FileArchived.type
    static let transferred = FileTransferred.type
    static let retrieval = Retrieval.kind

    /// What every input does to a file that exists.
    static func existing(_ extra: [Given: Table.Effect]) -> [Given: Table.Effect] {
        var row: [Given: Table.Effect] = [
            // The same case again with the same documents: nothing; the platform's cases are other cases under this id.
            .register: .ignored, .registerIncomplete: .ignored,
            .projectOT: .rejected(.alreadyExists), .projectOTIncomplete: .rejected(.alreadyExists),
            .postSale: .rejected(.alreadyExists), .postSaleIncomplete: .rejected(.alreadyExists),
            .resubmit: .rejected(.invalidTransition), .resubmitIncomplete: .rejected(.invalidTransition),
            // The offer's bytes (declared since the registration): a line, no transition.
            .stored: .unchanged(),
            .retrieval: .unchanged(followUps: [retrieval]),
            .delivery: .unchanged(followUps: [retrieval]),
            .transfer: .ignored,
        ]
        row.merge(extra) { $1 }
        return row
    }

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [
            .register: .transition(to: "archived", emits: [registered, archived], timers: ["+transfer"]),
            .registerIncomplete: .transition(to: "returned", emits: [registered, returned]),
            .projectOT: .transition(to: "archived", emits: [registered, archived], timers: ["+transfer"]),
            .projectOTIncomplete: .transition(to: "returned", emits: [registered, returned]),
            .postSale: .transition(to: "archived", emits: [registered, archived], timers: ["+transfer"]),
            .postSaleIncomplete: .transition(to: "returned", emits: [registered, returned]),
            .resubmit: .rejected(.notFound), .resubmitIncomplete: .rejected(.notFound),
            .stored: .rejected(.notFound),
            // Not waiting (the table's context): the retrieval fails for no such file.
            .retrieval: .unchanged(followUps: [retrieval]),
            // No file knows it: the retrieval answers (unknown, or failed for want of a file).
            .delivery: .unchanged(followUps: [retrieval]),
            .transfer: .ignored,
        ],
        "returned": existing([
            // The same documents again: a redelivery, nothing; others: a resubmission, refused.
            .register: .rejected(.alreadyExists),
            .resubmit: .transition(to: "archived", emits: [archived], timers: ["+transfer"]),
            .resubmitIncomplete: .transition(to: "returned", emits: [returned]),
        ]),
        // Its documents changed since: a registration with other documents is refused (a resubmission).
        "archived": existing([
            .transfer: .transition(to: "transferred", emits: [transferred]),
            .register: .rejected(.alreadyExists), .registerIncomplete: .rejected(.alreadyExists),
        ]),
        "transferred": existing([.register: .rejected(.alreadyExists), .registerIncomplete: .rejected(.alreadyExists)]),
    ]

    /// Coverage, each column's input, every cell against the table, the runtime's acceptance of
    /// every decision, every declared transition taken, and only records' own events (records
    /// sends no commands, so the audit's owner check is complete here).
    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        let table = try Self.table()
        for problem in table.audit(Self.expected, owner: "records", column: Self.column(of:)) { Issue.record("\(problem)") }
        #expect(table.emitted == [Self.registered, Self.returned, Self.archived, Self.transferred])
    }

    @Test func noInputLeavesTheDeclaredStates() throws {
        #expect(Set(File.machine.states.map(\.name)) == ["returned", "archived", "transferred"])
        #expect(File.machine.states.filter(\.isFinal).map(\.name) == ["transferred"])
        for cell in try Self.table().cells {
            if case .success(let d) = cell.result, let s = d.state, !["returned", "archived", "transferred"].contains(s.status) {
                Issue.record("\(cell) ends in \(s.status)")
            }
        }
    }
}

/// A retrieval, exhaustively: every state × every input. Its inputs come from the file (its facts
/// at the time); the table decides on day 10.
@Suite("a records retrieval: every state × every input")
struct RetrievalMachineTests {
    typealias Table = MachineTable<Retrieval, Given>

    enum Given: CaseIterable, Sendable {
        case requested, requestedNoFile, requestedTransferred, scan, scanBytesMissing, copy, deliverTransferred, deliverNoFile
    }

    static func column(of input: Retrieval.Input) -> Given {
        switch input {
        case .requested(_, _, let file): return file == nil ? .requestedNoFile : file?.status == "transferred" ? .requestedTransferred : .requested
        case .deliver(let c, let file):
            guard let file else { return .deliverNoFile }
            return file.status == "transferred" ? .deliverTransferred : c.format == .copy ? .copy : file.missingBytes.isEmpty ? .scan : .scanBytesMissing
        }
    }

    static let now = R.days(10)

    /// The file's facts: archived with its bytes, archived without them, transferred.
    static func facts() throws -> (complete: RecordFile.FileFacts, noBytes: RecordFile.FileFacts, transferred: RecordFile.FileFacts) {
        let archived = try R.archived()
        let stored = try R.storing(archived, R.shaA)
        let transferred = try R.step(RecordFile.self, stored, .transfer, at: try #require(stored.retainUntil))
        return (stored.facts, archived.facts, transferred.facts)
    }

    static func table() throws -> Table {
        let f = try facts()
        func input(_ given: Given) -> (input: Retrieval.Input, trigger: String) {
            switch given {
            case .requested: (.requested(R.request(), retrievalId: "REC-1", file: f.complete), RequestRetrieval.type)
            case .requestedNoFile: (.requested(R.request(), retrievalId: "REC-1", file: nil), RequestRetrieval.type)
            case .requestedTransferred: (.requested(R.request(), retrievalId: "REC-1", file: f.transferred), RequestRetrieval.type)
            case .scan: (.deliver(R.deliver(format: .scan), file: f.complete), DeliverRetrieval.type)
            case .scanBytesMissing: (.deliver(R.deliver(format: .scan), file: f.noBytes), DeliverRetrieval.type)
            case .copy: (.deliver(R.deliver(format: .copy), file: f.noBytes), DeliverRetrieval.type)
            case .deliverTransferred: (.deliver(R.deliver(format: .scan), file: f.transferred), DeliverRetrieval.type)
            // No file knows the retrieval (it failed for want of one, or it is unknown).
            case .deliverNoFile: (.deliver(R.deliver(format: .scan), file: nil), DeliverRetrieval.type)
            }
        }
        let requested = try R.step(Retrieval.self, nil, input(.requested).input)
        let delivered = try R.step(Retrieval.self, requested, input(.scan).input, at: R.days(1))
        let failed = try R.step(Retrieval.self, nil, input(.requestedNoFile).input)
        return Table(service: RecordsService.definition, states: [requested, delivered, failed], now: now, input: input)
    }

    static let requested = RetrievalRequested.type, delivered = RetrievalDelivered.type, failed = RetrievalFailed.type

    static func answered(_ code: Rejection.Code) -> [Given: Table.Effect] {
        [
            .requested: .ignored, .requestedNoFile: .ignored, .requestedTransferred: .ignored,
            .scan: .rejected(code), .scanBytesMissing: .rejected(code), .copy: .rejected(code), .deliverTransferred: .rejected(code),
            .deliverNoFile: .rejected(code),
        ]
    }

    static let expected: [String?: [Given: Table.Effect]] = [
        nil: [
            .requested: .transition(to: "requested", emits: [requested]),
            .requestedNoFile: .transition(to: "failed", emits: [failed]),
            .requestedTransferred: .transition(to: "failed", emits: [failed]),
            .scan: .rejected(.notFound), .scanBytesMissing: .rejected(.notFound), .copy: .rejected(.notFound),
            .deliverTransferred: .rejected(.notFound), .deliverNoFile: .rejected(.notFound),
        ],
        "requested": [
            .requested: .ignored, .requestedNoFile: .ignored, .requestedTransferred: .ignored,
            .scan: .transition(to: "delivered", emits: [delivered]),
            .scanBytesMissing: .transition(to: "failed", emits: [failed]),
            .copy: .transition(to: "delivered", emits: [delivered]),
            .deliverTransferred: .transition(to: "failed", emits: [failed]),
            // A requested retrieval is always known to its file: a defect, surfaced.
            .deliverNoFile: .rejected(.internalError),
        ],
        "delivered": answered(.alreadyDone),
        "failed": answered(.invalidTransition),
    ]

    @Test func theTableCoversTheMachineAndEveryCellDecidesWhatItSays() throws {
        let table = try Self.table()
        for problem in table.audit(Self.expected, owner: "records", column: Self.column(of:)) { Issue.record("\(problem)") }
        #expect(table.emitted == [Self.requested, Self.delivered, Self.failed])
    }

    @Test func noInputLeavesTheDeclaredStates() throws {
        #expect(Set(Retrieval.machine.states.map(\.name)) == ["requested", "delivered", "failed"])
        #expect(Set(Retrieval.machine.states.filter(\.isFinal).map(\.name)) == ["delivered", "failed"])
        for cell in try Self.table().cells {
            if case .success(let d) = cell.result, let s = d.state, !["requested", "delivered", "failed"].contains(s.status) {
                Issue.record("\(cell) ends in \(s.status)")
            }
        }
    }
}
