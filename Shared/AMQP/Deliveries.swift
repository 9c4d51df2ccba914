import Synchronization

/// The deliveries of one consumer, in the order the broker sent them; iterate it once
/// (`for await delivery in consumer.deliveries`). It ends when the consumer is cancelled or the
/// connection shuts down.
///
/// The connection's I/O thread hands deliveries over in batches — everything it read from the
/// socket in one go — with at most one wake-up of the iterating task per batch; the iterator then
/// serves the batches without locking and without copying a delivery. ``AsyncIterator/nextBatch()``
/// takes what is there at once.
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
        /// Batches taken from the box, oldest first.
        private var batches: [[Delivery]] = []
        private var nextBatchIndex = 0
        /// The batch being served, last delivery first: `popLast` moves each out without a copy.
        private var current: [Delivery] = []
        /// Emptied arrays, handed back to the I/O thread with the next take.
        private var spare: [[Delivery]] = []

        init(box: DeliveryBox) { self.box = box }

        /// The next delivery, waiting for one; nil when the consumer has ended.
        public mutating func next() async -> Delivery? {
            if let d = popDelivery() { return d }
            guard await box.take(into: &batches, returning: &spare) else { return nil }
            nextBatchIndex = 0
            return popDelivery()
        }

        /// The next delivery, staying on the caller's actor while waiting.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> Delivery? {
            if let d = popDelivery() { return d }
            guard await box.take(into: &batches, returning: &spare, isolation: actor) else { return nil }
            nextBatchIndex = 0
            return popDelivery()
        }

        /// Every delivery available now (at least one), waiting for one when none is; nil when the
        /// consumer has ended.
        public mutating func nextBatch() async -> [Delivery]? {
            if current.isEmpty && nextBatchIndex >= batches.count {
                guard await box.take(into: &batches, returning: &spare) else { return nil }
                nextBatchIndex = 0
            }
            var out: [Delivery] = current.reversed()
            current.removeAll()
            while nextBatchIndex < batches.count {
                out.append(contentsOf: batches[nextBatchIndex])
                batches[nextBatchIndex].removeAll()
                nextBatchIndex += 1
            }
            return out
        }

        private mutating func popDelivery() -> Delivery? {
            while true {
                if let d = current.popLast() { return d }
                guard nextBatchIndex < batches.count else { return nil }
                // Keep the emptied array for reuse, then move the next batch in (uniquely referenced:
                // reversing it must not copy it).
                if current.capacity > 0 {
                    spare.append(current)
                    current = []
                }
                swap(&current, &batches[nextBatchIndex])
                nextBatchIndex += 1
                // Through the buffer: its swaps move elements (Array's own would copy them).
                current.withUnsafeMutableBufferPointer { $0.reverse() }
            }
        }
    }
}

/// The hand-over point between a consumer's I/O thread (which pushes) and its iterator (which
/// takes). All state sits behind one mutex; the waiting iterator's continuation is resumed outside
/// the lock. Batches change hands as whole arrays: no delivery is copied.
final class DeliveryBox: Sendable {
    private struct State {
        var batches: [[Delivery]] = []
        /// Empty arrays with capacity, returned by the iterator for the I/O thread to fill again.
        var spare: [[Delivery]] = []
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

    /// Hands deliveries over (`batch` is replaced by an empty array, often one with capacity to
    /// reuse). Returns false, leaving `batch` untouched, when the sequence has ended: the caller
    /// gives them back.
    func push(_ batch: inout [Delivery]) -> Bool {
        let (accepted, waiter) = state.withLock { s -> (Bool, UnsafeContinuation<Void, Never>?) in
            if s.finished { return (false, nil) }
            var replacement = s.spare.popLast() ?? []
            swap(&replacement, &batch)
            s.batches.append(replacement)
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
            let out = s.batches.flatMap { $0 }
            s.batches.removeAll()
            return out
        }
    }

    // MARK: Iterator side

    /// Replaces `batches` with the batches handed over since the last take, waiting for one; gives
    /// the emptied arrays in `spare` back. False when the sequence has ended.
    func take(
        into batches: inout [[Delivery]], returning spare: inout [[Delivery]],
        isolation actor: isolated (any Actor)? = #isolation
    ) async -> Bool {
        batches.removeAll(keepingCapacity: true)
        while true {
            let ready: Bool? = state.withLock { s in
                if !spare.isEmpty {
                    if s.spare.count < 8 { s.spare.append(contentsOf: spare.prefix(8 - s.spare.count)) }
                    spare.removeAll(keepingCapacity: true)
                }
                if s.endedByIterator { return false }
                if !s.batches.isEmpty {
                    swap(&s.batches, &batches)
                    return true
                }
                return s.finished ? false : nil
            }
            if let ready { return ready }
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                    let now = state.withLock { s -> Bool in
                        if !s.batches.isEmpty || s.finished || s.endedByIterator { return true }
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
