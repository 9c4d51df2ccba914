import Contracts
import Foundation

/// What a route sees of an incoming message besides its `data`.
public struct Incoming: Sendable {
    /// The message id.
    public var id: String
    /// When the fact happened or the request was made (the envelope's `time`).
    public var time: Date
    /// The broker user that published it, checked against the platform catalog.
    public var sender: String?
    /// The business case it belongs to.
    public var correlationId: String?

    public init(id: String, time: Date, sender: String? = nil, correlationId: String? = nil) {
        self.id = id
        self.time = time
        self.sender = sender
        self.correlationId = correlationId
    }
}

/// How a target finds its aggregate.
public enum TargetKey: Sendable, Hashable {
    /// By its id.
    case id(String)
    /// By a secondary key some earlier decision registered (``Decision/aliases``).
    case alias(String)

    var text: String {
        switch self {
        case .id(let s), .alias(let s): s
        }
    }
}

/// One aggregate an input goes to, with the input itself; built by a route (or by a decision,
/// as a follow-up). Type-erased so that one message may go to aggregates of several types.
public struct Target: Sendable {
    public let aggregate: AggregateInfo
    public let key: TargetKey
    /// What the runtime checks the resulting transitions against; nil = the message's type
    /// (or the timer).
    public let trigger: String?
    let run: @Sendable ((any AggregateState)?, inout DecisionContext) throws(Rejection) -> AnyDecision

    init<A: Aggregate>(_ type: A.Type, key: TargetKey, trigger: String?, input: A.Input) {
        aggregate = AggregateInfo(A.self)
        self.key = key
        self.trigger = trigger
        run = { (state: (any AggregateState)?, context: inout DecisionContext) throws(Rejection) -> AnyDecision in
            var typed: A.State?
            if let state {
                guard let s = state as? A.State else {
                    throw Rejection(.corruptState, "\(A.kind): stored state has type \(Swift.type(of: state))")
                }
                typed = s
            }
            return AnyDecision(try A.decide(typed, input, &context))
        }
    }

    /// `input` for the aggregate `A` whose id is `id`.
    public static func to<A: Aggregate>(_ type: A.Type, _ id: String, _ input: A.Input, trigger: String? = nil) -> Target {
        Target(type, key: .id(id), trigger: trigger, input: input)
    }

    /// `input` for the aggregate `A` registered under the secondary key `alias`; when no
    /// aggregate has it, `decide` gets a nil state.
    public static func to<A: Aggregate>(_ type: A.Type, alias: String, _ input: A.Input, trigger: String? = nil) -> Target {
        Target(type, key: .alias(alias), trigger: trigger, input: input)
    }
}

/// An aggregate type as the runtime handles it without knowing it statically.
public final class AggregateInfo: Sendable {
    public let kind: String
    public let machine: StateMachine
    let decode: @Sendable (Data) throws -> any AggregateState
    let timer: @Sendable (_ name: String, _ dueAt: Date, _ id: String) -> Target?

    public init<A: Aggregate>(_ type: A.Type) {
        kind = A.kind
        machine = A.machine
        decode = { data in try Wire.fastDecoder.decode(A.State.self, from: data) }
        timer = { name, dueAt, id in
            A.timerFired(name, dueAt: dueAt).map { Target(A.self, key: .id(id), trigger: nil, input: $0) }
        }
    }
}

/// A decision with its state type erased.
struct AnyDecision: Sendable {
    var state: (any AggregateState)?
    var history: [HistoryEntry]
    var events: [any Message]
    var timers: [TimerChange]
    var aliases: [String]
    var followUps: [Target]
    var broadcasts: [Broadcast]
    var note: String?

    init<S: AggregateState>(_ d: Decision<S>) {
        broadcasts = d.broadcasts
        state = d.state
        history = d.history
        events = d.events
        timers = d.timers
        aliases = d.aliases
        followUps = d.followUps
        note = d.note
    }
}

/// A service's routes: for each message type it consumes, the aggregates a message goes to.
/// Declared once; the service's queue bindings, the broker definitions and the AsyncAPI
/// document's subscribers are derived from them, and a delivery of a type without a route is
/// dead-lettered (`unhandled`), never acknowledged silently.
public struct Routes: Sendable {
    /// One route.
    public struct Route: Sendable {
        public let type: String
        public let kind: MessageKind
        /// Sequences a message of this type may draw one number from (e.g. a prefactura number).
        public let numbers: [String]
        /// Taken only from inside the service (``LocalInputs``), never bound to a queue.
        public let isLocal: Bool
        let targets: @Sendable (any Message, Incoming) -> [Target]
    }

    public private(set) var routes: [String: Route] = [:]
    /// Message types in declaration order.
    public private(set) var types: [String] = []

    public init() {}

    /// Builds the routes with `declare`.
    public init(_ declare: (inout Routes) -> Void) {
        declare(&self)
    }

    /// Routes messages of type `M` to the aggregates `targets` names. `numbers`: the sequences
    /// `decide` may draw one number from for such a message (``DecisionContext/next(_:)``).
    public mutating func on<M: Message>(
        _ type: M.Type, numbers: [String] = [], _ targets: @escaping @Sendable (M, Incoming) -> [Target]
    ) {
        add(type, numbers: numbers, isLocal: false, targets)
    }

    /// Routes messages of type `M` that come from inside the service (an HTTP endpoint of its own,
    /// through ``LocalInputs``) — never bound to a queue, so no one else can send them.
    public mutating func local<M: Message>(_ type: M.Type, _ targets: @escaping @Sendable (M, Incoming) -> [Target]) {
        add(type, numbers: [], isLocal: true, targets)
    }

    private mutating func add<M: Message>(
        _ type: M.Type, numbers: [String], isLocal: Bool, _ targets: @escaping @Sendable (M, Incoming) -> [Target]
    ) {
        precondition(routes[M.type] == nil, "two routes for \(M.type)")
        routes[M.type] = Route(
            type: M.type, kind: M.kind, numbers: numbers, isLocal: isLocal,
            targets: { message, incoming in
                guard let m = message as? M else { return [] }
                return targets(m, incoming)
            })
        types.append(M.type)
    }

    /// The kinds of the aggregates a message goes to, as its route names them (tests, documentation).
    public func aggregateKinds(for message: any Message) -> [String] {
        routes[type(of: message).type]?.targets(message, Incoming(id: "", time: Date(timeIntervalSince1970: 0))).map(\.aggregate.kind) ?? []
    }

    /// Command types routed (bound to `<service>.commands`).
    public var commandTypes: [String] { types.filter { routes[$0]?.kind == .command && routes[$0]?.isLocal == false } }
    /// Event types routed (bound to `<service>.events`).
    public var eventTypes: [String] { types.filter { routes[$0]?.kind == .event && routes[$0]?.isLocal == false } }
}
