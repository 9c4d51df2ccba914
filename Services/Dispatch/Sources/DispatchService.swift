import Contracts
import Runtime

/// The dispatch service: operations of an OT from approval to closing — dispatch to the
/// operations center with SLA deadlines, assignment, field outcome, closing, cancelling, durable
/// SLA timers and the follow-up reports (SGC-PC-07 §4.5–4.6, OPE-SUM-GES-P08 steps 8–14).
public enum DispatchService {
    public static let routes = Routes { r in
        let ot = DispatchWorkOrder.self
        r.on(WorkOrderOpened.self) { e, _ in [.to(ot, e.workOrderId, .opened(e))] }
        r.on(WorkOrderApprovalPending.self) { e, _ in [.to(ot, e.workOrderId, .approvalPending(e))] }
        r.on(WorkOrderApproved.self) { e, _ in [.to(ot, e.workOrderId, .approved(e))] }
        r.on(WorkOrderRejected.self) { e, _ in [.to(ot, e.workOrderId, .rejected(e))] }
        r.on(WorkOrderPrioritized.self) { e, _ in [.to(ot, e.workOrderId, .prioritized(e))] }
        r.on(WorkOrderScopeChanged.self) { e, _ in [.to(ot, e.workOrderId, .scopeChanged(e))] }
        r.on(AssignWorkOrder.self) { c, _ in [.to(ot, c.workOrderId, .assign(c))] }
        r.on(ReportOutcome.self) { c, _ in [.to(ot, c.workOrderId, .reportOutcome(c))] }
        r.on(CloseWorkOrder.self) { c, _ in [.to(ot, c.workOrderId, .close(c))] }
        r.on(CancelWorkOrder.self) { c, _ in [.to(ot, c.workOrderId, .cancel(c))] }
        r.on(DeliverReport.self) { c, _ in [.to(ot, c.workOrderId, .deliverReport(c))] }
    }

    public static let definition = ServiceDefinition(
        name: "dispatch", routes: routes, aggregates: [DispatchWorkOrder.self], migrations: DispatchMigrations.all,
        extra: ServiceCatalog.operationsCenter, watched: ServiceCatalog.operationsWatch)
}
