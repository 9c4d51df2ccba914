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
                _ = try await DeadLetters.depth(of: queue, amqp)
                let (peeked, total) = try await DeadLetters.peek(queue, amqp, limit: limit)
                return (peeked.map(\.0), total)
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
            let report: DeadLetters.ReplayReport
            do {
                report = try await Broker.withConnection(global) { amqp in
                    _ = try await DeadLetters.depth(of: queue, amqp)
                    return try await DeadLetters.replay(queue, amqp, ids: wanted.isEmpty ? nil : wanted, newId: newId, publisher: publisher)
                }
            } catch let error as DeadLetterError {
                throw CLIError(error.description)
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

}

/// The CLI's checks around ``DeadLetters`` (Runtime).
extension DeadLetters {
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

}
