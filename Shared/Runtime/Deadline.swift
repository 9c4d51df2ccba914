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
public func withDeadline<T: Sendable>(
    _ limit: Duration, _ what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = Race()
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let timer = Task {
            try? await Task.sleep(for: limit)
            if Task.isCancelled { return }
            if race.claim() {
                race.work.withLock { $0?.cancel() }
                c.resume(throwing: DeadlineExceeded(what: what, limit: limit))
            }
        }
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            if race.claim() {
                timer.cancel()
                c.resume(with: result)
            }
        }
        race.work.withLock { $0 = work }
    }
}

/// Who finished first: the operation or the timer.
private final class Race: Sendable {
    private let done = Atomic<Bool>(false)
    let work = Mutex<Task<Void, Never>?>(nil)
    func claim() -> Bool { !done.exchange(true, ordering: .acquiringAndReleasing) }
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

    /// `withTransaction` within `limit`, closing the connection past it (see
    /// ``withConnection(within:_:_:)``).
    public func withTransaction<T: Sendable>(
        within limit: Duration, _ what: String, logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection(within: limit, what) { conn in
            try await conn.withTransaction(logger: logger) { conn in try await body(conn) }
        }
    }
}
