import Foundation

// Facts about work orders (OTs), published on `ot.events`.

/// `workorder.opened`: an OT exists (REGISTRADO).
@Contract("a work order was opened")
public struct WorkOrderOpened: Event {
    public static let type = "workorder.opened"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Human-facing OT number.
    ///
    /// For example `OT-2026-000142`.
    @Field(.identifier) public var number: String
    /// What it is for.
    @Field(.typeDescription) public var kind: WorkOrderKind
    /// Service line that executes it.
    @Field(.typeDescription) public var serviceLine: ServiceLine?
    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// Documents of the customer folder.
    @Field(.typeDescription) public var documents: [Document]
    /// Public-tender deadline.
    public var dueBy: Date?
    /// The customer's purchase order, when there is one (optional; added in dataversion 1).
    @Field(.typeDescription) public var purchaseOrder: PurchaseOrder?
    /// Work outside the city and its travel budget, as opened (optional).
    @Field(.typeDescription) public var travel: Travel?
    /// The product the OT is for (repairs, installations; optional, added).
    @Field(.identifier) public var productId: String?
    /// The product's type (optional, added): the priority matrix's rows depend on it.
    @Field(.typeDescription) public var productType: ProductType?
    /// The damage case a repair OT is for (optional, added).
    @Field(.identifier) public var damageId: String?

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderOpened(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", number: "OT-2026-000142", kind: .project,
        serviceLine: .csv, customer: .example, documents: OpenWorkOrder.example.documents,
        dueBy: ExampleTime.at("2026-12-15T23:59:59.000Z"), purchaseOrder: OpenWorkOrder.example.purchaseOrder,
        travel: OpenWorkOrder.example.travel, productId: OpenWorkOrder.example.productId, productType: OpenWorkOrder.example.productType,
        damageId: OpenWorkOrder.example.damageId)
}

/// `workorder.approval-pending`: the OT waits for supporting documents.
@Contract("a work order waits for documents")
public struct WorkOrderApprovalPending: Event {
    public static let type = "workorder.approval-pending"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Document kinds still missing.
    ///
    /// Any one of purchase order / signed quote / contract, plus the offer.
    public var missingDocuments: [DocumentKind]

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderApprovalPending(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", missingDocuments: [.purchaseOrder, .signedQuote, .contract])
}

/// `workorder.approved`: the OT's documentation supports it.
@Contract("a work order was approved")
public struct WorkOrderApproved: Event {
    public static let type = "workorder.approved"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Who approved.
    @Field(.identifier) public var approvedBy: String
    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// What it is for.
    @Field(.typeDescription) public var kind: WorkOrderKind
    /// Service line to notify.
    @Field(.typeDescription) public var serviceLine: ServiceLine?
    /// Public-tender deadline.
    ///
    /// Carried from the opening, if any (optional).
    public var dueBy: Date?
    /// The purchase-order amount carried from the opening, if any (optional).
    @Field(.typeDescription) public var amount: Money?
    /// Work outside the city and its travel budget, carried from the opening (optional).
    @Field(.typeDescription) public var travel: Travel?

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderApproved(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", approvedBy: "lucia.mendoza",
        customer: .example, kind: .project, serviceLine: .csv, dueBy: ExampleTime.at("2026-12-15T23:59:59.000Z"),
        amount: Money(minor: 4_850_000, currency: .bob), travel: OpenWorkOrder.example.travel)
}

/// `workorder.rejected`: the OT was rejected (final).
@Contract("a work order was rejected")
public struct WorkOrderRejected: Event {
    public static let type = "workorder.rejected"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Why.
    @Field(.typeDescription) public var reason: String

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderRejected(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", reason: "La cotización no está firmada por el cliente")
}

/// `workorder.dispatched`: the OT goes to the operations center with its priority and deadlines.
@Contract("a work order was dispatched to the operations center")
public struct WorkOrderDispatched: Event {
    public static let type = "workorder.dispatched"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Priority level, 1 = highest.
    ///
    /// Level 1 (highest) to 4 of the priority matrix.
    @Field(min: 1, max: 4) public var priority: Int
    /// Deadline to contact the customer.
    ///
    /// 24 h after approval.
    public var contactBy: Date
    /// Public-tender deadline.
    public var dueBy: Date?
    /// Public-sector OTs are time-critical.
    public var publicSector: Bool
    /// Whether the 24 h contact deadline is tracked.
    ///
    /// SGC-PC-07 §4.5 sets it for projects (CSV, SPOT, GEP) only: `false` for pole moves, repairs
    /// and post-sale OTs, where `contactBy` is only a target and no breach is reported. Absent on
    /// events from before it was added: tracked.
    public var contactSLA: Bool?

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderDispatched(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", priority: 1,
        contactBy: ExampleTime.at("2026-11-23T14:03:11.250Z"), dueBy: ExampleTime.at("2026-12-15T23:59:59.000Z"),
        publicSector: true, contactSLA: true)
}

/// `workorder.assigned`: someone was assigned (ASIGNADO / orden de reparación).
@Contract("a work order was assigned")
public struct WorkOrderAssigned: Event {
    public static let type = "workorder.assigned"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Who does the work.
    @Field(.typeDescription) public var assignee: Assignee
    /// When the visit is scheduled.
    public var scheduledFor: Date?

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderAssigned(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", assignee: .example,
        scheduledFor: ExampleTime.at("2026-11-23T09:30:00.000Z"))
}

/// `workorder.attended`: the work was done (ATENDIDO / ATENDIDO SIN SOLUCIÓN / infundado).
@Contract("a work order was attended")
public struct WorkOrderAttended: Event {
    public static let type = "workorder.attended"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// How it ended.
    @Field(.typeDescription) public var outcome: Outcome

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderAttended(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", outcome: .resolved)
}

/// `workorder.cancelled`: the OT was cancelled (ANULADO, final).
@Contract("a work order was cancelled")
public struct WorkOrderCancelled: Event {
    public static let type = "workorder.cancelled"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Why.
    @Field(.typeDescription) public var reason: String

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderCancelled(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", reason: "El cliente desistió de la licitación")
}

/// `workorder.closed`: the OT was closed (CERRADO, final); billing drafts the prefactura.
@Contract("a work order was closed")
public struct WorkOrderClosed: Event {
    public static let type = "workorder.closed"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// What it was for.
    @Field(.typeDescription) public var kind: WorkOrderKind
    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// How it ended.
    @Field(.typeDescription) public var outcome: Outcome
    /// When it was closed.
    public var closedAt: Date
    /// Amount to bill.
    ///
    /// Absent when the work is not billable.
    public var amount: Money?

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderClosed(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", kind: .project, customer: .example,
        outcome: .resolved, closedAt: ExampleTime.at("2026-12-10T18:45:00.000Z"),
        amount: Money(minor: 4_850_000, currency: .bob))
}

/// `workorder.report-delivered`: the report of the work was delivered to the customer (SGC-PC-07
/// §4.8); for a project, approval requests the satisfaction survey now, once. Added to the
/// contract after CONTRACT.md v1.
@Contract("the report of a work order was delivered to the customer")
public struct WorkOrderReportDelivered: Event {
    public static let type = "workorder.report-delivered"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// What the OT is for.
    ///
    /// The survey follows projects only.
    @Field(.typeDescription) public var kind: WorkOrderKind
    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// The report as delivered.
    @Field(.typeDescription) public var report: Document
    /// Who delivered it.
    @Field(.identifier) public var deliveredBy: String
    /// When it was delivered.
    public var deliveredAt: Date

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderReportDelivered(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", kind: .project, customer: .example,
        report: DeliverReport.example.report, deliveredBy: "diego.arce", deliveredAt: ExampleTime.at("2026-12-11T16:20:00.000Z"))
}

/// `workorder.travel-budget-requested`: the line head asks the Head of Administration for the
/// travel budget of a public-sector OT with work outside the city (SGC-PC-07 §4.5), when the OT is
/// dispatched. Added to the contract after CONTRACT.md v1.
@Contract("the travel budget of a work order was requested")
public struct TravelBudgetRequested: Event {
    public static let type = "workorder.travel-budget-requested"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Where the work is, outside the city.
    public var destination: String
    /// The budget requested.
    @Field(.typeDescription) public var budget: Money
    /// Who asks: the head of the OT's service line.
    ///
    /// For example `Head CSV`.
    @Field(.identifier) public var requestedBy: String
    /// Who is asked.
    ///
    /// Always `Head of Administration`.
    @Field(.identifier) public var requestedFrom: String

    public var correlationKey: String? { workOrderId }

    public static let example = TravelBudgetRequested(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", destination: "Sacaba", budget: .bolivianos(3_200),
        requestedBy: "Head CSV", requestedFrom: "Head of Administration")
}

/// Which deadline of an OT was missed.
public enum SLATarget: String, Codable, Sendable, CaseIterable {
    /// The 24 h customer-contact deadline.
    case contact
    /// The public-tender due date.
    case due
    /// The maximum time of the OT's priority level.
    case priority
}

/// `workorder.sla-breached`: a deadline of the OT passed.
@Contract("a deadline of a work order passed")
public struct WorkOrderSLABreached: Event {
    public static let type = "workorder.sla-breached"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// The deadline that passed.
    public var deadline: Date
    /// Which deadline.
    @Field(.typeDescription) public var what: SLATarget

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderSLABreached(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33",
        deadline: ExampleTime.at("2026-11-23T14:03:11.250Z"), what: .contact)
}

/// `workorder.prioritized`: the OT got a priority level (Anexo 2 of COM-GCM-P12).
@Contract("a work order was prioritized")
public struct WorkOrderPrioritized: Event {
    public static let type = "workorder.prioritized"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// 1 = muy alta (12 h) … 4 = controlable (48 h).
    @Field(min: 1, max: 4) public var level: Int
    /// When it must be attended.
    public var deadline: Date
    /// The matrix row that applies.
    ///
    /// Why this level.
    public var reason: String
    /// A reiterated claim: it goes first within its level (optional, added).
    public var reiterated: Bool?

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderPrioritized(
        workOrderId: "3e5a7c9b-1d2f-4a6b-8c0d-e1f2a3b4c5d6", level: 2,
        deadline: ExampleTime.at("2026-11-23T14:03:11.250Z"), reason: "Daño reiterado multimedia", reiterated: true)
}

/// `workorder.escalated`: the OT moved up the escalation ladder (technician → supervisor →
/// network division → head of operations center).
@Contract("a work order was escalated")
public struct WorkOrderEscalated: Event {
    public static let type = "workorder.escalated"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Step of the escalation ladder.
    ///
    /// From 1.
    @Field(min: 1) public var step: Int
    /// Who it was escalated to.
    public var to: String
    /// The damage case escalated (optional, added).
    @Field(.identifier) public var damageId: String?

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderEscalated(
        workOrderId: "3e5a7c9b-1d2f-4a6b-8c0d-e1f2a3b4c5d6", step: 2, to: "supervisor", damageId: "DN-2026-018844")
}

/// `workorder.scope-changed`: the OT's scope changed (form SGC-DC-03).
@Contract("the scope of a work order changed")
public struct WorkOrderScopeChanged: Event {
    public static let type = "workorder.scope-changed"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// What changed, free-form.
    public var changes: JSONObject
    /// The SGC-DC-03 form.
    public var document: Document
    /// The OT's new amount, when the change alters it.
    @Field(.typeDescription) public var amount: Money?

    public var correlationKey: String? { workOrderId }

    public static let example = WorkOrderScopeChanged(
        workOrderId: ChangeScope.example.workOrderId, changes: ChangeScope.example.changes,
        document: ChangeScope.example.document, amount: ChangeScope.example.amount)
}
