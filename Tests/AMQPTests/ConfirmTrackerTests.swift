@testable import AMQP
import Testing

/// Publisher-confirm bookkeeping as a value: what each broker answer settles.
@Suite struct ConfirmTrackerTests {
    typealias Settled = ConfirmTracker.Settled

    static func published(_ id: String, exchange: String = "ot.events", key: String = "a", userId: String? = nil)
        -> ConfirmTracker.Published
    {
        .init(messageId: id, exchange: exchange, routingKey: key, userId: userId)
    }

    /// A tracker with one batch per entry of `batches` (message ids), published in order.
    static func tracker(_ batches: [[String]]) -> (ConfirmTracker, [ConfirmTracker.BatchID]) {
        var t = ConfirmTracker()
        var ids: [ConfirmTracker.BatchID] = []
        for messages in batches {
            let b = t.beginBatch(count: messages.count)
            ids.append(b)
            for (i, m) in messages.enumerated() { t.published(published(m), batch: b, index: i) }
        }
        return (t, ids)
    }

    @Test func deliveryTagsCountPublishesFromOne() {
        var t = ConfirmTracker()
        let b = t.beginBatch(count: 3)
        #expect(t.published(Self.published("a"), batch: b, index: 0) == 1)
        #expect(t.published(Self.published("b"), batch: b, index: 1) == 2)
        #expect(t.published(Self.published("c"), batch: b, index: 2) == 3)
        #expect(t.nextTag == 4)
        #expect(t.pendingCount == 3)
    }

    @Test func aBatchSettlesOnlyWhenEveryMessageIsConfirmed() {
        var (t, ids) = Self.tracker([["a", "b", "c"]])
        #expect(t.acked(tag: 1, multiple: false).isEmpty)
        #expect(t.acked(tag: 3, multiple: false).isEmpty)
        #expect(t.acked(tag: 2, multiple: false) == [Settled(batch: ids[0], results: [.success(.confirmed), .success(.confirmed), .success(.confirmed)])])
        #expect(t.isIdle)
        #expect(t.pendingCount == 0)
    }

    @Test func aMultipleAckSettlesEveryPublishUpToItsTagAndNoFurther() {
        var (t, ids) = Self.tracker([["a", "b"], ["c"], ["d", "e"]])
        let settled = t.acked(tag: 4, multiple: true)
        #expect(settled == [
            Settled(batch: ids[0], results: [.success(.confirmed), .success(.confirmed)]),
            Settled(batch: ids[1], results: [.success(.confirmed)]),
        ])
        #expect(t.pendingCount == 1)
        #expect(t.acked(tag: 5, multiple: true) == [Settled(batch: ids[2], results: [.success(.confirmed), .success(.confirmed)])])
    }

    @Test func aNackSettlesAsNackedWithAndWithoutMultiple() {
        var (t, ids) = Self.tracker([["a", "b", "c"]])
        #expect(t.nacked(tag: 2, multiple: true).isEmpty)
        #expect(t.nacked(tag: 3, multiple: false) == [Settled(batch: ids[0], results: [.success(.nacked), .success(.nacked), .success(.nacked)])])
    }

    @Test func acksAndNacksMixWithinOneBatch() {
        var (t, ids) = Self.tracker([["a", "b", "c", "d"]])
        _ = t.acked(tag: 1, multiple: false)
        _ = t.nacked(tag: 2, multiple: false)
        #expect(t.acked(tag: 4, multiple: true) == [
            Settled(batch: ids[0], results: [.success(.confirmed), .success(.nacked), .success(.confirmed), .success(.confirmed)])
        ])
    }

    @Test func aSecondConfirmForTheSameTagIsIgnored() {
        var (t, ids) = Self.tracker([["a"], ["b"]])
        #expect(t.acked(tag: 1, multiple: false).count == 1)
        #expect(t.nacked(tag: 1, multiple: false).isEmpty)
        #expect(t.acked(tag: 1, multiple: true).isEmpty)
        #expect(t.acked(tag: 2, multiple: true) == [Settled(batch: ids[1], results: [.success(.confirmed)])])
    }

    @Test func aConfirmForAnUnknownTagChangesNothing() {
        var (t, _) = Self.tracker([["a"]])
        #expect(t.acked(tag: 7, multiple: false).isEmpty)
        #expect(t.pendingCount == 1)
    }

    @Test func aReturnMakesTheFollowingConfirmOfThatMessageReturned() {
        var (t, ids) = Self.tracker([["routed", "nowhere", "routed-2"]])
        t.returned(messageId: "nowhere", exchange: "ot.events", routingKey: "a", replyCode: 312, replyText: "NO_ROUTE")
        #expect(t.acked(tag: 3, multiple: true) == [
            Settled(batch: ids[0], results: [.success(.confirmed), .success(.returned(replyCode: 312, replyText: "NO_ROUTE")), .success(.confirmed)])
        ])
    }

    @Test func aReturnGoesToTheEarliestUnsettledPublishWithItsIdExchangeAndKey() {
        var t = ConfirmTracker()
        let b = t.beginBatch(count: 3)
        t.published(Self.published("same", key: "x"), batch: b, index: 0)
        t.published(Self.published("same", key: "y"), batch: b, index: 1)
        t.published(Self.published("same", key: "y"), batch: b, index: 2)
        t.returned(messageId: "same", exchange: "ot.events", routingKey: "y", replyCode: 312, replyText: "NO_ROUTE")
        let settled = t.acked(tag: 3, multiple: true)
        #expect(settled.first?.results == [.success(.confirmed), .success(.returned(replyCode: 312, replyText: "NO_ROUTE")), .success(.confirmed)])
    }

    @Test func aReturnWithoutMessageIdOrForNoPendingPublishIsIgnored() {
        var (t, _) = Self.tracker([["a"]])
        t.returned(messageId: nil, exchange: "ot.events", routingKey: "a", replyCode: 312, replyText: "NO_ROUTE")
        t.returned(messageId: "zz", exchange: "ot.events", routingKey: "a", replyCode: 312, replyText: "NO_ROUTE")
        #expect(t.acked(tag: 1, multiple: false).first?.results == [.success(.confirmed)])
    }

    @Test func aMessageNotSentSettlesWithItsErrorAlongsideTheConfirmedOnes() {
        var t = ConfirmTracker()
        let b = t.beginBatch(count: 2)
        let refused = AMQPError(.preconditionFailed, "foreign user id")
        #expect(t.failed(batch: b, index: 0, refused) == nil)
        t.published(Self.published("b"), batch: b, index: 1)
        #expect(t.acked(tag: 1, multiple: false) == [Settled(batch: b, results: [.failure(refused), .success(.confirmed)])])
    }

    @Test func aTopicRefusalFailsTheNamedPublishAndLeavesTheOthersRetryable() {
        var t = ConfirmTracker()
        let b1 = t.beginBatch(count: 1)
        t.published(Self.published("early", key: "a.x"), batch: b1, index: 0)
        let b2 = t.beginBatch(count: 3)
        t.published(Self.published("ok", key: "a.y"), batch: b2, index: 0)
        t.published(Self.published("bad", key: "b.x"), batch: b2, index: 1)
        t.published(Self.published("after", key: "a.z"), batch: b2, index: 2)
        let close = ConfirmTracker.ChannelClose(
            replyCode: 403,
            replyText: "ACCESS_REFUSED - write access to topic 'b.x' in exchange 'ot.events' in vhost 'ot' refused for user 'svc'",
            classId: 60, methodId: 40)
        let settled = t.channelClosed(close)
        #expect(settled.map(\.batch) == [b1, b2])
        guard case .failure(let e1) = settled[0].results[0] else { Issue.record("early publish settled"); return }
        #expect(e1.code == .channelClosed && e1.isRetryable && e1.replyCode == 403)
        let r = settled[1].results
        guard case .failure(let ok) = r[0], case .failure(let bad) = r[1], case .failure(let after) = r[2] else {
            Issue.record("expected three failures, got \(r)")
            return
        }
        #expect(ok.code == .channelClosed && after.code == .channelClosed)
        #expect(bad.code == .accessRefused && !bad.isRetryable)
        #expect(bad.messageIndex == 1 && bad.messageId == "bad" && bad.replyCode == 403)
        #expect(bad.replyText?.contains("topic 'b.x'") == true)
        #expect(t.isIdle && t.nextTag == 1, "the next channel counts from 1 again")
    }

    @Test func theEarliestOfSeveralPublishesWithTheRefusedKeyIsTheRefusedOne() {
        var t = ConfirmTracker()
        let b = t.beginBatch(count: 2)
        t.published(Self.published("first", key: "b.x"), batch: b, index: 0)
        t.published(Self.published("second", key: "b.x"), batch: b, index: 1)
        let settled = t.channelClosed(
            .init(replyCode: 403, replyText: "ACCESS_REFUSED - write access to topic 'b.x' in exchange 'ot.events' in vhost 'v' refused for user 'u'",
                  classId: 60, methodId: 40))
        let codes = settled[0].results.map { r -> AMQPError.Code? in if case .failure(let e) = r { e.code } else { nil } }
        #expect(codes == [.accessRefused, .channelClosed])
    }

    @Test func aUserIdRefusalFailsThePublishWithThatUserId() {
        var t = ConfirmTracker()
        let b = t.beginBatch(count: 2)
        t.published(Self.published("honest", userId: "svc"), batch: b, index: 0)
        t.published(Self.published("forged", userId: "admin"), batch: b, index: 1)
        let settled = t.channelClosed(
            .init(replyCode: 406, replyText: "PRECONDITION_FAILED - user_id property set to 'admin' but authenticated user was 'svc'",
                  classId: 60, methodId: 40))
        guard case .failure(let honest) = settled[0].results[0], case .failure(let forged) = settled[0].results[1] else {
            Issue.record("expected failures")
            return
        }
        #expect(honest.code == .channelClosed)
        #expect(forged.code == .preconditionFailed && forged.messageIndex == 1 && !forged.isRetryable)
    }

    @Test func aMissingExchangeRefusesThePublishToIt() {
        var t = ConfirmTracker()
        let b = t.beginBatch(count: 2)
        t.published(Self.published("a", exchange: "ot.events"), batch: b, index: 0)
        t.published(Self.published("b", exchange: "nope"), batch: b, index: 1)
        let settled = t.channelClosed(
            .init(replyCode: 404, replyText: "NOT_FOUND - no exchange 'nope' in vhost 'v'", classId: 60, methodId: 40))
        let codes = settled[0].results.map { r -> AMQPError.Code? in if case .failure(let e) = r { e.code } else { nil } }
        #expect(codes == [.channelClosed, .brokerRefused])
    }

    @Test func anUnnamedRefusalBlamesTheOnlyPendingPublish() {
        var (t, _) = Self.tracker([["only"]])
        let settled = t.channelClosed(.init(replyCode: 403, replyText: "ACCESS_REFUSED - something new", classId: 60, methodId: 40))
        guard case .failure(let e) = settled[0].results[0] else { Issue.record("expected a failure"); return }
        #expect(e.code == .accessRefused && e.messageIndex == 0)
    }

    @Test func anUnnamedRefusalWithSeveralPendingBlamesNoOne() {
        var (t, _) = Self.tracker([["a", "b"]])
        let settled = t.channelClosed(.init(replyCode: 403, replyText: "ACCESS_REFUSED - something new", classId: 60, methodId: 40))
        let codes = settled[0].results.map { r -> AMQPError.Code? in if case .failure(let e) = r { e.code } else { nil } }
        #expect(codes == [.channelClosed, .channelClosed])
    }

    @Test func aCloseNotCausedByAPublishBlamesNoPublish() {
        var (t, _) = Self.tracker([["a"]])
        // 406 on basic.ack (class 60, method 80): unknown delivery tag.
        let settled = t.channelClosed(.init(replyCode: 406, replyText: "PRECONDITION_FAILED - unknown delivery tag 9", classId: 60, methodId: 80))
        guard case .failure(let e) = settled[0].results[0] else { Issue.record("expected a failure"); return }
        #expect(e.code == .channelClosed && e.isRetryable)
    }

    @Test func confirmsSettledBeforeTheCloseKeepTheirOutcome() {
        var (t, ids) = Self.tracker([["a", "b"]])
        _ = t.acked(tag: 1, multiple: false)
        let settled = t.channelClosed(
            .init(replyCode: 403, replyText: "ACCESS_REFUSED - write access to topic 'a' in exchange 'ot.events' in vhost 'v' refused for user 'u'",
                  classId: 60, methodId: 40))
        #expect(settled.count == 1 && settled[0].batch == ids[0])
        #expect(settled[0].results[0] == .success(.confirmed))
        guard case .failure(let e) = settled[0].results[1] else { Issue.record("expected a failure"); return }
        #expect(e.code == .accessRefused && e.messageIndex == 1, "the confirmed one cannot be the refused one")
    }

    @Test func failAllFailsPendingAndUnpublishedMessagesAndRestartsTags() {
        var t = ConfirmTracker()
        let b1 = t.beginBatch(count: 1)
        t.published(Self.published("a"), batch: b1, index: 0)
        let b2 = t.beginBatch(count: 3)
        t.published(Self.published("b"), batch: b2, index: 0)  // the connection failed before 1 and 2
        let lost = AMQPError(.connectionLost, "socket closed")
        let settled = t.failAll(lost)
        #expect(settled.map(\.batch) == [b1, b2])
        #expect(settled[1].results.count == 3)
        for (i, r) in settled[1].results.enumerated() {
            guard case .failure(let e) = r else { Issue.record("expected a failure"); continue }
            #expect(e.code == .connectionLost && e.messageIndex == i)
        }
        #expect(t.isIdle && t.nextTag == 1)
        #expect(t.failAll(lost).isEmpty)
    }

    @Test func confirmsAfterAChannelCloseBelongToTheNewChannel() {
        var (t, _) = Self.tracker([["a"]])
        _ = t.channelClosed(.init(replyCode: 403, replyText: "x", classId: 60, methodId: 40))
        let b = t.beginBatch(count: 1)
        #expect(t.published(Self.published("new"), batch: b, index: 0) == 1)
        #expect(t.acked(tag: 1, multiple: false) == [Settled(batch: b, results: [.success(.confirmed)])])
    }

    @Test func largeBatchesSettleInLinearTime() {
        var t = ConfirmTracker()
        let n = 50_000
        let b = t.beginBatch(count: n)
        for i in 0..<n { t.published(Self.published("m\(i)"), batch: b, index: i) }
        var settled: [Settled] = []
        for tag in stride(from: UInt64(2), through: UInt64(n), by: 2) { settled += t.acked(tag: tag, multiple: false) }
        settled += t.acked(tag: UInt64(n), multiple: true)
        #expect(settled.count == 1 && settled[0].results.count == n)
        #expect(settled[0].results.allSatisfy { $0 == .success(.confirmed) })
    }
}
