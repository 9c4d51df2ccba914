/// The AMQP priorities of what the operations center receives in its priority queue
/// (`operations.dispatch`, `x-max-priority` = ``maximum``): a backlogged operations center gets
/// escalations first, then level 1 before 2 before 3 before 4, and within a level reiterated
/// claims first.
///
/// | message | AMQP priority |
/// |---|---|
/// | `workorder.escalated` | 8 |
/// | level 1, reiterated / not | 8 / 7 |
/// | level 2, reiterated / not | 6 / 5 |
/// | level 3, reiterated / not | 4 / 3 |
/// | level 4, reiterated / not | 2 / 1 |
///
/// Level L maps to `2 × (4 − L) + 1`, one more when reiterated. A reiterated level-1 claim
/// shares the top priority with escalations (both are what the head of the operations center
/// must see first). Priority 0 (a message without one) comes after all of them.
public enum DeliveryPriority {
    /// The highest priority used: the queue's `x-max-priority`.
    public static let maximum: UInt8 = 8

    /// Escalations always come first.
    public static let escalation: UInt8 = maximum

    /// The priority of a level (1 highest … 4 lowest) of the priority matrix; levels outside
    /// 1…4 count as the nearest one.
    public static func of(level: Int, reiterated: Bool) -> UInt8 {
        let l = min(4, max(1, level))
        return UInt8(2 * (4 - l) + 1 + (reiterated ? 1 : 0))
    }

    /// The priority level `priority` stands for (1…4), for reports and tests; nil for 0 (none).
    public static func level(of priority: UInt8) -> Int? {
        priority == 0 ? nil : 4 - Int(min(priority, maximum) - 1) / 2
    }
}

extension WorkOrderDispatched {
    /// Its level (`priority`), never reiterated (dispatch does not know).
    public var deliveryPriority: UInt8? { DeliveryPriority.of(level: priority, reiterated: false) }
}

extension WorkOrderPrioritized {
    /// Its level; a reiterated claim goes first within it.
    public var deliveryPriority: UInt8? { DeliveryPriority.of(level: level, reiterated: reiterated ?? false) }
}

extension WorkOrderEscalated {
    /// Always the highest.
    public var deliveryPriority: UInt8? { DeliveryPriority.escalation }
}
