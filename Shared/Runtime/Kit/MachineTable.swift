import Foundation
import Logging

/// Test support: an aggregate's `decide` run on every state × every input, for tests that write
/// the expected effect of each cell down as a table (the way postgres-nio tests its connection
/// state machine) and check the decisions against the aggregate's own declarations with the
/// rule the runtime applies before it saves anything (``Engine``'s check). Pure: no broker, no
/// database.
///
/// A test gives one realistic value per state of ``Aggregate/machine`` (its `status` names the
/// row; the absent aggregate is the row `nil`) and one input per `Column` with the trigger the
/// runtime checks it against (the message type, or ``StateMachine/timer(_:)``). Each cell
/// decides with a fresh ``DecisionContext`` at `now` holding one number of every sequence the
/// trigger's route declares, as the runtime draws them.
public struct MachineTable<A: Aggregate, Column: Hashable & CaseIterable & Sendable>: Sendable {
    /// What one input does to one state, as a table writes it down.
    public enum Effect: Hashable, Sendable, CustomStringConvertible {
        /// A history line moves the aggregate to `to` (possibly the state it was in). `emits`: the
        /// event types, in order; `timers`: `+name` set, `-name` cleared; `followUps`: the kinds
        /// of the aggregates decided next.
        case transition(to: String, emits: [String] = [], timers: [String] = [], followUps: [String] = [])
        /// No transition, yet something happens: the value changes, events go out, timers move.
        case unchanged(emits: [String] = [], timers: [String] = [], followUps: [String] = [])
        /// Nothing happens at all (a stale or duplicate fact).
        case ignored
        /// Refused with this code; nothing of the input is saved.
        case rejected(Rejection.Code)

        public var description: String {
            func list(_ label: String, _ items: [String]) -> String { items.isEmpty ? "" : ", \(label): \(items)" }
            switch self {
            case .transition(let to, let e, let t, let f): return "transition(to: \(to)\(list("emits", e))\(list("timers", t))\(list("followUps", f)))"
            case .unchanged(let e, let t, let f):
                let items = list("emits", e) + list("timers", t) + list("followUps", f)
                return "unchanged(\(items.dropFirst(2)))"
            case .ignored: return "ignored"
            case .rejected(let code): return "rejected(\(code))"
            }
        }
    }

    /// One state (nil = absent) × one column, and what `decide` made of it.
    public struct Cell: Sendable, CustomStringConvertible {
        public var state: A.State?
        public var column: Column
        public var trigger: String
        public var result: Result<Decision<A.State>, Rejection>
        public var effect: Effect
        /// The row of the cell: the state's status, nil when absent.
        public var status: String? { state?.status }
        public var description: String { "\(status ?? "∅") × \(column)" }
    }

    public let service: ServiceDefinition
    /// Declared states no stored value is ever in (a decision only passes through them), with why.
    public let transient: [String: String]
    public let representatives: [A.State]
    public let cells: [Cell]
    /// The input of every column, as the table was given it.
    public let inputs: [(column: Column, input: A.Input)]

    public init(
        _ aggregate: A.Type = A.self, service: ServiceDefinition, states: [A.State], transient: [String: String] = [:],
        now: Date, messageId: String = "m-table", number: Int64 = 7, input: (Column) -> (input: A.Input, trigger: String)
    ) {
        self.service = service
        self.transient = transient
        representatives = states
        inputs = Column.allCases.map { ($0, input($0).input) }
        var cells: [Cell] = []
        for state in [nil] + states.map(Optional.some) {
            for column in Column.allCases {
                let (value, trigger) = input(column)
                let sequences = service.routes.routes[trigger]?.numbers ?? []
                var context = DecisionContext(
                    now: now, messageId: messageId, numbers: Dictionary(uniqueKeysWithValues: sequences.map { ($0, [number]) }))
                let result: Result<Decision<A.State>, Rejection>
                do { result = .success(try A.decide(state, value, &context)) } catch { result = .failure(error) }
                cells.append(Cell(state: state, column: column, trigger: trigger, result: result, effect: Self.effect(result, before: state)))
            }
        }
        self.cells = cells
    }

    /// The effect of a decision on `before`, in the words of ``Effect``.
    public static func effect(_ result: Result<Decision<A.State>, Rejection>, before: A.State?) -> Effect {
        switch result {
        case .failure(let r):
            return .rejected(r.code)
        case .success(let d):
            let emits = d.events.map { type(of: $0).type }
            let timers = d.timers.map { change -> String in
                switch change {
                case .set(let name, _), .join(let name, _, _): "+\(name)"
                case .clear(let name): "-\(name)"
                }
            }
            let followUps = d.followUps.map(\.aggregate.kind)
            if let to = d.history.last(where: { $0.to != nil })?.to {
                return .transition(to: to, emits: emits, timers: timers, followUps: followUps)
            }
            let changed = d.state.map { $0 != before } ?? false
            if !changed, d.history.isEmpty, emits.isEmpty, timers.isEmpty, followUps.isEmpty, d.aliases.isEmpty { return .ignored }
            return .unchanged(emits: emits, timers: timers, followUps: followUps)
        }
    }

    /// What is wrong with `table` as a table of this machine: a declared state without exactly one
    /// representative (transient ones have none), a missing or surplus row, a missing cell.
    public func coverageProblems(_ table: [String?: [Column: Effect]]) -> [String] {
        var problems: [String] = []
        let machine = A.machine
        for s in machine.states {
            let count = representatives.filter { $0.status == s.name }.count
            let wanted = transient[s.name] == nil ? 1 : 0
            if count != wanted { problems.append("state \(s.name) has \(count) representatives, not \(wanted)") }
        }
        for name in transient.keys where machine.state(name) == nil { problems.append("transient \(name) is not a declared state") }
        for r in representatives where machine.state(r.status) == nil { problems.append("representative in undeclared state \(r.status)") }
        let rows: Set<String?> = Set([nil] + representatives.map(\.status))
        for row in rows where table[row] == nil { problems.append("no row for \(row ?? "∅")") }
        for row in table.keys where !rows.contains(row) { problems.append("row \(row ?? "∅") has no representative") }
        for (row, columns) in table {
            for column in Column.allCases where columns[column] == nil { problems.append("no cell \(row ?? "∅") × \(column)") }
        }
        return problems
    }

    /// The cells whose decision the runtime would refuse (an undeclared transition, an emitted
    /// type the service does not own, a status change without a history line), with why. Each
    /// cell is checked as a target found by its id; a target found by an alias no aggregate has
    /// yet must create nothing, which the table shows as its row `nil`.
    public var refusals: [(cell: Cell, rejection: Rejection)] {
        let engine = Engine(
            service: service.name, routes: service.routes, aggregates: [:], emits: service.emits, parkTimeout: .zero,
            logger: Logger(label: "machine-table"))
        return cells.compactMap { cell -> (cell: Cell, rejection: Rejection)? in
            guard case .success(let d) = cell.result else { return nil }
            do throws(Rejection) {
                try engine.check(AnyDecision(d), AggregateInfo(A.self), before: cell.state, trigger: cell.trigger, hasId: true)
                return nil
            } catch {
                return (cell, error)
            }
        }
    }

    /// Every transition the cells' history lines take.
    public var taken: Set<StateMachine.Transition> {
        var out = Set<StateMachine.Transition>()
        for cell in cells {
            guard case .success(let d) = cell.result else { continue }
            for h in d.history { if let to = h.to { out.insert(.init(h.from, to, on: cell.trigger)) } }
        }
        return out
    }

    /// Declared transitions no cell takes.
    public var deadDeclarations: [StateMachine.Transition] { A.machine.transitions.filter { !taken.contains($0) } }

    /// Every type the cells emit.
    public var emitted: Set<String> {
        var out = Set<String>()
        for cell in cells { if case .success(let d) = cell.result { out.formUnion(d.events.map { type(of: $0).type }) } }
        return out
    }

    /// Everything the tests of every machine check, in one list (empty when all holds):
    /// - the table covers the machine (``coverageProblems(_:)``);
    /// - every column's input is the case the column names (`column` maps an input back to its
    ///   column);
    /// - every cell decides what `expected` says;
    /// - the runtime accepts every decision (``refusals``);
    /// - every declared transition is taken by some cell (``deadDeclarations``);
    /// - the cells emit only events `owner` owns in the ``PlatformCatalog``.
    public func audit(_ expected: [String?: [Column: Effect]], owner: String, column: (A.Input) -> Column) -> [String] {
        var problems = coverageProblems(expected)
        for (c, input) in inputs where column(input) != c { problems.append("the input of column \(c) is that of column \(column(input))") }
        for cell in cells {
            let wanted = expected[cell.status]?[cell.column]
            if cell.effect != wanted { problems.append("\(cell) decides \(cell.effect); the table says \(wanted.map(\.description) ?? "nothing")") }
        }
        for (cell, rejection) in refusals { problems.append("the runtime refuses \(cell): \(rejection)") }
        for t in deadDeclarations { problems.append("no cell takes the declared transition \(t.from ?? "∅") → \(t.to) on \(t.on)") }
        if let participant = PlatformCatalog.participant(owner) {
            let unowned = emitted.subtracting(participant.events)
            if !unowned.isEmpty { problems.append("\(owner) emits events it does not own: \(unowned.sorted())") }
        } else {
            problems.append("\(owner) is not a participant of the platform catalog")
        }
        return problems
    }
}
