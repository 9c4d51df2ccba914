import Contracts
import Foundation
import PostSale
import Runtime
import Testing

@Suite("Call detail (G): COMTECO's past months cost Bs 12 each, Boliviatel's are free")
struct CallDetailTests {
    static func details(_ carrier: String, _ months: [String]) -> JSONObject {
        ["lineId": "LIN-1", "carrier": .string(carrier), "months": .array(months.map(JSONValue.string))]
    }

    @Test func comtecoCallDetailChargesBs12ForEachMonthBeforeTheCurrentOne() throws {
        #expect(YearMonth(PS.t0) == YearMonth(2026, 11)!)
        let d = try PS.open(.callDetail, Self.details("comteco", ["2026-09", "2026-10", "2026-11"]), facts: PS.contract())
        let charges = d.emitted(RecurringChargeAdded.self)
        try #require(charges.count == 1)
        #expect(charges[0].amount == Money(minor: 2400, currency: .bob))
        #expect(charges[0].requestId == "PV-1")
        #expect(charges[0].contractId == PS.contractId)
        #expect(charges[0].productId == "LIN-1")
        #expect(d.state?.phase == .awaitingQualityCheck)
        #expect(d.state?.results["charged"] == .number(2400))
    }

    @Test func repeatedMonthIsChargedOnce() throws {
        let d = try PS.open(.callDetail, Self.details("comteco", ["2026-10", "2026-10"]), facts: PS.contract())
        #expect(d.emitted(RecurringChargeAdded.self).map(\.amount) == [.bolivianos(12)])
    }

    @Test func boliviatelCallDetailIsFreeAndNeedsNoRequestLetter() throws {
        let d = try PS.open(.callDetail, Self.details("boliviatel", ["2026-09", "2026-10", "2026-11"]), documents: [], facts: PS.contract())
        #expect(d.emitted(RecurringChargeAdded.self).isEmpty)
        #expect(d.emitted(PostSaleRequirementsMissing.self).isEmpty)
        #expect(d.state?.phase == .awaitingQualityCheck)
        #expect(d.state?.results["charged"] == .number(0))
    }

    @Test func comtecoCallDetailWithoutRequestLetterMissesIt() throws {
        let d = try PS.open(.callDetail, Self.details("comteco", ["2026-10"]), documents: [], facts: PS.contract())
        #expect(d.state?.phase == .requirementsMissing)
        #expect(d.state?.missing == ["requestLetter"])
        #expect(d.emitted(PostSaleRequirementsMissing.self).map(\.missing) == [["requestLetter"]])
        #expect(d.emitted(RecurringChargeAdded.self).isEmpty)
    }

    @Test func callDetailOfAMonthNotYetBegunIsAValidationRejection() throws {
        let facts = try PS.contract()
        let r = try #require(PS.rejection { _ = try PS.open(.callDetail, Self.details("comteco", ["2026-11", "2026-12"]), facts: facts) })
        #expect(r.code == .validation)
        #expect(r.errors.map(\.field) == ["data.details.months"])
    }

    @Test func callDetailPriceCountsOnlyComtecoMonthsBeforeTheCurrent() {
        let nov = YearMonth(2026, 11)!
        let months = ["2026-08", "2026-09", "2026-11"].compactMap(YearMonth.init)
        let comteco = PostSalePrices.callDetail(carrier: .comteco, months: months, current: nov)
        #expect(comteco.charged == [YearMonth(2026, 8)!, YearMonth(2026, 9)!])
        #expect(comteco.amount == Money(minor: 2400, currency: .bob))
        let current = PostSalePrices.callDetail(carrier: .comteco, months: [nov], current: nov)
        #expect(current.charged.isEmpty && current.amount.minor == 0)
        let boliviatel = PostSalePrices.callDetail(carrier: .boliviatel, months: months, current: nov)
        #expect(boliviatel.charged.isEmpty)
        #expect(boliviatel.amount == Money(minor: 0, currency: .bob))
        #expect(PostSalePrices.callDetailMonth == .bolivianos(12))
    }
}

@Suite("Requirements: listed by name, completed, then the flow starts")
struct RequirementsTests {
    @Test func missingRequirementsAreListedByName() throws {
        let d = try PS.open(.suspension, [:], documents: [], facts: PS.contract())
        let s = try #require(d.state)
        #expect(s.phase == .requirementsMissing)
        #expect(s.missing == ["requestLetter", "details.from", "details.to"])
        #expect(PS.types(d) == [PostSaleRequestReceived.type, PostSaleRequirementsMissing.type])
        #expect(d.emitted(PostSaleRequirementsMissing.self).first?.missing == s.missing)
        #expect(d.followUps.isEmpty)
    }

    @Test func documentWithBlankUriDoesNotCount() throws {
        let d = try PS.open(
            .suspension, PS.suspensionDetails("2027-03-01", "2027-04-01"), documents: [Document(kind: .requestLetter, uri: "  ")],
            facts: PS.contract())
        #expect(d.state?.missing == ["requestLetter"])
    }

    @Test func partialCompletionListsWhatIsStillMissing() throws {
        let opened = try #require(try PS.open(.suspension, [:], documents: [], facts: PS.contract()).state)
        let d = try PS.decide(
            PostSaleRequest.self, opened, .complete(CompletePostSaleRequirements(requestId: "PV-1", documents: [PS.letter], details: nil)))
        #expect(d.state?.phase == .requirementsMissing)
        #expect(d.state?.missing == ["details.from", "details.to"])
        #expect(d.emitted(PostSaleRequirementsMissing.self).map(\.missing) == [["details.from", "details.to"]])
        #expect(d.followUps.isEmpty)
    }

    @Test func completedRequirementsAskTheContractForFactsAndThenTheFlowStarts() throws {
        let contract = try PS.contract()
        let opened = try #require(try PS.open(.suspension, [:], documents: [], facts: contract).state)
        let complete = CompletePostSaleRequirements(
            requestId: "PV-1", documents: [PS.letter], details: PS.suspensionDetails("2027-03-01", "2027-05-01"))
        let completed = try PS.decide(PostSaleRequest.self, opened, .complete(complete))
        let waiting = try #require(completed.state)
        #expect(waiting.missing.isEmpty)
        #expect(PS.kinds(completed) == ["contract"])
        #expect(completed.followUps.map(\.key) == [.id(PS.contractId)])
        #expect(completed.events.isEmpty)

        let started = try PS.decide(PostSaleRequest.self, waiting, .facts(contract))
        #expect(started.state?.phase == .awaitingQualityCheck)
        #expect(started.state?.results["from"] == "2027-03-01")
        #expect(PS.kinds(started) == ["contract"])
        #expect(started.emitted(PostSaleQualityCheckRequested.self).count == 1)
    }

    @Test func factsDoNotStartARequestStillMissingRequirements() throws {
        let contract = try PS.contract()
        let opened = try #require(try PS.open(.suspension, [:], documents: [], facts: contract).state)
        let d = try PS.decide(PostSaleRequest.self, opened, .facts(contract))
        #expect(d.state == nil)
        #expect(d.events.isEmpty)
    }

    @Test func requestForAnUnknownContractIsRejected() throws {
        let d = try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-04-01"), facts: nil)
        #expect(PS.types(d) == [PostSaleRequestReceived.type, PostSaleRequestRejected.type])
        #expect(PS.rejectedCode(d) == "unknownContract")
        #expect(d.state?.phase == .rejected)
    }

    @Test func requestNamingAProductOutsideTheContractIsRejected() throws {
        var details = PS.suspensionDetails("2027-03-01", "2027-04-01")
        details["productIds"] = ["LIN-1", "XX-9"]
        let d = try PS.open(.suspension, details, facts: PS.contract())
        #expect(PS.rejectedCode(d) == "unknownProduct")
        #expect(d.state?.phase == .rejected)
        #expect(d.followUps.isEmpty)
    }
}
