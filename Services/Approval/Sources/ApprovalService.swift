import Contracts
import Runtime

/// The approval service: the quality gate of OTs, the commercial review of prefacturas and the
/// satisfaction survey (SGC-PC-07 §4.4, §4.6, §4.8).
public enum ApprovalService {
    public static let routes = Routes { r in
        let ot = ApprovalWorkOrder.self
        r.on(WorkOrderOpened.self) { e, _ in [.to(ot, e.workOrderId, .opened(e))] }
        r.on(AttachDocument.self) { c, _ in [.to(ot, c.workOrderId, .attach(c))] }
        r.on(ApproveWorkOrder.self) { c, _ in [.to(ot, c.workOrderId, .approve(c))] }
        r.on(RejectWorkOrder.self) { c, _ in [.to(ot, c.workOrderId, .reject(c))] }
        r.on(WorkOrderCancelled.self) { e, _ in [.to(ot, e.workOrderId, .cancelled(e))] }
        r.on(WorkOrderClosed.self) { e, _ in [.to(ot, e.workOrderId, .closed(e))] }
        r.on(WorkOrderReportDelivered.self) { e, _ in [.to(Survey.self, e.workOrderId, .reportDelivered(e))] }
        r.on(RecordSurveyAnswer.self) { c, _ in [.to(Survey.self, alias: c.surveyId, .answer(c))] }
        r.on(PrefacturaIssued.self) { e, _ in [.to(PrefacturaReview.self, e.workOrderId, .issued(e))] }
        r.on(ReviewPrefactura.self) { c, _ in [.to(PrefacturaReview.self, alias: c.prefacturaId, .review(c))] }
    }

    public static let definition = ServiceDefinition(
        name: "approval", routes: routes, aggregates: [ApprovalWorkOrder.self, Survey.self, PrefacturaReview.self],
        migrations: ApprovalMigrations.all)
}
