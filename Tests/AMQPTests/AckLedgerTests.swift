@testable import AMQP
import Testing

/// Ack coalescing as a value: which frames a set of settlements becomes, and that the broker ends
/// up with exactly the settlements the application asked for.
@Suite struct AckLedgerTests {
    typealias Frame = AckLedger.Frame

    static func ledger(_ tags: ClosedRange<UInt64>) -> AckLedger {
        var l = AckLedger()
        for t in tags { l.delivered(t) }
        return l
    }

    @Test func acksFromTheOldestDeliveryOnBecomeOneMultipleAck() {
        var l = Self.ledger(1...5)
        for t in [3, 1, 2] as [UInt64] { l.settle(t, multiple: false, .ack) }
        #expect(l.flush() == [.ack(deliveryTag: 3, multiple: true)])
        #expect(l.outstandingCount == 2)
    }

    @Test func aSingleAckStaysSingle() {
        var l = Self.ledger(1...3)
        l.settle(1, multiple: false, .ack)
        #expect(l.flush() == [.ack(deliveryTag: 1, multiple: false)])
    }

    @Test func acksBehindAnUnsettledDeliveryAreSentOneByOne() {
        var l = Self.ledger(1...5)
        l.settle(2, multiple: false, .ack)
        l.settle(4, multiple: false, .ack)
        #expect(l.flush() == [.ack(deliveryTag: 2, multiple: false), .ack(deliveryTag: 4, multiple: false)])
        l.settle(1, multiple: false, .ack)
        l.settle(3, multiple: false, .ack)
        // 1…4 are now all settled: one multiple ack covers the two new ones (2 and 4 are gone).
        #expect(l.flush() == [.ack(deliveryTag: 3, multiple: true)])
        #expect(l.outstandingCount == 1)
    }

    @Test func differentDecisionsMakeSeparateRuns() {
        var l = Self.ledger(1...6)
        l.settle(1, multiple: false, .ack)
        l.settle(2, multiple: false, .ack)
        l.settle(3, multiple: false, .nack(requeue: true))
        l.settle(4, multiple: false, .nack(requeue: true))
        l.settle(5, multiple: false, .nack(requeue: false))
        #expect(l.flush() == [
            .ack(deliveryTag: 2, multiple: true), .nack(deliveryTag: 4, multiple: true, requeue: true),
            .nack(deliveryTag: 5, multiple: false, requeue: false),
        ])
    }

    @Test func rejectsAreNeverMerged() {
        var l = Self.ledger(1...4)
        l.settle(1, multiple: false, .reject(requeue: false))
        l.settle(2, multiple: false, .reject(requeue: false))
        l.settle(4, multiple: false, .reject(requeue: true))
        #expect(l.flush() == [
            .reject(deliveryTag: 1, requeue: false), .reject(deliveryTag: 2, requeue: false),
            .reject(deliveryTag: 4, requeue: true),
        ])
        #expect(l.settle(3, multiple: true, .reject(requeue: true)) == 1, "a multiple reject settles one delivery")
    }

    @Test func aMultipleAckFromTheApplicationSettlesEverythingUpToItsTag() {
        var l = Self.ledger(1...5)
        l.settle(2, multiple: false, .nack(requeue: true))
        #expect(l.settle(4, multiple: true, .ack) == 3)
        #expect(l.flush() == [
            .ack(deliveryTag: 1, multiple: false), .nack(deliveryTag: 2, multiple: false, requeue: true),
            .ack(deliveryTag: 4, multiple: true),
        ])
    }

    @Test func settlementsForUnknownOrSettledDeliveriesAreDropped() {
        var l = Self.ledger(1...2)
        #expect(l.settle(9, multiple: false, .ack) == 0)
        #expect(l.settle(1, multiple: false, .ack) == 1)
        #expect(l.settle(1, multiple: false, .nack(requeue: true)) == 0, "decided already")
        _ = l.flush()
        #expect(l.settle(1, multiple: false, .ack) == 0, "sent already")
        #expect(l.flush() == [])
        #expect(!l.hasDecisions)
    }

    @Test func resetForgetsTheChannel() {
        var l = Self.ledger(1...3)
        l.settle(1, multiple: false, .ack)
        l.reset()
        #expect(l.flush() == [])
        #expect(l.settle(2, multiple: false, .ack) == 0)
        l.delivered(1)
        #expect(l.settle(1, multiple: false, .ack) == 1)
        #expect(l.flush() == [.ack(deliveryTag: 1, multiple: false)])
    }

    /// The broker's view: apply frames to a set of unacked tags, as RabbitMQ does.
    static func apply(_ frames: [Frame], to unacked: inout [UInt64: AckLedger.Decision?]) -> Bool {
        for f in frames {
            let (tag, multiple, decision): (UInt64, Bool, AckLedger.Decision) =
                switch f {
                case .ack(let t, let m): (t, m, .ack)
                case .nack(let t, let m, let r): (t, m, .nack(requeue: r))
                case .reject(let t, let r): (t, false, .reject(requeue: r))
                }
            if multiple {
                let covered = unacked.keys.filter { $0 <= tag && unacked[$0]! == nil }
                guard !covered.isEmpty else { return false }
                for t in covered { unacked[t] = .some(decision) }
            } else {
                guard let slot = unacked[tag], slot == nil else { return false }  // unknown tag: channel error
                unacked[tag] = .some(decision)
            }
        }
        return true
    }

    @Test(arguments: 0..<200)
    func randomSettlementsReachTheBrokerExactly(seed: Int) {
        var rng = SplitMix(seed: UInt64(seed))
        var l = AckLedger()
        var broker: [UInt64: AckLedger.Decision?] = [:]
        var wanted: [UInt64: AckLedger.Decision] = [:]
        var nextTag: UInt64 = 1
        let decisions: [AckLedger.Decision] = [.ack, .ack, .ack, .nack(requeue: true), .nack(requeue: false), .reject(requeue: true)]
        for _ in 0..<40 {
            // Some deliveries arrive, some get decided (single or multiple), sometimes a flush.
            for _ in 0..<Int(rng.next() % 4) {
                l.delivered(nextTag)
                broker[nextTag] = .some(nil)
                nextTag += 1
            }
            let open = broker.keys.filter { broker[$0]! == nil && wanted[$0] == nil }.sorted()
            if let tag = open.randomElement(using: &rng) {
                let d = decisions.randomElement(using: &rng)!
                let multiple = rng.next() % 5 == 0
                l.settle(tag, multiple: multiple, d)
                if multiple, d != .reject(requeue: true) {
                    for t in open where t <= tag { wanted[t] = d }
                } else {
                    wanted[tag] = d
                }
            }
            if rng.next() % 3 == 0 {
                #expect(Self.apply(l.flush(), to: &broker), "a frame the broker would refuse (seed \(seed))")
            }
        }
        #expect(Self.apply(l.flush(), to: &broker))
        for (tag, d) in wanted { #expect(broker[tag]! == d, "tag \(tag), seed \(seed)") }
        for (tag, d) in broker where wanted[tag] == nil { #expect(d == nil, "tag \(tag) settled without being asked, seed \(seed)") }
    }
}

/// A small deterministic generator for the randomised tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
