import Contracts
import Foundation
import Records
@testable import Runtime
import Testing

/// Values the records tests share: an advisor, documents with their hashes, registrations,
/// retrieval requests, and the decisions of the service's aggregates as the runtime runs them
/// (the default requirements: `RECORDS_REQUIREMENTS` is not set for tests).
enum R {
    typealias File = RecordFile

    /// 2026-03-10T14:00:00Z.
    static let t0 = Date(timeIntervalSince1970: 1_773_151_200)
    static func days(_ n: Double) -> Date { t0.addingTimeInterval(n * 86_400) }

    /// A UTC date and time written in RFC 3339.
    static func at(_ text: String) -> Date {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        guard let d = f.date(from: text) else { preconditionFailure("not an RFC 3339 time: \(text)") }
        return d
    }

    static let fileId = "EXP-2026-000101"
    static let caseId = "CT-2026-000777"
    static let advisor = Advisor(id: "A-221", name: "Gabriela Rojas Camacho")
    static let requester = RetrievalRequester(unit: "UTAR", name: "Marcelo Terrazas")

    /// A SHA-256 made of one repeated hexadecimal digit.
    static func sha(_ digit: Character) -> String { String(repeating: digit, count: 64) }
    static let shaA = sha("a"), shaB = sha("b"), shaC = sha("c")

    static func doc(_ kind: DocumentKind, sha: String? = nil, uri: String? = nil) -> Document {
        Document(kind: kind, uri: uri ?? "s3://ot-docs/\(caseId)/\(kind.rawValue).pdf", sha256: sha)
    }

    static func register(
        fileId: String? = fileId, advisor: Advisor = advisor, office: RecordsOffice = .zonal, caseKind: RecordsCaseKind = .sale,
        caseId: String = caseId, service: String = "internet", documents: [Document]
    ) -> RegisterFile {
        RegisterFile(fileId: fileId, advisor: advisor, office: office, caseKind: caseKind, caseId: caseId, service: service, documents: documents)
    }

    static func request(
        _ retrievalId: String? = "REC-1", fileId: String? = fileId, caseId: String? = nil, by: RetrievalRequester = requester,
        format: RetrievalFormat = .scan
    ) -> RequestRetrieval {
        RequestRetrieval(retrievalId: retrievalId, fileId: fileId, caseId: caseId, requestedBy: by, format: format)
    }

    static func deliver(_ retrievalId: String = "REC-1", by: String = "gestor.documental", format: RetrievalFormat = .scan) -> DeliverRetrieval {
        DeliverRetrieval(retrievalId: retrievalId, by: by, format: format)
    }

    static func decide<A: Aggregate>(
        _ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date = t0, mayWait: Bool = false
    ) throws(Rejection) -> Decision<A.State> {
        var context = DecisionContext(now: time, messageId: "m-1")
        context.mayWait = mayWait
        return try A.decide(state, input, &context)
    }

    /// The state after `input`, failing the test when the decision leaves none.
    static func step<A: Aggregate>(_ a: A.Type, _ state: A.State?, _ input: A.Input, at time: Date = t0) throws -> A.State {
        try #require(try decide(a, state, input, at: time).state)
    }

    /// The rejection `body` throws, or nil.
    static func rejection(_ body: () throws -> Void) -> Rejection? { Rejection.thrown(by: body) }

    /// The fields a rejection names, sorted.
    static func fields(_ r: Rejection?) -> [String] { (r?.errors ?? []).map(\.field).sorted() }

    /// Wire types of the emitted events, in order.
    static func types<S>(_ d: Decision<S>) -> [String] { d.events.map { type(of: $0).type } }
    /// `+name` for a timer set, `-name` for one cleared.
    static func timers<S>(_ d: Decision<S>) -> [String] {
        d.timers.map { change in
            switch change {
            case .set(let name, _), .join(let name, _, _): "+\(name)"
            case .clear(let name): "-\(name)"
            }
        }
    }

    /// What a follow-up decides on `state` (as the runtime runs it, right after its cause).
    static func run<S: AggregateState>(_ target: Target, on state: S?, at time: Date = t0) throws -> (
        state: S?, events: [any Message], history: [HistoryEntry]
    ) {
        var context = DecisionContext(now: time, messageId: "m-1")
        let d = try target.run(state, &context)
        return (d.state as? S, d.events, d.history)
    }

    // MARK: Files

    /// A sale file of the zonal office registered complete at `time` (its contract declares shaA).
    static func archived(at time: Date = t0) throws -> File.State {
        try step(File.self, nil, .register(register(documents: [doc(.contract, sha: shaA)]), fileId: fileId, automatic: false), at: time)
    }

    /// A sale file registered with an offer only (shaB) at t0: returned for its contract.
    static func returned() throws -> File.State {
        try step(File.self, nil, .register(register(documents: [doc(.offer, sha: shaB)]), fileId: fileId, automatic: false))
    }

    /// `state` after the store received the bytes of each of `hashes`.
    static func storing(_ state: File.State, _ hashes: String...) throws -> File.State {
        var s = state
        for h in hashes { s = try step(File.self, s, .stored(DocumentStored(fileId: s.fileId, sha256: h, size: 1_024))) }
        return s
    }

    /// The facts of an archived file whose documents' bytes are all stored.
    static func completeFacts() throws -> File.FileFacts { try storing(archived(), shaA).facts }
}
