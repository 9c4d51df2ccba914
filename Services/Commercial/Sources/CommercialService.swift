import Contracts
import Runtime

/// The commercial service: opens OTs (SGC-PC-07 §4.1–4.3), changes their scope (SGC-DC-03) and
/// runs pole-move requests from people with no active service up to their OT (OPE-SUM-GES-P08).
public enum CommercialService {
    public static let routes = Routes { r in
        let ot = CommercialWorkOrder.self
        let pm = PoleMoveRequest.self
        r.on(OpenWorkOrder.self, numbers: [ot.numberSequence]) { c, m in [.to(ot, ot.id(for: c, messageId: m.id), .open(c))] }
        r.on(ChangeScope.self) { c, _ in [.to(ot, c.workOrderId, .changeScope(c))] }
        // Screened against the customers the platform knows first (OPE-SUM-GES-P08 step 1).
        r.on(RequestPoleMove.self) { c, m in
            [.to(ot, alias: KnownCustomers.alias(requester: c.requester), .screenPoleMove(requestId: pm.id(messageId: m.id), c))]
        }
        r.on(ChargeCreated.self) { e, _ in e.requestId.map { [.to(pm, $0, .chargeCreated(e))] } ?? [] }
        r.on(ChargePaid.self, numbers: [ot.numberSequence]) { e, _ in [.to(pm, alias: e.chargeId, .chargePaid(e))] }
        r.on(WorkOrderRejected.self) { e, _ in [.to(ot, e.workOrderId, .finished(.rejected))] }
        r.on(WorkOrderCancelled.self) { e, _ in [.to(ot, e.workOrderId, .finished(.cancelled))] }
        r.on(WorkOrderClosed.self) { e, _ in [.to(ot, e.workOrderId, .finished(.closed))] }
    }

    public static let definition = ServiceDefinition(
        name: "commercial", routes: routes, aggregates: [CommercialWorkOrder.self, PoleMoveRequest.self],
        migrations: CommercialMigrations.all)
}
