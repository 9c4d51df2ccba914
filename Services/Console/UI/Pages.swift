import Foundation
import Runtime

/// The console's server-rendered HTML pages: pure functions of the view models (``ViewModels``),
/// without I/O. Every text that comes from a message (customer names, reasons, bodies…) is
/// escaped; the pages carry their CSS and their few lines of JavaScript inline, as the console
/// serves no static files and must work offline.
///
/// Void elements are written self-closed and no named entity other than XML's is used, so that
/// a page, less its `<style>` and `<script>` contents, is well-formed XML (the tests check it).
public enum Pages {
    // MARK: Layout

    /// The navigation: key, path, label.
    static let nav: [(key: String, path: String, label: String)] = [
        ("board", "/board", "Board"), ("kpis", "/kpis", "KPIs"), ("procedures", "/procedures", "Procedures"),
        ("dead-letters", "/dead-letters", "Dead letters"),
    ]

    /// A full HTML5 document: head with the inline style, the top navigation (`active` is the key
    /// or path of the current item: `board`, `/kpis`…), who is signed in with a sign-out form,
    /// then `body` (HTML) in `<main>` and `scripts` (HTML, `<script>` elements) at the end.
    public static func layout(title: String, viewer: Viewer?, active: String, body: String, scripts: String = "") -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
        h += "<meta charset=\"utf-8\" />\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n"
        h += "<title>\(escape(title)) · OT console</title>\n"
        h += "<style>\(style)</style>\n</head>\n<body>\n"
        h += "<header class=\"top\">\n<nav>"
        h += "<a class=\"brand\" href=\"/board\">OT console</a>"
        for item in nav {
            let on = active == item.key || active == item.path
            h += "<a href=\"\(item.path)\"\(on ? " class=\"active\" aria-current=\"page\"" : "")>\(item.label)</a>"
        }
        h += "</nav>\n"
        if let viewer {
            h += "<div class=\"who\"><span class=\"user\">\(escape(viewer.name))</span>"
            h += "<span class=\"role role-\(viewer.role.rawValue)\">\(viewer.role.rawValue)</span>"
            h += "<form method=\"post\" action=\"/logout\" class=\"inline\">\(csrfField(viewer))"
            h += "<button type=\"submit\" class=\"link\">Sign out</button></form></div>\n"
        } else {
            h += "<div class=\"who\"><a href=\"/login\">Sign in</a></div>\n"
        }
        h += "</header>\n<main>\n\(body)\n</main>\n"
        if !scripts.isEmpty { h += scripts + "\n" }
        h += "</body>\n</html>\n"
        return h
    }

    /// The hidden anti-forgery field of the viewer's forms.
    static func csrfField(_ viewer: Viewer) -> String {
        "<input type=\"hidden\" name=\"_csrf\" value=\"\(escape(viewer.csrf))\" />"
    }

    // MARK: Sign-in and errors

    /// The sign-in page: `POST /login` with `username`, `password` and the page to go back to
    /// (`next`).
    public static func login(error: String?, next: String) -> String {
        var b = "<section class=\"card narrow\">\n<h1>Sign in</h1>\n"
        if let error, !error.isEmpty { b += "<p class=\"alert\" role=\"alert\">\(escape(error))</p>\n" }
        b += "<form method=\"post\" action=\"/login\" class=\"stack\">\n"
        b += "<input type=\"hidden\" name=\"next\" value=\"\(escape(next))\" />\n"
        b += "<label>User name<input type=\"text\" name=\"username\" autocomplete=\"username\" required=\"required\" autofocus=\"autofocus\" /></label>\n"
        b += "<label>Password<input type=\"password\" name=\"password\" autocomplete=\"current-password\" required=\"required\" /></label>\n"
        b += "<button type=\"submit\">Sign in</button>\n</form>\n</section>"
        return layout(title: "Sign in", viewer: nil, active: "", body: b)
    }

    /// An error page: the status, its usual phrase, and what went wrong.
    public static func error(status: Int, message: String, viewer: Viewer?) -> String {
        var b = "<section class=\"card narrow\">\n"
        b += "<h1>\(status) \(escape(reasonPhrase(status)))</h1>\n"
        b += "<p class=\"alert\" role=\"alert\">\(escape(message))</p>\n"
        b += "<p><a href=\"/board\">Back to the board</a></p>\n</section>"
        return layout(title: "\(status) \(reasonPhrase(status))", viewer: viewer, active: "", body: b)
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: "Bad request"
        case 401: "Sign-in required"
        case 403: "Forbidden"
        case 404: "Not found"
        case 405: "Method not allowed"
        case 409: "Conflict"
        case 422: "Unprocessable"
        case 429: "Too many requests"
        case 500: "Internal error"
        case 502: "Bad gateway"
        case 503: "Unavailable"
        case 504: "Gateway timeout"
        default: status >= 500 ? "Server error" : status >= 400 ? "Request error" : "Status"
        }
    }

    // MARK: Escaping and encoding

    /// `s` escaped for HTML text and quoted attribute values (`&`, `<`, `>`, `"`, `'`).
    public static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `s` percent-encoded for a URL path segment or query value: all but the unreserved
    /// characters (`A–Z a–z 0–9 - . _ ~`), as UTF-8.
    static func percentEncode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    /// A query string (`?a=1&b=x`, or empty) of the pairs, values percent-encoded; not yet
    /// escaped for HTML.
    static func query(_ pairs: [(String, String)]) -> String {
        pairs.isEmpty ? "" : "?" + pairs.map { "\($0.0)=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    /// `s` as a CSS class name part: letters, digits, `-` and `_` kept, the rest as `-`.
    static func classPart(_ s: String) -> String {
        String(s.unicodeScalars.map { c -> Character in
            switch c {
            case "a"..."z", "A"..."Z", "0"..."9", "-", "_": Character(c)
            default: "-"
            }
        })
    }

    /// The escaped text, or a muted dash when there is none.
    static func text(_ s: String?) -> String {
        guard let s, !s.isEmpty else { return "<span class=\"muted\">—</span>" }
        return escape(s)
    }

    // MARK: Dates (UTC, computed by hand: no formatter, no locale, no shared mutable state)

    /// The civil UTC date and time of `date` (seconds truncated toward the past).
    static func utc(_ date: Date) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let t = date.timeIntervalSince1970
        let secs = t.isFinite ? Int(max(min(t, 253_402_300_799), -62_135_596_800).rounded(.down)) : 0
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rest = secs - days * 86_400
        // Days to civil date (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, rest / 3600, rest % 3600 / 60, rest % 60)
    }

    static func pad(_ n: Int, _ width: Int = 2) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// `2026-11-22 14:03` (UTC), for display.
    static func displayDate(_ date: Date) -> String {
        let u = utc(date)
        return "\(pad(u.year, 4))-\(pad(u.month))-\(pad(u.day)) \(pad(u.hour)):\(pad(u.minute))"
    }

    /// `2026-11-22T14:03:11Z` (RFC 3339, UTC), for attributes.
    static func rfc3339(_ date: Date) -> String {
        let u = utc(date)
        return "\(pad(u.year, 4))-\(pad(u.month))-\(pad(u.day))T\(pad(u.hour)):\(pad(u.minute)):\(pad(u.second))Z"
    }

    /// A `<time>` element showing the date for display.
    static func time(_ date: Date?) -> String {
        guard let date else { return "<span class=\"muted\">—</span>" }
        return "<time datetime=\"\(rfc3339(date))\">\(displayDate(date))</time>"
    }

    /// What is left until `deadline` at `now`, in hours and minutes (`3h 12m`), negative once
    /// passed (`-0h 05m`). The board's script computes the same in the browser.
    static func countdown(_ deadline: Date, now: Date) -> String {
        let diff = deadline.timeIntervalSince(now)
        let minutes = diff.isFinite ? Int(min(abs(diff), 1e12).rounded(.down)) / 60 : 0
        return "\(diff < 0 ? "-" : "")\(minutes / 60)h \(pad(minutes % 60))m"
    }

    /// The countdown to `deadline` as a live element (`data-deadline`), marked `breached` once
    /// passed.
    static func countdownSpan(_ deadline: Date, now: Date) -> String {
        let passed = deadline < now
        return "<span class=\"countdown\(passed ? " breached" : "")\" data-deadline=\"\(rfc3339(deadline))\" title=\"\(displayDate(deadline)) UTC\">\(countdown(deadline, now: now))</span>"
    }

    // MARK: Numbers

    /// `amount` with its currency and thousands separators: `BOB 1,234.50`, `CLP 12,000`
    /// (CLP has no minor unit; the others two decimals).
    static func money(_ amount: Amount) -> String {
        let decimals = decimals(of: amount.currency)
        let magnitude = amount.minor.magnitude
        var unit: UInt64 = 1
        for _ in 0..<decimals { unit *= 10 }
        let whole = String(magnitude / unit)
        var grouped = ""
        for (i, c) in whole.enumerated() {
            if i > 0, (whole.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(c)
        }
        var s = "\(amount.currency) \(amount.minor < 0 ? "-" : "")\(grouped)"
        if decimals > 0 { s += "." + pad(Int(magnitude % unit), decimals) }
        return s
    }

    /// How many decimals the console shows of a currency.
    static func decimals(of currency: String) -> Int {
        switch currency.uppercased() {
        case "CLP", "PYG", "JPY", "KRW": 0
        default: 2
        }
    }

    /// A number for SVG coordinates: at most two decimals, no trailing zeros.
    static func num(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let r = Int((min(max(x, -1e12), 1e12) * 100).rounded())
        let a = abs(r), whole = a / 100, frac = a % 100
        let sign = r < 0 ? "-" : ""
        if frac == 0 { return "\(sign)\(whole)" }
        if frac % 10 == 0 { return "\(sign)\(whole).\(frac / 10)" }
        return "\(sign)\(whole).\(pad(frac))"
    }

    /// A percentage with one decimal: `97.5 %`.
    static func percent(_ p: Double) -> String {
        let tenths = Int((min(max(p, -1e9), 1e9) * 10).rounded())
        return "\(tenths < 0 ? "-" : "")\(abs(tenths) / 10).\(abs(tenths) % 10) %"
    }

    // MARK: Style

    static let style = """
        :root{--fg:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#f4f6f9;--card:#fff;--accent:#1f5fbf;\
        --red:#c62828;--redbg:#fdecea;--green:#2e7d32;--amber:#b26a00;--grey:#7b8794}
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
        a{color:var(--accent)}
        header.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.4rem 1rem;background:#102a43;color:#fff}
        header.top nav{display:flex;flex-wrap:wrap;gap:.25rem}
        header.top a{color:#d9e2ec;text-decoration:none;padding:.25rem .55rem;border-radius:4px}
        header.top a.active,header.top a:hover{background:#243b53;color:#fff}
        header.top a.brand{font-weight:700;color:#fff;margin-right:.5rem}
        .who{margin-left:auto;display:flex;align-items:center;gap:.5rem;font-size:.9rem}
        .role{font-size:.75rem;padding:0 .4rem;border-radius:999px;background:#334e68}
        main{padding:1rem;max-width:1480px;margin:0 auto}
        h1{font-size:1.35rem;margin:.2rem 0 .8rem}h2{font-size:1.12rem;margin:1.2rem 0 .5rem}h3{font-size:1rem;margin:.2rem 0 .4rem}
        table{border-collapse:collapse;width:100%;background:var(--card)}
        th,td{padding:.3rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
        th{background:#eef2f7;font-size:.8rem;font-weight:600;color:var(--muted);white-space:nowrap}
        td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}table.states{width:auto;min-width:26rem}
        tr.breached td{background:var(--redbg)}tr.breached td:first-child{box-shadow:inset 3px 0 var(--red)}
        span.breached{color:var(--red);font-weight:600}.badge.breached{background:var(--red);color:#fff}
        .countdown{font-variant-numeric:tabular-nums;white-space:nowrap}
        .badge{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.78rem;font-weight:600;background:#e4e7eb;color:#323f4b;white-space:nowrap}
        .badge.level-1{background:#c62828;color:#fff}.badge.level-2{background:#ef6c00;color:#fff}
        .badge.level-3{background:#f9c74f;color:#3d2c00}.badge.level-4{background:#90a4ae;color:#fff}
        .badge.approved{background:#e3f4e4;color:var(--green)}.badge.observed{background:#fff3d6;color:var(--amber)}
        .badge.noData{background:#eceff1;color:var(--grey)}
        .card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
        .card>h2:first-child,.card>h3:first-child{margin-top:0}
        .narrow{max-width:26rem;margin:2rem auto}
        .muted{color:var(--muted)}.small{font-size:.8rem}
        .alert{padding:.5rem .7rem;border-radius:4px;background:var(--redbg);color:var(--red)}
        .notice{padding:.5rem .7rem;border-radius:4px;background:#e3f2fd;color:#0d47a1}
        form.inline{display:inline;margin:0}form.bare{margin:0}
        form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin-bottom:.6rem}
        form.stack{display:flex;flex-direction:column;gap:.6rem}
        label{display:flex;flex-direction:column;gap:.1rem;font-size:.78rem;color:var(--muted)}
        input,select,button{font:inherit;font-size:.9rem;height:2rem;padding:.25rem .45rem;border:1px solid #bcccdc;border-radius:4px;background:#fff;color:var(--fg)}
        button{background:var(--accent);border-color:var(--accent);color:#fff;cursor:pointer}
        button.link{background:none;border:none;color:#d9e2ec;text-decoration:underline;padding:0;height:auto}
        button.danger{background:var(--red);border-color:var(--red)}
        .toolbar{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem 1rem;margin:.4rem 0}
        .live{font-size:.78rem;padding:0 .45rem;border-radius:999px;background:#eceff1;color:var(--grey)}
        .live.on{background:#e3f4e4;color:var(--green)}.live.off{background:#fff3d6;color:var(--amber)}
        .scroll{overflow-x:auto}
        .pager{display:flex;gap:1rem;align-items:center;margin:.6rem 0}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
        dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
        ol.timeline{margin:0;padding-left:1.4rem}ol.timeline li{margin:.25rem 0}
        ol.timeline time{font-variant-numeric:tabular-nums;color:var(--muted)}ol.timeline .summary::before{content:"— ";color:var(--muted)}
        code{font-size:.85em;background:#f0f4f8;padding:0 .2rem;border-radius:3px}
        pre{margin:0;max-width:36rem;max-height:9rem;overflow:auto;white-space:pre-wrap;word-break:break-all;font-size:.75rem;background:#f0f4f8;padding:.3rem}
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(22rem,1fr));gap:1rem}
        .kpi .value{font-size:1.6rem;font-weight:700}
        svg.chart{max-width:100%;height:auto;display:block}svg.diagram{display:block;margin:.4rem 0}
        .legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;padding:0;margin:.3rem 0;list-style:none;font-size:.78rem;color:var(--muted)}
        .sw{display:inline-block;width:1.1rem;height:.8rem;vertical-align:middle;margin-right:.3rem;border:1.5px solid #486581;border-radius:3px;background:#fff}
        .sw.final{border-style:double;border-width:3px}.sw.start{width:.7rem;height:.7rem;border-radius:50%;background:#243b53}
        .sw.count{width:auto;height:auto;padding:0 .3rem;border:none;border-radius:999px;background:#1f5fbf;color:#fff;font-size:.7rem}
        """
}
