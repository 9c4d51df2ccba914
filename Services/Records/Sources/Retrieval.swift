import Contracts
import Foundation
import Runtime

/// A retrieval request (seed 002: "retrieval requests are registered and answered with a scan or a
/// copy"): requested, then delivered — a scan as download links to the stored bytes, a copy as
/// handed over — or failed with the reason (no such file, bytes missing, transferred to the
/// central archive and not recalled). Every request counts in the KPI, failed ones too.
public enum Retrieval: Aggregate {
    public static let kind = "retrieval"

    @JSONMembers
    public struct State: AggregateState {
        public var retrievalId: String
        public var fileId: String?
        public var caseId: String?
        public var requestedBy: RetrievalRequester
        public var format: RetrievalFormat
        public var requestedAt: Date
        public var deliveredAt: Date?
        public var deliveredBy: String?
        public var links: [String]?
        public var failedAt: Date?
        public var reason: String?

        /// `requested`, `delivered`, `failed`.
        public var status: String { deliveredAt != nil ? "delivered" : failedAt != nil ? "failed" : "requested" }
    }

    public enum Input: Sendable {
        /// From the file (nil: no such file).
        case requested(RequestRetrieval, retrievalId: String, file: RecordFile.FileFacts?)
        /// From the file (nil: no file knows the retrieval).
        case deliver(DeliverRetrieval, file: RecordFile.FileFacts?)
    }

    static let noSuchFile = "no such file"
    static let transferred = "transferred to the central archive (Condebamba) and not recalled"

    public static let machine = StateMachine(
        title: "a retrieval request", procedure: "seed 002 (sale / post-sale document management)",
        states: [.init("requested"), .init("delivered", final: true), .init("failed", final: true)],
        transitions: [
            .init(nil, "requested", on: RequestRetrieval.type), .init(nil, "failed", on: RequestRetrieval.type),
            .init("requested", "delivered", on: DeliverRetrieval.type), .init("requested", "failed", on: DeliverRetrieval.type),
        ])

    /// The retrieval id a request without one gets: derived from its message id.
    public static func retrievalId(for c: RequestRetrieval, messageId: String) -> String {
        c.retrievalId ?? "REC-\(DerivedID.uuid("records.retrieval", messageId).prefix(13).uppercased())"
    }

    public static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        let now = context.now
        switch input {
        case .requested(let c, let id, let file):
            guard state == nil else { return .ignore("retrieval \(id) already requested") }
            try Rejection.requireNonEmpty([("data.requestedBy.unit", c.requestedBy.unit), ("data.requestedBy.name", c.requestedBy.name)])
            var s = State(
                retrievalId: id, fileId: file?.fileId ?? c.fileId, caseId: c.caseId, requestedBy: c.requestedBy, format: c.format,
                requestedAt: now)
            let requested = HistoryEntry(RequestRetrieval.type, from: nil, to: "requested", by: c.requestedBy.name, reason: c.format.rawValue)
            guard let file else { return fail(&s, noSuchFile, now: now, history: [], from: nil, on: RequestRetrieval.type) }
            if file.status == "transferred" { return fail(&s, transferred, now: now, history: [], from: nil, on: RequestRetrieval.type) }
            return Decision(
                state: s, history: [requested], events: [RetrievalRequested(retrievalId: id, fileId: file.fileId, requestedAt: now)])

        case .deliver(let c, let file):
            try Rejection.requireNonEmpty([("data.retrievalId", c.retrievalId), ("data.by", c.by)])
            guard var s = state else {
                throw Rejection.notFound("no retrieval \(c.retrievalId)", field: "data.retrievalId", problem: "unknown retrieval")
            }
            guard s.status == "requested" else {
                throw Rejection(
                    s.status == "delivered" ? .alreadyDone : .invalidTransition, "retrieval \(c.retrievalId) is \(s.status)",
                    errors: [FieldProblem(field: "data.retrievalId", problem: "retrieval is \(s.status)")])
            }
            guard let file else { throw Rejection(.internalError, "retrieval \(c.retrievalId) is requested but no file knows it") }
            if file.status == "transferred" {
                return fail(&s, transferred, now: now, history: [], from: "requested", on: DeliverRetrieval.type)
            }
            var links: [String]?
            if c.format == .scan {
                // A scan is the stored bytes: every document's, or the retrieval cannot be met.
                guard file.documents > 0 else {
                    return fail(&s, "no documents to scan", now: now, history: [], from: "requested", on: DeliverRetrieval.type)
                }
                guard let l = file.links, file.missingBytes.isEmpty else {
                    return fail(
                        &s, "bytes missing: \(file.missingBytes.joined(separator: ", "))", now: now, history: [], from: "requested",
                        on: DeliverRetrieval.type)
                }
                links = l
            }
            s.deliveredAt = now
            s.deliveredBy = c.by
            s.format = c.format
            s.links = links
            return Decision(
                state: s,
                history: [HistoryEntry(DeliverRetrieval.type, from: "requested", to: s.status, by: c.by, reason: c.format == .scan ? "scan" : "copy handed over")],
                events: [RetrievalDelivered(retrievalId: s.retrievalId, fileId: file.fileId, format: c.format, deliveredAt: now, links: links)])
        }
    }

    static func fail(_ s: inout State, _ reason: String, now: Date, history: [HistoryEntry], from: String?, on trigger: String) -> Decision<State> {
        s.failedAt = now
        s.reason = reason
        return Decision(
            state: s, history: history + [HistoryEntry(trigger, from: from, to: s.status, reason: reason)],
            events: [RetrievalFailed(retrievalId: s.retrievalId, fileId: s.fileId, reason: reason)])
    }
}
