import Contracts
import Foundation
import Runtime
import Testing

/// A deliberately faulty aggregate, to show that the table helper reports what the runtime would
/// refuse: an undeclared transition, a status change without a history line, an event its
/// service does not own, and a declared transition no input takes.
enum Lamp: Aggregate {
    static let kind = "lamp"

    struct State: AggregateState {
        var status: String
        var switches = 0
    }

    enum Input: Sendable { case install, toggle, smash, announce, count }

    static let machine = StateMachine(
        title: "lamp", procedure: "none",
        states: [.init("off"), .init("on"), .init("broken", final: true)],
        transitions: [
            .init(nil, "off", on: "lamp.install"), .init("off", "on", on: "lamp.toggle"), .init("on", "off", on: "lamp.toggle"),
            .init("on", "broken", on: "lamp.smash"), .init("off", "broken", on: "lamp.fall"),
        ])

    static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State> {
        switch input {
        case .install:
            guard state == nil else { return .ignore("installed") }
            return Decision(state: State(status: "off"), history: [HistoryEntry("install", from: nil, to: "off")])
        case .toggle:
            guard var s = state else { throw Rejection(.notFound, "no lamp") }
            guard s.status != "broken" else { throw Rejection(.invalidTransition, "broken") }
            let from = s.status
            s.status = from == "on" ? "off" : "on"
            s.switches += 1
            return Decision(state: s, history: [HistoryEntry("toggle", from: from, to: s.status)], timers: [.set("cool", at: context.now)])
        case .smash:
            // Fault: smashes an off lamp too (off → broken on lamp.smash is not declared), and
            // an absent one without a history line.
            guard var s = state else { return Decision(state: State(status: "broken")) }
            guard s.status != "broken" else { return .ignore("already broken") }
            let from = s.status
            s.status = "broken"
            return Decision(state: s, history: [HistoryEntry("smash", from: from, to: "broken")])
        case .announce:
            // Fault: an event of another service.
            return Decision(state: nil, events: [WorkOrderRejected(workOrderId: "W", reason: "lamp")])
        case .count:
            // The same value again: no change.
            guard let s = state else { return .ignore("no lamp") }
            return Decision(state: s)
        }
    }
}

@Suite("state-machine table helper")
struct MachineTableTests {
    enum Given: CaseIterable, Sendable { case install, toggle, smash, announce, count }
    typealias Table = MachineTable<Lamp, Given>

    static func table(states: [Lamp.State] = [.init(status: "off"), .init(status: "on"), .init(status: "broken")]) -> Table {
        Table(
            service: ServiceDefinition(name: "records", routes: Routes(), aggregates: [Lamp.self]), states: states,
            now: Date(timeIntervalSince1970: 0)
        ) { given in
            switch given {
            case .install: (.install, "lamp.install")
            case .toggle: (.toggle, "lamp.toggle")
            case .smash: (.smash, "lamp.smash")
            case .announce: (.announce, "lamp.announce")
            case .count: (.count, "lamp.count")
            }
        }
    }

    func cell(_ status: String?, _ given: Given) throws -> Table.Cell {
        try #require(Self.table().cells.first { $0.status == status && $0.column == given })
    }

    @Test func eachCellSaysWhatTheDecisionDid() throws {
        #expect(try cell(nil, .install).effect == .transition(to: "off"))
        #expect(try cell("off", .install).effect == .ignored)
        #expect(try cell("off", .toggle).effect == .transition(to: "on", timers: ["+cool"]))
        #expect(try cell(nil, .toggle).effect == .rejected(.notFound))
        #expect(try cell("on", .announce).effect == .unchanged(emits: [WorkOrderRejected.type]))
        #expect(try cell("on", .count).effect == .ignored, "a value equal to the one before is no change")
        #expect(try cell(nil, .smash).effect == .unchanged(), "a new value without a transition")
    }

    @Test func theRuntimesRefusalsAreReported() throws {
        let refused = Self.table().refusals.map { "\($0.cell)" }
        #expect(Set(refused) == ["∅ × smash", "off × smash", "∅ × announce", "off × announce", "on × announce", "broken × announce"])
        let reasons = Self.table().refusals.map(\.rejection.message)
        #expect(reasons.contains { $0.contains("off → broken on lamp.smash is not declared") })
        #expect(reasons.contains { $0.contains("∅ → broken without a history line") })
        #expect(reasons.contains { $0.contains("which records does not own") })
    }

    @Test func declaredTransitionsNoCellTakesAreDead() {
        #expect(Self.table().deadDeclarations == [.init("off", "broken", on: "lamp.fall")])
        #expect(Self.table().taken.contains(.init("off", "broken", on: "lamp.smash")), "taken, though undeclared")
    }

    @Test func anIncompleteTableIsReported() {
        let full: [Given: Table.Effect] = Dictionary(uniqueKeysWithValues: Given.allCases.map { ($0, .ignored) })
        var partial = full
        partial[.count] = nil
        let problems = Self.table(states: [.init(status: "off"), .init(status: "off")]).coverageProblems(
            [nil: full, "off": partial, "lost": full])
        #expect(
            Set(problems) == [
                "state off has 2 representatives, not 1", "state on has 0 representatives, not 1",
                "state broken has 0 representatives, not 1", "no cell off × count", "row lost has no representative",
            ])
        #expect(Self.table().coverageProblems([nil: full, "off": full, "on": full, "broken": full]) == [])
    }

    @Test func theAuditListsEveryKindOfProblemAndNothingForAFaithfulTable() throws {
        let table = Self.table()
        // What the cells actually decide, written down as the table: only the lamp's own faults remain.
        var faithful: [String?: [Given: Table.Effect]] = [:]
        for cell in table.cells { faithful[cell.status, default: [:]][cell.column] = cell.effect }
        let column: (Lamp.Input) -> Given = { input in
            switch input {
            case .install: .install
            case .toggle: .toggle
            case .smash: .smash
            case .announce: .announce
            case .count: .count
            }
        }
        let problems = table.audit(faithful, owner: "approval", column: column)
        #expect(problems.contains { $0.hasPrefix("the runtime refuses off × smash") })
        #expect(problems.contains("no cell takes the declared transition off → broken on lamp.fall"))
        #expect(!problems.contains { $0.hasPrefix("approval emits") }, "approval owns workorder.rejected")
        #expect(problems.filter { !$0.hasPrefix("the runtime refuses") && !$0.hasPrefix("no cell takes") }.isEmpty, "\(problems)")

        // A wrong cell, a column whose input is another's, an unowned event, an unknown owner.
        var wrong = faithful
        wrong["on"]?[.toggle] = .ignored
        let swapped: (Lamp.Input) -> Given = { column($0) == .count ? .toggle : column($0) }
        let more = table.audit(wrong, owner: "dispatch", column: swapped)
        #expect(more.contains("on × toggle decides transition(to: off, timers: [\"+cool\"]); the table says ignored"))
        #expect(more.contains("the input of column count is that of column toggle"))
        #expect(more.contains("dispatch emits events it does not own: [\"\(WorkOrderRejected.type)\"]"))
        #expect(table.audit(faithful, owner: "nobody", column: column).contains("nobody is not a participant of the platform catalog"))
    }

    @Test func effectsReadAsTheTableWritesThem() {
        #expect("\(Table.Effect.transition(to: "on", emits: ["a.b"]))" == "transition(to: on, emits: [\"a.b\"])")
        #expect("\(Table.Effect.unchanged(timers: ["-t"]))" == "unchanged(timers: [\"-t\"])")
        #expect("\(Table.Effect.rejected(.notFound))" == "rejected(notFound)")
    }
}
