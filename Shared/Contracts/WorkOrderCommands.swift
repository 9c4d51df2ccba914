import Foundation

// Commands about work orders (OTs), published on `ot.commands`.

/// `workorder.open`: open an OT for a won opportunity (SGC-PC-07 §4.2).
@Contract("open a work order")
public struct OpenWorkOrder: Command {
    public static let type = "workorder.open"

    /// Work-order id chosen by the sender; assigned when absent.
    ///
    /// The commercial service assigns one when the sender gives none.
    @Field(.identifier) public var workOrderId: String?
    /// What the OT is for.
    @Field(.typeDescription) public var kind: WorkOrderKind
    /// Service line that executes it (CSV, SPOT, GEP, …).
    @Field(.typeDescription) public var serviceLine: ServiceLine?
    /// The customer.
    @Field(.typeDescription) public var customer: Customer
    /// CRM opportunity marked won.
    @Field(.identifier) public var opportunityId: String?
    /// The purchase order that triggered it.
    @Field(.typeDescription) public var purchaseOrder: PurchaseOrder?
    /// Documents of the customer folder.
    ///
    /// The offer, the purchase order, …
    public var documents: [Document]
    /// Public-tender deadline.
    public var dueBy: Date?
    /// What is to be done.
    public var description: String
    /// Work outside the city and its travel budget (public-sector OTs only, §4.5; optional).
    @Field(.typeDescription) public var travel: Travel?
    /// The product the OT is for (repairs, installations; optional, added).
    @Field(.identifier) public var productId: String?
    /// The product's type (optional, added): the priority matrix's rows depend on it.
    @Field(.typeDescription) public var productType: ProductType?
    /// The damage case a repair OT is for (optional, added).
    @Field(.identifier) public var damageId: String?

    public var correlationKey: String? { workOrderId }

    public static let example = OpenWorkOrder(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33",
        kind: .project,
        serviceLine: .csv,
        customer: .example,
        opportunityId: "OPP-2026-0311",
        purchaseOrder: PurchaseOrder(number: "OC-GAMC-2026-118", amount: Money(minor: 4_850_000, currency: .bob)),
        documents: [
            Document(kind: .offer, uri: "s3://ot-docs/C-1042/oferta-2026-0311.pdf"),
            Document(
                kind: .purchaseOrder, uri: "s3://ot-docs/C-1042/oc-gamc-2026-118.pdf",
                sha256: "9f2c5d7a1e4b3c6d8f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e"),
        ],
        dueBy: ExampleTime.at("2026-12-15T23:59:59.000Z"),
        description: "Verificación de puesta a tierra en 12 unidades educativas del Cercado",
        travel: Travel(destination: "Sacaba", budget: .bolivianos(3_200)),
        productId: "INT-4410982",
        productType: .internet,
        damageId: "DN-2026-018844"
    )
}

/// `workorder.attach-document`: add a document to the OT's customer folder.
@Contract("attach a document to a work order")
public struct AttachDocument: Command {
    public static let type = "workorder.attach-document"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// The document to attach.
    @Field(.typeDescription) public var document: Document

    public var correlationKey: String? { workOrderId }

    public static let example = AttachDocument(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33",
        document: Document(
            kind: .signedQuote, uri: "s3://ot-docs/C-1042/cotizacion-firmada.pdf",
            sha256: "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"))
}

/// `workorder.approve`: the quality controller approves the OT (SGC-PC-07 §4.4).
@Contract("approve a work order")
public struct ApproveWorkOrder: Command {
    public static let type = "workorder.approve"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Who approves.
    @Field(.identifier) public var by: String
    /// Why, when given.
    @Field(.typeDescription) public var reason: String?

    public var correlationKey: String? { workOrderId }

    public static let example = ApproveWorkOrder(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", by: "lucia.mendoza",
        reason: "Orden de compra y oferta conformes")
}

/// `workorder.reject`: the quality controller rejects the OT.
@Contract("reject a work order")
public struct RejectWorkOrder: Command {
    public static let type = "workorder.reject"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Who rejects.
    @Field(.identifier) public var by: String
    /// Why, when given.
    @Field(.typeDescription) public var reason: String?

    public var correlationKey: String? { workOrderId }

    public static let example = RejectWorkOrder(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", by: "lucia.mendoza",
        reason: "La cotización no está firmada por el cliente")
}

/// `workorder.assign`: the line head assigns the inspector, consultant or technician.
@Contract("assign a work order")
public struct AssignWorkOrder: Command {
    public static let type = "workorder.assign"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Who does the work.
    @Field(.typeDescription) public var assignee: Assignee
    /// When the visit is scheduled.
    public var scheduledFor: Date?

    public var correlationKey: String? { workOrderId }

    public static let example = AssignWorkOrder(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", assignee: .example,
        scheduledFor: ExampleTime.at("2026-11-23T09:30:00.000Z"))
}

/// `workorder.report-outcome`: the field reports how the work ended.
@Contract("report the outcome of attended work")
public struct ReportOutcome: Command {
    public static let type = "workorder.report-outcome"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// How the work ended.
    @Field(.typeDescription) public var outcome: Outcome
    /// Field notes.
    public var notes: String?

    public var correlationKey: String? { workOrderId }

    public static let example = ReportOutcome(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", outcome: .resolved,
        notes: "Mediciones dentro de norma en las 12 unidades")
}

/// `workorder.cancel`: cancel a non-final OT (ANULADO).
@Contract("cancel a work order")
public struct CancelWorkOrder: Command {
    public static let type = "workorder.cancel"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Why it is cancelled.
    public var reason: String

    public var correlationKey: String? { workOrderId }

    public static let example = CancelWorkOrder(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", reason: "El cliente desistió de la licitación")
}

/// `workorder.close`: the line head closes attended work (CERRADO).
@Contract("close a work order")
public struct CloseWorkOrder: Command {
    public static let type = "workorder.close"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Who closes it.
    @Field(.identifier) public var by: String

    public var correlationKey: String? { workOrderId }

    public static let example = CloseWorkOrder(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", by: "diego.arce")
}

/// `workorder.deliver-report`: the line head records that the report of the work (the
/// measurement report of a project) was delivered to the customer (SGC-PC-07 §3.2, §4.8). For a
/// project this is what the satisfaction survey waits for. Added to the contract after CONTRACT.md v1.
@Contract("record that the report of a work order was delivered to the customer")
public struct DeliverReport: Command {
    public static let type = "workorder.deliver-report"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// The report as delivered.
    ///
    /// Its kind is usually `other`; the uri names the delivered file.
    @Field(.typeDescription) public var report: Document
    /// Who delivered it (the line head).
    @Field(.identifier) public var by: String
    /// When it was delivered.
    ///
    /// Absent: when the command is processed. Never in the future.
    public var deliveredAt: Date?

    public var correlationKey: String? { workOrderId }

    public static let example = DeliverReport(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33",
        report: Document(
            kind: .other, uri: "s3://ot-docs/C-1042/informe-medicion-puesta-a-tierra.pdf",
            sha256: "4e1f0c9b8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f"),
        by: "diego.arce", deliveredAt: ExampleTime.at("2026-12-11T16:20:00.000Z"))
}

/// `workorder.change-scope`: formalise a change of the customer's needs (form SGC-DC-03).
@Contract("change the scope of a work order")
public struct ChangeScope: Command {
    public static let type = "workorder.change-scope"

    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// What changes, free-form.
    public var changes: JSONObject
    /// The SGC-DC-03 form.
    ///
    /// Signed by the customer.
    public var document: Document
    /// The OT's new amount, when the change alters it.
    ///
    /// In the OT's currency; billing drafts (or re-issues) the prefactura with it.
    @Field(.typeDescription) public var amount: Money?

    public var correlationKey: String? { workOrderId }

    public static let example = ChangeScope(
        workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33",
        changes: [
            "sites": ["U.E. Simón Bolívar", "U.E. Germán Busch"],
            "addedSites": 2,
            "description": "Se amplía la verificación a 14 unidades educativas",
        ],
        document: Document(
            kind: .other, uri: "s3://ot-docs/C-1042/sgc-dc-03-cambios.pdf",
            sha256: "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d"),
        amount: Money(minor: 5_658_000, currency: .bob))
}
