import Foundation
import Runtime

// The operations board (`/board`, its rows for live updates) and one OT's page.

extension Pages {
    /// The board's filter values offered in its selects.
    static let countries = ["BO", "CL", "CO"]
    static let kinds = ["project", "poleMove", "repair", "installation", "transfer", "withdrawal", "visit"]
    static let statuses = ["opened", "approvalPending", "approved", "dispatched", "assigned", "attended", "closed", "rejected", "cancelled"]
    /// The board's default page size (not repeated in its links).
    static let defaultLimit = 100

    // MARK: Board

    /// The board: filters (`GET /board`), summary, the table of rows, pagination, and the script
    /// that counts deadlines down and reloads the rows (`/board/rows`) when `/board/events` says
    /// something changed.
    public static func board(_ page: BoardPage, viewer: Viewer) -> String {
        let f = page.filter
        var b = "<div class=\"toolbar\"><h1>Board</h1>"
        b += "<span id=\"board-summary\">\(summary(total: page.total, breached: page.breached))</span>"
        b += "<span id=\"board-live\" class=\"live\" aria-live=\"polite\">not live</span></div>\n"

        b += "<form id=\"board-filters\" class=\"filters\" method=\"get\" action=\"/board\">\n"
        b += select("country", "Country", countries.map { ($0, $0) }, selected: f.country)
        b += textInput("serviceLine", "Service line", f.serviceLine)
        b += select("kind", "Kind", kinds.map { ($0, $0) }, selected: f.kind)
        b += textInput("assignee", "Assignee", f.assignee)
        b += select("level", "Level", (1...4).map { ("\($0)", "\($0)") }, selected: f.level.map(String.init))
        b += select("status", "Status", statuses.map { ($0, $0) }, selected: f.status)
        if f.limit != defaultLimit { b += "<input type=\"hidden\" name=\"limit\" value=\"\(f.limit)\" />\n" }
        b += "<button type=\"submit\">Filter</button> <a href=\"/board\">Clear</a>\n</form>\n"

        b += "<div class=\"scroll\">\n<table id=\"board\">\n<thead><tr>"
        for (head, cls) in [
            ("Level", ""), ("OT", ""), ("Status", ""), ("Kind", ""), ("Service line", ""), ("Country", ""), ("Customer", ""),
            ("Assignee", ""), ("Deadline", ""), ("Breaches", ""),
        ] {
            b += "<th scope=\"col\"\(cls.isEmpty ? "" : " class=\"\(cls)\"")>\(head)</th>"
        }
        b += "</tr></thead>\n<tbody id=\"board-rows\">\n\(boardRows(page))</tbody>\n</table>\n</div>\n"
        b += pager(page)
        return layout(
            title: "Board", viewer: viewer, active: "board", body: b,
            scripts: "<script>\n\(countdownScript)\n\(liveScript)\n</script>")
    }

    /// The summary line (the board's script writes the same from the rows' headers).
    static func summary(total: Int, breached: Int) -> String {
        "\(total) OTs not yet final, \(breached) breached"
    }

    /// The board's rows only (`<tr>` elements), in the order given: what `/board/rows` answers.
    public static func boardRows(_ page: BoardPage) -> String {
        guard !page.rows.isEmpty else {
            return "<tr class=\"empty\"><td colspan=\"10\" class=\"muted\">No OT matches</td></tr>\n"
        }
        var h = ""
        for row in page.rows {
            let breached = row.isBreached(now: page.now)
            let level = row.level.map { "level-\($0)" } ?? "level-none"
            h += "<tr data-ot=\"\(escape(row.workOrderId))\" data-status=\"\(escape(row.status))\" class=\"\(level)\(breached ? " breached" : "")\">"
            h += "<td>\(levelBadge(row.level))</td>"
            h += "<td><a href=\"/workorders/\(percentEncode(row.workOrderId))\">\(escape(row.number ?? row.workOrderId))</a></td>"
            h += "<td>\(statusBadge(row.status))</td>"
            h += "<td>\(text(row.kind))</td>"
            h += "<td>\(text(row.serviceLine))</td>"
            h += "<td>\(text(row.country))</td>"
            h += "<td>\(text(row.customer))</td>"
            h += "<td>\(text(row.assignee))</td>"
            h += "<td>\(deadline(row, now: page.now))</td>"
            h += "<td>\(breaches(row.breaches))</td>"
            h += "</tr>\n"
        }
        return h
    }

    static func levelBadge(_ level: Int?) -> String {
        guard let level else { return "<span class=\"muted\">—</span>" }
        return "<span class=\"badge level-\(level)\" title=\"priority level \(level)\">\(level)</span>"
    }

    static func statusBadge(_ status: String) -> String {
        "<span class=\"badge status status-\(classPart(status))\">\(escape(status))</span>"
    }

    /// What the deadline is and its countdown.
    static func deadline(_ row: BoardRow, now: Date) -> String {
        guard let deadline = row.deadline else { return text(row.deadlineWhat) }
        let what = row.deadlineWhat.map { "<span class=\"small\">\(escape($0))</span> " } ?? ""
        return what + countdownSpan(deadline, now: now)
    }

    static func breaches(_ breaches: [String]) -> String {
        breaches.isEmpty ? "" : "<span class=\"breached\">\(breaches.map(escape).joined(separator: ", "))</span>"
    }

    /// A labelled select whose first option is "any" (empty); a selected value it does not
    /// offer is added, so the form keeps it.
    static func select(_ name: String, _ label: String, _ options: [(value: String, label: String)], selected: String?) -> String {
        var options = options
        if let selected, !selected.isEmpty, !options.contains(where: { $0.value == selected }) { options.append((selected, selected)) }
        var h = "<label>\(label)<select name=\"\(name)\"><option value=\"\">any</option>"
        for o in options {
            h += "<option value=\"\(escape(o.value))\"\(o.value == selected ? " selected=\"selected\"" : "")>\(escape(o.label))</option>"
        }
        return h + "</select></label>\n"
    }

    static func textInput(_ name: String, _ label: String, _ value: String?) -> String {
        "<label>\(label)<input type=\"text\" name=\"\(name)\" value=\"\(escape(value ?? ""))\" /></label>\n"
    }

    /// The query string of the board with `filter` at `offset` (filters kept, defaults left out).
    static func boardQuery(_ filter: BoardFilter, offset: Int) -> String {
        var pairs: [(String, String)] = []
        if let v = filter.country, !v.isEmpty { pairs.append(("country", v)) }
        if let v = filter.serviceLine, !v.isEmpty { pairs.append(("serviceLine", v)) }
        if let v = filter.kind, !v.isEmpty { pairs.append(("kind", v)) }
        if let v = filter.assignee, !v.isEmpty { pairs.append(("assignee", v)) }
        if let v = filter.level { pairs.append(("level", String(v))) }
        if let v = filter.status, !v.isEmpty { pairs.append(("status", v)) }
        if filter.limit != defaultLimit { pairs.append(("limit", String(filter.limit))) }
        if offset > 0 { pairs.append(("offset", String(offset))) }
        return query(pairs)
    }

    /// Which rows are shown, and links to the previous and next pages.
    static func pager(_ page: BoardPage) -> String {
        let f = page.filter, limit = max(1, f.limit), offset = max(0, f.offset)
        var h = "<nav class=\"pager\" aria-label=\"pages\">"
        if offset > 0 {
            h += "<a rel=\"prev\" href=\"/board\(escape(boardQuery(f, offset: max(0, offset - limit))))\">← Previous</a>"
        }
        if page.rows.isEmpty {
            h += "<span class=\"muted\">0 of \(page.total)</span>"
        } else {
            h += "<span class=\"muted\">\(offset + 1)–\(offset + page.rows.count) of \(page.total)</span>"
        }
        if offset + limit < page.total {
            h += "<a rel=\"next\" href=\"/board\(escape(boardQuery(f, offset: offset + limit)))\">Next →</a>"
        }
        return h + "</nav>\n"
    }

    /// Every second, each `data-deadline` element shows what is left (`3h 12m`, `-0h 05m`) and
    /// is marked `breached` (its row too) once passed.
    static let countdownScript = """
        (function(){
        function fmt(ms){var a=Math.floor(Math.abs(ms)/60000),m=a%60;return (ms<0?'-':'')+Math.floor(a/60)+'h '+(m<10?'0':'')+m+'m';}
        function tick(){var now=Date.now();document.querySelectorAll('[data-deadline]').forEach(function(e){
        var d=Date.parse(e.getAttribute('data-deadline'))-now;if(isNaN(d))return;e.textContent=fmt(d);
        if(d<0){e.classList.add('breached');var r=e.closest('tr');if(r)r.classList.add('breached');}});}
        window.otTick=tick;tick();setInterval(tick,1000);
        })();
        """

    /// Live rows: on each `/board/events` message (coalesced over 300 ms), fetch `/board/rows`
    /// with the page's query, replace the rows, update the summary from `X-Board-Total` and
    /// `X-Board-Breached`; show whether the stream is connected.
    static let liveScript = """
        (function(){
        var rows=document.getElementById('board-rows'),sum=document.getElementById('board-summary'),live=document.getElementById('board-live');
        var pending=null,busy=false,again=false,opened=false;
        function show(on,t){live.textContent=t;live.className='live '+(on?'on':'off');}
        function schedule(){if(!pending)pending=setTimeout(refresh,300);}
        function refresh(){pending=null;if(busy){again=true;return;}busy=true;
        fetch('/board/rows'+location.search,{credentials:'same-origin',cache:'no-store'}).then(function(r){
        if(r.redirected||r.status===401){location.reload();return;}
        if(!r.ok)return;
        var t=r.headers.get('X-Board-Total'),b=r.headers.get('X-Board-Breached');
        return r.text().then(function(h){rows.innerHTML=h;if(t!==null&&b!==null)sum.textContent=t+' OTs not yet final, '+b+' breached';if(window.otTick)window.otTick();});
        }).catch(function(){}).then(function(){busy=false;if(again){again=false;schedule();}});}
        if(!window.EventSource){show(false,'no live updates');return;}
        show(false,'connecting…');
        var es=new EventSource('/board/events');
        es.onopen=function(){if(opened)schedule();opened=true;show(true,'live');};
        es.onerror=function(){show(false,'reconnecting…');};
        es.onmessage=function(){schedule();};
        })();
        """

    // MARK: One OT

    /// One OT: what it is, its deadline, its timeline, its documents and its money.
    public static func workOrder(_ d: WorkOrderDetail, viewer: Viewer, now: Date) -> String {
        let r = d.row
        let name = r.number ?? r.workOrderId
        let breached = r.isBreached(now: now)
        var b = "<div class=\"toolbar\"><h1>\(escape(name))</h1>\(statusBadge(r.status)) \(levelBadge(r.level))"
        if breached { b += " <span class=\"badge breached\">breached</span>" }
        b += "<a href=\"/board\">← Board</a></div>\n"

        b += "<section class=\"card\" id=\"facts\">\n<dl class=\"facts\">\n"
        func fact(_ label: String, _ html: String) { b += "<dt>\(label)</dt><dd>\(html)</dd>\n" }
        fact("OT", escape(r.number ?? "—") + " <code class=\"small\">\(escape(r.workOrderId))</code>")
        fact("Status", statusBadge(r.status))
        fact("Level", levelBadge(r.level))
        if let deadline = r.deadline {
            fact("Deadline", (r.deadlineWhat.map { escape($0) + " " } ?? "") + time(deadline) + " " + countdownSpan(deadline, now: now))
        } else {
            fact("Deadline", text(r.deadlineWhat))
        }
        if !r.breaches.isEmpty { fact("Breaches", breaches(r.breaches)) }
        fact("Kind", text(r.kind))
        fact("Service line", text(r.serviceLine))
        fact("Customer", text(r.customer) + (d.customerId.map { " <code class=\"small\">\(escape($0))</code>" } ?? ""))
        fact("Country", text(r.country))
        fact("Sector", text(d.sector))
        fact("Assignee", text(r.assignee))
        if let description = d.description, !description.isEmpty { fact("Description", escape(description)) }
        if let outcome = d.outcome, !outcome.isEmpty { fact("Outcome", escape(outcome)) }
        if let damage = d.damageId { fact("Damage", "<code>\(escape(damage))</code>") }
        fact("Opened", time(r.openedAt))
        if let closed = d.closedAt { fact("Closed", time(closed)) }
        fact("Updated", time(r.updatedAt))
        b += "</dl>\n</section>\n"

        b += "<section class=\"card\" id=\"timeline\">\n<h2>Timeline</h2>\n"
        if d.timeline.isEmpty {
            b += "<p class=\"muted\">No message about this OT yet.</p>\n"
        } else {
            b += "<ol class=\"timeline\">\n"
            for e in d.timeline {
                b += "<li data-message=\"\(escape(e.messageId))\">\(time(e.at)) <code>\(escape(e.type))</code>"
                if e.from != nil || e.to != nil {
                    b += " <span class=\"transition\">\(e.from.map { escape($0) + " " } ?? "")→ \(escape(e.to ?? "?"))</span>"
                }
                if !e.summary.isEmpty { b += " <span class=\"summary\">\(escape(e.summary))</span>" }
                b += "</li>\n"
            }
            b += "</ol>\n"
        }
        b += "</section>\n"

        b += "<section class=\"card\" id=\"documents\">\n<h2>Documents</h2>\n"
        if d.documents.isEmpty {
            b += "<p class=\"muted\">No document in its folder.</p>\n"
        } else {
            b += "<table>\n<thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">Where</th><th scope=\"col\">SHA-256</th></tr></thead>\n<tbody>\n"
            for doc in d.documents {
                b += "<tr><td>\(escape(doc.kind))</td><td>\(documentLink(doc.uri))</td><td>"
                if let sha = doc.sha256, !sha.isEmpty {
                    b += "<code title=\"\(escape(sha))\">\(escape(String(sha.prefix(12))))\(sha.count > 12 ? "…" : "")</code>"
                } else {
                    b += "<span class=\"muted\">—</span>"
                }
                b += "</td></tr>\n"
            }
            b += "</tbody>\n</table>\n"
        }
        b += "</section>\n"

        b += "<section class=\"card\" id=\"money\">\n<h2>Billing</h2>\n<dl class=\"facts\">\n"
        if d.prefacturaId != nil || d.prefacturaStatus != nil || d.prefacturaAmount != nil {
            fact("Prefactura", text(d.prefacturaId).wrappedInCode(d.prefacturaId != nil)
                + (d.prefacturaStatus.map { " <span class=\"badge\">\(escape($0))</span>" } ?? ""))
            fact("Amount", d.prefacturaAmount.map { escape(money($0)) } ?? text(nil))
        } else {
            fact("Prefactura", "<span class=\"muted\">none yet</span>")
        }
        if d.invoiceId != nil || d.invoiceAmount != nil || d.invoiceIssuer != nil {
            fact("Invoice", text(d.invoiceId).wrappedInCode(d.invoiceId != nil))
            fact("Invoiced", d.invoiceAmount.map { escape(money($0)) } ?? text(nil))
            fact("Issuer", text(d.invoiceIssuer))
        } else {
            fact("Invoice", "<span class=\"muted\">none yet</span>")
        }
        b += "</dl>\n</section>\n"
        return layout(title: name, viewer: viewer, active: "board", body: b, scripts: "<script>\n\(countdownScript)\n</script>")
    }

    /// A document's location: a link when it is a web address, else shown as code.
    static func documentLink(_ uri: String) -> String {
        let lower = uri.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            return "<a href=\"\(escape(uri))\" rel=\"noopener noreferrer\" target=\"_blank\">\(escape(uri))</a>"
        }
        return "<code>\(escape(uri))</code>"
    }
}

extension String {
    fileprivate func wrappedInCode(_ yes: Bool) -> String { yes ? "<code>\(self)</code>" : self }
}
