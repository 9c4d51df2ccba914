import Foundation

// Facts about work orders (OTs), published on `ot.events`.

/// `workorder.opened`: an OT exists (REGISTRADO).
public struct WorkOrderOpened: Event {
    public static let type = "workorder.opened"

    /// The work order.
    public var workOrderId: String
    /// Human-facing OT number, e.g. `OT-2026-000142`.
    public var number: String
    /// What it is for.
    public var kind: WorkOrderKind
    /// Service line that executes it.
    public var serviceLine: ServiceLine?
    /// The customer.
    public var customer: Customer
    /// Documents of the customer folder.
    public var documents: [Document]
    /// Public-tender deadline.
    public var dueBy: Date?
    /// The customer's purchase order, when there is one (optional; added in dataversion 1).
    public var purchaseOrder: PurchaseOrder?

    /// Creates the event.
    public init(
        workOrderId: String,
        number: String,
        kind: WorkOrderKind,
        serviceLine: ServiceLine? = nil,
        customer: Customer,
        documents: [Document],
        dueBy: Date? = nil,
        purchaseOrder: PurchaseOrder? = nil
    ) {
        self.purchaseOrder = purchaseOrder
        self.workOrderId = workOrderId
        self.number = number
        self.kind = kind
        self.serviceLine = serviceLine
        self.customer = customer
        self.documents = documents
        self.dueBy = dueBy
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "number": .required(.identifier("human-facing OT number")),
            "kind": .required(.enumeration(WorkOrderKind.self)),
            "serviceLine": .optional(ServiceLine.schema),
            "customer": .required(Customer.schema),
            "documents": .required(.array(of: Document.schema)),
            "dueBy": .optional(.dateTime("public-tender deadline")),
            "purchaseOrder": .optional(PurchaseOrder.schema),
        ], description: "a work order was opened")

    public static let example = WorkOrderOpened(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", number: "OT-2026-000142", kind: .project,
        serviceLine: .csv, customer: .example, documents: OpenWorkOrder.example.documents,
        dueBy: ExampleTime.at("2026-12-15T23:59:59.000Z"), purchaseOrder: OpenWorkOrder.example.purchaseOrder)
}

/// `workorder.approval-pending`: the OT waits for supporting documents.
public struct WorkOrderApprovalPending: Event {
    public static let type = "workorder.approval-pending"

    /// The work order.
    public var workOrderId: String
    /// Kinds still missing (any one of purchase order / signed quote / contract, plus the offer).
    public var missingDocuments: [DocumentKind]

    /// Creates the event.
    public init(workOrderId: String, missingDocuments: [DocumentKind]) {
        self.workOrderId = workOrderId
        self.missingDocuments = missingDocuments
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "missingDocuments": .required(.array(of: .enumeration(DocumentKind.self), "document kinds still missing")),
        ], description: "a work order waits for documents")

    public static let example = WorkOrderApprovalPending(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", missingDocuments: [.purchaseOrder, .signedQuote, .contract])
}

/// `workorder.approved`: the OT's documentation supports it.
public struct WorkOrderApproved: Event {
    public static let type = "workorder.approved"

    /// The work order.
    public var workOrderId: String
    /// Who approved.
    public var approvedBy: String
    /// The customer.
    public var customer: Customer
    /// What it is for.
    public var kind: WorkOrderKind
    /// Service line to notify.
    public var serviceLine: ServiceLine?
    /// The public-tender deadline carried from the opening, if any (optional).
    public var dueBy: Date?
    /// The purchase-order amount carried from the opening, if any (optional).
    public var amount: Money?

    /// Creates the event.
    public init(
        workOrderId: String,
        approvedBy: String,
        customer: Customer,
        kind: WorkOrderKind,
        serviceLine: ServiceLine? = nil,
        dueBy: Date? = nil,
        amount: Money? = nil
    ) {
        self.dueBy = dueBy
        self.amount = amount
        self.workOrderId = workOrderId
        self.approvedBy = approvedBy
        self.customer = customer
        self.kind = kind
        self.serviceLine = serviceLine
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "approvedBy": .required(.identifier("who approved")),
            "customer": .required(Customer.schema),
            "kind": .required(.enumeration(WorkOrderKind.self)),
            "serviceLine": .optional(ServiceLine.schema),
            "dueBy": .optional(.dateTime("public-tender deadline")),
            "amount": .optional(Money.schema),
        ], description: "a work order was approved")

    public static let example = WorkOrderApproved(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", approvedBy: "lucia.mendoza",
        customer: .example, kind: .project, serviceLine: .csv, dueBy: ExampleTime.at("2026-12-15T23:59:59.000Z"),
        amount: Money(minor: 4_850_000, currency: .bob))
}

/// `workorder.rejected`: the OT was rejected (final).
public struct WorkOrderRejected: Event {
    public static let type = "workorder.rejected"

    /// The work order.
    public var workOrderId: String
    /// Why.
    public var reason: String

    /// Creates the event.
    public init(workOrderId: String, reason: String) {
        self.workOrderId = workOrderId
        self.reason = reason
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "reason": .required(.string()),
        ], description: "a work order was rejected")

    public static let example = WorkOrderRejected(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", reason: "La cotización no está firmada por el cliente")
}

/// `workorder.dispatched`: the OT goes to the operations center with its priority and deadlines.
public struct WorkOrderDispatched: Event {
    public static let type = "workorder.dispatched"

    /// The work order.
    public var workOrderId: String
    /// Priority level 1 (highest) to 4 of the priority matrix.
    public var priority: Int
    /// Deadline to contact the customer (24 h after approval).
    public var contactBy: Date
    /// Public-tender deadline.
    public var dueBy: Date?
    /// Public-sector OTs are time-critical.
    public var publicSector: Bool

    /// Creates the event.
    public init(workOrderId: String, priority: Int, contactBy: Date, dueBy: Date? = nil, publicSector: Bool) {
        self.workOrderId = workOrderId
        self.priority = priority
        self.contactBy = contactBy
        self.dueBy = dueBy
        self.publicSector = publicSector
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "priority": .required(.integer(min: 1, max: 4, "priority level, 1 = highest")),
            "contactBy": .required(.dateTime("deadline to contact the customer")),
            "dueBy": .optional(.dateTime("public-tender deadline")),
            "publicSector": .required(.boolean("public-sector OTs are time-critical")),
        ], description: "a work order was dispatched to the operations center")

    public static let example = WorkOrderDispatched(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", priority: 1,
        contactBy: ExampleTime.at("2026-11-23T14:03:11.250Z"), dueBy: ExampleTime.at("2026-12-15T23:59:59.000Z"),
        publicSector: true)
}

/// `workorder.assigned`: someone was assigned (ASIGNADO / orden de reparación).
public struct WorkOrderAssigned: Event {
    public static let type = "workorder.assigned"

    /// The work order.
    public var workOrderId: String
    /// Who does the work.
    public var assignee: Assignee
    /// When the visit is scheduled.
    public var scheduledFor: Date?

    /// Creates the event.
    public init(workOrderId: String, assignee: Assignee, scheduledFor: Date? = nil) {
        self.workOrderId = workOrderId
        self.assignee = assignee
        self.scheduledFor = scheduledFor
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "assignee": .required(Assignee.schema),
            "scheduledFor": .optional(.dateTime("when the visit is scheduled")),
        ], description: "a work order was assigned")

    public static let example = WorkOrderAssigned(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", assignee: .example,
        scheduledFor: ExampleTime.at("2026-11-23T09:30:00.000Z"))
}

/// `workorder.attended`: the work was done (ATENDIDO / ATENDIDO SIN SOLUCIÓN / infundado).
public struct WorkOrderAttended: Event {
    public static let type = "workorder.attended"

    /// The work order.
    public var workOrderId: String
    /// How it ended.
    public var outcome: Outcome

    /// Creates the event.
    public init(workOrderId: String, outcome: Outcome) {
        self.workOrderId = workOrderId
        self.outcome = outcome
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "outcome": .required(.enumeration(Outcome.self)),
        ], description: "a work order was attended")

    public static let example = WorkOrderAttended(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", outcome: .resolved)
}

/// `workorder.cancelled`: the OT was cancelled (ANULADO, final).
public struct WorkOrderCancelled: Event {
    public static let type = "workorder.cancelled"

    /// The work order.
    public var workOrderId: String
    /// Why.
    public var reason: String

    /// Creates the event.
    public init(workOrderId: String, reason: String) {
        self.workOrderId = workOrderId
        self.reason = reason
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "reason": .required(.string()),
        ], description: "a work order was cancelled")

    public static let example = WorkOrderCancelled(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", reason: "El cliente desistió de la licitación")
}

/// `workorder.closed`: the OT was closed (CERRADO, final); billing drafts the prefactura.
public struct WorkOrderClosed: Event {
    public static let type = "workorder.closed"

    /// The work order.
    public var workOrderId: String
    /// What it was for.
    public var kind: WorkOrderKind
    /// The customer.
    public var customer: Customer
    /// How it ended.
    public var outcome: Outcome
    /// When it was closed.
    public var closedAt: Date
    /// Amount to bill, when billable.
    public var amount: Money?

    /// Creates the event.
    public init(
        workOrderId: String,
        kind: WorkOrderKind,
        customer: Customer,
        outcome: Outcome,
        closedAt: Date,
        amount: Money? = nil
    ) {
        self.workOrderId = workOrderId
        self.kind = kind
        self.customer = customer
        self.outcome = outcome
        self.closedAt = closedAt
        self.amount = amount
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "kind": .required(.enumeration(WorkOrderKind.self)),
            "customer": .required(Customer.schema),
            "outcome": .required(.enumeration(Outcome.self)),
            "closedAt": .required(.dateTime("when it was closed")),
            "amount": .optional(Money.schema.described("amount to bill")),
        ], description: "a work order was closed")

    public static let example = WorkOrderClosed(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", kind: .project, customer: .example,
        outcome: .resolved, closedAt: ExampleTime.at("2026-12-10T18:45:00.000Z"),
        amount: Money(minor: 4_850_000, currency: .bob))
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
public struct WorkOrderSLABreached: Event {
    public static let type = "workorder.sla-breached"

    /// The work order.
    public var workOrderId: String
    /// The deadline that passed.
    public var deadline: Date
    /// Which deadline.
    public var what: SLATarget

    /// Creates the event.
    public init(workOrderId: String, deadline: Date, what: SLATarget) {
        self.workOrderId = workOrderId
        self.deadline = deadline
        self.what = what
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "deadline": .required(.dateTime("the deadline that passed")),
            "what": .required(.enumeration(SLATarget.self)),
        ], description: "a deadline of a work order passed")

    public static let example = WorkOrderSLABreached(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33",
        deadline: ExampleTime.at("2026-11-23T14:03:11.250Z"), what: .contact)
}

/// `workorder.prioritized`: the OT got a priority level (Anexo 2 of COM-GCM-P12).
public struct WorkOrderPrioritized: Event {
    public static let type = "workorder.prioritized"

    /// The work order.
    public var workOrderId: String
    /// Level 1 (muy alta, 12 h) to 4 (controlable, 48 h).
    public var level: Int
    /// When it must be attended.
    public var deadline: Date
    /// Why this level (the matrix row).
    public var reason: String

    /// Creates the event.
    public init(workOrderId: String, level: Int, deadline: Date, reason: String) {
        self.workOrderId = workOrderId
        self.level = level
        self.deadline = deadline
        self.reason = reason
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "level": .required(.integer(min: 1, max: 4, "1 = muy alta (12 h) … 4 = controlable (48 h)")),
            "deadline": .required(.dateTime("when it must be attended")),
            "reason": .required(.string("the matrix row that applies")),
        ], description: "a work order was prioritized")

    public static let example = WorkOrderPrioritized(
        workOrderId: "3e5a7c9b-1d2f-4a6b-8c0d-e1f2a3b4c5d6", level: 2,
        deadline: ExampleTime.at("2026-11-23T14:03:11.250Z"), reason: "Daño reiterado multimedia")
}

/// `workorder.escalated`: the OT moved up the escalation ladder (technician → supervisor →
/// network division → head of operations center).
public struct WorkOrderEscalated: Event {
    public static let type = "workorder.escalated"

    /// The work order.
    public var workOrderId: String
    /// Step of the ladder, from 1.
    public var step: Int
    /// Who it was escalated to.
    public var to: String

    /// Creates the event.
    public init(workOrderId: String, step: Int, to: String) {
        self.workOrderId = workOrderId
        self.step = step
        self.to = to
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "step": .required(.integer(min: 1, "step of the escalation ladder")),
            "to": .required(.string("who it was escalated to")),
        ], description: "a work order was escalated")

    public static let example = WorkOrderEscalated(
        workOrderId: "3e5a7c9b-1d2f-4a6b-8c0d-e1f2a3b4c5d6", step: 2, to: "supervisor")
}

/// `workorder.scope-changed`: the OT's scope changed (form SGC-DC-03).
public struct WorkOrderScopeChanged: Event {
    public static let type = "workorder.scope-changed"

    /// The work order.
    public var workOrderId: String
    /// What changed, free-form.
    public var changes: JSONObject
    /// The SGC-DC-03 form.
    public var document: Document

    /// Creates the event.
    public init(workOrderId: String, changes: JSONObject, document: Document) {
        self.workOrderId = workOrderId
        self.changes = changes
        self.document = document
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "workOrderId": .required(.workOrderId),
            "changes": .required(.freeformObject(description: "what changed, free-form")),
            "document": .required(Document.schema.described("the SGC-DC-03 form")),
        ], description: "the scope of a work order changed")

    public static let example = WorkOrderScopeChanged(
        workOrderId: ChangeScope.example.workOrderId, changes: ChangeScope.example.changes,
        document: ChangeScope.example.document)
}
