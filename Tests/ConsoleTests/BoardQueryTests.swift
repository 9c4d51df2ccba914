import ConsoleUI
import PostgresNIO
import Testing

@testable import Console

/// The board's condition: only the filters given, every value bound (never spliced into the SQL),
/// the assignee taken literally.
@Suite struct BoardQueryTests {
    @Test func theDefaultIsEveryOpenedOTNotYetFinal() {
        var binds = PostgresBindings()
        let sql = ConsoleStore.boardWhere(BoardFilter(), &binds)
        #expect(sql == "kind = 'workorder' AND data ? 'number' AND status NOT IN ('closed', 'rejected', 'cancelled')")
        #expect(binds.count == 0)
    }

    @Test func eachFilterGivenIsOneBoundPredicateAfterTheBindingsAlreadyThere() {
        var binds = PostgresBindings()
        binds.append("2026-12-06T00:00:00.000Z")
        let sql = ConsoleStore.boardWhere(
            BoardFilter(country: "CL", serviceLine: "CSV'; DROP TABLE x; --", kind: "repair", assignee: "50%_a\\b", level: 2, status: "closed"),
            &binds)
        #expect(binds.count == 7)
        #expect(sql.contains("status = $2") && sql.contains("data->>'country' = $3") && sql.contains("data->>'serviceLine' = $4"))
        #expect(sql.contains("data->>'kind' = $5") && sql.contains("ILIKE '%' || $6 || '%'") && sql.contains("= $7"))
        #expect(!sql.contains("DROP") && !sql.contains("NOT IN"), "values are bound; a final state asked for is listed")
    }
}
