import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The commercial service's message handler: opens OTs.
public struct CommercialHandler: MessageHandler {
    public init() {}

    public func handle(_ message: any Message, context: inout MessageContext) async throws {
        switch message {
        case let open as OpenWorkOrder:
            try await self.open(open, &context)
        default:
            context.logger.warning("message type not handled by commercial; ignored")
        }
    }

    func open(_ command: OpenWorkOrder, _ context: inout MessageContext) async throws {
        let wo = try OpeningRules.validate(command, now: context.now) { UUID().uuidString.lowercased() }
        let conn = context.connection
        let log = context.logger
        if command.workOrderId != nil {
            let exists = try await conn.query(
                "SELECT 1 FROM commercial.work_orders WHERE id = \(wo.id)", logger: log
            ).collect().count > 0
            if exists {
                throw Rejection(
                    code: "duplicateWorkOrder", message: "work order \(wo.id) already exists",
                    errors: [FieldProblem(field: "data.workOrderId", problem: "already exists")])
            }
        }
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
                documents: wo.documents, dueBy: wo.dueBy))
        log.info("work order opened", metadata: ["ot.id": "\(wo.id)", "ot.number": "\(number)"])
    }
}
