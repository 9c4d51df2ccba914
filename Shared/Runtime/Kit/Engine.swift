import AMQP
import Contracts
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// One unit of work: a delivered message, a due timer, or a parked message run again.
struct WorkItem: Sendable {
    enum Origin: Sendable {
        case delivery
        case timer(kind: String, id: String, name: String, dueAt: Date)
        case parked(expired: Bool)
        /// From inside the service (``LocalInputs``): no broker, no inbox; the caller gets the outcome.
        case local
    }
    var origin: Origin
    /// The message as it came (deliveries and parked messages; nil for timers).
    var raw: RawMessage?
    var messageId: String
    /// The message type, or `timer:<name>`.
    var type: String
    var header: EnvelopeHeader?
    var message: (any Message)?
    /// Why the message cannot be handled at all (decoding, provenance): rejected at once.
    var failure: Rejection?
    var isCommand: Bool
    var sender: String?

    var isDelivery: Bool { if case .delivery = origin { true } else { false } }
    var isParked: Bool { if case .parked = origin { true } else { false } }
    var isExpired: Bool { if case .parked(let expired) = origin { expired } else { false } }
}

/// What became of one item.
enum ItemOutcome: Sendable, Equatable {
    case handled
    case duplicate
    case rejected(String)
    /// Waits in `parked` for its subject.
    case parked

    var label: String {
        switch self {
        case .handled: "handled"
        case .duplicate: "duplicate"
        case .rejected: "rejected"
        case .parked: "parked"
        }
    }
}

/// A batch lost a race for a new aggregate with a concurrent batch: run it again.
struct ConcurrentModification: Error, CustomStringConvertible {
    var description: String { "an aggregate of the batch was created or changed concurrently; the batch runs again" }
}

/// What a batch did.
struct BatchReport: Sendable {
    var outcomes: [ItemOutcome]
    /// Messages parked by this batch.
    var parked = 0
    /// Parked messages woken because their subject appeared.
    var woken = 0
    /// Rows written to the outbox, for the relay to publish once the transaction has committed.
    var outbox = OutboxHandOff()
    /// The rejection of each rejected item, by its index.
    var rejections: [Int: Rejection] = [:]
}

/// The service kit's core: load → decide → save for a batch, inside the caller's transaction.
///
/// Round trips per batch: the inbox insert; the alias lookup (only when a route names an
/// alias); the load of every aggregate the batch touches (one statement, `FOR UPDATE`); the
/// numbers drawn (only when a route declares some); then one statement each for the aggregates,
/// the history, the timers, the aliases and parked messages (when there are any), and the outbox.
/// Decisions run in memory in delivery order, so two messages about one aggregate in one batch
/// see each other's effects.
struct Engine: Sendable {
    let service: String
    let routes: Routes
    let aggregates: [String: AggregateInfo]
    let emits: Set<String>
    let parkTimeout: Duration
    let logger: Logger

    var source: String { "/ot/\(service)" }
    /// The longest aggregate id or alias a message may name (they are index keys).
    static let maxKeyLength = 256
    /// Stored states are `jsonb` (which orders keys itself): written as they encode, unsorted.
    static let stateEncoder = StreamJSONEncoder()
    var deadLetterQueue: String { "\(service).dead" }

    struct Key: Hashable {
        var kind: String
        var id: String
    }
    struct AliasKey: Hashable {
        var kind: String
        var alias: String
    }
    struct Slot {
        var info: AggregateInfo
        var state: (any AggregateState)?
        var version: Int32
        var correlationId: String?
        var lastMessageId: String?
        var corrupt: String?
        var dirty = false
        /// The state as loaded (a decide pass that must be run again starts from it).
        var loadedState: (any AggregateState)?
    }

    /// The batch's working set.
    final class Work {
        var slots: [Key: Slot] = [:]
        var aliasMap: [AliasKey: String] = [:]
        /// The secondary keys as the database had them.
        var loadedAliases: [AliasKey: String] = [:]
        var aliasesLookedUp: Set<AliasKey> = []
        var upserts: [Key] = []
        var history: HistoryRows
        var timers: [Key: [String: TimerChange]] = [:]
        var newAliases: [(AliasKey, String)] = []
        var outbox: [OutgoingMessage] = []
        var parks: ParkRows
        /// For each park: its key (kind, key, is alias).
        var parkKeys: [(String, String, Bool)] = []
        var parkDeletes: [String] = []
        var parkSleeps: [String] = []
        var inboxOutcomes: [(String, String)] = []
        var broadcasts: [Broadcast] = []
        init(now: Date) {
            history = HistoryRows(at: now)
            parks = ParkRows(now: now)
        }

        /// A work set with what was loaded and nothing decided yet.
        func loadedOnly(now: Date) -> Work {
            let w = Work(now: now)
            w.slots = slots.mapValues { slot in
                var s = slot
                s.state = s.loadedState
                s.dirty = false
                return s
            }
            w.aliasMap = loadedAliases
            w.loadedAliases = loadedAliases
            w.aliasesLookedUp = aliasesLookedUp
            return w
        }
    }

    /// Runs the batch on `conn` (inside a transaction). `parkingMayExist`: whether parked
    /// messages may be waiting (then subjects created here wake them). `turn`: the batch's place
    /// in its queue's ``LoadOrder``, waited for before the load and released once it returned.
    func run(
        _ items: [WorkItem], on conn: PostgresConnection, now: Date, recordInbox: Bool = true, parkingMayExist: Bool = true,
        shard: Int = 0, clock: (@Sendable () -> Date)? = nil, turn: LoadTurn? = nil
    ) async throws -> BatchReport {
        defer { turn?.release() }
        var now = now
        let loaded = Work(now: now)

        // 1. Targets, pure: from the routes (messages) or the aggregate (timers).
        var live = Array(repeating: true, count: items.count)
        var targets: [[Target]] = Array(repeating: [], count: items.count)
        var failures: [Rejection?] = items.map(\.failure)
        for i in items.indices where failures[i] == nil {
            let item = items[i]
            if case .timer(let kind, let id, let name, let dueAt) = item.origin {
                if let target = aggregates[kind]?.timer(name, dueAt, id) { targets[i] = [target] }
                continue
            }
            guard let message = item.message, let route = routes.routes[item.type] else {
                failures[i] = Rejection(.unhandled, "\(service) has no route for \(item.type)")
                continue
            }
            let incoming = Incoming(
                id: item.messageId, time: item.header?.time ?? now, sender: item.sender,
                correlationId: item.header?.correlationid)
            targets[i] = route.targets(message, incoming)
            if let long = targets[i].first(where: { $0.key.text.utf8.count > Self.maxKeyLength }) {
                failures[i] = Rejection.validation([
                    FieldProblem(field: "data", problem: "the \(long.aggregate.kind) id is longer than \(Self.maxKeyLength) bytes")
                ])
                targets[i] = []
                continue
            }
        }

        // 2. One statement: inbox, secondary keys, aggregates (locked), numbers.
        var begin = BatchBegin()
        let deliveries = items.indices.filter { items[$0].isDelivery }
        if recordInbox {
            begin.inboxIds = deliveries.map { items[$0].messageId }
            begin.inboxTypes = deliveries.map { items[$0].type }
        }
        var infos: [Key: AggregateInfo] = [:]
        var aliasKeys = Set<AliasKey>()
        for ts in targets {
            for t in ts {
                switch t.key {
                case .id(let id): infos[Key(kind: t.aggregate.kind, id: id)] = t.aggregate
                case .alias(let a): aliasKeys.insert(AliasKey(kind: t.aggregate.kind, alias: a))
                }
            }
        }
        for k in infos.keys {
            begin.kinds.append(k.kind)
            begin.ids.append(k.id)
        }
        for a in aliasKeys {
            begin.aliasKinds.append(a.kind)
            begin.aliases.append(a.alias)
        }
        loaded.aliasesLookedUp = aliasKeys
        var fresh = Set<String>()
        var found = Set<Key>()
        await turn?.wait()
        for try await (tag, a, b, c, version, correlation, last) in try await conn.execute(begin, logger: logger) {
            switch tag {
            case "i":
                fresh.insert(a)
            case "l":
                if let b, let c {
                    loaded.aliasMap[AliasKey(kind: a, alias: b)] = c
                    loaded.loadedAliases[AliasKey(kind: a, alias: b)] = c
                }
            case "a":
                guard let b, let c, let version else { continue }
                let k = Key(kind: a, id: b)
                guard let info = infos[k] ?? aggregates[a] else { continue }
                found.insert(k)
                loaded.slots[k] = slot(info, k, data: c, version: version, correlation: correlation, last: last)
            default:
                break
            }
        }
        turn?.release()
        // The batch's time is read once it holds its rows: a batch that waited for another's lock
        // stamps its history and events after that one's, never before what it follows.
        if let clock {
            now = max(now, clock())
            loaded.history = HistoryRows(at: now)
            loaded.parks = ParkRows(now: now)
        }
        for (k, info) in infos where !found.contains(k) {
            loaded.slots[k] = Slot(info: info, state: nil, version: 0, correlationId: nil, lastMessageId: nil)
        }
        for a in aliasKeys {
            guard let id = loaded.aliasMap[a] else { continue }
            let k = Key(kind: a.kind, id: id)
            if loaded.slots[k] == nil, let info = aggregates[a.kind] {
                loaded.slots[k] = Slot(info: info, state: nil, version: 0, correlationId: nil, lastMessageId: nil)
            }
        }
        var report = BatchReport(outcomes: Array(repeating: .handled, count: items.count))
        if recordInbox {
            var seen = Set<String>()
            for i in deliveries where !fresh.contains(items[i].messageId) || !seen.insert(items[i].messageId).inserted {
                live[i] = false
                report.outcomes[i] = .duplicate
            }
        }

        // 3. Decide, in delivery order. Numbers are drawn for what the decisions ask: a first
        // pass counts them; when there are any, they are drawn in one statement and the pass runs
        // again with them (decide is pure: the second pass decides the same, with the numbers).
        var work = loaded
        var demand = try await decidePass(items, live, targets, failures, &report, work, numbers: [:], now: now, shard: shard, conn)
        if demand.contains(where: { !$0.isEmpty }) {
            var drawn: [String: [Int64]] = [:]
            for try await (sequence, value) in try await conn.execute(NumbersDraw(sequences: demand.flatMap { $0 }), logger: logger) {
                drawn[sequence, default: []].append(value)
            }
            var numbers: [Int: [String: [Int64]]] = [:]
            for (i, sequences) in demand.enumerated() {
                for sequence in sequences {
                    guard var pool = drawn[sequence], !pool.isEmpty else { continue }
                    numbers[i, default: [:]][sequence, default: []].append(pool.removeFirst())
                    drawn[sequence] = pool
                }
            }
            work = loaded.loadedOnly(now: now)
            report.parked = 0
            for i in items.indices where live[i] { report.outcomes[i] = .handled }
            demand = try await decidePass(items, live, targets, failures, &report, work, numbers: numbers, now: now, shard: shard, conn)
        }

        // 3. One statement: every write of the batch.
        for (i, outcome) in report.outcomes.enumerated()
        where (items[i].isDelivery || items[i].isParked) && outcome != .handled && outcome != .duplicate {
            work.inboxOutcomes.append((items[i].messageId, outcome.label))
        }
        let saved = try await save(work, now: now, parkingMayExist: parkingMayExist, conn)
        report.woken = saved.woken
        report.outbox = saved.outbox
        return report
    }

    /// Decides every live item in order on `work`; returns, per item, the sequences its
    /// decisions asked numbers of that `numbers` did not provide.
    func decidePass(
        _ items: [WorkItem], _ live: [Bool], _ targets: [[Target]], _ failures: [Rejection?], _ report: inout BatchReport,
        _ work: Work, numbers: [Int: [String: [Int64]]], now: Date, shard: Int, _ conn: PostgresConnection
    ) async throws -> [[String]] {
        var demand = Array(repeating: [String](), count: items.count)
        for i in items.indices where live[i] {
            let item = items[i]
            let log = ItemLogger(base: logger, item: item)
            if let failure = failures[i] {
                reject(item, failure, work, now: now, log)
                report.outcomes[i] = .rejected(failure.code.description)
                report.rejections[i] = failure
                continue
            }
            var context = DecisionContext(
                now: now, messageId: item.messageId, messageTime: item.header?.time ?? now, sender: item.sender,
                numbers: numbers[i] ?? [:])
            context.drawsOnDemand = numbers.isEmpty
            context.shard = shard
            context.mayWait = item.isCommand && !item.isExpired && item.raw != nil
            do {
                try await decide(item, targets[i], &context, work, now: now, conn, log)
                demand[i] = context.demanded
                if item.isParked {
                    work.parkDeletes.append(item.messageId)
                    work.inboxOutcomes.append((item.messageId, "handled"))
                }
            } catch let failure as Parked {
                if item.isParked {
                    work.parkSleeps.append(item.messageId)
                } else {
                    park(item, failure, work, now: now, log)
                    report.parked += 1
                }
                report.outcomes[i] = .parked
            } catch let r as Rejection {
                if case .timer(let kind, let id, let name, _) = item.origin {
                    // A timer cannot be rejected; it must not fire again either.
                    log.log(.error, "timer decision failed; timer dropped", ["timer": "\(kind)/\(id)/\(name)", "reason": "\(r)"])
                    work.timers[Key(kind: kind, id: id), default: [:]][name] = .clear(name)
                } else {
                    reject(item, r, work, now: now, log)
                    if item.isParked { work.parkDeletes.append(item.messageId) }
                }
                report.outcomes[i] = .rejected(r.code.description)
                report.rejections[i] = r
            }
        }
        return demand
    }

    /// A command whose subject is not known yet, to be parked under that subject's key.
    struct Parked: Error {
        var kind: String
        var key: String
        var isAlias: Bool
        var rejection: Rejection
    }

    // MARK: Deciding

    func decide(
        _ item: WorkItem, _ targets: [Target], _ context: inout DecisionContext, _ work: Work, now: Date,
        _ conn: PostgresConnection, _ log: ItemLogger
    ) async throws {
        var pending = targets[...]
        var overlay: [Key: any AggregateState] = [:]
        var history: [(Key, HistoryEntry)] = []
        var events: [any Message] = []
        var timers: [(Key, TimerChange)] = []
        var aliases: [(AliasKey, String)] = []
        var broadcasts: [Broadcast] = []
        var firstKey: Key?
        var steps = 0
        if case .timer(let kind, let id, let name, _) = item.origin {
            // A fired timer is gone unless the decision sets it again.
            timers.append((Key(kind: kind, id: id), .clear(name)))
        }
        while let target = pending.popFirst() {
            steps += 1
            if steps > 64 { throw Rejection(.internalError, "more than 64 follow-up decisions for one message") }
            let kind = target.aggregate.kind
            var id: String?
            switch target.key {
            case .id(let i): id = i
            case .alias(let a):
                let ak = AliasKey(kind: kind, alias: a)
                if let known = aliases.first(where: { $0.0 == ak })?.1 {
                    id = known
                } else {
                    if !work.aliasesLookedUp.contains(ak) { try await lookUp([ak], work, conn) }
                    id = work.aliasMap[ak]
                }
            }
            var before: (any AggregateState)?
            var key: Key?
            if let id {
                let k = Key(kind: kind, id: id)
                key = k
                var slot = work.slots.index(forKey: k)
                if slot == nil {
                    try await load([k], infos: [k: target.aggregate], work, conn)
                    slot = work.slots.index(forKey: k)
                }
                if let slot, let corrupt = work.slots.values[slot].corrupt {
                    throw Rejection(.corruptState, "the stored \(kind) \(id) cannot be read: \(corrupt)")
                }
                before = overlay[k] ?? slot.flatMap { work.slots.values[$0].state }
                if firstKey == nil { firstKey = k }
            }
            let decision: AnyDecision
            do {
                decision = try target.run(before, &context)
            } catch let r {
                if r.code == .notFound, r.mayBeLate, before == nil, item.isCommand, !item.isExpired, item.raw != nil {
                    switch target.key {
                    case .id(let i): throw Parked(kind: kind, key: i, isAlias: false, rejection: r)
                    case .alias(let a): throw Parked(kind: kind, key: a, isAlias: true, rejection: r)
                    }
                }
                throw r
            }
            let trigger = target.trigger ?? item.type
            try check(decision, target.aggregate, before: before, trigger: trigger, hasId: key != nil)
            if let note = decision.note {
                // A fact that changed nothing is worth a line; the note of a routine step is not.
                let level: Logger.Level = decision.state == nil && decision.events.isEmpty ? .info : .debug
                log.log(level, note, ["aggregate": "\(kind)/\(id ?? "?")"])
            }
            if let state = decision.state, let key { overlay[key] = state }
            if let key {
                for h in decision.history { history.append((key, h)) }
                for t in decision.timers { timers.append((key, t)) }
                for a in decision.aliases { aliases.append((AliasKey(kind: kind, alias: a), key.id)) }
            }
            events += decision.events
            broadcasts += decision.broadcasts
            pending += decision.followUps
        }

        // All decisions of the message stand: apply them to the batch.
        for (k, state) in overlay {
            // In place: a slot copied out and back costs a retain and a release per field.
            guard let i = work.slots.index(forKey: k) else { continue }
            if !work.slots.values[i].dirty { work.upserts.append(k) }
            Self.apply(state, item, to: &work.slots.values[i])
        }
        for (k, h) in history {
            work.history.kinds.append(k.kind)
            work.history.ids.append(k.id)
            work.history.actions.append(h.action)
            work.history.froms.append(h.from ?? "")
            work.history.tos.append(h.to ?? "")
            work.history.bys.append(h.by ?? "")
            work.history.reasons.append(h.reason ?? "")
            work.history.details.append(
                h.details.isEmpty ? "" : String(decoding: (try? Wire.encoder.encode(h.details)) ?? Data(), as: UTF8.self))
            work.history.messageIds.append(item.messageId)
        }
        for (k, t) in timers { work.timers[k, default: [:]][t.name] = t }
        work.broadcasts += broadcasts
        for (a, id) in aliases where work.aliasMap[a] == nil {
            work.aliasMap[a] = id
            work.newAliases.append((a, id))
        }
        let cause = item.header ?? firstKey.flatMap { k in
            work.slots[k].map { slot in
                EnvelopeHeader(
                    id: slot.lastMessageId ?? item.messageId, source: source, type: item.type, time: now,
                    correlationid: slot.correlationId ?? k.id)
            }
        }
        for event in events {
            work.outbox.append(try outgoing(event, causedBy: cause, now: now))
        }
        if !events.isEmpty {
            log.log(.debug, "decided", ["emitted": "\(events.map { type(of: $0).type })"])
        }
    }

    static func apply(_ state: any AggregateState, _ item: WorkItem, to slot: inout Slot) {
        slot.state = state
        slot.dirty = true
        if item.header != nil { slot.lastMessageId = item.messageId }
        if slot.version == 0, slot.correlationId == nil {
            slot.correlationId = item.header?.correlationid ?? item.header?.id ?? item.messageId
        }
    }

    /// Refuses a decision that steps outside the service's own declarations.
    func check(_ d: AnyDecision, _ info: AggregateInfo, before: (any AggregateState)?, trigger: String, hasId: Bool) throws(Rejection) {
        for event in d.events where !emits.contains(type(of: event).type) {
            throw Rejection(.internalError, "\(info.kind) decided to emit \(type(of: event).type), which \(service) does not own")
        }
        for h in d.history {
            guard let to = h.to else { continue }
            guard info.machine.allows(from: h.from, to: to, on: trigger) else {
                throw Rejection(
                    .internalError,
                    "\(info.kind): transition \(h.from ?? "∅") → \(to) on \(trigger) is not declared in its state machine")
            }
        }
        guard let state = d.state else { return }
        guard hasId else { throw Rejection(.internalError, "\(info.kind): a decision created an aggregate it has no key for") }
        let status = state.status  // computed by some states: read once
        guard info.machine.state(status) != nil else {
            throw Rejection(.internalError, "\(info.kind): status \(status) is not a state of its machine")
        }
        if d.history.last(where: { $0.to != nil })?.to != status, status != before?.status {
            throw Rejection(
                .internalError, "\(info.kind): status \(before?.status ?? "∅") → \(status) without a history line")
        }
    }

    /// An outgoing message for an emitted one: same correlation as its cause, causation = the
    /// cause's id.
    func outgoing<M: Message>(_ message: M, causedBy cause: EnvelopeHeader?, now: Date) throws -> OutgoingMessage {
        let envelope = EnvelopeCodec.envelope(message, source: source, causedBy: cause, time: now)
        return try EnvelopeCodec.outgoing(envelope, appId: service)
    }

    // MARK: Rejecting and parking

    /// One `command.rejected` (for commands) and one dead letter.
    func reject(_ item: WorkItem, _ r: Rejection, _ work: Work, now: Date, _ log: ItemLogger) {
        log.log(.notice, "message rejected", ["reason.code": "\(r.code)", "reason": "\(r.message)"])
        if item.isCommand {
            let rejected = CommandRejected(
                commandId: item.messageId, commandType: item.type, code: r.code.description, message: r.message, errors: r.errors)
            var envelope = EnvelopeCodec.envelope(rejected, source: source, causedBy: item.header, time: now)
            if item.header == nil {
                envelope.causationid = item.messageId
                envelope.correlationid = MessageParser.fit(item.raw?.properties.correlationId) ?? item.messageId
            }
            if let message = try? EnvelopeCodec.outgoing(envelope, appId: service) { work.outbox.append(message) }
        }
        if let raw = item.raw {
            work.outbox.append(deadLetter(raw, code: r.code.description, reason: r.message, sender: item.sender, now: now))
        }
    }

    func park(_ item: WorkItem, _ p: Parked, _ work: Work, now: Date, _ log: ItemLogger) {
        guard let raw = item.raw else { return }
        log.log(
            .info, "command names something not known yet; parked until it appears",
            ["parked.on": "\(p.kind)/\(p.key)", "reason": "\(p.rejection.message)"])
        let props = String(decoding: (try? JSONEncoder().encode(StoredProperties(raw.properties))) ?? Data("{}".utf8), as: UTF8.self)
        work.parks.ids.append(item.messageId)
        work.parks.kinds.append(p.kind)
        work.parks.keys.append(p.key)
        work.parks.isAlias.append(p.isAlias)
        work.parks.queues.append(raw.queue)
        work.parks.exchanges.append(raw.exchange)
        work.parks.routingKeys.append(raw.routingKey)
        work.parks.properties.append(props)
        work.parks.bodies.append(ByteBuffer(bytes: raw.body))
        work.parks.expires.append(now.addingTimeInterval(parkTimeout.seconds))
        work.parkKeys.append((p.kind, p.key, p.isAlias))
    }

    /// The dead letter of a message: its body and properties with the reason in headers; the
    /// original publisher travels in `x-origin-user` (the relay stamps this service's user).
    func deadLetter(_ raw: RawMessage, code: String, reason: String, sender: String?, now: Date) -> OutgoingMessage {
        var props = raw.properties
        props.headers[Headers.deadCode] = .string(code)
        props.headers[Headers.deadReason] = .string(String(LogSafe.escape(reason).prefix(1000)))
        props.headers[Headers.originalExchange] = .string(raw.exchange)
        props.headers[Headers.originalRoutingKey] = .string(raw.routingKey)
        props.headers[Headers.originalQueue] = .string(raw.queue)
        props.headers[Headers.failedAt] = .string(Wire.timestamp(now))
        props.headers[Headers.service] = .string(service)
        if let sender { props.headers[Provenance.userHeader] = .string(sender) }
        props.userId = nil
        // What the outbox stores must fit its columns (no NUL in text).
        props.messageId = MessageParser.fit(props.messageId) ?? "dead-\(fnv1a(raw.body))"
        props.type = MessageParser.fit(props.type)
        props.correlationId = MessageParser.fit(props.correlationId)
        props.contentType = MessageParser.fit(props.contentType)
        props.headers = props.headers.filter { key, value in
            !key.utf8.contains(0) && !(value.stringValue?.utf8.contains(0) ?? false)
        }
        props.deliveryMode = 2
        return OutgoingMessage(exchange: "", routingKey: deadLetterQueue, body: raw.body, properties: props)
    }

    // MARK: Storage

    func lookUp(_ keys: Set<AliasKey>, _ work: Work, _ conn: PostgresConnection) async throws {
        let missing = keys.filter { !work.aliasesLookedUp.contains($0) }
        if missing.isEmpty { return }
        work.aliasesLookedUp.formUnion(missing)
        for try await (kind, alias, id) in try await conn.execute(
            AliasLookup(kinds: missing.map(\.kind), aliases: missing.map(\.alias)), logger: logger)
        {
            work.aliasMap[AliasKey(kind: kind, alias: alias)] = id
            work.loadedAliases[AliasKey(kind: kind, alias: alias)] = id
        }
    }

    /// Loads aggregates a decision needs that the batch's first statement did not (follow-ups,
    /// secondary keys registered within the batch).
    func load(_ keys: Set<Key>, infos: [Key: AggregateInfo], _ work: Work, _ conn: PostgresConnection) async throws {
        let missing = keys.filter { work.slots[$0] == nil }
        if missing.isEmpty { return }
        var found = Set<Key>()
        for try await (kind, id, data, version, correlation, last) in try await conn.execute(
            AggregateLoad(kinds: missing.map(\.kind), ids: missing.map(\.id)), logger: logger)
        {
            let k = Key(kind: kind, id: id)
            guard let info = infos[k] ?? aggregates[kind] else { continue }
            found.insert(k)
            work.slots[k] = slot(info, k, data: data, version: version, correlation: correlation, last: last)
        }
        for k in missing where !found.contains(k) {
            guard let info = infos[k] ?? aggregates[k.kind] else { continue }
            work.slots[k] = Slot(info: info, state: nil, version: 0, correlationId: nil, lastMessageId: nil)
        }
    }

    /// A loaded aggregate.
    func slot(_ info: AggregateInfo, _ k: Key, data: String, version: Int32, correlation: String?, last: String?) -> Slot {
        var slot = Slot(info: info, state: nil, version: version, correlationId: correlation, lastMessageId: last)
        do {
            slot.state = try info.decode(Data(data.utf8))
            slot.loadedState = slot.state
        } catch {
            slot.corrupt = "\(error)"
            logger.error("stored aggregate cannot be decoded", metadata: ["aggregate": "\(k.kind)/\(k.id)", "error": "\(error)"])
        }
        return slot
    }

    /// Writes the batch in one statement; returns the aggregates written, the parked messages
    /// woken, and the outbox rows with their ids for the relay.
    func save(
        _ work: Work, now: Date, parkingMayExist: Bool, _ conn: PostgresConnection
    ) async throws -> (written: Int, woken: Int, outbox: OutboxHandOff) {
        var save = BatchSave(now: now)
        var createdKeys: [Key] = []
        for k in work.upserts {
            guard let i = work.slots.index(forKey: k), let state = work.slots.values[i].state else { continue }
            let slot = work.slots.values[i]
            if slot.version == 0 { createdKeys.append(k) }
            save.upsert.kinds.append(k.kind)
            save.upsert.ids.append(k.id)
            save.upsert.statuses.append(state.status)
            save.upsert.data.append(String(decoding: try Self.stateEncoder.encode(state), as: UTF8.self))
            save.upsert.versions.append(slot.version + 1)
            save.upsert.correlations.append(slot.correlationId ?? "")
            save.upsert.lastMessages.append(slot.lastMessageId ?? "")
        }
        save.history = work.history
        for (k, changes) in work.timers {
            for (name, change) in changes {
                switch change {
                case .clear:
                    save.timers.clearKinds.append(k.kind)
                    save.timers.clearIds.append(k.id)
                    save.timers.clearNames.append(name)
                case .set(_, let at):
                    save.timers.set(k.kind, k.id, name, at: at, after: "")
                case .join(_, let at, let after):
                    save.timers.set(k.kind, k.id, name, at: at, after: after)
                }
            }
        }
        for (a, id) in work.newAliases {
            save.aliases.kinds.append(a.kind)
            save.aliases.aliases.append(a.alias)
            save.aliases.ids.append(id)
        }
        // Subjects this batch created wake what waits for them — also what it parked itself.
        var created = Set<String>()
        for k in createdKeys { created.insert("\(k.kind)\u{1F}\(k.id)\u{1F}0") }
        for (a, _) in work.newAliases { created.insert("\(a.kind)\u{1F}\(a.alias)\u{1F}1") }
        save.parks = work.parks
        save.parkWoken = work.parkKeys.map { created.contains("\($0.0)\u{1F}\($0.1)\u{1F}\($0.2 ? 1 : 0)") }
        save.parkDeletes = work.parkDeletes
        save.parkSleeps = work.parkSleeps
        if parkingMayExist {
            for k in createdKeys {
                save.wake.kinds.append(k.kind)
                save.wake.keys.append(k.id)
                save.wake.isAlias.append(false)
            }
            for (a, _) in work.newAliases {
                save.wake.kinds.append(a.kind)
                save.wake.keys.append(a.alias)
                save.wake.isAlias.append(true)
            }
        }
        save.outbox = try OutboxRows(work.outbox)
        save.outcomeIds = work.inboxOutcomes.map(\.0)
        save.outcomes = work.inboxOutcomes.map(\.1)
        var written = 0
        var woken = save.parkWoken.filter { $0 }.count
        var outboxIds: [Int64] = []
        for try await (w, k, o) in try await conn.execute(save, logger: logger) {
            written = Int(w)
            woken += Int(k)
            outboxIds = o ?? []
        }
        if written != save.upsert.kinds.count { throw ConcurrentModification() }
        for b in work.broadcasts {
            // Rare (a billing cycle): one set-based statement each, in the batch's transaction.
            let ids = b.ids ?? []
            let query: PostgresQuery = """
                INSERT INTO timers (kind, id, name, due_at)
                SELECT kind, id, \(b.timer), \(b.at) FROM aggregates
                WHERE kind = \(b.kind) AND (\(b.status ?? "") = '' OR status = \(b.status ?? "")) AND (\(b.ids == nil) OR id = ANY(\(ids)))
                ON CONFLICT (kind, id, name) DO UPDATE SET due_at = excluded.due_at
                """
            try await conn.query(query, logger: logger)
        }
        return (written, woken, OutboxHandOff(rows: save.outbox, ids: outboxIds))
    }
}

/// The logger of one item, with its message id and type as metadata — built only when a line is
/// actually written (most items log nothing).
struct ItemLogger {
    let base: Logger
    let item: WorkItem

    /// The metadata is built only when the line is written (an `@autoclosure`).
    func log(_ level: Logger.Level, _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Logger.Metadata = [:]) {
        guard base.logLevel <= level else { return }
        var m = metadata()
        m["message.id"] = "\(item.messageId)"
        m["message.type"] = "\(item.type)"
        if let c = item.header?.correlationid { m["correlation.id"] = "\(c)" }
        base.log(level: level, "\(message())", metadata: m)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
