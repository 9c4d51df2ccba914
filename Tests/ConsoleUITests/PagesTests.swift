import Foundation
import Testing

@testable import ConsoleUI

@Suite("Pages")
struct PagesTests {
    let now = Fixture.now

    // MARK: Layout, sign-in, errors

    @Test func layoutHasNavigationUserAndSignOut() throws {
        let html = Pages.layout(title: "T & <t>", viewer: Fixture.admin, active: "kpis", body: "<p>hello</p>")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<meta charset=\"utf-8\" />"))
        #expect(html.contains("name=\"viewport\""))
        #expect(html.contains("<title>T &amp; &lt;t&gt; · OT console</title>"))
        #expect(html.contains("<style>"))
        #expect(!html.contains("<link"), "no external asset")
        let page = try parsePage(html)
        let nav = try #require(page.all("nav").first)
        let links = nav.all("a").map { $0["href"] ?? "" }
        for path in ["/board", "/kpis", "/procedures", "/dead-letters"] { #expect(links.contains(path)) }
        #expect(nav.all("a").filter { $0.classes.contains("active") }.map { $0["href"] } == ["/kpis"])
        #expect(page.text.contains("Ana <Admin>"))
        #expect(html.contains("Ana &lt;Admin&gt;"))
        #expect(page.text.contains("admin"))
        let logout = try #require(page.all("form").first { $0["action"] == "/logout" })
        #expect(logout["method"] == "post")
        #expect(logout.all("input").contains { $0["name"] == "_csrf" && $0["value"] == "csrf-token-123" && $0["type"] == "hidden" })
        #expect(page.all("main").first?.all("p").first?.text == "hello")
    }

    @Test func layoutSignedOutHasNoSignOut() throws {
        let html = Pages.layout(title: "x", viewer: nil, active: "", body: "", scripts: "<script>var a=1&&2<3;</script>")
        #expect(!html.contains("/logout"))
        #expect(html.contains("<script>var a=1&&2<3;</script>"))
        _ = try parsePage(html)
    }

    @Test func loginForm() throws {
        let html = Pages.login(error: "Wrong <password>", next: "/workorders/a?b=1&c=\"2\"")
        let page = try parsePage(html)
        let form = try #require(page.all("form").first { $0["action"] == "/login" })
        #expect(form["method"] == "post")
        let inputs = Dictionary(uniqueKeysWithValues: form.all("input").map { ($0["name"] ?? "", $0) })
        #expect(inputs["username"]?["type"] == "text")
        #expect(inputs["password"]?["type"] == "password")
        #expect(inputs["next"]?["type"] == "hidden")
        #expect(inputs["next"]?["value"] == "/workorders/a?b=1&c=\"2\"")
        #expect(html.contains("Wrong &lt;password&gt;"))
        #expect(!Pages.login(error: nil, next: "/").contains("role=\"alert\""))
    }

    @Test func errorPage() throws {
        let html = Pages.error(status: 404, message: "No OT <b>x</b>", viewer: Fixture.viewer)
        let page = try parsePage(html)
        #expect(page.all("h1").first?.text == "404 Not found")
        #expect(html.contains("No OT &lt;b&gt;x&lt;/b&gt;"))
        #expect(html.contains("value=\"csrf-viewer-9\""))
        _ = try parsePage(Pages.error(status: 500, message: "boom", viewer: nil))
    }

    // MARK: Board

    func boardPage(_ rows: [BoardRow], filter: BoardFilter = BoardFilter(), total: Int? = nil) -> BoardPage {
        BoardPage(rows: rows, total: total ?? rows.count, breached: rows.filter { $0.isBreached(now: now) }.count, filter: filter, now: now)
    }

    @Test func rowsInTheOrderGivenWithBreachedHighlighted() throws {
        let rows = [
            Fixture.row("ot-3", number: "OT-2026-000003", level: 1, deadlineIn: 3 * 3600 + 12 * 60 + 5),
            Fixture.row("ot-1", number: "OT-2026-000001", level: 3, deadlineIn: -(5 * 60 + 10)),
            Fixture.row("ot-2", level: nil, deadlineIn: nil, breaches: ["contact", "due"]),
        ]
        let html = Pages.boardRows(boardPage(rows))
        let trs = try parseFragment(html).all("tr")
        #expect(trs.map { $0["data-ot"] } == ["ot-3", "ot-1", "ot-2"])
        #expect(trs.map { $0["data-status"] } == ["assigned", "assigned", "assigned"])
        #expect(trs[0].classes == ["level-1"])
        #expect(trs[1].classes == ["level-3", "breached"])
        #expect(trs[2].classes == ["level-none", "breached"])
        #expect(trs[0].all("td").count == 10)
        // The OT number links to its page; without a number, the id.
        #expect(trs[0].all("a").first?["href"] == "/workorders/ot-3")
        #expect(trs[0].all("a").first?.text == "OT-2026-000003")
        #expect(trs[2].all("a").first?.text == "ot-2")
        // Deadlines count down, computed server-side too.
        let deadlines = trs.compactMap { $0.all("span").first { $0["data-deadline"] != nil } }
        #expect(deadlines.map(\.text) == ["3h 12m", "-0h 05m"])
        #expect(deadlines[0]["data-deadline"] == "2026-11-22T17:15:16Z")
        #expect(deadlines[1].classes.contains("breached"))
        #expect(trs[2].text.contains("contact, due"))
        #expect(trs[0].all("span", class: "badge").first?.classes.contains("level-1") == true)
    }

    @Test func rowsEscapeWhatMessagesSaid() throws {
        let evil = "<script>alert('pwned')</script>"
        var row = Fixture.row("ot\"><x", customer: evil)
        row.assignee = "Bob & <i>Alice</i>"
        row.serviceLine = "a'b"
        let html = Pages.boardRows(boardPage([row]))
        #expect(!html.contains("<script>"))
        #expect(!html.contains("<i>"))
        #expect(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"))
        #expect(html.contains("href=\"/workorders/ot%22%3E%3Cx\""))
        let tr = try #require(parseFragment(html).all("tr").first)
        #expect(tr["data-ot"] == "ot\"><x")
        #expect(tr.text.contains(evil))
        #expect(tr.text.contains("Bob & <i>Alice</i>"))
    }

    @Test func noRowsSaysSo() throws {
        let html = Pages.boardRows(boardPage([]))
        let trs = try parseFragment(html).all("tr")
        #expect(trs.count == 1)
        #expect(trs[0].text == "No OT matches")
        #expect(trs[0].all("td").first?["colspan"] == "10")
    }

    @Test func boardPage() throws {
        let rows = [Fixture.row("ot-1", customer: "<script>alert(1)</script>", breaches: ["due"]), Fixture.row("ot-2")]
        let filter = BoardFilter(country: "CL", serviceLine: "fibre & co", kind: "repair", level: 2, status: "assigned", limit: 2, offset: 2)
        let page = BoardPage(rows: rows, total: 7, breached: 3, filter: filter, now: now)
        let html = Pages.board(page, viewer: Fixture.op)
        #expect(!html.contains("<script>alert(1)"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        let doc = try parsePage(html)

        // Filters.
        let form = try #require(doc.byID("board-filters"))
        #expect(form["method"] == "get" && form["action"] == "/board")
        func selected(_ name: String) -> String? {
            form.all("select").first { $0["name"] == name }?.all("option").first { $0["selected"] != nil }?["value"]
        }
        func options(_ name: String) -> [String] {
            form.all("select").first { $0["name"] == name }?.all("option").compactMap { $0["value"] } ?? []
        }
        #expect(options("country") == ["", "BO", "CL", "CO"])
        #expect(options("kind") == ["", "project", "poleMove", "repair", "installation", "transfer", "withdrawal", "visit"])
        #expect(options("level") == ["", "1", "2", "3", "4"])
        #expect(options("status").contains("approvalPending"))
        #expect(selected("country") == "CL")
        #expect(selected("kind") == "repair")
        #expect(selected("level") == "2")
        #expect(selected("status") == "assigned")
        #expect(form.all("input").first { $0["name"] == "serviceLine" }?["value"] == "fibre & co")
        #expect(form.all("input").first { $0["name"] == "assignee" }?["value"] == "")

        // Summary, table, rows.
        #expect(doc.byID("board-summary")?.text == "7 OTs not yet final, 3 breached")
        let table = try #require(doc.byID("board"))
        #expect(table.name == "table")
        let body = try #require(doc.byID("board-rows"))
        #expect(body.name == "tbody")
        #expect(body.all("tr").map { $0["data-ot"] } == ["ot-1", "ot-2"])
        #expect(html.contains(Pages.boardRows(page)))
        #expect(doc.byID("board-live") != nil)

        // Pagination keeps the filters.
        let pager = try #require(doc.all("nav").first { $0.classes.contains("pager") })
        let prev = try #require(pager.all("a").first { $0["rel"] == "prev" })
        let next = try #require(pager.all("a").first { $0["rel"] == "next" })
        #expect(prev["href"] == "/board?country=CL&serviceLine=fibre%20%26%20co&kind=repair&level=2&status=assigned&limit=2")
        #expect(next["href"] == "/board?country=CL&serviceLine=fibre%20%26%20co&kind=repair&level=2&status=assigned&limit=2&offset=4")
        #expect(pager.text.contains("3–4 of 7"))
        #expect(form.all("input").first { $0["name"] == "limit" }?["value"] == "2")

        // The script: countdowns, live rows.
        let js = scripts(of: html)
        #expect(js.contains("data-deadline"))
        #expect(js.contains("new EventSource('/board/events')"))
        #expect(js.contains("fetch('/board/rows'+location.search"))
        #expect(js.contains("X-Board-Total") && js.contains("X-Board-Breached"))
        #expect(js.contains("setTimeout(refresh,300)"))
        #expect(js.contains("setInterval(tick,1000)"))
        #expect(js.contains("OTs not yet final, "))
        #expect(!js.contains("</script"))
    }

    @Test func firstAndLastPagesLinkOneWay() throws {
        let first = try parsePage(Pages.board(boardPage([Fixture.row("a")], filter: BoardFilter(limit: 1), total: 2), viewer: Fixture.viewer))
        let firstLinks = first.all("nav").first { $0.classes.contains("pager") }?.all("a") ?? []
        #expect(firstLinks.map { $0["rel"] } == ["next"])
        #expect(firstLinks.first?["href"] == "/board?limit=1&offset=1")
        let last = try parsePage(
            Pages.board(boardPage([Fixture.row("b")], filter: BoardFilter(limit: 1, offset: 1), total: 2), viewer: Fixture.viewer))
        let lastLinks = last.all("nav").first { $0.classes.contains("pager") }?.all("a") ?? []
        #expect(lastLinks.map { $0["rel"] } == ["prev"])
        #expect(lastLinks.first?["href"] == "/board?limit=1")
    }

    @Test func unknownFilterValuesAreKept() throws {
        let page = boardPage([], filter: BoardFilter(kind: "<odd>"))
        let doc = try parsePage(Pages.board(page, viewer: Fixture.viewer))
        let kind = doc.all("select").first { $0["name"] == "kind" }
        #expect(kind?.all("option").first { $0["selected"] != nil }?["value"] == "<odd>")
    }

    // MARK: One OT

    func detail() -> WorkOrderDetail {
        var row = Fixture.row("wo-7", number: "OT-2026-000007", customer: "Tienda <b>La Paz</b>", deadlineIn: -600)
        row.breaches = ["contact"]
        return WorkOrderDetail(
            row: row, customerId: "cus-1", sector: "Sur", description: "Poste caído & cables", outcome: nil,
            documents: [
                DocumentRef(kind: "photo", uri: "https://files.example/p.jpg?a=1&b=2", sha256: String(repeating: "ab", count: 32)),
                DocumentRef(kind: "act", uri: "javascript:alert(1)"),
                DocumentRef(kind: "plan", uri: "s3://bucket/plan.pdf", sha256: "abc"),
            ],
            prefacturaId: "pf-1", prefacturaStatus: "issued", prefacturaAmount: Amount(minor: 123_450, currency: "BOB"),
            invoiceId: "inv-9", invoiceAmount: Amount(minor: 12_000, currency: "CLP"), invoiceIssuer: "Facturas <SA>",
            timeline: [
                TimelineEntry(at: now.addingTimeInterval(-7200), type: "workorder.opened", to: "opened", summary: "opened by <x>", messageId: "m1"),
                TimelineEntry(at: now.addingTimeInterval(-3600), type: "workorder.dispatched", from: "approved", to: "dispatched", summary: "priority 2", messageId: "m2"),
                TimelineEntry(at: now.addingTimeInterval(-60), type: "sla.breached", summary: "contact", messageId: "m3"),
            ])
    }

    @Test func workOrderPage() throws {
        let html = Pages.workOrder(detail(), viewer: Fixture.viewer, now: now)
        #expect(!html.contains("<b>La Paz"))
        #expect(html.contains("Tienda &lt;b&gt;La Paz&lt;/b&gt;"))
        let doc = try parsePage(html)
        #expect(doc.all("h1").first?.text == "OT-2026-000007")
        let facts = try #require(doc.byID("facts")).text
        for fact in ["assigned", "repair", "fibre", "Tienda <b>La Paz</b>", "BO", "Sur", "Tec 1", "contact", "Poste caído & cables"] {
            #expect(facts.contains(fact), "\(fact)")
        }
        #expect(facts.contains("-0h 10m"))
        #expect(facts.contains("2026-11-22 13:53"))

        let items = try #require(doc.byID("timeline")).all("li")
        #expect(items.map { $0["data-message"] } == ["m1", "m2", "m3"])
        #expect(items[0].text.contains("2026-11-22 12:03"))
        #expect(items[0].text.contains("opened by <x>"))
        #expect(items[1].text.contains("approved → dispatched"))
        #expect(items[1].all("code").first?.text == "workorder.dispatched")
        #expect(doc.byID("timeline")?.all("ol").count == 1)

        let documents = try #require(doc.byID("documents"))
        let links = documents.all("a")
        #expect(links.map { $0["href"] } == ["https://files.example/p.jpg?a=1&b=2"])
        #expect(documents.text.contains("javascript:alert(1)"))
        #expect(documents.text.contains("abababababab…"))
        #expect(!documents.text.contains(String(repeating: "ab", count: 7)))
        #expect(documents.text.contains("s3://bucket/plan.pdf"))

        let money = try #require(doc.byID("money")).text
        #expect(money.contains("pf-1") && money.contains("issued") && money.contains("BOB 1,234.50"))
        #expect(money.contains("inv-9") && money.contains("CLP 12,000") && money.contains("Facturas <SA>"))
        #expect(scripts(of: html).contains("data-deadline"))
    }

    @Test func workOrderWithoutMoneyOrDocuments() throws {
        let d = WorkOrderDetail(row: Fixture.row("wo-1", deadlineIn: nil))
        let doc = try parsePage(Pages.workOrder(d, viewer: Fixture.viewer, now: now))
        #expect(doc.byID("money")?.text.contains("none yet") == true)
        #expect(doc.byID("documents")?.all("table").isEmpty == true)
        #expect(doc.all("h1").first?.text == "wo-1")
    }

    // MARK: Dead letters

    func letters(notice: String? = nil) -> DeadLettersPage {
        DeadLettersPage(
            counts: ["billing": 2, "dispatch": 0, "post sale": 1],
            letters: [
                DeadLetterView(
                    service: "billing", messageId: "m-1", type: "billing.invoice", code: "unhandled", reason: "no <such> OT",
                    failedAt: "2026-11-22T14:00:00.000Z", originalRoutingKey: "billing.invoice", body: "{\"a\":\"<b>\"}"),
                DeadLetterView(service: "billing", messageId: "m-2\"", body: String(repeating: "x", count: 2000)),
                DeadLetterView(service: "post sale", messageId: "m-3", body: "{}"),
            ],
            notice: notice)
    }

    @Test func adminsCanReplay() throws {
        let html = Pages.deadLetters(letters(notice: "Replayed 2 of <billing>"), viewer: Fixture.admin)
        #expect(html.contains("Replayed 2 of &lt;billing&gt;"))
        #expect(html.contains("no &lt;such&gt; OT"))
        let doc = try parsePage(html)
        let forms = doc.all("form").filter { $0["action"]?.hasPrefix("/dead-letters/") == true }
        #expect(forms.allSatisfy { $0["method"] == "post" })
        #expect(forms.allSatisfy { form in form.all("input").contains { $0["name"] == "_csrf" && $0["value"] == "csrf-token-123" } })
        let single = forms.filter { form in form.all("input").contains { $0["name"] == "id" } }
        #expect(single.map { $0["action"] } == ["/dead-letters/billing/replay", "/dead-letters/billing/replay", "/dead-letters/post%20sale/replay"])
        #expect(single.map { f in f.all("input").first { $0["name"] == "id" }?["value"] } == ["m-1", "m-2\"", "m-3"])
        let all = forms.filter { form in form.all("input").contains { $0["name"] == "all" && $0["value"] == "1" } }
        // Not for a service that holds none.
        #expect(all.map { $0["action"] } == ["/dead-letters/billing/replay", "/dead-letters/post%20sale/replay"])
        #expect(all.first?.text.contains("Replay all of billing") == true)
        let pres = doc.all("pre")
        #expect(pres.count == 3)
        #expect(pres[0].text == "{\"a\":\"<b>\"}")
        #expect(pres[1].text.count == Pages.bodyShown + 1 && pres[1].text.hasSuffix("…"))
        let counts = try #require(doc.byID("dead-counts")).all("tr").compactMap { $0["data-service"] }
        #expect(counts == ["billing", "dispatch", "post sale"])
    }

    @Test func othersCannotReplay() throws {
        for viewer in [Fixture.viewer, Fixture.op] {
            let html = Pages.deadLetters(letters(), viewer: viewer)
            #expect(!html.contains("/replay"))
            #expect(!html.contains("name=\"id\""))
            let doc = try parsePage(html)
            #expect(doc.all("form").map { $0["action"] } == ["/logout"])
            #expect(doc.all("tr").filter { $0["data-message"] != nil }.count == 3)
        }
    }

    @Test func noDeadLetters() throws {
        let doc = try parsePage(Pages.deadLetters(DeadLettersPage(counts: [:], letters: []), viewer: Fixture.admin))
        #expect(doc.text.contains("No dead letters."))
        #expect(doc.all("pre").isEmpty)
    }

    // MARK: Indicators

    func series(threshold: Int = 98) -> [IndicatorSeries] {
        let a = Indicator(
            id: "poleMoves", title: "Pole moves <on time>", procedure: "OPE-SUM-GES-P08", threshold: threshold,
            numeratorLabel: "moved in time", denominatorLabel: "moves due")
        let b = Indicator(
            id: "documentRetrieval", title: "Documents", procedure: "SGC-PC-03", threshold: 90, numeratorLabel: "found",
            denominatorLabel: "asked")
        return [
            IndicatorSeries(indicator: a, months: [
                IndicatorMonth(month: "2026-09", numerator: 0, denominator: 0, threshold: threshold),
                IndicatorMonth(month: "2026-10", numerator: 39, denominator: 40, threshold: threshold),
                IndicatorMonth(month: "2026-11", numerator: 99, denominator: 100, threshold: threshold),
            ]),
            IndicatorSeries(indicator: b, months: [
                IndicatorMonth(month: "2026-10", numerator: 9, denominator: 10, threshold: 90),
                IndicatorMonth(month: "2026-11", numerator: 0, denominator: 0, threshold: 90),
            ]),
        ]
    }

    @Test func indicatorsPage() throws {
        let html = Pages.kpis(series(), month: "2026-10", viewer: Fixture.viewer)
        #expect(html.contains("Pole moves &lt;on time&gt;"))
        let doc = try parsePage(html)
        let form = try #require(doc.all("form").first { $0["action"] == "/kpis" })
        #expect(form["method"] == "get")
        #expect(form.all("input").first { $0["name"] == "month" }?["value"] == "2026-10")
        #expect(doc.all("a").contains { $0["href"] == "/kpis?month=2026-09" })
        #expect(doc.all("a").contains { $0["href"] == "/kpis?month=2026-11" })

        let poles = try #require(doc.byID("kpi-poleMoves"))
        #expect(poles.text.contains("97.5 %"))
        #expect(poles.text.contains("≥ 98 %"))
        #expect(poles.text.contains("OPE-SUM-GES-P08"))
        #expect(poles.all("span", class: "verdict").first?.classes.contains("observed") == true)
        #expect(poles.all("span", class: "verdict").first?.text == "observed")
        #expect(poles.text.contains("moved in time") && poles.text.contains("39") && poles.text.contains("moves due"))
        #expect(poles.all("svg").count == 1)

        let docs = try #require(doc.byID("kpi-documentRetrieval"))
        #expect(docs.text.contains("90.0 %"))
        #expect(docs.all("span", class: "verdict").first?.classes.contains("approved") == true)

        let november = try parsePage(Pages.kpis(series(), month: "2026-11", viewer: Fixture.viewer))
        let empty = try #require(november.byID("kpi-documentRetrieval"))
        #expect(empty.text.contains("no data"))
        #expect(empty.all("span", class: "verdict").first?.classes.contains("noData") == true)
        #expect(november.byID("kpi-poleMoves")?.all("span", class: "verdict").first?.classes.contains("approved") == true)

        // A month the series do not hold.
        let past = try parsePage(Pages.kpis(series(), month: "2020-01", viewer: Fixture.viewer))
        #expect(past.byID("kpi-poleMoves")?.all("span", class: "verdict").first?.text == "no data")
    }

    // MARK: Determinism

    @Test func sameInputSameOutput() {
        let rows = [Fixture.row("a"), Fixture.row("b", breaches: ["due"])]
        let page = boardPage(rows)
        #expect(Pages.board(page, viewer: Fixture.admin) == Pages.board(page, viewer: Fixture.admin))
        #expect(Pages.workOrder(detail(), viewer: Fixture.admin, now: now) == Pages.workOrder(detail(), viewer: Fixture.admin, now: now))
        #expect(Pages.kpis(series(), month: "2026-10", viewer: Fixture.admin) == Pages.kpis(series(), month: "2026-10", viewer: Fixture.admin))
        #expect(Pages.deadLetters(letters(), viewer: Fixture.admin) == Pages.deadLetters(letters(), viewer: Fixture.admin))
    }
}
