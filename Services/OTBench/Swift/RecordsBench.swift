import AMQP
import Contracts
import Crypto
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The records service alone on a throwaway vhost and database, its document store in a temporary
/// directory (removed afterwards), its document endpoint on a free loopback port (read from its log):
/// - registrations: N complete files (`records.register`, distinct cases, sale / post-sale / OT
///   folders mixed) published at once as the CRM (`crm`) would; the figure is registrations/s from
///   the first publish to the last `records.archived`, with exactly N archived and none returned or
///   rejected;
/// - documents: D files each declaring one document of random bytes with its SHA-256 are
///   registered, then the bytes are uploaded (`PUT /files/{fileId}/documents/{sha256}`) and
///   downloaded back (`GET /documents/{sha256}`) over a few keep-alive connections; the figures are
///   MiB/s each way and the per-request p50 / p99. Every upload must answer 201 (stored now), every
///   download 200 with exactly the bytes whose SHA-256 the file declared (checked after the timed
///   phase), and the store must hold exactly D objects and no temporary file.
///
/// The HTTP client is ``LoopbackHTTP``: blocking sockets, one thread per connection, the body sent
/// from and received into memory with no per-chunk copies, so that the measurement is the service's.
struct RecordsBench {
    static let service = "records"
    static let sender = "crm"

    var amqpURL: AMQPURL
    var managementURL: String
    var postgres: DatabaseEndpoint
    var registrations: Int
    var documents: Int
    /// Size of each document, MiB.
    var documentMiB: Int
    var connections: Int
    var confirmBatch: Int
    var serviceEnvironment: [String: String]
    var logger: Logger

    var documentBytes: Int { documentMiB << 20 }

    struct Registrations {
        var files: Int
        var seconds: Double
        var publishSeconds: Double
        var archived: Int
        var archivedEvents: Int
        var returned: Int
        var rejected: Int
        var cpu: CPUUsage
        var rate: Double { Double(files) / seconds }
    }

    struct Transfer {
        var requests: Int
        var bytes: Int
        var seconds: Double
        var latency: LatencySummary
        var cpu: CPUUsage
        var mibPerSecond: Double { Double(bytes) / 1_048_576 / seconds }
    }

    struct Result {
        var tunables: String
        var maxBytes: Int
        var registrations: Registrations
        /// Files registered (and archived) for the documents, before the uploads.
        var documentFilesSeconds: Double
        var upload: Transfer
        var download: Transfer
        /// Downloads whose body hashed to the declared SHA-256.
        var verified: Int
        /// Objects and temporary files in the store after the uploads.
        var objects: Int
        var temporaries: Int
    }

    func run(janitor: Janitor) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("otbench-documents-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Added before the cluster's own tasks: the janitor runs them last-in first-out, so the
        // directory goes after the service has stopped.
        janitor.add("documents \(directory.path)") { try? FileManager.default.removeItem(at: directory) }
        // Also when the cluster never started (its failure does not run the janitor).
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = serviceEnvironment
        environment["DOCUMENTS_DIR"] = directory.path
        environment["DOCUMENTS_HTTP_PORT"] = "0"
        environment["DOCUMENTS_MAX_BYTES"] = "\(documentBytes)"
        // The endpoint's port is only in its info-level "documents endpoint listening" line.
        if environment["OTBENCH_SERVICE_LOG_LEVEL"] == nil && ProcessInfo.processInfo.environment["OTBENCH_SERVICE_LOG_LEVEL"] == nil {
            environment["OTBENCH_SERVICE_LOG_LEVEL"] = "info"
        }
        let driver = PostSaleBench(
            amqpURL: amqpURL, managementURL: managementURL, postgres: postgres, requests: 0, contracts: 0, cycleContracts: 0,
            confirmBatch: confirmBatch, serviceEnvironment: environment, logger: logger)
        return try await driver.measuring(Self.service, as: [(Self.sender, "otbench-crm"), (nil, "otbench-records")], janitor: janitor) {
            cluster, connections in
            try await measure(driver, cluster, crm: connections[0], events: connections[1], store: directory.path)
        }
    }

    private func measure(_ driver: PostSaleBench, _ cluster: ServiceCluster, crm: AMQPConnection, events: AMQPConnection, store: String)
        async throws -> Result
    {
        let tunables = HopBench.tunableDefaults.map { k, d in "\(k)=\(cluster.environment[k] ?? d)" }.joined(separator: " ")
        let seen = Box(FilesSeen())
        let task = try await driver.watch(events, keys: [FileArchived.type, FileReturned.type, CommandRejected.type]) { type, body in
            let data = (try? ContractJSONDecoder().decode(FileProbe.self, from: Data(body)))?.data
            let now = ContinuousClock.now
            seen.value.withLock { $0.handle(type, data, at: now) }
        }
        defer { task.cancel() }

        // 1. Registrations.
        let files = try (0..<registrations).map { try driver.message(Self.file($0, prefix: "B", document: nil), by: Self.sender) }
        let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
        let start = ContinuousClock.now
        try await driver.publish(crm, files)
        let publishSeconds = seconds(.now - start)
        try await waitForArchived(driver, cluster, seen, count: registrations)
        let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
        // Late duplicates or rejections would show up now.
        try await Task.sleep(for: .milliseconds(500))
        let s = seen.value.withLock { $0 }
        let registered = Registrations(
            files: registrations, seconds: seconds((s.lastArchived ?? .now) - start), publishSeconds: publishSeconds,
            archived: s.archived.count, archivedEvents: s.archivedEvents, returned: s.returned, rejected: s.rejected, cpu: cpu)
        guard s.archived.count == registrations, s.archivedEvents == registrations, s.returned == 0, s.rejected == 0 else {
            throw BenchError(
                "expected \(registrations) files archived once each: \(s.archived.count) archived (\(s.archivedEvents) events), "
                    + "\(s.returned) returned, \(s.rejected) rejected\(s.rejectionSample.map { ", e.g. \($0)" } ?? "")")
        }

        // 2. The documents: random bytes, each declared by its own file, registered first.
        progress("records: \(documents) documents of \(documentMiB) MiB …")
        let bodies = try (0..<documents).map { _ in try Self.randomBytes(documentBytes) }
        let hashes = bodies.map { Self.sha256Hex($0) }
        let fileIds = (0..<documents).map { Self.fileId($0, prefix: "D") }
        seen.value.withLock { $0 = FilesSeen() }
        let registerStart = ContinuousClock.now
        try await driver.publish(
            crm, try hashes.enumerated().map { try driver.message(Self.file($0.offset, prefix: "D", document: $0.element), by: Self.sender) })
        try await waitForArchived(driver, cluster, seen, count: documents)
        let documentFilesSeconds = seconds(.now - registerStart)
        let port = try await endpointPort(cluster)

        let paths = zip(fileIds, hashes).map { "/files/\($0)/documents/\($1)" }
        let upload = try await transfer(cluster, port: port, count: documents) { http, i in
            let r = try http.request("PUT", paths[i], body: bodies[i])
            guard r.status == 201 else { throw BenchError("PUT \(paths[i]) answered \(r.status): \(String(decoding: r.body, as: UTF8.self))") }
            return bodies[i].count
        }
        let objects = Self.regularFiles(under: store + "/objects")
        let temporaries = Self.regularFiles(under: store + "/tmp")

        let received = Box([[UInt8]](repeating: [], count: documents))
        let download = try await transfer(cluster, port: port, count: documents) { http, i in
            let r = try http.request("GET", "/documents/\(hashes[i])", body: nil)
            guard r.status == 200 else { throw BenchError("GET /documents/\(hashes[i]) answered \(r.status): \(String(decoding: r.body, as: UTF8.self))") }
            let size = r.body.count
            received.value.withLock { $0[i] = r.body }
            return size
        }
        // The check, outside the timed phase: every body is the declared document.
        let verified = received.value.withLock { bodies in zip(bodies, hashes).filter { Self.sha256Hex($0) == $1 }.count }
        guard verified == documents, objects == documents, temporaries == 0 else {
            throw BenchError(
                "\(verified) of \(documents) downloads hash to the declared SHA-256; the store holds \(objects) objects and \(temporaries) temporary files")
        }
        return Result(
            tunables: tunables, maxBytes: documentBytes, registrations: registered, documentFilesSeconds: documentFilesSeconds,
            upload: upload, download: download, verified: verified, objects: objects, temporaries: temporaries)
    }

    /// Until `count` files are archived; fails on a rejection or a return, or when nothing moves for 60 s.
    private func waitForArchived(_ driver: PostSaleBench, _ cluster: ServiceCluster, _ seen: Box<FilesSeen>, count: Int) async throws {
        try await driver.waitFor("files archived", cluster) {
            let s = seen.value.withLock { $0 }
            return (s.archived.count >= count || s.rejected > 0 || s.returned > 0, s.archivedEvents)
        }
        let s = seen.value.withLock { $0 }
        if s.rejected > 0 || s.returned > 0 {
            throw BenchError("\(s.rejected) registrations rejected, \(s.returned) files returned\(s.rejectionSample.map { ", e.g. \($0)" } ?? "")")
        }
    }

    /// `count` requests over `connections` keep-alive connections, each thread taking the next
    /// index; `body` makes request `i` and returns its bytes. Wall time from the first request to
    /// the last byte, each request's latency, the CPU meanwhile.
    private func transfer(
        _ cluster: ServiceCluster, port: Int, count: Int, _ body: @escaping @Sendable (LoopbackHTTP, Int) throws -> Int
    ) async throws -> Transfer {
        let next = Box(0)
        let results = Box((latencies: [Double](), bytes: 0, failure: String?.none))
        let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
        let start = ContinuousClock.now
        await onThreads(min(connections, count)) {
            let http = LoopbackHTTP(port: port)
            defer { http.close() }
            while true {
                let i = next.value.withLock { n in
                    defer { n += 1 }
                    return n
                }
                guard i < count, results.value.withLock({ $0.failure == nil }) else { return }
                let t = ContinuousClock.now
                do {
                    let bytes = try body(http, i)
                    let ms = seconds(.now - t) * 1000
                    results.value.withLock { r in
                        r.latencies.append(ms)
                        r.bytes += bytes
                    }
                } catch {
                    results.value.withLock { $0.failure = "\(error)" }
                    return
                }
            }
        }
        let wall = seconds(.now - start)
        let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
        let r = results.value.withLock { $0 }
        if let failure = r.failure { throw BenchError(failure) }
        return Transfer(requests: count, bytes: r.bytes, seconds: wall, latency: LatencySummary(r.latencies), cpu: cpu)
    }

    /// The document endpoint's port, from the service's "documents endpoint listening" line.
    private func endpointPort(_ cluster: ServiceCluster) async throws -> Int {
        let log = cluster.services[0].logPath
        for _ in 0..<100 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("documents endpoint listening") }),
                let port = line.firstMatch(of: /http\.port=([0-9]+)/).flatMap({ Int($0.1) })
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("no \"documents endpoint listening\" line with http.port in \(log) (is OTBENCH_SERVICE_LOG_LEVEL above info?)")
    }

    static func fileId(_ i: Int, prefix: String) -> String { "EXP-\(prefix)-\(i)" }

    /// A complete file: sale (a contract), post-sale (a request letter) or an OT's folder (offer,
    /// OT, purchase order) in turn, each its own case; with `document`, a sale file whose contract
    /// has that SHA-256.
    static func file(_ i: Int, prefix: String, document sha256: String?) -> RegisterFile {
        let kinds: [(RecordsCaseKind, String, [DocumentKind])] = [
            (.sale, "internet", [.contract]), (.postsale, "suspension", [.requestLetter]),
            (.workOrder, "project", [.offer, .workOrder, .purchaseOrder]),
        ]
        let (caseKind, service, documents) = sha256 == nil ? kinds[i % kinds.count] : kinds[0]
        let caseId = "CASE-\(prefix)-\(i)"
        return RegisterFile(
            fileId: fileId(i, prefix: prefix), advisor: Advisor(id: "A-\(i % 40)", name: "Asesor \(i % 40)"),
            office: RecordsOffice.allCases[i % RecordsOffice.allCases.count], caseKind: caseKind, caseId: caseId, service: service,
            documents: documents.map { Document(kind: $0, uri: "s3://ot-docs/\(caseId)/\($0.rawValue).pdf", sha256: sha256) })
    }

    static func randomBytes(_ count: Int) throws -> Data {
        guard let urandom = FileHandle(forReadingAtPath: "/dev/urandom") else { throw BenchError("cannot open /dev/urandom") }
        defer { try? urandom.close() }
        let data = try urandom.read(upToCount: count) ?? Data()
        guard data.count == count else { throw BenchError("/dev/urandom gave \(data.count) of \(count) bytes") }
        return data
    }

    static func sha256Hex(_ bytes: some DataProtocol) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Regular files below `directory`.
    static func regularFiles(under directory: String) -> Int {
        let url = URL(fileURLWithPath: directory)
        guard let e = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey]) else { return 0 }
        return e.compactMap { $0 as? URL }.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }.count
    }
}

/// The fields of a records event the watcher reads.
private struct FileProbe: Decodable {
    struct D: Decodable {
        var fileId: String?
        var commandType: String?
        var code: String?
        var message: String?
    }
    var data: D?
}

/// What the watcher saw of the current phase.
private struct FilesSeen {
    var archived = Set<String>()
    var archivedEvents = 0
    var lastArchived: ContinuousClock.Instant?
    var returned = 0
    var rejected = 0
    var rejectionSample: String?

    mutating func handle(_ type: String, _ data: FileProbe.D?, at: ContinuousClock.Instant) {
        switch type {
        case FileArchived.type:
            archivedEvents += 1
            if let id = data?.fileId, archived.insert(id).inserted { lastArchived = at }
        case FileReturned.type:
            returned += 1
            if rejectionSample == nil { rejectionSample = "returned \(data?.fileId ?? "?")" }
        case CommandRejected.type:
            rejected += 1
            if rejectionSample == nil { rejectionSample = "\(data?.commandType ?? "?") \(data?.code ?? "?"): \(data?.message ?? "?")" }
        default:
            break
        }
    }
}

/// Runs `body` on `count` threads of their own (blocking I/O stays off the concurrency pool,
/// which has a thread per core); returns when all have finished.
func onThreads(_ count: Int, _ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        let left = Box(count)
        for _ in 0..<count {
            Thread {
                body()
                if left.value.withLock({ n in
                    n -= 1
                    return n == 0
                }) {
                    done.resume()
                }
            }.start()
        }
    }
}

/// A minimal HTTP/1.1 client over one keep-alive TCP connection to 127.0.0.1, for one thread:
/// blocking `send` of the request from the caller's memory, the response body received straight
/// into an array of its `Content-Length` (the only framing it accepts). Reconnects when the server
/// closes the connection.
final class LoopbackHTTP {
    let port: Int
    private var fd: Int32 = -1
    /// Bytes received past the last response.
    private var pending: [UInt8] = []

    init(port: Int) { self.port = port }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        pending = []
    }

    func request(_ method: String, _ path: String, body: Data?) throws -> (status: Int, body: [UInt8]) {
        try connectIfNeeded()
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        if let body { head += "Content-Type: application/octet-stream\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        try send(Data(head.utf8))
        if let body { try send(body) }
        return try response()
    }

    private func connectIfNeeded() throws {
        guard fd < 0 else { return }
        fd = try loopbackSocket(port: port)
    }

    private func send(_ data: Data) throws {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var done = 0
            while done < bytes.count {
                let n = Glibc.send(fd, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    let why = String(cString: strerror(errno))
                    close()
                    throw BenchError("send: \(why)")
                }
                done += n
            }
        }
    }

    /// Receives at most `count` bytes into `buffer`; 0 at the end of the stream.
    private func receive(_ buffer: UnsafeMutableRawPointer, _ count: Int) throws -> Int {
        while true {
            let n = recv(fd, buffer, count, 0)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            let why = String(cString: strerror(errno))
            close()
            throw BenchError("recv: \(why)")
        }
    }

    private func response() throws -> (status: Int, body: [UInt8]) {
        // The head: up to the blank line.
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var end: Int?
        while true {
            end = Self.headEnd(pending)
            if end != nil { break }
            let n = try chunk.withUnsafeMutableBytes { try receive($0.baseAddress!, $0.count) }
            guard n > 0 else {
                close()
                throw BenchError("the connection closed before a response")
            }
            pending += chunk[0..<n]
        }
        let headLength = end!
        let head = String(decoding: pending[0..<headLength], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw BenchError("malformed status line: \(lines.first ?? "")")
        }
        var contentLength: Int?
        var closes = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { contentLength = Int(value) }
            if name == "connection" && value.lowercased() == "close" { closes = true }
            if name == "transfer-encoding" { throw BenchError("unsupported response framing: transfer-encoding \(value)") }
        }
        guard let length = contentLength else { throw BenchError("a response without Content-Length") }
        let already = min(length, pending.count - headLength)
        var failure: (any Error)?
        let body = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            pending.withUnsafeBytes { src in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[headLength..<(headLength + already)]))
            }
            var filled = already
            while filled < length {
                do {
                    let n = try receive(buffer.baseAddress! + filled, length - filled)
                    if n == 0 {
                        failure = BenchError("the connection closed after \(filled) of \(length) body bytes")
                        break
                    }
                    filled += n
                } catch {
                    failure = error
                    break
                }
            }
            initialized = filled
        }
        if let failure {
            close()
            throw failure
        }
        pending.removeFirst(headLength + already)
        if closes { close() }
        return (status, body)
    }

    /// The length of the head including its blank line, once it is all in `bytes`.
    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 3..<bytes.count where bytes[i] == 10 && bytes[i - 1] == 13 && bytes[i - 2] == 10 && bytes[i - 3] == 13 {
            return i + 1
        }
        return nil
    }
}
