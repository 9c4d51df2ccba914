import Logging
import PostgresNIO
import Synchronization

/// An operation that did not finish within its bound.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var what: String
    public var limit: Duration
    public var description: String { "\(what) did not finish within \(limit)" }
}

/// Runs `operation` and returns its result, or throws ``DeadlineExceeded`` once `limit` passes —
/// even if the operation ignores cancellation (it is cancelled and left to finish on its own).
///
/// Used around database transactions: a query on a connection the server killed mid-flight can
/// hang in the driver, and a worker must not wait for it forever. Whatever the abandoned
/// transaction did is either rolled back by the server or, if it did commit, deduplicated by the
/// inbox when the retried message comes back.
///
/// The bound is kept by the process's ``DeadlineWatchdog`` (checked every 50 ms), not by a timer
/// of its own: a sleeping task per call, cancelled when the operation returns, cost a timer
/// registration and its cancellation on Dispatch's threads for every batch.
public func withDeadline<T: Sendable>(
    _ limit: Duration, _ what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = Race()
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let watch = DeadlineWatchdog.shared.watch(until: .now + limit) {
            if race.claim() {
                race.work.withLock { $0?.cancel() }
                c.resume(throwing: DeadlineExceeded(what: what, limit: limit))
            }
        }
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            if race.claim() {
                DeadlineWatchdog.shared.forget(watch)
                c.resume(with: result)
            }
        }
        race.work.withLock { $0 = work }
    }
}

/// Who finished first: the operation or the watchdog.
private final class Race: Sendable {
    private let done = Atomic<Bool>(false)
    let work = Mutex<Task<Void, Never>?>(nil)
    func claim() -> Bool { !done.exchange(true, ordering: .acquiringAndReleasing) }
}

/// The deadlines of a process's bounded operations, checked by one task every ``tick`` while any
/// are watched (it ends after a second with none, and starts again with the next).
public final class DeadlineWatchdog: Sendable {
    public static let shared = DeadlineWatchdog()
    /// How often the deadlines are checked: a deadline fires up to this much late.
    let tick: Duration

    private struct Entry {
        var deadline: ContinuousClock.Instant
        var fire: @Sendable () -> Void
    }
    private struct State {
        var entries: [Int: Entry] = [:]
        var next = 0
        var running = false
    }
    private let state = Mutex(State())

    init(tick: Duration = .milliseconds(50)) { self.tick = tick }

    /// Calls `fire` once `deadline` has passed, unless ``forget(_:)`` comes first. Returns the key.
    func watch(until deadline: ContinuousClock.Instant, _ fire: @escaping @Sendable () -> Void) -> Int {
        let (key, start) = state.withLock { s -> (Int, Bool) in
            s.next += 1
            s.entries[s.next] = Entry(deadline: deadline, fire: fire)
            let start = !s.running
            s.running = true
            return (s.next, start)
        }
        if start { Task.detached { await self.run() } }
        return key
    }

    func forget(_ key: Int) { _ = state.withLock { $0.entries.removeValue(forKey: key) } }

    /// How many deadlines are watched (for tests).
    var watched: Int { state.withLock { $0.entries.count } }

    private func run() async {
        var idleSince: ContinuousClock.Instant?
        while true {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let (due, stop) = state.withLock { s -> ([@Sendable () -> Void], Bool) in
                let keys = s.entries.filter { $0.value.deadline <= now }.map(\.key)
                let due = keys.compactMap { s.entries.removeValue(forKey: $0)?.fire }
                if s.entries.isEmpty {
                    idleSince = idleSince ?? now
                    if now - idleSince! >= .seconds(1) {
                        s.running = false
                        return (due, true)
                    }
                } else {
                    idleSince = nil
                }
                return (due, false)
            }
            for fire in due { fire() }
            if stop { return }
        }
    }
}

extension PostgresClient {
    /// `withConnection` within `limit`: past it the caller gets ``DeadlineExceeded`` and the
    /// connection is closed, so that nothing goes on using it. A query on a session the server
    /// ended while the connection was leased (a database restart, an abandoned transaction ended
    /// by `idle_in_transaction_session_timeout`) never answers in postgres-nio 1.33 (seen in
    /// `KitTests`): every use of a connection needs a bound. Unbounded, the parking sweep once
    /// hung this way after a database restart and parked commands were never run again.
    public func withConnection<T: Sendable>(
        within limit: Duration, _ what: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let leased = Mutex<PostgresConnection?>(nil)
        do {
            return try await withDeadline(limit, what) {
                try await self.withConnection { conn in
                    leased.withLock { $0 = conn }
                    return try await body(conn)
                }
            }
        } catch let e as DeadlineExceeded {
            if let conn = leased.withLock({ $0 }) { conn.close().whenComplete { _ in } }
            throw e
        }
    }

    /// A transaction within `limit`, closing the connection past it (see
    /// ``withConnection(within:_:_:)``): `BEGIN`, `body`, `COMMIT` — or `ROLLBACK` and the error
    /// when `body` throws.
    ///
    /// `BEGIN` is queued on the connection without waiting for its answer, so the driver sends
    /// `body`'s first statement as soon as that answer arrives, on its event loop: a round trip
    /// through the task pool less per transaction (the driver runs one statement at a time). Its
    /// answer is checked before `COMMIT`. (`BEGIN` cannot fail on a healthy session; on a broken
    /// one, `body`'s statements fail too.)
    public func withTransaction<T: Sendable>(
        within limit: Duration, _ what: String, logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection(within: limit, what) { conn in
            let begun: EventLoopFuture<PostgresQueryResult> = conn.query("BEGIN", logger: logger)
            let value: T
            do {
                value = try await body(conn)
                _ = try await begun.get()
            } catch {
                _ = try? await begun.get()
                _ = try? await conn.query("ROLLBACK", logger: logger)
                throw error
            }
            try await conn.query("COMMIT", logger: logger)
            return value
        }
    }
}
