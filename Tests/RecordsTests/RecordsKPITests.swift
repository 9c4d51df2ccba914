import Foundation
import Records
import Testing

/// The KPI of seed 002: files recovered / retrieval requests × 100; ≥ 99 % approved, below
/// observed, no requests no data (exact integer comparison).
@Suite("records KPI")
struct RecordsKPITests {
    struct Counts: Equatable {
        var requests: Int, recovered: Int, percent: Double?, verdict: RecordsKPI.Verdict
    }

    func counts(_ k: RecordsKPI) -> Counts { Counts(requests: k.requests, recovered: k.recovered, percent: k.percent, verdict: k.verdict) }

    @Test func theVerdictIsComparedExactlyAt99Percent() {
        #expect(RecordsKPI.verdict(recovered: 99, of: 100) == .approved, "99 % exactly is approved")
        #expect(RecordsKPI.verdict(recovered: 100, of: 100) == .approved)
        #expect(RecordsKPI.verdict(recovered: 98, of: 99) == .observed, "98.99 %")
        #expect(RecordsKPI.verdict(recovered: 98, of: 100) == .observed)
        #expect(RecordsKPI.verdict(recovered: 989, of: 1000) == .observed, "98.9 %")
        #expect(RecordsKPI.verdict(recovered: 990, of: 1000) == .approved, "99.0 %")
        #expect(RecordsKPI.verdict(recovered: 9_899, of: 10_000) == .observed, "98.99 %")
        #expect(RecordsKPI.verdict(recovered: 1, of: 1) == .approved)
        #expect(RecordsKPI.verdict(recovered: 0, of: 1) == .observed)
        #expect(RecordsKPI.verdict(recovered: 0, of: 0) == .noData)
    }

    @Test func computeCountsRequestsRecoveredAndThePercent() {
        #expect(counts(RecordsKPI.compute(requests: 100, recovered: 99)) == Counts(requests: 100, recovered: 99, percent: 99, verdict: .approved))
        #expect(counts(RecordsKPI.compute(requests: 1000, recovered: 989)) == Counts(requests: 1000, recovered: 989, percent: 98.9, verdict: .observed))
        #expect(counts(RecordsKPI.compute(requests: 4, recovered: 4)) == Counts(requests: 4, recovered: 4, percent: 100, verdict: .approved))
        #expect(counts(RecordsKPI.compute(requests: 8, recovered: 2)) == Counts(requests: 8, recovered: 2, percent: 25, verdict: .observed))
        let k = RecordsKPI.compute(requests: 99, recovered: 98)
        #expect(k.verdict == .observed)
        #expect(abs((k.percent ?? 0) - 98.98989898989899) < 1e-9)
    }

    @Test func noRequestsIsNoData() {
        #expect(counts(RecordsKPI.compute(requests: 0, recovered: 0)) == Counts(requests: 0, recovered: 0, percent: nil, verdict: .noData))
    }
}
