import Contracts
import Foundation
import Priority
import Runtime
import Testing

/// Where the priority service sends each message it consumes.
@Suite("priority routes")
struct PriorityRoutesTests {
    let routes = PriorityService.routes
    let product = ProductDamages.kind, ot = PriorityWorkOrder.kind

    @Test func damageCommandsGoToTheProduct() {
        #expect(routes.aggregateKinds(for: P.report()) == [product])
        #expect(routes.aggregateKinds(for: RecordDamageQualityCheck(damageId: "DN-1", ok: true)) == [product])
        #expect(routes.aggregateKinds(for: RecordEscalationResult(damageId: "DN-1", solved: true)) == [product])
    }

    @Test func anOTOfAProductGoesThroughTheProductFirst() {
        #expect(routes.aggregateKinds(for: P.opened("W-1")) == [product])
        #expect(routes.aggregateKinds(for: P.opened("W-1", product: nil)) == [ot])
        // A damage's repair OT goes straight to its OT (the damage told it what the product knows).
        #expect(routes.aggregateKinds(for: P.opened("W-1", damageId: "DN-2026-000001")) == [ot])
    }

    @Test func theEndOfAnOTReachesItsPriorityAndItsDamage() {
        let t = P.t0
        #expect(routes.aggregateKinds(for: P.closed("W-1", .resolved, at: t)) == [ot, product])
        #expect(routes.aggregateKinds(for: WorkOrderCancelled(workOrderId: "W-1", reason: "x")) == [ot, product])
        #expect(routes.aggregateKinds(for: WorkOrderRejected(workOrderId: "W-1", reason: "x")) == [ot])
        #expect(Set(routes.types).isSuperset(of: [WorkOrderAttended.type, WorkOrderAssigned.type]))
    }

    @Test func theServiceDeclaresBothAggregatesAndItsTimers() {
        #expect(Set(PriorityService.definition.aggregates.map(\.kind)) == [product, ot])
        #expect(ProductDamages.timerFired("other", dueAt: P.t0) == nil)
        #expect(ProductDamages.timerFired(ProductDamages.qualityTimer, dueAt: P.t0) != nil)
    }
}
