import AMQP
import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime
import ServiceLifecycle
import Synchronization

/// Replays the console's event log (``ConsoleEventLog``, the stream `console.events.log`) into
/// its own input queue, so that the read model is rebuilt from scratch when its schema is gone.
///
/// 1. **The mark.** The end of the log as it is when the replay starts is marked by a message the
///    replay appends to the stream itself (through the default exchange, routing key = the
///    stream): a tiny message of type ``markType`` with header ``markHeader`` = the replay's id.
///    Events that reach the log later are not replayed (they reach `console.events` anyway).
///    (RabbitMQ 3.10 tells no stream's last offset over AMQP 0-9-1: the message count of a
///    passive declare lags behind and counts offsets, not messages.)
/// 2. **Reading.** A consumer reads the stream from `x-stream-offset: first` (the oldest segment
///    retention kept) with a prefetch and manual acks, up to its own mark. Marks of other
///    replays are skipped.
/// 3. **Republishing.** Each event goes, unchanged — same body, message id, type, timestamp,
///    correlation id, headers (but the broker's delivery annotation `x-stream-offset`) — to the
///    console's events queue through the default exchange, in batches with publisher confirms;
///    the stream deliveries of a batch are acknowledged once it is confirmed. It is published as
///    the console's broker user (the broker checks `user_id`) on behalf of the publisher the
///    console accepted it from the first time, in header `x-origin-user` (``Provenance``: the
///    console re-publishes on behalf of others, like a dead-letter replay) — the original
///    `user_id`, or for an event that was itself re-published by a dead-letter replay the
///    original publisher it named. An event without `user_id` (refused the first time: its
///    publisher was unknown) is skipped.
/// 4. The kit's inbox deduplicates by message id: replaying events the console already has
///    changes nothing, so a replay is safe at any time, with the console running.
///
/// While `console.events` holds more than `maxBacklog` ready messages the replay waits: a long
/// log does not pile up in the broker faster than the console folds it.
///
/// A stream's deliveries are only ever acknowledged (RabbitMQ closes the connection on a nack or
/// reject of one): the replay ends its consumer with `basic.cancel` and acknowledges what still
/// arrives.
public struct ConsoleReplay: Sendable {
    /// The type of the mark messages.
    public static let markType = "console.replay.mark"
    /// The header naming the replay a mark belongs to.
    public static let markHeader = "x-console-replay"
    /// The broker's annotation of a stream delivery (its offset): not part of the event.
    static let offsetHeader = "x-stream-offset"

    /// What a replay did.
    public struct Report: Sendable, CustomStringConvertible {
        public var id: String
        /// Events republished to the input queue (confirmed by the broker).
        public var republished = 0
        /// Events left out (no `user_id`).
        public var skipped = 0
        /// Marks of earlier replays passed over.
        public var marks = 0
        /// Stopped before its mark (shutdown).
        public var interrupted = false

        public var description: String {
            "\(republished) event(s) replayed from \(ConsoleEventLog.queue)"
                + (skipped > 0 ? ", \(skipped) without user_id skipped" : "") + (interrupted ? " (interrupted)" : "")
        }
    }

    /// Reads the stream (a connection of the replay's own is best: the stream's failures then
    /// touch nothing else).
    let reader: AMQPConnection
    /// Publishes the mark and the events (publisher confirms).
    let publisher: AMQPConnection
    /// The console's broker user (`user_id` of what the replay publishes).
    let user: String
    /// The input queue the events go to (`console.events`).
    let target: String
    let batchSize: Int
    let maxBacklog: UInt32
    let logger: Logger

    public init(
        reader: AMQPConnection, publisher: AMQPConnection, user: String, target: String, batchSize: Int = 500,
        maxBacklog: UInt32 = 20_000, logger: Logger
    ) {
        self.reader = reader
        self.publisher = publisher
        self.user = user
        self.target = target
        self.batchSize = max(1, batchSize)
        self.maxBacklog = maxBacklog
        self.logger = logger
    }

    /// The events queue of a console named `service` (`SERVICE_NAME`): `<service>.events`.
    public static func inputQueue(service: String) -> String {
        ConsoleService.definition.topology(retryDelays: [], serviceName: service).inputs
            .first { $0.exchange == PlatformTopology.events }?.name ?? "\(service).events"
    }

    /// Replays the log up to its end as of now. Returns early, `interrupted`, when `stop` is
    /// requested.
    public func run(id: String = UUID().uuidString.lowercased(), stop: ReplayStop = ReplayStop()) async throws -> Report {
        var report = Report(id: id)
        try await mark(id)
        let prefetch = UInt16(clamping: max(2 * batchSize, 100))
        let consumer = try await reader.consume(
            queue: ConsoleEventLog.queue, prefetch: prefetch, arguments: [Self.offsetHeader: "first"])
        let reader = self.reader
        stop.onRequest { Task { try? await reader.cancel(consumer) } }
        var deliveries = consumer.deliveries.makeAsyncIterator()
        var pending: [(Delivery, OutgoingMessage)] = []
        var reachedMark = false
        do {
            while !reachedMark, let batch = await deliveries.nextBatch() {
                var passed: [Delivery] = []
                for d in batch {
                    if reachedMark {
                        passed.append(d)  // after the mark: not this replay's
                    } else if let mark = d.properties.headers[Self.markHeader]?.stringValue {
                        passed.append(d)
                        if mark == id { reachedMark = true } else { report.marks += 1 }
                    } else if let message = Self.republication(of: d, as: user, to: target) {
                        pending.append((d, message))
                    } else {
                        report.skipped += 1
                        passed.append(d)
                    }
                }
                reader.ack(passed)
                if pending.count >= batchSize || (reachedMark && !pending.isEmpty) {
                    if stop.isRequested { break }
                    try await republish(&pending, &report)
                }
            }
        } catch {
            await end(consumer, &deliveries, pending.map(\.0))
            throw error
        }
        await end(consumer, &deliveries, pending.map(\.0))
        guard reachedMark else {
            if stop.isRequested {
                report.interrupted = true
                return report
            }
            throw ReplayError("reading \(ConsoleEventLog.queue) ended before the replay's mark (was the stream deleted?)")
        }
        return report
    }

    /// Appends the replay's mark to the log (confirmed).
    func mark(_ id: String) async throws {
        let body: JSONValue = ["replay": .string(id), "at": .string(Wire.timestamp(Date()))]
        let message = OutgoingMessage(
            exchange: "", routingKey: ConsoleEventLog.queue, body: Array(body.rendered(pretty: false).utf8),
            properties: MessageProperties(
                contentType: "application/json", headers: [Self.markHeader: .string(id)], deliveryMode: 2,
                messageId: "console-replay-mark-\(id)", timestamp: UInt64(Date().timeIntervalSince1970), type: Self.markType,
                userId: user, appId: "console"),
            mandatory: true)
        switch try await publishConfirmed([message])[0] {
        case .confirmed: return
        case .returned(let code, let text):
            throw ReplayError("\(ConsoleEventLog.queue) does not exist (\(code) \(text)): start the console once, it declares its log")
        case .nacked: throw ReplayError("the broker refused the replay's mark")
        }
    }

    /// Publishes a batch to the input queue, then acknowledges its stream deliveries.
    func republish(_ pending: inout [(Delivery, OutgoingMessage)], _ report: inout Report) async throws {
        try await waitForRoom()
        let outcomes = try await publishConfirmed(pending.map(\.1))
        if let refused = outcomes.first(where: { $0 != .confirmed }) {
            throw ReplayError("republishing to \(target) failed: \(refused) (does the queue exist?)")
        }
        reader.ack(pending.map(\.0))
        report.republished += pending.count
        pending.removeAll(keepingCapacity: true)
    }

    /// Publishes with confirms, again (same ids: the console deduplicates) while the broker
    /// nacks or the connection fails, for up to about a minute.
    func publishConfirmed(_ messages: [OutgoingMessage]) async throws -> [PublishOutcome] {
        var backoff = Duration.milliseconds(100)
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                let outcomes = try await publisher.publish(messages)
                if !outcomes.contains(.nacked) || ContinuousClock.now > deadline { return outcomes }
            } catch let error as AMQPError where error.isRetryable && ContinuousClock.now < deadline {
                logger.warning("replay publish failed; publishing again", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    /// Waits while the input queue holds more than `maxBacklog` ready messages.
    func waitForRoom() async throws {
        while let status = try? await publisher.queueStatus(target), status.messages > maxBacklog {
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Ends the stream consumer: cancelled, and everything it delivered acknowledged (a stream's
    /// deliveries are never nacked: the broker would close the connection).
    func end(_ consumer: AMQPConsumer, _ deliveries: inout AMQPDeliveries.AsyncIterator, _ unsettled: [Delivery]) async {
        reader.ack(unsettled)
        try? await reader.cancel(consumer)
        while let rest = await deliveries.nextBatch() { reader.ack(rest) }
    }

    /// The event of a stream delivery as the replay publishes it to `target`, or nil when its
    /// publisher is unknown.
    public static func republication(of d: Delivery, as user: String, to target: String) -> OutgoingMessage? {
        // The publisher the console accepted it from the first time (the same rule, the same user).
        guard let sender = Provenance(ownUser: user).publisher(of: d.properties) else { return nil }
        var properties = d.properties
        properties.headers[offsetHeader] = nil
        properties.headers[Provenance.userHeader] = .string(sender)
        properties.userId = user
        return OutgoingMessage(exchange: "", routingKey: target, body: d.body, properties: properties, mandatory: true)
    }
}

/// Asks a running replay to stop (a graceful shutdown).
public final class ReplayStop: Sendable {
    private struct State {
        var requested = false
        var action: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())

    public init() {}

    public var isRequested: Bool { state.withLock { $0.requested } }

    /// Stops the replay (idempotent).
    public func request() {
        let action = state.withLock { s -> (@Sendable () -> Void)? in
            if s.requested { return nil }
            s.requested = true
            return s.action
        }
        action?()
    }

    /// What stopping does (runs at once when a stop was already requested).
    func onRequest(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.requested { return true }
            s.action = action
            return false
        }
        if now { action() }
    }
}

/// Why a replay cannot go on.
public struct ReplayError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - The automatic rebuild at start

/// Why the console rebuilds its read model at start.
public enum RebuildReason: Sendable, Equatable, CustomStringConvertible {
    /// The schema does not exist (a first start, or it was dropped).
    case noSchema
    /// The schema holds no view at all.
    case noView
    /// The latest replay of the schema did not finish (the console stopped during it).
    case unfinishedReplay
    /// The database did not answer in time: replaying is harmless (duplicates are ignored).
    case unknown(String)

    public var description: String {
        switch self {
        case .noSchema: "the schema does not exist"
        case .noView: "the schema holds no view"
        case .unfinishedReplay: "the latest replay did not finish"
        case .unknown(let why): "cannot tell whether the schema holds views (\(why)); replaying is harmless"
        }
    }
}

extension ConsoleReplay {
    /// Whether the console's read model must be rebuilt, looked at **before** start-up (its
    /// consumers would otherwise write views before the question is asked): the reason, or nil
    /// when the schema holds views and its latest replay, if any, finished. Tries for up to
    /// `patience` while the database does not answer, then answers ``RebuildReason/unknown(_:)``.
    public static func rebuildReason(
        database: DatabaseURL, schema: String, logger: Logger, patience: Duration = .seconds(30)
    ) async -> RebuildReason? {
        guard !schema.isEmpty, schema.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            return .unknown("\(schema) is not a plain schema name")
        }
        let deadline = ContinuousClock.now + patience
        var last = ""
        while ContinuousClock.now < deadline {
            do {
                return try await withDeadline(.seconds(10), "inspecting the schema \(schema)") {
                    try await inspect(database, schema: schema, logger: logger)
                }
            } catch {
                last = "\(error)"
                logger.warning("cannot inspect the read model yet; trying again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return .unknown(last)
    }

    static func inspect(_ url: DatabaseURL, schema: String, logger: Logger) async throws -> RebuildReason? {
        // A throwaway pool: its own chatter (e.g. a lease asked before `run()` began) is noise;
        // failures reach the caller.
        var quiet = logger
        quiet.logLevel = .error
        let client = Database.makeClient(url, poolSize: 1, logger: quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await client.withConnection { conn -> RebuildReason? in
                func flag(_ sql: String) async throws -> Bool {
                    let rows = try await conn.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
                    guard let row = rows.first else { return false }
                    return try row.decode(Bool?.self) ?? false
                }
                guard try await flag("SELECT to_regclass('\(schema).aggregates') IS NOT NULL") else {
                    return try await flag("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '\(schema)')") ? .noView : .noSchema
                }
                guard try await flag("SELECT EXISTS (SELECT 1 FROM \(schema).aggregates)") else { return .noView }
                if try await flag("SELECT to_regclass('\(schema).replays') IS NOT NULL"),
                    try await flag("SELECT finished_at IS NULL FROM \(schema).replays ORDER BY started_at DESC LIMIT 1")
                {
                    return .unfinishedReplay
                }
                return nil
            }
        }
    }
}

/// The automatic rebuild: runs once start-up is done (behind the start-up gate, while the
/// consumers already run) when ``ConsoleReplay/rebuildReason(database:schema:logger:patience:)``
/// found a reason, with a connection of its own; logs `replay started` and `replay finished`
/// with the count, records the replay in the schema's `replays` table, and tries again (with a
/// growing delay) when it fails. Then it idles until shutdown; a shutdown during the replay stops
/// it (its row stays unfinished: the next start replays again).
public struct ConsoleReplayService: Service {
    let reason: RebuildReason
    let url: AMQPURL
    let user: String
    let target: String
    let postgres: PostgresClient
    let logger: Logger

    public init(reason: RebuildReason, url: AMQPURL, target: String, postgres: PostgresClient, logger: Logger) {
        self.reason = reason
        self.url = url
        self.user = url.user
        self.target = target
        self.postgres = postgres
        self.logger = logger
    }

    public func run() async throws {
        let stop = ReplayStop()
        await withGracefulShutdownHandler {
            await replayUntilDone(stop)
        } onGracefulShutdown: {
            stop.request()
        }
        // A service that returns ends the service group: stay until shutdown.
        try? await gracefulShutdown()
    }

    func replayUntilDone(_ stop: ReplayStop) async {
        var backoff = Duration.seconds(1)
        while !stop.isRequested && !Task.isCancelled {
            let connection = AMQPConnection(configuration: .init(url: url, name: "console-replay"), logger: logger)
            connection.start()
            let id = UUID().uuidString.lowercased()
            do {
                try await connection.waitUntilConnected(timeout: .seconds(30))
                try await postgres.query("INSERT INTO replays (id) VALUES (\(id))", logger: logger)
                logger.info("replay started", metadata: ["replay.id": "\(id)", "replay.reason": "\(reason)", "log": "\(ConsoleEventLog.queue)"])
                let replay = ConsoleReplay(reader: connection, publisher: connection, user: user, target: target, logger: logger)
                let report = try await replay.run(id: id, stop: stop)
                if report.interrupted {
                    logger.notice("replay interrupted by shutdown; the next start replays again", metadata: metadata(report))
                } else {
                    try await postgres.query(
                        """
                        UPDATE replays SET finished_at = now(), republished = \(report.republished), skipped = \(report.skipped)
                        WHERE id = \(id)
                        """, logger: logger)
                    logger.info("replay finished", metadata: metadata(report))
                }
                await connection.shutdown()
                return
            } catch {
                logger.warning(
                    "replay failed; trying again", metadata: ["replay.id": "\(id)", "error": "\(error)", "retry.in": "\(backoff)"])
                await connection.shutdown()
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(30))
            }
        }
    }

    func metadata(_ r: ConsoleReplay.Report) -> Logger.Metadata {
        [
            "replay.id": "\(r.id)", "replay.republished": "\(r.republished)", "replay.skipped": "\(r.skipped)",
            "target": "\(target)",
        ]
    }
}

// MARK: - The log's declaration

extension ConsoleEventLog {
    /// What ``preflight(url:maxAge:logger:patience:)`` found.
    public enum Preflight: Sendable, Equatable {
        /// The stream exists as configured (it was created if missing).
        case ok
        /// A queue of that name exists declared otherwise (another `x-max-age`, not a stream):
        /// the broker's refusal.
        case declaredOtherwise(String)
        /// The broker did not answer in time (start-up declares the log later).
        case unknown(String)
    }

    /// Declares the stream as configured before start-up. A stream's retention cannot change in
    /// place (RabbitMQ refuses the redeclaration, and a stream cannot be moved message by message
    /// like the other extra queues start-up replaces), so a log declared otherwise must stop the
    /// console with an explanation instead.
    public static func preflight(url: AMQPURL, maxAge: String, logger: Logger, patience: Duration = .seconds(10)) async -> Preflight {
        let connection = AMQPConnection(configuration: .init(url: url, name: "console-log-check"), logger: logger)
        connection.start()
        let result: Preflight
        do {
            try await connection.waitUntilConnected(timeout: patience)
            try await connection.declareOnce(Topology(queues: [.stream(queue, maxAge: maxAge)]))
            result = .ok
        } catch let error as AMQPError where error.replyCode == 406 {
            result = .declaredOtherwise(error.replyText ?? error.message)
        } catch {
            result = .unknown("\(error)")
        }
        await connection.shutdown()
        return result
    }

    /// What to do about a log declared otherwise.
    public static func declaredOtherwiseAdvice(_ refusal: String, maxAge: String) -> String {
        """
        \(queue) exists declared otherwise than with x-max-age \(maxAge) (\(refusal)). A stream's retention cannot change \
        in place: set CONSOLE_LOG_MAX_AGE back to the value it was created with, or delete the stream (its events are \
        lost; the console recreates it empty with the new retention at its next start)
        """
    }
}

// MARK: - What the console executable runs

/// The console executable's side of the event log: `console replay`, and what is decided before
/// the service starts (`CONSOLE_LOG_MAX_AGE`, `CONSOLE_REPLAY`, the log's declaration, whether
/// to rebuild).
public enum ConsoleRebuild {
    /// `console replay`: replays the log into the input queue of the console the environment
    /// configures (`AMQP_URL`, `SERVICE_NAME`), prints what it did and returns the exit status.
    public static func replayCommand(environment: [String: String]) async -> Int32 {
        let config: ServiceConfiguration
        do { config = try ServiceConfiguration(name: ConsoleService.definition.name, environment: environment) } catch {
            FileHandle.standardError.write(Data("console: \(error)\n".utf8))
            return 2
        }
        Observability.bootstrap(level: config.logLevel)
        var logger = Logger(label: "ot.\(config.name).replay")
        logger[metadataKey: "service"] = "\(config.name)"
        let connection = AMQPConnection(configuration: .init(url: config.amqpURL, name: "console-replay"), logger: logger)
        connection.start()
        let target = ConsoleReplay.inputQueue(service: config.name)
        do {
            try await connection.waitUntilConnected(timeout: .seconds(30))
            logger.info("replay started", metadata: ["log": "\(ConsoleEventLog.queue)", "target": "\(target)"])
            let report = try await ConsoleReplay(
                reader: connection, publisher: connection, user: config.amqpURL.user, target: target, logger: logger
            ).run()
            logger.info(
                "replay finished",
                metadata: ["replay.id": "\(report.id)", "replay.republished": "\(report.republished)", "replay.skipped": "\(report.skipped)"])
            await connection.shutdown()
            print("\(report) into \(target)")
            return 0
        } catch {
            await connection.shutdown()
            FileHandle.standardError.write(Data("console: replay failed: \(error)\n".utf8))
            return 1
        }
    }

    /// A setting that stops the console.
    public struct StartError: Error, Sendable, CustomStringConvertible {
        public var key: String
        public var problem: String
        public var description: String { "configuration \(key): \(problem)" }
    }

    /// What the service starts with.
    public struct Start: Sendable {
        /// `CONSOLE_LOG_MAX_AGE`.
        public var logMaxAge: String
        /// Why the read model is rebuilt at start; nil: it is not.
        public var rebuild: RebuildReason?
        public var amqpURL: AMQPURL
        /// The console's events queue.
        public var target: String

        /// The console's definition, its log kept `logMaxAge`.
        public var definition: ServiceDefinition { ConsoleService.definition(logMaxAge: logMaxAge) }

        /// The automatic rebuild, when there is one to do.
        public func replayService(postgres: PostgresClient, logger: Logger) -> ConsoleReplayService? {
            rebuild.map { ConsoleReplayService(reason: $0, url: amqpURL, target: target, postgres: postgres, logger: logger) }
        }
    }

    /// Reads `CONSOLE_LOG_MAX_AGE` and `CONSOLE_REPLAY`, checks the log's declaration (a log
    /// declared with another retention stops the console: ``ConsoleEventLog/preflight(url:maxAge:logger:patience:)``)
    /// and, unless `CONSOLE_REPLAY=off`, whether the schema holds views — before start-up, since
    /// the consumers make views as soon as they run. Throws what must stop the console.
    public static func prepare(environment: [String: String]) async throws -> Start {
        let config = try ServiceConfiguration(name: ConsoleService.definition.name, environment: environment)
        let maxAge = environment["CONSOLE_LOG_MAX_AGE"] ?? ConsoleEventLog.defaultMaxAge
        guard Topology.Queue.isValidMaxAge(maxAge) else {
            throw StartError(
                key: "CONSOLE_LOG_MAX_AGE", problem: "'\(maxAge)' is not a positive whole number and a unit Y, M, D, h, m or s (e.g. 400D)")
        }
        let replayAtStart: Bool
        switch environment["CONSOLE_REPLAY"]?.lowercased() {
        case nil, "", "on": replayAtStart = true
        case "off": replayAtStart = false
        case let other?: throw StartError(key: "CONSOLE_REPLAY", problem: "'\(other)' is neither on nor off")
        }
        Observability.bootstrap(level: config.logLevel)
        var logger = Logger(label: "ot.\(config.name)")
        logger[metadataKey: "service"] = "\(config.name)"
        switch await ConsoleEventLog.preflight(url: config.amqpURL, maxAge: maxAge, logger: logger) {
        case .ok: break
        case .declaredOtherwise(let refusal):
            throw StartError(key: "CONSOLE_LOG_MAX_AGE", problem: ConsoleEventLog.declaredOtherwiseAdvice(refusal, maxAge: maxAge))
        case .unknown(let why):
            logger.warning("cannot check the event log's declaration now; start-up declares it", metadata: ["error": "\(why)"])
        }
        let rebuild = replayAtStart ? await ConsoleReplay.rebuildReason(database: config.database, schema: config.name, logger: logger) : nil
        if let rebuild {
            logger.info("the read model will be rebuilt from the event log", metadata: ["reason": "\(rebuild)"])
        }
        return Start(logMaxAge: maxAge, rebuild: rebuild, amqpURL: config.amqpURL, target: ConsoleReplay.inputQueue(service: config.name))
    }
}
