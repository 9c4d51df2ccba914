import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization

/// What the records service answers when bytes for one of its files arrived.
public protocol DocumentRegistry: Sendable {
    /// Records that `fileId`'s document `sha256` (of `size` bytes) is stored.
    func recordStored(fileId: String, sha256: String, size: Int) async throws -> UploadVerdict
    /// A stored document that cannot be served (missing or corrupt bytes), for the service to report.
    func reportUnservable(sha256: String, reason: String) async
}

/// The registry's answer to an upload.
public enum UploadVerdict: Sendable, Equatable {
    case recorded
    /// No such file (→ 404); the text says so for the client.
    case unknownFile(String)
    /// The file declares no document with that hash (→ 409); the text says so for the client.
    case notDeclared(String)
}

/// The records service's document endpoint (Hummingbird 2 over HTTP/1.1):
///
/// - `PUT /files/{fileId}/documents/{sha256}`: the body is the document's raw bytes (any content
///   type), streamed into the ``DocumentStore`` and checked against `{sha256}`; then the
///   ``DocumentRegistry`` is asked. `201` (stored now) or `200` (the bytes were already stored) with
///   `{"fileId","sha256","size","created"}`; `400 invalidHash`, `413 tooLarge` (by `Content-Length`
///   before reading, or when the streamed body passes the limit), `422 hashMismatch`,
///   `404 unknownFile`, `409 notDeclared`, `503 unavailable` (the registry failed). Every refusal
///   leaves nothing behind: an object this request created is removed again.
/// - `GET /documents/{sha256}`: verified before the first byte is sent; `200`
///   `application/octet-stream` with `Content-Length` and `ETag`, streamed from disk.
///   `404 missing` / `409 corrupt` are reported to the registry, logged at error level and counted
///   (`ot_records_documents_unservable_total{reason}`); none of the stored bytes are sent.
/// - `GET /health`: `200 ok`.
///
/// Every error body is `{"error": "<code>", "message": "<text>"}`. When listening it logs
/// `documents endpoint listening` with `http.host` and `http.port` (the bound port: `port` 0
/// picks a free one).
public final class DocumentHTTP: Service, Sendable {
    let host: String
    let port: Int
    let store: DocumentStore
    let maxBytes: Int
    let registry: any DocumentRegistry
    let logger: Logger
    let bound = Mutex<Int?>(nil)
    let locks = HashLocks()

    public init(
        host: String, port: Int, store: DocumentStore, maxBytes: Int, registry: any DocumentRegistry, logger: Logger
    ) {
        self.host = host
        self.port = port
        self.store = store
        self.maxBytes = maxBytes
        self.registry = registry
        self.logger = logger
    }

    /// The port actually bound, once listening.
    public var boundPort: Int? { bound.withLock { $0 } }

    public func run() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.put("/files/:fileId/documents/:sha256") { request, context in
            let fileId = context.parameters.get("fileId") ?? ""
            return await self.upload(
                request, fileId: fileId.removingPercentEncoding ?? fileId, sha256: context.parameters.get("sha256") ?? "")
        }
        router.get("/documents/:sha256") { _, context in
            await self.download(context.parameters.get("sha256") ?? "")
        }
        router.get("/health") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        let host = host
        let logger = logger
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                self.bound.withLock { $0 = port }
                logger.info("documents endpoint listening", metadata: ["http.host": "\(host)", "http.port": "\(port)"])
            },
            logger: logger
        )
        try await app.run()
    }

    // MARK: PUT /files/{fileId}/documents/{sha256}

    func upload(_ request: Request, fileId: String, sha256: String) async -> Response {
        guard DocumentStore.isValidHash(sha256) else {
            return Self.error(.badRequest, "invalidHash", DocumentStoreError.invalidHash(sha256).description)
        }
        guard !fileId.isEmpty else { return Self.error(.badRequest, "invalidFileId", "the file id is empty") }
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > maxBytes {
            return Self.error(
                .contentTooLarge, "tooLarge", "the document has \(declared) bytes, more than the limit of \(maxBytes)")
        }
        let staged: DocumentStore.Staged
        do {
            staged = try await store.write(request.body, expectedSHA256: sha256, maxBytes: maxBytes)
        } catch {
            logger.notice(
                "document upload refused",
                metadata: ["records.file": "\(fileId)", "document.sha256": "\(sha256)", "error": "\(error)"])
            return Self.response(for: error)
        }
        // One upload of a given hash at a time from commit to verdict: whether this request created
        // the object, and removing it again, cannot interleave with another request for those bytes.
        return await locks.withLock(sha256) {
            let stored: StoredObject
            do throws(DocumentStoreError) {
                stored = try await staged.commit()
            } catch {
                logger.error("storing a document failed", metadata: ["document.sha256": "\(sha256)", "error": "\(error)"])
                return Self.response(for: error)
            }
            let verdict: UploadVerdict
            do {
                verdict = try await registry.recordStored(fileId: fileId, sha256: sha256, size: stored.size)
            } catch {
                removeIfCreated(stored)
                logger.warning(
                    "the registry could not record a document",
                    metadata: ["records.file": "\(fileId)", "document.sha256": "\(sha256)", "error": "\(error)"])
                return Self.error(.serviceUnavailable, "unavailable", "the document could not be recorded now; try again")
            }
            switch verdict {
            case .recorded:
                logger.info(
                    "document stored",
                    metadata: [
                        "records.file": "\(fileId)", "document.sha256": "\(sha256)", "document.size": "\(stored.size)",
                        "document.created": "\(stored.created)",
                    ])
                return Self.json(
                    stored.created ? .created : .ok,
                    UploadReceipt(fileId: fileId, sha256: sha256, size: stored.size, created: stored.created))
            case .unknownFile(let message):
                removeIfCreated(stored)
                return Self.error(.notFound, "unknownFile", message)
            case .notDeclared(let message):
                removeIfCreated(stored)
                return Self.error(.conflict, "notDeclared", message)
            }
        }
    }

    /// Takes back an object the refused request put there (one that was already stored stays).
    func removeIfCreated(_ stored: StoredObject) {
        guard stored.created else { return }
        do {
            try store.remove(stored.sha256)
        } catch {
            logger.error(
                "removing a refused document failed", metadata: ["document.sha256": "\(stored.sha256)", "error": "\(error)"])
        }
    }

    // MARK: GET /documents/{sha256}

    func download(_ sha256: String) async -> Response {
        guard DocumentStore.isValidHash(sha256) else {
            return Self.error(.badRequest, "invalidHash", DocumentStoreError.invalidHash(sha256).description)
        }
        let document: StoredDocument
        do {
            document = try await store.open(sha256)
        } catch {
            switch error {
            case .missing:
                await unservable(sha256, reason: "missing", error)
            case .corrupt:
                await unservable(sha256, reason: "corrupt", error)
            default:
                logger.error("reading a document failed", metadata: ["document.sha256": "\(sha256)", "error": "\(error)"])
            }
            return Self.response(for: error)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[.contentLength] = "\(document.size)"
        headers[.eTag] = "\"\(sha256)\""
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody(contentLength: document.size) { writer in
                try await writer.write(document)
                try await writer.finish(nil)
            })
    }

    func unservable(_ sha256: String, reason: String, _ error: DocumentStoreError) async {
        logger.error(
            "stored document cannot be served",
            metadata: ["document.sha256": "\(sha256)", "document.problem": "\(reason)", "error": "\(error)"])
        Counter(label: "ot_records_documents_unservable_total", dimensions: [("reason", reason)]).increment()
        await registry.reportUnservable(sha256: sha256, reason: reason)
    }

    // MARK: Responses

    /// The body of a successful upload.
    struct UploadReceipt: Codable {
        var fileId: String
        var sha256: String
        var size: Int
        var created: Bool
    }

    /// The body of every error.
    struct ErrorBody: Codable {
        var error: String
        var message: String
    }

    static func response(for error: DocumentStoreError) -> Response {
        switch error {
        case .invalidHash: Self.error(.badRequest, "invalidHash", error.description)
        case .tooLarge: Self.error(.contentTooLarge, "tooLarge", error.description)
        case .hashMismatch(let expected, let actual):
            Self.error(
                .unprocessableContent, "hashMismatch",
                "the bytes received hash to \(actual), not to the declared \(expected)")
        case .missing: Self.error(.notFound, "missing", error.description)
        case .corrupt(let sha256, _):
            Self.error(.conflict, "corrupt", "the stored document \(sha256) is corrupt and is not served")
        case .bodyFailed: Self.error(.badRequest, "bodyFailed", error.description)
        case .cancelled: Self.error(.serviceUnavailable, "unavailable", "the request was cancelled")
        case .io: Self.error(.internalServerError, "storageFailed", "the document store failed")
        }
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        json(status, ErrorBody(error: code, message: message))
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// One holder per key at a time (the keys are document hashes), waiters served in order.
final class HashLocks: Sendable {
    private struct State {
        var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    }
    private let state = Mutex(State())

    func withLock<T: Sendable>(_ key: String, _ body: () async -> T) async -> T {
        await acquire(key)
        let result = await body()
        release(key)
        return result
    }

    private func acquire(_ key: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = state.withLock { state -> Bool in
                if state.waiters[key] == nil {
                    state.waiters[key] = []
                    return true
                }
                state.waiters[key]!.append(continuation)
                return false
            }
            if free { continuation.resume() }
        }
    }

    private func release(_ key: String) {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var queue = state.waiters[key], !queue.isEmpty else {
                state.waiters[key] = nil
                return nil
            }
            let next = queue.removeFirst()
            state.waiters[key] = queue
            return next
        }
        next?.resume()
    }
}
