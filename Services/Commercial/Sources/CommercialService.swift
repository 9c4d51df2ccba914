import Contracts
import Runtime

/// The commercial service: opens OTs (SGC-PC-07 §4.1–4.3), changes their scope (SGC-DC-03) and
/// runs pole-move requests from people with no active service up to their OT and follows them to
/// the monthly report (OPE-SUM-GES-P08).
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
        // The pole-move follow-up (steps 10–14): the OT's facts reach its request by the OT's id.
        r.on(WorkOrderAttended.self) { e, _ in [.to(pm, alias: e.workOrderId, .attended(e))] }
        r.on(WorkOrderCancelled.self) { e, _ in
            [.to(ot, e.workOrderId, .finished(.cancelled)), .to(pm, alias: e.workOrderId, .cancelled(e))]
        }
        r.on(WorkOrderClosed.self) { e, _ in [.to(ot, e.workOrderId, .finished(.closed)), .to(pm, alias: e.workOrderId, .closed(e))] }
        r.on(RecordCorrectiveAction.self) { c, _ in [.to(pm, alias: c.workOrderId, .correctiveAction(c))] }
        r.on(RecordReviewerAbsence.self) { c, _ in
            PoleMoveMonth.months(ofAbsence: c.from, c.to).map { .to(PoleMoveMonth.self, $0, .ownerAbsent(month: $0, c)) }
        }
    }

    public static let definition = ServiceDefinition(
        name: "commercial", routes: routes, aggregates: [CommercialWorkOrder.self, PoleMoveRequest.self, PoleMoveMonth.self],
        migrations: CommercialMigrations.all)
}
