import Foundation
import Runtime
import Testing

@testable import ConsoleUI

@Suite("State diagrams")
struct StateDiagramTests {
    /// A small machine: a start, a back edge (review → draft), a self-loop (review), two triggers
    /// of one step (review → approved), an edge from the start spanning layers, and text to escape.
    static let machine = StateMachine(
        title: "Document <review>", procedure: "SGC-PC-99 §1 & 2",
        states: [
            .init("draft", seed: "BORRADOR"), .init("review", seed: "R&D <x>"), .init("approved", seed: "APROBADO"),
            .init("archived", final: true), .init("cancelled", final: true, seed: "ANULADO"),
        ],
        transitions: [
            .init(nil, "draft", on: "doc.created"),
            .init("draft", "review", on: "doc.submit"),
            .init("review", "draft", on: "doc.returned"),
            .init("review", "review", on: "doc.comment"),
            .init("review", "approved", on: "doc.approve"),
            .init("review", "approved", on: "doc.fastTrack"),
            .init("review", "approved", on: "doc.approve"),
            .init("approved", "archived", on: "timer:archive"),
            .init("draft", "cancelled", on: "doc.cancel"),
            .init("review", "cancelled", on: "doc.cancel"),
            .init(nil, "approved", on: "doc.imported.from.the.old.system.with.a.long.name"),
        ])

    static let view = MachineView(service: "records", kind: "document", machine: machine, counts: ["review": 3, "draft": 12])

    @Test func layersByLongestPathWithoutBackEdges() throws {
        let layout = StateDiagramLayout(Self.machine)
        let start = try #require(layout.start)
        #expect(start == 5)
        #expect(layout.rank == [1, 2, 3, 4, 3, 0])
        // States and start on even layers; labels and dummies between.
        #expect(Array(layout.layerOf[0..<6]) == [2, 4, 6, 8, 6, 0])
        // One edge per from → to; the kinds found by the search.
        let edges = layout.edges.map { "\($0.from)>\($0.to):\($0.kind)" }
        #expect(edges == ["5>0:forward", "0>1:forward", "1>0:back", "1>1:loop", "1>2:forward", "2>3:forward", "0>4:forward", "1>4:forward", "5>2:forward"])
        #expect(layout.edges[4].triggers == ["doc.approve", "doc.fastTrack"])
        // Every edge but the self-loop passes through a dummy per layer between its ends, the
        // first carrying its label; the back edge goes up.
        #expect(layout.edges.map(\.chain.count) == [3, 3, 3, 0, 3, 3, 5, 3, 7])
        for (e, edge) in layout.edges.enumerated() where edge.kind != .loop {
            let step = edge.kind == .back ? -1 : 1
            for (a, b) in zip(edge.chain, edge.chain.dropFirst()) { #expect(layout.layerOf[b] == layout.layerOf[a] + step) }
            #expect(edge.chain.dropFirst().dropLast().allSatisfy(layout.isDummy))
            #expect(edge.labelNode == edge.chain[1])
            #expect(layout.labelOf[edge.chain[1]] == e)
        }
        #expect(layout.edges[3].labelNode == nil)
        #expect(layout.layers.flatMap { $0 }.sorted() == Array(0..<layout.nodeCount))
    }

    @Test func barycentresRemoveAvoidableCrossings() {
        // Declared so that the search's order crosses a → e and b → c; e, c, d does not.
        let m = StateMachine(
            title: "t", procedure: "p", states: [.init("a"), .init("b"), .init("c"), .init("e"), .init("d")],
            transitions: [
                .init(nil, "a", on: "x"), .init(nil, "b", on: "y"), .init("a", "c", on: "1"), .init("b", "c", on: "2"),
                .init("b", "d", on: "3"), .init("a", "e", on: "4"),
            ])
        let layout = StateDiagramLayout(m)
        #expect(layout.crossings() == 0)
        #expect(layout.layers[4] == [3, 2, 4])
    }

    @Test func noStartWithoutInitialTransitions() throws {
        let m = StateMachine(
            title: "loop", procedure: "p", states: [.init("on"), .init("off")],
            transitions: [.init("on", "off", on: "switch"), .init("off", "on", on: "switch")])
        let layout = StateDiagramLayout(m)
        #expect(layout.start == nil)
        #expect(layout.rank == [0, 1])
        #expect(layout.edges.map(\.kind) == [.forward, .back])
        let svg = try parseXML(Pages.stateDiagram(MachineView(service: "s", kind: "k", machine: m, counts: nil)))
        #expect(svg.all("g", class: "start").isEmpty)
        #expect(svg.all("g", class: "edge").count == 2)
        #expect(svg.all("g", class: "count").isEmpty)
    }

    @Test func oneNodePerStateOneEdgePerStep() throws {
        let text = Pages.stateDiagram(Self.view)
        let svg = try parseXML(text)
        #expect(svg.name == "svg" && svg["role"] == "img" && svg["viewBox"] != nil)
        #expect(svg.children.first?.name == "title")
        #expect(svg.children.first?.text == "Document <review>: state diagram (SGC-PC-99 §1 & 2)")

        let states = svg.all("g", class: "state")
        #expect(states.map { $0["data-state"] } == ["draft", "review", "approved", "archived", "cancelled"])
        #expect(svg.all("g", class: "start").count == 1)
        // Final states have a double border.
        for s in states {
            let final = s["data-state"] == "archived" || s["data-state"] == "cancelled"
            #expect(s.classes.contains("final") == final)
            #expect(s.children.filter { $0.name == "rect" }.count == (final ? 2 : 1))
        }
        // Names and seed names, escaped in the source.
        let review = try #require(states.first { $0["data-state"] == "review" })
        #expect(review.all("text").map(\.text).prefix(2) == ["review", "R&D <x>"])
        #expect(text.contains("R&amp;D &lt;x&gt;"))
        #expect(!text.contains("<x>"))
        // Counts as badges, 0 for a state without cases.
        #expect(review.all("g", class: "count").first?.text == "3")
        #expect(states.first { $0["data-state"] == "draft" }?.all("g", class: "count").first?.text == "12")
        #expect(states.first { $0["data-state"] == "archived" }?.all("g", class: "count").first?.text == "0")

        // Edges: one per (from, to).
        let edges = svg.all("g", class: "edge")
        let pairs = edges.map { "\($0["data-from"] ?? "*")>\($0["data-to"] ?? "?")" }
        #expect(pairs == ["*>draft", "draft>review", "review>draft", "review>review", "review>approved", "approved>archived",
                          "draft>cancelled", "review>cancelled", "*>approved"])
        #expect(Set(pairs).count == pairs.count)
        #expect(edges.filter { $0.classes.contains("self") }.map { $0["data-from"] } == ["review"])
        #expect(edges.filter { $0.classes.contains("back") }.map { "\($0["data-from"]!)>\($0["data-to"]!)" } == ["review>draft"])
        #expect(edges.filter { $0.classes.contains("initial") }.count == 2)

        // Every edge has an arrowhead, defined once.
        let markers = svg.all("marker")
        #expect(markers.count == 1)
        let marker = try #require(markers.first?["id"])
        for e in edges {
            let path = try #require(e.all("path").first)
            #expect(path["marker-end"] == "url(#\(marker))")
            #expect(path["d"]?.hasPrefix("M") == true)
            #expect(path["d"]?.contains("C") == true, "edges are curves")
        }

        // Labels: the triggers, grouped; long ones cut.
        let labels = svg.all("text", class: "edge-label").map(\.text)
        #expect(labels.count == edges.count)
        #expect(labels.contains("doc.approve, doc.fastTrack"))
        #expect(labels.contains("doc.comment"))
        #expect(labels.contains("timer:archive"))
        let cut = try #require(labels.first { $0.hasPrefix("doc.imported") })
        #expect(cut.count == Pages.Diagram.maxLabel && cut.hasSuffix("…"))
        #expect(edges.last?.all("title").first?.text == "start → approved: doc.imported.from.the.old.system.with.a.long.name")
    }

    @Test func geometryFollowsTheLayers() throws {
        let svg = try parseXML(Pages.stateDiagram(Self.view))
        func rect(_ state: String) throws -> (x: Double, y: Double, w: Double, h: Double) {
            let g = try #require(svg.all("g", class: "state").first { $0["data-state"] == state })
            let r = try #require(g.children.first { $0.name == "rect" })
            return (Double(r["x"]!)!, Double(r["y"]!)!, Double(r["width"]!)!, Double(r["height"]!)!)
        }
        let (draft, review, approved, archived, cancelled) = (
            try rect("draft"), try rect("review"), try rect("approved"), try rect("archived"), try rect("cancelled")
        )
        #expect(draft.y < review.y && review.y < approved.y && approved.y < archived.y)
        #expect(approved.y == cancelled.y)
        let circle = try #require(svg.all("circle").first)
        #expect(Double(circle["cy"]!)! < draft.y)
        // No two states overlap.
        let all = [draft, review, approved, archived, cancelled]
        for (i, a) in all.enumerated() {
            for b in all[(i + 1)...] {
                #expect(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y)
            }
        }
        // The back edge leaves review's top and comes up into draft's bottom, dashed.
        let backEdge = try #require(svg.all("g", class: "back").first?.all("path").first)
        let back = try #require(backEdge["d"])
        #expect(backEdge["stroke-dasharray"] != nil)
        let backStart = back.dropFirst().split(separator: " ")[0].split(separator: ",").map { Double($0)! }
        #expect(backStart[0] > review.x && backStart[0] < review.x + review.w && backStart[1] == review.y)
        let backEnd = back.split(separator: " ").last!.split(separator: ",").map { Double($0)! }
        #expect(backEnd[0] > draft.x && backEnd[0] < draft.x + draft.w && backEnd[1] == draft.y + draft.h)
        // A forward edge leaves its source's bottom and enters its target's top.
        let submit = try #require(svg.all("g", class: "edge").first { $0["data-from"] == "draft" && $0["data-to"] == "review" })
        let forward = try #require(submit.all("path").first?["d"])
        #expect(forward.dropFirst().split(separator: " ")[0].split(separator: ",").map { Double($0)! }[1] == draft.y + draft.h)
        #expect(forward.split(separator: " ").last!.split(separator: ",").map { Double($0)! }[1] == review.y)
        // The self-loop leaves and comes back to review's right side.
        let loop = try #require(svg.all("g", class: "self").first?.all("path").first?["d"])
        #expect(loop.hasPrefix("M\(Pages.num(review.x + review.w)),"))
        #expect(loop.contains(" \(Pages.num(review.x + review.w)),\(Pages.num(review.y + review.h / 2 + 6))"))
        // Labels do not overlap one another nor the states (their estimated extents).
        var boxes = all
        for label in svg.all("text", class: "edge-label") {
            let (x, y) = (Double(label["x"]!)!, Double(label["y"]!)!)
            boxes.append((x, y - 9, Double(label.text.count) * Pages.Diagram.labelCharWidth, 11))
        }
        for (i, a) in boxes.enumerated() {
            for b in boxes[(i + 1)...] {
                #expect(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, "\(a) \(b)")
            }
        }
        // Everything lies within the view box.
        let box = svg["viewBox"]!.split(separator: " ").map { Double($0)! }
        for r in all {
            #expect(r.x >= box[0] && r.y >= box[1] && r.x + r.w <= box[0] + box[2] && r.y + r.h <= box[1] + box[3])
        }
    }

    @Test func deterministic() {
        #expect(Pages.stateDiagram(Self.view) == Pages.stateDiagram(Self.view))
        let other = MachineView(service: "records", kind: "document", machine: Self.machine, counts: ["review": 3, "draft": 12])
        #expect(Pages.stateDiagram(Self.view) == Pages.stateDiagram(other))
    }

    @Test func proceduresPage() throws {
        let plain = StateMachine(
            title: "Retrieval", procedure: "SGC-PC-03", states: [.init("asked", seed: "SOLICITADO"), .init("found", final: true)],
            transitions: [.init(nil, "asked", on: "records.ask"), .init("asked", "found", on: "records.found")])
        let machines = [
            Self.view,
            MachineView(service: "dispatch", kind: "retrieval", machine: plain, counts: nil),
            MachineView(service: "records", kind: "retrieval", machine: plain, counts: ["asked": 4]),
        ]
        let html = Pages.procedures(machines, viewer: Fixture.viewer)
        #expect(html.contains("Document &lt;review&gt;"))
        let doc = try parsePage(html)
        let sections = doc.all("section", class: "service")
        #expect(sections.map { $0.all("h2").first?.text } == ["records", "dispatch"])
        #expect(sections[0].all("article").count == 2)
        #expect(sections[1].all("article").count == 1)
        #expect(doc.all("svg", class: "diagram").count == 3)
        // Arrowhead ids are unique on the page.
        let ids = doc.all("marker").compactMap { $0["id"] }
        #expect(Set(ids).count == 3)
        // The states' table: seed names and today's counts, or "not followed".
        let followed = sections[0].all("article")[1]
        let rows = followed.all("table").first?.all("tr").filter { $0["data-state"] != nil } ?? []
        #expect(rows.map { $0.all("td").map(\.text) } == [["asked", "SOLICITADO", "4"], ["found final", "—", "0"]])
        let unfollowed = sections[1].all("table").first?.all("tr").filter { $0["data-state"] != nil } ?? []
        #expect(unfollowed.map { $0.all("td").last?.text } == ["not followed", "not followed"])
        #expect(doc.all("ul", class: "legend").count == 3)
    }
}
