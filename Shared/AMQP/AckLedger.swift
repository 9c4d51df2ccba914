/// The deliveries of one channel that still wait for their ack, nack or reject, and the
/// settlements the application asked for since the last `flush` — as a value with no I/O.
///
/// `flush` turns the settlements into as few frames as exactness allows: a run of equal decisions
/// that starts at the oldest unsettled delivery becomes one frame with `multiple = true` (the broker
/// then settles exactly the deliveries of the run, since every older one is settled), and every
/// other decision gets its own frame with `multiple = false`. A settlement for a delivery the
/// ledger does not hold (already settled, or unknown on this channel) is dropped: sent, it would
/// make the broker close the channel (406 PRECONDITION_FAILED, unknown delivery tag).
struct AckLedger: Sendable {
    /// What the application decided for a delivery.
    enum Decision: Sendable, Equatable {
        case ack
        case nack(requeue: Bool)
        /// `basic.reject`: never merged with others (it has no `multiple`).
        case reject(requeue: Bool)
    }

    /// A frame to send.
    enum Frame: Sendable, Equatable {
        case ack(deliveryTag: UInt64, multiple: Bool)
        case nack(deliveryTag: UInt64, multiple: Bool, requeue: Bool)
        case reject(deliveryTag: UInt64, requeue: Bool)
    }

    private enum Slot: Sendable, Equatable {
        case outstanding
        case decided(Decision)
        case sent
    }

    /// Delivery tags in increasing order, from `head` on; `slots` runs parallel to it.
    private var tags: [UInt64] = []
    private var slots: [Slot] = []
    private var head = 0
    /// Tags decided since the last flush.
    private var decided: [UInt64] = []

    init() {}

    /// Deliveries not settled yet (neither decided nor sent).
    var outstandingCount: Int { slots[head...].reduce(0) { $0 + ($1 == .outstanding ? 1 : 0) } }

    /// Whether settlements wait for `flush`.
    var hasDecisions: Bool { !decided.isEmpty }

    /// A delivery arrived on the channel (the broker numbers them increasingly).
    mutating func delivered(_ tag: UInt64) {
        if let last = tags.last, tag <= last {
            // Not expected from a broker; keep the order the searches rely on.
            if index(of: tag) != nil { return }
            let at = tags[head...].firstIndex { $0 > tag } ?? tags.count
            tags.insert(tag, at: at)
            slots.insert(.outstanding, at: at)
            return
        }
        tags.append(tag)
        slots.append(.outstanding)
    }

    /// Records a decision for one delivery, or with `multiple` for every unsettled delivery up to
    /// and including `tag`. Returns how many deliveries it settled (0: dropped).
    @discardableResult
    mutating func settle(_ tag: UInt64, multiple: Bool, _ decision: Decision) -> Int {
        var count = 0
        if multiple, case .reject = decision { return settle(tag, multiple: false, decision) }
        if multiple {
            var i = head
            while i < tags.count && tags[i] <= tag {
                if slots[i] == .outstanding {
                    slots[i] = .decided(decision)
                    decided.append(tags[i])
                    count += 1
                }
                i += 1
            }
        } else if let i = index(of: tag), slots[i] == .outstanding {
            slots[i] = .decided(decision)
            decided.append(tag)
            count = 1
        }
        return count
    }

    /// The frames for every decision since the last flush, in an order the broker accepts.
    mutating func flush() -> [Frame] {
        guard !decided.isEmpty else { return [] }
        var frames: [Frame] = []
        // Runs from the oldest unsettled delivery: one frame each.
        while head < tags.count {
            switch slots[head] {
            case .sent:
                head += 1
                continue
            case .outstanding:
                break
            case .decided(.reject(let requeue)):
                frames.append(.reject(deliveryTag: tags[head], requeue: requeue))
                slots[head] = .sent
                head += 1
                continue
            case .decided(let decision):
                var last = head
                var n = 1
                var j = head + 1
                while j < tags.count && (slots[j] == .decided(decision) || slots[j] == .sent) {
                    if slots[j] == .decided(decision) {
                        last = j
                        n += 1
                    }
                    j += 1
                }
                for k in head...last where slots[k] == .decided(decision) { slots[k] = .sent }
                frames.append(Self.frame(decision, tag: tags[last], multiple: n > 1))
                head = last + 1
                continue
            }
            break
        }
        // Decisions behind an unsettled delivery: one frame each, never `multiple`.
        decided.sort()
        for tag in decided {
            guard let i = index(of: tag), case .decided(let decision) = slots[i] else { continue }
            frames.append(Self.frame(decision, tag: tag, multiple: false))
            slots[i] = .sent
        }
        decided.removeAll(keepingCapacity: true)
        while head < tags.count && slots[head] == .sent { head += 1 }
        compact()
        return frames
    }

    /// Forgets everything (the channel closed: the broker requeued its unsettled deliveries).
    mutating func reset() {
        tags.removeAll(keepingCapacity: true)
        slots.removeAll(keepingCapacity: true)
        decided.removeAll(keepingCapacity: true)
        head = 0
    }

    // MARK: Internals

    private static func frame(_ decision: Decision, tag: UInt64, multiple: Bool) -> Frame {
        switch decision {
        case .ack: .ack(deliveryTag: tag, multiple: multiple)
        case .nack(let requeue): .nack(deliveryTag: tag, multiple: multiple, requeue: requeue)
        case .reject(let requeue): .reject(deliveryTag: tag, requeue: requeue)
        }
    }

    private func index(of tag: UInt64) -> Int? {
        var lo = head
        var hi = tags.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if tags[mid] == tag { return mid }
            if tags[mid] < tag { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    private mutating func compact() {
        if head == tags.count {
            tags.removeAll(keepingCapacity: true)
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 && head * 2 > tags.count {
            tags.removeFirst(head)
            slots.removeFirst(head)
            head = 0
        }
    }
}
