import Contracts
import Crypto
import Foundation
import Runtime

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension DemoScript {
    /// The records act (seed 002, sale and post-sale document management): the demo's project OTs
    /// had their folders registered by themselves; an advisor files a sale whose contract lacks the
    /// client's signature — returned, signed, resubmitted and archived for two years; the signed
    /// contract's bytes go to the document store; a retrieval is answered with a scan, downloaded and
    /// compared byte for byte; the act's KPI. (`up.sh` then shows the two-year transfer with the
    /// clock offset.)
    func records() async throws {
        say("10. Records (seed 002): every project OT's folder was registered by itself when it opened")
        let projects = watch.events(WorkOrderOpened.self).map(\.data).filter { $0.kind == .project && $0.workOrderId.hasPrefix("DEMO-\(run)-") }
        for ot in projects {
            let id = "EXP-OT-\(ot.workOrderId)"
            if let a = try? await watch.first(FileArchived.self, timeout: .seconds(2), where: { $0.fileId == id }) {
                Console.line("   \(id): archived at \(a.data.location) until \(Wire.timestamp(a.data.retainUntil))")
            } else if let r = watch.events(FileReturned.self).first(where: { $0.data.fileId == id }) {
                Console.line("   \(id): returned, missing \(r.data.missing.joined(separator: ", ")) (its documents arrived after the opening)")
            }
        }

        let tag = "\(run)-\(UUID().uuidString.prefix(4).lowercased())"
        let fileId = "EXP-DEMO-\(tag)", contractId = "CT-DEMO-\(tag)"
        let advisor = Advisor(id: "A-12", name: "Carla Rojas Terrazas")
        // Each document's bytes, named by their SHA-256.
        func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
        let offer = Data("%PDF-1.4\nOferta comercial de internet para \(contractId).\n%%EOF\n".utf8)
        say("   an advisor of the zonal office files the sale of \(contractId): the contract is not signed yet")
        try await send(
            RegisterFile(
                fileId: fileId, advisor: advisor, office: .zonal, caseKind: .sale, caseId: contractId, service: "internet",
                documents: [Document(kind: .offer, uri: "records:\(sha256(offer))", sha256: sha256(offer))]))
        let returned = try await watch.first(FileReturned.self, timeout: timeout) { $0.fileId == fileId }
        Console.line("   returned to \(returned.data.advisor.name): missing \(returned.data.missing.joined(separator: ", ")); she calls the client for the signature")

        let contract = Data("%PDF-1.4\nContrato de servicio de internet \(contractId), firmado por el cliente.\n%%EOF\n".utf8)
        let sha = sha256(contract)
        try await send(
            ResubmitFile(fileId: fileId, documents: [Document(kind: .contract, uri: "records:\(sha)", sha256: sha)]))
        let archived = try await watch.first(FileArchived.self, timeout: timeout) { $0.fileId == fileId }
        Console.line("   complete: classified at \(archived.data.location), kept until \(Wire.timestamp(archived.data.retainUntil))")

        for (name, bytes) in [("offer", offer), ("signed contract", contract)] {
            let upload = try await http("PUT", "/files/\(fileId)/documents/\(sha256(bytes))", body: bytes)
            Console.line("   the \(name)'s \(bytes.count) bytes uploaded to the document store: HTTP \(upload.status)")
        }
        let stored = [sha256(offer): offer, sha: contract]

        say("   UTAR asks for the file (a scan)")
        let retrievalId = "REC-DEMO-\(tag)"
        try await send(RequestRetrieval(retrievalId: retrievalId, caseId: contractId, requestedBy: RetrievalRequester(unit: "UTAR", name: "Jorge Vargas"), format: .scan))
        _ = try await watch.first(RetrievalRequested.self, timeout: timeout) { $0.retrievalId == retrievalId }
        try await send(DeliverRetrieval(retrievalId: retrievalId, by: "gestor.documental", format: .scan))
        let delivered = try await watch.first(RetrievalDelivered.self, timeout: timeout) { $0.retrievalId == retrievalId }
        for link in delivered.data.links ?? [] {
            let path = link.range(of: "/documents/").map { String(link[$0.lowerBound...]) } ?? link
            let back = try await http("GET", path)
            let expected = stored[String(link.split(separator: "/").last ?? "")]
            Console.line("   \(link): HTTP \(back.status), \(back.body.count) bytes, \(back.body == expected ? "byte for byte the uploaded document" : "NOT the uploaded bytes")")
        }
        Console.line("   KPI (this act): 1 retrieval requested, 1 delivered; `otctl kpi records <month>` gives the month's")
    }

    /// One request to the records service's document endpoint.
    func http(_ method: String, _ path: String, body: Data? = nil) async throws -> (status: Int, body: Data) {
        guard let url = URL(string: documentsURL + path) else { throw CLIError("not a URL: \(documentsURL + path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }
}
