import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The commercial service's message handler: opens OTs, changes their scope, and runs pole-move
/// requests from people with no active service up to their OT.
public struct CommercialHandler: MessageHandler {
    public init() {}

    public func handle(_ message: any Message, context: inout MessageContext) async throws {
        switch message {
        case let open as OpenWorkOrder:
            try await self.open(open, &context)
        case let change as ChangeScope:
            try await changeScope(change, &context)
        case let request as RequestPoleMove:
            try await poleMove(request, &context)
        case let created as ChargeCreated:
            try await chargeCreated(created, &context)
        case let paid as ChargePaid:
            try await chargePaid(paid, &context)
        case let e as WorkOrderRejected:
            try await setState(e.workOrderId, .rejected, &context)
        case let e as WorkOrderCancelled:
            try await setState(e.workOrderId, .cancelled, &context)
        case let e as WorkOrderClosed:
            try await setState(e.workOrderId, .closed, &context)
        default:
            context.logger.warning("message type not handled by commercial; ignored")
        }
    }

    func exists(_ id: String, _ context: MessageContext) async throws -> Bool {
        try await context.connection.query(
            "SELECT 1 FROM commercial.work_orders WHERE id = \(id)", logger: context.logger
        ).collect().count > 0
    }

    func open(_ command: OpenWorkOrder, _ context: inout MessageContext) async throws {
        let wo = try OpeningRules.validate(command, now: context.now) { UUID().uuidString.lowercased() }
        if command.workOrderId != nil, try await exists(wo.id, context) {
            throw Rejection(
                code: "duplicateWorkOrder", message: "work order \(wo.id) already exists",
                errors: [FieldProblem(field: "data.workOrderId", problem: "already exists")])
        }
        try await store(wo, &context)
    }

    /// Stores a validated OT with its folder and announces it.
    func store(_ wo: OpeningRules.NewWorkOrder, _ context: inout MessageContext) async throws {
        let conn = context.connection
        let log = context.logger
        let customerJSON = String(decoding: try JSONEncoder().encode(wo.customer), as: UTF8.self)
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: context.now).year ?? 2026
        let rows = try await conn.query(
            """
            INSERT INTO commercial.work_orders
                (id, number, kind, service_line, customer_id, customer, country, public_sector, opportunity_id,
                 purchase_order_number, purchase_order_minor, purchase_order_currency, due_by, description, folder,
                 opened_at, opened_by_message)
            VALUES (\(wo.id),
                    'OT-' || \(wo.customer.country.rawValue) || '-' || \(String(year)) || '-' || lpad(nextval('commercial.work_order_number')::text, 6, '0'),
                    \(wo.kind.rawValue), \(wo.serviceLine?.rawValue), \(wo.customer.id), \(customerJSON)::jsonb,
                    \(wo.customer.country.rawValue), \(wo.customer.sector == .public), \(wo.opportunityId),
                    \(wo.purchaseOrder?.number), \(wo.purchaseOrder?.amount.minor), \(wo.purchaseOrder?.amount.currency.rawValue),
                    \(wo.dueBy), \(wo.description), \(wo.folder), \(context.now), \(context.header.id))
            RETURNING number
            """, logger: log)
        var number = ""
        for try await n in rows.decode(String.self) { number = n }
        try await conn.query(
            """
            INSERT INTO commercial.documents (work_order_id, position, kind, uri, sha256, added_at)
            SELECT \(wo.id), ord::int, k, u, NULLIF(s, ''), \(context.now)
            FROM unnest(\(wo.documents.map(\.kind.rawValue))::text[], \(wo.documents.map(\.uri))::text[],
                        \(wo.documents.map { $0.sha256 ?? "" })::text[]) WITH ORDINALITY AS t(k, u, s, ord)
            """, logger: log)
        try context.emit(
            WorkOrderOpened(
                workOrderId: wo.id, number: number, kind: wo.kind, serviceLine: wo.serviceLine, customer: wo.customer,
                documents: wo.documents, dueBy: wo.dueBy, purchaseOrder: wo.purchaseOrder))
        log.info("work order opened", metadata: ["ot.id": "\(wo.id)", "ot.number": "\(number)"])
    }

    /// Final states learnt from other services' events, so that scope changes are refused on
    /// finished OTs. Events for OTs this service never opened are ignored.
    func setState(_ id: String, _ state: WorkOrderState, _ context: inout MessageContext) async throws {
        try await context.connection.query(
            "UPDATE commercial.work_orders SET state = \(state.rawValue) WHERE id = \(id)", logger: context.logger)
    }

    func changeScope(_ command: ChangeScope, _ context: inout MessageContext) async throws {
        var state: WorkOrderState?
        for try await s in try await context.connection.query(
            "SELECT state FROM commercial.work_orders WHERE id = \(command.workOrderId) FOR UPDATE", logger: context.logger
        ).decode(String.self) {
            state = WorkOrderState(rawValue: s) ?? .opened
        }
        try ScopeRules.validate(command, state: state)
        let changes = String(decoding: try JSONEncoder().encode(command.changes), as: UTF8.self)
        try await context.connection.query(
            """
            INSERT INTO commercial.scope_changes (work_order_id, changes, document_uri, changed_at, by_message)
            VALUES (\(command.workOrderId), \(changes)::jsonb, \(command.document.uri), \(context.now), \(context.header.id))
            """, logger: context.logger)
        try await context.connection.query(
            """
            INSERT INTO commercial.documents (work_order_id, position, kind, uri, sha256, added_at)
            SELECT \(command.workOrderId), coalesce(max(position), 0) + 1, \(command.document.kind.rawValue),
                   \(command.document.uri), \(command.document.sha256), \(context.now)
            FROM commercial.documents WHERE work_order_id = \(command.workOrderId)
            """, logger: context.logger)
        try context.emit(WorkOrderScopeChanged(workOrderId: command.workOrderId, changes: command.changes, document: command.document))
    }

    func poleMove(_ request: RequestPoleMove, _ context: inout MessageContext) async throws {
        try PoleMoveRules.validate(request)
        // The request is keyed by the command id: a redelivery cannot open a second request.
        let requestId = "PMR-\(context.header.id)"
        try await context.connection.query(
            """
            INSERT INTO commercial.pole_move_requests (id, requester_name, requester_id_number, address, state, requested_at)
            VALUES (\(requestId), \(request.requester.name), \(request.requester.idNumber), \(request.address),
                    'awaitingPayment', \(context.now))
            """, logger: context.logger)
        try context.emit(PoleMoveRules.charge(requestId: requestId, for: request))
    }

    func chargeCreated(_ event: ChargeCreated, _ context: inout MessageContext) async throws {
        guard let requestId = event.requestId else { return }
        try await context.connection.query(
            "UPDATE commercial.pole_move_requests SET charge_id = \(event.chargeId), state = 'charged' WHERE id = \(requestId) AND charge_id IS NULL",
            logger: context.logger)
    }

    /// Step 5 done (the cashier took the payment): open the pole-move OT, once.
    func chargePaid(_ event: ChargePaid, _ context: inout MessageContext) async throws {
        var request: (id: String, name: String, idNumber: String, address: String)?
        for try await row in try await context.connection.query(
            """
            UPDATE commercial.pole_move_requests SET state = 'paid', paid_at = \(context.now)
            WHERE charge_id = \(event.chargeId) AND state = 'charged'
            RETURNING id, requester_name, requester_id_number, address
            """, logger: context.logger
        ).decode((String, String, String, String).self) {
            request = row
        }
        guard let request else {
            context.logger.debug("charge paid is not a pending pole move; ignored", metadata: ["charge.id": "\(event.chargeId)"])
            return
        }
        let command = PoleMoveRules.workOrder(
            requestId: request.id, requester: Payer(name: request.name, idNumber: request.idNumber), address: request.address)
        let wo = try OpeningRules.validate(command, now: context.now) { command.workOrderId ?? request.id }
        try await store(wo, &context)
        try await context.connection.query(
            "UPDATE commercial.pole_move_requests SET work_order_id = \(wo.id) WHERE id = \(request.id)", logger: context.logger)
    }
}
