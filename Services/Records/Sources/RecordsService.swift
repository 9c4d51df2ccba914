import Contracts
import Runtime

/// The records service: the document manager of seed 002 — files registered by advisors and from
/// the platform's own cases, reviewed against each service's requirements, returned or archived,
/// transferred to the central archive after two years; retrievals answered with a scan (the stored
/// bytes) or a copy. The bytes themselves come through its document endpoint (``DocumentHTTP``).
public enum RecordsService {
    public static let routes = Routes { r in
        let file = RecordFile.self
        r.on(RegisterFile.self) { c, m in
            let id = file.fileId(for: c, messageId: m.id)
            return [.to(file, id, .register(c, fileId: id, automatic: false))]
        }
        r.on(ResubmitFile.self) { c, _ in [.to(file, c.fileId, .resubmit(c))] }
        // The platform's own cases: a project OT's folder (SGC-PC-07 §4.3) and a completed
        // post-sale request's documents.
        r.on(WorkOrderOpened.self) { e, _ in
            guard e.kind == .project else { return [] }
            let c = RegisterFile(
                fileId: RecordFile.caseFileId(.workOrder, e.workOrderId), advisor: RecordsRules.automatic, office: .plataforma, caseKind: .workOrder,
                caseId: e.workOrderId, service: e.kind.rawValue, documents: e.documents)
            return [.to(file, c.fileId!, .register(c, fileId: c.fileId!, automatic: true))]
        }
        r.on(PostSaleRequestCompleted.self) { e, _ in
            let c = RegisterFile(
                fileId: RecordFile.caseFileId(.postsale, e.requestId), advisor: RecordsRules.automatic, office: .plataforma, caseKind: .postsale,
                caseId: e.requestId, service: e.flow.rawValue, documents: e.documents ?? [])
            return [.to(file, c.fileId!, .register(c, fileId: c.fileId!, automatic: true))]
        }
        r.on(RequestRetrieval.self) { c, m in
            let id = Retrieval.retrievalId(for: c, messageId: m.id)
            if let fileId = c.fileId { return [.to(file, fileId, .retrieval(c, retrievalId: id))] }
            return [.to(file, alias: RecordFile.caseAlias(c.caseId ?? ""), .retrieval(c, retrievalId: id))]
        }
        r.on(DeliverRetrieval.self) { c, _ in [.to(file, alias: RecordFile.retrievalAlias(c.retrievalId), .delivery(c))] }
        r.local(DocumentStored.self) { c, _ in [.to(file, c.fileId, .stored(c))] }
    }

    public static let definition = ServiceDefinition(
        name: "records", routes: routes, aggregates: [RecordFile.self, Retrieval.self], migrations: RecordsMigrations.all)
}
