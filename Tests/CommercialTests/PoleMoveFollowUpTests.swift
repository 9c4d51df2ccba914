import Commercial
import Contracts
import Foundation
@testable import Runtime
import Testing

/// Issue 7, rule 6: the pole-move follow-up as OPE-SUM-GES-P08 counts it — the seed's three
/// states, the KPI over every request (paid or not), the corrective action of ANULADO ones, and
/// the monthly report with the backup reviewer.
@Suite("pole-move follow-up")
struct PoleMoveFollowUpTests {
    typealias F = CommercialFixtures
    typealias Request = PoleMoveRequest
    typealias Month = PoleMoveMonth
    typealias T = PoleMoveRequestMachineTests

    // MARK: KPI

    @Test func ninetyEightPercentIsApproved() {
        let k = PoleMoveKPI.compute(attended: 49, total: 50)
        #expect(k.verdict == .approved)
        #expect(k.percent == 98)
    }

    @Test func belowNinetyEightPercentIsObserved() {
        #expect(PoleMoveKPI.compute(attended: 97, total: 99).verdict == .observed)  // 97.98 %
        #expect(PoleMoveKPI.compute(attended: 0, total: 3).verdict == .observed)
        #expect(PoleMoveKPI.compute(attended: 100, total: 100).verdict == .approved)
    }

    @Test func noRequestsMeansNoData() {
        let k = PoleMoveKPI.compute(attended: 0, total: 0)
        #expect(k.verdict == .noData)
        #expect(k.percent == nil)
    }

    /// The KPI counts requests, paid or not: one whose CxC was never paid counts against it.
    @Test func anUnpaidRequestCountsAgainstTheKPI() {
        let attended = (0..<49).map { _ in (state: PoleMoveSeedState.atendido, cancellation: PoleMoveCancellation?.none) }
        let followUp = PoleMoveFollowUp.compute(attended + [(state: .registrado, cancellation: nil)])
        #expect(followUp.total == 50 && followUp.registrado == 1 && followUp.kpi.verdict == .approved)
        let twoUnpaid = PoleMoveFollowUp.compute(attended + [(state: .registrado, cancellation: nil), (state: .registrado, cancellation: nil)])
        #expect(twoUnpaid.kpi.verdict == .observed, "49 / 51 < 98 %")
    }

    // MARK: The request follows its OT

    func paidRequest() throws -> Request.State {
        var r = try F.step(Request.self, nil, .request(F.poleMove))
        r = try F.step(Request.self, r, .chargeCreated(T.created))
        return try F.step(Request.self, r, .chargePaid(T.paid))
    }

    @Test func theOTIdFindsItsRequestAndTheSeedStatesAreThree() throws {
        var context = DecisionContext(now: F.now, messageId: "m-paid", numbers: [CommercialWorkOrder.numberSequence: [1]])
        var charged = try F.step(Request.self, nil, .request(F.poleMove))
        #expect(charged.seedState == .registrado)
        charged = try F.step(Request.self, charged, .chargeCreated(T.created))
        let d = try Request.decide(charged, .chargePaid(T.paid), &context)
        #expect(d.aliases == ["PM-\(T.requestId)"])
        let paid = try #require(d.state)
        #expect(paid.seedState == .registrado, "registered or assigned: REGISTRADO")
        let attended = try F.step(Request.self, paid, .attended(T.attended))
        #expect(attended.seedState == .atendido)
        let closedOnly = try F.step(Request.self, paid, .closed(T.closed))
        #expect(closedOnly.seedState == .atendido, "a closing implies the attendance")
        let cancelled = try F.step(Request.self, attended, .cancelled(T.cancelled))
        #expect(cancelled.seedState == .anulado && cancelled.cancelReason == "el poste no era accesible")
    }

    @Test func everyChangeReachesTheMonthOfTheRequest() throws {
        let paid = try paidRequest()
        let d = try F.decide(Request.self, paid, .cancelled(T.cancelled))
        let followUp = try #require(d.followUps.first)
        #expect(followUp.aggregate.kind == Month.kind && followUp.key == .id("2026-11"))
        var context = DecisionContext(now: F.now)
        let opened = try F.step(Month.self, nil, .track(month: "2026-11", Month.Entry(requestId: T.requestId, state: .registrado)))
        let month = try #require(try followUp.run(opened, &context).state as? Month.State)
        #expect(month.requests[T.requestId] == Month.Entry(requestId: T.requestId, state: .anulado, workOrderId: T.workOrderId, reason: "el poste no era accesible"))
    }

    /// Step 11: the corrective action of an ANULADO pole move is recorded, once.
    @Test func aCorrectiveActionIsRecordedOnceAndOnlyForACancelledPoleMove() throws {
        let paid = try paidRequest()
        let early = #expect(throws: Rejection.self) { try F.decide(Request.self, paid, .correctiveAction(T.action)) }
        #expect(early?.code == .invalidTransition)
        let cancelled = try F.step(Request.self, paid, .cancelled(T.cancelled))
        let d = try F.decide(Request.self, cancelled, .correctiveAction(T.action))
        #expect(
            d.emitted(CorrectiveActionRecorded.self) == [
                CorrectiveActionRecorded(
                    requestId: T.requestId, workOrderId: T.workOrderId, reason: "el poste no era accesible", action: "nueva visita coordinada",
                    by: "rosa.vargas")
            ])
        let recorded = try #require(d.state)
        #expect(recorded.correctiveAction == "nueva visita coordinada" && recorded.correctiveActionBy == "rosa.vargas")
        let again = #expect(throws: Rejection.self) { try F.decide(Request.self, recorded, .correctiveAction(T.action)) }
        #expect(again?.code == .alreadyDone)
        let blank = RecordCorrectiveAction(workOrderId: T.workOrderId, action: " ", by: "rosa.vargas")
        let invalid = #expect(throws: Rejection.self) { try F.decide(Request.self, cancelled, .correctiveAction(blank)) }
        #expect(invalid?.code == .validation && invalid?.errors.map(\.field) == ["data.action"])
        let unknown = #expect(throws: Rejection.self) { try F.decide(Request.self, nil, .correctiveAction(T.action)) }
        #expect(unknown?.code == .notFound)
    }

    @Test func factsOfOtherOTsAreIgnored() throws {
        for input: Request.Input in [.attended(T.attended), .closed(T.closed), .cancelled(T.cancelled)] {
            let d = try F.decide(Request.self, nil, input)
            #expect(d.state == nil && d.events.isEmpty && d.followUps.isEmpty)
        }
    }

    // MARK: The monthly report

    static let due = Month.reportDue("2026-11")!  // 2026-12-01T00:00:00Z

    func month(_ entries: [Month.Entry]) throws -> Month.State {
        var s = try F.step(Month.self, nil, .ensure(month: "2026-11"))
        for e in entries { s = try F.step(Month.self, s, .track(month: "2026-11", e)) }
        return s
    }

    func decide(_ s: Month.State?, _ input: Month.Input, at time: Date) throws -> Decision<Month.State> {
        var context = DecisionContext(now: time)
        return try Month.decide(s, input, &context)
    }

    @Test func monthsAreUTCCalendarMonthsAndTheReportIsDueWhenTheNextBegins() {
        #expect(Month.key(Date(timeIntervalSince1970: 1_795_356_000)) == "2026-11")
        #expect(Self.due == Wire.parseTimestamp("2026-12-01T00:00:00.000Z"))
        #expect(Month.key(Self.due) == "2026-12" && Month.key(Self.due.addingTimeInterval(-0.001)) == "2026-11")
        #expect(Month.reportDue("2026-12") == Wire.parseTimestamp("2027-01-01T00:00:00.000Z"))
        #expect(Month.reportDue("2026-13") == nil && Month.reportDue("x") == nil)
    }

    @Test func aRequestOlderThanTheFollowUpOpensNoMonth() throws {
        let d = try decide(nil, .track(month: "2026-11", Month.Entry(requestId: "PMR-0", state: .atendido, workOrderId: "PM-PMR-0")), at: F.t0)
        #expect(d.state == nil && d.timers.isEmpty)
    }

    @Test func theFirstRequestOfAMonthSetsItsReportTimer() throws {
        let d = try decide(nil, .track(month: "2026-11", Month.Entry(requestId: "PMR-1", state: .registrado)), at: F.t0)
        #expect(d.timers == [.set(Month.reportTimer, at: Self.due)])
        let tracked = try #require(d.state)
        #expect(try decide(tracked, .track(month: "2026-11", Month.Entry(requestId: "PMR-2", state: .registrado)), at: F.t0).timers.isEmpty)
    }

    /// Step 14: at the month's end the report is produced once, with the requests as they stood,
    /// the cancellations with their reasons and corrective actions, and the KPI over all of them.
    @Test func theMonthsReportCountsEveryRequestAsItStandsAndIsProducedOnce() throws {
        let s = try month([
            Month.Entry(requestId: "PMR-1", state: .atendido, workOrderId: "PM-PMR-1"),
            Month.Entry(requestId: "PMR-2", state: .registrado),  // never paid
            Month.Entry(requestId: "PMR-3", state: .anulado, workOrderId: "PM-PMR-3", reason: "sin acceso", correctiveAction: "nueva visita"),
            Month.Entry(requestId: "PMR-4", state: .registrado, workOrderId: "PM-PMR-4"),  // paid, assigned
        ])
        let early = try decide(s, .reportDue, at: Self.due.addingTimeInterval(-5))
        #expect(early.state == nil && early.events.isEmpty && early.timers == [.set(Month.reportTimer, at: Self.due)])

        let d = try decide(s, .reportDue, at: Self.due)
        let report = try #require(d.emitted(PoleMoveMonthlyReport.self).first)
        #expect(report.month == "2026-11" && report.total == 4)
        #expect(report.registrado == 2 && report.atendido == 1 && report.anulado == 1)
        #expect(report.percent == 25 && report.verdict == "observed")
        #expect(report.cancellations == [PoleMoveCancellation(workOrderId: "PM-PMR-3", reason: "sin acceso", correctiveAction: "nueva visita")])
        #expect(report.preparedBy == Month.owner && !report.byBackup && report.addressedTo == Month.addressee)
        let reported = try #require(d.state)
        #expect(reported.status == "reported" && reported.report == report && reported.reportedAt == Self.due)
        let next = try #require(d.followUps.first)
        #expect(next.aggregate.kind == Month.kind && next.key == .id("2026-12"), "the next month is opened: every month gets its report")
        #expect(try decide(reported, .reportDue, at: Self.due.addingTimeInterval(60)).events.isEmpty, "once")
        // A later change is kept, the report as sent stays.
        let later = try decide(reported, .track(month: "2026-11", Month.Entry(requestId: "PMR-2", state: .atendido)), at: Self.due.addingTimeInterval(3600))
        #expect(later.state?.report == report && later.state?.requests["PMR-2"]?.state == .atendido)
    }

    @Test func aMonthWithoutRequestsIsReportedWithNoData() throws {
        let opened = try #require(try decide(nil, .ensure(month: "2026-11"), at: F.t0).state)
        let report = try #require(try decide(opened, .reportDue, at: Self.due).emitted(PoleMoveMonthlyReport.self).first)
        #expect(report.total == 0 && report.verdict == "noData" && report.percent == nil)
    }

    /// Step 14.2: the backup reviewer prepares the report when the owner is absent then.
    @Test func theBackupReviewerIsNamedWhenTheOwnerIsAbsentAtTheReport() throws {
        let s = try month([Month.Entry(requestId: "PMR-1", state: .atendido)])
        let covering = RecordReviewerAbsence(from: Self.due.addingTimeInterval(-86_400), to: Self.due.addingTimeInterval(86_400), by: "jefa")
        let absent = try #require(try decide(s, .ownerAbsent(month: "2026-11", covering), at: F.now).state)
        let report = try #require(try decide(absent, .reportDue, at: Self.due).emitted(PoleMoveMonthlyReport.self).first)
        #expect(report.preparedBy == Month.backup && report.byBackup)
        // An absence that is over by the report changes nothing.
        let over = RecordReviewerAbsence(from: F.t0, to: F.now, by: "jefa")
        let back = try #require(try decide(s, .ownerAbsent(month: "2026-11", over), at: F.now).state)
        #expect(try decide(back, .reportDue, at: Self.due).emitted(PoleMoveMonthlyReport.self).first?.preparedBy == Month.owner)
    }

    @Test func anAbsenceIsRecordedInItsMonthAndInEveryMonthWhoseReportFallsInIt() throws {
        let nov20 = Wire.parseTimestamp("2026-11-20T00:00:00.000Z")!
        #expect(Month.months(ofAbsence: nov20, nov20.addingTimeInterval(3 * 86_400)) == ["2026-11"])
        #expect(Month.months(ofAbsence: nov20, Self.due) == ["2026-11"], "the report of November falls on its last instant")
        let feb = Wire.parseTimestamp("2027-02-02T00:00:00.000Z")!
        #expect(Month.months(ofAbsence: nov20, feb) == ["2026-11", "2026-12", "2027-01"])
        #expect(Month.months(ofAbsence: Self.due, Self.due) == ["2026-12", "2026-11"])
        let backwards = RecordReviewerAbsence(from: feb, to: nov20, by: "jefa")
        let error = #expect(throws: Rejection.self) { try decide(nil, .ownerAbsent(month: "2027-02", backwards), at: F.now) }
        #expect(error?.code == .validation && error?.errors.map(\.field) == ["data.to"])
        let tooLong = RecordReviewerAbsence(from: nov20, to: nov20.addingTimeInterval(400 * 86_400), by: "jefa")
        #expect(throws: Rejection.self) { try decide(nil, .ownerAbsent(month: "2026-11", tooLong), at: F.now) }
    }
}
