import Contracts
import Foundation
import Priority
import Runtime
import Testing

/// The priority of one OT: levelled by the matrix when it opens, again when its damage is
/// reiterated or its age reaches a row; high vulnerability once; nothing after it ended.
@Suite("work order priority")
struct PriorityWorkOrderTests {
    typealias OT = PriorityWorkOrder
    typealias Product = ProductDamages
    let id = "W-1"

    func opened(
        kind: WorkOrderKind = .repair, customer: Customer = P.residential, product: ProductRef? = P.internet, reissue: Bool = false
    ) -> OT.Input {
        .opened(P.opened(id, kind: kind, customer: customer, product: product), reissue: reissue)
    }

    func facts(_ product: ProductRef = P.internet, channel: DamageChannel = .callCenter, reiteration: Int = 0, immediate: Bool = false) -> OT.Input {
        .damage(workOrderId: id, OT.DamageFacts(damageId: "DN-2026-000001", product: product, channel: channel, reiteration: reiteration, immediate: immediate))
    }

    func prioritized<S>(_ d: Decision<S>) -> [WorkOrderPrioritized] { d.emitted(WorkOrderPrioritized.self) }

    // MARK: Opening

    @Test func anOpenedOTIsPrioritizedWithItsLevelDeadlineAndReason() throws {
        let d = try P.decide(OT.self, nil, opened(kind: .installation, customer: P.topA), at: P.t0)
        #expect(
            prioritized(d) == [
                WorkOrderPrioritized(workOrderId: id, level: 1, deadline: P.hours(12), reason: "Instalación / reclamo TOP A - TOP B", reiterated: nil)
            ])
        #expect(P.types(d) == [WorkOrderPrioritized.type])
        #expect(d.timers == [.clear(OT.ageTimer)], "TOP A changes with no age")
        #expect(d.followUps.isEmpty, "no damage to tell")
        let s = try #require(d.state)
        #expect(s.status == "open" && s.level == 1 && s.row == .topInstallationOrClaim && s.deadline == P.hours(12) && s.openedAt == P.t0)
        #expect(d.history.first?.from == nil && d.history.first?.to == "open" && d.history.first?.action == WorkOrderOpened.type)
    }

    @Test func anOTWhoseRowChangesWithAgeGetsAnAgeTimer() throws {
        let multimedia = try P.decide(OT.self, nil, opened(kind: .repair, product: P.multipack), at: P.t0)
        #expect(prioritized(multimedia).map(\.level) == [4])
        #expect(multimedia.timers == [.set(OT.ageTimer, at: P.hours(72))])
        let installation = try P.decide(OT.self, nil, opened(kind: .installation, product: P.internet), at: P.t0)
        #expect(installation.timers == [.set(OT.ageTimer, at: P.hours(150))])
        #expect(OT.timerFired(OT.ageTimer, dueAt: P.hours(72)) != nil && OT.timerFired("other", dueAt: P.hours(72)) == nil)
    }

    @Test func theDeadlineCountsFromTheOpeningNotFromItsProcessing() throws {
        // Opened at t0, decided 5 h later.
        var context = DecisionContext(now: P.hours(5), messageTime: P.t0)
        let d = try OT.decide(nil, opened(customer: P.pyme), &context)
        #expect(prioritized(d).map(\.deadline) == [P.hours(24)])
        #expect(d.state?.openedAt == P.t0)
        // An opening stamped ahead of the clock counts from now.
        var ahead = DecisionContext(now: P.t0, messageTime: P.hours(2))
        #expect(prioritized(try OT.decide(nil, opened(customer: P.pyme), &ahead)).map(\.deadline) == [P.hours(24)])
    }

    @Test func anOTOpenedLateIsLevelledAtItsAge() throws {
        // A multimedia OT whose opening is processed 80 h late is already past 72 h.
        var context = DecisionContext(now: P.hours(80), messageTime: P.t0)
        let d = try OT.decide(nil, opened(product: P.multipack), &context)
        #expect(prioritized(d).map(\.level) == [3] && prioritized(d).map(\.deadline) == [P.hours(48)])
        #expect(d.timers == [.clear(OT.ageTimer)])
    }

    @Test func aSecondOpeningIsIgnored() throws {
        let s = try P.step(OT.self, nil, opened(), at: P.t0)
        #expect(try P.decide(OT.self, s, opened(customer: P.topA), at: P.hours(1)).state == nil)
    }

    @Test func anOpeningCarriesTheReissueOfTheProduct() throws {
        let d = try P.decide(OT.self, nil, opened(product: P.tv, reissue: true), at: P.t0)
        #expect(prioritized(d).map(\.level) == [4] && prioritized(d).map(\.reason) == ["OT anulada internet - TV"])
        #expect(d.state?.reissue == true)
    }

    // MARK: Damage facts

    @Test func damageFactsBeforeTheOpeningWaitAndTheOpeningUsesThem() throws {
        let d = try P.decide(OT.self, nil, facts(P.multipack, channel: .retention), at: P.t0)
        #expect(d.events.isEmpty && d.timers.isEmpty)
        let pending = try #require(d.state)
        #expect(pending.status == "pending" && pending.level == nil)
        #expect(d.history.map(\.to) == ["pending"] && d.history.first?.action == OT.damageTrigger)
        // Opened: the retention channel of the damage makes a multimedia repair level 1.
        let o = try P.decide(OT.self, pending, opened(product: P.multipack), at: P.hours(1))
        #expect(prioritized(o).map(\.level) == [1] && prioritized(o).map(\.reason) == ["Multimedia (Retención)"])
        #expect(o.history.first?.from == "pending" && o.history.first?.to == "open")
        #expect(prioritized(o).map(\.deadline) == [P.hours(13)], "from the opening")
        // The OT tells no one else: the product is not written again for its opening.
        #expect(o.followUps.isEmpty)
        // Changed facts while pending are kept, with no priority yet.
        let changed = try P.decide(OT.self, pending, facts(P.multipack, channel: .retention, reiteration: 1), at: P.t0)
        #expect(changed.state?.damage?.reiteration == 1 && changed.events.isEmpty && changed.history.allSatisfy { $0.to == nil })
    }

    @Test func theProductTypeOfTheDamageIsUsedWhenTheOpeningNamesNone() throws {
        let pending = try P.step(OT.self, nil, facts(P.tv, reiteration: 1), at: P.t0)
        let o = try P.decide(OT.self, pending, opened(product: nil), at: P.t0)
        #expect(prioritized(o).map(\.reason) == ["Daño reiterado internet / TV"])
    }

    @Test func aRepairOTKnowsFromItsDamageThatItReissuesACancelledOT() throws {
        // The real story: the product's last OT was cancelled; a damage opens the next one.
        let cancelled = try P.step(Product.self, try P.withOpenOT(), .cancelled(workOrderId: P.repairOT(P.damageId(1))), at: P.hours(1))
        let reported = try P.decide(Product.self, cancelled, .report(P.report()), at: P.hours(2), number: 2)
        let ot2 = P.repairOT(P.damageId(2))
        let pending = try #require(try P.run(reported.followUps[0], on: OT.State?.none).state)
        #expect(pending.damage?.reissue == true)
        var context = DecisionContext(now: P.hours(2))
        let o = try OT.decide(pending, .opened(P.opened(ot2, damageId: P.damageId(2)), reissue: false), &context)
        #expect(prioritized(o).map(\.reason) == ["OT anulada multimedia - internet"])
        #expect(o.state?.reissue == true)
        // The product records its new last OT at once: a later OT is not a re-issue.
        #expect(reported.state?.lastWorkOrderId == ot2 && reported.state?.lastWorkOrderCancelled == false)
    }

    // MARK: Reiterations

    @Test func aReiterationReprioritizesTheOpenOTAsReiteratedAndRaisesHighVulnerabilityOnce() throws {
        // A multimedia repair, level 4 at first.
        var s = try P.step(OT.self, nil, facts(P.multipack), at: P.t0)
        s = try P.step(OT.self, s, opened(product: P.multipack), at: P.t0)
        #expect(s.level == 4 && !s.reiterated)
        // Reiterated: repeated damage multimedia, level 2, and high vulnerability.
        let d = try P.decide(OT.self, s, facts(P.multipack, reiteration: 1), at: P.hours(2))
        #expect(
            prioritized(d) == [
                WorkOrderPrioritized(workOrderId: id, level: 2, deadline: P.hours(24), reason: "Daño reiterado multimedia", reiterated: true)
            ])
        let hv = d.emitted(DamageHighVulnerability.self)
        #expect(
            hv == [
                DamageHighVulnerability(
                    damageId: "DN-2026-000001", workOrderId: id, product: P.multipack, customer: P.residential, level: 2, reiteration: 1,
                    assignedTo: ["operations-center administrator", "head of the operations center"], notify: ["head of provisioning and assurance"])
            ])
        #expect(P.types(d) == [WorkOrderPrioritized.type, DamageHighVulnerability.type])
        #expect(d.timers == [.clear(OT.ageTimer)], "repeated multimedia does not change at 72 h")
        #expect(d.followUps.isEmpty, "the product is not written again: the OT itself tells the caller")
        s = try #require(d.state)
        #expect(s.reiterated && s.level == 2 && s.highVulnerabilityAt == P.hours(2))
        // Reported again: no new prioritization, no second high vulnerability.
        let again = try P.decide(OT.self, s, facts(P.multipack, reiteration: 2), at: P.hours(3))
        #expect(again.events.isEmpty && again.followUps.isEmpty)
        #expect(again.state?.damage?.reiteration == 2)
        // The same facts twice: nothing.
        #expect(try P.decide(OT.self, s, facts(P.multipack, reiteration: 1), at: P.hours(3)).state == nil)
    }

    @Test func aReiteratedClaimAtLevelThreeIsNotHighVulnerability() throws {
        var s = try P.step(OT.self, nil, facts(P.internet), at: P.t0)
        s = try P.step(OT.self, s, opened(product: P.internet), at: P.t0)
        let d = try P.decide(OT.self, s, facts(P.internet, reiteration: 1), at: P.hours(1))
        #expect(prioritized(d).map(\.level) == [3] && prioritized(d).map(\.reiterated) == [true])
        #expect(d.emitted(DamageHighVulnerability.self).isEmpty)
        #expect(d.state?.highVulnerabilityAt == nil)
    }

    @Test func aReiteratedTopClaimKeepsItsLevelButGoesFirstAndIsHighVulnerability() throws {
        var s = try P.step(OT.self, nil, facts(P.line), at: P.t0)
        s = try P.step(OT.self, s, opened(customer: P.topA, product: P.line), at: P.t0)
        #expect(s.level == 1 && !s.reiterated)
        let d = try P.decide(OT.self, s, facts(P.line, reiteration: 1), at: P.hours(1))
        #expect(prioritized(d) == [WorkOrderPrioritized(workOrderId: id, level: 1, deadline: P.hours(12), reason: "Instalación / reclamo TOP A - TOP B", reiterated: true)])
        #expect(d.emitted(DamageHighVulnerability.self).map(\.level) == [1])
    }

    @Test func aReiteratedDamageOpeningItsOTIsHighVulnerabilityAtOnce() throws {
        let pending = try P.step(OT.self, nil, facts(P.multipack, reiteration: 1), at: P.t0)
        let o = try P.decide(OT.self, pending, opened(product: P.multipack), at: P.t0)
        #expect(P.types(o) == [WorkOrderPrioritized.type, DamageHighVulnerability.type])
        #expect(o.emitted(DamageHighVulnerability.self).map(\.level) == [2])
    }

    @Test func anImmediateOTIsLevelOne() throws {
        let pending = try P.step(OT.self, nil, facts(P.line, immediate: true), at: P.t0)
        let o = try P.decide(OT.self, pending, opened(product: P.line), at: P.t0)
        #expect(prioritized(o).map(\.level) == [1] && prioritized(o).map(\.reason) == ["OT inmediata (control de calidad / escalamiento)"])
    }

    // MARK: Ageing

    @Test func theAgeTimerAt72HoursRelevelsAMultimediaOTWithItsDeadlineFromTheOpening() throws {
        var context = DecisionContext(now: P.hours(1), messageTime: P.t0)
        let s = try #require(try OT.decide(nil, opened(product: P.multipack), &context).state)
        let d = try P.decide(OT.self, s, .age, at: P.hours(72))
        #expect(
            prioritized(d) == [WorkOrderPrioritized(workOrderId: id, level: 3, deadline: P.hours(48), reason: "Multimedia > 72 horas", reiterated: nil)])
        #expect(d.timers == [.clear(OT.ageTimer)], "no further change")
        #expect(d.state?.level == 3 && d.state?.row == .multimediaOver72Hours && d.state?.openedAt == P.t0)
        #expect(d.history.allSatisfy { $0.to == nil })
        // A timer that fires again changes nothing.
        let relevelled = try #require(d.state)
        let again = try P.decide(OT.self, relevelled, .age, at: P.hours(73))
        #expect(again.events.isEmpty)
    }

    @Test func theAgeTimerAt150HoursRelevelsAnInternetInstallation() throws {
        let s = try P.step(OT.self, nil, opened(kind: .installation, product: P.internet), at: P.t0)
        // An early firing (the 72 h mark is not this OT's) re-arms for 150 h.
        let early = try P.decide(OT.self, s, .age, at: P.hours(72))
        #expect(early.events.isEmpty && early.timers == [.set(OT.ageTimer, at: P.hours(150))])
        let d = try P.decide(OT.self, s, .age, at: P.hours(150))
        #expect(prioritized(d).map(\.reason) == ["Instalaciones internet > 150 horas"] && prioritized(d).map(\.level) == [4])
        #expect(prioritized(d).map(\.deadline) == [P.hours(48)])
    }

    // MARK: Ended

    @Test func anEndedOTClearsItsAgeTimerAndIgnoresLaterTimersAndFacts() throws {
        for how in ["closed", "cancelled", "attended", "rejected"] {
            let s = try P.step(OT.self, nil, opened(product: P.multipack), at: P.t0)
            let d = try P.decide(OT.self, s, .ended(workOrderId: id, how: how), at: P.hours(10))
            #expect(d.timers == [.clear(OT.ageTimer)], "\(how)")
            let ended = try #require(d.state)
            #expect(ended.status == "ended" && ended.ended == how && ended.endedAt == P.hours(10))
            #expect(d.history.map(\.from) == ["open"] && d.history.map(\.to) == ["ended"] && d.history.first?.action == how)
            #expect(try P.decide(OT.self, ended, .age, at: P.hours(72)).state == nil, "\(how): the age timer is ignored")
            #expect(try P.decide(OT.self, ended, .ended(workOrderId: id, how: "closed"), at: P.hours(11)).state == nil)
            // A reiteration after it ended is kept but re-levels nothing.
            let late = try P.decide(OT.self, ended, facts(P.multipack, reiteration: 1), at: P.hours(11))
            #expect(late.events.isEmpty && late.timers.isEmpty && late.state?.level == 4)
        }
        #expect(try P.decide(OT.self, nil, .ended(workOrderId: id, how: "closed")).state == nil, "an OT priority never saw")
        #expect(try P.decide(OT.self, nil, .age).state == nil)
    }

    @Test func aPendingOTThatEndsIsEnded() throws {
        let pending = try P.step(OT.self, nil, facts(), at: P.t0)
        let d = try P.decide(OT.self, pending, .ended(workOrderId: id, how: "cancelled"), at: P.hours(1))
        #expect(d.state?.status == "ended" && d.history.map(\.from) == ["pending"])
    }
}
