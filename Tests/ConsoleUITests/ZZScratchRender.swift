// TEMPORARY scratch file (to be deleted): renders sample pages to /tmp/ui for a visual check.
import Foundation
import Runtime
import Testing
@testable import ConsoleUI

@Test func zzScratchRender() throws {
    guard ProcessInfo.processInfo.environment["UI_SCRATCH"] != nil else { return }
    let md = try String(contentsOfFile: "/work/main/docs/state-machines.md", encoding: .utf8)
    var views: [MachineView] = []
    var service = "", title = "", kind = "", procedure = ""
    var states: [StateMachine.State] = [], transitions: [StateMachine.Transition] = [], finals: Set<String> = []
    var inBlock = false
    func flush() {
        guard !states.isEmpty else { return }
        let s = states.map { StateMachine.State($0.name, final: finals.contains($0.name), seed: $0.seedName) }
        let m = StateMachine(title: title, procedure: procedure, states: s, transitions: transitions)
        var counts: [String: Int] = [:]
        for (i, st) in s.enumerated() { counts[st.name] = (i * 7) % 5 }
        views.append(MachineView(service: service, kind: kind, machine: m, counts: views.count % 3 == 1 ? nil : counts))
        states = []; transitions = []; finals = []
    }
    for line in md.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        if line.hasPrefix("## ") {
            let rest = line.dropFirst(3)
            let parts = rest.split(separator: ":", maxSplits: 1)
            service = String(parts[0])
            let t = parts[1].trimmingCharacters(in: .whitespaces)
            title = String(t.split(separator: "(").first!).trimmingCharacters(in: .whitespaces)
            kind = String(t.split(separator: "`")[1])
        } else if line.hasPrefix("Procedure: ") {
            procedure = String(line.dropFirst(11).split(separator: ". Final").first!)
        } else if line == "```mermaid" { inBlock = true } else if line == "```" { inBlock = false; flush() } else if inBlock, line.hasPrefix("    ") {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.contains("-->") {
                let p = l.components(separatedBy: " --> ")
                let from = p[0]
                let rest = p[1].components(separatedBy: ": ")
                if rest[0] == "[*]" { finals.insert(from); continue }
                transitions.append(.init(from == "[*]" ? nil : from, rest[0], on: rest[1]))
            } else {
                let p = l.components(separatedBy: ": ")
                let label = p[1]
                var seed: String? = nil
                if let o = label.firstIndex(of: "(") { seed = String(label[label.index(after: o)..<label.index(before: label.endIndex)]) }
                states.append(.init(p[0], seed: seed))
            }
        }
    }
    let admin = Viewer(name: "Ana", role: .admin, csrf: "x")
    let clock = ContinuousClock()
    var total = 0
    let t0 = clock.now
    for v in views { let l = StateDiagramLayout(v.machine); total += l.crossings(); print("CROSS", v.machine.title, l.crossings(), l.nodeCount) }
    print("CROSS TOTAL", total, clock.now - t0)
    try Pages.procedures(views, viewer: admin).write(toFile: "/tmp/ui/procedures.html", atomically: true, encoding: .utf8)
    for (i, v) in views.enumerated() {
        try ("<html><body style='margin:0;background:#fff'>" + Pages.stateDiagram(v) + "</body></html>").write(toFile: "/tmp/ui/diagram-\(i).html", atomically: true, encoding: .utf8)
    }
    let now = Date()
    var rows: [BoardRow] = []
    let kinds = Pages.kinds
    for i in 0..<14 {
        rows.append(BoardRow(workOrderId: "wo-\(i)", number: i % 4 == 3 ? nil : "OT-2026-0001\(10 + i)", status: Pages.statuses[i % 6], kind: kinds[i % kinds.count], serviceLine: ["fibre", "power", "water"][i % 3], country: Pages.countries[i % 3], customer: i == 2 ? "<script>alert(1)</script>" : "Customer \(i) S.A.", level: i % 5 == 4 ? nil : 1 + i % 4, deadline: i % 6 == 5 ? nil : now.addingTimeInterval(Double((i - 3) * 2400 + 30)), deadlineWhat: ["priority", "contact", "due"][i % 3], breaches: i % 5 == 0 ? ["contact"] : [], assignee: i % 2 == 0 ? "Tec \(i)" : nil, openedAt: now.addingTimeInterval(-86400), updatedAt: now))
    }
    let page = BoardPage(rows: rows, total: 214, breached: 17, filter: BoardFilter(country: "BO", level: 2, limit: 14, offset: 14), now: now)
    try Pages.board(page, viewer: admin).write(toFile: "/tmp/ui/board.html", atomically: true, encoding: .utf8)
    var d = WorkOrderDetail(row: rows[1], customerId: "cus-1", sector: "Sur", description: "Poste caído", documents: [DocumentRef(kind: "photo", uri: "https://x.example/a.jpg", sha256: String(repeating: "ab", count: 32)), DocumentRef(kind: "act", uri: "s3://b/act.pdf")], prefacturaId: "pf-1", prefacturaStatus: "issued", prefacturaAmount: Amount(minor: 123450, currency: "BOB"), invoiceId: "inv-1", invoiceAmount: Amount(minor: 12000, currency: "CLP"), invoiceIssuer: "Facturas SA")
    d.timeline = [TimelineEntry(at: now.addingTimeInterval(-7200), type: "workorder.opened", to: "opened", summary: "opened by commercial", messageId: "m1"), TimelineEntry(at: now.addingTimeInterval(-3600), type: "workorder.dispatched", from: "approved", to: "dispatched", summary: "priority 2, contact by 14:00", messageId: "m2")]
    try Pages.workOrder(d, viewer: admin, now: now).write(toFile: "/tmp/ui/workorder.html", atomically: true, encoding: .utf8)
    func ind(_ id: String, _ t: String, _ th: Int, _ vals: [(Int, Int)]) -> IndicatorSeries {
        IndicatorSeries(indicator: Indicator(id: id, title: t, procedure: "OPE-SUM-GES-P08", threshold: th, numeratorLabel: "done in time", denominatorLabel: "due"), months: vals.enumerated().map { IndicatorMonth(month: "2026-\(Pages.pad($0.offset + 1))", numerator: $0.element.0, denominator: $0.element.1, threshold: th) })
    }
    let series = [ind("poleMoves", "Pole moves", 98, [(99, 100), (0, 0), (40, 45), (100, 100), (97, 100), (12, 12), (50, 100), (0, 3), (98, 100), (80, 80), (0, 0), (29, 30)]), ind("documentRetrieval", "Document retrieval", 90, [(9, 10), (1, 1), (7, 10)])]
    try Pages.kpis(series, month: "2026-12", viewer: admin).write(toFile: "/tmp/ui/kpis.html", atomically: true, encoding: .utf8)
    let dl = DeadLettersPage(counts: ["billing": 2, "dispatch": 0], letters: [DeadLetterView(service: "billing", messageId: "m-1", type: "billing.invoice", code: "unhandled", reason: "no such OT", failedAt: "2026-11-22T14:00:00.000Z", originalRoutingKey: "billing.invoice", body: String(repeating: "{\"a\":\"b\"}", count: 60))], notice: "Replayed 1 message")
    try Pages.deadLetters(dl, viewer: admin).write(toFile: "/tmp/ui/dead.html", atomically: true, encoding: .utf8)
    try Pages.login(error: "Wrong user name or password", next: "/board").write(toFile: "/tmp/ui/login.html", atomically: true, encoding: .utf8)
}
