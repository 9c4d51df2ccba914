import AMQP
import Contracts
import Crypto
import Foundation
import PostgresNIO
import Records
import Runtime
import Testing

/// The records service end to end against a real RabbitMQ and PostgreSQL, the service as its own
/// process with its document endpoint: files registered by advisors and from the platform's own
/// cases, returned and resubmitted, archived and transferred after two years (the clock offset,
/// across a restart), the documents' bytes uploaded and retrieved byte for byte, a corrupted stored
/// file reported and never served, retrievals that cannot be met, and the KPI.
@Suite("records service against RabbitMQ and PostgreSQL", .serialized)
struct RecordsServiceTests {
    static let advisor = Advisor(id: "A-17", name: "Carla Rojas")
    static let requester = RetrievalRequester(unit: "UTAR", name: "Jorge Vargas")

    static func start(_ system: TestSystem, documents: URL, environment: [String: String] = [:]) async throws -> (
        ServiceProcess, EventCollector, CommandSender
    ) {
        var env = ["DOCUMENTS_DIR": documents.path, "DOCUMENTS_HTTP_PORT": "0", "DOCUMENTS_MAX_BYTES": "1048576"]
        for (k, v) in environment { env[k] = v }
        let records = try system.start("records", environment: env)
        try await records.waitUntilReady()
        let events = try await EventCollector(system: system, keys: ["records.#", "command.rejected"])
        return (records, events, try await system.sender())
    }

    static func send<M: Message>(_ sender: CommandSender, _ message: M, id: String = UUID().uuidString.lowercased()) async throws {
        try await sender.publishConfirmed([try CommandSender.message(message, id: id)])
    }

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    /// The document endpoint's port, from the service's log.
    static func port(_ service: ServiceProcess) async throws -> String {
        #expect(await eventually(timeout: .seconds(10)) { service.log.contains("documents endpoint listening") })
        let line = try #require(service.log.split(separator: "\n").first { $0.contains("documents endpoint listening") })
        return String(try #require(line.firstMatch(of: /http\.port=([0-9]+)/)?.1))
    }

    /// `curl`: the HTTP status, and the body written to `output` when given.
    static func curl(_ args: [String], output: URL? = nil) throws -> Int {
        let out = output?.path ?? "/dev/null"
        let r = try shell(["curl", "-s", "-o", out, "-w", "%{http_code}"] + args)
        return Int(r.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    static func upload(_ port: String, fileId: String, sha: String, bytes: URL) throws -> Int {
        try curl(["-X", "PUT", "--data-binary", "@\(bytes.path)", "http://127.0.0.1:\(port)/files/\(fileId)/documents/\(sha)"])
    }

    static func temp(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("records-test-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Every regular file under `dir`.
    static func files(_ dir: URL) -> [URL] {
        guard let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        return e.compactMap { $0 as? URL }.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
    }

    @Test func filesAreRegisteredReturnedResubmittedArchivedAndRegisteredFromThePlatformsOwnCases() async throws {
        try await withTestSystem("rec-files") { system in
            let docs = Self.temp("files")
            defer { try? FileManager.default.removeItem(at: docs) }
            let (_, events, sender) = try await Self.start(system, documents: docs)
            // A sale file without its signed contract: returned to the advisor with what is missing.
            try await Self.send(
                sender,
                RegisterFile(
                    fileId: "EXP-S1", advisor: Self.advisor, office: .zonal, caseKind: .sale, caseId: "CT-901", service: "internet",
                    documents: [Document(kind: .offer, uri: "s3://ot-docs/CT-901/oferta.pdf")]))
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.returned") >= 1 })
            let returned = try #require(events.decoded(FileReturned.self).first?.data)
            #expect(returned.fileId == "EXP-S1" && returned.advisor == Self.advisor && returned.missing == ["contract"])
            #expect(events.decoded(FileRegistered.self).first?.data.caseId == "CT-901")
            // The advisor had the client sign and resubmits: classified and archived for two years.
            try await Self.send(sender, ResubmitFile(fileId: "EXP-S1", documents: [Document(kind: .contract, uri: "s3://ot-docs/CT-901/contrato-firmado.pdf")]))
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.archived") >= 1 })
            let archived = try #require(events.decoded(FileArchived.self).first?.data)
            #expect(archived.fileId == "EXP-S1" && archived.location.hasPrefix("zonal/sale/internet/"))
            let years = Calendar(identifier: .gregorian).dateComponents([.day], from: Date(), to: archived.retainUntil).day ?? 0
            #expect((729...731).contains(years), "kept two years")
            #expect(try await system.count("SELECT count(*)::int8 FROM records.file_returns WHERE file_id = 'EXP-S1'") == 1, "the return is recorded")

            // A resubmission of an archived file, and a file with a broken hash: clear rejections.
            try await Self.send(sender, ResubmitFile(fileId: "EXP-S1", documents: [Document(kind: .other, uri: "s3://x")]), id: "late-resubmit")
            try await Self.send(
                sender,
                RegisterFile(
                    advisor: Self.advisor, office: .plataforma, caseKind: .sale, caseId: "CT-902", service: "tv",
                    documents: [Document(kind: .contract, uri: "s3://x/c.pdf", sha256: "abc")]), id: "bad-hash")
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") >= 2 })
            let rejections = Dictionary(uniqueKeysWithValues: events.decoded(CommandRejected.self).map { ($0.data.commandId, $0.data) })
            #expect(rejections["late-resubmit"]?.code == "invalidTransition")
            #expect(rejections["bad-hash"]?.code == "validation" && rejections["bad-hash"]?.errors.first?.field == "data.documents[0].sha256")

            // The platform's own cases: a project OT's folder and a completed post-sale request.
            try await Self.send(
                sender,
                WorkOrderOpened(
                    workOrderId: "W-REC-1", number: "OT-BO-2026-000001", kind: .project, serviceLine: .csv, customer: .example,
                    documents: [
                        Document(kind: .offer, uri: "s3://o.pdf"), Document(kind: .purchaseOrder, uri: "s3://po.pdf"),
                        Document(kind: .workOrder, uri: "s3://ot.pdf"),
                    ]))
            try await Self.send(
                sender,
                WorkOrderOpened(
                    workOrderId: "W-REC-2", number: "OT-BO-2026-000002", kind: .repair, customer: .residentialExample, documents: []))
            try await Self.send(
                sender,
                PostSaleRequestCompleted(
                    requestId: "PV-REC-1", flow: .suspension, completedAt: Date(), qualityOk: true, contractId: "CT-1",
                    documents: [Document(kind: .requestLetter, uri: "s3://carta.pdf")]))
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.archived") >= 3 })
            let auto = Set(events.decoded(FileArchived.self).map(\.data.fileId))
            #expect(auto.isSuperset(of: ["EXP-OT-W-REC-1", "EXP-PV-PV-REC-1"]))
            try await Task.sleep(for: .seconds(1))
            #expect(try await system.count("SELECT count(*)::int8 FROM records.files WHERE case_id = 'W-REC-2'") == 0, "a repair has no sale folder")
            #expect(try await system.count("SELECT count(*)::int8 FROM records.files WHERE automatic AND advisor_id = 'auto'") == 2)
        }
    }

    @Test func documentsAreUploadedAndRetrievedByteForByteAndACorruptedOneIsReportedNeverServed() async throws {
        try await withTestSystem("rec-bytes") { system in
            let docs = Self.temp("bytes")
            let work = Self.temp("work")
            defer {
                try? FileManager.default.removeItem(at: docs)
                try? FileManager.default.removeItem(at: work)
            }
            let (records, events, sender) = try await Self.start(system, documents: docs)
            let port = try await Self.port(records)
            var rng = SystemRandomNumberGenerator()
            let contract = Data((0..<300_000).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let letter = Data("Carta de solicitud firmada".utf8)
            let (cSHA, lSHA) = (Self.sha256(contract), Self.sha256(letter))
            let cFile = work.appendingPathComponent("contract.pdf"), lFile = work.appendingPathComponent("letter.pdf")
            try contract.write(to: cFile)
            try letter.write(to: lFile)
            try await Self.send(
                sender,
                RegisterFile(
                    fileId: "EXP-B1", advisor: Self.advisor, office: .plataforma, caseKind: .sale, caseId: "CT-77", service: "internet",
                    documents: [Document(kind: .contract, uri: "records:contract", sha256: cSHA), Document(kind: .requestLetter, uri: "records:letter", sha256: lSHA)]))
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.archived") >= 1 })

            // Refused uploads leave nothing behind: an unknown file, a hash the file does not declare,
            // bytes that are not the declared hash, and more than the limit.
            let big = work.appendingPathComponent("big.bin")
            try Data(count: 1_048_577).write(to: big)
            #expect(try Self.upload(port, fileId: "EXP-NONE", sha: cSHA, bytes: cFile) == 404)
            let other = Data("otro".utf8)
            let oFile = work.appendingPathComponent("other")
            try other.write(to: oFile)
            #expect(try Self.upload(port, fileId: "EXP-B1", sha: Self.sha256(other), bytes: oFile) == 409)
            #expect(try Self.upload(port, fileId: "EXP-B1", sha: lSHA, bytes: cFile) == 422)
            #expect(try Self.upload(port, fileId: "EXP-B1", sha: Self.sha256(Data(count: 1_048_577)), bytes: big) == 413)
            #expect(Self.files(docs).isEmpty, "nothing stored: \(Self.files(docs))")

            // A scan before the letter's bytes arrived: the retrieval cannot be met.
            #expect(try Self.upload(port, fileId: "EXP-B1", sha: cSHA, bytes: cFile) == 201)
            try await Self.send(sender, RequestRetrieval(retrievalId: "R-1", fileId: "EXP-B1", requestedBy: Self.requester, format: .scan))
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.retrieval-requested") >= 1 })
            try await Self.send(sender, DeliverRetrieval(retrievalId: "R-1", by: "gestor.documental", format: .scan))
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.retrieval-failed") >= 1 })
            #expect(events.decoded(RetrievalFailed.self).first?.data.reason == "bytes missing: requestLetter")

            // Both uploaded (the second time the same bytes: idempotent): a scan is the stored bytes.
            #expect(try Self.upload(port, fileId: "EXP-B1", sha: lSHA, bytes: lFile) == 201)
            #expect([200, 201].contains(try Self.upload(port, fileId: "EXP-B1", sha: lSHA, bytes: lFile)))
            try await Self.send(sender, RequestRetrieval(retrievalId: "R-2", caseId: "CT-77", requestedBy: Self.requester, format: .scan))
            #expect(await eventually(timeout: .seconds(30)) { events.decoded(RetrievalRequested.self).contains { $0.data.retrievalId == "R-2" } })
            try await Self.send(sender, DeliverRetrieval(retrievalId: "R-2", by: "gestor.documental", format: .scan))
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.delivered") >= 1 })
            let delivered = try #require(events.decoded(RetrievalDelivered.self).first?.data)
            #expect(delivered.fileId == "EXP-B1" && delivered.format == .scan)
            let links = try #require(delivered.links)
            #expect(links.map { $0.components(separatedBy: "/documents/").last } == [cSHA, lSHA])
            let back = work.appendingPathComponent("back.pdf")
            #expect(try Self.curl(["http://127.0.0.1:\(port)/documents/\(cSHA)"], output: back) == 200)
            #expect(try Data(contentsOf: back) == contract, "byte for byte")

            // A stored file corrupted on disk: reported, never served.
            let stored = try #require(Self.files(docs).first { $0.lastPathComponent == cSHA })
            var bytes = try Data(contentsOf: stored)
            bytes[1000] ^= 0xFF
            try bytes.write(to: stored)
            let refused = work.appendingPathComponent("refused")
            #expect(try Self.curl(["http://127.0.0.1:\(port)/documents/\(cSHA)"], output: refused) == 409)
            #expect(try String(contentsOf: refused, encoding: .utf8).contains("corrupt"))
            #expect(await eventually(timeout: .seconds(5)) { records.log.contains("a stored document cannot be served") })
            try FileManager.default.removeItem(at: stored)
            #expect(try Self.curl(["http://127.0.0.1:\(port)/documents/\(cSHA)"]) == 404)

            // No such file: failed, not rejected. A copy of an existing file is handed over.
            try await Self.send(sender, RequestRetrieval(retrievalId: "R-3", fileId: "EXP-NOPE", requestedBy: Self.requester, format: .copy))
            try await Self.send(sender, RequestRetrieval(retrievalId: "R-4", fileId: "EXP-B1", requestedBy: Self.requester, format: .copy))
            #expect(await eventually(timeout: .seconds(30)) { events.decoded(RetrievalRequested.self).contains { $0.data.retrievalId == "R-4" } })
            try await Self.send(sender, DeliverRetrieval(retrievalId: "R-4", by: "gestor.documental", format: .copy))
            #expect(await eventually(timeout: .seconds(40)) {
                events.decoded(RetrievalFailed.self).contains { $0.data.retrievalId == "R-3" } && events.count("records.delivered") >= 2
            })
            #expect(events.decoded(RetrievalFailed.self).first { $0.data.retrievalId == "R-3" }?.data.reason == "no such file")

            // KPI: 4 requests, 2 delivered → 50 %, observed.
            let kpi = try await TestSystem.withConnection(database: system.database) { conn in try await recordsKPI(on: conn, month: YearMonth(Date())) }
            #expect(kpi?.requests == 4 && kpi?.recovered == 2 && kpi?.verdict == .observed)
        }
    }

    @Test func anArchivedFileIsTransferredToTheCentralArchiveAfterTwoYearsOnceAcrossARestart() async throws {
        try await withTestSystem("rec-transfer") { system in
            let docs = Self.temp("transfer")
            defer { try? FileManager.default.removeItem(at: docs) }
            let (records, events, sender) = try await Self.start(system, documents: docs)
            try await Self.send(
                sender,
                RegisterFile(
                    fileId: "EXP-T1", advisor: Self.advisor, office: .mezzanine, caseKind: .postsale, caseId: "PV-9", service: "withdrawal",
                    documents: [Document(kind: .requestLetter, uri: "s3://carta.pdf")]))
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.archived") >= 1 })
            _ = await records.terminate()
            // Two years and a day later by the service clock.
            let later = try system.start(
                "records", environment: ["DOCUMENTS_DIR": docs.path, "DOCUMENTS_HTTP_PORT": "0", "CLOCK_OFFSET_SECONDS": "\(731 * 86_400)"])
            try await later.waitUntilReady()
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.transferred") >= 1 })
            let moved = try #require(events.decoded(FileTransferred.self).first?.data)
            #expect(moved.fileId == "EXP-T1" && moved.to == "condebamba")
            // A retrieval now: transferred and not recalled.
            try await Self.send(sender, RequestRetrieval(retrievalId: "R-T", fileId: "EXP-T1", requestedBy: Self.requester, format: .copy))
            #expect(await eventually(timeout: .seconds(30)) { events.count("records.retrieval-failed") >= 1 })
            #expect(events.decoded(RetrievalFailed.self).first?.data.reason.hasPrefix("transferred to the central archive") == true)
            _ = await later.terminate()
            let again = try system.start(
                "records", environment: ["DOCUMENTS_DIR": docs.path, "DOCUMENTS_HTTP_PORT": "0", "CLOCK_OFFSET_SECONDS": "\(732 * 86_400)"])
            try await again.waitUntilReady()
            try await Task.sleep(for: .seconds(2))
            #expect(events.count("records.transferred") == 1, "exactly once")
            #expect(try await system.count("SELECT count(*)::int8 FROM records.files WHERE id = 'EXP-T1' AND state = 'transferred'") == 1)
        }
    }
}
