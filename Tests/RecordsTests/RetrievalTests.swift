import Contracts
import Foundation
@testable import Records
import Runtime
import Testing

/// A retrieval request (seed 002): requested with what its file says of itself, delivered as a
/// scan (links to the stored bytes) or a copy (handed over), or failed with the reason.
@Suite("records: a retrieval")
struct RetrievalTests {
    typealias File = RecordFile

    static let transferredReason = "transferred to the central archive (Condebamba) and not recalled"

    func requested(_ c: RequestRetrieval = R.request(), file: File.FileFacts?, at time: Date = R.t0) throws(Rejection) -> Decision<Retrieval.State> {
        try R.decide(Retrieval.self, nil, .requested(c, retrievalId: c.retrievalId ?? "REC-1", file: file), at: time)
    }

    /// The facts of the archived file after its two years (a transfer timer at its `retainUntil`).
    func transferredFacts() throws -> File.FileFacts {
        let archived = try R.storing(try R.archived(), R.shaA)
        let s = try R.step(File.self, archived, .transfer, at: try #require(archived.retainUntil))
        try #require(s.status == "transferred")
        return s.facts
    }

    /// A scan requested at t0 of the archived file whose bytes are stored.
    func requestedScan() throws -> Retrieval.State { try #require(try requested(file: R.completeFacts()).state) }

    // MARK: Requested

    @Test func aRequestForAFileIsRegistered() throws {
        let d = try requested(file: R.completeFacts(), at: R.days(1))
        let s = try #require(d.state)
        #expect(s.status == "requested")
        #expect(s.retrievalId == "REC-1" && s.fileId == R.fileId && s.requestedBy == R.requester && s.format == .scan)
        #expect(s.requestedAt == R.days(1) && s.deliveredAt == nil && s.failedAt == nil && s.links == nil && s.reason == nil)
        #expect(d.emitted(RetrievalRequested.self) == [RetrievalRequested(retrievalId: "REC-1", fileId: R.fileId, requestedAt: R.days(1))])
        #expect(R.types(d) == [RetrievalRequested.type])
        #expect(d.history.count == 1 && d.history.first?.from == nil && d.history.first?.to == "requested")
        #expect(d.history.first?.by == R.requester.name)

        // By its case: the file's id comes from the file.
        let byCase = try #require(try requested(R.request(fileId: nil, caseId: R.caseId, format: .copy), file: R.completeFacts()).state)
        #expect(byCase.fileId == R.fileId && byCase.caseId == R.caseId && byCase.format == .copy && byCase.status == "requested")

        // The same retrieval again: nothing.
        let again = try R.decide(Retrieval.self, s, .requested(R.request(), retrievalId: "REC-1", file: nil))
        #expect(again.state == nil && again.events.isEmpty && again.history.isEmpty)
    }

    @Test func aRequestForNoFileFails() throws {
        let d = try requested(R.request(fileId: "EXP-NONE"), file: nil, at: R.days(2))
        let s = try #require(d.state)
        #expect(s.status == "failed" && s.reason == "no such file" && s.failedAt == R.days(2) && s.requestedAt == R.days(2))
        #expect(d.emitted(RetrievalFailed.self) == [RetrievalFailed(retrievalId: "REC-1", fileId: "EXP-NONE", reason: "no such file")])
        #expect(R.types(d) == [RetrievalFailed.type])
        #expect(d.history.last?.from == nil && d.history.last?.to == "failed")
    }

    @Test func aRequestForATransferredFileFailsWithTheReason() throws {
        let facts = try transferredFacts()
        let d = try requested(file: facts)
        let s = try #require(d.state)
        #expect(s.status == "failed" && s.reason == Self.transferredReason && s.reason == Retrieval.transferred)
        #expect(d.emitted(RetrievalFailed.self) == [RetrievalFailed(retrievalId: "REC-1", fileId: R.fileId, reason: Self.transferredReason)])
        #expect(d.emitted(RetrievalRequested.self).isEmpty)
    }

    @Test func aRequestNamesWhoAsks() throws {
        for (by, field) in [
            (RetrievalRequester(unit: "", name: "Marcelo Terrazas"), "data.requestedBy.unit"),
            (RetrievalRequester(unit: "UTAR", name: " "), "data.requestedBy.name"),
        ] {
            let facts = try R.completeFacts()
            let r = R.rejection { _ = try requested(R.request(by: by), file: facts) }
            #expect(r?.code == .validation)
            #expect(R.fields(r) == [field])
            // Even for no file: refused before failing.
            #expect(R.rejection { _ = try requested(R.request(by: by), file: nil) }?.code == .validation)
        }
    }

    // MARK: Delivered

    @Test func aScanOfAFileWithAllItsBytesIsDeliveredWithLinks() throws {
        let requested = try requestedScan()
        let facts = try R.completeFacts()
        let d = try R.decide(Retrieval.self, requested, .deliver(R.deliver(format: .scan), file: facts), at: R.days(1))
        let s = try #require(d.state)
        let links = [RecordsRules.link(R.shaA)]
        #expect(s.status == "delivered" && s.deliveredAt == R.days(1) && s.deliveredBy == "gestor.documental" && s.links == links)
        #expect(
            d.emitted(RetrievalDelivered.self)
                == [RetrievalDelivered(retrievalId: "REC-1", fileId: R.fileId, format: .scan, deliveredAt: R.days(1), links: links)])
        #expect(R.types(d) == [RetrievalDelivered.type])
        #expect(d.history.count == 1 && d.history.first?.from == "requested" && d.history.first?.to == "delivered")
        #expect(d.history.first?.by == "gestor.documental" && d.history.first?.reason == "scan")
    }

    @Test func aScanWithBytesMissingFailsNamingThem() throws {
        // Returned with an offer (shaB), resubmitted with its contract (shaA): two documents.
        let file = try R.step(File.self, try R.returned(), .resubmit(ResubmitFile(fileId: R.fileId, documents: [R.doc(.contract, sha: R.shaA)])))
        let requested = try #require(try requested(file: file.facts).state)
        let none = try R.decide(Retrieval.self, requested, .deliver(R.deliver(), file: file.facts), at: R.days(1))
        #expect(none.state?.status == "failed" && none.state?.reason == "bytes missing: offer, contract" && none.state?.failedAt == R.days(1))
        #expect(none.emitted(RetrievalFailed.self) == [RetrievalFailed(retrievalId: "REC-1", fileId: R.fileId, reason: "bytes missing: offer, contract")])
        #expect(none.emitted(RetrievalDelivered.self).isEmpty)
        #expect(none.history.first?.from == "requested" && none.history.first?.to == "failed")

        let one = try R.storing(file, R.shaA).facts
        let d = try R.decide(Retrieval.self, requested, .deliver(R.deliver(), file: one))
        #expect(d.state?.reason == "bytes missing: offer" && d.state?.links == nil)
        // Both stored: two links, in the file's order.
        let both = try R.storing(file, R.shaA, R.shaB).facts
        let ok = try R.decide(Retrieval.self, requested, .deliver(R.deliver(), file: both))
        #expect(ok.state?.status == "delivered" && ok.state?.links == [RecordsRules.link(R.shaB), RecordsRules.link(R.shaA)])
    }

    @Test func aCopyIsHandedOverWithoutTheBytes() throws {
        let facts = try R.archived().facts
        #expect(facts.links == nil && facts.missingBytes == ["contract"])
        let requested = try #require(try requested(R.request(format: .copy), file: facts).state)
        let d = try R.decide(Retrieval.self, requested, .deliver(R.deliver(format: .copy), file: facts), at: R.days(1))
        let s = try #require(d.state)
        #expect(s.status == "delivered" && s.links == nil && s.format == .copy && s.deliveredBy == "gestor.documental")
        #expect(
            d.emitted(RetrievalDelivered.self)
                == [RetrievalDelivered(retrievalId: "REC-1", fileId: R.fileId, format: .copy, deliveredAt: R.days(1), links: nil)])
        #expect(d.history.first?.reason == "copy handed over")
        // A copy of a file whose bytes are stored carries no links either.
        let stored = try R.decide(Retrieval.self, requested, .deliver(R.deliver(format: .copy), file: try R.completeFacts()))
        #expect(stored.state?.status == "delivered" && stored.state?.links == nil)
    }

    @Test func aDeliveryOfATransferredFileFails() throws {
        let requested = try requestedScan()
        let facts = try transferredFacts()
        for format in RetrievalFormat.allCases {
            let d = try R.decide(Retrieval.self, requested, .deliver(R.deliver(format: format), file: facts), at: R.days(800))
            #expect(d.state?.status == "failed" && d.state?.reason == Self.transferredReason, "\(format)")
            #expect(R.types(d) == [RetrievalFailed.type])
            #expect(d.history.first?.from == "requested" && d.history.first?.to == "failed")
        }
    }

    @Test func aRetrievalIsAnsweredOnce() throws {
        let facts = try R.completeFacts()
        let delivered = try R.step(Retrieval.self, try requestedScan(), .deliver(R.deliver(), file: facts))
        for format in RetrievalFormat.allCases {
            let twice = R.rejection { _ = try R.decide(Retrieval.self, delivered, .deliver(R.deliver(format: format), file: facts)) }
            #expect(twice?.code == .alreadyDone)
            #expect(R.fields(twice) == ["data.retrievalId"])
        }
        let failed = try #require(try requested(file: nil).state)
        let afterFailure = R.rejection { _ = try R.decide(Retrieval.self, failed, .deliver(R.deliver(), file: facts)) }
        #expect(afterFailure?.code == .invalidTransition)
        let unknown = R.rejection { _ = try R.decide(Retrieval.self, nil, .deliver(R.deliver(), file: facts)) }
        #expect(unknown?.code == .notFound)
    }

    @Test func aDeliveryNamesItsRetrievalAndWhoDelivers() throws {
        let requested = try requestedScan()
        let facts = try R.completeFacts()
        for (c, field) in [(R.deliver(by: " "), "data.by"), (R.deliver("", by: "gestor.documental"), "data.retrievalId")] {
            let r = R.rejection { _ = try R.decide(Retrieval.self, requested, .deliver(c, file: facts)) }
            #expect(r?.code == .validation)
            #expect(R.fields(r) == [field])
        }
    }
}
