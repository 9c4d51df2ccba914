import Contracts
import Runtime

/// The billing service: CxC charges and payments, the prefactura of every closed OT (consumed in
/// large batches), invoices after the commercial review, the link of every charge to its OT
/// (opened, cancelled), the monthly reconciliation
/// (SGC-PC-07 §4.6–4.7, OPE-SUM-GES-P08).
public enum BillingService {
    public static let routes = Routes { r in
        let ot = BillingWorkOrder.self
        r.on(WorkOrderClosed.self, numbers: [ot.prefacturaNumber]) { e, _ in [.to(ot, e.workOrderId, .closed(e))] }
        r.on(PrefacturaApproved.self, numbers: [ot.invoiceNumber]) { e, _ in [.to(ot, e.workOrderId, .approved(e))] }
        r.on(PrefacturaReturned.self) { e, _ in [.to(ot, e.workOrderId, .returned(e))] }
        r.on(PricePrefactura.self, numbers: [ot.prefacturaNumber]) { c, _ in [.to(ot, c.workOrderId, .price(c))] }
        r.on(CorrectPrefactura.self, numbers: [ot.prefacturaNumber]) { c, _ in [.to(ot, c.workOrderId, .correct(c))] }
        r.on(WorkOrderScopeChanged.self, numbers: [ot.prefacturaNumber]) { e, _ in [.to(ot, e.workOrderId, .scopeChanged(e))] }
        r.on(ChargeRequested.self, numbers: [Charge.chargeNumber]) { e, _ in [.to(Charge.self, e.requestId, .requested(e))] }
        r.on(RecordPayment.self) { c, _ in [.to(Charge.self, alias: c.chargeId, .payment(c))] }
        // A charge names the OT it pays for: what happens to that OT decides whether the money
        // stays (OPE-SUM-GES-P08 step 15, the monthly reconciliation).
        r.on(WorkOrderOpened.self) { e, _ in [.to(Charge.self, alias: e.workOrderId, .workOrderOpened(e))] }
        r.on(WorkOrderCancelled.self) { e, _ in [.to(Charge.self, alias: e.workOrderId, .workOrderCancelled(e))] }
    }

    public static let definition = ServiceDefinition(
        name: "billing", routes: routes, aggregates: [BillingWorkOrder.self, Charge.self], migrations: BillingMigrations.all)
}
