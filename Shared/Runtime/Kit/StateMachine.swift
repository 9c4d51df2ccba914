/// A state machine declared as data: its states and the transitions allowed between them, with
/// the message (or timer) that causes each. Tests, documentation and diagrams are derived from
/// this one declaration, and the runtime refuses a decision whose history steps outside it.
public struct StateMachine: Sendable, Equatable {
    /// One state.
    public struct State: Sendable, Equatable {
        public var name: String
        /// No transition leaves it.
        public var isFinal: Bool
        /// The name the procedure document gives it (e.g. `REGISTRADO`), if any.
        public var seedName: String?

        public init(_ name: String, final isFinal: Bool = false, seed seedName: String? = nil) {
            self.name = name
            self.isFinal = isFinal
            self.seedName = seedName
        }
    }

    /// One allowed step: from a state (nil = the aggregate does not exist yet) to a state, on a
    /// message type (`workorder.assign`) or a timer (`timer:sla.contact`).
    public struct Transition: Sendable, Equatable, Hashable {
        public var from: String?
        public var to: String
        public var on: String

        public init(_ from: String?, _ to: String, on: String) {
            self.from = from
            self.to = to
            self.on = on
        }
    }

    /// What the machine is, for humans (`OT in dispatch`).
    public var title: String
    /// The procedure it implements (`SGC-PC-07 §4.5–4.6`).
    public var procedure: String
    public var states: [State]
    public var transitions: [Transition]

    public init(title: String, procedure: String, states: [State], transitions: [Transition]) {
        self.title = title
        self.procedure = procedure
        self.states = states
        self.transitions = transitions
        let names = Set(states.map(\.name))
        precondition(names.count == states.count, "\(title): duplicate state names")
        for t in transitions {
            precondition(t.from.map(names.contains) ?? true, "\(title): unknown state \(t.from ?? "")")
            precondition(names.contains(t.to), "\(title): unknown state \(t.to)")
            precondition(!(t.from.flatMap { f in states.first { $0.name == f } }?.isFinal ?? false),
                         "\(title): a transition leaves the final state \(t.from ?? "")")
        }
    }

    /// The name of the trigger of a timer. A timer's name may carry a parameter after `#`
    /// (`bill#2026-11`): each value is a timer of its own, and the machine declares the name
    /// before the `#` (`timer:bill`).
    public static func timer(_ name: String) -> String { "timer:\(timerBase(name))" }

    /// A timer's name without its parameter.
    public static func timerBase(_ name: String) -> Substring { name.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0] }

    /// A timer's parameter (after `#`), if any.
    public static func timerParameter(_ name: String) -> String? {
        let parts = name.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? String(parts[1]) : nil
    }

    /// Whether the machine allows this step.
    public func allows(from: String?, to: String, on trigger: String) -> Bool {
        transitions.contains(Transition(from, to, on: trigger))
    }

    /// The state called `name`.
    public func state(_ name: String) -> State? { states.first { $0.name == name } }

    /// Every trigger the machine reacts to with a transition.
    public var triggers: [String] {
        var seen = Set<String>()
        return transitions.map(\.on).filter { seen.insert($0).inserted }
    }

    /// The machine as a Mermaid `stateDiagram-v2` (documentation, the console's diagrams).
    public var mermaid: String {
        var lines = ["stateDiagram-v2"]
        for s in states {
            let label = s.seedName.map { "\(s.name) (\($0))" } ?? s.name
            lines.append("    \(s.name): \(label)")
        }
        for t in transitions {
            lines.append("    \(t.from ?? "[*]") --> \(t.to): \(t.on)")
        }
        for s in states where s.isFinal { lines.append("    \(s.name) --> [*]") }
        return lines.joined(separator: "\n")
    }
}
