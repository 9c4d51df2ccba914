import Contracts
import Foundation
import Priority
import Testing

/// The priority matrix of COM-GCM-P12 Anexo 2 as value tests: every combination of the facts and
/// of the ages where a row may start to match, against an oracle written here from the annex,
/// then one named example per row, the deadlines, the product groups and the re-levelling ages.
@Suite("priority matrix (Anexo 2)")
struct PriorityMatrixTests {
    typealias Row = PriorityMatrix.Row
    static let h: TimeInterval = 3600

    /// The ages of the exhaustive test: the opening, either side of 72 h and of 150 h, and later.
    static let ages: [TimeInterval] = [0, 72 * h - 1, 72 * h, 150 * h - 1, 150 * h, 200 * h]

    // MARK: The oracle

    /// Anexo 2, read row by row: the levels top down, and within a level the rows in the order the
    /// annex lists them (the service's `Row.allCases`). Groups as PriorityMatrix.swift documents
    /// them: multimedia = duo pack / multipack, internet = internet / HSPA, TV = tv; the line
    /// (telephony) is named by no row. "More than 72 h" / "150 h" hold from that hour on.
    static func oracle(
        kind: WorkOrderKind, segment: Segment, product: ProductType?, channel: DamageChannel?, reiterated: Bool, reissue: Bool,
        immediate: Bool, age: TimeInterval
    ) -> (row: Row, level: Int) {
        let multimedia = product == .duoPack || product == .multipack
        let internet = product == .internet || product == .hspa
        let tv = product == .tv
        let retention = channel == .retention
        let top = segment == .topA || segment == .topB
        // Level 1 — muy alta, 12 h.
        if top && (kind == .installation || kind == .repair) { return (.topInstallationOrClaim, 1) }
        if multimedia && retention { return (.multimediaRetention, 1) }
        if immediate { return (.immediate, 1) }
        // Level 2 — alta, 24 h.
        if segment == .pyme || segment == .influencer { return (.pymeOrInfluencer, 2) }
        if multimedia && reiterated { return (.repeatedMultimedia, 2) }
        if (internet || tv) && retention { return (.internetOrTVRetention, 2) }
        // Level 3 — moderada, 24–48 h.
        if multimedia && age >= 72 * h { return (.multimediaOver72Hours, 3) }
        if reissue && (multimedia || internet) { return (.cancelledMultimediaOrInternet, 3) }
        if reiterated && (internet || tv) { return (.repeatedInternetOrTV, 3) }
        // Level 4 — controlable, 48 h.
        if internet && kind == .installation && age >= 150 * h { return (.internetInstallationOver150Hours, 4) }
        if reissue && (internet || tv) { return (.cancelledInternetOrTV, 4) }
        return (.noRow, 4)
    }

    @Test func everyCombinationOfFactsAndAgesGetsTheRowOfTheAnnex() {
        let products: [ProductType?] = [nil] + ProductType.allCases
        let channels: [DamageChannel?] = [nil] + DamageChannel.allCases
        var checked = 0, mismatches = 0
        var rowsSeen = Set<Row>()
        for kind in WorkOrderKind.allCases {
            for segment in Segment.allCases {
                for product in products {
                    for channel in channels {
                        for reiterated in [false, true] {
                            for reissue in [false, true] {
                                for immediate in [false, true] {
                                    let facts = PriorityFacts(
                                        kind: kind, segment: segment, product: product, channel: channel, reiterated: reiterated, reissue: reissue,
                                        immediate: immediate)
                                    for age in Self.ages {
                                        let want = Self.oracle(
                                            kind: kind, segment: segment, product: product, channel: channel, reiterated: reiterated, reissue: reissue,
                                            immediate: immediate, age: age)
                                        let got = PriorityMatrix.evaluate(facts, age: age)
                                        checked += 1
                                        rowsSeen.insert(got.row)
                                        if got.row != want.row || got.level != want.level || got.reiterated != reiterated
                                            || got.reason != want.row.reason
                                        {
                                            mismatches += 1
                                            if mismatches <= 20 {
                                                Issue.record("\(facts) at \(age / Self.h) h: \(got.row) (level \(got.level)), the annex says \(want.row) (level \(want.level))")
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(checked == 7 * 6 * 7 * 4 * 2 * 2 * 2 * 6)
        #expect(mismatches == 0)
        #expect(rowsSeen == Set(Row.allCases), "every row is reached by some combination")
    }

    /// The oracle's level of each row is the service's.
    @Test func theLevelsOfTheRows() {
        let levels = Dictionary(grouping: Row.allCases, by: \.level).mapValues { Set($0) }
        #expect(levels[1] == [.topInstallationOrClaim, .multimediaRetention, .immediate])
        #expect(levels[2] == [.pymeOrInfluencer, .repeatedMultimedia, .internetOrTVRetention])
        #expect(levels[3] == [.multimediaOver72Hours, .cancelledMultimediaOrInternet, .repeatedInternetOrTV])
        #expect(levels[4] == [.internetInstallationOver150Hours, .cancelledInternetOrTV, .noRow])
        #expect(Row.allCases.map(\.level) == Row.allCases.map(\.level).sorted(), "highest level first")
    }

    // MARK: One named example per row

    func evaluate(
        _ kind: WorkOrderKind, _ segment: Segment, _ product: ProductType? = nil, channel: DamageChannel? = nil, reiterated: Bool = false,
        reissue: Bool = false, immediate: Bool = false, age: TimeInterval = 0
    ) -> PriorityMatrix.Result {
        PriorityMatrix.evaluate(
            PriorityFacts(kind: kind, segment: segment, product: product, channel: channel, reiterated: reiterated, reissue: reissue, immediate: immediate),
            age: age)
    }

    @Test func aTopACustomersInstallationAndATopBCustomersClaimAreLevelOne() {
        for (kind, segment) in [(WorkOrderKind.installation, Segment.topA), (.repair, .topB), (.repair, .topA), (.installation, .topB)] {
            let r = evaluate(kind, segment, .internet)
            #expect(r.row == .topInstallationOrClaim && r.level == 1, "\(kind) \(segment)")
            #expect(r.reason == "Instalación / reclamo TOP A - TOP B")
        }
        // A TOP customer's other work (a withdrawal, a project) is not an installation or a claim.
        #expect(evaluate(.withdrawal, .topA, .internet).row == .noRow)
        #expect(evaluate(.project, .topB).row == .noRow)
        // TOP wins over everything else, even a reiterated multimedia on retention.
        #expect(evaluate(.repair, .topA, .multipack, channel: .retention, reiterated: true, reissue: true, immediate: true).row == .topInstallationOrClaim)
    }

    @Test func multimediaFromRetentionIsLevelOne() {
        let r = evaluate(.repair, .residential, .duoPack, channel: .retention)
        #expect(r.row == .multimediaRetention && r.level == 1)
        #expect(r.reason == "Multimedia (Retención)")
        #expect(evaluate(.repair, .residential, .duoPack, channel: .callCenter).level == 4, "the same multimedia from the call center")
    }

    @Test func anImmediateOTIsLevelOne() {
        let r = evaluate(.repair, .residential, .line, immediate: true)
        #expect(r.row == .immediate && r.level == 1)
        #expect(r.reason == "OT inmediata (control de calidad / escalamiento)")
    }

    @Test func pymesAndInfluencersAreLevelTwo() {
        for segment in [Segment.pyme, .influencer] {
            let r = evaluate(.project, segment)
            #expect(r.row == .pymeOrInfluencer && r.level == 2, "\(segment)")
            #expect(r.reason == "PYMES (no TOP) - Influencers")
        }
        #expect(evaluate(.project, .enterprise).level == 4, "an enterprise customer is not a PYME")
    }

    @Test func aRepeatedMultimediaDamageIsLevelTwo() {
        let r = evaluate(.repair, .residential, .multipack, channel: .callCenter, reiterated: true)
        #expect(r.row == .repeatedMultimedia && r.level == 2 && r.reiterated)
        #expect(r.reason == "Daño reiterado multimedia")
    }

    @Test func internetAndTVFromRetentionAreLevelTwo() {
        for product in [ProductType.internet, .hspa, .tv] {
            let r = evaluate(.repair, .residential, product, channel: .retention)
            #expect(r.row == .internetOrTVRetention && r.level == 2, "\(product)")
            #expect(r.reason == "Internet - TV (Retención)")
        }
        #expect(evaluate(.repair, .residential, .line, channel: .retention).row == .noRow, "no row names telephony on retention")
    }

    @Test func multimediaOpenFor72HoursIsLevelThree() {
        #expect(evaluate(.installation, .residential, .multipack, age: 72 * Self.h - 1).row == .noRow)
        let r = evaluate(.installation, .residential, .multipack, age: 72 * Self.h)
        #expect(r.row == .multimediaOver72Hours && r.level == 3)
        #expect(r.reason == "Multimedia > 72 horas")
    }

    @Test func aReissuedMultimediaOrInternetOTIsLevelThree() {
        for product in [ProductType.duoPack, .internet, .hspa] {
            let r = evaluate(.repair, .residential, product, reissue: true)
            #expect(r.row == .cancelledMultimediaOrInternet && r.level == 3, "\(product)")
            #expect(r.reason == "OT anulada multimedia - internet")
        }
    }

    @Test func aRepeatedInternetOrTVDamageIsLevelThree() {
        for product in [ProductType.internet, .tv] {
            let r = evaluate(.repair, .residential, product, channel: .helpDesk, reiterated: true)
            #expect(r.row == .repeatedInternetOrTV && r.level == 3 && r.reiterated, "\(product)")
            #expect(r.reason == "Daño reiterado internet / TV")
        }
        #expect(evaluate(.repair, .residential, .line, reiterated: true).row == .noRow, "a repeated telephony damage has no row")
    }

    @Test func anInternetInstallationOpenFor150HoursIsLevelFour() {
        #expect(evaluate(.installation, .residential, .internet, age: 150 * Self.h - 1).row == .noRow)
        let r = evaluate(.installation, .residential, .internet, age: 150 * Self.h)
        #expect(r.row == .internetInstallationOver150Hours && r.level == 4)
        #expect(r.reason == "Instalaciones internet > 150 horas")
        #expect(evaluate(.repair, .residential, .internet, age: 200 * Self.h).row == .noRow, "only installations")
    }

    @Test func aReissuedTVOTIsLevelFour() {
        let r = evaluate(.repair, .residential, .tv, reissue: true)
        #expect(r.row == .cancelledInternetOrTV && r.level == 4)
        #expect(r.reason == "OT anulada internet - TV")
    }

    @Test func anOTThatMatchesNoRowIsLevelFour() {
        let r = evaluate(.project, .residential)
        #expect(r.level == 4 && r.row == .noRow && !r.reiterated)
        #expect(r.reason == "Controlable (ninguna fila de la matriz)")
    }

    /// The highest level wins, and within a level the first row of the annex.
    @Test func theHighestLevelWins() {
        // Repeated multimedia (2) over multimedia > 72 h (3).
        #expect(evaluate(.repair, .residential, .duoPack, reiterated: true, age: 100 * Self.h).row == .repeatedMultimedia)
        // A PYME's repeated multimedia: both level 2, the PYME row first.
        #expect(evaluate(.repair, .pyme, .duoPack, reiterated: true).row == .pymeOrInfluencer)
        // An immediate OT of a PYME: level 1.
        #expect(evaluate(.repair, .pyme, .internet, immediate: true).level == 1)
        // A reissued, repeated internet damage: both level 3, the reissue row first.
        #expect(evaluate(.repair, .residential, .internet, reiterated: true, reissue: true).row == .cancelledMultimediaOrInternet)
        // A reissued internet installation past 150 h stays level 3.
        #expect(evaluate(.installation, .residential, .internet, reissue: true, age: 200 * Self.h).level == 3)
        // The reiterated flag goes with the result whatever the row.
        #expect(evaluate(.repair, .topA, .line, reiterated: true).reiterated)
    }

    // MARK: Deadlines

    @Test func theDeadlinesOfTheLevelsCountFromTheOpening() {
        let opened = P.t0
        #expect(PriorityMatrix.maxTime(level: 1) == 12 * Self.h)
        #expect(PriorityMatrix.maxTime(level: 2) == 24 * Self.h)
        #expect(PriorityMatrix.maxTime(level: 3) == 48 * Self.h)
        #expect(PriorityMatrix.maxTime(level: 4) == 48 * Self.h)
        #expect(PriorityMatrix.deadline(level: 1, openedAt: opened) == P.hours(12))
        #expect(PriorityMatrix.deadline(level: 2, openedAt: opened) == P.hours(24))
        #expect(PriorityMatrix.deadline(level: 3, openedAt: opened) == P.hours(48))
        #expect(PriorityMatrix.deadline(level: 4, openedAt: opened) == P.hours(48))
        #expect(PriorityMatrix.deadline(level: 1, openedAt: P.hours(5)) == P.hours(17))
    }

    // MARK: Product groups

    @Test func productTypesFallIntoTheGroupsOfTheAnnex() {
        #expect(ProductGroup(.duoPack) == .multimedia)
        #expect(ProductGroup(.multipack) == .multimedia)
        #expect(ProductGroup(.internet) == .internet)
        #expect(ProductGroup(.hspa) == .internet)
        #expect(ProductGroup(.tv) == .tv)
        #expect(ProductGroup(.line) == .telephony)
        #expect(PriorityFacts(kind: .repair, segment: .residential).group == nil)
        #expect(PriorityFacts(kind: .repair, segment: .residential, product: .hspa).group == .internet)
        // Data products are checked 24 h after the repair; telephony and TV at once.
        #expect(ProductGroup.allCases.filter(\.checkedAfter24Hours) == [.multimedia, .internet])
    }

    // MARK: Re-levelling ages

    @Test func multimediaChangesRowAt72Hours() {
        let facts = PriorityFacts(kind: .repair, segment: .residential, product: .multipack)
        #expect(PriorityMatrix.nextChange(facts, after: 0) == 72 * Self.h)
        #expect(PriorityMatrix.nextChange(facts, after: 71 * Self.h) == 72 * Self.h)
        #expect(PriorityMatrix.nextChange(facts, after: 72 * Self.h) == nil, "nothing changes after 72 h")
    }

    @Test func anInternetInstallationChangesRowAt150Hours() {
        let facts = PriorityFacts(kind: .installation, segment: .residential, product: .internet)
        #expect(PriorityMatrix.nextChange(facts, after: 0) == 150 * Self.h, "72 h changes nothing for internet")
        #expect(PriorityMatrix.nextChange(facts, after: 100 * Self.h) == 150 * Self.h)
        #expect(PriorityMatrix.nextChange(facts, after: 150 * Self.h) == nil)
    }

    @Test func nothingChangesWhereNoAgeRowCanWin() {
        #expect(PriorityMatrix.nextChange(PriorityFacts(kind: .installation, segment: .topA, product: .multipack), after: 0) == nil, "TOP A stays level 1")
        #expect(PriorityMatrix.nextChange(PriorityFacts(kind: .installation, segment: .topA, product: .internet), after: 0) == nil)
        #expect(PriorityMatrix.nextChange(PriorityFacts(kind: .repair, segment: .residential, product: .internet), after: 0) == nil)
        #expect(PriorityMatrix.nextChange(PriorityFacts(kind: .repair, segment: .residential, product: .tv), after: 0) == nil)
        #expect(PriorityMatrix.nextChange(PriorityFacts(kind: .repair, segment: .residential, product: .duoPack, reiterated: true), after: 0) == nil)
        // A reissued internet installation is level 3 already: 150 h changes nothing.
        #expect(PriorityMatrix.nextChange(PriorityFacts(kind: .installation, segment: .residential, product: .internet, reissue: true), after: 0) == nil)
    }

    /// The next change, checked against the oracle for every combination at the opening.
    @Test func theNextChangeIsTheFirstAgeWhereTheOraclesRowChanges() {
        for kind in WorkOrderKind.allCases {
            for segment in Segment.allCases {
                for product in [nil] + ProductType.allCases {
                    for reiterated in [false, true] {
                        for reissue in [false, true] {
                            let facts = PriorityFacts(kind: kind, segment: segment, product: product, reiterated: reiterated, reissue: reissue)
                            func row(_ age: TimeInterval) -> Row {
                                Self.oracle(
                                    kind: kind, segment: segment, product: product, channel: nil, reiterated: reiterated, reissue: reissue,
                                    immediate: false, age: age
                                ).row
                            }
                            let want: TimeInterval? =
                                row(72 * Self.h) != row(0) ? 72 * Self.h : row(150 * Self.h) != row(0) ? 150 * Self.h : nil
                            #expect(PriorityMatrix.nextChange(facts, after: 0) == want, "\(facts)")
                        }
                    }
                }
            }
        }
    }
}
