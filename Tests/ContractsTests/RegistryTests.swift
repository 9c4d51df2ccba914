import Contracts
import Foundation
import Testing

@Suite("Message registry")
struct RegistryTests {
    /// The command types of CONTRACT.md, copied by hand.
    static let contractCommands: Set<String> = [
        "workorder.open", "workorder.attach-document", "workorder.approve", "workorder.reject", "workorder.assign",
        "workorder.report-outcome", "workorder.cancel", "workorder.close", "workorder.change-scope",
        "polemove.request", "billing.record-payment", "billing.prefactura-review", "postsale.request",
        "damage.report",
        // Added after CONTRACT.md v1 (new types, listed in the AsyncAPI document):
        "survey.record-answer", "workorder.deliver-report", "polemove.record-corrective-action",
        "polemove.record-reviewer-absence", "billing.price-prefactura", "billing.correct-prefactura",
        // CONTRACT.md "Post-sale, contracts and recurring billing":
        "contract.register", "postsale.complete-requirements", "postsale.abandon", "postsale.record-feasibility",
        "postsale.record-retention", "postsale.record-penalty-decision", "postsale.record-equipment",
        "postsale.record-diagnosis", "postsale.record-quality-check", "billing.run-cycle", "billing.record-proforma-payment",
        // CONTRACT.md "Repeated damage and priority" and "Records":
        "damage.record-quality-check", "damage.record-escalation-result", "records.register", "records.resubmit",
        "records.request-retrieval", "records.deliver",
        // Added for post-sale flows F and K (new types):
        "postsale.record-client-decision", "postsale.record-claim-resolution",
    ]

    /// The event types of CONTRACT.md, copied by hand.
    static let contractEvents: Set<String> = [
        "workorder.opened", "workorder.approval-pending", "workorder.approved", "workorder.rejected",
        "workorder.dispatched", "workorder.assigned", "workorder.attended", "workorder.cancelled",
        "workorder.closed", "workorder.sla-breached", "workorder.prioritized", "workorder.escalated",
        "workorder.scope-changed", "billing.charge-requested", "billing.prefactura-approved",
        "billing.prefactura-returned", "survey.requested", "billing.charge-created", "billing.charge-paid",
        "billing.prefactura-issued", "billing.invoice-issued", "billing.proration-computed",
        "postsale.request-received", "postsale.request-completed", "postsale.request-rejected",
        "postsale.request-requirements-missing", "damage.registered", "damage.reiterated", "command.rejected",
        // Added after CONTRACT.md v1:
        "survey.answered", "workorder.report-delivered", "workorder.travel-budget-requested",
        "polemove.corrective-action-recorded", "polemove.monthly-report",
        // CONTRACT.md "Post-sale, contracts and recurring billing":
        "contract.registered", "postsale.quality-check-requested", "postsale.service-suspended",
        "postsale.service-reconnected", "billing.recurring-charge-added", "billing.proforma-issued", "billing.proforma-paid",
        "billing.cycle-completed",
        // CONTRACT.md "Repeated damage and priority" and "Records":
        "damage.quality-check-due", "damage.solved", "damage.high-vulnerability", "records.registered", "records.returned", "records.archived",
        "records.transferred", "records.retrieval-requested", "records.delivered", "records.retrieval-failed",
        // Added for billing's recurring invoices (new type):
        "contract.product-changed",
    ]

    @Test func everyTypeOfTheContractIsRegisteredWithItsKind() {
        for type in Self.contractCommands {
            #expect(MessageRegistry.descriptor(for: type)?.kind == .command, "\(type)")
        }
        for type in Self.contractEvents {
            #expect(MessageRegistry.descriptor(for: type)?.kind == .event, "\(type)")
        }
    }

    @Test func theRegistryHoldsNoTypeOutsideTheContract() {
        let registered = Set(MessageRegistry.all.map { $0.type })
        #expect(registered == Self.contractCommands.union(Self.contractEvents))
        #expect(MessageRegistry.all.count == registered.count, "a type is registered twice")
    }

    @Test func commandsGoToOtCommandsAndEventsToOtEvents() {
        for descriptor in MessageRegistry.allDescriptors {
            #expect(descriptor.exchange == (descriptor.kind == .command ? "ot.commands" : "ot.events"))
            #expect(descriptor.messageType.type == descriptor.type)
            #expect(descriptor.messageType.exchange == descriptor.exchange)
            #expect(descriptor.dataVersion == 1)
        }
    }

    @Test func everyWorkOrderMessageCorrelatesOnItsWorkOrder() {
        #expect(OpenWorkOrder.example.correlationKey == OpenWorkOrder.example.workOrderId)
        #expect(WorkOrderClosed.example.correlationKey == WorkOrderClosed.example.workOrderId)
        #expect(RequestPostSale.example.correlationKey == "PV-2026-002918")
        #expect(DamageRegistered.example.correlationKey == "DN-2026-018844")
        #expect(RequestPoleMove.example.correlationKey == nil)
        #expect(CommandRejected.example.correlationKey == nil)
    }
}

@Suite("Work-order states")
struct WorkOrderStateTests {
    @Test func onlyRejectedCancelledAndClosedAreFinal() {
        let final = WorkOrderState.allCases.filter(\.isFinal)
        #expect(final == [.rejected, .cancelled, .closed])
    }

    @Test func statesAreWrittenWithTheirContractNames() {
        #expect(WorkOrderState.allCases.map(\.rawValue) == [
            "opened", "approvalPending", "approved", "rejected", "dispatched", "assigned", "attended", "cancelled",
            "closed",
        ])
    }
}

@Suite("Common shapes")
struct ShapeTests {
    @Test func serviceLineIsAnOpenSet() throws {
        #expect(ServiceLine.csv.rawValue == "CSV")
        #expect(ServiceLine.spot.rawValue == "SPOT")
        #expect(ServiceLine.gep.rawValue == "GEP")
        let decoded = try JSONDecoder().decode([ServiceLine].self, from: Data(#"["GEP","TELECOM"]"#.utf8))
        #expect(decoded == [.gep, "TELECOM"])
        #expect(String(decoding: try JSONEncoder().encode([ServiceLine.spot]), as: UTF8.self) == #"["SPOT"]"#)
    }

    @Test func moneyIsIntegerMinorUnits() throws {
        let text = String(decoding: try Wire.encoder.encode(Money.bolivianos(1000)), as: UTF8.self)
        #expect(text == #"{"currency":"BOB","minor":100000}"#)
    }

    @Test func closedSetsUseTheContractSpelling() {
        #expect(Currency.allCases.map(\.rawValue) == ["BOB", "CLP", "COP", "USD"])
        #expect(Country.allCases.map(\.rawValue) == ["BO", "CL", "CO"])
        #expect(Sector.allCases.map(\.rawValue) == ["public", "private"])
        #expect(Segment.allCases.map(\.rawValue) == ["topA", "topB", "pyme", "influencer", "enterprise", "residential"])
        #expect(WorkOrderKind.allCases.map(\.rawValue) == [
            "project", "poleMove", "repair", "installation", "transfer", "withdrawal", "visit",
        ])
        #expect(Outcome.allCases.map(\.rawValue) == ["resolved", "unresolved", "unfounded"])
        #expect(PrefacturaDecision.allCases.map(\.rawValue) == ["approve", "return"])
        #expect(DamageChannel.allCases.map(\.rawValue) == ["callCenter", "helpDesk", "retention"])
        #expect(InvoiceIssuer.allCases.map(\.rawValue) == ["treasuryCL", "accountManagerCO", "billingBO"])
        #expect(SLATarget.allCases.map(\.rawValue) == ["contact", "due", "priority"])
        #expect(ProductType.allCases.map(\.rawValue) == ["line", "hspa", "internet", "tv", "duoPack", "multipack"])
        #expect(PostSaleFlow.allCases.count == 13)
        #expect(DocumentKind.allCases.count == 10)
    }

    @Test func jsonValuesRoundTripAndRenderDeterministically() throws {
        let value: JSONValue = [
            "b": [1, 2.5, true, nil, "x/y"], "a": ["nested": "\"quoted\"\n"], "c": -3,
        ]
        let decoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        #expect(decoded == value)
        #expect(value.rendered() == #"{"a":{"nested":"\"quoted\"\n"},"b":[1,2.5,true,null,"x/y"],"c":-3}"#)
        #expect(try JSONDecoder().decode(JSONValue.self, from: value.data) == value)
        #expect(JSONValue.array([]).rendered(pretty: true) == "[]")
        #expect(JSONValue.object(["k": [1]]).rendered(pretty: true) == "{\n  \"k\": [\n    1\n  ]\n}")
    }
}
