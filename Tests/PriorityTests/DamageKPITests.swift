import Contracts
import Foundation
import Priority
import Testing

/// The KPI of COM-GCM-P12 §IV.2: reiterated damages solved / received × 100; ≥ 98 % accepted,
/// ≤ 97 % observed, in between watch, nothing received no data.
@Suite("damage KPI")
struct DamageKPITests {
    struct Counts: Equatable {
        var received: Int, solved: Int, percent: Double?, verdict: DamageKPI.Verdict
    }

    func counts(_ k: DamageKPI) -> Counts { Counts(received: k.received, solved: k.solved, percent: k.percent, verdict: k.verdict) }

    @Test func theVerdictBandsAreComparedExactly() {
        #expect(DamageKPI.verdict(solved: 98, of: 100) == .accepted, "98 % exactly is accepted")
        #expect(DamageKPI.verdict(solved: 100, of: 100) == .accepted)
        #expect(DamageKPI.verdict(solved: 49, of: 50) == .accepted)
        #expect(DamageKPI.verdict(solved: 97, of: 100) == .observed, "97 % exactly is observed")
        #expect(DamageKPI.verdict(solved: 0, of: 3) == .observed)
        #expect(DamageKPI.verdict(solved: 195, of: 200) == .watch, "97.5 %")
        // Just either side of the bands.
        #expect(DamageKPI.verdict(solved: 979, of: 1000) == .watch, "97.9 %")
        #expect(DamageKPI.verdict(solved: 971, of: 1000) == .watch, "97.1 %")
        #expect(DamageKPI.verdict(solved: 9_799, of: 10_000) == .watch, "97.99 %")
        #expect(DamageKPI.verdict(solved: 9_701, of: 10_000) == .watch, "97.01 %")
        #expect(DamageKPI.verdict(solved: 0, of: 0) == .noData)
    }

    @Test func computeCountsReceivedAndSolved() {
        let t = P.t0
        let damages = (0..<200).map { i in DamageKPI.Damage(reiteratedAt: t, solvedAt: i < 195 ? t.addingTimeInterval(3600) : nil) }
        let kpi = DamageKPI.compute(damages)
        #expect(counts(kpi) == Counts(received: 200, solved: 195, percent: 97.5, verdict: .watch))
        let all = DamageKPI.compute([DamageKPI.Damage(reiteratedAt: t, solvedAt: t), DamageKPI.Damage(reiteratedAt: t, solvedAt: t)])
        #expect(counts(all) == Counts(received: 2, solved: 2, percent: 100, verdict: .accepted))
        let none = DamageKPI.compute([DamageKPI.Damage(reiteratedAt: t, solvedAt: nil)])
        #expect(counts(none) == Counts(received: 1, solved: 0, percent: 0, verdict: .observed))
    }

    @Test func noDamagesIsNoData() {
        #expect(counts(DamageKPI.compute([])) == Counts(received: 0, solved: 0, percent: nil, verdict: .noData))
    }
}
