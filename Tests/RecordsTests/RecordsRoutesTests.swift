import Contracts
import Foundation
import Records
@testable import Runtime
import Testing

/// Where the records service sends each message it takes, and under which key.
@Suite("records routes")
struct RecordsRoutesTests {
    let routes = RecordsService.routes
    let file = RecordFile.kind

    /// The targets of `m` as its route builds them for the message `id`.
    func targets(_ m: any Message, id: String = "m-1") throws -> [Target] {
        let route = try #require(routes.routes[type(of: m).type], "no route for \(type(of: m).type)")
        return route.targets(m, Incoming(id: id, time: R.t0))
    }

    func key(_ m: any Message, id: String = "m-1") throws -> TargetKey {
        let t = try targets(m, id: id)
        try #require(t.count == 1)
        #expect(t[0].aggregate.kind == file)
        return t[0].key
    }

    @Test func aRegistrationGoesToItsFileByTheGivenOrADerivedId() throws {
        let given = R.register(documents: [R.doc(.contract)])
        #expect(try key(given) == .id(R.fileId))

        let anonymous = R.register(fileId: nil, documents: [R.doc(.contract)])
        let derived = try key(anonymous, id: "msg-42")
        guard case .id(let id) = derived else { Issue.record("a registration goes by id, not \(derived)"); return }
        #expect(id == RecordFile.fileId(for: anonymous, messageId: "msg-42"))
        #expect(id == "EXP-SALE-\(anonymous.caseId)", "one file per case")
        #expect(try key(anonymous, id: "msg-43") == derived, "the case's file, whatever the message")
        // The input names the file the target finds.
        let target = try #require(try targets(anonymous, id: "msg-42").first)
        let s = try #require(try R.run(target, on: RecordFile.State?.none).state)
        #expect(s.fileId == id && !s.automatic)
    }

    @Test func aResubmissionGoesToItsFile() throws {
        #expect(try key(ResubmitFile(fileId: "EXP-9", documents: [R.doc(.contract)])) == .id("EXP-9"))
    }

    @Test func aProjectOTsFolderIsAFileAndOtherOTsHaveNone() throws {
        for kind in WorkOrderKind.allCases {
            let opened = WorkOrderOpened(
                workOrderId: "W-5", number: "OT-2026-000005", kind: kind, serviceLine: nil, customer: .example, documents: [R.doc(.offer)])
            if kind == .project {
                #expect(try key(opened) == .id("EXP-OT-W-5"))
            } else {
                #expect(try targets(opened).isEmpty, "\(kind) has no sale folder")
            }
        }
    }

    @Test func aCompletedPostSaleRequestIsAFile() throws {
        var completed = PostSaleRequestCompleted.example
        completed.requestId = "PV-2026-000001"
        #expect(try key(completed) == .id("EXP-PV-PV-2026-000001"))
        completed.documents = nil
        #expect(try key(completed) == .id("EXP-PV-PV-2026-000001"))
    }

    @Test func aRetrievalGoesToItsFileByIdOrByItsCase() throws {
        #expect(try key(R.request(fileId: "EXP-3", caseId: "CT-3")) == .id("EXP-3"), "the file id wins")
        #expect(try key(R.request(fileId: nil, caseId: "CT-3")) == .alias("case:CT-3"))
        #expect(RecordFile.caseAlias("CT-3") == "case:CT-3")

        // Without an id, the retrieval's is derived from the message id, the same on a redelivery.
        let anonymous = R.request(nil, fileId: "EXP-NONE")
        func retrievalKey(_ messageId: String) throws -> TargetKey? {
            let t = try #require(try targets(anonymous, id: messageId).first)
            var context = DecisionContext(now: R.t0, messageId: messageId)
            return try t.run(nil, &context).followUps.first?.key
        }
        let derived = Retrieval.retrievalId(for: anonymous, messageId: "msg-7")
        #expect(derived.hasPrefix("REC-") && derived.count == 17)
        #expect(try retrievalKey("msg-7") == .id(derived))
        #expect(try retrievalKey("msg-8") != .id(derived))
        #expect(Retrieval.retrievalId(for: R.request("REC-77"), messageId: "msg-7") == "REC-77")
    }

    @Test func aDeliveryFindsTheFileByItsRetrieval() throws {
        #expect(try key(R.deliver("REC-9")) == .alias("retrieval:REC-9"))
        #expect(RecordFile.retrievalAlias("REC-9") == "retrieval:REC-9")
    }

    @Test func storedBytesAreALocalInputNeverOnTheBroker() throws {
        #expect(try key(DocumentStored(fileId: "EXP-1", sha256: R.shaA, size: 3)) == .id("EXP-1"))
        let route = try #require(routes.routes[DocumentStored.type])
        #expect(route.isLocal)
        #expect(!routes.commandTypes.contains(DocumentStored.type) && !routes.eventTypes.contains(DocumentStored.type))
        #expect(Set(routes.commandTypes) == [RegisterFile.type, ResubmitFile.type, RequestRetrieval.type, DeliverRetrieval.type])
        #expect(Set(routes.eventTypes) == [WorkOrderOpened.type, PostSaleRequestCompleted.type])
    }

    @Test func theServiceDeclaresBothAggregates() {
        #expect(RecordsService.definition.name == "records")
        #expect(Set(RecordsService.definition.aggregates.map(\.kind)) == [RecordFile.kind, Retrieval.kind])
        #expect(RecordFile.kind == "file" && Retrieval.kind == "retrieval")
    }
}
