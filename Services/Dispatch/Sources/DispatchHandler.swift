import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The dispatch service's message handler: follows every OT from opening to closing, dispatches
/// approved OTs to the operations center with their SLA deadlines, and applies the operators'
/// commands (assign, report outcome, close, cancel) along the state machine of CONTRACT.md.
///
/// Events are facts: one that arrives out of order creates the OT's row; a stale or duplicate
/// one is ignored with a log line. Commands that the state machine forbids are rejected
/// (`invalidTransition`, `notFound`, `validation`) and change nothing.
public struct DispatchHandler: MessageHandler {
    public init() {}

    public func handle(_ message: any Message, context: inout MessageContext) async throws {
        switch message {
        case let e as WorkOrderOpened: try await opened(e, &context)
        case let e as WorkOrderApprovalPending: try await approvalPending(e, &context)
        case let e as WorkOrderApproved: try await approved(e, &context)
        case let e as WorkOrderRejected: try await rejected(e, &context)
        case let e as WorkOrderPrioritized: try await prioritized(e, &context)
        case let c as AssignWorkOrder: try await assign(c, &context)
        case let c as ReportOutcome: try await reportOutcome(c, &context)
        case let c as CloseWorkOrder: try await close(c, &context)
        case let c as CancelWorkOrder: try await cancel(c, &context)
        default:
            context.logger.warning("message type not handled by dispatch; ignored")
        }
    }

    // MARK: Events

    func opened(_ e: WorkOrderOpened, _ context: inout MessageContext) async throws {
        let (state, _) = try await lockOrCreate(e.workOrderId, as: .opened, context, why: nil)
        let customer = try json(e.customer)
        // The opening's data fills what an earlier (out-of-order) fact did not bring.
        try await context.connection.query(
            """
            UPDATE dispatch.work_orders SET number = COALESCE(number, \(e.number)), kind = COALESCE(kind, \(e.kind.rawValue)),
                customer = COALESCE(customer, \(customer)::jsonb), customer_id = COALESCE(customer_id, \(e.customer.id)),
                sector = COALESCE(sector, \(e.customer.sector.rawValue)), segment = COALESCE(segment, \(e.customer.segment.rawValue)),
                country = COALESCE(country, \(e.customer.country.rawValue)), service_line = COALESCE(service_line, \(e.serviceLine?.rawValue)),
                due_by = COALESCE(due_by, \(e.dueBy)),
                amount_minor = COALESCE(amount_minor, \(e.purchaseOrder?.amount.minor)),
                amount_currency = COALESCE(amount_currency, \(e.purchaseOrder?.amount.currency.rawValue)),
                updated_at = \(context.now)
            WHERE id = \(e.workOrderId)
            """, logger: context.logger)
        if state != .opened {
            context.logger.info("opening recorded after a later fact", metadata: ["ot.id": "\(e.workOrderId)", "ot.state": "\(state.rawValue)"])
        }
    }

    func approvalPending(_ e: WorkOrderApprovalPending, _ context: inout MessageContext) async throws {
        let why = "missing: " + e.missingDocuments.map(\.rawValue).joined(separator: ", ")
        let (state, created) = try await lockOrCreate(e.workOrderId, as: .approvalPending, context, why: why)
        if created { return }
        guard DispatchRules.afterEvent(WorkOrderApprovalPending.type, current: state) != nil else {
            context.logger.info("stale approval-pending ignored", metadata: ["ot.id": "\(e.workOrderId)", "ot.state": "\(state.rawValue)"])
            return
        }
        try await move(e.workOrderId, from: state, to: .approvalPending, by: nil, reason: why, context)
    }

    func rejected(_ e: WorkOrderRejected, _ context: inout MessageContext) async throws {
        let (state, created) = try await lockOrCreate(e.workOrderId, as: .rejected, context, why: e.reason)
        if !created {
            guard DispatchRules.afterEvent(WorkOrderRejected.type, current: state) != nil else {
                context.logger.warning("rejection of a work order already \(state.rawValue) ignored", metadata: ["ot.id": "\(e.workOrderId)"])
                return
            }
            try await move(e.workOrderId, from: state, to: .rejected, by: nil, reason: e.reason, context)
        }
        try await context.connection.query(
            "UPDATE dispatch.work_orders SET rejected_at = \(context.now), reject_reason = \(e.reason) WHERE id = \(e.workOrderId)",
            logger: context.logger)
    }

    func approved(_ e: WorkOrderApproved, _ context: inout MessageContext) async throws {
        let id = e.workOrderId
        let log = context.logger
        let conn = context.connection
        let (state, created) = try await lockOrCreate(id, as: .approved, context, why: nil, by: e.approvedBy)
        if !created {
            guard DispatchRules.afterEvent(WorkOrderApproved.type, current: state) != nil else {
                // A second approval (another message id) or one after a final state: one dispatch only.
                log.info("approval of a work order already \(state.rawValue) ignored", metadata: ["ot.id": "\(id)"])
                return
            }
            try await move(id, from: state, to: .approved, by: e.approvedBy, reason: nil, context)
        }
        let now = context.now
        let contactBy = now.addingTimeInterval(DispatchRules.contactWindow)
        var dueBy: Date? = e.dueBy
        var prioritizedLevel: Int?
        for try await (due, level) in try await conn.query(
            "SELECT due_by, prioritized_level FROM dispatch.work_orders WHERE id = \(id)", logger: log
        ).decode((Date?, Int?).self) {
            dueBy = dueBy ?? due
            prioritizedLevel = level
        }
        let priority = DispatchRules.priority(customer: e.customer, kind: e.kind, dueBy: dueBy, prioritized: prioritizedLevel)
        let publicSector = e.customer.sector == .public
        try await conn.query(
            """
            UPDATE dispatch.work_orders SET state = 'dispatched', kind = \(e.kind.rawValue), customer = \(try json(e.customer))::jsonb,
                customer_id = \(e.customer.id), sector = \(e.customer.sector.rawValue), segment = \(e.customer.segment.rawValue),
                country = \(e.customer.country.rawValue), service_line = COALESCE(\(e.serviceLine?.rawValue), service_line),
                due_by = \(dueBy), amount_minor = COALESCE(\(e.amount?.minor), amount_minor),
                amount_currency = COALESCE(\(e.amount?.currency.rawValue), amount_currency),
                approved_at = \(now), approved_by = \(e.approvedBy), priority = \(priority.level), contact_by = \(contactBy),
                dispatched_at = \(now), correlation_id = \(context.header.correlationid ?? context.header.id),
                causation_id = \(context.header.id), updated_at = \(now)
            WHERE id = \(id)
            """, logger: log)
        try await record(id, from: .approved, to: .dispatched, by: nil, reason: "priority \(priority.level): \(priority.reason)", context)
        try await conn.query(
            """
            INSERT INTO dispatch.sla_deadlines (work_order_id, what, deadline) VALUES (\(id), 'contact', \(contactBy))
            ON CONFLICT (work_order_id, what) DO NOTHING
            """, logger: log)
        if let dueBy {
            try await conn.query(
                """
                INSERT INTO dispatch.sla_deadlines (work_order_id, what, deadline) VALUES (\(id), 'due', \(dueBy))
                ON CONFLICT (work_order_id, what) DO NOTHING
                """, logger: log)
        }
        try context.emit(
            WorkOrderDispatched(workOrderId: id, priority: priority.level, contactBy: contactBy, dueBy: dueBy, publicSector: publicSector))
        log.info("work order dispatched", metadata: ["ot.id": "\(id)", "ot.priority": "\(priority.level)"])
    }

    func prioritized(_ e: WorkOrderPrioritized, _ context: inout MessageContext) async throws {
        let id = e.workOrderId
        let (state, _) = try await lockOrCreate(id, as: .opened, context, why: "first known from workorder.prioritized")
        let level = min(4, max(1, e.level))
        let active = !state.isFinal && state != .attended
        try await context.connection.query(
            """
            UPDATE dispatch.work_orders SET prioritized_level = \(level),
                priority = CASE WHEN \(active) AND priority IS NOT NULL THEN \(level) ELSE priority END,
                updated_at = \(context.now)
            WHERE id = \(id)
            """, logger: context.logger)
        guard active else {
            context.logger.info("priority of a work order already \(state.rawValue) recorded only", metadata: ["ot.id": "\(id)"])
            return
        }
        // A new priority deadline replaces the old one (and can be breached once more).
        try await context.connection.query(
            """
            INSERT INTO dispatch.sla_deadlines (work_order_id, what, deadline) VALUES (\(id), 'priority', \(e.deadline))
            ON CONFLICT (work_order_id, what) DO UPDATE SET deadline = EXCLUDED.deadline, breached_at = NULL
                WHERE sla_deadlines.deadline <> EXCLUDED.deadline AND sla_deadlines.met_at IS NULL
            """, logger: context.logger)
    }

    // MARK: Commands

    func assign(_ c: AssignWorkOrder, _ context: inout MessageContext) async throws {
        try DispatchRules.validate(c)
        let row = try await locked(c.workOrderId, context)
        try DispatchRules.check(.assign, from: row.state, workOrderId: c.workOrderId)
        let now = context.now
        try await context.connection.query(
            """
            UPDATE dispatch.work_orders SET state = 'assigned', assignee = \(try json(c.assignee))::jsonb,
                scheduled_for = \(c.scheduledFor), assigned_at = \(now), first_assigned_at = COALESCE(first_assigned_at, \(now)),
                updated_at = \(now)
            WHERE id = \(c.workOrderId)
            """, logger: context.logger)
        try await meet(c.workOrderId, ["contact"], context)
        try await record(
            c.workOrderId, from: row.state, to: .assigned, by: c.assignee.id,
            reason: "\(row.state == .assigned ? "reassigned" : "assigned") to \(c.assignee.name) (\(c.assignee.role))", context)
        try context.emit(WorkOrderAssigned(workOrderId: c.workOrderId, assignee: c.assignee, scheduledFor: c.scheduledFor))
    }

    func reportOutcome(_ c: ReportOutcome, _ context: inout MessageContext) async throws {
        try DispatchRules.validate(c)
        let row = try await locked(c.workOrderId, context)
        try DispatchRules.check(.reportOutcome, from: row.state, workOrderId: c.workOrderId)
        try await context.connection.query(
            """
            UPDATE dispatch.work_orders SET state = 'attended', outcome = \(c.outcome.rawValue), notes = \(c.notes),
                attended_at = \(context.now), updated_at = \(context.now)
            WHERE id = \(c.workOrderId)
            """, logger: context.logger)
        try await meet(c.workOrderId, ["due", "priority"], context)
        try await record(c.workOrderId, from: row.state, to: .attended, by: nil, reason: [c.outcome.rawValue, c.notes].compactMap { $0 }.joined(separator: ": "), context)
        try context.emit(WorkOrderAttended(workOrderId: c.workOrderId, outcome: c.outcome))
    }

    func close(_ c: CloseWorkOrder, _ context: inout MessageContext) async throws {
        try DispatchRules.validate(c)
        let row = try await locked(c.workOrderId, context)
        try DispatchRules.check(.close, from: row.state, workOrderId: c.workOrderId)
        guard let kind = row.kind, let customer = row.customer, let outcome = row.outcome else {
            throw Rejection(code: "invalidTransition", message: "work order \(c.workOrderId) lacks its kind, customer or outcome")
        }
        try await context.connection.query(
            """
            UPDATE dispatch.work_orders SET state = 'closed', closed_at = \(context.now), closed_by = \(c.by), updated_at = \(context.now)
            WHERE id = \(c.workOrderId)
            """, logger: context.logger)
        try await meet(c.workOrderId, ["contact", "due", "priority"], context)
        try await record(c.workOrderId, from: row.state, to: .closed, by: c.by, reason: nil, context)
        try context.emit(
            WorkOrderClosed(
                workOrderId: c.workOrderId, kind: kind, customer: customer, outcome: outcome, closedAt: context.now,
                amount: row.amount))
    }

    func cancel(_ c: CancelWorkOrder, _ context: inout MessageContext) async throws {
        try DispatchRules.validate(c)
        let row = try await locked(c.workOrderId, context)
        try DispatchRules.check(.cancel, from: row.state, workOrderId: c.workOrderId)
        try await context.connection.query(
            """
            UPDATE dispatch.work_orders SET state = 'cancelled', cancelled_at = \(context.now), cancel_reason = \(c.reason),
                updated_at = \(context.now)
            WHERE id = \(c.workOrderId)
            """, logger: context.logger)
        try await record(c.workOrderId, from: row.state, to: .cancelled, by: nil, reason: c.reason, context)
        try context.emit(WorkOrderCancelled(workOrderId: c.workOrderId, reason: c.reason))
    }

    // MARK: Storage helpers

    struct Row {
        var state: WorkOrderState
        var kind: WorkOrderKind?
        var customer: Customer?
        var outcome: Outcome?
        var amount: Money?
    }

    /// The OT's row, locked for the rest of the transaction; `notFound` when unknown.
    func locked(_ id: String, _ context: MessageContext) async throws -> Row {
        let rows = try await context.connection.query(
            """
            SELECT state, kind, customer::text, outcome, amount_minor, amount_currency
            FROM dispatch.work_orders WHERE id = \(id) FOR UPDATE
            """, logger: context.logger)
        for try await (state, kind, customer, outcome, minor, currency) in rows.decode(
            (String, String?, String?, String?, Int64?, String?).self)
        {
            guard let s = WorkOrderState(rawValue: state) else { throw StorageError("unknown state \(state) of \(id)") }
            var amount: Money?
            if let minor, let currency, let cur = Currency(rawValue: currency) { amount = Money(minor: minor, currency: cur) }
            return Row(
                state: s, kind: kind.flatMap(WorkOrderKind.init(rawValue:)),
                customer: try customer.map { try JSONDecoder().decode(Customer.self, from: Data($0.utf8)) },
                outcome: outcome.flatMap(Outcome.init(rawValue:)), amount: amount)
        }
        throw Rejection(
            code: "notFound", message: "work order \(id) is not known to dispatch",
            errors: [FieldProblem(field: "data.workOrderId", problem: "unknown work order")], mayBeLate: true)
    }

    /// Locks the OT's row, creating it in `state` when this is the first fact about it.
    /// Returns the state (before this message) and whether the row was created now.
    func lockOrCreate(
        _ id: String, as state: WorkOrderState, _ context: MessageContext, why: String?, by: String? = nil
    ) async throws -> (WorkOrderState, Bool) {
        func current() async throws -> WorkOrderState? {
            for try await s in try await context.connection.query(
                "SELECT state FROM dispatch.work_orders WHERE id = \(id) FOR UPDATE", logger: context.logger
            ).decode(String.self) {
                guard let st = WorkOrderState(rawValue: s) else { throw StorageError("unknown state \(s) of \(id)") }
                return st
            }
            return nil
        }
        if let s = try await current() { return (s, false) }
        let inserted = try await context.connection.query(
            """
            INSERT INTO dispatch.work_orders (id, state, correlation_id, causation_id, created_at, updated_at)
            VALUES (\(id), \(state.rawValue), \(context.header.correlationid ?? context.header.id), \(context.header.id),
                    \(context.now), \(context.now))
            ON CONFLICT (id) DO NOTHING RETURNING 1
            """, logger: context.logger
        ).collect().count == 1
        if inserted {
            try await record(id, from: nil, to: state, by: by, reason: why, context)
            return (state, true)
        }
        // Created concurrently by another message about the same OT.
        guard let s = try await current() else { throw StorageError("work order \(id) vanished") }
        return (s, false)
    }

    func move(_ id: String, from: WorkOrderState, to: WorkOrderState, by: String?, reason: String?, _ context: MessageContext) async throws {
        try await context.connection.query(
            "UPDATE dispatch.work_orders SET state = \(to.rawValue), updated_at = \(context.now) WHERE id = \(id)",
            logger: context.logger)
        try await record(id, from: from, to: to, by: by, reason: reason, context)
    }

    /// One line of the transition history.
    func record(_ id: String, from: WorkOrderState?, to: WorkOrderState, by: String?, reason: String?, _ context: MessageContext) async throws {
        try await context.connection.query(
            """
            INSERT INTO dispatch.transitions (work_order_id, from_state, to_state, at, by, reason, message_id)
            VALUES (\(id), \(from?.rawValue), \(to.rawValue), \(context.now), \(by), \(reason), \(context.header.id))
            """, logger: context.logger)
    }

    /// Marks deadlines met (the timer no longer looks at them).
    func meet(_ id: String, _ what: [String], _ context: MessageContext) async throws {
        try await context.connection.query(
            """
            UPDATE dispatch.sla_deadlines SET met_at = \(context.now)
            WHERE work_order_id = \(id) AND what = ANY(\(what)) AND met_at IS NULL
            """, logger: context.logger)
    }

    func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }
}

/// Inconsistent stored data: transient from the runtime's point of view (retried, then dead-lettered).
struct StorageError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
