import AMQP
import ArgumentParser
import Contracts
import Foundation
import Platform
import Runtime

/// `otctl dead …`: the dead letters of a service (`<service>.dead`).
struct Dead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and replay a service's dead letters (<service>.dead).",
        subcommands: [List.self, Replay.self])

    /// Declared here too so `otctl dead --amqp-url … list` works.
    @OptionGroup var global: GlobalOptions

    /// `otctl dead list <service>`: shows dead letters and leaves them in the queue.
    struct List: OTCtlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show dead letters (they stay in the queue).")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Service name, e.g. commercial.")
        var service: String

        @Option(help: "Show at most this many.")
        var limit = 100

        @Flag(help: "One JSON object per dead letter.")
        var json = false

        func validate() throws {
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func execute() async throws {
            let queue = try DeadLetters.queue(of: service)
            let (letters, total) = try await Broker.withConnection(global) { amqp in
                let total = try await DeadLetters.depth(of: queue, amqp)
                let fetched = try await DeadLetters.fetch(queue, amqp, max: min(limit, Int(total)))
                // Give them all back only now: basic.get would hand out a requeued one again.
                for f in fetched { amqp.nack(f.delivery, requeue: true) }
                return (fetched.map { DeadLetter($0.delivery) }, total)
            }
            for letter in letters {
                Console.line(json ? letter.json.rendered() : letter.line)
            }
            if !json {
                Console.line("\(letters.count) of \(total) dead letter(s) in \(queue) shown")
            }
        }
    }

    /// `otctl dead replay <service>`: republishes dead letters to where they came from.
    struct Replay: OTCtlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Republish dead letters to their original exchange and routing key.",
            discussion: """
                The x-ot-* dead-letter headers are removed and each message is acknowledged (removed \
                from the queue) once the broker confirmed its republish; dead letters not selected \
                go back to the queue. The message id is kept, so a message that was already handled \
                stays deduplicated; --new-id re-runs it (e.g. a command rejected before a fix).
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Service name, e.g. commercial.")
        var service: String

        @Option(name: .customLong("id"), help: ArgumentHelp("Replay the dead letter with this message id (repeatable).", valueName: "message-id"))
        var ids: [String] = []

        @Flag(help: "Replay every dead letter of the service.")
        var all = false

        @Flag(name: .customLong("new-id"), help: "Give each replayed message (envelope and AMQP) a new id.")
        var newId = false

        func validate() throws {
            if all == !ids.isEmpty { throw ValidationError("give either --id (one or more) or --all") }
        }

        func execute() async throws {
            let queue = try DeadLetters.queue(of: service)
            let wanted = Set(ids)
            let newId = newId
            let publisher = try AMQPURL(string: global.resolvedURL).user
            let report = try await Broker.withConnection(global) { amqp -> ReplayReport in
                let total = try await DeadLetters.depth(of: queue, amqp)
                var seenIds: Set<String> = []
                let fetched = try await DeadLetters.fetch(queue, amqp, max: Int(total)) { latest in
                    // With --id, stop once every requested id was seen.
                    if let id = latest.delivery.properties.messageId { seenIds.insert(id) }
                    return !wanted.isEmpty && wanted.isSubset(of: seenIds)
                }
                var report = ReplayReport()
                var selected: [(FetchedMessage, OutgoingMessage)] = []
                for f in fetched {
                    let id = f.delivery.properties.messageId ?? ""
                    guard wanted.isEmpty || wanted.contains(id) else {
                        amqp.nack(f.delivery, requeue: true)
                        continue
                    }
                    report.found.insert(id)
                    do {
                        selected.append((f, try DeadLetters.republication(of: f.delivery, newId: newId, publisher: publisher)))
                    } catch {
                        report.failures.append("\(id): \(error)")
                        amqp.nack(f.delivery, requeue: true)
                    }
                }
                let outcomes: [PublishOutcome]
                do {
                    outcomes = try await amqp.publish(selected.map(\.1))
                } catch {
                    for (f, _) in selected { amqp.nack(f.delivery, requeue: true) }
                    throw CLIError("republish failed, nothing removed from \(queue): \(describe(error))")
                }
                for ((f, message), outcome) in zip(selected, outcomes) {
                    let old = f.delivery.properties.messageId ?? "-"
                    let target = "\(message.exchange == "" ? "(default)" : message.exchange) \(message.routingKey)"
                    switch outcome {
                    case .confirmed:
                        amqp.ack(f.delivery)
                        let renamed = message.properties.messageId.map { $0 == old ? "" : " as \($0)" } ?? ""
                        report.replayed.append("replayed \(old)\(renamed) (\(message.properties.type ?? "-")) to \(target)")
                    case .returned:
                        amqp.nack(f.delivery, requeue: true)
                        report.failures.append("\(old): unroutable, nothing is bound to \(target); left in \(queue)")
                    case .nacked:
                        amqp.nack(f.delivery, requeue: true)
                        report.failures.append("\(old): the broker refused the republish; left in \(queue)")
                    }
                }
                return report
            }
            for line in report.replayed { Console.line(line) }
            Console.line("\(report.replayed.count) dead letter(s) replayed from \(queue)")
            var failures = report.failures
            for id in ids where !report.found.contains(id) { failures.append("\(id): no such dead letter in \(queue)") }
            if !failures.isEmpty {
                throw CLIError("\(failures.count) dead letter(s) not replayed", details: failures)
            }
        }
    }

    struct ReplayReport: Sendable {
        var replayed: [String] = []
        var failures: [String] = []
        var found: Set<String> = []
    }
}

/// Reading and republishing dead letters.
enum DeadLetters {
    /// `<service>.dead`, after checking the name looks like a service name.
    static func queue(of service: String) throws -> String {
        let allowed = service.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") }
        guard !service.isEmpty, allowed else {
            throw CLIError("invalid service name \"\(service)\" (known: \(Platform.services.map(\.name).joined(separator: ", ")))", exitCode: 64)
        }
        return "\(service).dead"
    }

    /// How many messages the queue holds; a clear error when it does not exist.
    static func depth(of queue: String, _ amqp: AMQPConnection) async throws -> UInt32 {
        do {
            return try await amqp.queueStatus(queue).messages
        } catch {
            throw CLIError("cannot read \(queue): \(describe(error))")
        }
    }

    /// Takes up to `max` messages with `basic.get`, unacknowledged, stopping early when `done`
    /// says so.
    static func fetch(
        _ queue: String, _ amqp: AMQPConnection, max: Int, done: (FetchedMessage) -> Bool = { _ in false }
    ) async throws -> [FetchedMessage] {
        var fetched: [FetchedMessage] = []
        do {
            while fetched.count < max, let message = try await amqp.get(queue: queue) {
                fetched.append(message)
                if done(message) { break }
            }
        } catch {
            for f in fetched { amqp.nack(f.delivery, requeue: true) }
            throw CLIError("cannot read \(queue): \(describe(error))")
        }
        return fetched
    }

    /// Headers a republished message must not carry: the runtime's dead-letter and retry
    /// bookkeeping and the broker's own dead-lettering history.
    static func isDeadLetterHeader(_ name: String) -> Bool {
        name.hasPrefix("x-ot-") || name == "x-death" || name.hasPrefix("x-first-death-")
            || name.hasPrefix("x-last-death-") || name == "x-delivery-count"
    }

    /// The message to publish for a dead letter: original exchange and routing key, dead-letter
    /// headers removed, optionally a new id (in the AMQP properties and the envelope). It is
    /// published as `publisher` (the broker checks `user_id`), on behalf of its original
    /// publisher, who travels in the header `x-origin-user` (see `Provenance`).
    static func republication(of d: Delivery, newId: Bool, publisher: String) throws -> OutgoingMessage {
        let letter = DeadLetter(d)
        guard let exchange = letter.originalExchange, let routingKey = letter.originalRoutingKey else {
            throw CLIError("no \(Headers.originalExchange) / \(Headers.originalRoutingKey) header: cannot tell where it came from")
        }
        var properties = d.properties
        properties.headers = properties.headers.filter { !isDeadLetterHeader($0.key) }
        if properties.headers[Provenance.userHeader] == nil, let original = properties.userId, original != publisher {
            properties.headers[Provenance.userHeader] = .string(original)
        }
        properties.userId = publisher
        var body = d.body
        if newId {
            let id = UUID().uuidString.lowercased()
            properties.messageId = id
            if var envelope = (try? JSONText.parse(Data(d.body)))?.objectValue {
                envelope["id"] = .string(id)
                body = [UInt8](JSONValue.object(envelope).rendered().utf8)
            }
        }
        return OutgoingMessage(exchange: exchange, routingKey: routingKey, body: body, properties: properties, mandatory: true)
    }
}

/// What `dead list` shows of one dead letter.
struct DeadLetter {
    var id: String?
    var type: String?
    var correlationId: String?
    var originalExchange: String?
    var originalRoutingKey: String?
    var originalQueue: String?
    var code: String?
    var reason: String?
    var failedAt: String?

    init(_ d: Delivery) {
        let h = d.properties.headers
        let header = try? Wire.decodeHeader(d.body)
        // A poison message dead-lettered by the broker (delivery limit) has only x-death data.
        let death = h["x-death"].flatMap { value -> [String: FieldValue]? in
            if case .array(let entries) = value, case .table(let first)? = entries.first { return first }
            return nil
        }
        let deathKeys: [FieldValue]? = {
            if case .array(let keys)? = death?["routing-keys"] { return keys }
            return nil
        }()
        id = d.properties.messageId ?? header?.id
        type = d.properties.type ?? header?.type
        correlationId = d.properties.correlationId ?? header?.correlationid
        originalExchange = h[Headers.originalExchange]?.stringValue ?? death?["exchange"]?.stringValue
        originalRoutingKey = h[Headers.originalRoutingKey]?.stringValue ?? deathKeys?.first?.stringValue
        originalQueue = h[Headers.originalQueue]?.stringValue ?? death?["queue"]?.stringValue
        code = h[Headers.deadCode]?.stringValue ?? h["x-first-death-reason"]?.stringValue ?? death?["reason"]?.stringValue
        reason =
            h[Headers.deadReason]?.stringValue
            ?? death.map { "dead-lettered by the broker (\($0["reason"]?.stringValue ?? "?")) from \(originalQueue ?? "?")" }
        failedAt = h[Headers.failedAt]?.stringValue
    }

    var line: String {
        [
            id ?? "-", type ?? "-", "key=\(originalRoutingKey ?? "-")", "code=\(code ?? "-")",
            "reason=\(reason ?? "-")",
        ].joined(separator: "  ")
    }

    var json: JSONValue {
        var members: [String: JSONValue] = [:]
        let pairs: [(String, String?)] = [
            ("id", id), ("type", type), ("correlationId", correlationId), ("originalExchange", originalExchange),
            ("originalRoutingKey", originalRoutingKey), ("originalQueue", originalQueue), ("code", code),
            ("reason", reason), ("failedAt", failedAt),
        ]
        for (key, value) in pairs { members[key] = value.map(JSONValue.string) ?? .null }
        return .object(members)
    }
}
