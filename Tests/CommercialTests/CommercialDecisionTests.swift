import Commercial
import Contracts
import Foundation
@testable import Runtime
import Testing

/// What commercial's decisions carry, rule by rule: numbered OTs, derived ids, scope changes and
/// the pole move from its request to its OT.
@Suite("commercial decisions")
struct CommercialDecisionTests {
    typealias F = CommercialFixtures
    typealias OT = CommercialWorkOrder

    // MARK: Opening

    @Test func anOpenedOTIsNumberedPerCountryAndYearFromItsSequence() throws {
        let d = try F.decide(OT.self, nil, .open(F.open), numbers: [OT.numberSequence: 7])
        let e = try #require(d.emitted(WorkOrderOpened.self).first)
        #expect(e.number == "OT-BO-2026-000007" && e.workOrderId == F.id)
        #expect(e.documents.map(\.kind) == [.offer, .workOrder], "the OT is filed in its folder")
        #expect(d.state?.folder == "customers/C-1042/W-1/" && d.state?.openedByMessage == "m-1")
    }

    @Test func anOpeningWithoutANumberDrawnIsAnInternalError() {
        let error = #expect(throws: Rejection.self) { try F.decide(OT.self, nil, .open(F.open)) }
        #expect(error?.code == .internalError)
    }

    @Test func anInvalidOpeningIsAValidationErrorBeforeAnythingElse() throws {
        var open = F.open
        open.description = " "
        let existing = try F.step(OT.self, nil, .open(F.open), numbers: [OT.numberSequence: 7])
        let error = #expect(throws: Rejection.self) { try F.decide(OT.self, existing, .open(open), numbers: [OT.numberSequence: 8]) }
        #expect(error?.code == .validation)
    }

    @Test func aSecondOpeningOfTheSameOTAlreadyExists() throws {
        let existing = try F.step(OT.self, nil, .open(F.open), numbers: [OT.numberSequence: 7])
        let error = #expect(throws: Rejection.self) {
            try F.decide(OT.self, existing, .open(F.open), messageId: "m-2", numbers: [OT.numberSequence: 8])
        }
        #expect(error?.code == .alreadyExists)
    }

    @Test func anOTIdIsDerivedFromTheCommandWhenItNamesNone() {
        var anonymous = F.open
        anonymous.workOrderId = nil
        let id = OT.id(for: anonymous, messageId: "m-1")
        #expect(id == OT.id(for: anonymous, messageId: "m-1"), "a redelivery names the same OT")
        #expect(id != OT.id(for: anonymous, messageId: "m-2"))
        #expect(id == DerivedID.uuid("workorder", "m-1"))
        #expect(OT.id(for: F.open, messageId: "m-1") == F.id, "a named OT keeps its id")
    }

    @Test func anOpeningNamingNoOTOpensTheDerivedOne() throws {
        var anonymous = F.open
        anonymous.workOrderId = nil
        let d = try F.decide(OT.self, nil, .open(anonymous), messageId: "m-9", numbers: [OT.numberSequence: 7])
        #expect(d.state?.id == OT.id(for: anonymous, messageId: "m-9"))
    }

    // MARK: Scope and final states

    @Test func aScopeChangeIsRecordedWithItsForm() throws {
        let opened = try F.step(OT.self, nil, .open(F.open), numbers: [OT.numberSequence: 7])
        let form = Document(kind: .other, uri: "s3://d/sgc-dc-03.pdf")
        let d = try F.decide(OT.self, opened, .changeScope(ChangeScope(workOrderId: F.id, changes: ["addedSites": 2], document: form)), messageId: "m-3")
        #expect(d.emitted(WorkOrderScopeChanged.self) == [WorkOrderScopeChanged(workOrderId: F.id, changes: ["addedSites": 2], document: form)])
        #expect(d.state?.scopeChanges.map(\.byMessage) == ["m-3"])
        #expect(d.state?.documents.last?.document == form)
    }

    @Test func aScopeChangeWithoutTheSignedFormIsAValidationError() throws {
        let opened = try F.step(OT.self, nil, .open(F.open), numbers: [OT.numberSequence: 7])
        let error = #expect(throws: Rejection.self) {
            try F.decide(OT.self, opened, .changeScope(ChangeScope(workOrderId: F.id, changes: [:], document: Document(kind: .other, uri: " "))))
        }
        #expect(Set(error?.errors.map(\.field) ?? []) == ["data.changes", "data.document.uri"])
    }

    @Test func theFirstFinalStateReportedStays() throws {
        let opened = try F.step(OT.self, nil, .open(F.open), numbers: [OT.numberSequence: 7])
        let closed = try F.step(OT.self, opened, .finished(.closed))
        #expect(closed.state == .closed)
        #expect(try F.decide(OT.self, closed, .finished(.cancelled)).state == nil)
    }

    // MARK: Pole move

    @Test func aPoleMoveRequestIsKeyedByItsCommand() {
        #expect(PoleMoveRequest.id(messageId: "m-1") == "PMR-m-1")
        #expect(PoleMoveRequest.id(messageId: "m-1") != PoleMoveRequest.id(messageId: "m-2"))
    }

    @Test func aPoleMoveRequestAsksBillingForTheCxCInTheRequestersName() throws {
        let d = try F.decide(PoleMoveRequest.self, nil, .request(F.poleMove), messageId: "m-5")
        #expect(d.state?.id == "PMR-m-5")
        let charge = try #require(d.emitted(ChargeRequested.self).first)
        #expect(charge.requestId == "PMR-m-5" && charge.amount == .bolivianos(1_000) && charge.payer == F.requester)
    }

    @Test func aPoleMoveOfAnExistingCustomerIsSentToTheGenericProcedure() throws {
        let existing = RequestPoleMove(requester: F.requester, address: "Av. Ayacucho 1", isExistingCustomer: true)
        let error = #expect(throws: Rejection.self) { try F.decide(PoleMoveRequest.self, nil, .request(existing)) }
        #expect(error?.code == .useGenericProcedure)
    }

    // MARK: Known customers (issue 7, rule 8)

    /// Step 1: `isExistingCustomer: false` is checked against the customers of the OTs opened so
    /// far; a requester the platform knows is sent to the generic procedure all the same.
    @Test func aPoleMoveOfAKnownCustomerIsRefusedWhateverItsFlagSays() throws {
        let opening = try F.decide(OT.self, nil, .open(F.open), numbers: [OT.numberSequence: 1])
        #expect(opening.aliases == [KnownCustomers.alias(country: .bo, taxId: Customer.example.taxId)])
        #expect(CommercialService.routes.aggregateKinds(for: F.poleMove) == [OT.kind], "screened by the OT that knows the customer")
        let known = try #require(opening.state)

        let sameCI = Payer(name: "GAMC", idNumber: "1023456025")
        let request = RequestPoleMove(requester: sameCI, address: "Av. Ayacucho 1", isExistingCustomer: false)
        let error = #expect(throws: Rejection.self) { try F.decide(OT.self, known, .screenPoleMove(requestId: "PMR-m-1", request)) }
        #expect(error?.code == .useGenericProcedure)
        #expect(error?.errors.map(\.field) == ["data.isExistingCustomer"])
        #expect(error?.message.contains(Customer.example.id) == true && error?.message.contains(known.number) == true)
    }

    @Test func aPoleMoveOfSomeoneUnknownGoesOnToItsRequest() throws {
        let d = try F.decide(OT.self, nil, .screenPoleMove(requestId: "PMR-m-1", F.poleMove))
        #expect(d.state == nil && d.events.isEmpty)
        let followUp = try #require(d.followUps.first)
        #expect(followUp.aggregate.kind == PoleMoveRequest.kind && followUp.key == .id("PMR-m-1"))
        var context = DecisionContext(now: F.now, messageId: "m-1")
        #expect(try followUp.run(nil, &context).events.compactMap { $0 as? ChargeRequested }.count == 1)
        // The flag still counts on its own, and a blank CI is a validation error.
        let flagged = RequestPoleMove(requester: F.requester, address: "Av. Ayacucho 1", isExistingCustomer: true)
        let generic = #expect(throws: Rejection.self) { try F.decide(OT.self, nil, .screenPoleMove(requestId: "PMR-m-1", flagged)) }
        #expect(generic?.code == .useGenericProcedure)
        let blank = RequestPoleMove(requester: Payer(name: "x", idNumber: " "), address: "Av. Ayacucho 1", isExistingCustomer: false)
        let invalid = #expect(throws: Rejection.self) { try F.decide(OT.self, nil, .screenPoleMove(requestId: "PMR-m-1", blank)) }
        #expect(invalid?.code == .validation)
    }

    @Test func taxIdsAreComparedByTheirLettersAndDigitsPerCountry() {
        #expect(KnownCustomers.alias(country: .bo, taxId: "6543210 cb") == "customer:BO:6543210CB")
        #expect(KnownCustomers.alias(country: .bo, taxId: "65.432-10CB") == KnownCustomers.alias(country: .bo, taxId: "6543210CB"))
        #expect(KnownCustomers.alias(country: .cl, taxId: "6543210CB") != KnownCustomers.alias(country: .bo, taxId: "6543210CB"))
        #expect(KnownCustomers.alias(requester: Payer(name: "x", idNumber: "6543210 CB")) == "customer:BO:6543210CB")
    }

    @Test func thePoleMoveOTsGenericCustomerMakesNobodyKnown() throws {
        let command = PoleMoveRules.workOrder(requestId: "PMR-m-1", requester: F.requester, address: "Av. Ayacucho 1")
        let d = try F.decide(OT.self, nil, .open(command), numbers: [OT.numberSequence: 1])
        #expect(d.aliases.isEmpty && d.state != nil)
    }

    @Test func aChargeCreatedMakesThePaymentFindTheRequest() throws {
        let awaiting = try F.step(PoleMoveRequest.self, nil, .request(F.poleMove))
        let d = try F.decide(PoleMoveRequest.self, awaiting, .chargeCreated(PoleMoveRequestMachineTests.created))
        #expect(d.aliases == ["CXC-2026-000001"] && d.state?.chargeId == "CXC-2026-000001")
    }

    @Test func aPoleMovePaidOpensItsOTAsAFollowUp() throws {
        var request = try F.step(PoleMoveRequest.self, nil, .request(F.poleMove))
        request = try F.step(PoleMoveRequest.self, request, .chargeCreated(PoleMoveRequestMachineTests.created))
        #expect(CommercialService.routes.routes[ChargePaid.type]?.numbers == [OT.numberSequence], "the payment draws the OT's number")
        var context = DecisionContext(now: F.now, messageId: "m-paid", numbers: [OT.numberSequence: [31]])
        let d = try PoleMoveRequest.decide(request, .chargePaid(PoleMoveRequestMachineTests.paid), &context)
        let paid = try #require(d.state)
        #expect(paid.state == .paid && paid.paidAt == F.now && paid.workOrderId == "PM-PMR-m-1")
        #expect(d.events.isEmpty, "the OT's opening is announced by the OT itself")

        let followUp = try #require(d.followUps.first)
        #expect(d.followUps.map(\.aggregate.kind) == [OT.kind, PoleMoveMonth.kind], "the OT, then the month's follow-up")
        #expect(followUp.aggregate.kind == OT.kind && followUp.key == .id("PM-PMR-m-1") && followUp.trigger == nil)
        let opening = try followUp.run(nil, &context)
        let ot = try #require(opening.state as? OT.State)
        #expect(ot.kind == .poleMove && ot.customer.id == PoleMoveRules.genericCustomerId && ot.number == "OT-BO-2026-000031")
        #expect(opening.events.compactMap { $0 as? WorkOrderOpened }.first?.workOrderId == "PM-PMR-m-1")
    }

    @Test func aPoleMoveIsPaidOnce() throws {
        var request = try F.step(PoleMoveRequest.self, nil, .request(F.poleMove))
        request = try F.step(PoleMoveRequest.self, request, .chargeCreated(PoleMoveRequestMachineTests.created))
        request = try F.step(PoleMoveRequest.self, request, .chargePaid(PoleMoveRequestMachineTests.paid))
        let d = try F.decide(PoleMoveRequest.self, request, .chargePaid(PoleMoveRequestMachineTests.paid), messageId: "m-again")
        #expect(d.state == nil && d.followUps.isEmpty)
    }
}
