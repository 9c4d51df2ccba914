import Contracts
import Foundation
import PostSale
import Testing

@Suite("Post-sale KPIs: efficacy ≥ 98 %, timeliness ≥ 95 %")
struct PostSaleKPITests {
    typealias R = PostSaleKPI.Request

    static func request(after seconds: TimeInterval? = 3_600, _ outcome: String? = "completed", ok: Bool? = true) -> R {
        R(receivedAt: PS.t0, attendedAt: seconds.map { PS.t0.addingTimeInterval($0) }, outcome: outcome, qualityOk: ok)
    }

    @Test func efficacyOf49EffectiveOutOf50IsAccepted() {
        let kpi = PostSaleKPI.compute(Array(repeating: Self.request(), count: 49) + [Self.request("abandoned", ok: nil)])
        #expect(kpi.total == 50)
        #expect(kpi.effective == 49)
        #expect(kpi.efficacyPercent == 98)
        #expect(kpi.efficacy == .accepted)
    }

    @Test func efficacyOf48EffectiveOutOf50IsObserved() {
        let kpi = PostSaleKPI.compute(Array(repeating: Self.request(), count: 48) + Array(repeating: Self.request(nil, ok: nil), count: 2))
        #expect(kpi.effective == 48)
        #expect(kpi.efficacyPercent == 96)
        #expect(kpi.efficacy == .observed)
    }

    @Test func timelinessOf19OnTimeOutOf20IsAccepted() {
        let kpi = PostSaleKPI.compute(Array(repeating: Self.request(), count: 19) + [Self.request(after: 90_000)])
        #expect(kpi.onTime == 19)
        #expect(kpi.timelinessPercent == 95)
        #expect(kpi.timeliness == .accepted)
    }

    @Test func timelinessOf18OnTimeOutOf20IsObserved() {
        let kpi = PostSaleKPI.compute(Array(repeating: Self.request(), count: 18) + Array(repeating: Self.request(after: 90_000), count: 2))
        #expect(kpi.onTime == 18)
        #expect(kpi.timelinessPercent == 90)
        #expect(kpi.timeliness == .observed)
    }

    @Test func attendedExactly24HoursLaterIsNotOnTime() {
        #expect(PostSaleKPI.isOnTime(Self.request(after: 86_399)))
        #expect(!PostSaleKPI.isOnTime(Self.request(after: 86_400)))
        #expect(!PostSaleKPI.isOnTime(Self.request(after: nil, nil, ok: nil)))
    }

    @Test func noRequestsMeansNoData() {
        let kpi = PostSaleKPI.compute([])
        #expect(kpi.total == 0)
        #expect(kpi.efficacyPercent == nil && kpi.timelinessPercent == nil)
        #expect(kpi.efficacy == .noData)
        #expect(kpi.timeliness == .noData)
    }

    @Test func procedureAnswersAreEffectiveButUnknownContractsAndFailedCallsAreNot() {
        #expect(PostSaleKPI.isEffective(Self.request("suspensionAlreadyThisYear", ok: nil)))
        #expect(PostSaleKPI.isEffective(Self.request("retained", ok: nil)))
        #expect(!PostSaleKPI.isEffective(Self.request("unknownContract", ok: nil)))
        #expect(!PostSaleKPI.isEffective(Self.request("abandoned", ok: nil)))
        #expect(!PostSaleKPI.isEffective(Self.request("completed", ok: false)))
        #expect(!PostSaleKPI.isEffective(Self.request(nil, ok: nil)))
    }

    @Test func requestDecisionsFeedTheKPIFields() throws {
        // A turned-down request is attended when it is turned down; an abandoned one never is.
        let rejected = try #require(try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-12-01"), facts: PS.contract()).state)
        #expect(rejected.attendedAt == PS.t0)
        #expect(rejected.receivedAt == PS.t0)
        #expect(PostSaleKPI.isEffective(R(receivedAt: rejected.receivedAt, attendedAt: rejected.attendedAt, outcome: rejected.outcome, qualityOk: nil)))
    }
}

@Suite("Day and YearMonth")
struct CalendarTests {
    @Test func dayParsesAndFormatsAsYYYYMMDD() throws {
        let d = try #require(Day("2027-03-01"))
        #expect(d == Day(2027, 3, 1))
        #expect(d.description == "2027-03-01")
        #expect(Day(2027, 1, 5)!.description == "2027-01-05")
        let json = try JSONEncoder().encode([d])
        #expect(String(decoding: json, as: UTF8.self) == #"["2027-03-01"]"#)
        #expect(try JSONDecoder().decode([Day].self, from: Data(#"["2028-02-29"]"#.utf8)) == [Day(2028, 2, 29)!])
    }

    @Test func invalidOrMalformedDaysAreRejected() {
        for text in ["2027-02-29", "2027-04-31", "2027-13-01", "2027-00-10", "2027-01-00", "0000-01-01", "2027-3-01", "27-03-01", "2027/03/01",
            "2027-03-01T00:00:00Z", "2027-0a-01", ""]
        {
            #expect(Day(text) == nil, "\(text) must not parse")
        }
        #expect(Day(2027, 2, 29) == nil)
        #expect(Day(2028, 2, 29) != nil)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Day].self, from: Data(#"["2027-02-29"]"#.utf8)) }
    }

    @Test func yearMonthParsesAndFormatsAsYYYYMM() {
        #expect(YearMonth("2026-11") == YearMonth(2026, 11))
        #expect(YearMonth(2026, 1)?.description == "2026-01")
        #expect(YearMonth("2026-13") == nil)
        #expect(YearMonth("2026-1") == nil)
        #expect(YearMonth("2026-11-01") == nil)
        #expect(YearMonth(PS.t0) == YearMonth(2026, 11))
    }

    @Test func addingMonthsClampsToTheEndOfAShorterMonth() {
        #expect(Day(2027, 10, 31)!.adding(months: 4) == Day(2028, 2, 29))
        #expect(Day(2026, 10, 31)!.adding(months: 4) == Day(2027, 2, 28))
        #expect(Day(2027, 1, 31)!.adding(months: 1) == Day(2027, 2, 28))
        #expect(Day(2027, 5, 31)!.adding(months: 1) == Day(2027, 6, 30))
        #expect(Day(2027, 3, 1)!.adding(months: 4) == Day(2027, 7, 1))
        #expect(Day(2027, 11, 15)!.adding(months: 3) == Day(2028, 2, 15))
        #expect(Day(2027, 3, 31)!.adding(months: -1) == Day(2027, 2, 28))
    }

    @Test func yearMonthAddingMonthsCrossesYears() {
        #expect(YearMonth(2026, 11)!.adding(months: 2) == YearMonth(2027, 1))
        #expect(YearMonth(2027, 1)!.adding(months: -1) == YearMonth(2026, 12))
        #expect(YearMonth(2027, 1)!.adding(months: 12) == YearMonth(2028, 1))
        #expect(YearMonth(2027, 12)!.adding(months: -12) == YearMonth(2026, 12))
    }

    @Test func februaryHas29DaysOnlyInLeapYears() {
        #expect(YearMonth(2028, 2)!.days == 29)
        #expect(YearMonth(2027, 2)!.days == 28)
        #expect(YearMonth(2000, 2)!.days == 29)
        #expect(YearMonth(2100, 2)!.days == 28)
        #expect(YearMonth(2028, 2)!.lastDay == Day(2028, 2, 29))
    }

    @Test func thirtyOneDayMonthsAndThirtyDayMonths() {
        for m in [1, 3, 5, 7, 8, 10, 12] { #expect(YearMonth(2027, m)!.days == 31, "month \(m)") }
        for m in [4, 6, 9, 11] { #expect(YearMonth(2027, m)!.days == 30, "month \(m)") }
        #expect(Day(2027, 8, 31) != nil)
        #expect(Day(2027, 9, 31) == nil)
    }

    @Test func addingDaysAndCountingThem() {
        #expect(Day(2027, 2, 28)!.adding(days: 1) == Day(2027, 3, 1))
        #expect(Day(2028, 2, 28)!.adding(days: 1) == Day(2028, 2, 29))
        #expect(Day(2027, 1, 1)!.adding(days: -1) == Day(2026, 12, 31))
        #expect(Day(1970, 1, 1)!.ordinal == 0)
        #expect(Day(2027, 3, 1)!.days(to: Day(2027, 7, 1)!) == 122)
        #expect(Day(2027, 7, 2)!.start == ISO8601DateFormatter().date(from: "2027-07-02T00:00:00Z"))
        #expect(Day(2027, 3, 1)! < Day(2027, 3, 2)!)
        #expect(Day(2026, 12, 31)! < Day(2027, 1, 1)!)
    }
}
