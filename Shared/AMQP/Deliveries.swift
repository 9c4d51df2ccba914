import Synchronization

/// The deliveries of one consumer, in the order the broker sent them; iterate it once
/// (`for await delivery in consumer.deliveries`). It ends when the consumer is cancelled or the
/// connection shuts down.
///
/// The connection's I/O thread hands deliveries over in batches — everything it read from the
/// socket in one go — with at most one wake-up of the iterating task per batch; the iterator then
/// serves the batch without locking. ``AsyncIterator/nextBatch()`` takes a whole batch at once.
///
/// Cancelling the iterating task ends the sequence (like `AsyncStream`); the connection then
/// cancels the consumer on the broker and gives the deliveries it could not hand over back to the
/// queue (deliveries already handed over wait for their ack as usual).
public struct AMQPDeliveries: AsyncSequence, Sendable {
    public typealias Element = Delivery
    public typealias Failure = Never

    let box: DeliveryBox

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(box: box) }

    /// Iterates the deliveries of one consumer.
    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = Delivery
        public typealias Failure = Never

        let box: DeliveryBox
        private var batch: [Delivery] = []
        private var index = 0

        init(box: DeliveryBox) { self.box = box }

        /// The next delivery, waiting for one; nil when the consumer has ended.
        public mutating func next() async -> Delivery? {
            if index < batch.count {
                index += 1
                return batch[index - 1]
            }
            guard await box.take(into: &batch) else { return nil }
            index = 1
            return batch[0]
        }

        /// The next delivery, staying on the caller's actor while waiting.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> Delivery? {
            if index < batch.count {
                index += 1
                return batch[index - 1]
            }
            guard await box.take(into: &batch, isolation: actor) else { return nil }
            index = 1
            return batch[0]
        }

        /// Every delivery available now (at least one), waiting for one when none is; nil when the
        /// consumer has ended.
        public mutating func nextBatch() async -> [Delivery]? {
            if index < batch.count {
                let rest = Array(batch[index...])
                batch.removeAll(keepingCapacity: true)
                index = 0
                return rest
            }
            guard await box.take(into: &batch) else { return nil }
            index = 0
            var out: [Delivery] = []
            swap(&out, &batch)
            return out
        }
    }
}

/// The hand-over point between a consumer's I/O thread (which pushes) and its iterator (which
/// takes). All state sits behind one mutex; the waiting iterator's continuation is resumed outside
/// the lock.
final class DeliveryBox: Sendable {
    private struct State {
        var buffer: [Delivery] = []
        var waiter: UnsafeContinuation<Void, Never>?
        /// No more deliveries will be taken (consumer cancelled, connection shut down, or iterating
        /// task cancelled).
        var finished = false
        /// The iterating side ended the sequence (task cancelled): the I/O thread cancels the
        /// consumer and requeues what is left.
        var endedByIterator = false
    }

    private let state = Mutex(State())
    /// Tells the I/O thread that the iterating side ended the sequence.
    private let onIteratorEnd: @Sendable () -> Void

    init(onIteratorEnd: @escaping @Sendable () -> Void) {
        self.onIteratorEnd = onIteratorEnd
    }

    // MARK: I/O thread side

    /// Hands deliveries over (`batch` is left empty, possibly with capacity to reuse). Returns false,
    /// leaving `batch` untouched, when the sequence has ended: the caller gives them back.
    func push(_ batch: inout [Delivery]) -> Bool {
        let (accepted, waiter) = state.withLock { s -> (Bool, UnsafeContinuation<Void, Never>?) in
            if s.finished { return (false, nil) }
            if s.buffer.isEmpty {
                swap(&s.buffer, &batch)
            } else {
                s.buffer.append(contentsOf: batch)
                batch.removeAll(keepingCapacity: true)
            }
            let w = s.waiter
            s.waiter = nil
            return (true, w)
        }
        waiter?.resume()
        return accepted
    }

    /// Ends the sequence after the deliveries already handed over.
    func finish() {
        let waiter = state.withLock { s -> UnsafeContinuation<Void, Never>? in
            s.finished = true
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// The deliveries handed over but never taken (after the sequence ended).
    func takeLeftovers() -> [Delivery] {
        state.withLock { s in
            var out: [Delivery] = []
            swap(&out, &s.buffer)
            return out
        }
    }

    // MARK: Iterator side

    /// Replaces `batch` with the next batch, waiting for one; false when the sequence has ended.
    func take(into batch: inout [Delivery], isolation actor: isolated (any Actor)? = #isolation) async -> Bool {
        batch.removeAll(keepingCapacity: true)
        while true {
            let ready: Bool? = state.withLock { s in
                if s.endedByIterator { return false }
                if !s.buffer.isEmpty {
                    swap(&s.buffer, &batch)
                    return true
                }
                return s.finished ? false : nil
            }
            if let ready { return ready }
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                    let now = state.withLock { s -> Bool in
                        if !s.buffer.isEmpty || s.finished || s.endedByIterator { return true }
                        s.waiter = c
                        return false
                    }
                    if now { c.resume() }
                }
            } onCancel: {
                self.endByIterator()
            }
        }
    }

    private func endByIterator() {
        let (waiter, first) = state.withLock { s -> (UnsafeContinuation<Void, Never>?, Bool) in
            let first = !s.endedByIterator && !s.finished
            s.endedByIterator = true
            s.finished = true
            let w = s.waiter
            s.waiter = nil
            return (w, first)
        }
        waiter?.resume()
        if first { onIteratorEnd() }
    }
}
