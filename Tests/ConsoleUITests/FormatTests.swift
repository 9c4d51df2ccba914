import Foundation
import Testing

@testable import ConsoleUI

@Suite("Formats")
struct FormatTests {
    @Test func escapesTheFiveCharacters() {
        #expect(Pages.escape("<script>alert('x') & \"y\"</script>") == "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;")
        #expect(Pages.escape("plain ñandú") == "plain ñandú")
        #expect(Pages.escape("") == "")
    }

    @Test func datesAreUTC() {
        #expect(Pages.displayDate(Fixture.now) == "2026-11-22 14:03")
        #expect(Pages.rfc3339(Fixture.now) == "2026-11-22T14:03:11Z")
        #expect(Pages.rfc3339(Date(timeIntervalSince1970: 1_709_251_199.9)) == "2024-02-29T23:59:59Z")
        #expect(Pages.rfc3339(Date(timeIntervalSince1970: -60)) == "1969-12-31T23:59:00Z")
        #expect(Pages.rfc3339(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
    }

    @Test func datesAgreeWithFoundationsCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var seed: UInt64 = 42
        for _ in 0..<2000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let t = Double(Int64(bitPattern: seed >> 1) % 6_000_000_000) - 1_000_000_000
            let date = Date(timeIntervalSince1970: t)
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let u = Pages.utc(date)
            let ours: [Int] = [u.year, u.month, u.day, u.hour, u.minute, u.second]
            let theirs: [Int?] = [c.year, c.month, c.day, c.hour, c.minute, c.second]
            #expect(ours == theirs.map { $0 ?? -1 }, "\(t)")
        }
    }

    @Test func countdowns() {
        let now = Fixture.now
        #expect(Pages.countdown(now.addingTimeInterval(3 * 3600 + 12 * 60 + 30), now: now) == "3h 12m")
        #expect(Pages.countdown(now.addingTimeInterval(-(5 * 60 + 30)), now: now) == "-0h 05m")
        #expect(Pages.countdown(now, now: now) == "0h 00m")
        #expect(Pages.countdown(now.addingTimeInterval(50 * 3600), now: now) == "50h 00m")
        let span = Pages.countdownSpan(now.addingTimeInterval(-60), now: now)
        #expect(span.contains("class=\"countdown breached\""))
        #expect(span.contains("data-deadline=\"2026-11-22T14:02:11Z\""))
    }

    @Test func amounts() {
        #expect(Pages.money(Amount(minor: 123_450, currency: "BOB")) == "BOB 1,234.50")
        #expect(Pages.money(Amount(minor: 5, currency: "USD")) == "USD 0.05")
        #expect(Pages.money(Amount(minor: 12_000, currency: "CLP")) == "CLP 12,000")
        #expect(Pages.money(Amount(minor: 1_234_567_890, currency: "CLP")) == "CLP 1,234,567,890")
        #expect(Pages.money(Amount(minor: 100_000_000, currency: "COP")) == "COP 1,000,000.00")
        #expect(Pages.money(Amount(minor: -250, currency: "BOB")) == "BOB -2.50")
        #expect(Pages.money(Amount(minor: 0, currency: "BOB")) == "BOB 0.00")
        #expect(Pages.money(Amount(minor: .min, currency: "USD")) == "USD -92,233,720,368,547,758.08")
    }

    @Test func numbers() {
        #expect(Pages.num(12) == "12")
        #expect(Pages.num(12.5) == "12.5")
        #expect(Pages.num(12.345) == "12.35" || Pages.num(12.345) == "12.34")
        #expect(Pages.num(-0.004) == "0")
        #expect(Pages.num(-3.05) == "-3.05")
        #expect(Pages.percent(97.54) == "97.5 %")
        #expect(Pages.percent(100) == "100.0 %")
        #expect(Pages.percent(2.0 / 3 * 100) == "66.7 %")
    }

    @Test func urlEncoding() {
        #expect(Pages.percentEncode("OT-2026/ä 1") == "OT-2026%2F%C3%A4%201")
        #expect(Pages.percentEncode("a-b_c.d~e") == "a-b_c.d~e")
        #expect(Pages.query([("a", "1"), ("b", "x&y=z")]) == "?a=1&b=x%26y%3Dz")
        #expect(Pages.query([]) == "")
        #expect(Pages.shortMonth("2026-03") == "03/26")
        #expect(Pages.shortMonth("March") == "March")
    }
}
