import AMQP
import ArgumentParser
import Contracts
import Foundation
import Logging
import Synchronization

/// A failure reported to the operator: one line on stderr and an exit status.
struct CLIError: Error, CustomStringConvertible {
    /// Exit status: 1 for operational failures, 2 for an invalid message.
    var exitCode: Int32
    /// The line printed (after `otctl: `).
    var message: String
    /// Further lines, e.g. one per offending field.
    var details: [String]

    init(_ message: String, exitCode: Int32 = 1, details: [String] = []) {
        self.exitCode = exitCode
        self.message = message
        self.details = details
    }

    /// An invalid message or invalid input data (exit status 2).
    static func invalid(_ message: String, details: [String] = []) -> CLIError {
        CLIError(message, exitCode: 2, details: details)
    }

    var description: String { message }
}

/// A subcommand whose failures are printed as one clear line instead of a stack trace.
protocol OTCtlCommand: AsyncParsableCommand {
    /// The work of the command; throw ``CLIError`` for failures the operator should read.
    func execute() async throws
}

extension OTCtlCommand {
    mutating func run() async throws {
        do {
            try await execute()
        } catch let error as CLIError {
            Console.error("otctl: \(error.message)")
            for line in error.details { Console.error("  \(line)") }
            throw ExitCode(error.exitCode)
        } catch let error as AMQPError {
            Console.error("otctl: \(error.message)")
            throw ExitCode.failure
        } catch let error as ExitCode {
            throw error
        } catch {
            Console.error("otctl: \(error)")
            throw ExitCode.failure
        }
    }
}

/// An error as the operator should read it (an ``AMQPError`` without its type name).
func describe(_ error: any Error) -> String {
    switch error {
    case let error as AMQPError: error.message
    case let error as CLIError: error.message
    default: "\(error)"
    }
}

/// Unbuffered output, so lines appear at once even when stdout is a pipe (or a file).
enum Console {
    /// Writes `text` to stdout as is.
    static func write(_ text: String) {
        try? FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
    }

    /// Writes one line to stdout.
    static func line(_ text: String) {
        write(text + "\n")
    }

    /// Writes one line to stderr.
    static func error(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data((text + "\n").utf8))
    }
}

/// An open broker connection for the duration of one command.
enum Broker {
    /// How long to wait for the connection before giving up.
    static let connectTimeout: Duration = .seconds(15)

    /// Connects, runs `body`, and shuts the connection down whatever happens. A connection
    /// failure (refused, bad credentials, unknown vhost) ends the command at once with the
    /// broker's reason instead of retrying.
    static func withConnection<T>(
        _ options: GlobalOptions, _ body: (AMQPConnection) async throws -> T
    ) async throws -> T {
        let url: AMQPURL
        do {
            url = try AMQPURL(string: options.resolvedURL)
        } catch {
            throw CLIError("invalid --amqp-url: \(error.message)", exitCode: 64)
        }
        let log = ConnectionLog()
        let connection = AMQPConnection(
            configuration: .init(url: url, name: "otctl", heartbeatSeconds: 30, operationTimeout: .seconds(10)),
            logger: Logger(label: "otctl") { _ in ConnectionLogHandler(sink: log) })
        connection.start()
        do {
            let deadline = ContinuousClock.now + connectTimeout
            while !connection.isConnected {
                if let failure = log.firstFailure {
                    throw CLIError("cannot connect to \(url): \(failure)")
                }
                if ContinuousClock.now >= deadline {
                    throw CLIError("cannot connect to \(url) within \(connectTimeout)")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let result = try await body(connection)
            await connection.shutdown()
            return result
        } catch {
            await connection.shutdown()
            throw error
        }
    }
}

/// What the connection logged at warning level or above (it logs and retries on its own; a
/// command-line tool reports the first failure instead).
final class ConnectionLog: Sendable {
    private let failures = Mutex<[String]>([])

    var firstFailure: String? { failures.withLock { $0.first } }

    func record(_ text: String) {
        failures.withLock { $0.append(text) }
    }
}

/// A log handler that prints nothing and hands warnings to a ``ConnectionLog``.
struct ConnectionLogHandler: LogHandler {
    let sink: ConnectionLog
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard event.level >= .warning else { return }
        guard let error = event.metadata?["error"] else {
            sink.record(event.message.description)
            return
        }
        // "AMQPError.connectionFailed: cannot open …" → "cannot open …"
        var text = "\(error)"
        if text.hasPrefix("AMQPError."), let colon = text.range(of: ": ") {
            text = String(text[colon.upperBound...])
        }
        sink.record(text)
    }
}

/// JSON helpers for bodies given on the command line and read from queues.
enum JSONText {
    /// Parses JSON text (objects, arrays or scalars).
    static func parse(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Parses a `--field` value: JSON when it parses, else the text as a string.
    static func fieldValue(_ text: String) -> JSONValue {
        (try? parse(Data(text.utf8))) ?? .string(text)
    }

    /// Sets `value` at a dotted path (`customer.id`) inside an object, creating objects on the way.
    static func set(_ value: JSONValue, at path: [String], in target: inout JSONValue, whole: String) throws {
        guard let key = path.first else {
            target = value
            return
        }
        var members: [String: JSONValue]
        switch target {
        case .object(let m): members = m
        case .null: members = [:]
        default:
            throw CLIError.invalid("--field \(whole): cannot set \(key) inside a value that is not an object")
        }
        var child = members[key] ?? .null
        try set(value, at: Array(path.dropFirst()), in: &child, whole: whole)
        members[key] = child
        target = .object(members)
    }

    /// A short, one-line rendering of `data`: `key=value` per member, long values cut.
    static func summary(_ data: JSONValue?, limit: Int = 160) -> String {
        guard let data else { return "" }
        guard let members = data.objectValue else { return cut(data.rendered(), 60) }
        var parts: [String] = []
        for key in members.keys.sorted() {
            let value = members[key]!
            let text: String
            switch value {
            case .string(let s): text = s
            case .array(let a) where a.count > 1: text = "[\(a.count) items]"
            default: text = value.rendered()
            }
            parts.append("\(key)=\(cut(text, 48))")
        }
        return cut(parts.joined(separator: " "), limit)
    }

    static func cut(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}

extension Data {
    /// The bytes as one line of text (newlines of pretty-printed JSON removed).
    var singleLine: String {
        let text = String(decoding: self, as: UTF8.self)
        guard text.contains(where: \.isNewline) else { return text }
        if let value = try? JSONText.parse(self) { return value.rendered() }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
