import Foundation
import Testing

@testable import ConsoleUI

@Suite("Indicator charts")
struct ChartTests {
    let indicator = Indicator(
        id: "postSaleTimeliness", title: "Post-sale <timeliness>", procedure: "OPE-PV-01", threshold: 98, numeratorLabel: "in time",
        denominatorLabel: "requests")

    func series() -> IndicatorSeries {
        IndicatorSeries(indicator: indicator, months: [
            IndicatorMonth(month: "2025-10", numerator: 50, denominator: 100, threshold: 98),
            IndicatorMonth(month: "2025-11", numerator: 0, denominator: 0, threshold: 98),
            IndicatorMonth(month: "2025-12", numerator: 99, denominator: 100, threshold: 98),
            IndicatorMonth(month: "2026-01", numerator: 25, denominator: 25, threshold: 98),
            IndicatorMonth(month: "2026-02", numerator: 0, denominator: 7, threshold: 98),
        ])
    }

    func double(_ e: Element, _ attribute: String) throws -> Double {
        let text = try #require(e[attribute])
        return try #require(Double(text))
    }

    @Test func oneBarPerMonthProportionalToPercent() throws {
        let svg = try parseXML(Pages.svgChart(series()))
        #expect(svg.name == "svg")
        #expect(svg["role"] == "img")
        #expect(svg["viewBox"] != nil)
        #expect(svg.children.first?.name == "title")
        #expect(svg.children.first?.text.contains("Post-sale <timeliness>") == true)

        let bars = svg.all("rect", class: "bar")
        #expect(bars.count == 5)
        #expect(bars.map { $0["data-month"] } == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02"])
        #expect(bars.map { $0.classes.subtracting(["bar"]).first } == ["observed", "noData", "approved", "approved", "observed"])

        // Oldest left, evenly spaced.
        let xs = try bars.map { try double($0, "x") }
        #expect(xs == xs.sorted())
        #expect(Set(zip(xs, xs.dropFirst()).map { $1 - $0 }).count == 1)

        // Heights: the percentage on the plot's 0–100 scale, standing on the baseline.
        let scale = Pages.plotHeight / 100
        let expected: [Double?] = [50, nil, 99, 100, 0]
        for (bar, percent) in zip(bars, expected) {
            guard let percent else { continue }
            #expect(try double(bar, "height") == percent * scale)
            #expect(try double(bar, "y") + double(bar, "height") == Pages.chartBaseline)
        }
        #expect(try double(bars[0], "height") / double(bars[2], "height") == 50.0 / 99)

        // Colours by verdict; no data an empty outline.
        #expect(bars[0]["fill"] == Pages.colour(.observed))
        #expect(bars[2]["fill"] == Pages.colour(.approved))
        #expect(bars[1]["fill"] == "none")
        #expect(bars[1]["stroke"] != nil)
        #expect(bars[1].all("title").first?.text == "2025-11: no data")
        #expect(bars[0].all("title").first?.text == "2025-10: 50.0 % (50/100)")

        // The threshold: one dashed line at 98 %.
        let thresholds = svg.all("line", class: "threshold")
        #expect(thresholds.count == 1)
        let line = try #require(thresholds.first)
        #expect(try double(line, "y1") == Pages.chartBaseline - 98 * scale)
        #expect(line["y1"] == line["y2"])
        #expect(line["stroke-dasharray"] != nil)

        // Month labels.
        let labels = svg.all("text").map(\.text)
        for label in ["10/25", "11/25", "12/25", "01/26", "02/26"] { #expect(labels.contains(label)) }
        #expect(labels.firstIndex(of: "10/25")! < labels.firstIndex(of: "01/26")!)
    }

    @Test func thresholdFollowsTheIndicator() throws {
        var s = series()
        s.indicator.threshold = 90
        let line = try #require(parseXML(Pages.svgChart(s)).all("line", class: "threshold").first)
        #expect(try double(line, "y1") == Pages.chartBaseline - 90 * Pages.plotHeight / 100)
    }

    @Test func emptySeries() throws {
        let svg = try parseXML(Pages.svgChart(IndicatorSeries(indicator: indicator, months: [])))
        #expect(svg.all("rect", class: "bar").isEmpty)
        #expect(svg.text.contains("no data"))
    }

    @Test func deterministic() {
        #expect(Pages.svgChart(series()) == Pages.svgChart(series()))
    }
}
