import AMQP
import Contracts
import Foundation

/// Commands that arrive other than over the broker (the console's HTTP API): checked exactly as a
/// service checks a delivery from `ot.commands` — the same envelope and data validation
/// (``MessageParser``), the same refusal of events and of oversized or NUL-carrying attributes —
/// and, when valid, turned into the message to publish on `ot.commands` as it came (the body is
/// not re-encoded), stamped with the publishing user.
public struct CommandIntake: Sendable {
    /// The broker user the commands are published as (it must be allowed to send them).
    public let publisher: String
    /// The service name written as `app_id`.
    public let appId: String

    public init(publisher: String, appId: String) {
        self.publisher = publisher
        self.appId = appId
    }

    /// A command that passed validation.
    public struct Accepted: Sendable {
        public let id: String
        public let type: String
        public let correlationId: String
        public let message: OutgoingMessage
    }

    /// A refused command: the `command.rejected` data a service would have published for it.
    public struct Refused: Error, Sendable {
        public let rejected: CommandRejected
    }

    /// Validates a structured-mode CloudEvent.
    public func validate(_ body: [UInt8]) -> Result<Accepted, Refused> {
        var properties = MessageProperties()
        properties.userId = publisher
        let raw = RawMessage(
            queue: "\(appId).http.commands", exchange: PlatformTopology.commands, routingKey: "", properties: properties, body: body)
        let item = MessageParser(provenance: Provenance(ownUser: publisher)).parse(raw, origin: .local)
        let failure: Rejection? =
            item.failure ?? (item.message == nil ? Rejection(.validation, "the command could not be read") : nil)
        if let failure {
            return .failure(
                Refused(
                    rejected: CommandRejected(
                        commandId: item.messageId, commandType: item.type, code: failure.code.description, message: failure.message,
                        errors: failure.errors)))
        }
        let header = item.header
        let correlation = header?.correlationid ?? item.messageId
        var headers: [String: FieldValue] = [:]
        headers[Headers.traceparent] = .string(header?.traceparent ?? TraceContext.new())
        let out = OutgoingMessage(
            exchange: PlatformTopology.commands, routingKey: item.type, body: body,
            properties: MessageProperties(
                contentType: Wire.contentType, headers: headers, deliveryMode: 2,
                correlationId: MessageParser.fit(correlation), messageId: item.messageId,
                timestamp: UInt64(max(0, (header?.time ?? Date()).timeIntervalSince1970)), type: item.type, userId: publisher,
                appId: appId))
        return .success(Accepted(id: item.messageId, type: item.type, correlationId: correlation, message: out))
    }
}
