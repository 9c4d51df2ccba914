import Contracts
import Runtime

/// The billing service: CxC charges and payments, the prefactura of every closed OT (consumed in
/// large batches), invoices after the commercial review, the link of every charge to its OT
/// (opened, cancelled), the monthly reconciliation
/// (SGC-PC-07 §4.6–4.7, OPE-SUM-GES-P08), and the recurring invoices of enterprise contracts:
/// fees, monthly proformas, proration on withdrawal (GC-PRC-OPE-ASE-04).
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
        // The recurring invoices (GC-PRC-OPE-ASE-04 I, H step 7): contracts and their products as
        // post-sale keeps them, the fees added, the monthly cycle and its payments.
        let contract = BillingContract.self
        r.on(ContractRegistered.self) { e, _ in [.to(contract, e.contractId, .registered(e))] }
        r.on(ContractProductChanged.self) { e, _ in [.to(contract, e.contractId, .productChanged(e))] }
        r.on(RecurringChargeAdded.self) { e, _ in [.to(contract, e.contractId, .fee(e))] }
        r.on(RunBillingCycle.self) { c, _ in [.to(BillingCycle.self, c.month.description, .run(c))] }
        r.on(RecordProformaPayment.self) { c, _ in [.to(contract, alias: c.proformaId, .payment(c))] }
    }

    public static let definition = ServiceDefinition(
        name: "billing", routes: routes, aggregates: [BillingWorkOrder.self, Charge.self, BillingContract.self, BillingCycle.self, BillingCyclePart.self],
        migrations: BillingMigrations.all)
}
