import Contracts
import Foundation
import Runtime

/// The rules of opening an OT (SGC-PC-07 §4.1–4.3), as pure functions: a command and "now" in,
/// a validated work order (or the list of problems) out. No I/O.
public enum OpeningRules {
    /// A work order ready to be stored.
    public struct NewWorkOrder: Sendable, Equatable {
        public var id: String
        public var kind: WorkOrderKind
        public var serviceLine: ServiceLine?
        public var customer: Customer
        public var opportunityId: String?
        public var purchaseOrder: PurchaseOrder?
        /// The customer folder: every document of the command, plus the OT itself (§4.3).
        public var documents: [Document]
        public var dueBy: Date?
        public var description: String
        /// Where the folder lives: `customers/<customer id>/<work order id>/`.
        public var folder: String
        /// Work outside the city and its travel budget (§4.5).
        public var travel: Travel?
        /// The product and damage case of a repair or installation (COM-GCM-P12).
        public var productId: String? = nil
        public var productType: ProductType? = nil
        public var damageId: String? = nil
    }

    /// Validates `workorder.open`; throws a ``Rejection`` listing every problem at once.
    public static func validate(_ command: OpenWorkOrder, now: Date, newId: () -> String) throws(Rejection) -> NewWorkOrder {
        var problems: [FieldProblem] = []
        func require(_ value: String, _ field: String) {
            if value.isBlank {
                problems.append(FieldProblem(field: field, problem: "must not be empty"))
            }
        }
        if let id = command.workOrderId {
            require(id, "data.workOrderId")
            if id.count > 64 || id.contains(where: { $0.isWhitespace || $0 == "/" }) {
                problems.append(FieldProblem(field: "data.workOrderId", problem: "at most 64 characters, no spaces or slashes"))
            }
        }
        require(command.customer.id, "data.customer.id")
        require(command.customer.name, "data.customer.name")
        require(command.customer.taxId, "data.customer.taxId")
        require(command.description, "data.description")
        if command.kind == .project, command.serviceLine == nil {
            problems.append(FieldProblem(field: "data.serviceLine", problem: "a project OT is assigned to a service line (CSV, SPOT, GEP)"))
        }
        if let line = command.serviceLine { require(line.rawValue, "data.serviceLine") }
        if let po = command.purchaseOrder {
            require(po.number, "data.purchaseOrder.number")
            if po.amount.minor <= 0 {
                problems.append(FieldProblem(field: "data.purchaseOrder.amount.minor", problem: "must be positive"))
            }
        }
        if let due = command.dueBy, due <= now {
            problems.append(FieldProblem(field: "data.dueBy", problem: "the deadline is already past"))
        }
        // §4.5: the tender of a public-sector project always fixes its deadline.
        if command.kind == .project, command.customer.sector == .public, command.dueBy == nil {
            problems.append(
                FieldProblem(field: "data.dueBy", problem: "a public-sector project carries the deadline its tender fixes"))
        }
        if let travel = command.travel {
            // §4.5: the commercial department assigns travel budgets to public-sector OTs.
            if command.customer.sector != .public {
                problems.append(FieldProblem(field: "data.travel", problem: "travel budgets are assigned to public-sector OTs only"))
            }
            require(travel.destination, "data.travel.destination")
            if travel.budget.minor <= 0 {
                problems.append(FieldProblem(field: "data.travel.budget.minor", problem: "must be positive"))
            }
        }
        for (i, doc) in command.documents.enumerated() {
            require(doc.uri, "data.documents[\(i)].uri")
            if let sha = doc.sha256, sha.count != 64 || !sha.allSatisfy(\.isHexDigit) {
                problems.append(FieldProblem(field: "data.documents[\(i)].sha256", problem: "must be 64 hexadecimal characters"))
            }
        }
        if !problems.isEmpty { throw Rejection.validation(problems) }

        let id = command.workOrderId ?? newId()
        let folder = "customers/\(command.customer.id)/\(id)/"
        var documents = command.documents
        if !documents.contains(where: { $0.kind == .workOrder }) {
            // §4.3: the OT itself is downloaded into the customer's folder.
            documents.append(Document(kind: .workOrder, uri: folder + "orden-de-trabajo.pdf"))
        }
        return NewWorkOrder(
            id: id, kind: command.kind, serviceLine: command.serviceLine, customer: command.customer,
            opportunityId: command.opportunityId, purchaseOrder: command.purchaseOrder, documents: documents,
            dueBy: command.dueBy, description: command.description, folder: folder, travel: command.travel,
            productId: command.productId, productType: command.productType, damageId: command.damageId)
    }
}
