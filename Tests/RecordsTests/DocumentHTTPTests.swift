import Foundation
import Logging
import Records
import ServiceLifecycle
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: A registry standing in for the records service

/// The service's answer, in memory: the files it knows and the hashes each declares; records calls.
final class FakeRegistry: DocumentRegistry {
    struct Unavailable: Error {}
    struct State {
        var declared: [String: Set<String>] = [:]
        var failing: Set<String> = []
        var stored: [(fileId: String, sha256: String, size: Int)] = []
        var unservable: [(sha256: String, reason: String)] = []
    }
    let state = Mutex(State())

    func declare(_ fileId: String, _ hashes: String...) {
        state.withLock { $0.declared[fileId, default: []].formUnion(hashes) }
    }
    func fail(_ fileId: String) { state.withLock { _ = $0.failing.insert(fileId) } }
    var stored: [(fileId: String, sha256: String, size: Int)] { state.withLock { $0.stored } }
    var unservable: [(sha256: String, reason: String)] { state.withLock { $0.unservable } }

    func recordStored(fileId: String, sha256: String, size: Int) async throws -> UploadVerdict {
        try state.withLock { state in
            if state.failing.contains(fileId) { throw Unavailable() }
            guard let hashes = state.declared[fileId] else { return .unknownFile("no file \(fileId)") }
            guard hashes.contains(sha256) else { return .notDeclared("file \(fileId) declares no document \(sha256)") }
            state.stored.append((fileId, sha256, size))
            return .recorded
        }
    }

    func reportUnservable(sha256: String, reason: String) async {
        state.withLock { $0.unservable.append((sha256, reason)) }
    }
}

// MARK: Log capture (the bound port is read from the log)

final class LogLines: Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }
    private let lines = Mutex<[Line]>([])
    var all: [Line] { lines.withLock { $0 } }
    func append(_ line: Line) { lines.withLock { $0.append(line) } }
}

struct LogLinesHandler: LogHandler {
    let lines: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lines.append(.init(level: event.level, message: event.message.description, metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
    }
}

// MARK: A minimal HTTP/1.1 client over a loopback socket

struct HTTPReply: Sendable {
    var status: Int
    /// Header names lower-cased.
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
    }
}

enum ClientBody: Sendable {
    case none
    /// Sent with `Content-Length` (the real one unless `declaredLength` says otherwise).
    case bytes([UInt8], declaredLength: Int? = nil)
    /// Sent with `Transfer-Encoding: chunked`, one HTTP chunk per element.
    case chunked([[UInt8]])
}

struct ClientError: Error, CustomStringConvertible {
    var description: String
}

/// One request on its own connection, on its own thread (the blocking socket never ties up the
/// concurrency pool the server's handlers run on). Does not rely on the server closing the
/// connection: the reply is read by its `Content-Length` (or its chunks).
func http(_ method: String, _ path: String, port: Int, body: ClientBody = .none) async throws -> HTTPReply {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try blockingHTTP(method, path, port: port, body: body) })
        }
        thread.start()
    }
}

func blockingHTTP(_ method: String, _ path: String, port: Int, body: ClientBody) throws -> HTTPReply {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw ClientError(description: "socket: errno \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    #if canImport(Darwin)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
    #endif
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port)).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw ClientError(description: "connect to port \(port): errno \(errno)") }

    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
    var payload: [UInt8] = []
    switch body {
    case .none:
        if method == "PUT" || method == "POST" { head += "Content-Length: 0\r\n" }
    case .bytes(let bytes, let declared):
        head += "Content-Type: application/pdf\r\nContent-Length: \(declared ?? bytes.count)\r\n"
        payload = bytes
    case .chunked(let chunks):
        head += "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
        for chunk in chunks where !chunk.isEmpty {
            payload += Array((String(chunk.count, radix: 16) + "\r\n").utf8) + chunk + Array("\r\n".utf8)
        }
        payload += Array("0\r\n\r\n".utf8)
    }
    head += "\r\n"
    // A server refusing early may stop reading: a failed send is not the end, the reply is.
    _ = sendAll(fd, Array(head.utf8) + payload)

    var reader = SocketReader(fd: fd)
    let statusLine = try reader.line()
    let parts = statusLine.split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, let status = Int(parts[1]) else { throw ClientError(description: "bad status line \(statusLine)") }
    var headers: [String: String] = [:]
    while true {
        let line = try reader.line()
        if line.isEmpty { break }
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    var replyBody: [UInt8] = []
    if method == "HEAD" || status == 204 || status == 304 {
    } else if let length = headers["content-length"].flatMap({ Int($0) }) {
        replyBody = try reader.bytes(length)
    } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
        while true {
            let sizeLine = try reader.line()
            guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                throw ClientError(description: "bad chunk size \(sizeLine)")
            }
            if size == 0 {
                while try !reader.line().isEmpty {}
                break
            }
            replyBody += try reader.bytes(size)
            _ = try reader.line()
        }
    } else {
        replyBody = try reader.rest()
    }
    return HTTPReply(status: status, headers: headers, body: replyBody)
}

func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw in
        var sent = 0
        while sent < raw.count {
            #if canImport(Glibc)
            let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
            #else
            let n = send(fd, raw.baseAddress! + sent, raw.count - sent, 0)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            sent += n
        }
        return true
    }
}

struct SocketReader {
    let fd: Int32
    var buffer: [UInt8] = []
    var eof = false

    init(fd: Int32) { self.fd = fd }

    mutating func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 {
            if errno == EINTR { return }
            throw ClientError(description: "recv: errno \(errno)")
        }
        if n == 0 { eof = true }
        buffer += chunk[0..<n]
    }

    mutating func line() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<index])
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                buffer.removeFirst(index + 1)
                return String(decoding: line, as: UTF8.self)
            }
            if eof { throw ClientError(description: "connection closed mid-line") }
            try fill()
        }
    }

    mutating func bytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            if eof { throw ClientError(description: "connection closed after \(buffer.count) of \(count) bytes") }
            try fill()
        }
        let out = Array(buffer[..<count])
        buffer.removeFirst(count)
        return out
    }

    mutating func rest() throws -> [UInt8] {
        while !eof { try fill() }
        defer { buffer = [] }
        return buffer
    }
}

// MARK: The endpoint under test

/// Runs a ``DocumentHTTP`` on an ephemeral loopback port over a fresh store; `body` gets the port
/// (read from the "documents endpoint listening" log line), the store and the log.
func withDocumentEndpoint(
    maxBytes: Int = 1024 * 1024, registry: FakeRegistry,
    _ body: (_ port: Int, _ store: DocumentStore, _ log: LogLines) async throws -> Void
) async throws {
    try await withTemporaryStore { store throws in
        let lines = LogLines()
        var logger = Logger(label: "records-documents-test") { _ in LogLinesHandler(lines: lines) }
        logger.logLevel = .debug
        let service = DocumentHTTP(host: "127.0.0.1", port: 0, store: store, maxBytes: maxBytes, registry: registry, logger: logger)
        let server = Task { try await service.run() }
        defer { server.cancel() }
        var port: Int?
        for _ in 0..<1000 {
            if let line = lines.all.first(where: { $0.message == "documents endpoint listening" }) {
                #expect(line.level == .info)
                #expect(line.metadata["http.host"] == "127.0.0.1")
                port = line.metadata["http.port"].flatMap { Int("\($0)") }
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let bound = try #require(port, "the endpoint never logged that it listens")
        #expect(bound > 0 && service.boundPort == bound)
        try await body(bound, store, lines)
        server.cancel()
        _ = await server.result
    }
}

@Suite("document endpoint")
struct DocumentHTTPTests {
    @Test func anUploadIsStoredRecordedAndServedBackByteForByte() async throws {
        let registry = FakeRegistry()
        let bytes = sampleBytes(3 * 1024 * 1024 + 17)
        let sha = DocumentStore.sha256Hex(of: bytes)
        registry.declare("F-1", sha)
        try await withDocumentEndpoint(maxBytes: 4 * 1024 * 1024, registry: registry) { port, store, _ throws in
            let put = try await http("PUT", "/files/F-1/documents/\(sha)", port: port, body: .bytes(bytes))
            #expect(put.status == 201, "\(put.text)")
            let receipt = try put.json()
            #expect(receipt["fileId"] as? String == "F-1")
            #expect(receipt["sha256"] as? String == sha)
            #expect(receipt["size"] as? Int == bytes.count)
            #expect(receipt["created"] as? Bool == true)
            #expect(registry.stored.map(\.fileId) == ["F-1"] && registry.stored.first?.size == bytes.count)
            #expect(try store.contains(sha))

            let get = try await http("GET", "/documents/\(sha)", port: port)
            #expect(get.status == 200)
            #expect(get.headers["content-type"] == "application/octet-stream")
            #expect(get.headers["content-length"] == "\(bytes.count)")
            #expect(get.headers["etag"] == "\"\(sha)\"")
            #expect(get.body == bytes)
            #expect(DocumentStore.sha256Hex(of: get.body) == sha)
        }
    }

    @Test func uploadingTheSameBytesAgainIsIdempotent() async throws {
        let registry = FakeRegistry()
        let bytes = sampleBytes(5000)
        let sha = DocumentStore.sha256Hex(of: bytes)
        registry.declare("F-1", sha)
        try await withDocumentEndpoint(registry: registry) { port, store, _ throws in
            let first = try await http("PUT", "/files/F-1/documents/\(sha)", port: port, body: .bytes(bytes))
            let second = try await http("PUT", "/files/F-1/documents/\(sha)", port: port, body: .chunked([Array(bytes[..<100]), Array(bytes[100...])]))
            #expect(first.status == 201)
            #expect(second.status == 200, "\(second.text)")
            #expect(try second.json()["created"] as? Bool == false)
            #expect(filesUnder(store.objectsDirectory).count == 1)
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func anEmptyDocumentCanBeUploadedAndServed() async throws {
        let registry = FakeRegistry()
        let sha = DocumentStore.sha256Hex(of: [UInt8]())
        registry.declare("F-0", sha)
        try await withDocumentEndpoint(registry: registry) { port, _, _ throws in
            #expect(try await http("PUT", "/files/F-0/documents/\(sha)", port: port).status == 201)
            let get = try await http("GET", "/documents/\(sha)", port: port)
            #expect(get.status == 200 && get.body.isEmpty && get.headers["content-length"] == "0")
        }
    }

    @Test func anOversizeUploadIsRefusedByItsContentLength() async throws {
        let registry = FakeRegistry()
        let bytes = sampleBytes(2049)
        let sha = DocumentStore.sha256Hex(of: bytes)
        registry.declare("F-1", sha)
        try await withDocumentEndpoint(maxBytes: 2048, registry: registry) { port, store, _ throws in
            let put = try await http("PUT", "/files/F-1/documents/\(sha)", port: port, body: .bytes(bytes))
            #expect(put.status == 413)
            #expect(try put.json()["error"] as? String == "tooLarge")
            #expect(try !store.contains(sha))
            #expect(filesUnder(store.objectsDirectory).isEmpty && filesUnder(store.temporaryDirectory).isEmpty)
            #expect(registry.stored.isEmpty)
            // the connection's next user is unaffected: the limit itself is accepted
            let fits = Array(bytes[..<2048])
            registry.declare("F-1", DocumentStore.sha256Hex(of: fits))
            let ok = try await http("PUT", "/files/F-1/documents/\(DocumentStore.sha256Hex(of: fits))", port: port, body: .bytes(fits))
            #expect(ok.status == 201)
        }
    }

    @Test func anOversizeStreamedUploadIsRefusedWhenItPassesTheLimit() async throws {
        let registry = FakeRegistry()
        let bytes = sampleBytes(10_000)
        let sha = DocumentStore.sha256Hex(of: bytes)
        registry.declare("F-1", sha)
        try await withDocumentEndpoint(maxBytes: 4096, registry: registry) { port, store, _ throws in
            let chunks = stride(from: 0, to: bytes.count, by: 1000).map { Array(bytes[$0..<min($0 + 1000, bytes.count)]) }
            let put = try await http("PUT", "/files/F-1/documents/\(sha)", port: port, body: .chunked(chunks))
            #expect(put.status == 413)
            let error = try put.json()
            #expect(error["error"] as? String == "tooLarge")
            #expect((error["message"] as? String)?.contains("4096") == true)
            #expect(filesUnder(store.objectsDirectory).isEmpty && filesUnder(store.temporaryDirectory).isEmpty)
            #expect(registry.stored.isEmpty)
        }
    }

    @Test func theWrongHashIsRefusedAndNothingIsStored() async throws {
        let registry = FakeRegistry()
        let bytes = sampleBytes(3000)
        let actual = DocumentStore.sha256Hex(of: bytes)
        let declared = DocumentStore.sha256Hex(of: Array("the declared document".utf8))
        registry.declare("F-1", declared, actual)
        try await withDocumentEndpoint(registry: registry) { port, store, _ throws in
            let put = try await http("PUT", "/files/F-1/documents/\(declared)", port: port, body: .bytes(bytes))
            #expect(put.status == 422)
            let error = try put.json()
            #expect(error["error"] as? String == "hashMismatch")
            let message = try #require(error["message"] as? String)
            #expect(message.contains(declared) && message.contains(actual))
            #expect(filesUnder(store.objectsDirectory).isEmpty && filesUnder(store.temporaryDirectory).isEmpty)
            #expect(registry.stored.isEmpty)
        }
    }

    @Test(arguments: ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "ABCDEF", String(repeating: "A", count: 64), "short"])
    func anInvalidHashIsA400(_ name: String) async throws {
        let registry = FakeRegistry()
        try await withDocumentEndpoint(registry: registry) { port, store, _ throws in
            let put = try await http("PUT", "/files/F-1/documents/\(name)", port: port, body: .bytes([1, 2, 3]))
            let get = try await http("GET", "/documents/\(name)", port: port)
            // a name with "/" in it is no route at all (404); any other is an invalid hash
            for reply in [put, get] {
                if name.contains("/") {
                    #expect(reply.status == 404)
                } else {
                    #expect(reply.status == 400)
                    #expect(try reply.json()["error"] as? String == "invalidHash")
                }
            }
            #expect(filesUnder(store.objectsDirectory).isEmpty && filesUnder(store.temporaryDirectory).isEmpty)
            #expect(registry.stored.isEmpty && registry.unservable.isEmpty)
        }
    }

    @Test func anUnknownFileIsA404AndTheObjectIsRemoved() async throws {
        let registry = FakeRegistry()
        let bytes = sampleBytes(1500)
        let sha = DocumentStore.sha256Hex(of: bytes)
        try await withDocumentEndpoint(registry: registry) { port, store, _ throws in
            let put = try await http("PUT", "/files/F-404/documents/\(sha)", port: port, body: .bytes(bytes))
            #expect(put.status == 404)
            #expect(try put.json()["error"] as? String == "unknownFile")
            #expect(try !store.contains(sha))
            #expect(filesUnder(store.objectsDirectory).isEmpty && filesUnder(store.temporaryDirectory).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.objectsDirectory).isEmpty)
        }
    }

    @Test func anUndeclaredDocumentIsA409AndTheObjectIsRemoved() async throws {
        let registry = FakeRegistry()
        let bytes = sampleBytes(1500)
        let sha = DocumentStore.sha256Hex(of: bytes)
        registry.declare("F-1", DocumentStore.sha256Hex(of: Array("another".utf8)))
        try await withDocumentEndpoint(registry: registry) { port, store, _ throws in
            let put = try await http("PUT", "/files/F-1/documents/\(sha)", port: port, body: .bytes(bytes))
            #expect(put.status == 409)
            #expect(try put.json()["error"] as? String == "notDeclared")
            #expect(try !store.contains(sha))
            #expect(filesUnder(store.objectsDirectory).isEmpty && filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func aRefusedUploadKeepsBytesThatWereAlreadyStoredForAnotherFile() async throws {
        let registry = FakeRegistry()
        let bytes = sampleBytes(1500)
        let sha = DocumentStore.sha256Hex(of: bytes)
        registry.declare("F-1", sha)
        try await withDocumentEndpoint(registry: registry) { port, store, _ throws in
            #expect(try await http("PUT", "/files/F-1/documents/\(sha)", port: port, body: .bytes(bytes)).status == 201)
            #expect(try await http("PUT", "/files/F-2/documents/\(sha)", port: port, body: .bytes(bytes)).status == 404)
            #expect(try await store.verify(sha).size == 1500)
            #expect(try await http("GET", "/documents/\(sha)", port: port).body == bytes)
        }
    }

    @Test func aFailingRegistryIsA503AndTheObjectIsRemoved() async throws {
        let registry = FakeRegistry()
        registry.fail("F-1")
        let bytes = sampleBytes(1500)
        let sha = DocumentStore.sha256Hex(of: bytes)
        try await withDocumentEndpoint(registry: registry) { port, store, _ throws in
            let put = try await http("PUT", "/files/F-1/documents/\(sha)", port: port, body: .bytes(bytes))
            #expect(put.status == 503)
            #expect(try put.json()["error"] as? String == "unavailable")
            #expect(filesUnder(store.objectsDirectory).isEmpty && filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func aCorruptedObjectIsReportedAndNotServed() async throws {
        let registry = FakeRegistry()
        let bytes = sampleBytes(200_000)
        let sha = DocumentStore.sha256Hex(of: bytes)
        registry.declare("F-1", sha)
        try await withDocumentEndpoint(registry: registry) { port, store, log throws in
            #expect(try await http("PUT", "/files/F-1/documents/\(sha)", port: port, body: .bytes(bytes)).status == 201)
            try flipByte(at: 123_456, of: store.path(of: sha))

            let get = try await http("GET", "/documents/\(sha)", port: port)
            #expect(get.status == 409)
            #expect(get.headers["content-type"]?.hasPrefix("application/json") == true)
            let error = try get.json()
            #expect(error["error"] as? String == "corrupt")
            #expect(error["message"] is String)
            #expect(get.body.count < 1000, "no stored bytes in the refusal")
            #expect(registry.unservable.map(\.sha256) == [sha] && registry.unservable.map(\.reason) == ["corrupt"])
            #expect(log.all.contains { $0.level == .error && $0.metadata["document.sha256"] == "\(sha)" })
        }
    }

    @Test func aMissingObjectIsReportedAsA404() async throws {
        let registry = FakeRegistry()
        let sha = DocumentStore.sha256Hex(of: Array("never uploaded".utf8))
        try await withDocumentEndpoint(registry: registry) { port, _, log throws in
            let get = try await http("GET", "/documents/\(sha)", port: port)
            #expect(get.status == 404)
            #expect(try get.json()["error"] as? String == "missing")
            #expect(registry.unservable.map(\.sha256) == [sha] && registry.unservable.map(\.reason) == ["missing"])
            #expect(log.all.contains { $0.level == .error && $0.metadata["document.problem"] == "missing" })
        }
    }

    @Test func theEndpointStopsOnGracefulShutdown() async throws {
        try await withTemporaryStore { store throws in
            let lines = LogLines()
            let logger = Logger(label: "records-documents-test") { _ in LogLinesHandler(lines: lines) }
            let service = DocumentHTTP(host: "127.0.0.1", port: 0, store: store, maxBytes: 10, registry: FakeRegistry(), logger: logger)
            let group = ServiceGroup(configuration: .init(services: [service], logger: logger))
            let running = Task { try await group.run() }
            for _ in 0..<1000 where service.boundPort == nil { try await Task.sleep(for: .milliseconds(10)) }
            let port = try #require(service.boundPort)
            #expect(try await http("GET", "/health", port: port).status == 200)
            await group.triggerGracefulShutdown()
            try await running.value
            await #expect(throws: (any Error).self) { try await http("GET", "/health", port: port) }
        }
    }

    @Test func theHealthProbeAnswers() async throws {
        try await withDocumentEndpoint(registry: FakeRegistry()) { port, _, _ throws in
            let health = try await http("GET", "/health", port: port)
            #expect(health.status == 200 && health.text == "ok\n")
        }
    }
}
