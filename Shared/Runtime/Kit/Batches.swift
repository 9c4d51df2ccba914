import AMQP
import Contracts
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Runs batches of work items through the ``Engine`` in transactions, for the consumers, the
/// timers and the parked messages of one service: re-runs a batch that lost a race, isolates
/// the message the database refuses, and wakes the relay and the parking service after commit.
final class BatchRunner: Sendable {
    let engine: Engine
    let postgres: PostgresClient
    let relay: OutboxRelay
    let clock: any WallClock
    let transactionTimeout: Duration
    let logger: Logger
    /// Parked messages may be waiting (set when this process parks or finds some; the parking
    /// service clears it when the table is empty).
    let parkingMayExist = Atomic<Bool>(true)
    let parkingSignal = AsyncSignal()
    /// Batches taken so far: each gets the next shard (``DecisionContext/shard``).
    let batches = Atomic<Int>(0)

    init(engine: Engine, postgres: PostgresClient, relay: OutboxRelay, clock: any WallClock, transactionTimeout: Duration, logger: Logger) {
        self.engine = engine
        self.postgres = postgres
        self.relay = relay
        self.clock = clock
        self.transactionTimeout = transactionTimeout
        self.logger = logger
    }

    /// How many times a batch that lost a race (deadlock, serialization, concurrent creation)
    /// runs again at once before it counts as a transient failure.
    static let conflictRetries = 5

    /// Runs the items `source` gives (inside the transaction, e.g. locked timer rows) and
    /// returns what became of each. Throws only transient failures (the caller retries later).
    /// `turn`: the batch's place in its queue's ``LoadOrder`` (its load waits for the earlier ones').
    func run(
        turn: LoadTurn? = nil, _ source: @escaping @Sendable (PostgresConnection, Date) async throws -> [WorkItem]
    ) async throws -> BatchReport {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let report = try await transaction(source, isolated: false, turn: turn)
                after(report)
                return report
            } catch {
                switch Self.classify(error) {
                case .conflict where attempt <= Self.conflictRetries:
                    logger.debug("batch lost a race; running it again", metadata: ["error": "\(error)"])
                    continue
                case .data:
                    logger.warning(
                        "the database refused a value of the batch; running its messages one by one",
                        metadata: ["error": "\(LogSafe.escape(String(describing: error)))"])
                    let report = try await transaction(source, isolated: true)
                    after(report)
                    return report
                default:
                    throw error
                }
            }
        }
    }

    private func after(_ report: BatchReport) {
        if !report.outbox.isEmpty { relay.handOff(report.outbox) }
        if report.parked > 0 { parkingMayExist.store(true, ordering: .relaxed) }
        if report.woken > 0 || report.parked > 0 { parkingSignal.notify() }
    }

    private func transaction(
        _ source: @escaping @Sendable (PostgresConnection, Date) async throws -> [WorkItem], isolated: Bool, turn: LoadTurn? = nil
    ) async throws -> BatchReport {
        let engine = self.engine
        let postgres = self.postgres
        let logger = self.logger
        let now = clock.now()
        let mayPark = parkingMayExist.load(ordering: .relaxed)
        let shard = batches.add(1, ordering: .relaxed).newValue % DecisionContext.shards
        let wallClock = clock
        let clock: @Sendable () -> Date = { wallClock.now() }
        return try await postgres.withTransaction(within: transactionTimeout, "batch transaction", logger: logger) { conn in
            let items = try await source(conn, now)
            if items.isEmpty { return BatchReport(outcomes: []) }
            let recordInbox = items.contains { $0.isDelivery }
            if isolated {
                return try await Self.isolated(
                    items, engine, conn, now: now, mayPark: mayPark, recordInbox: recordInbox, shard: shard, clock: clock)
            }
            return try await engine.run(
                items, on: conn, now: now, recordInbox: recordInbox, parkingMayExist: mayPark, shard: shard, clock: clock, turn: turn)
        }
    }

    /// Each item under its own savepoint: the one the database refuses (SQLSTATE class 22 or
    /// 23) is rolled back and rejected as `invalidData`; its batch-mates are unaffected.
    static func isolated(
        _ items: [WorkItem], _ engine: Engine, _ conn: PostgresConnection, now: Date, mayPark: Bool, recordInbox: Bool, shard: Int = 0,
        clock: (@Sendable () -> Date)? = nil
    ) async throws -> BatchReport {
        var report = BatchReport(outcomes: [])
        for item in items {
            try await conn.query("SAVEPOINT kit_item", logger: engine.logger)
            var one: BatchReport
            do {
                one = try await engine.run(
                    [item], on: conn, now: now, recordInbox: recordInbox, parkingMayExist: mayPark, shard: shard, clock: clock)
                try await conn.query("RELEASE SAVEPOINT kit_item", logger: engine.logger)
            } catch where classify(error) == .data {
                try await conn.query("ROLLBACK TO SAVEPOINT kit_item", logger: engine.logger)
                var refused = item
                refused.failure = Rejection(
                    .invalidData, "the database refused a value of this message: \(LogSafe.escape(databaseMessage(error)))")
                one = try await engine.run(
                    [refused], on: conn, now: now, recordInbox: recordInbox, parkingMayExist: mayPark, shard: shard, clock: clock)
            }
            report.outcomes += one.outcomes
            report.parked += one.parked
            report.woken += one.woken
            report.outbox.append(one.outbox)
        }
        return report
    }

    enum FailureClass: Equatable { case data, conflict, transient }

    /// SQLSTATE classes 22 (data exception), 23 (integrity constraint violation) and 54 (a
    /// program limit such as an index row too large) are the message's fault; 40001 / 40P01 and
    /// a lost creation race are the batch's bad luck; everything else is transient.
    static func classify(_ error: any Error) -> FailureClass {
        if error is ConcurrentModification { return .conflict }
        guard let state = sqlState(error) else { return .transient }
        if state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("54") { return .data }
        if state == "40001" || state == "40P01" { return .conflict }
        return .transient
    }

    static func sqlState(_ error: any Error) -> String? {
        if let e = error as? PSQLError { return e.serverInfo?[.sqlState] }
        return nil
    }

    static func databaseMessage(_ error: any Error) -> String {
        if let e = error as? PSQLError, let m = e.serverInfo?[.message] {
            return "\(e.serverInfo?[.sqlState] ?? "") \(m)"
        }
        return String(describing: error)
    }
}

/// Turns a raw message into a work item: decodes the envelope and its data, and checks that its
/// publisher may send it. Any failure becomes the item's rejection.
struct MessageParser: Sendable {
    let provenance: Provenance

    func parse(_ raw: RawMessage, origin: WorkItem.Origin) -> WorkItem {
        let data = Data(raw.body)
        var header: EnvelopeHeader?
        var message: (any Message)?
        var failure: Rejection?
        // The common case parses the body once: the AMQP `type` property names the envelope's
        // type (every platform publisher sets it). Otherwise the header is read first.
        if let hint = raw.properties.type.flatMap(MessageRegistry.descriptor(for:)),
            let decoded = try? hint.decodeEnvelope(data)
        {
            header = decoded.header
            message = decoded.message
        } else {
            do throws(ContractError) {
                let h = try Wire.decodeHeader(data)
                header = h
                guard let descriptor = MessageRegistry.descriptor(for: h.type) else {
                    throw ContractError(.unknownType, field: "type", message: "unknown message type '\(h.type)'")
                }
                message = try descriptor.decode(data)
            } catch {
                failure = Rejection(error)
            }
        }
        // Envelope attributes the platform stores and copies into AMQP properties (short strings
        // of at most 255 bytes) must fit: an oversized or NUL-carrying one is refused, and the
        // rejection is built without the header so that it cannot carry the bad value on.
        if let h = header, let problem = Self.unfit(h) {
            failure = Rejection(ContractError(.invalidEnvelope, field: problem.field, message: problem.message))
            header = nil
        }
        let messageId = Self.fit(header?.id ?? raw.properties.messageId) ?? "sha-\(fnv1a(raw.body))-\(raw.body.count)"
        let type = Self.fit(header?.type ?? raw.properties.type ?? raw.routingKey) ?? "unknown"
        let descriptor = MessageRegistry.descriptor(for: type)
        // What came to a command queue (or over the command exchange) is answered as a command,
        // whatever type its envelope claims.
        let viaCommands = raw.exchange == PlatformTopology.commands || raw.queue.hasSuffix(".commands")
        let isCommand = descriptor?.kind == .command || viaCommands
        let sender = provenance.publisher(of: raw.properties)
        if failure == nil, let descriptor {
            do throws(Rejection) {
                let expected: MessageKind? =
                    raw.queue.hasSuffix(".commands") ? .command : raw.queue.hasSuffix(".events") ? .event : nil
                if let expected, expected != descriptor.kind {
                    throw Rejection(
                        ContractError(
                            .invalidEnvelope, field: "type",
                            message: "\(type) is \(descriptor.kind == .event ? "an event" : "a command"), not a \(expected.rawValue)"))
                }
                try provenance.check(type: type, kind: descriptor.kind, publisher: sender)
            } catch {
                failure = error
            }
        }
        return WorkItem(
            origin: origin, raw: raw, messageId: messageId, type: type, header: header, message: message, failure: failure,
            isCommand: isCommand, sender: sender)
    }
}

extension MessageParser {
    /// The longest envelope attribute the platform carries (an AMQP short string).
    static let maxAttributeLength = 255

    /// `text` when it can be stored and carried as it is (no NUL, at most 255 bytes), else nil.
    static func fit(_ text: String?) -> String? {
        guard let text, !text.isEmpty, text.utf8.count <= maxAttributeLength, !text.utf8.contains(0) else { return nil }
        return text
    }

    /// The first envelope attribute that does not fit, and why.
    static func unfit(_ h: EnvelopeHeader) -> (field: String, message: String)? {
        let attributes: [(String, String?)] = [
            ("id", h.id), ("type", h.type), ("source", h.source), ("correlationid", h.correlationid),
            ("causationid", h.causationid), ("traceparent", h.traceparent),
        ]
        if h.id.isBlank { return ("id", "must not be empty") }
        for (field, value) in attributes {
            guard let value else { continue }
            if value.utf8.contains(0) { return (field, "must not contain NUL (U+0000) characters") }
            if value.utf8.count > maxAttributeLength { return (field, "must be at most \(maxAttributeLength) bytes") }
        }
        return nil
    }
}
