import Foundation
import Runtime

// The platform's state machines (`/procedures`): each one drawn from its declaration, with
// today's counts of the cases the console follows.

extension Pages {
    /// Every machine, grouped by service (in the order given): title, procedure, legend, its
    /// diagram, and a table of its states with their seed names and today's counts.
    public static func procedures(_ machines: [MachineView], viewer: Viewer) -> String {
        var services: [String] = []
        var byService: [String: [MachineView]] = [:]
        for m in machines {
            if byService[m.service] == nil { services.append(m.service) }
            byService[m.service, default: []].append(m)
        }
        var b = "<h1>Procedures</h1>\n"
        b += "<p class=\"muted\">Each service's state machines, drawn from their declarations: the states a case goes through, and the message or timer that moves it.</p>\n"
        if machines.isEmpty { b += "<p class=\"muted\">No machine.</p>\n" }
        if machines.count > 1 {
            b += "<nav class=\"toolbar small\" aria-label=\"machines\">"
            for m in machines {
                b += "<a href=\"#\(diagramID(m))\">\(escape(m.service)) · \(escape(m.machine.title))</a>"
            }
            b += "</nav>\n"
        }
        for service in services {
            b += "<section class=\"service\" id=\"service-\(classPart(service))\">\n<h2>\(escape(service))</h2>\n"
            for m in byService[service] ?? [] {
                let machine = m.machine
                b += "<article class=\"card machine\" id=\"\(diagramID(m))\">\n"
                b += "<h3>\(escape(machine.title)) <span class=\"muted small\">(\(escape(m.kind)))</span></h3>\n"
                b += "<p class=\"muted small\">\(escape(machine.procedure))</p>\n"
                b += "<ul class=\"legend\"><li><span class=\"sw start\"></span>start</li>"
                b += "<li><span class=\"sw\"></span>state (seed name below)</li>"
                b += "<li><span class=\"sw final\"></span>final state</li>"
                b += m.counts == nil
                    ? "<li>counts: not followed by the console</li>"
                    : "<li><span class=\"sw count\">n</span>cases in that state today</li>"
                b += "<li>→ the message or timer that moves it (dashed: back to an earlier state)</li></ul>\n"
                b += "<div class=\"scroll\">\(stateDiagram(m))</div>\n"
                b += "<table class=\"states\">\n<thead><tr><th scope=\"col\">State</th><th scope=\"col\">Seed name</th>"
                b += "<th scope=\"col\" class=\"num\">Today</th></tr></thead>\n<tbody>\n"
                for s in machine.states {
                    b += "<tr data-state=\"\(escape(s.name))\"><td><code>\(escape(s.name))</code>\(s.isFinal ? " <span class=\"muted small\">final</span>" : "")</td>"
                    b += "<td>\(text(s.seedName))</td><td class=\"num\">"
                    if let counts = m.counts {
                        b += String(counts[s.name] ?? 0)
                    } else {
                        b += "<span class=\"muted\">not followed</span>"
                    }
                    b += "</td></tr>\n"
                }
                b += "</tbody>\n</table>\n</article>\n"
            }
            b += "</section>\n"
        }
        return layout(title: "Procedures", viewer: viewer, active: "procedures", body: b)
    }

    /// A stable identifier of a machine's diagram (its arrowhead's and its anchor's), from the
    /// service, kind and title.
    static func diagramID(_ m: MachineView) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in "\(m.service)|\(m.kind)|\(m.machine.title)".utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        let hex = String(hash, radix: 16)
        return "sd-\(classPart(m.service))-\(String(repeating: "0", count: 8 - hex.count))\(hex)"
    }

    // MARK: The diagram's drawing

    /// Sizes of the diagram, in SVG units.
    enum Diagram {
        static let stateHeight = 42.0, startRadius = 7.0, labelHeight = 12.0, layerGap = 14.0
        static let nodeGap = 30.0, dummyGap = 10.0, dummyWidth = 6.0, portSpacing = 9.0
        static let nameCharWidth = 7.0, seedCharWidth = 6.2, labelCharWidth = 5.6
        static let maxLabel = 32, margin = 10.0
        static let stroke = "#486581", ink = "#243b53"
    }

    /// A label at most `Diagram.maxLabel` characters long (cut with `…`).
    static func shortLabel(_ s: String) -> String {
        s.count <= Diagram.maxLabel ? s : String(s.prefix(Diagram.maxLabel - 1)) + "…"
    }

    /// The width an edge's label takes.
    static func labelWidth(_ edge: StateDiagramLayout.Edge) -> Double {
        Double(shortLabel(edge.triggers.joined(separator: ", ")).count) * Diagram.labelCharWidth + 6
    }

    /// The machine drawn as an SVG state diagram, from its declaration only (see
    /// ``StateDiagramLayout``): states as rounded boxes (name, seed name, today's count as a
    /// badge; final states with a double border), a pseudo-start dot, edges as curves with
    /// arrowheads labelled with their triggers (back edges dashed, going up), self-loops on the
    /// right of their state.
    public static func stateDiagram(_ m: MachineView) -> String {
        typealias D = Diagram
        let machine = m.machine
        let layout = StateDiagramLayout(machine)
        let id = diagramID(m)
        let n = layout.nodeCount
        let edges = layout.edges

        // Sizes. A label dummy is as wide as its label; its edge passes at its left (its
        // anchor), the text to the right.
        var width = [Double](repeating: D.dummyWidth, count: n)
        var height = [Double](repeating: 0, count: n)
        var extra = [Double](repeating: 0, count: n)  // room on the right, for a self-loop
        var offset = [Double](repeating: 0, count: n)  // centre − anchor
        for (i, s) in machine.states.enumerated() {
            width[i] = max(96, Double(s.name.count) * D.nameCharWidth + 26, Double(s.seedName?.count ?? 0) * D.seedCharWidth + 26)
            height[i] = D.stateHeight
        }
        // A state is wide enough for the edges that leave or enter it on one side.
        var onSide: [Int: Int] = [:]  // 2v: top, 2v + 1: bottom
        for edge in edges where !edge.chain.isEmpty {
            let (first, last) = (edge.chain[0], edge.chain[edge.chain.count - 1])
            onSide[2 * first + (layout.layerOf[edge.chain[1]] > layout.layerOf[first] ? 1 : 0), default: 0] += 1
            onSide[2 * last + (layout.layerOf[edge.chain[edge.chain.count - 2]] > layout.layerOf[last] ? 1 : 0), default: 0] += 1
        }
        for i in machine.states.indices {
            width[i] = max(width[i], Double(max(onSide[2 * i] ?? 0, onSide[2 * i + 1] ?? 0) + 1) * D.portSpacing / 0.8)
        }
        if let s = layout.start {
            width[s] = 2 * D.startRadius
            height[s] = 2 * D.startRadius
        }
        for edge in edges {
            if edge.kind == .loop {
                extra[edge.from] = max(extra[edge.from], 30 + labelWidth(edge))
            } else if let label = edge.labelNode {
                width[label] = labelWidth(edge) + 8
                height[label] = D.labelHeight
                offset[label] = width[label] / 2 - 3
            }
        }

        // Layers' heights and tops.
        var layerHeight = [Double](repeating: 0, count: layout.layers.count)
        for (l, layer) in layout.layers.enumerated() {
            layerHeight[l] = max(layer.map { height[$0] }.max() ?? 0, l % 2 == 1 ? D.labelHeight : 0)
        }
        var layerTop = [Double](repeating: 0, count: layout.layers.count)
        for l in layout.layers.indices.dropFirst() { layerTop[l] = layerTop[l - 1] + layerHeight[l - 1] + D.layerGap }
        func centreY(_ v: Int) -> Double { layerTop[layout.layerOf[v]] + layerHeight[layout.layerOf[v]] / 2 }

        // Anchors (where edges pass): packed and centred, then pulled towards their neighbours;
        // a pass keeps the order and the spacing, averaging a push to the right and one to the
        // left.
        var ax = [Double](repeating: 0, count: n)
        func separation(_ a: Int, _ b: Int) -> Double {
            let gap = layout.isDummy(a) || layout.isDummy(b) ? D.dummyGap : D.nodeGap
            return offset[a] + width[a] / 2 + extra[a] + gap + width[b] / 2 - offset[b]
        }
        func leftEdge(_ v: Int) -> Double { ax[v] + offset[v] - width[v] / 2 }
        func rightEdge(_ v: Int) -> Double { ax[v] + offset[v] + width[v] / 2 + extra[v] }
        for layer in layout.layers {
            for (i, v) in layer.enumerated() { ax[v] = i == 0 ? 0 : ax[layer[i - 1]] + separation(layer[i - 1], v) }
        }
        let widest = layout.layers.compactMap { l in l.first.map { rightEdge(l.last!) - leftEdge($0) } }.max() ?? 0
        for layer in layout.layers {
            guard let first = layer.first, let last = layer.last else { continue }
            let shift = (widest - (rightEdge(last) - leftEdge(first))) / 2 - leftEdge(first)
            for v in layer { ax[v] += shift }
        }
        let (up, down) = layout.neighbours()
        for round in 0..<15 {
            let downward = round % 2 == 0
            let order = downward ? Array(layout.layers.indices) : Array(layout.layers.indices.reversed())
            for l in order {
                let layer = layout.layers[l]
                guard !layer.isEmpty else { continue }
                let desired = layer.map { v -> Double in
                    let near = round >= 12 ? up[v] + down[v] : downward ? up[v] : down[v]
                    return near.isEmpty ? ax[v] : near.map { ax[$0] }.reduce(0, +) / Double(near.count)
                }
                var left = desired, right = desired
                for i in layer.indices.dropFirst() { left[i] = max(desired[i], left[i - 1] + separation(layer[i - 1], layer[i])) }
                for i in layer.indices.dropLast().reversed() { right[i] = min(desired[i], right[i + 1] - separation(layer[i], layer[i + 1])) }
                for (i, v) in layer.enumerated() { ax[v] = (left[i] + right[i]) / 2 }
            }
        }

        struct Box { var x, y, w, h: Double }
        func box(_ v: Int) -> Box {
            Box(x: ax[v] + offset[v] - width[v] / 2, y: centreY(v) - height[v] / 2, w: width[v], h: height[v])
        }

        // Ports: the edges leave and enter a state spread along its bottom (to and from the
        // layer below) or its top, in the order of their next node.
        var port: [Int: Double] = [:]  // 2e: at the source, 2e + 1: at the target
        var bottomSide: [Int: Bool] = [:]
        for v in 0..<layout.realCount {
            var sides: [Bool: [(x: Double, e: Int, key: Int)]] = [:]
            for (e, edge) in edges.enumerated() where !edge.chain.isEmpty {
                for (end, key) in [(edge.chain.first!, 2 * e), (edge.chain.last!, 2 * e + 1)] where end == v {
                    let next = key % 2 == 0 ? edge.chain[1] : edge.chain[edge.chain.count - 2]
                    let below = layout.layerOf[next] > layout.layerOf[v]
                    bottomSide[key] = below
                    sides[below, default: []].append((ax[next], e, key))
                }
            }
            let b = box(v)
            let spread = v == layout.start ? 0 : b.w * 0.8
            for (_, list) in sides {
                let sorted = list.sorted { ($0.x, $0.key) < ($1.x, $1.key) }
                for (k, p) in sorted.enumerated() {
                    port[p.key] = b.x + b.w / 2 - spread / 2 + spread * Double(k + 1) / Double(sorted.count + 1)
                }
            }
        }

        // Paths.
        var paths: [String] = []
        var extent: [Box] = (0..<layout.realCount).map(box)
        for (e, edge) in edges.enumerated() {
            if edge.kind == .loop {
                let b = box(edge.from)
                let (xr, y1, y2) = (b.x + b.w, b.y + b.h / 2 - 8, b.y + b.h / 2 + 6)
                paths.append("M\(num(xr)),\(num(y1)) C\(num(xr + 28)),\(num(y1 - 16)) \(num(xr + 28)),\(num(y2 + 16)) \(num(xr)),\(num(y2))")
                extent.append(Box(x: xr, y: y1 - 16, w: 30 + labelWidth(edge), h: y2 - y1 + 32))
                continue
            }
            func endY(_ v: Int, _ key: Int) -> Double {
                let b = box(v)
                return bottomSide[key] ?? true ? b.y + b.h : b.y
            }
            // Down (or up) to the label's layer, straight across it, then a smooth curve (cubic
            // Hermite, vertical at both ends) through the other dummies to the target.
            let goingDown = layout.layerOf[edge.to] > layout.layerOf[edge.from]
            let label = edge.chain[1], l = layout.layerOf[label]
            let (top, bottom) = (layerTop[l], layerTop[l] + layerHeight[l])
            let start = (x: port[2 * e] ?? ax[edge.from], y: endY(edge.from, 2 * e))
            let (enter, leave) = ((x: ax[label], y: goingDown ? top : bottom), (x: ax[label], y: goingDown ? bottom : top))
            let middle = (start.y + enter.y) / 2
            var d = "M\(num(start.x)),\(num(start.y)) C\(num(start.x)),\(num(middle)) \(num(enter.x)),\(num(middle)) "
            d += "\(num(enter.x)),\(num(enter.y)) L\(num(leave.x)),\(num(leave.y))"
            let rest = [leave] + edge.chain.dropFirst(2).dropLast().map { (x: ax[$0], y: centreY($0)) }
                + [(x: port[2 * e + 1] ?? ax[edge.to], y: endY(edge.to, 2 * e + 1))]
            let tangents = rest.indices.map { i -> (x: Double, y: Double) in
                if i == 0 { return (0, rest[1].y - rest[0].y) }
                if i == rest.count - 1 { return (0, rest[i].y - rest[i - 1].y) }
                return ((rest[i + 1].x - rest[i - 1].x) / 2, (rest[i + 1].y - rest[i - 1].y) / 2)
            }
            for i in rest.indices.dropLast() {
                let (a, b, ta, tb) = (rest[i], rest[i + 1], tangents[i], tangents[i + 1])
                d += " C\(num(a.x + ta.x / 3)),\(num(a.y + ta.y / 3)) \(num(b.x - tb.x / 3)),\(num(b.y - tb.y / 3)) \(num(b.x)),\(num(b.y))"
            }
            paths.append(d)
            if let label = edge.labelNode {
                extent.append(Box(x: ax[label] - 1, y: centreY(label) - D.labelHeight / 2, w: width[label], h: D.labelHeight))
            }
            for d in edge.chain.dropFirst().dropLast() { extent.append(Box(x: ax[d] - 1, y: centreY(d), w: 2, h: 0)) }
        }

        // The drawing's bounds (badges stick out above and right of their state).
        let minX = (extent.map(\.x).min() ?? 0) - D.margin
        let minY = (extent.map(\.y).min() ?? 0) - D.margin - 8
        let maxX = (extent.map { $0.x + $0.w }.max() ?? 0) + D.margin + 6
        let maxY = (extent.map { $0.y + $0.h }.max() ?? 0) + D.margin
        let (w, h) = (maxX - minX, maxY - minY)

        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"diagram\" viewBox=\"\(num(minX)) \(num(minY)) \(num(w)) \(num(h))\" "
        s += "width=\"\(num(w))\" height=\"\(num(h))\" role=\"img\" font-family=\"system-ui, sans-serif\" font-size=\"12\">"
        s += "<title>\(escape(machine.title)): state diagram (\(escape(machine.procedure)))</title>"
        s += "<defs><marker id=\"\(id)-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
        s += "orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"\(D.stroke)\" /></marker></defs>"

        let name = { (v: Int) -> String in v < layout.stateCount ? machine.states[v].name : "start" }
        s += "<g class=\"edges\" fill=\"none\" stroke=\"\(D.stroke)\" stroke-width=\"1.3\">"
        for (e, edge) in edges.enumerated() {
            let kind = switch edge.kind {
            case .forward: "forward"
            case .back: "back"
            case .loop: "self"
            }
            let initial = edge.from == layout.start
            s += "<g class=\"edge \(kind)\(initial ? " initial" : "")\"\(initial ? "" : " data-from=\"\(escape(name(edge.from)))\"") data-to=\"\(escape(name(edge.to)))\">"
            s += "<title>\(escape(name(edge.from))) → \(escape(name(edge.to))): \(escape(edge.triggers.joined(separator: ", ")))</title>"
            s += "<path d=\"\(paths[e])\"\(edge.kind == .back ? " stroke-dasharray=\"5 3\"" : "") marker-end=\"url(#\(id)-arrow)\" /></g>"
        }
        s += "</g>"

        s += "<g class=\"nodes\">"
        if let start = layout.start {
            s += "<g class=\"start\"><title>start</title><circle cx=\"\(num(ax[start]))\" cy=\"\(num(centreY(start)))\" r=\"\(num(D.startRadius))\" fill=\"\(D.ink)\" /></g>"
        }
        for (v, state) in machine.states.enumerated() {
            let b = box(v)
            let cx = b.x + b.w / 2
            let count = m.counts.map { $0[state.name] ?? 0 }
            var title = state.name
            if let seed = state.seedName { title += " (\(seed))" }
            if state.isFinal { title += ", final" }
            if let count { title += ": \(count) today" }
            s += "<g class=\"state\(state.isFinal ? " final" : "")\" data-state=\"\(escape(state.name))\"><title>\(escape(title))</title>"
            s += "<rect x=\"\(num(b.x))\" y=\"\(num(b.y))\" width=\"\(num(b.w))\" height=\"\(num(b.h))\" rx=\"8\" fill=\"#fff\" stroke=\"\(D.stroke)\" stroke-width=\"1.5\" />"
            if state.isFinal {
                s += "<rect x=\"\(num(b.x + 3))\" y=\"\(num(b.y + 3))\" width=\"\(num(b.w - 6))\" height=\"\(num(b.h - 6))\" rx=\"6\" fill=\"none\" stroke=\"\(D.stroke)\" stroke-width=\"1\" />"
            }
            let hasSeed = !(state.seedName ?? "").isEmpty
            s += "<text x=\"\(num(cx))\" y=\"\(num(b.y + (hasSeed ? 18 : 25)))\" text-anchor=\"middle\" font-weight=\"600\" fill=\"\(D.ink)\">\(escape(state.name))</text>"
            if let seed = state.seedName, hasSeed {
                s += "<text class=\"seed\" x=\"\(num(cx))\" y=\"\(num(b.y + 33))\" text-anchor=\"middle\" font-size=\"10\" fill=\"#7b8794\">\(escape(seed))</text>"
            }
            if let count {
                let digits = String(count)
                let bw = 10 + 6 * Double(digits.count)
                let (bx, by) = (b.x + b.w - bw + 6, b.y - 8)
                s += "<g class=\"count\"><rect x=\"\(num(bx))\" y=\"\(num(by))\" width=\"\(num(bw))\" height=\"16\" rx=\"8\" fill=\"\(count > 0 ? "#1f5fbf" : "#9aa5b1")\" />"
                s += "<text x=\"\(num(bx + bw / 2))\" y=\"\(num(by + 11.5))\" text-anchor=\"middle\" font-size=\"10\" font-weight=\"700\" fill=\"#fff\">\(digits)</text></g>"
            }
            s += "</g>"
        }
        s += "</g>"

        s += "<g class=\"labels\" font-size=\"10\" fill=\"#334e68\">"
        for edge in edges {
            let text = escape(shortLabel(edge.triggers.joined(separator: ", ")))
            if edge.kind == .loop {
                let b = box(edge.from)
                s += "<text class=\"edge-label\" x=\"\(num(b.x + b.w + 30))\" y=\"\(num(b.y + b.h / 2 + 3.5))\">\(text)</text>"
            } else if let label = edge.labelNode {
                s += "<text class=\"edge-label\" x=\"\(num(ax[label] + 5))\" y=\"\(num(centreY(label) + 3.5))\">\(text)</text>"
            }
        }
        s += "</g></svg>"
        return s
    }
}
