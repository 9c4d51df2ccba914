import ConsoleUI
import Foundation
import PostgresNIO
import Synchronization
import Testing

@testable import Console

/// The board's condition: only the filters given, every value bound (never spliced into the SQL),
/// the assignee taken literally.
@Suite struct BoardQueryTests {
    @Test func theDefaultIsEveryOpenedOTNotYetFinal() {
        var binds = PostgresBindings()
        let sql = ConsoleStore.boardWhere(BoardFilter(), &binds)
        #expect(sql == "kind = 'workorder' AND board_numbered AND status NOT IN ('closed', 'rejected', 'cancelled')")
        #expect(binds.count == 0)
    }

    @Test func eachFilterGivenIsOneBoundPredicateAfterTheBindingsAlreadyThere() {
        var binds = PostgresBindings()
        binds.append("2026-12-06T00:00:00.000Z")
        let sql = ConsoleStore.boardWhere(
            BoardFilter(country: "CL", serviceLine: "CSV'; DROP TABLE x; --", kind: "repair", assignee: "50%_a\\b", level: 2, status: "closed"),
            &binds)
        #expect(binds.count == 7)
        #expect(sql.contains("status = $2") && sql.contains("board_country = $3") && sql.contains("board_service_line = $4"))
        #expect(sql.contains("board_kind = $5") && sql.contains("ILIKE '%' || $6 || '%'") && sql.contains("= $7"))
        #expect(!sql.contains("DROP") && !sql.contains("NOT IN"), "values are bound; a final state asked for is listed")
    }
}

/// The board's counts are computed once per filter and version, then served at once and refreshed
/// in the background when older than their time to live.
@Suite struct BoardCountsTests {
    final class Counter: Sendable {
        let n = Mutex<Int>(0)
        func next() -> (Int, Int) { n.withLock { $0 += 1; return ($0 * 10, $0) } }
        var calls: Int { n.withLock { $0 } }
    }

    @Test func countsAreSharedServedStaleAndRefreshedInTheBackground() async throws {
        let cache = BoardCounts(), counter = Counter()
        let key = BoardCounts.Key(filter: BoardFilter(country: "BO"), version: "v1")
        let t0 = Date()
        #expect(try await cache.counts(key, now: t0) { counter.next() } == (10, 1))
        #expect(try await cache.counts(key, now: t0.addingTimeInterval(1)) { counter.next() } == (10, 1))
        #expect(counter.calls == 1, "within its time to live nothing is counted again")
        // Older than the ttl: the old counts at once, a refresh behind.
        #expect(try await cache.counts(key, now: t0.addingTimeInterval(5)) { counter.next() } == (10, 1))
        #expect(await eventually { counter.calls == 2 })
        // Asked at the refresh's own time (not the wall clock, which a slow run would carry past
        // the refreshed counts' time to live, starting yet another refresh).
        let t5 = t0.addingTimeInterval(5)
        #expect(await eventually { (try? await cache.counts(key, now: t5) { counter.next() }) ?? (0, 0) == (20, 2) })
        // Another version of the read model: counted afresh, and waited for.
        let next = BoardCounts.Key(filter: BoardFilter(country: "BO"), version: "v2")
        #expect(try await cache.counts(next, now: t5) { counter.next() } == (30, 3))
    }

    /// Up to 15 s: the other suites run in parallel on the same two threads of the cooperative
    /// pool (some hash passwords for seconds), so a background task may wait long to start.
    func eventually(_ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }
}
