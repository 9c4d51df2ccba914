import Foundation
import Runtime

// The seeds' indicators (`/kpis`): one card per indicator, with a bar chart of its months.

extension Pages {
    /// The indicators for `month` (`YYYY-MM`): a month picker (`GET /kpis?month=`), then per
    /// indicator its value that month against its threshold, the verdict, what is counted, and
    /// the chart of the last months.
    public static func kpis(_ series: [IndicatorSeries], month: String, viewer: Viewer) -> String {
        var b = "<div class=\"toolbar\"><h1>Indicators</h1>"
        b += "<form class=\"filters bare\" method=\"get\" action=\"/kpis\">"
        b += "<label>Month<input type=\"month\" name=\"month\" value=\"\(escape(month))\" /></label>"
        b += "<button type=\"submit\">Show</button></form>"
        if let (previous, next) = neighbours(of: month) {
            b += "<a href=\"/kpis?month=\(previous)\">← \(previous)</a><a href=\"/kpis?month=\(next)\">\(next) →</a>"
        }
        b += "</div>\n"
        if series.isEmpty { b += "<p class=\"muted\">No indicator.</p>\n" }
        b += "<div class=\"grid\">\n"
        for s in series {
            let i = s.indicator
            let m = s.months.first { $0.month == month } ?? (month.isEmpty ? s.months.last : nil)
            let verdict = m?.verdict ?? .noData
            b += "<section class=\"card kpi\" id=\"kpi-\(classPart(i.id))\">\n"
            b += "<h2>\(escape(i.title))</h2>\n"
            b += "<p class=\"muted small\">\(escape(i.procedure)) · \(escape(m?.month ?? month))</p>\n"
            b += "<div class=\"toolbar\"><span class=\"value\">\(m?.percent.map(percent) ?? "no data")</span>"
            b += "<span class=\"muted\">threshold ≥ \(i.threshold) %</span>\(verdictBadge(verdict))</div>\n"
            b += "<dl class=\"facts small\">"
            b += "<dt>\(escape(i.numeratorLabel))</dt><dd>\(m?.numerator ?? 0)</dd>"
            b += "<dt>\(escape(i.denominatorLabel))</dt><dd>\(m?.denominator ?? 0)</dd></dl>\n"
            b += svgChart(s) + "\n</section>\n"
        }
        b += "</div>\n"
        return layout(title: "Indicators", viewer: viewer, active: "kpis", body: b)
    }

    static func verdictBadge(_ v: IndicatorMonth.Verdict) -> String {
        let label = switch v {
        case .approved: "approved"
        case .observed: "observed"
        case .noData: "no data"
        }
        return "<span class=\"badge verdict \(v.rawValue)\">\(label)</span>"
    }

    /// The months before and after `YYYY-MM`, or nil when it is not one.
    static func neighbours(of month: String) -> (String, String)? {
        let parts = month.split(separator: "-")
        guard month.count == 7, parts.count == 2, let y = Int(parts[0]), let m = Int(parts[1]), (1...12).contains(m), y > 1 else {
            return nil
        }
        let previous = m == 1 ? (y - 1, 12) : (y, m - 1)
        let next = m == 12 ? (y + 1, 1) : (y, m + 1)
        return ("\(pad(previous.0, 4))-\(pad(previous.1))", "\(pad(next.0, 4))-\(pad(next.1))")
    }

    /// The colours of the verdicts in the charts.
    static func colour(_ v: IndicatorMonth.Verdict) -> String {
        switch v {
        case .approved: "#2e7d32"
        case .observed: "#e09a00"
        case .noData: "#9aa5b1"
        }
    }

    /// Geometry of ``svgChart(_:)``: the plot is `plotHeight` high for 0–100 %, its baseline at
    /// `chartBaseline`; one bar of `barWidth` per `barStep`, after `chartLeft`.
    static let chartLeft = 34.0, chartTop = 10.0, plotHeight = 100.0, barStep = 30.0, barWidth = 20.0
    static var chartBaseline: Double { chartTop + plotHeight }

    /// A bar chart of the series' months, oldest left: bar height the percentage (0–100), colour
    /// the verdict, months without data as empty outlines; a dashed line at the threshold.
    public static func svgChart(_ s: IndicatorSeries) -> String {
        let n = s.months.count
        let width = chartLeft + Double(max(n, 1)) * barStep + 8
        let height = chartBaseline + 22
        let right = width - 8
        func y(_ percent: Double) -> Double { chartBaseline - min(max(percent, 0), 100) * plotHeight / 100 }
        let title = "\(s.indicator.title): last \(n) month\(n == 1 ? "" : "s"), threshold \(s.indicator.threshold) %"

        var h = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(num(width)) \(num(height))\" "
        h += "width=\"\(num(width))\" height=\"\(num(height))\" role=\"img\" font-family=\"system-ui, sans-serif\" font-size=\"9\">"
        h += "<title>\(escape(title))</title>"
        for tick in [0.0, 50, 100] {
            h += "<line class=\"grid\" x1=\"\(num(chartLeft))\" y1=\"\(num(y(tick)))\" x2=\"\(num(right))\" y2=\"\(num(y(tick)))\" stroke=\"#e4e7eb\" stroke-width=\"1\" />"
            h += "<text x=\"\(num(chartLeft - 4))\" y=\"\(num(y(tick) + 3))\" text-anchor=\"end\" fill=\"#7b8794\">\(num(tick))</text>"
        }
        for (i, m) in s.months.enumerated() {
            let x = chartLeft + Double(i) * barStep + (barStep - barWidth) / 2
            let label = "\(m.month): " + (m.percent.map { "\(percent($0)) (\(m.numerator)/\(m.denominator))" } ?? "no data")
            if let p = m.percent {
                let top = y(p)
                h += "<rect class=\"bar \(m.verdict.rawValue)\" data-month=\"\(escape(m.month))\" x=\"\(num(x))\" y=\"\(num(top))\" "
                h += "width=\"\(num(barWidth))\" height=\"\(num(chartBaseline - top))\" fill=\"\(colour(m.verdict))\">"
            } else {
                h += "<rect class=\"bar noData\" data-month=\"\(escape(m.month))\" x=\"\(num(x))\" y=\"\(num(chartTop))\" "
                h += "width=\"\(num(barWidth))\" height=\"\(num(plotHeight))\" fill=\"none\" stroke=\"\(colour(.noData))\" stroke-dasharray=\"3 2\">"
            }
            h += "<title>\(escape(label))</title></rect>"
            h += "<text x=\"\(num(x + barWidth / 2))\" y=\"\(num(chartBaseline + 14))\" text-anchor=\"middle\" fill=\"#52606d\">\(escape(shortMonth(m.month)))</text>"
        }
        if n == 0 {
            h += "<text x=\"\(num((chartLeft + right) / 2))\" y=\"\(num(chartTop + plotHeight / 2))\" text-anchor=\"middle\" fill=\"#7b8794\">no data</text>"
        }
        let ty = y(Double(s.indicator.threshold))
        h += "<line class=\"threshold\" x1=\"\(num(chartLeft))\" y1=\"\(num(ty))\" x2=\"\(num(right))\" y2=\"\(num(ty))\" "
        h += "stroke=\"#c62828\" stroke-width=\"1.2\" stroke-dasharray=\"4 3\"><title>threshold \(s.indicator.threshold) %</title></line>"
        h += "</svg>"
        return h
    }

    /// `2026-03` as `03/26`; anything else as it is.
    static func shortMonth(_ month: String) -> String {
        let u = Array(month.utf8)
        guard u.count == 7, u[4] == UInt8(ascii: "-") else { return month }
        return String(decoding: u[5...6], as: UTF8.self) + "/" + String(decoding: u[2...3], as: UTF8.self)
    }
}
