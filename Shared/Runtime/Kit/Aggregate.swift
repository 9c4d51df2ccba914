import Contracts
import Foundation

/// The stored value of an aggregate: `Codable` (it is kept as JSON in the service's
/// `aggregates` table) and with the name of the state its machine is in.
public protocol AggregateState: Codable, Sendable, Equatable {
    /// The state-machine state: one of the aggregate's ``StateMachine/states``.
    var status: String { get }
}

/// A state machine as a value (an OT in dispatch, a prefactura under review, a CxC charge, …):
/// a pure `decide` from the current state, one input and the decision context to a
/// ``Decision``. The runtime loads, decides and saves; no rule lives anywhere else.
public protocol Aggregate: Sendable {
    associatedtype State: AggregateState
    associatedtype Input: Sendable

    /// The aggregate's name in storage, history and timers (`workOrder`, `charge`); unique
    /// within a service.
    static var kind: String { get }
    /// Its states and allowed transitions, as data.
    static var machine: StateMachine { get }
    /// The decision for one input. `state` is nil when the aggregate does not exist yet.
    /// Throw a ``Rejection`` to refuse the input: nothing of it is saved.
    static func decide(_ state: State?, _ input: Input, _ context: inout DecisionContext) throws(Rejection) -> Decision<State>
    /// The input a due timer of this aggregate becomes (`nil`: the timer is dropped).
    static func timerFired(_ name: String, dueAt: Date) -> Input?
}

extension Aggregate {
    public static func timerFired(_ name: String, dueAt: Date) -> Input? { nil }
}

/// What `decide` sees besides the state and the input: the time, the message, and numbers
/// drawn from the service's sequences for it.
public struct DecisionContext: Sendable {
    /// Now, by the service clock.
    public var now: Date
    /// The id of the message being decided (derive ids from it to stay deterministic).
    public var messageId: String
    /// When the message says its fact happened or its request was made.
    public var messageTime: Date
    /// The broker user that published the message (provenance), when known.
    public var sender: String?
    /// Whether a ``Rejection/mayBeLate`` `notFound` parks the message (a command that has not
    /// waited its `PARK_TIMEOUT_MS` yet). When false, a subject still unknown is unknown for
    /// good: a decision that answers that case itself (a post-sale request naming an unknown
    /// contract is turned down, not rejected) does so now.
    public var mayWait: Bool = false
    /// The shard of the batch deciding, `0..<DecisionContext.shards`: batches running side by
    /// side (concurrent timer rounds, consumers) get different ones. A decision that adds to a
    /// tally many batches share adds to its shard's part (an aggregate per shard), so that those
    /// batches do not wait for each other's row; whoever reads the tally sums the parts.
    public var shard: Int = 0
    /// How many shards there are.
    public static let shards = 8
    var numbers: [String: [Int64]]
    /// The runtime's first pass over a batch: numbers not in `numbers` are counted, not refused.
    var drawsOnDemand = false
    /// The sequences asked for during a counting pass, in order.
    var demanded: [String] = []

    public init(
        now: Date, messageId: String = "m-1", messageTime: Date? = nil, sender: String? = nil, numbers: [String: [Int64]] = [:]
    ) {
        self.now = now
        self.messageId = messageId
        self.messageTime = messageTime ?? now
        self.sender = sender
        self.numbers = numbers
    }

    /// The next number of one of the service's sequences (those the message's route declares,
    /// see ``Routes/on(_:numbers:_:)``). The runtime draws exactly the numbers decisions ask
    /// for, so a message that creates nothing (a duplicate, a stale fact) leaves no gap.
    public mutating func next(_ sequence: String) throws(Rejection) -> Int64 {
        guard var pool = numbers[sequence], !pool.isEmpty else {
            if drawsOnDemand {
                demanded.append(sequence)
                return 0
            }
            throw Rejection(.internalError, "no number of sequence \(sequence) was drawn for this message (declare it on its route)")
        }
        let n = pool.removeFirst()
        numbers[sequence] = pool
        return n
    }
}

/// One line of an aggregate's history: what happened, from which state to which, who and why.
public struct HistoryEntry: Sendable, Equatable {
    /// What happened (`approved`, `documentAttached:offer`, `workorder.assign`, …).
    public var action: String
    public var from: String?
    public var to: String?
    public var by: String?
    public var reason: String?
    /// Further facts worth keeping (e.g. the missing documents).
    public var details: [String: String]

    public init(_ action: String, from: String?, to: String?, by: String? = nil, reason: String? = nil, details: [String: String] = [:]) {
        self.action = action
        self.from = from
        self.to = to
        self.by = by
        self.reason = reason
        self.details = details
    }
}

/// A change to one of the aggregate's durable timers.
public enum TimerChange: Sendable, Equatable {
    /// Fire `name` at `at` (replaces a pending timer of the same name).
    case set(String, at: Date)
    /// Fire `name` once `at` has come **and** no timer named `after` is left on any aggregate of
    /// the service (fired and committed): a join, the end of a ``Broadcast``'s work however the
    /// rounds that fire it run side by side (replaces a pending timer of the same name).
    case join(String, at: Date, after: String)
    /// Forget `name`.
    case clear(String)

    public var name: String {
        switch self {
        case .set(let n, _), .join(let n, _, _), .clear(let n): n
        }
    }
}

/// A timer set at once on every aggregate of a kind (optionally only those in a state, or only
/// those ids): one set-based statement however many there are, each then fired on its own by the
/// shared timers, a round of them per transaction. How a billing cycle reaches 100,000 contracts.
public struct Broadcast: Sendable, Equatable {
    public var kind: String
    /// Only aggregates in this state (nil: all).
    public var status: String?
    /// Only these ids (nil: all).
    public var ids: [String]?
    /// The timer's name (with its parameter, `bill#2026-11`).
    public var timer: String
    public var at: Date

    public init(kind: String, status: String? = nil, ids: [String]? = nil, timer: String, at: Date) {
        self.kind = kind
        self.status = status
        self.ids = ids
        self.timer = timer
        self.at = at
    }
}

/// What one input does to one aggregate: its new state, the history lines, the messages to
/// publish, the timers to set or clear, secondary keys, and inputs for other aggregates.
public struct Decision<State: AggregateState>: Sendable {
    /// The new state; nil leaves the aggregate as it was (or still absent).
    public var state: State?
    public var history: [HistoryEntry]
    /// Published through the outbox, in this order, caused by the input's message.
    public var events: [any Message]
    public var timers: [TimerChange]
    /// Other keys that find this aggregate (a charge's id for a payment naming only it).
    public var aliases: [String]
    /// Inputs for other aggregates, decided right after this one in the same transaction.
    public var followUps: [Target]
    /// Timers to set on every aggregate of a kind (see ``Broadcast``).
    public var broadcasts: [Broadcast] = []
    /// Why nothing changed (a stale or duplicate fact), for the log.
    public var note: String?

    public init(
        state: State?, history: [HistoryEntry] = [], events: [any Message] = [], timers: [TimerChange] = [],
        aliases: [String] = [], followUps: [Target] = [], broadcasts: [Broadcast] = [], note: String? = nil
    ) {
        self.broadcasts = broadcasts
        self.state = state
        self.history = history
        self.events = events
        self.timers = timers
        self.aliases = aliases
        self.followUps = followUps
        self.note = note
    }

    /// Nothing changes; `note` says why.
    public static func ignore(_ note: String) -> Decision { Decision(state: nil, note: note) }

    /// The emitted messages of one type.
    public func emitted<M: Message>(_ type: M.Type) -> [M] { events.compactMap { $0 as? M } }

    /// The same decision after `history` and `events` that came first (a decision that creates
    /// its aggregate before handing on to a rule).
    public func prepending(history h: [HistoryEntry], events e: [any Message]) -> Decision {
        var d = self
        d.history = h + d.history
        d.events = e + d.events
        return d
    }

    /// The same decision with more follow-ups and timer changes.
    public func adding(followUps f: [Target] = [], timers t: [TimerChange] = []) -> Decision {
        var d = self
        d.followUps += f
        d.timers += t
        return d
    }
}
