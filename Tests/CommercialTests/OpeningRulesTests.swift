import Commercial
import Contracts
import Foundation
import Runtime
import Testing

@Suite struct OpeningRulesTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func validate(_ c: OpenWorkOrder) throws(Rejection) -> OpeningRules.NewWorkOrder {
        try OpeningRules.validate(c, now: now) { "generated-id" }
    }

    func problems(_ c: OpenWorkOrder) -> [String] {
        do {
            _ = try validate(c)
            return []
        } catch {
            return error.errors.map(\.field)
        }
    }

    @Test func aCompleteProjectOpensWithItsFolderAndTheOTFiledInIt() throws {
        var c = OpenWorkOrder.example
        c.dueBy = now.addingTimeInterval(30 * 86_400)
        let wo = try validate(c)
        #expect(wo.id == c.workOrderId)
        #expect(wo.folder == "customers/\(c.customer.id)/\(c.workOrderId!)/")
        #expect(wo.documents.count == c.documents.count + 1)
        #expect(wo.documents.last?.kind == .workOrder)
        #expect(wo.documents.last?.uri.hasPrefix(wo.folder) == true)
    }

    @Test func aMissingWorkOrderIdIsGenerated() throws {
        var c = OpenWorkOrder.example
        c.workOrderId = nil
        c.dueBy = now.addingTimeInterval(30 * 86_400)
        #expect(try validate(c).id == "generated-id")
    }

    @Test func anOTAlreadyInTheFolderIsNotFiledTwice() throws {
        var c = OpenWorkOrder.example
        c.dueBy = now.addingTimeInterval(30 * 86_400)
        c.documents.append(Document(kind: .workOrder, uri: "s3://x/ot.pdf"))
        #expect(try validate(c).documents.filter { $0.kind == .workOrder }.count == 1)
    }

    @Test func aProjectWithoutServiceLineIsRejected() {
        var c = OpenWorkOrder.example
        c.dueBy = now.addingTimeInterval(30 * 86_400)
        c.serviceLine = nil
        #expect(problems(c) == ["data.serviceLine"])
    }

    @Test func everyProblemIsReportedAtOnce() {
        var c = OpenWorkOrder.example
        c.customer.name = " "
        c.customer.taxId = ""
        c.description = ""
        c.dueBy = now.addingTimeInterval(-60)
        c.purchaseOrder?.amount.minor = 0
        c.documents[0].uri = ""
        c.documents[0].sha256 = "abc"
        #expect(
            Set(problems(c)) == [
                "data.customer.name", "data.customer.taxId", "data.description", "data.dueBy",
                "data.purchaseOrder.amount.minor", "data.documents[0].uri", "data.documents[0].sha256",
            ])
    }

    @Test func aFutureTenderDeadlineIsKept() throws {
        var c = OpenWorkOrder.example
        c.dueBy = now.addingTimeInterval(86_400 * 10)
        #expect(try validate(c).dueBy == c.dueBy)
    }

    /// Issue 7, rule 4 (§4.5): a public tender always fixes its deadline, so a public-sector
    /// project without `dueBy` is incomplete; a private project, or a public OT of another kind,
    /// needs none.
    @Test func aPublicSectorProjectWithoutItsTenderDeadlineIsIncomplete() throws {
        var c = OpenWorkOrder.example
        c.dueBy = nil
        #expect(problems(c) == ["data.dueBy"])
        c.customer.sector = .private
        c.travel = nil
        #expect(problems(c).isEmpty)
        var repair = OpenWorkOrder.example
        repair.kind = .repair
        repair.dueBy = nil
        #expect(problems(repair).isEmpty)
    }

    /// §4.5: travel budgets are the public sector's; a travel names where and how much.
    @Test func aTravelBudgetIsForPublicOTsAndNamesWhereAndAPositiveAmount() throws {
        var c = OpenWorkOrder.example
        c.dueBy = now.addingTimeInterval(30 * 86_400)
        #expect(try validate(c).travel == Travel(destination: "Sacaba", budget: .bolivianos(3_200)))
        c.travel = Travel(destination: " ", budget: .bolivianos(0))
        #expect(Set(problems(c)) == ["data.travel.destination", "data.travel.budget.minor"])
        c.travel = Travel(destination: "Sacaba", budget: .bolivianos(3_200))
        c.customer.sector = .private
        #expect(problems(c) == ["data.travel"])
    }

    @Test func workOrderIdsWithSlashesOrSpacesAreRejected() {
        var c = OpenWorkOrder.example
        c.dueBy = now.addingTimeInterval(30 * 86_400)
        c.workOrderId = "a/b c"
        #expect(problems(c) == ["data.workOrderId"])
    }
}

@Suite struct PoleMoveAndScopeRulesTests {
    let requester = Payer(name: "María Quispe", idNumber: "5544332")

    @Test func anExistingCustomerIsSentToTheGenericProcedure() {
        #expect(throws: Rejection.self) {
            try PoleMoveRules.validate(RequestPoleMove(requester: requester, address: "Av. Ayacucho 1", isExistingCustomer: true))
        }
    }

    @Test func aPoleMoveCostsOneThousandBolivianosInTheRequestersName() throws {
        let request = RequestPoleMove(requester: requester, address: "Av. Ayacucho 1", isExistingCustomer: false)
        try PoleMoveRules.validate(request)
        let charge = PoleMoveRules.charge(requestId: "R1", for: request)
        #expect(charge.amount == Money(minor: 100_000, currency: .bob))
        #expect(charge.payer == requester)
        // The charge names the OT it pays for, the one opened once it is paid (billing's link).
        #expect(charge.workOrderId == "PM-R1")
        #expect(charge.workOrderId == PoleMoveRules.workOrder(requestId: "R1", requester: requester, address: "Av. Ayacucho 1").workOrderId)
    }

    @Test func thePoleMoveWorkOrderNeedsNoDocumentsAndCarriesTheActivityCodes() throws {
        let command = PoleMoveRules.workOrder(requestId: "R1", requester: requester, address: "Av. Ayacucho 1")
        let wo = try OpeningRules.validate(command, now: Date()) { "unused" }
        #expect(wo.kind == .poleMove && wo.id == "PM-R1")
        #expect(wo.description.contains("52137") && wo.description.contains("8074"))
        #expect(wo.customer.id == PoleMoveRules.genericCustomerId)
    }

    @Test func aRequestWithoutIdNumberOrAddressIsRejected() {
        do {
            try PoleMoveRules.validate(RequestPoleMove(requester: Payer(name: "X", idNumber: " "), address: "", isExistingCustomer: false))
            Issue.record("expected a rejection")
        } catch {
            #expect(Set(error.errors.map(\.field)) == ["data.requester.idNumber", "data.address"])
        }
    }

    /// Issue 7, rule 5: a change of the amount is positive and in the OT's currency.
    @Test func aScopeChangeOfTheAmountIsPositiveAndInTheOTsCurrency() {
        func problems(_ amount: Money) -> [String] {
            let change = ChangeScope(workOrderId: "W", changes: ["a": .number(1)], document: Document(kind: .other, uri: "s3://f"), amount: amount)
            do {
                try ScopeRules.validate(change, state: .assigned, currency: .bob)
                return []
            } catch { return error.errors.map(\.field) }
        }
        #expect(problems(.bolivianos(1_300)).isEmpty)
        #expect(problems(.bolivianos(0)) == ["data.amount.minor"])
        #expect(problems(Money(minor: 100, currency: .usd)) == ["data.amount.currency"])
    }

    @Test func scopeChangesAreRefusedOnFinalOrUnknownWorkOrders() {
        let change = ChangeScope(workOrderId: "W", changes: ["a": .number(1)], document: Document(kind: .other, uri: "s3://f"))
        for state in [WorkOrderState.closed, .cancelled, .rejected] {
            #expect(throws: Rejection.self) { try ScopeRules.validate(change, state: state) }
        }
        #expect(throws: Rejection.self) { try ScopeRules.validate(change, state: nil) }
        #expect(throws: Never.self) { try ScopeRules.validate(change, state: .assigned) }
    }
}
