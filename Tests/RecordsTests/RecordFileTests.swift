import Contracts
import Foundation
@testable import Records
@testable import Runtime
import Testing

/// A file of the document manager (seed 002): registration and review, returns and
/// resubmissions, the two-year transfer, the bytes the store holds, and the retrievals it answers for.
@Suite("records: a file")
struct RecordFileTests {
    typealias File = RecordFile

    func registering(_ c: RegisterFile, at time: Date = R.t0, automatic: Bool = false) throws(Rejection) -> Decision<File.State> {
        try R.decide(File.self, nil, .register(c, fileId: c.fileId ?? R.fileId, automatic: automatic), at: time)
    }

    // MARK: Registration and review

    @Test func aCompleteFileIsRegisteredThenClassifiedAndArchivedForTwoYears() throws {
        let d = try registering(R.register(documents: [R.doc(.contract, sha: R.shaA)]))
        let s = try #require(d.state)
        let until = R.at("2028-03-10T14:00:00Z")
        #expect(s.status == "archived")
        #expect(R.types(d) == [FileRegistered.type, FileArchived.type])
        #expect(
            d.emitted(FileRegistered.self)
                == [FileRegistered(fileId: R.fileId, caseKind: .sale, caseId: R.caseId, advisor: R.advisor, registeredAt: R.t0)])
        #expect(d.emitted(FileArchived.self) == [FileArchived(fileId: R.fileId, retainUntil: until, location: "zonal/sale/internet/2026")])
        #expect(s.archivedAt == R.t0 && s.retainUntil == until && s.location == "zonal/sale/internet/2026")
        #expect(s.registeredAt == R.t0 && s.advisor == R.advisor && !s.automatic)
        #expect(s.missing.isEmpty && s.returns.isEmpty && s.transferredAt == nil)
        // The durable timer of the transfer, due when the retention ends.
        #expect(d.timers == [.set(File.transferTimer, at: until)])
        #expect(d.aliases == [File.caseAlias(R.caseId)] && d.aliases == ["case:\(R.caseId)"])
        #expect(d.history.map(\.action) == ["registered"])
        #expect(d.history.first?.from == nil && d.history.first?.to == "archived" && d.history.first?.by == R.advisor.id)
    }

    @Test func retentionIsTwoCalendarYearsToTheSecond() throws {
        // Across a leap day: 731 days.
        #expect(RecordsRules.retainUntil(R.t0) == R.at("2028-03-10T14:00:00Z"))
        #expect(RecordsRules.retainUntil(R.t0).timeIntervalSince(R.t0) == 731 * 86_400)
        // 29 February has no anniversary two years on: 28 February.
        let leap = R.at("2028-02-29T10:00:00Z")
        #expect(RecordsRules.retainUntil(leap) == R.at("2030-02-28T10:00:00Z"))
        let d = try registering(R.register(documents: [R.doc(.contract)]), at: leap)
        #expect(d.emitted(FileArchived.self).first?.retainUntil == R.at("2030-02-28T10:00:00Z"))
        #expect(d.timers == [.set(File.transferTimer, at: R.at("2030-02-28T10:00:00Z"))])
        // The last half hour of a year (UTC) is still that year's shelf.
        let newYearsEve = R.at("2026-12-31T23:30:00Z")
        let e = try #require(try registering(R.register(office: .mezzanine, service: "tv", documents: [R.doc(.contract)]), at: newYearsEve).state)
        #expect(e.location == "mezzanine/sale/tv/2026")
        #expect(e.retainUntil == R.at("2028-12-31T23:30:00Z"))
    }

    @Test func anIncompleteFileIsReturnedToItsAdvisorWithWhatIsMissing() throws {
        let d = try registering(R.register(documents: [R.doc(.offer, sha: R.shaB)]))
        let s = try #require(d.state)
        #expect(s.status == "returned")
        #expect(R.types(d) == [FileRegistered.type, FileReturned.type])
        #expect(d.emitted(FileReturned.self) == [FileReturned(fileId: R.fileId, advisor: R.advisor, missing: ["contract"])])
        #expect(s.missing == ["contract"])
        #expect(s.returns == [File.Return(at: R.t0, missing: ["contract"])], "the return is recorded")
        #expect(s.archivedAt == nil && s.retainUntil == nil && s.location == nil)
        #expect(d.timers.isEmpty, "no transfer for a file that is not archived")
        #expect(d.aliases == [File.caseAlias(R.caseId)])
        #expect(d.history.count == 1 && d.history.first?.from == nil && d.history.first?.to == "returned")
        #expect(d.history.first?.reason?.contains("contract") == true)
    }

    @Test func aOneOfRequirementIsNamedByItsFirstKindAndMetByAnyOfThem() throws {
        // SGC-PC-07 §4.3: offer, OT and one of purchase order / signed quote / contract.
        let ot = R.register(office: .plataforma, caseKind: .workOrder, caseId: "W-1", service: "project", documents: [R.doc(.workOrder)])
        let returned = try #require(try registering(ot).state)
        #expect(returned.missing == ["offer", "purchaseOrder"])
        #expect(returned.returns.map(\.missing) == [["offer", "purchaseOrder"]])
        for alternative: DocumentKind in [.purchaseOrder, .signedQuote, .contract] {
            var complete = ot
            complete.documents = [R.doc(.offer), R.doc(.workOrder), R.doc(alternative)]
            let s = try #require(try registering(complete).state)
            #expect(s.status == "archived", "\(alternative) meets the one-of requirement")
            #expect(s.location == "plataforma/workOrder/project/2026")
        }
        // A post-sale file without its request letter; an empty one as well.
        let postsale = R.register(caseKind: .postsale, caseId: "PV-1", service: "suspension", documents: [])
        #expect(try registering(postsale).state?.missing == ["requestLetter"])
    }

    // MARK: Resubmission

    /// A project OT's folder with its offer and OT, returned for its purchase order.
    func returnedFolder() throws -> File.State {
        let c = R.register(
            office: .plataforma, caseKind: .workOrder, caseId: "W-1", service: "project",
            documents: [R.doc(.offer, uri: "s3://ot-docs/W-1/oferta-v1.pdf"), R.doc(.workOrder)])
        let s = try #require(try registering(c).state)
        try #require(s.status == "returned")
        return s
    }

    @Test func aResubmissionThatCompletesTheFileArchivesIt() throws {
        let returned = try returnedFolder()
        let at = R.days(3)
        let brought = [R.doc(.offer, uri: "s3://ot-docs/W-1/oferta-v2.pdf"), R.doc(.purchaseOrder, sha: R.shaC)]
        let d = try R.decide(File.self, returned, .resubmit(ResubmitFile(fileId: R.fileId, documents: brought)), at: at)
        let s = try #require(d.state)
        #expect(s.status == "archived")
        // The new offer replaces the earlier one; the OT stays.
        #expect(s.documents.count == 3)
        #expect(s.documents.filter { $0.kind == .offer }.map(\.uri) == ["s3://ot-docs/W-1/oferta-v2.pdf"])
        #expect(Set(s.documents.map(\.kind)) == [.offer, .workOrder, .purchaseOrder])
        #expect(R.types(d) == [FileArchived.type], "registered once, at registration")
        let until = RecordsRules.retainUntil(at)
        #expect(until == R.at("2028-03-13T14:00:00Z"))
        #expect(s.archivedAt == at && s.retainUntil == until && s.missing.isEmpty)
        #expect(d.timers == [.set(File.transferTimer, at: until)])
        #expect(s.returns.count == 1, "the earlier return stays recorded")
        #expect(d.history.map(\.action) == [ResubmitFile.type])
        #expect(d.history.first?.from == "returned" && d.history.first?.to == "archived")
    }

    @Test func aResubmissionStillIncompleteIsReturnedAgainAndRecorded() throws {
        let returned = try R.returned()
        let d = try R.decide(File.self, returned, .resubmit(ResubmitFile(fileId: R.fileId, documents: [R.doc(.technicalAnnex)])), at: R.days(1))
        let s = try #require(d.state)
        #expect(s.status == "returned")
        #expect(R.types(d) == [FileReturned.type])
        #expect(d.emitted(FileReturned.self).first?.missing == ["contract"])
        #expect(s.returns == [File.Return(at: R.t0, missing: ["contract"]), File.Return(at: R.days(1), missing: ["contract"])])
        #expect(s.documents.map(\.kind) == [.offer, .technicalAnnex])
        #expect(d.timers.isEmpty)
        #expect(d.history.first?.from == "returned" && d.history.first?.to == "returned")
    }

    @Test func aResubmissionIsRefusedUnlessItBringsDocumentsToAReturnedFile() throws {
        let contract = [R.doc(.contract)]
        let archivedFile = try R.archived(), returnedFile = try R.returned()
        func resubmit(_ state: File.State?, fileId: String = R.fileId, _ documents: [Document]) -> Rejection? {
            R.rejection { _ = try R.decide(File.self, state, .resubmit(ResubmitFile(fileId: fileId, documents: documents))) }
        }
        let archived = resubmit(archivedFile, contract)
        #expect(archived?.code == .invalidTransition)
        #expect(R.fields(archived) == ["data.fileId"])
        let unknown = resubmit(nil, fileId: "EXP-NONE", contract)
        #expect(unknown?.code == .notFound)
        let empty = resubmit(returnedFile, [])
        #expect(empty?.code == .validation)
        #expect(R.fields(empty) == ["data.documents"])
        let badHash = resubmit(returnedFile, [R.doc(.contract, sha: "c3d4")])
        #expect(badHash?.code == .validation)
        #expect(R.fields(badHash) == ["data.documents[0].sha256"])
        let blankURI = resubmit(returnedFile, [R.doc(.contract, uri: "")])
        #expect(R.fields(blankURI) == ["data.documents[0].uri"])
        let blank = resubmit(returnedFile, fileId: " ", contract)
        #expect(blank?.code == .validation)
        #expect(R.fields(blank) == ["data.fileId"])
    }

    // MARK: Registration validation and duplicates

    @Test func aRegistrationNamesEachBadField() throws {
        let good = R.register(documents: [R.doc(.contract, sha: R.shaA)])
        var cases: [(RegisterFile, String)] = []
        var c = good
        c.advisor.id = ""
        cases.append((c, "data.advisor.id"))
        c = good
        c.advisor.name = " \t"
        cases.append((c, "data.advisor.name"))
        c = good
        c.caseId = ""
        cases.append((c, "data.caseId"))
        c = good
        c.service = "  "
        cases.append((c, "data.service"))
        c = good
        c.fileId = " "
        cases.append((c, "data.fileId"))
        for bad in ["c3d4", String(repeating: "a", count: 63), String(repeating: "a", count: 65), String(repeating: "g", count: 64)] {
            c = good
            c.documents = [R.doc(.offer), R.doc(.contract, sha: bad)]
            cases.append((c, "data.documents[1].sha256"))
        }
        c = good
        c.documents = [R.doc(.contract, uri: " ")]
        cases.append((c, "data.documents[0].uri"))
        for (command, field) in cases {
            let r = R.rejection { _ = try registering(command) }
            #expect(r?.code == .validation, "\(field)")
            #expect(R.fields(r) == [field])
        }
        // All at once: each is listed.
        let all = RegisterFile(
            fileId: "", advisor: Advisor(id: " ", name: ""), office: .zonal, caseKind: .sale, caseId: " ", service: "",
            documents: [Document(kind: .contract, uri: "", sha256: "xyz")])
        let r = R.rejection { _ = try R.decide(File.self, nil, .register(all, fileId: "", automatic: false)) }
        #expect(r?.code == .validation)
        #expect(
            R.fields(r) == [
                "data.advisor.id", "data.advisor.name", "data.caseId", "data.documents[0].sha256", "data.documents[0].uri", "data.fileId",
                "data.service",
            ])
        // A hash in capitals is a SHA-256 too; none at all is allowed.
        c = good
        c.documents = [R.doc(.contract, sha: String(repeating: "F", count: 64)), R.doc(.offer)]
        #expect(try registering(c).state?.status == "archived")
    }

    @Test func theSameCaseRegisteredAgainIsIgnoredAnotherCaseUnderTheFileIdIsRefused() throws {
        let archived = try R.archived()
        let again = try R.decide(File.self, archived, .register(R.register(documents: archived.documents), fileId: R.fileId, automatic: false), at: R.days(1))
        #expect(again.state == nil && again.events.isEmpty && again.history.isEmpty && again.timers.isEmpty && again.aliases.isEmpty)
        // Other documents for a case already filed: a resubmission, never dropped silently.
        let more = R.rejection {
            _ = try R.decide(File.self, archived, .register(R.register(documents: [R.doc(.offer)]), fileId: R.fileId, automatic: false), at: R.days(1))
        }
        #expect(more?.code == .alreadyExists && R.fields(more) == ["data.caseId"])
        let returned = try R.returned()
        let twice = try R.decide(File.self, returned, .register(R.register(documents: returned.documents), fileId: R.fileId, automatic: false))
        #expect(twice.state == nil && twice.events.isEmpty, "a redelivery does not review the file again")

        let other = R.rejection {
            _ = try R.decide(File.self, archived, .register(R.register(caseId: "CT-OTHER", documents: [R.doc(.contract)]), fileId: R.fileId, automatic: false))
        }
        #expect(other?.code == .alreadyExists)
        #expect(R.fields(other) == ["data.fileId"])
        let otherKind = R.rejection {
            _ = try R.decide(File.self, archived, .register(R.register(caseKind: .postsale, documents: [R.doc(.requestLetter)]), fileId: R.fileId, automatic: false))
        }
        #expect(otherKind?.code == .alreadyExists, "same case id, another kind of case")
    }

    @Test func thePlatformsOwnCasesAreRegisteredAutomatically() throws {
        let routes = RecordsService.routes
        func file(_ m: any Message) throws -> File.State {
            let route = try #require(routes.routes[type(of: m).type])
            let target = try #require(route.targets(m, Incoming(id: "m-auto", time: R.t0)).first)
            return try #require(try R.run(target, on: File.State?.none).state)
        }
        let folder = [R.doc(.offer), R.doc(.workOrder), R.doc(.purchaseOrder, sha: R.shaC)]
        let ot = WorkOrderOpened(
            workOrderId: "W-77", number: "OT-2026-000177", kind: .project, serviceLine: nil, customer: .example, documents: folder)
        let s = try file(ot)
        #expect(s.fileId == "EXP-OT-W-77" && s.caseKind == .workOrder && s.caseId == "W-77" && s.service == "project")
        #expect(s.automatic && s.advisor == RecordsRules.automatic && s.advisor.id == "auto" && s.office == .plataforma)
        #expect(s.documents == folder)
        #expect(s.status == "archived" && s.location == "plataforma/workOrder/project/2026")

        var bare = ot
        bare.documents = [R.doc(.workOrder)]
        let incomplete = try file(bare)
        #expect(incomplete.status == "returned" && incomplete.missing == ["offer", "purchaseOrder"] && incomplete.automatic)

        var completed = PostSaleRequestCompleted.example
        let letter = try file(completed)
        #expect(letter.fileId == "EXP-PV-\(completed.requestId)" && letter.caseKind == .postsale && letter.service == "suspension")
        #expect(letter.automatic && letter.advisor.id == "auto" && letter.status == "archived")
        #expect(letter.location == "plataforma/postsale/suspension/2026")
        completed.documents = nil
        let none = try file(completed)
        #expect(none.status == "returned" && none.documents.isEmpty && none.missing == ["requestLetter"])

        // An advisor's registration is not automatic.
        #expect(try R.archived().automatic == false)
    }

    // MARK: Transfer

    @Test func theTransferTimerMovesAnArchivedFileToCondebambaOnce() throws {
        let archived = try R.archived()
        let until = try #require(archived.retainUntil)
        let input = try #require(File.timerFired(File.transferTimer, dueAt: until))
        #expect(File.timerFired("other", dueAt: until) == nil)
        let d = try R.decide(File.self, archived, input, at: until)
        let s = try #require(d.state)
        #expect(s.status == "transferred" && s.transferredAt == until)
        #expect(d.emitted(FileTransferred.self) == [FileTransferred(fileId: R.fileId, to: "condebamba", at: until)])
        #expect(R.types(d) == [FileTransferred.type])
        #expect(d.history.first?.from == "archived" && d.history.first?.to == "transferred")

        // A later firing (a restart, a redelivery) does nothing.
        let later = try R.decide(File.self, s, .transfer, at: until.addingTimeInterval(60))
        #expect(later.state == nil && later.events.isEmpty && later.history.isEmpty)
        // Nor on a file that is not archived, or absent.
        let returned = try R.decide(File.self, try R.returned(), .transfer, at: until)
        #expect(returned.state == nil && returned.events.isEmpty)
        #expect(try R.decide(File.self, nil, .transfer).events.isEmpty)
    }

    // MARK: The bytes

    @Test func theBytesOfADeclaredDocumentAreRecordedOnce() throws {
        let archived = try R.archived()
        let unknown = R.rejection { _ = try R.decide(File.self, nil, .stored(DocumentStored(fileId: "EXP-NONE", sha256: R.shaA, size: 10))) }
        #expect(unknown?.code == .notFound)
        #expect(unknown?.mayBeLate == false, "an upload does not wait for its file")
        let undeclared = R.rejection { _ = try R.decide(File.self, archived, .stored(DocumentStored(fileId: R.fileId, sha256: R.shaB, size: 10))) }
        #expect(undeclared?.code == .invalidTransition)
        #expect(R.fields(undeclared) == ["sha256"])

        let d = try R.decide(File.self, archived, .stored(DocumentStored(fileId: R.fileId, sha256: R.shaA, size: 182_044)), at: R.days(1))
        let s = try #require(d.state)
        #expect(s.stored == [R.shaA: File.Stored(size: 182_044, at: R.days(1))])
        #expect(s.status == "archived" && d.events.isEmpty && d.timers.isEmpty)
        #expect(d.history.count == 1 && d.history.first?.action == DocumentStored.type && d.history.first?.to == nil)

        let again = try R.decide(File.self, s, .stored(DocumentStored(fileId: R.fileId, sha256: R.shaA, size: 182_044)), at: R.days(2))
        #expect(again.state == nil && again.history.isEmpty)
        // The hash in capitals names the same bytes.
        let upper = try R.decide(File.self, s, .stored(DocumentStored(fileId: R.fileId, sha256: R.shaA.uppercased(), size: 1)))
        #expect(upper.state == nil && upper.history.isEmpty)
    }

    @Test func aFileDeclaredInCapitalsTakesItsBytesAndLinksInLowercase() throws {
        let upper = R.shaA.uppercased()
        let s = try R.step(File.self, nil, .register(R.register(documents: [R.doc(.contract, sha: upper)]), fileId: R.fileId, automatic: false))
        let stored = try R.storing(s, R.shaA)
        #expect(stored.stored.keys.sorted() == [R.shaA])
        #expect(stored.facts.links == [RecordsRules.link(R.shaA)])
    }

    @Test func theFactsLinkEveryDocumentOnlyWhenEveryDocumentsBytesAreStored() throws {
        // Returned with an offer (shaB), resubmitted with the contract (shaA), and one without a hash.
        let returned = try R.returned()
        let s = try R.step(
            File.self, returned, .resubmit(ResubmitFile(fileId: R.fileId, documents: [R.doc(.contract, sha: R.shaA), R.doc(.technicalAnnex)])))
        #expect(s.facts == File.FileFacts(fileId: R.fileId, status: "archived", documents: 3, links: nil, missingBytes: ["offer", "contract", "technicalAnnex"]))
        let one = try R.storing(s, R.shaA)
        #expect(one.facts.links == nil)
        #expect(one.facts.missingBytes == ["offer", "technicalAnnex"])
        // A document without a hash has no bytes in the store: never linkable.
        let both = try R.storing(one, R.shaB)
        #expect(both.facts.links == nil && both.facts.missingBytes == ["technicalAnnex"])

        let complete = try R.storing(try R.archived(), R.shaA)
        #expect(complete.facts == File.FileFacts(fileId: R.fileId, status: "archived", documents: 1, links: [RecordsRules.link(R.shaA)], missingBytes: []))
        #expect(RecordsRules.link(R.shaA) == "\(RecordsRules.publicURL)/documents/\(R.shaA)")
        #expect(!RecordsRules.publicURL.hasSuffix("/"))
    }

    // MARK: Retrievals

    @Test func aRetrievalOfAFileNotThereYetWaitsThenFails() throws {
        let request = R.request(fileId: "EXP-NOT-YET")
        let waits = R.rejection { _ = try R.decide(File.self, nil, .retrieval(request, retrievalId: "REC-1"), mayWait: true) }
        #expect(waits?.code == .notFound)
        #expect(waits?.mayBeLate == true, "parked: a file registered in the same instant may still be on its way")

        let d = try R.decide(File.self, nil, .retrieval(request, retrievalId: "REC-1"), mayWait: false)
        #expect(d.state == nil && d.events.isEmpty && d.aliases.isEmpty)
        let target = try #require(d.followUps.first)
        #expect(d.followUps.count == 1 && target.aggregate.kind == Retrieval.kind && target.key == .id("REC-1"))
        let r = try R.run(target, on: Retrieval.State?.none)
        let s = try #require(r.state)
        #expect(s.status == "failed" && s.reason == "no such file")
        #expect(r.events.compactMap { $0 as? RetrievalFailed } == [RetrievalFailed(retrievalId: "REC-1", fileId: "EXP-NOT-YET", reason: "no such file")])

        // By a case without a file.
        let byCase = try R.decide(File.self, nil, .retrieval(R.request(fileId: nil, caseId: "CT-NONE"), retrievalId: "REC-2"))
        let byCaseTarget = try #require(byCase.followUps.first)
        let failed = try #require(try R.run(byCaseTarget, on: Retrieval.State?.none).state)
        #expect(failed.status == "failed" && failed.caseId == "CT-NONE" && failed.fileId == nil)
    }

    @Test func aRetrievalNamesItsFileOrItsCase() {
        for mayWait in [true, false] {
            let r = R.rejection {
                _ = try R.decide(File.self, nil, .retrieval(R.request(fileId: nil, caseId: nil), retrievalId: "REC-1"), mayWait: mayWait)
            }
            #expect(r?.code == .validation)
            #expect(R.fields(r) == ["data.fileId"])
        }
    }

    @Test func aRetrievalOfAFileIsRecordedAndHandedToTheRetrievalWithTheFilesFacts() throws {
        let file = try R.storing(try R.archived(), R.shaA)
        let d = try R.decide(File.self, file, .retrieval(R.request(format: .scan), retrievalId: "REC-1"), at: R.days(5))
        let s = try #require(d.state)
        #expect(s.retrievals == ["REC-1"] && s.status == "archived")
        #expect(d.aliases == [File.retrievalAlias("REC-1")] && d.aliases == ["retrieval:REC-1"])
        #expect(d.events.isEmpty, "the retrieval tells")
        #expect(d.history.count == 1 && d.history.first?.by == R.requester.name && d.history.first?.to == nil)
        let target = try #require(d.followUps.first)
        #expect(d.followUps.count == 1 && target.aggregate.kind == Retrieval.kind && target.key == .id("REC-1") && target.trigger == nil)
        let r = try R.run(target, on: Retrieval.State?.none, at: R.days(5))
        #expect(r.state?.status == "requested" && r.state?.fileId == R.fileId)
        #expect(r.events.compactMap { $0 as? RetrievalRequested } == [RetrievalRequested(retrievalId: "REC-1", fileId: R.fileId, requestedAt: R.days(5))])

        // The same request again: nothing; another one: recorded too.
        let again = try R.decide(File.self, s, .retrieval(R.request(), retrievalId: "REC-1"))
        #expect(again.state == nil && again.followUps.isEmpty && again.aliases.isEmpty)
        let second = try R.step(File.self, s, .retrieval(R.request("REC-2"), retrievalId: "REC-2"))
        #expect(second.retrievals == ["REC-1", "REC-2"])
    }

    @Test func aDeliveryReachesTheRetrievalWithTheFilesCurrentFacts() throws {
        let archived = try R.archived()
        let requested = try R.step(Retrieval.self, nil, .requested(R.request(), retrievalId: "REC-1", file: archived.facts))

        // No file knows the retrieval: the retrieval answers — unknown → notFound; failed → invalidTransition.
        let unknown = try R.decide(File.self, nil, .delivery(R.deliver()))
        #expect(unknown.state == nil && unknown.followUps.map(\.aggregate.kind) == [Retrieval.kind])
        let notFound = R.rejection { _ = try R.run(unknown.followUps[0], on: Retrieval.State?.none) }
        #expect(notFound?.code == .notFound && R.fields(notFound) == ["data.retrievalId"])
        let noFile = try R.step(Retrieval.self, nil, .requested(R.request(), retrievalId: "REC-1", file: nil))
        #expect(R.rejection { _ = try R.run(unknown.followUps[0], on: noFile) }?.code == .invalidTransition)

        // The bytes not stored yet: the scan cannot be met.
        let early = try R.decide(File.self, archived, .delivery(R.deliver()))
        #expect(early.state == nil && early.events.isEmpty)
        let t1 = try #require(early.followUps.first)
        #expect(early.followUps.count == 1 && t1.aggregate.kind == Retrieval.kind && t1.key == .id("REC-1"))
        let failed = try R.run(t1, on: requested)
        #expect(failed.state?.status == "failed" && failed.state?.reason == "bytes missing: contract")

        // Once stored, the same delivery is a scan with its link.
        let stored = try R.storing(archived, R.shaA)
        let t2 = try #require(try R.decide(File.self, stored, .delivery(R.deliver())).followUps.first)
        let delivered = try R.run(t2, on: requested)
        #expect(delivered.state?.status == "delivered" && delivered.state?.links == [RecordsRules.link(R.shaA)])
    }
}
