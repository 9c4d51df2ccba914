import AMQP
import ArgumentParser
import Contracts
import Foundation
import Runtime

/// `otctl send <type>`: wraps data in a CloudEvents envelope and publishes it to `ot.commands`.
struct Send: OTCtlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a command to ot.commands (publisher confirm, mandatory).",
        discussion: """
            The data comes from --file, --data and/or --field (fields are applied last). A file or \
            --data that already holds a whole envelope (it has "specversion") is sent as is. The \
            command is validated against the contract first (exit 2 naming the offending field). \
            Prints the message id; exits 1 when no service handles the type.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Command type, e.g. workorder.open (also the routing key).")
    var type: String

    @Option(help: "Read the data (or a whole envelope) from this JSON file; - for stdin.")
    var file: String?

    @Option(help: "The data (or a whole envelope) as JSON text.")
    var data: String?

    @Option(
        name: .customLong("field"),
        help: ArgumentHelp(
            "Set one data field: key=value, a.b=value for nested objects (repeatable).",
            discussion: "The value is parsed as JSON when it parses (numbers, true, [..], {..}, \"quoted\"), else taken as a string.",
            valueName: "key=value"))
    var fields: [String] = []

    @Option(help: "Message id (default: a new UUID).")
    var id: String?

    @Option(name: .customLong("correlation-id"), help: "Correlation id (default: the message id).")
    var correlationId: String?

    @Flag(name: .customLong("no-validate"), help: "Send even when the contract says the message is invalid.")
    var noValidate = false

    @Flag(help: "Send the --file/--data bytes untouched (to test malformed input); implies --no-validate.")
    var raw = false

    func validate() throws {
        if file != nil && data != nil { throw ValidationError("give either --file or --data, not both") }
        if raw && (file == nil && data == nil) { throw ValidationError("--raw needs --file or --data") }
        if raw && !fields.isEmpty { throw ValidationError("--raw sends the bytes untouched: --field cannot be used") }
    }

    func execute() async throws {
        var outgoing = try raw ? rawMessage() : envelopeMessage()
        // The broker checks user_id against the login; consumers check the login may send it.
        outgoing.properties.userId = try? AMQPURL(string: global.resolvedURL).user
        let message = outgoing
        let outcome = try await Broker.withConnection(global) { amqp in
            try await amqp.publish(message)
        }
        switch outcome {
        case .confirmed:
            Console.line(outgoing.properties.messageId ?? "")
        case .returned:
            throw CLIError("no service handles \(type) (the broker returned it: nothing is bound to \(type) on \(outgoing.exchange))")
        case .nacked:
            throw CLIError("the broker refused \(type) (negative publisher confirm)")
        }
    }

    // MARK: Building the message

    /// The input bytes of --file or --data, if any.
    func inputBytes() throws -> Data? {
        if let data { return Data(data.utf8) }
        guard let file else { return nil }
        if file == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
        // Read through a file handle so pipes and process substitution work too.
        guard let handle = FileHandle(forReadingAtPath: file) else {
            throw CLIError("cannot read \(file): no such file or not readable")
        }
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw CLIError("cannot read \(file): \(error.localizedDescription)")
        }
    }

    /// `--raw`: the bytes as given; properties from the envelope when it has one.
    func rawMessage() throws -> OutgoingMessage {
        let body = try inputBytes() ?? Data()
        let header = try? Wire.decodeHeader(body)
        let messageId = id ?? header?.id ?? UUID().uuidString.lowercased()
        return Self.message(
            type: type, body: [UInt8](body), id: messageId,
            correlationId: correlationId ?? header?.correlationid, time: header?.time ?? Date(),
            traceparent: header?.traceparent)
    }

    /// The envelope built around the data (or the given envelope), validated unless told not to.
    func envelopeMessage() throws -> OutgoingMessage {
        var input: JSONValue?
        let bytes = try inputBytes()
        if let bytes {
            do {
                input = try JSONText.parse(bytes)
            } catch {
                throw CLIError.invalid("\(file ?? "--data") is not valid JSON (use --raw to send it anyway)")
            }
        }

        var envelope: [String: JSONValue]
        var body: Data?
        if let given = input?.objectValue, given["specversion"] != nil {
            // A whole envelope: sent as is unless something is overridden.
            envelope = given
            if let t = given["type"]?.stringValue, t != type {
                throw CLIError.invalid("the envelope's type is \(t), not \(type)")
            }
            if id == nil && correlationId == nil && fields.isEmpty { body = bytes }
        } else {
            let messageId = id ?? UUID().uuidString.lowercased()
            envelope = [
                "specversion": "1.0",
                "id": .string(messageId),
                "source": "/ot/otctl",
                "type": .string(type),
                "time": .string(Wire.timestamp(Date())),
                "datacontenttype": "application/json",
                "dataversion": .number(Double(MessageRegistry.descriptor(for: type)?.dataVersion ?? 1)),
                "correlationid": .string(correlationId ?? messageId),
                "traceparent": .string(TraceContext.new()),
                "data": input ?? [:],
            ]
        }
        if let id { envelope["id"] = .string(id) }
        if let correlationId { envelope["correlationid"] = .string(correlationId) }
        if !fields.isEmpty {
            var data = envelope["data"] ?? [:]
            for field in fields {
                guard let eq = field.firstIndex(of: "="), eq != field.startIndex else {
                    throw CLIError.invalid("--field \(field): expected key=value")
                }
                let path = field[..<eq].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                if path.contains(where: \.isEmpty) { throw CLIError.invalid("--field \(field): empty key in the path") }
                try JSONText.set(JSONText.fieldValue(String(field[field.index(after: eq)...])), at: path, in: &data, whole: field)
            }
            envelope["data"] = data
        }
        let encoded = body ?? Data(JSONValue.object(envelope).rendered().utf8)

        if !noValidate { try validateAgainstContract(encoded) }

        let messageId = envelope["id"]?.stringValue ?? UUID().uuidString.lowercased()
        return Self.message(
            type: type, body: [UInt8](encoded), id: messageId,
            correlationId: envelope["correlationid"]?.stringValue,
            time: envelope["time"]?.stringValue.flatMap(Wire.parseTimestamp) ?? Date(),
            traceparent: envelope["traceparent"]?.stringValue)
    }

    /// Decodes the envelope with the registry, as the receiving service will.
    func validateAgainstContract(_ body: Data) throws {
        guard let descriptor = MessageRegistry.descriptor(for: type) else {
            throw CLIError.invalid("unknown message type \(type) (otctl asyncapi lists them; --no-validate sends it anyway)")
        }
        guard descriptor.kind == .command else {
            throw CLIError.invalid("\(type) is an event; otctl send publishes commands to \(PlatformTopology.commands)")
        }
        do {
            _ = try descriptor.decode(body)
        } catch {
            let details = error.problems.isEmpty ? [error.message] : error.problems.map { "\($0.field): \($0.problem)" }
            throw CLIError.invalid("invalid \(type) (\(error.code)); not sent", details: details)
        }
    }

    /// The AMQP message: properties mirror the envelope (CONTRACT.md), mandatory publish.
    static func message(
        type: String, body: [UInt8], id: String, correlationId: String?, time: Date, traceparent: String?
    ) -> OutgoingMessage {
        var headers: [String: FieldValue] = [:]
        if let traceparent { headers[Headers.traceparent] = .string(traceparent) }
        return OutgoingMessage(
            exchange: PlatformTopology.commands, routingKey: type, body: body,
            properties: MessageProperties(
                contentType: Wire.contentType, headers: headers, deliveryMode: 2, correlationId: correlationId,
                messageId: id, timestamp: UInt64(max(0, time.timeIntervalSince1970)), type: type, appId: "otctl"),
            mandatory: true)
    }
}
