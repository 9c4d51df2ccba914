import Foundation
import Records
import Runtime

// The records service: sale and post-sale document management (seed 002), and its document
// endpoint (the documents' bytes). Configuration: see README.
let environment = ProcessInfo.processInfo.environment
func fail(_ text: String) -> Never {
    FileHandle.standardError.write(Data("records: \(text)\n".utf8))
    exit(2)
}
if let table = environment["RECORDS_REQUIREMENTS"] {
    do { _ = try Requirements.parse(table) } catch { fail("RECORDS_REQUIREMENTS is not a valid table: \(error)") }
}
let directory = environment["DOCUMENTS_DIR"] ?? ".build/local-run/documents"
guard let maxBytes = Int(environment["DOCUMENTS_MAX_BYTES"] ?? "\(25 * 1024 * 1024)"), maxBytes > 0 else {
    fail("DOCUMENTS_MAX_BYTES is not a positive number of bytes")
}
guard let port = Int(environment["DOCUMENTS_HTTP_PORT"] ?? "8088"), (0...65535).contains(port) else {
    fail("DOCUMENTS_HTTP_PORT is not a port")
}
let host = environment["DOCUMENTS_HTTP_HOST"] ?? "127.0.0.1"
let store: DocumentStore
do { store = try DocumentStore(root: directory) } catch { fail("DOCUMENTS_DIR \(directory) cannot be used: \(error)") }
// Uploads a crash interrupted leave temporary files: none is older than an hour in a live store.
store.removeStaleTemporaries(olderThan: .seconds(3600))

try await PlatformService.run(RecordsService.definition, environment: environment) { resources in
    [
        DocumentHTTP(
            host: host, port: port, store: store, maxBytes: maxBytes,
            registry: RecordsDocumentRegistry(inputs: resources.inputs, logger: resources.logger), logger: resources.logger)
    ]
}
