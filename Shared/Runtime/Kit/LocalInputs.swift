import Contracts
import Foundation

/// Inputs that come from inside a service — an HTTP endpoint of its own, such as records' document
/// upload — decided exactly like deliveries: routed (``Routes/local(_:_:)``), decided, and saved with
/// their events and timers in one transaction. They do not pass through the broker: no inbox, no
/// `command.rejected`, no dead letter; the caller gets the outcome and answers its own client.
public struct LocalInputs: Sendable {
    let runner: BatchRunner

    /// What became of a submitted input.
    public enum Outcome: Sendable, Equatable {
        case handled
        case rejected(Rejection)
    }

    init(runner: BatchRunner) { self.runner = runner }

    /// Decides `message` now, in a transaction of its own. Throws when the transaction fails (the
    /// database is down): nothing of it was saved.
    public func submit<M: Message>(_ message: M, id: String = MessageID.new()) async throws -> Outcome {
        let item = WorkItem(
            origin: .local, raw: nil, messageId: id, type: M.type, header: nil, message: message, failure: nil, isCommand: false,
            sender: nil)
        let report = try await runner.run { _, _ in [item] }
        switch report.outcomes.first {
        case .handled?, .duplicate?: return .handled
        case .rejected(let code)?: return .rejected(report.rejections[0] ?? Rejection(.internalError, "rejected (\(code))"))
        case .parked?, nil: return .rejected(Rejection(.internalError, "a local input was not decided"))
        }
    }
}
