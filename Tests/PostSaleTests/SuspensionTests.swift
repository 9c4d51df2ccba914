import Contracts
import Foundation
import PostSale
import Runtime
import Testing

@Suite("Suspension requests (D): at most 4 months, once a calendar year, account up to date")
struct SuspensionRequestTests {
    @Test func suspensionOfExactlyFourCalendarMonthsIsAccepted() throws {
        let d = try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-07-01"), facts: PS.contract())
        let s = try #require(d.state)
        #expect(s.phase == .awaitingQualityCheck)
        #expect(PS.types(d) == [PostSaleRequestReceived.type, PostSaleQualityCheckRequested.type])
        #expect(PS.kinds(d) == ["contract"])
        #expect(d.followUps.map(\.key) == [.id(PS.contractId)])
        // No products named: every active product of the contract.
        #expect(s.results["productIds"] == ["LIN-1", "INT-1", "TV-1", "MPK-1"])
        #expect(s.results["to"] == "2027-07-01")
    }

    @Test func suspensionOneDayLongerThanFourMonthsIsRejectedAsTooLong() throws {
        let d = try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-07-02"), facts: PS.contract())
        #expect(d.state?.phase == .rejected)
        #expect(PS.rejectedCode(d) == "suspensionTooLong")
        #expect(d.state?.outcome == "suspensionTooLong")
        #expect(d.followUps.isEmpty)
    }

    @Test func fourMonthLimitIsClampedToTheEndOfAShorterMonth() throws {
        let facts = try PS.contract()
        let ok = try PS.open(.suspension, PS.suspensionDetails("2027-10-31", "2028-02-29"), facts: facts)
        #expect(ok.state?.phase == .awaitingQualityCheck)
        let long = try PS.open(.suspension, PS.suspensionDetails("2027-10-31", "2028-03-01"), facts: facts)
        #expect(PS.rejectedCode(long) == "suspensionTooLong")
    }

    @Test func secondSuspensionInSameYearIsRejected() throws {
        let facts = try PS.applied(PS.contract(), .suspend(productIds: ["LIN-1"], from: Day(2027, 1, 10)!, to: Day(2027, 2, 10)!))
        let d = try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-04-01"), facts: facts)
        #expect(d.state?.phase == .rejected)
        #expect(PS.rejectedCode(d) == "suspensionAlreadyThisYear")
        #expect(d.followUps.isEmpty)
    }

    @Test func suspensionInTheYearAfterAnEarlierOneIsAccepted() throws {
        let facts = try PS.applied(PS.contract(), .suspend(productIds: ["LIN-1"], from: Day(2026, 12, 1)!, to: Day(2026, 12, 31)!))
        let d = try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-04-01"), facts: facts)
        #expect(d.state?.phase == .awaitingQualityCheck)
        #expect(d.emitted(PostSaleRequestRejected.self).isEmpty)
    }

    @Test func overdueUnpaidProformaRejectsSuspensionAsAccountNotUpToDate() throws {
        let issued = ProformaIssued(
            proformaId: "PF-1", contractId: PS.contractId, month: YearMonth(2026, 10)!,
            lines: [ProformaLine(productId: "LIN-1", description: "Línea", amount: .bolivianos(70))], total: .bolivianos(70),
            dueBy: PS.today.adding(days: -1))
        let facts = try PS.step(PostSaleContract.self, PS.contract(), .proformaIssued(issued))
        #expect(facts.overdue(on: PS.today).map(\.id) == ["PF-1"])
        let d = try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-04-01"), facts: facts)
        #expect(d.state?.phase == .rejected)
        #expect(PS.rejectedCode(d) == "accountNotUpToDate")
    }

    @Test func proformaDueTodayIsNotYetOverdue() throws {
        let issued = ProformaIssued(
            proformaId: "PF-2", contractId: PS.contractId, month: YearMonth(2026, 10)!, lines: [], total: .bolivianos(70), dueBy: PS.today)
        let facts = try PS.step(PostSaleContract.self, PS.contract(), .proformaIssued(issued))
        let d = try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-04-01"), facts: facts)
        #expect(d.state?.phase == .awaitingQualityCheck)
    }

    @Test func suspensionEndingBeforeItStartsIsAValidationRejection() throws {
        let facts = try PS.contract()
        let r = try #require(PS.rejection { _ = try PS.open(.suspension, PS.suspensionDetails("2027-03-01", "2027-02-28"), facts: facts) })
        #expect(r.code == .validation)
        #expect(r.errors.map(\.field) == ["data.details.to"])
    }
}

@Suite("The contract applies suspensions and reconnects at their end")
struct ContractSuspensionTests {
    static let all = ["LIN-1", "INT-1", "TV-1", "MPK-1"]

    @Test func suspensionFromTodaySuspendsProductsAtOnceAndSchedulesTheReconnection() throws {
        let contract = try PS.contract()
        let to = Day(2027, 1, 15)!
        let d = try PS.decide(PostSaleContract.self, contract, .apply(requestId: "PV-1", .suspend(productIds: ["LIN-1", "TV-1"], from: PS.today, to: to)))
        let s = try #require(d.state)
        let changed = d.emitted(ContractProductChanged.self)
        #expect(changed.map(\.product.id) == ["LIN-1", "TV-1"])
        #expect(changed.allSatisfy { $0.status == .suspended && $0.change == .suspended && $0.requestId == "PV-1" })
        #expect(d.emitted(ServiceSuspended.self).map(\.productIds) == [["LIN-1", "TV-1"]])
        #expect(d.timers == [.clear(PostSaleContract.suspendTimer), .set(PostSaleContract.reconnectTimer, at: PS.midnight("2027-01-16"))])
        #expect(PostSaleContract.reconnectTimer == "suspension.end")
        #expect(s.product("LIN-1")?.status == .suspended)
        #expect(s.product("INT-1")?.status == .active)
        #expect(s.openSuspension?.requestId == "PV-1")
    }

    @Test func futureSuspensionWaitsForItsStartTimer() throws {
        let contract = try PS.contract()
        let d = try PS.decide(
            PostSaleContract.self, contract,
            .apply(requestId: "PV-1", .suspend(productIds: Self.all, from: Day(2027, 3, 1)!, to: Day(2027, 7, 1)!)))
        let s = try #require(d.state)
        #expect(d.emitted(ContractProductChanged.self).isEmpty)
        #expect(d.emitted(ServiceSuspended.self).count == 1)
        #expect(Set(d.timers.map(\.name)) == ["suspension.start", "suspension.end"])
        #expect(d.timers.contains(.set("suspension.start", at: PS.midnight("2027-03-01"))))
        #expect(d.timers.contains(.set("suspension.end", at: PS.midnight("2027-07-02"))))
        #expect(s.products.allSatisfy { $0.status == .active })

        // Too early: nothing starts. On its day, every product goes off.
        #expect(try PS.decide(PostSaleContract.self, s, .suspensionStarts).state == nil)
        let started = try PS.decide(PostSaleContract.self, s, .suspensionStarts, at: PS.midnight("2027-03-01"))
        #expect(started.emitted(ContractProductChanged.self).map(\.product.id) == Self.all)
        #expect(started.state?.products.allSatisfy { $0.status == .suspended } == true)
    }

    @Test func suspensionTimersMapToTheirInputs() {
        guard case .suspensionStarts? = PostSaleContract.timerFired("suspension.start", dueAt: PS.t0) else {
            Issue.record("suspension.start is not suspensionStarts")
            return
        }
        guard case .suspensionEnds? = PostSaleContract.timerFired("suspension.end", dueAt: PS.t0) else {
            Issue.record("suspension.end is not suspensionEnds")
            return
        }
        #expect(PostSaleContract.timerFired("other", dueAt: PS.t0) == nil)
    }

    @Test func suspensionEndReconnectsCopperTVWithin24hAndEverythingElseAutomatically() throws {
        let suspended = try PS.applied(PS.contract(), .suspend(productIds: Self.all, from: PS.today, to: Day(2027, 1, 15)!), requestId: "PV-1")
        #expect(suspended.products.allSatisfy { $0.status == .suspended })
        let d = try PS.decide(PostSaleContract.self, suspended, .suspensionEnds, at: PS.midnight("2027-01-16"))
        let s = try #require(d.state)
        let back = try #require(d.emitted(ServiceReconnected.self).first)
        let how = Dictionary(uniqueKeysWithValues: back.products.map { ($0.id, $0.how) })
        #expect(how == ["TV-1": .within24h, "LIN-1": .automatic, "INT-1": .automatic, "MPK-1": .automatic])
        #expect(back.on == Day(2027, 1, 16)!)
        #expect(back.requestId == "PV-1")
        #expect(d.emitted(ContractProductChanged.self).allSatisfy { $0.status == .active && $0.change == .reconnected })
        #expect(d.emitted(ContractProductChanged.self).count == 4)
        #expect(s.products.allSatisfy { $0.status == .active })
        #expect(s.suspensions.last?.reconnectedOn == Day(2027, 1, 16)!)
        #expect(s.openSuspension == nil)
    }

    @Test func reconnectionIsWithin24hOnlyForCableTVOffFiber() {
        func p(_ type: ProductType, _ tech: Technology?) -> ContractProduct {
            ContractProduct(id: "P", type: type, monthly: .bolivianos(1), installedOn: Day(2020, 1, 1)!, technology: tech)
        }
        #expect(PostSaleContract.reconnection(of: p(.tv, .copper)) == .within24h)
        #expect(PostSaleContract.reconnection(of: p(.duoPack, .copper)) == .within24h)
        #expect(PostSaleContract.reconnection(of: p(.multipack, .copper)) == .within24h)
        #expect(PostSaleContract.reconnection(of: p(.multipack, .fiber)) == .automatic)
        #expect(PostSaleContract.reconnection(of: p(.tv, .fiber)) == .automatic)
        #expect(PostSaleContract.reconnection(of: p(.tv, .hspa)) == .automatic)
        #expect(PostSaleContract.reconnection(of: p(.internet, .copper)) == .automatic)
        #expect(PostSaleContract.reconnection(of: p(.line, .copper)) == .automatic)
    }
}
