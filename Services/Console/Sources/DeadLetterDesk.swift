import AMQP
import ConsoleUI
import Contracts
import Foundation
import Runtime

/// The dead letters of every service, as the broker holds them (`<service>.dead`): read without
/// removing them, and replayed by admins through the runtime's ``DeadLetters`` (the same code as
/// `otctl dead replay`).
public struct DeadLetterDesk: Sendable {
    let amqp: AMQPConnection
    /// The services whose dead letters are shown.
    let services: [String]
    let publisher: String
    /// Letters shown per service.
    let limit: Int

    public init(amqp: AMQPConnection, services: [String], publisher: String, limit: Int = 50) {
        self.amqp = amqp
        self.services = services
        self.publisher = publisher
        self.limit = limit
    }

    public func page(notice: String?) async throws -> DeadLettersPage {
        var counts: [String: Int] = [:]
        var letters: [DeadLetterView] = []
        var unreadable: [String] = []
        for service in services {
            // One queue that cannot be read (its service never started: no queue yet) hides
            // nobody else's letters.
            let peeked: [(DeadLetter, Delivery)]
            do {
                let (p, total) = try await DeadLetters.peek("\(service).dead", amqp, limit: limit)
                peeked = p
                counts[service] = Int(total)
            } catch {
                unreadable.append("\(service).dead")
                continue
            }
            for (letter, delivery) in peeked {
                let body = String(decoding: delivery.body.prefix(600), as: UTF8.self)
                letters.append(
                    DeadLetterView(
                        service: service, messageId: letter.id ?? "-", type: letter.type, code: letter.code,
                        reason: letter.reason.map(LogSafe.escape), failedAt: letter.failedAt, originalRoutingKey: letter.originalRoutingKey,
                        body: LogSafe.escape(body)))
            }
        }
        let missing = unreadable.isEmpty ? nil : "could not read \(unreadable.joined(separator: ", ")) (not declared yet?)"
        return DeadLettersPage(counts: counts, letters: letters, notice: [notice, missing].compactMap { $0 }.joined(separator: " · "))
    }

    /// Replays `ids` (nil: every letter) of `service`.
    public func replay(service: String, ids: Set<String>?) async throws -> DeadLetters.ReplayReport {
        guard services.contains(service) else {
            var r = DeadLetters.ReplayReport()
            r.failures = ["no service \(service)"]
            return r
        }
        return try await DeadLetters.replay("\(service).dead", amqp, ids: ids, newId: false, publisher: publisher)
    }
}
