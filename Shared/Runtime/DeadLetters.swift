import AMQP
import Contracts
import Foundation

/// Why a dead letter cannot be read or put back.
public struct DeadLetterError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Reading and republishing dead letters.
public enum DeadLetters {
    /// Takes up to `max` messages with `basic.get`, unacknowledged, stopping early when `done`
    /// says so.
    public static func fetch(
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
            throw DeadLetterError("cannot read \(queue): \(error)")
        }
        return fetched
    }

    /// Headers a republished message must not carry: the runtime's dead-letter and retry
    /// bookkeeping and the broker's own dead-lettering history.
    public static func isDeadLetterHeader(_ name: String) -> Bool {
        name.hasPrefix("x-ot-") || name == "x-death" || name.hasPrefix("x-first-death-")
            || name.hasPrefix("x-last-death-") || name == "x-delivery-count"
    }

    /// The message to publish for a dead letter: original exchange and routing key, dead-letter
    /// headers removed, optionally a new id (in the AMQP properties and the envelope). It is
    /// published as `publisher` (the broker checks `user_id`), on behalf of its original
    /// publisher, who travels in the header `x-origin-user` (see `Provenance`).
    public static func republication(of d: Delivery, newId: Bool, publisher: String) throws -> OutgoingMessage {
        let letter = DeadLetter(d)
        guard let exchange = letter.originalExchange, let routingKey = letter.originalRoutingKey else {
            throw DeadLetterError("no \(Headers.originalExchange) / \(Headers.originalRoutingKey) header: cannot tell where it came from")
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
            if var envelope = (try? JSONDecoder().decode(JSONValue.self, from: Data(d.body)))?.objectValue {
                envelope["id"] = .string(id)
                body = [UInt8](JSONValue.object(envelope).rendered().utf8)
            }
        }
        return OutgoingMessage(exchange: exchange, routingKey: routingKey, body: body, properties: properties, mandatory: true)
    }
}

/// What the headers of a dead letter say of it (`otctl dead list`, the console).
public struct DeadLetter: Sendable {
    public var id: String?
    public var type: String?
    public var correlationId: String?
    public var originalExchange: String?
    public var originalRoutingKey: String?
    public var originalQueue: String?
    public var code: String?
    public var reason: String?
    public var failedAt: String?

    public init(_ d: Delivery) {
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

    public var line: String {
        [
            id ?? "-", type ?? "-", "key=\(originalRoutingKey ?? "-")", "code=\(code ?? "-")",
            "reason=\(reason ?? "-")",
        ].joined(separator: "  ")
    }

    public var json: JSONValue {
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

extension DeadLetters {
    /// What a replay did.
    public struct ReplayReport: Sendable {
        /// One line per replayed letter (`replayed <id> (<type>) to <exchange> <key>`).
        public var replayed: [String] = []
        public var failures: [String] = []
        /// Ids of the letters found among those asked for.
        public var found: Set<String> = []

        public init() {}

        public var summary: String {
            "\(replayed.count) dead letter(s) replayed" + (failures.isEmpty ? "" : "; not replayed: " + failures.joined(separator: "; "))
        }
    }

    /// Republishes the dead letters of `queue` whose ids are in `ids` (nil: all) to their original
    /// exchange and routing key, as `publisher`; each is removed from the queue only once the
    /// broker confirmed its republish, and those not selected go back to the queue.
    public static func replay(
        _ queue: String, _ amqp: AMQPConnection, ids wanted: Set<String>?, newId: Bool, publisher: String
    ) async throws -> ReplayReport {
        let total = try await amqp.queueStatus(queue).messages
        var seenIds: Set<String> = []
        let fetched = try await fetch(queue, amqp, max: Int(total)) { latest in
            // With ids, stop once every requested id was seen.
            if let id = latest.delivery.properties.messageId { seenIds.insert(id) }
            return wanted.map { $0.isSubset(of: seenIds) } ?? false
        }
        var report = ReplayReport()
        var selected: [(FetchedMessage, OutgoingMessage)] = []
        for f in fetched {
            let id = f.delivery.properties.messageId ?? ""
            guard wanted?.contains(id) ?? true else {
                amqp.nack(f.delivery, requeue: true)
                continue
            }
            report.found.insert(id)
            do {
                selected.append((f, try republication(of: f.delivery, newId: newId, publisher: publisher)))
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
            throw DeadLetterError("republish failed, nothing removed from \(queue): \(error)")
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

    /// Up to `limit` dead letters of `queue` and how many it holds; they all stay in the queue.
    public static func peek(_ queue: String, _ amqp: AMQPConnection, limit: Int) async throws -> (letters: [(DeadLetter, Delivery)], total: UInt32) {
        let total = try await amqp.queueStatus(queue).messages
        let fetched = try await fetch(queue, amqp, max: min(limit, Int(total)))
        // Give them all back only now: basic.get would hand out a requeued one again.
        for f in fetched { amqp.nack(f.delivery, requeue: true) }
        return (fetched.map { (DeadLetter($0.delivery), $0.delivery) }, total)
    }
}
