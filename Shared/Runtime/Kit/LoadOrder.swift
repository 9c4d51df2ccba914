import Synchronization

/// Keeps concurrent batches of one queue loading their aggregates in delivery order.
///
/// Workers take batches from the queue's buffer in delivery order, each with the next ticket. A
/// batch sends its load statement (`… FOR UPDATE`) only once every earlier ticket's load has
/// returned: an aggregate that two batches touch is then locked first by the earlier one, and the
/// later one's load waits for that commit and reads what it wrote. Without this, whichever batch's
/// load reached the database first applied its facts first, out of delivery order.
///
/// A ticket is released once its batch's load returned, or when the batch ended without loading
/// (a failed transaction). A wait is bounded (``maxWait``): a batch whose predecessor cannot load
/// (its transaction waiting for a pooled connection this batch holds) goes ahead rather than stall.
public final class LoadOrder: Sendable {
    private struct State {
        var issued = 0
        /// Every ticket below this one is released.
        var watermark = 0
        /// Released tickets above the watermark.
        var early = Set<Int>()
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// The task that ends a waiter's wait after ``maxWait``.
        var timeouts: [Int: Task<Void, Never>] = [:]
    }
    private let state = Mutex(State())
    let maxWait: Duration

    public init(maxWait: Duration = .seconds(1)) { self.maxWait = maxWait }

    /// The next ticket, in the order of the calls (make it under the lock that orders the batches).
    func issue() -> LoadTurn {
        let ticket = state.withLock { s in
            defer { s.issued += 1 }
            return s.issued
        }
        return LoadTurn(order: self, ticket: ticket)
    }

    /// Whether every ticket before `ticket` is released.
    func mayLoad(_ ticket: Int) -> Bool { state.withLock { $0.watermark >= ticket } }

    /// Returns once every ticket before `ticket` is released, or after ``maxWait``.
    func wait(_ ticket: Int) async {
        if mayLoad(ticket) { return }
        let maxWait = self.maxWait
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.watermark >= ticket { return true }
                s.waiters[ticket] = c
                s.timeouts[ticket] = Task { [weak self] in
                    guard (try? await Task.sleep(for: maxWait)) != nil else { return }
                    self?.state.withLock { s in
                        s.timeouts[ticket] = nil
                        return s.waiters.removeValue(forKey: ticket)
                    }?.resume()
                }
                return false
            }
            if now { c.resume() }
        }
    }

    func release(_ ticket: Int) {
        let woken = state.withLock { s -> [(CheckedContinuation<Void, Never>, Task<Void, Never>?)] in
            guard ticket >= s.watermark else { return [] }
            s.early.insert(ticket)
            let from = s.watermark
            while s.early.remove(s.watermark) != nil { s.watermark += 1 }
            // Every waiter up to the new watermark may load now.
            return (from...s.watermark).compactMap { t in
                s.waiters.removeValue(forKey: t).map { ($0, s.timeouts.removeValue(forKey: t)) }
            }
        }
        for (waiter, timeout) in woken {
            timeout?.cancel()
            waiter.resume()
        }
    }
}

/// One batch's place in its queue's ``LoadOrder``: waited for before its first load, released
/// once (later calls do nothing; a batch that runs again after a lost race does not wait again).
public final class LoadTurn: Sendable {
    let order: LoadOrder
    let ticket: Int
    private let released = Atomic<Bool>(false)

    init(order: LoadOrder, ticket: Int) {
        self.order = order
        self.ticket = ticket
    }

    func wait() async {
        if released.load(ordering: .acquiring) { return }
        await order.wait(ticket)
    }

    func release() {
        if released.exchange(true, ordering: .acquiringAndReleasing) { return }
        order.release(ticket)
    }
}
