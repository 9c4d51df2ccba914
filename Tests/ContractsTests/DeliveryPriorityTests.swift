import Contracts
import Foundation
import Testing

/// The AMQP priorities the operations center's queue orders by (``DeliveryPriority``).
@Suite("Delivery priority")
struct DeliveryPriorityTests {
    static let deadline = Date(timeIntervalSince1970: 1_800_000_000)

    static func prioritized(_ level: Int, reiterated: Bool?) -> WorkOrderPrioritized {
        WorkOrderPrioritized(workOrderId: "W", level: level, deadline: deadline, reason: "r", reiterated: reiterated)
    }

    static func dispatched(_ level: Int) -> WorkOrderDispatched {
        var d = WorkOrderDispatched.example
        d.priority = level
        return d
    }

    @Test func eachLevelMapsToTwoTimesFourMinusLevelPlusOneAndOneMoreWhenReiterated() {
        for level in 1...4 {
            #expect(DeliveryPriority.of(level: level, reiterated: false) == UInt8(2 * (4 - level) + 1))
            #expect(DeliveryPriority.of(level: level, reiterated: true) == UInt8(2 * (4 - level) + 2))
        }
        #expect((1...4).map { DeliveryPriority.of(level: $0, reiterated: false) } == [7, 5, 3, 1])
        #expect((1...4).map { DeliveryPriority.of(level: $0, reiterated: true) } == [8, 6, 4, 2])
    }

    @Test func aHigherLevelAlwaysComesFirstAndAReiteratedClaimFirstWithinItsLevel() {
        let order = (1...4).flatMap { level in [true, false].map { DeliveryPriority.of(level: level, reiterated: $0) } }
        #expect(order == order.sorted(by: >))
        #expect(Set(order).count == 8, "every (level, reiterated) has its own priority")
    }

    @Test func escalationsAreTheHighestAndNothingExceedsTheQueueMaximum() {
        #expect(WorkOrderEscalated.example.deliveryPriority == 8)
        #expect(DeliveryPriority.maximum == 8)
        for level in -2...7 {
            for r in [true, false] {
                let p = DeliveryPriority.of(level: level, reiterated: r)
                #expect(p >= 1 && p <= DeliveryPriority.maximum, "level \(level)")
            }
        }
    }

    @Test func aLevelOutsideOneToFourCountsAsTheNearest() {
        #expect(DeliveryPriority.of(level: 0, reiterated: false) == DeliveryPriority.of(level: 1, reiterated: false))
        #expect(DeliveryPriority.of(level: 9, reiterated: true) == DeliveryPriority.of(level: 4, reiterated: true))
    }

    @Test func theOperationsCenterMessagesCarryTheirPriorityAndOthersNone() {
        #expect((1...4).map { Self.dispatched($0).deliveryPriority } == [7, 5, 3, 1])
        #expect(Self.prioritized(2, reiterated: nil).deliveryPriority == 5, "absent reiterated: not reiterated")
        #expect(Self.prioritized(2, reiterated: false).deliveryPriority == 5)
        #expect(Self.prioritized(2, reiterated: true).deliveryPriority == 6)
        #expect(Self.prioritized(1, reiterated: true).deliveryPriority == WorkOrderEscalated.example.deliveryPriority)
        #expect(OpenWorkOrder.example.deliveryPriority == nil)
        #expect(WorkOrderClosed.example.deliveryPriority == nil)
        let withPriority = MessageRegistry.all.filter { $0.example.deliveryPriority != nil }.map { $0.type }
        #expect(Set(withPriority) == ["workorder.dispatched", "workorder.prioritized", "workorder.escalated"])
    }

    @Test func aPriorityNamesItsLevelBack() {
        for level in 1...4 {
            for r in [true, false] { #expect(DeliveryPriority.level(of: DeliveryPriority.of(level: level, reiterated: r)) == level) }
        }
        #expect(DeliveryPriority.level(of: 0) == nil)
    }
}
