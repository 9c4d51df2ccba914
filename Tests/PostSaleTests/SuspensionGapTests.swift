import Contracts
import Foundation
import PostSale
import Runtime
import Testing

/// Rules of D across requests: one suspension at a time, and a reconnection request cannot
/// stretch a suspension past its four months.
@Suite("Suspension limits across requests")
struct SuspensionLimitTests {
    /// A reconnection request dated after the suspension's end would move the end later: past
    /// `from` + 4 months it is turned down (suspensionTooLong), and the contract is not asked.
    @Test func reconnectionRequestCannotStretchASuspensionBeyondFourMonths() throws {
        // Suspended since 2026-11-01 (PS.t0 is 2026-11-29), until 2027-01-31; four months end on 2027-03-01.
        let from = Day(2026, 11, 1)!
        let suspended = try PS.applied(PS.contract(), .suspend(productIds: ["LIN-1"], from: from, to: Day(2027, 1, 31)!), requestId: "PV-1")
        #expect(suspended.openSuspension?.requestId == "PV-1")
        let request = try PS.open(.reconnection, ["on": "2027-12-01"], documents: [], facts: suspended)
        #expect(request.state?.phase == .rejected)
        #expect(request.emitted(PostSaleRequestRejected.self).first?.code == "suspensionTooLong")
        #expect(request.followUps.isEmpty)
        // Within the four months a later date is accepted: the end moves, and the timer with it.
        let within = try PS.open(.reconnection, ["on": "2027-02-15"], documents: [], facts: suspended)
        #expect(within.state?.phase == .awaitingQualityCheck)
        let moved = try PS.decide(PostSaleContract.self, suspended, .apply(requestId: "PV-2", .reconnect(on: Day(2027, 2, 15)!)))
        #expect(moved.state?.suspensions.last?.to == Day(2027, 2, 14)!)
        #expect(moved.timers.contains(.set(PostSaleContract.reconnectTimer, at: PS.midnight("2027-02-15"))))
    }

    /// A suspension requested in January while last year's is still running is turned down when
    /// the two overlap (alreadySuspended); one that starts after it ends is the first of its year,
    /// accepted, and each comes back at its own end: the contract's timer moves from one to the next.
    @Test func everySuspendedProductComesBackWhenSuspensionsOverlap() throws {
        let first = try PS.applied(PS.contract(), .suspend(productIds: ["LIN-1"], from: Day(2026, 12, 1)!, to: Day(2027, 3, 31)!), requestId: "PV-1")
        let started = try PS.step(PostSaleContract.self, first, .suspensionStarts, at: PS.midnight("2026-12-01"))
        #expect(started.product("LIN-1")?.status == .suspended)
        let jan10 = PS.midnight("2027-01-10")
        let second = try PS.open(.suspension, ["from": "2027-02-01", "to": "2027-05-31", "productIds": ["INT-1"]], facts: started, at: jan10)
        #expect(second.state?.phase == .rejected)
        #expect(second.emitted(PostSaleRequestRejected.self).first?.code == "alreadySuspended")
        #expect(second.followUps.isEmpty)
        let after = try PS.open(.suspension, ["from": "2027-05-01", "to": "2027-05-31", "productIds": ["INT-1"]], facts: started, at: jan10)
        #expect(after.state?.phase == .awaitingQualityCheck)
        let both = try PS.decide(
            PostSaleContract.self, started, .apply(requestId: "PV-3", .suspend(productIds: ["INT-1"], from: Day(2027, 5, 1)!, to: Day(2027, 5, 31)!)),
            at: jan10)
        #expect(both.timers == [TimerChange.set(PostSaleContract.suspendTimer, at: PS.midnight("2027-05-01")), .set(PostSaleContract.reconnectTimer, at: PS.midnight("2027-04-01"))])
        let scheduled = try #require(both.state)
        let endOfFirst = try PS.decide(PostSaleContract.self, scheduled, .suspensionEnds, at: PS.midnight("2027-04-01"))
        let ended = try #require(endOfFirst.state)
        #expect(ended.product("LIN-1")?.status == .active)
        #expect(ended.openSuspension == nil)
        #expect(endOfFirst.timers.contains(.set(PostSaleContract.reconnectTimer, at: PS.midnight("2027-06-01"))))
        let secondOn = try PS.step(PostSaleContract.self, ended, .suspensionStarts, at: PS.midnight("2027-05-01"))
        #expect(secondOn.product("INT-1")?.status == .suspended)
        let secondOff = try PS.step(PostSaleContract.self, secondOn, .suspensionEnds, at: PS.midnight("2027-06-01"))
        #expect(secondOff.product("INT-1")?.status == .active)
        #expect(secondOff.suspensions.allSatisfy { $0.reconnectedOn != nil })
    }
}
