@testable import AMQP
import Foundation
import Synchronization
import Testing

/// The hand-over of deliveries from the I/O thread to the consuming task.
@Suite struct DeliveriesTests {
    static func delivery(_ tag: UInt64) -> Delivery {
        Delivery(
            deliveryTag: tag, session: 1, redelivered: false, exchange: "", routingKey: "q", consumerTag: "c",
            properties: MessageProperties(), body: [UInt8(tag % 256)])
    }

    @Test func deliveriesPushedInBatchesArriveInOrder() async {
        let box = DeliveryBox(onIteratorEnd: {})
        var batch = (1...3).map(Self.delivery)
        #expect(box.push(&batch))
        #expect(batch.isEmpty)
        batch = (4...5).map(Self.delivery)
        #expect(box.push(&batch))
        box.finish()
        var tags: [UInt64] = []
        for await d in AMQPDeliveries(box: box) { tags.append(d.deliveryTag) }
        #expect(tags == [1, 2, 3, 4, 5])
    }

    @Test func aWaitingIteratorWakesForAPush() async {
        let box = DeliveryBox(onIteratorEnd: {})
        let task = Task {
            var it = AMQPDeliveries(box: box).makeAsyncIterator()
            return await it.next()?.deliveryTag
        }
        try? await Task.sleep(for: .milliseconds(50))
        var batch = [Self.delivery(42)]
        #expect(box.push(&batch))
        #expect(await task.value == 42)
        box.finish()
    }

    @Test func nextBatchTakesEverythingAvailable() async {
        let box = DeliveryBox(onIteratorEnd: {})
        var batch = (1...4).map(Self.delivery)
        _ = box.push(&batch)
        var it = AMQPDeliveries(box: box).makeAsyncIterator()
        #expect(await it.next()?.deliveryTag == 1)
        #expect(await it.nextBatch()?.map(\.deliveryTag) == [2, 3, 4])
        batch = (5...6).map(Self.delivery)
        _ = box.push(&batch)
        #expect(await it.nextBatch()?.map(\.deliveryTag) == [5, 6])
        box.finish()
        #expect(await it.nextBatch() == nil)
        #expect(await it.next() == nil)
    }

    @Test func finishingEndsTheSequenceAfterWhatWasHandedOver() async {
        let box = DeliveryBox(onIteratorEnd: {})
        var batch = [Self.delivery(1)]
        _ = box.push(&batch)
        box.finish()
        batch = [Self.delivery(2)]
        #expect(!box.push(&batch), "nothing is taken after the end")
        #expect(batch.count == 1, "the refused batch stays with the caller")
        var it = AMQPDeliveries(box: box).makeAsyncIterator()
        #expect(await it.next()?.deliveryTag == 1)
        #expect(await it.next() == nil)
    }

    @Test func cancellingTheIteratingTaskEndsTheSequenceAndTellsTheConnection() async {
        let ended = Mutex(0)
        let box = DeliveryBox(onIteratorEnd: { ended.withLock { $0 += 1 } })
        let task = Task {
            var count = 0
            for await _ in AMQPDeliveries(box: box) { count += 1 }
            return count
        }
        var batch = [Self.delivery(1)]
        _ = box.push(&batch)
        try? await Task.sleep(for: .milliseconds(50))
        task.cancel()
        #expect(await task.value == 1)
        #expect(ended.withLock { $0 } == 1)
        batch = [Self.delivery(2)]
        #expect(!box.push(&batch))
        #expect(box.takeLeftovers().isEmpty)
    }

    @Test func manyBatchesFromAnotherThreadAllArrive() async {
        let box = DeliveryBox(onIteratorEnd: {})
        let producer = Thread {
            var tag: UInt64 = 0
            for size in 1...300 {
                var batch = (0..<(size % 7 + 1)).map { _ in
                    tag += 1
                    return Self.delivery(tag)
                }
                _ = box.push(&batch)
            }
            box.finish()
        }
        producer.start()
        var last: UInt64 = 0
        var inOrder = true
        for await d in AMQPDeliveries(box: box) {
            if d.deliveryTag != last + 1 { inOrder = false }
            last = d.deliveryTag
        }
        #expect(inOrder)
        let expected = (1...300).reduce(UInt64(0)) { (sum: UInt64, size: Int) in sum + UInt64(size % 7 + 1) }
        #expect(last == expected)
    }
}
