import Contracts
import Foundation
import Logging
import Metrics
import Runtime

/// The records service's answer to the document endpoint: a stored upload is an input of its file
/// (`records.document-stored`, decided like any message: an unknown file or a hash the file does
/// not declare is refused, and nothing is saved), and a document that cannot be served is reported.
public struct RecordsDocumentRegistry: DocumentRegistry {
    let inputs: LocalInputs
    let logger: Logger

    public init(inputs: LocalInputs, logger: Logger) {
        self.inputs = inputs
        self.logger = logger
    }

    public func recordStored(fileId: String, sha256: String, size: Int) async throws -> UploadVerdict {
        switch try await inputs.submit(DocumentStored(fileId: fileId, sha256: sha256, size: size)) {
        case .handled: return .recorded
        case .rejected(let r) where r.code == .notFound: return .unknownFile(r.message)
        case .rejected(let r): return .notDeclared(r.message)
        }
    }

    public func reportUnservable(sha256: String, reason: String) async {
        logger.error("a stored document cannot be served", metadata: ["sha256": "\(sha256)", "reason": "\(reason)"])
    }
}
