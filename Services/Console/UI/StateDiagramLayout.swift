import Foundation
import Runtime

/// The layered layout of a state machine's diagram, from its declaration only (Sugiyama style):
///
/// 1. nodes are the states, plus a pseudo-start node when a transition has no `from`;
/// 2. transitions of the same from → to are one edge, their triggers joined;
/// 3. a depth-first search (from the start, then the states in declaration order) finds the back
///    edges; without them and the self-loops the graph is acyclic;
/// 4. each node's rank is its longest path from the start (0 for the start; 1, or 0 without a
///    start, for nodes nothing leads to), over that acyclic graph;
/// 5. the drawing's layers are twice as many: rank r on layer 2r, and between two ranks a layer
///    for the edges' labels. Every edge other than a self-loop passes through one dummy node per
///    layer between its ends (a back edge goes up); the first, next to its source, carries its
///    label, so that labels take room like nodes and never overlap;
/// 6. nodes are ordered within their layers by barycentre sweeps (down, then up, a few times),
///    keeping the order with the fewest crossings.
///
/// Everything is a function of the declaration: the same machine gives the same layout.
struct StateDiagramLayout {
    enum Kind: Equatable { case forward, back, loop }

    struct Edge: Equatable {
        var from: Int
        var to: Int
        var triggers: [String]
        var kind: Kind
        /// The nodes the edge passes through: from, the dummies, to (empty for a self-loop).
        var chain: [Int] = []
        /// The dummy that carries its label (nil for a self-loop).
        var labelNode: Int? = nil
    }

    /// How many states (nodes `0..<stateCount`, in declaration order).
    let stateCount: Int
    /// The pseudo-start node, if any (`stateCount`).
    let start: Int?
    /// States, start, then dummies.
    private(set) var nodeCount: Int
    /// The rank of each state and of the start (longest path from the start).
    private(set) var rank: [Int]
    /// The layer of each node: twice the rank for states and start.
    private(set) var layerOf: [Int]
    /// The nodes of each layer, in drawing order (left to right).
    private(set) var layers: [[Int]]
    private(set) var edges: [Edge]
    /// The edge whose label a dummy carries.
    private(set) var labelOf: [Int: Int]

    /// The number of real nodes (states and start); nodes from there on are dummies.
    var realCount: Int { stateCount + (start == nil ? 0 : 1) }
    func isDummy(_ v: Int) -> Bool { v >= realCount }

    init(_ machine: StateMachine) {
        let n = machine.states.count
        stateCount = n
        var index: [String: Int] = [:]
        for (i, s) in machine.states.enumerated() { index[s.name] = i }
        let hasStart = machine.transitions.contains { $0.from == nil }
        start = hasStart ? n : nil
        let real = n + (hasStart ? 1 : 0)

        // Edges: one per from → to, triggers in declaration order without repeats.
        var edges: [Edge] = []
        var edgeOf: [Int: Int] = [:]
        for t in machine.transitions {
            guard let v = index[t.to] else { continue }
            let u: Int
            if let from = t.from {
                guard let i = index[from] else { continue }
                u = i
            } else {
                u = n
            }
            let key = u * (real + 1) + v
            if let e = edgeOf[key] {
                if !edges[e].triggers.contains(t.on) { edges[e].triggers.append(t.on) }
            } else {
                edgeOf[key] = edges.count
                edges.append(Edge(from: u, to: v, triggers: [t.on], kind: u == v ? .loop : .forward))
            }
        }

        // Back edges by depth-first search.
        var out = [[Int]](repeating: [], count: real)
        for (e, edge) in edges.enumerated() where edge.kind != .loop { out[edge.from].append(e) }
        var colour = [UInt8](repeating: 0, count: real)
        var preorder = [Int](repeating: 0, count: real)
        var counter = 0
        func visit(_ u: Int) {
            colour[u] = 1
            preorder[u] = counter
            counter += 1
            for e in out[u] {
                let v = edges[e].to
                if colour[v] == 1 {
                    edges[e].kind = .back
                } else if colour[v] == 0 {
                    visit(v)
                }
            }
            colour[u] = 2
        }
        for root in (hasStart ? [n] : []) + Array(0..<n) where colour[root] == 0 { visit(root) }

        // Ranks: longest path over the forward edges, in a topological order.
        var rank = [Int](repeating: hasStart ? 1 : 0, count: real)
        if let s = start { rank[s] = 0 }
        var indegree = [Int](repeating: 0, count: real)
        for edge in edges where edge.kind == .forward { indegree[edge.to] += 1 }
        var done = [Bool](repeating: false, count: real)
        for _ in 0..<real {
            guard let u = (0..<real).first(where: { !done[$0] && indegree[$0] == 0 }) else { break }
            done[u] = true
            for e in out[u] where edges[e].kind == .forward {
                let v = edges[e].to
                rank[v] = max(rank[v], rank[u] + 1)
                indegree[v] -= 1
            }
        }

        // Dummies: one per layer between an edge's ends, the first carrying its label.
        var layerOf = rank.map { 2 * $0 }
        var sortKey: [(Int, Int, Int)] = (0..<real).map { (preorder[$0], 0, $0) }
        var labelOf: [Int: Int] = [:]
        var nodeCount = real
        for e in edges.indices where edges[e].kind != .loop {
            let (u, v) = (edges[e].from, edges[e].to)
            let step = layerOf[v] > layerOf[u] ? 1 : -1
            var chain = [u]
            for l in stride(from: layerOf[u] + step, to: layerOf[v], by: step) {
                chain.append(nodeCount)
                layerOf.append(l)
                sortKey.append((preorder[u], 1, nodeCount))
                nodeCount += 1
            }
            chain.append(v)
            edges[e].chain = chain
            edges[e].labelNode = chain[1]
            labelOf[chain[1]] = e
        }

        var layers = [[Int]](repeating: [], count: (layerOf.max() ?? 0) + 1)
        for v in (0..<nodeCount).sorted(by: { sortKey[$0] < sortKey[$1] }) { layers[layerOf[v]].append(v) }

        self.nodeCount = nodeCount
        self.rank = rank
        self.layerOf = layerOf
        self.layers = layers
        self.edges = edges
        self.labelOf = labelOf
        orderByBarycentres()
    }

    /// The neighbours of each node in the layer above (`up`) and below (`down`), along the
    /// edges' chains.
    func neighbours() -> (up: [[Int]], down: [[Int]]) {
        var up = [[Int]](repeating: [], count: nodeCount), down = [[Int]](repeating: [], count: nodeCount)
        for (a, b) in segments() {
            down[a].append(b)
            up[b].append(a)
        }
        return (up, down)
    }

    /// Every piece of edge between two adjacent layers, as (upper node, lower node).
    func segments() -> [(Int, Int)] {
        edges.flatMap { edge in
            zip(edge.chain, edge.chain.dropFirst()).map { a, b in layerOf[a] < layerOf[b] ? (a, b) : (b, a) }
        }
    }

    /// How many pairs of edge pieces cross between adjacent layers.
    func crossings() -> Int {
        let pieces = piecesByLayer()
        let position = positions()
        return layers.indices.reduce(0) { $0 + crossings(pieces[$1], position) }
    }

    /// The edge pieces from each layer to the next, as (upper node, lower node).
    func piecesByLayer() -> [[(Int, Int)]] {
        var byLayer = [[(Int, Int)]](repeating: [], count: layers.count)
        for (a, b) in segments() { byLayer[layerOf[a]].append((a, b)) }
        return byLayer
    }

    /// Each node's index in its layer.
    func positions() -> [Int] {
        var position = [Int](repeating: 0, count: nodeCount)
        for layer in layers { for (i, v) in layer.enumerated() { position[v] = i } }
        return position
    }

    /// How many pairs of these pieces (between two adjacent layers) cross.
    func crossings(_ pieces: [(Int, Int)], _ position: [Int]) -> Int {
        var count = 0
        for i in pieces.indices {
            let (a0, a1) = (position[pieces[i].0], position[pieces[i].1])
            for j in pieces.indices where j > i {
                if (a0 - position[pieces[j].0]) * (a1 - position[pieces[j].1]) < 0 { count += 1 }
            }
        }
        return count
    }

    /// Barycentre sweeps: each layer sorted by the mean relative position of its neighbours in
    /// the layer just swept (a node without any keeps its own; ties in their order, every other
    /// pair of sweeps reversed), then neighbours in a layer swapped while that removes crossings
    /// (``transpose(up:down:sideways:)``); the order with the fewest crossings is kept.
    mutating func orderByBarycentres() {
        let (up, down) = neighbours()
        transpose(up: up, down: down, sideways: false)
        var best = layers, fewest = crossings()
        guard fewest > 0 else { return }
        var position = [Double](repeating: 0, count: nodeCount)
        func place(_ layer: [Int]) {
            for (i, v) in layer.enumerated() { position[v] = (Double(i) + 0.5) / Double(layer.count) }
        }
        for round in 0..<12 {
            for layer in layers { place(layer) }
            let downward = round % 2 == 0
            let order = downward ? Array(layers.indices.dropFirst()) : Array(layers.indices.dropLast().reversed())
            for l in order {
                let keyed = layers[l].enumerated().map { (i, v) -> (Double, Int, Int) in
                    let near = downward ? up[v] : down[v]
                    let key = near.isEmpty ? position[v] : near.map { position[$0] }.reduce(0, +) / Double(near.count)
                    return (key, round % 4 < 2 ? i : -i, v)  // ties kept, then reversed
                }
                layers[l] = keyed.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
                place(layers[l])
            }
            transpose(up: up, down: down, sideways: round % 2 == 1)
            let c = crossings()
            if c < fewest {
                fewest = c
                best = layers
                if c == 0 { break }
            }
        }
        layers = best
    }

    /// Swaps neighbours within layers while that lowers the crossings of their edges (or, when
    /// `sideways`, keeps them equal but not zero: a way off a plateau).
    mutating func transpose(up: [[Int]], down: [[Int]], sideways: Bool) {
        var position = positions()
        /// Crossings among the edges of u and v with u left of v.
        func crossings(_ u: Int, _ v: Int) -> Int {
            var c = 0
            for a in up[u] { for b in up[v] where position[a] > position[b] { c += 1 } }
            for a in down[u] { for b in down[v] where position[a] > position[b] { c += 1 } }
            return c
        }
        for pass in 0..<8 {
            var improved = false
            for l in layers.indices where layers[l].count > 1 {
                for i in 0..<(layers[l].count - 1) {
                    let (a, b) = (layers[l][i], layers[l][i + 1])
                    let (before, after) = (crossings(a, b), crossings(b, a))
                    if after < before || (sideways && pass == 0 && after == before && before > 0) {
                        layers[l].swapAt(i, i + 1)
                        (position[a], position[b]) = (position[b], position[a])
                        if after < before { improved = true }
                    }
                }
            }
            if !improved && pass > 0 { break }
        }
    }
}
