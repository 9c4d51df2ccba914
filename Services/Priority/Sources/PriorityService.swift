import Contracts
import Runtime

/// The priority service: repeated damages and the priority matrix (COM-GCM-P12). Damage cases per
/// product, their repair OTs, quality control and escalation; the level and deadline of every OT
/// of the platform, which dispatch and the operations center follow.
public enum PriorityService {
    public static let routes = Routes { r in
        let product = ProductDamages.self
        let ot = PriorityWorkOrder.self
        r.on(ReportDamage.self, numbers: [ProductDamages.damageNumber]) { c, _ in [.to(product, c.product.id, .report(c))] }
        r.on(RecordDamageQualityCheck.self) { c, _ in [.to(product, alias: c.damageId, .qualityCheck(c))] }
        r.on(RecordEscalationResult.self) { c, _ in [.to(product, alias: c.damageId, .escalation(c))] }
        // An OT for a product goes through the product first: it knows whether the product's
        // previous OT was cancelled (the matrix's re-issue rows). A damage's repair OT goes
        // straight to its OT: the damage told it that when it opened it.
        r.on(WorkOrderOpened.self) { e, _ in
            if let productId = e.productId, e.damageId == nil { return [.to(product, productId, .workOrderOpened(e))] }
            return [.to(ot, e.workOrderId, .opened(e, reissue: false))]
        }
        r.on(WorkOrderAssigned.self) { e, _ in [.to(product, alias: e.workOrderId, .assigned(workOrderId: e.workOrderId))] }
        r.on(WorkOrderAttended.self) { e, _ in [.to(ot, e.workOrderId, .ended(workOrderId: e.workOrderId, how: "attended"))] }
        r.on(WorkOrderClosed.self) { e, _ in
            [.to(ot, e.workOrderId, .ended(workOrderId: e.workOrderId, how: "closed")), .to(product, alias: e.workOrderId, .closed(e))]
        }
        r.on(WorkOrderCancelled.self) { e, _ in
            [
                .to(ot, e.workOrderId, .ended(workOrderId: e.workOrderId, how: "cancelled")),
                .to(product, alias: e.workOrderId, .cancelled(workOrderId: e.workOrderId)),
            ]
        }
        r.on(WorkOrderRejected.self) { e, _ in [.to(ot, e.workOrderId, .ended(workOrderId: e.workOrderId, how: "rejected"))] }
    }

    public static let definition = ServiceDefinition(
        name: "priority", routes: routes, aggregates: [ProductDamages.self, PriorityWorkOrder.self], migrations: PriorityMigrations.all)
}
