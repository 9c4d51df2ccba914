import Contracts
import Foundation
import Priority
import Runtime
import Testing

/// The damage cases of a product (COM-GCM-P12): reports from the three channels, reiterations,
/// the repair OT, quality control after closure and the escalation ladder.
@Suite("damage cases of a product")
struct ProductDamagesTests {
    typealias Product = ProductDamages
    typealias OT = PriorityWorkOrder

    let dn1 = P.damageId(1), dn2 = P.damageId(2)
    var ot1: String { P.repairOT(dn1) }

    // MARK: Reports

    @Test func aFirstReportRegistersADamageAndOpensARepairOT() throws {
        let d = try P.decide(Product.self, nil, .report(P.report(P.internet, channel: .helpDesk)), at: P.t0, number: 1)
        #expect(P.types(d) == [DamageRegistered.type, OpenWorkOrder.type])
        #expect(
            d.emitted(DamageRegistered.self) == [
                DamageRegistered(damageId: "DN-2026-000001", product: P.internet, workOrderId: ot1, reiteration: 0, channel: .helpDesk, fault: P.fault)
            ])
        let open = try #require(d.emitted(OpenWorkOrder.self).first)
        #expect(open.workOrderId == ot1 && open.kind == .repair && open.customer == P.residential)
        #expect(open.productId == "INT-1" && open.productType == .internet && open.damageId == dn1)
        #expect(open.description.contains(P.fault) && open.description.contains(P.address) && open.description.contains(P.phone))
        // The damage and its OT find the product.
        #expect(Set(d.aliases) == [dn1, ot1])
        // The OT's priority learns the damage's facts before it opens.
        let followUp = try #require(d.followUps.first)
        #expect(d.followUps.count == 1)
        #expect(followUp.aggregate.kind == OT.kind && followUp.key == .id(ot1) && followUp.trigger == OT.damageTrigger)
        let pending = try #require(try P.run(followUp, on: OT.State?.none).state)
        #expect(pending.status == "pending")
        #expect(
            pending.damage == OT.DamageFacts(damageId: dn1, product: P.internet, channel: .helpDesk, reiteration: 0, immediate: false, reissue: false))
        // The state and its history.
        let s = try #require(d.state)
        #expect(s.status == "registered" && s.productId == "INT-1" && s.productType == .internet && s.damages.count == 1)
        let damage = try #require(s.current)
        #expect(damage.phase == .registered && damage.workOrderId == ot1 && damage.reiteration == 0 && !damage.reiterated)
        #expect(damage.registeredAt == P.t0 && damage.reiteratedAt == nil)
        #expect(d.history.map(\.to) == ["registered"] && d.history.first?.from == nil && d.history.first?.action == ReportDamage.type)
    }

    @Test func aSecondReportWhileOpenIsAReiterationToldByItsRepairOTWithItsNewDeadline() throws {
        let s = try P.withOpenOT()
        // No number is drawn for a reiteration (no numbers given: drawing one would throw).
        let d = try P.decide(Product.self, s, .report(P.report(channel: .retention)), at: P.hours(3))
        #expect(P.types(d).isEmpty, "no new OT; the repair OT tells the caller")
        let after = try #require(d.state)
        #expect(after.damages.count == 1 && after.current?.reports == 1 && after.current?.reiteratedAt == P.hours(3))
        #expect(after.current?.workOrderIds == [ot1])
        #expect(d.history.count == 1 && d.history[0].to == nil, "no transition")
        #expect(P.kinds(d) == [OT.kind] && d.followUps.first?.key == .id(ot1))
        // The open repair OT (internet, residential: level 4, 48 h) becomes a repeated damage (level 3, 48 h) and tells it.
        let first = OT.DamageFacts(damageId: dn1, product: P.internet, channel: .callCenter, reiteration: 0, immediate: false)
        let pending = try P.step(OT.self, nil, .damage(workOrderId: ot1, first))
        let opened = try P.step(OT.self, pending, .opened(P.opened(ot1, damageId: dn1), reissue: false))
        #expect(opened.level == 4)
        let told = try P.run(d.followUps[0], on: opened, at: P.hours(3))
        #expect(told.state?.damage?.reiteration == 1 && told.state?.damage?.channel == .callCenter, "the damage's channel is its first report's")
        let prioritized = try #require(told.events.compactMap { $0 as? WorkOrderPrioritized }.last)
        #expect(prioritized.level == 3 && prioritized.reiterated == true)
        #expect(
            told.events.compactMap { $0 as? DamageReiterated } == [
                DamageReiterated(damageId: dn1, previousDamageId: dn1, count: 1, product: P.internet, estimatedRepairBy: prioritized.deadline)
            ])
        // A third report counts on.
        let third = try P.decide(Product.self, after, .report(P.report()), at: P.hours(4))
        let toldAgain = try P.run(third.followUps[0], on: told.state, at: P.hours(4))
        #expect(toldAgain.events.compactMap { $0 as? DamageReiterated }.map(\.count) == [2])
        #expect(third.state?.current?.reiteratedAt == P.hours(3), "reiterated since the first reiteration")
    }

    @Test func aReiterationOfAnAssignedDamageStillOpensNothing() throws {
        var s = try P.withOpenOT()
        s = try P.step(Product.self, s, .assigned(workOrderId: ot1), at: P.hours(1))
        #expect(s.status == "assigned")
        let d = try P.decide(Product.self, s, .report(P.report()), at: P.hours(2))
        #expect(P.types(d).isEmpty && P.kinds(d) == [OT.kind])
        #expect(d.state?.status == "assigned")
    }

    @Test func aReiterationDuringTheQualityCheckIsToldWithoutAnEstimate() throws {
        let s = try P.closedOT(P.internet, .resolved)
        #expect(s.status == "qualityCheck")
        let d = try P.decide(Product.self, s, .report(P.report()), at: P.hours(3))
        #expect(d.emitted(DamageReiterated.self) == [DamageReiterated(damageId: dn1, previousDamageId: dn1, count: 1, product: P.internet)])
        #expect(d.followUps.isEmpty)
    }

    @Test func aReportAfterADamageClosedWithoutSolutionIsANewReiteratedDamageWithTheSameFault() throws {
        let s = try P.closedOT(P.internet, .unresolved)
        #expect(s.status == "unsolved" && s.current?.closedAt == P.hours(2))
        let d = try P.decide(Product.self, s, .report(P.report(fault: "Internet intermitente")), at: P.hours(30), number: 2)
        #expect(P.types(d) == [DamageRegistered.type, DamageReiterated.type, OpenWorkOrder.type])
        let ot2 = P.repairOT(dn2)
        #expect(
            d.emitted(DamageRegistered.self) == [
                DamageRegistered(damageId: dn2, product: P.internet, workOrderId: ot2, reiteration: 1, channel: .callCenter, fault: P.fault)
            ])
        #expect(
            d.emitted(DamageReiterated.self) == [DamageReiterated(damageId: dn2, previousDamageId: dn1, count: 1, product: P.internet)])
        let after = try #require(d.state)
        #expect(after.damages.map(\.damageId) == [dn1, dn2])
        let damage = try #require(after.current)
        #expect(damage.previousDamageId == dn1 && damage.reiterated && damage.reiteratedAt == P.hours(30) && damage.fault == P.fault)
        #expect(d.history.first?.from == "unsolved" && d.history.first?.to == "registered")
        let facts = try #require(try P.run(d.followUps[0], on: OT.State?.none).state?.damage)
        #expect(facts.reiteration == 1 && facts.damageId == dn2)
    }

    @Test func reiterationsCountOnAcrossDamages() throws {
        // Reported twice while open (count 1), closed without solution: the next damage is the 2nd reiteration.
        let s = try P.closedOT(P.internet, .unresolved, reiterated: true)
        let d = try P.decide(Product.self, s, .report(P.report()), at: P.hours(30), number: 2)
        #expect(d.emitted(DamageRegistered.self).map(\.reiteration) == [2])
        #expect(d.emitted(DamageReiterated.self).map(\.count) == [2])
    }

    @Test func aReportAfterASolvedOrUnfoundedDamageIsAFirstDamage() throws {
        for outcome in [Outcome.unfounded] {
            let s = try P.closedOT(P.internet, outcome)
            let d = try P.decide(Product.self, s, .report(P.report()), at: P.hours(30), number: 2)
            #expect(P.types(d) == [DamageRegistered.type, OpenWorkOrder.type], "\(outcome)")
            #expect(d.emitted(DamageRegistered.self).map(\.reiteration) == [0])
        }
        let remote = try P.step(Product.self, nil, .report(P.report(remote: true)), number: 1)
        let d = try P.decide(Product.self, remote, .report(P.report()), at: P.hours(1), number: 2)
        #expect(d.emitted(DamageRegistered.self).map(\.reiteration) == [0] && d.emitted(DamageReiterated.self).isEmpty)
    }

    @Test func aRemoteFixRegistersTheDamageSolvedWithoutAnOT() throws {
        let d = try P.decide(Product.self, nil, .report(P.report(channel: .helpDesk, remote: true)), at: P.t0, number: 1)
        #expect(P.types(d) == [DamageRegistered.type, DamageSolved.type])
        #expect(
            d.emitted(DamageRegistered.self) == [
                DamageRegistered(damageId: dn1, product: P.internet, workOrderId: nil, reiteration: 0, channel: .helpDesk, fault: P.fault)
            ])
        #expect(d.emitted(DamageSolved.self) == [DamageSolved(damageId: dn1, product: P.internet, reiterated: false, solvedAt: P.t0, how: .remote)])
        #expect(d.followUps.isEmpty && d.aliases == [dn1])
        #expect(d.state?.status == "solved" && d.state?.current?.how == .remote && d.state?.current?.workOrderId == nil)
        #expect(d.history.map(\.to) == ["solved"])
    }

    @Test func aNewDamageNeedsReporterAddressAndReferencePhone() throws {
        let r = P.rejection { _ = try P.decide(Product.self, nil, .report(P.report(reporter: nil, address: nil, phone: nil)), number: 1) }
        #expect(r?.code == .validation)
        #expect(Set(r?.errors.map(\.field) ?? []) == ["data.reporter.name", "data.address", "data.referencePhone"])
        // Blank values are missing too, one field at a time.
        let blankName = P.rejection {
            _ = try P.decide(Product.self, nil, .report(P.report(reporter: Payer(name: "  ", idNumber: "1"))), number: 1)
        }
        #expect(blankName?.errors.map(\.field) == ["data.reporter.name"])
        let noPhone = P.rejection { _ = try P.decide(Product.self, nil, .report(P.report(phone: "")), number: 1) }
        #expect(noPhone?.errors.map(\.field) == ["data.referencePhone"])
        let noAddress = P.rejection { _ = try P.decide(Product.self, nil, .report(P.report(address: " ")), number: 1) }
        #expect(noAddress?.errors.map(\.field) == ["data.address"])
        // The new damage after one closed without solution needs them as well.
        let unsolved = try P.closedOT(P.internet, .unresolved)
        let again = P.rejection { _ = try P.decide(Product.self, unsolved, .report(P.report(reporter: nil)), at: P.hours(30), number: 2) }
        #expect(again?.code == .validation && again?.errors.map(\.field) == ["data.reporter.name"])
    }

    @Test func aReiterationWithoutReporterAddressOrPhoneIsFine() throws {
        let s = try P.withOpenOT()
        let d = try P.decide(Product.self, s, .report(P.report(reporter: nil, address: nil, phone: nil)), at: P.hours(1))
        #expect(d.state?.current?.count == 1 && P.kinds(d) == [OT.kind])
    }

    @Test func theCustomerAndTheProductAndTheFaultAreRequired() {
        var report = P.report()
        report.fault = " "
        #expect(P.rejection { _ = try P.decide(Product.self, nil, .report(report), number: 1) }?.errors.map(\.field) == ["data.fault"])
    }

    // MARK: Closing and quality control

    @Test func aResolvedInternetRepairIsCheckedTwentyFourHoursAfterClosing() throws {
        let s = try P.withOpenOT(P.internet)
        let d = try P.decide(Product.self, s, .closed(P.closed(ot1, .resolved, at: P.hours(2))), at: P.hours(2.5))
        #expect(d.events.isEmpty, "nothing due yet")
        #expect(d.timers == [.set(Product.qualityTimer, at: P.hours(26))], "24 h after the closing, not after its processing")
        let waiting = try #require(d.state)
        #expect(waiting.status == "qualityCheck" && waiting.current?.qualityDueAt == P.hours(26))
        #expect(d.history.map(\.from) == ["registered"] && d.history.map(\.to) == ["qualityCheck"])
        // The timer fires: the check is due.
        #expect(Product.timerFired(Product.qualityTimer, dueAt: P.hours(26)) != nil)
        let due = try P.decide(Product.self, waiting, .qualityDue, at: P.hours(26))
        #expect(due.emitted(DamageQualityCheckDue.self) == [DamageQualityCheckDue(damageId: dn1, workOrderId: ot1, dueAt: P.hours(26))])
        #expect(due.history.allSatisfy { $0.to == nil })
        // A multimedia product is checked the same way.
        let multimedia = try P.withOpenOT(P.multipack)
        let closedMultimedia = try P.decide(Product.self, multimedia, .closed(P.closed(ot1, .resolved, at: P.hours(2))), at: P.hours(2))
        #expect(closedMultimedia.timers == [.set(Product.qualityTimer, at: P.hours(26))] && closedMultimedia.events.isEmpty)
    }

    @Test func aClosingDatedAheadOfTheClockCountsFromNow() throws {
        let s = try P.withOpenOT(P.internet)
        let d = try P.decide(Product.self, s, .closed(P.closed(ot1, .resolved, at: P.hours(5))), at: P.hours(2))
        #expect(d.timers == [.set(Product.qualityTimer, at: P.hours(26))])
    }

    @Test func aResolvedTVOrLineRepairIsDueForItsCheckAtOnce() throws {
        for product in [P.tv, P.line] {
            let s = try P.withOpenOT(product)
            let d = try P.decide(Product.self, s, .closed(P.closed(ot1, .resolved, at: P.hours(2))), at: P.hours(2))
            #expect(d.emitted(DamageQualityCheckDue.self) == [DamageQualityCheckDue(damageId: dn1, workOrderId: ot1, dueAt: P.hours(2))], "\(product.type)")
            #expect(d.timers.isEmpty, "\(product.type)")
            #expect(d.state?.status == "qualityCheck")
            // The operations center may record its call at once.
            let okBefore = try #require(d.state)
            let ok = try P.decide(Product.self, okBefore, P.quality(dn1, ok: true), at: P.hours(2))
            #expect(ok.emitted(DamageSolved.self).map(\.how) == [.field])
        }
    }

    @Test func aQualityCheckBeforeItIsDueIsAnInvalidTransition() throws {
        let s = try P.closedOT(P.internet, .resolved)
        let early = P.rejection { _ = try P.decide(Product.self, s, P.quality(dn1, ok: true), at: P.hours(25.9)) }
        #expect(early?.code == .invalidTransition)
        // From the due time on it is recorded.
        #expect(try P.decide(Product.self, s, P.quality(dn1, ok: true), at: P.hours(26)).state?.status == "solved")
    }

    @Test func aGoodQualityCheckSolvesTheDamageInTheField() throws {
        let s = try P.closedOT(P.internet, .resolved)
        let d = try P.decide(Product.self, s, P.quality(dn1, ok: true), at: P.hours(27))
        #expect(d.emitted(DamageSolved.self) == [DamageSolved(damageId: dn1, product: P.internet, reiterated: false, solvedAt: P.hours(27), how: .field)])
        #expect(P.types(d) == [DamageSolved.type])
        #expect(d.timers == [.clear(Product.qualityTimer)])
        let solved = try #require(d.state?.current)
        #expect(solved.phase == .solved && solved.solvedAt == P.hours(27) && solved.qualityChecks == 1 && solved.how == .field)
        #expect(d.history.map(\.from) == ["qualityCheck"] && d.history.map(\.to) == ["solved"])
    }

    @Test func aReiteratedDamageSolvedSaysSo() throws {
        let s = try P.closedOT(P.internet, .resolved, reiterated: true)
        let d = try P.decide(Product.self, s, P.quality(dn1, ok: true), at: P.hours(27))
        #expect(d.emitted(DamageSolved.self).map(\.reiterated) == [true])
    }

    @Test func aConfigurationProblemIsFixedFromTheSystem() throws {
        let s = try P.closedOT(P.internet, .resolved)
        let d = try P.decide(Product.self, s, P.quality(dn1, ok: false, problem: .configuration), at: P.hours(27))
        #expect(d.emitted(DamageSolved.self).map(\.how) == [.qualityCheck])
        #expect(P.types(d) == [DamageSolved.type] && d.followUps.isEmpty)
        #expect(d.state?.status == "solved")
    }

    @Test func aLineProblemOpensAnImmediateOT() throws {
        let s = try P.closedOT(P.internet, .resolved)
        let d = try P.decide(Product.self, s, P.quality(dn1, ok: false, problem: .line), at: P.hours(27))
        let ot2 = P.repairOT(dn1, 2)
        #expect(P.types(d) == [OpenWorkOrder.type])
        let open = try #require(d.emitted(OpenWorkOrder.self).first)
        #expect(open.workOrderId == ot2 && open.kind == .repair && open.damageId == dn1 && open.productId == "INT-1")
        #expect(open.description.hasPrefix("OT inmediata"))
        let damage = try #require(d.state?.current)
        #expect(damage.phase == .registered && damage.workOrderId == ot2 && damage.workOrderIds == [ot1, ot2])
        #expect(damage.qualityDueAt == nil)
        #expect(d.history.map(\.from) == ["qualityCheck"] && d.history.map(\.to) == ["registered"])
        #expect(d.aliases == [ot2])
        // Its priority: an immediate OT.
        #expect(d.followUps.count == 1 && d.followUps[0].key == .id(ot2) && d.followUps[0].trigger == OT.damageTrigger)
        let facts = try #require(try P.run(d.followUps[0], on: OT.State?.none).state?.damage)
        #expect(facts.immediate && facts.damageId == dn1)
        // The immediate OT closes resolved: checked again.
        let againBefore = try #require(d.state)
        let again = try P.decide(Product.self, againBefore, .closed(P.closed(ot2, .resolved, at: P.hours(30))), at: P.hours(30))
        #expect(again.timers == [.set(Product.qualityTimer, at: P.hours(54))])
    }

    @Test func aServiceStillFailingOnAFirstDamageOpensAnImmediateOT() throws {
        let s = try P.closedOT(P.tv, .resolved)
        let d = try P.decide(Product.self, s, P.quality(dn1, ok: false, problem: .service), at: P.hours(3))
        #expect(P.types(d) == [OpenWorkOrder.type] && d.state?.status == "registered")
    }

    // MARK: The escalation ladder

    /// A reiterated TV damage, repaired, still failing at the operations center's call.
    func escalated() throws -> Product.State {
        let s = try P.closedOT(P.tv, .resolved, reiterated: true)
        return try P.step(Product.self, s, P.quality(dn1, ok: false, problem: .service), at: P.hours(3))
    }

    @Test func aServiceStillFailingOnAReiteratedDamageGoesToTheTechnicianFirst() throws {
        let s = try P.closedOT(P.tv, .resolved, reiterated: true)
        let d = try P.decide(Product.self, s, P.quality(dn1, ok: false, problem: .service), at: P.hours(3))
        #expect(
            d.emitted(WorkOrderEscalated.self) == [
                WorkOrderEscalated(workOrderId: ot1, step: 1, to: "technician (returns with priority)", damageId: dn1)
            ])
        #expect(P.types(d) == [WorkOrderEscalated.type] && d.followUps.isEmpty)
        #expect(d.state?.status == "escalated" && d.state?.current?.escalationStep == 1)
        #expect(d.history.map(\.from) == ["qualityCheck"] && d.history.map(\.to) == ["escalated"])
        // A check without a problem named is a service still failing.
        #expect(try P.decide(Product.self, s, P.quality(dn1, ok: false), at: P.hours(3)).state?.status == "escalated")
    }

    @Test func eachUnsolvedStepEscalatesOneStepUntilTheHeadOfTheOperationsCenter() throws {
        var s = try escalated()
        // Step 2: the supervisor generates an immediate OT.
        let two = try P.decide(Product.self, s, P.escalation(dn1, solved: false), at: P.hours(4))
        let ot2 = P.repairOT(dn1, 2)
        #expect(P.types(two) == [OpenWorkOrder.type, WorkOrderEscalated.type])
        #expect(two.emitted(WorkOrderEscalated.self) == [WorkOrderEscalated(workOrderId: ot2, step: 2, to: "supervisor (immediate OT)", damageId: dn1)])
        #expect(two.emitted(OpenWorkOrder.self).map(\.workOrderId) == [ot2])
        #expect(two.aliases == [ot2] && two.followUps.map(\.key) == [.id(ot2)])
        let immediate = try #require(try P.run(two.followUps[0], on: OT.State?.none).state?.damage)
        #expect(immediate.immediate && immediate.reiteration == 1)
        s = try #require(two.state)
        #expect(s.status == "escalated" && s.current?.escalationStep == 2 && s.current?.workOrderIds == [ot1, ot2])
        // Step 3: the network division.
        let three = try P.decide(Product.self, s, P.escalation(dn1, solved: false), at: P.hours(5))
        #expect(three.emitted(WorkOrderEscalated.self) == [WorkOrderEscalated(workOrderId: ot2, step: 3, to: "network division", damageId: dn1)])
        #expect(P.types(three) == [WorkOrderEscalated.type] && three.followUps.isEmpty)
        s = try #require(three.state)
        // Step 4: the head of the operations center.
        let four = try P.decide(Product.self, s, P.escalation(dn1, solved: false), at: P.hours(6))
        #expect(four.emitted(WorkOrderEscalated.self).map(\.step) == [4])
        #expect(four.emitted(WorkOrderEscalated.self).map(\.to) == ["head of the operations center"])
        s = try #require(four.state)
        #expect(s.current?.escalationStep == 4)
        // Still unsolved: it stays with the head.
        let stays = try P.decide(Product.self, s, P.escalation(dn1, solved: false), at: P.hours(7))
        #expect(stays.events.isEmpty && stays.state?.current?.escalationStep == 4 && stays.state?.status == "escalated")
        #expect(stays.history.count == 1 && stays.history[0].to == nil)
        // Solved at the top.
        let solvedBefore = try #require(stays.state)
        let solved = try P.decide(Product.self, solvedBefore, P.escalation(dn1, solved: true), at: P.hours(8))
        #expect(solved.emitted(DamageSolved.self) == [DamageSolved(damageId: dn1, product: P.tv, reiterated: true, solvedAt: P.hours(8), how: .escalation)])
    }

    @Test func aSolvedStepEndsTheLadder() throws {
        let s = try escalated()
        let d = try P.decide(Product.self, s, P.escalation(dn1, solved: true), at: P.hours(4))
        #expect(P.types(d) == [DamageSolved.type])
        #expect(d.emitted(DamageSolved.self).first?.how == .escalation)
        #expect(d.state?.status == "solved" && d.history.map(\.from) == ["escalated"])
        // Nothing more to escalate.
        let solvedState = try #require(d.state)
        let after = P.rejection { _ = try P.decide(Product.self, solvedState, P.escalation(dn1, solved: false), at: P.hours(5)) }
        #expect(after?.code == .invalidTransition)
    }

    @Test func aReportWhileEscalatedIsAReiterationWithoutAFollowUp() throws {
        let s = try escalated()
        let d = try P.decide(Product.self, s, .report(P.report(P.tv)), at: P.hours(4))
        #expect(d.emitted(DamageReiterated.self).map(\.count) == [2])
        #expect(d.emitted(DamageReiterated.self).first?.estimatedRepairBy == nil)
        #expect(d.followUps.isEmpty && d.state?.status == "escalated")
    }

    // MARK: Unknown damages and wrong phases

    @Test func aQualityCheckOrEscalationOnAnUnknownDamageIsNotFound() throws {
        #expect(P.rejection { _ = try P.decide(Product.self, nil, P.quality("DN-2026-999999", ok: true)) }?.code == .notFound)
        #expect(P.rejection { _ = try P.decide(Product.self, nil, P.escalation("DN-2026-999999", solved: true)) }?.code == .notFound)
        let s = try P.closedOT(P.internet, .resolved)
        #expect(P.rejection { _ = try P.decide(Product.self, s, P.quality("DN-2026-999999", ok: true), at: P.hours(30)) }?.code == .notFound)
        #expect(P.rejection { _ = try P.decide(Product.self, s, P.quality("", ok: true), at: P.hours(30)) }?.code == .validation)
    }

    @Test func aQualityCheckOrEscalationInTheWrongPhaseIsAnInvalidTransition() throws {
        let registered = try P.withOpenOT()
        #expect(P.rejection { _ = try P.decide(Product.self, registered, P.quality(dn1, ok: true), at: P.hours(30)) }?.code == .invalidTransition)
        #expect(P.rejection { _ = try P.decide(Product.self, registered, P.escalation(dn1, solved: true)) }?.code == .invalidTransition)
        let checking = try P.closedOT(P.internet, .resolved)
        #expect(P.rejection { _ = try P.decide(Product.self, checking, P.escalation(dn1, solved: true), at: P.hours(30)) }?.code == .invalidTransition)
        // A damage that is no longer the product's current one.
        let unsolved = try P.closedOT(P.internet, .unresolved)
        let second = try P.step(Product.self, unsolved, .report(P.report()), at: P.hours(30), number: 2)
        let old = P.rejection { _ = try P.decide(Product.self, second, P.quality(dn1, ok: true), at: P.hours(60)) }
        #expect(old?.code == .invalidTransition)
    }

    // MARK: Cancelled OTs and re-issues

    @Test func aCancelledRepairOTCancelsTheDamageAndTheNextOTIsAReissue() throws {
        let s = try P.withOpenOT(P.internet)
        let d = try P.decide(Product.self, s, .cancelled(workOrderId: ot1), at: P.hours(1))
        let cancelled = try #require(d.state)
        #expect(cancelled.status == "cancelled" && cancelled.lastWorkOrderCancelled && cancelled.current?.closedAt == P.hours(1))
        #expect(d.history.map(\.from) == ["registered"] && d.history.map(\.to) == ["cancelled"])
        #expect(d.events.isEmpty)
        // The next report: a new damage (not a reiteration) and a new OT.
        let again = try P.decide(Product.self, cancelled, .report(P.report()), at: P.hours(2), number: 2)
        #expect(again.emitted(DamageRegistered.self).map(\.reiteration) == [0])
        let reported = try #require(again.state)
        // Its OT is a re-issue of the cancelled one: its facts say so, and it is the product's last OT.
        let ot2 = P.repairOT(dn2)
        #expect(reported.lastWorkOrderId == ot2 && reported.lastWorkOrderCancelled == false)
        let pending = try #require(try P.run(again.followUps[0], on: OT.State?.none, at: P.hours(2)).state)
        #expect(pending.damage?.reissue == true)
        var context = DecisionContext(now: P.hours(2))
        let ot = try OT.decide(pending, .opened(P.opened(ot2, damageId: dn2), reissue: false), &context)
        #expect(ot.state?.reissue == true)
        #expect(ot.events.compactMap { $0 as? WorkOrderPrioritized }.map(\.reason) == ["OT anulada multimedia - internet"])
        // Through the product (as an OT without a damage would go), its opening is no re-issue of itself.
        let opening = try P.decide(Product.self, reported, .workOrderOpened(P.opened(ot2, damageId: dn2)), at: P.hours(2))
        #expect(opening.aliases == [ot2] && P.kinds(opening) == [OT.kind] && opening.followUps[0].key == .id(ot2))
        // A repeated opening of the same OT is not a re-issue of itself.
        let redeliveredBefore = try #require(opening.state)
        let redelivered = try P.decide(Product.self, redeliveredBefore, .workOrderOpened(P.opened(ot2, damageId: dn2)), at: P.hours(3))
        #expect(try P.run(redelivered.followUps[0], on: OT.State?.none).state?.reissue == false)
    }

    @Test func anyOTOfTheProductAfterACancelledOneIsAReissue() throws {
        // An installation OT of the product, cancelled; its next OT is a re-issue.
        let known = try P.step(Product.self, nil, .workOrderOpened(P.opened("W-INST", kind: .installation, product: P.tv)))
        #expect(known.status == "known" && known.lastWorkOrderId == "W-INST")
        let d = try P.decide(Product.self, known, .cancelled(workOrderId: "W-INST"), at: P.hours(1))
        #expect(d.state?.lastWorkOrderCancelled == true && d.state?.status == "known" && d.history.allSatisfy { $0.to == nil })
        let nextBefore = try #require(d.state)
        let next = try P.decide(Product.self, nextBefore, .workOrderOpened(P.opened("W-INST-2", kind: .installation, product: P.tv)))
        let ot = try P.run(next.followUps[0], on: OT.State?.none)
        #expect(ot.state?.reissue == true && ot.events.compactMap { $0 as? WorkOrderPrioritized }.map(\.level) == [4])
        #expect(ot.events.compactMap { $0 as? WorkOrderPrioritized }.map(\.reason) == ["OT anulada internet - TV"])
        // The cancellation of an OT that is not the product's last changes nothing.
        #expect(try P.decide(Product.self, known, .cancelled(workOrderId: "W-OTHER")).state == nil)
    }

    @Test func anOTOfAProductWithoutCancellationIsNoReissue() throws {
        let d = try P.decide(Product.self, nil, .workOrderOpened(P.opened("W-INST", kind: .installation, product: P.internet)))
        #expect(d.history.map(\.to) == ["known"] && d.aliases == ["W-INST"])
        #expect(try P.run(d.followUps[0], on: OT.State?.none).state?.reissue == false)
        #expect(try P.decide(Product.self, nil, .workOrderOpened(P.opened("W-X", product: nil))).state == nil, "an OT without a product")
    }

    // MARK: Facts that arrive for nobody

    @Test func closingsAssignmentsAndDeadlinesOfOtherOTsAreIgnored() throws {
        let s = try P.withOpenOT()
        #expect(try P.decide(Product.self, s, .assigned(workOrderId: "W-OTHER")).state == nil)
        #expect(try P.decide(Product.self, s, .closed(P.closed("W-OTHER", .resolved, at: P.t0))).state == nil)
        #expect(try P.decide(Product.self, s, .qualityDue).state == nil, "no check pending")
        #expect(try P.decide(Product.self, nil, .closed(P.closed(ot1, .resolved, at: P.t0))).state == nil)
    }

    @Test func theDamageNumberIsDrawnFromItsSequencePerYear() throws {
        let d = try P.decide(Product.self, nil, .report(P.report()), number: 18_844)
        #expect(d.state?.current?.damageId == "DN-2026-018844")
        // Without a number drawn, a new damage cannot be registered.
        #expect(P.rejection { _ = try P.decide(Product.self, nil, .report(P.report())) }?.code == .internalError)
        #expect(PriorityService.routes.routes[ReportDamage.type]?.numbers == [Product.damageNumber])
    }
}
