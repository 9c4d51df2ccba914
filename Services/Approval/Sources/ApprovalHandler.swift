import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The approval service's message handler: the quality gate of OTs (SGC-PC-07 §4.4), the
/// commercial review of prefacturas (§4.6) and the satisfaction survey request (§4.8).
///
/// Commands that break a rule are rejected (``Rejection``); events are facts and are never
/// rejected: duplicates, stale or out-of-order ones are recorded or ignored with a log line.
public struct ApprovalHandler: MessageHandler {
    public init() {}

    public func handle(_ message: any Message, context: inout MessageContext) async throws {
        switch message {
        case let event as WorkOrderOpened: try await opened(event, &context)
        case let command as AttachDocument: try await attach(command, &context)
        case let command as ApproveWorkOrder: try await approve(command, &context)
        case let command as RejectWorkOrder: try await reject(command, &context)
        case let event as WorkOrderCancelled: try await cancelled(event, &context)
        case let event as WorkOrderClosed: try await closed(event, &context)
        case let event as PrefacturaIssued: try await prefacturaIssued(event, &context)
        case let command as ReviewPrefactura: try await review(command, &context)
        case let command as RecordSurveyAnswer: try await answer(command, &context)
        default:
            context.logger.warning("message type not handled by approval; ignored")
        }
    }

    // MARK: Quality gate

    func opened(_ event: WorkOrderOpened, _ context: inout MessageContext) async throws {
        let conn = context.connection
        let log = context.logger
        // A cancellation that arrived before the opening (no ordering across producers) wins.
        let cancelledEarlier = try await conn.query(
            """
            SELECT 1 FROM approval.decisions
            WHERE work_order_id = \(event.workOrderId) AND action = 'cancelled' AND from_state IS NULL
            """, logger: log
        ).collect().count > 0
        let outcome = QualityGate.evaluate(kind: event.kind, documents: event.documents)
        let state: ApprovalState =
            cancelledEarlier ? .cancelled : { if case .approved = outcome { .approved } else { .approvalPending } }()
        let customerJSON = String(decoding: try JSONEncoder().encode(event.customer), as: UTF8.self)
        let po = event.purchaseOrder
        let inserted = try await conn.query(
            """
            INSERT INTO approval.work_orders
                (id, number, kind, service_line, customer, due_by, purchase_order_number, purchase_order_minor,
                 purchase_order_currency, state, opened_at, updated_at)
            VALUES (\(event.workOrderId), \(event.number), \(event.kind.rawValue), \(event.serviceLine?.rawValue),
                    \(customerJSON)::jsonb, \(event.dueBy), \(po?.number), \(po?.amount.minor),
                    \(po?.amount.currency.rawValue), \(state.rawValue), \(context.now), \(context.now))
            ON CONFLICT (id) DO NOTHING
            RETURNING id
            """, logger: log
        ).collect().count > 0
        guard inserted else {
            log.info("workorder.opened for a work order already known; ignored", metadata: ["ot.id": "\(event.workOrderId)"])
            return
        }
        try await conn.query(
            """
            INSERT INTO approval.documents (work_order_id, position, kind, uri, sha256, added_at, added_by_message)
            SELECT \(event.workOrderId), ord::int, k, u, NULLIF(s, ''), \(context.now), \(context.header.id)
            FROM unnest(\(event.documents.map(\.kind.rawValue))::text[], \(event.documents.map(\.uri))::text[],
                        \(event.documents.map { $0.sha256 ?? "" })::text[]) WITH ORDINALITY AS t(k, u, s, ord)
            ON CONFLICT DO NOTHING
            """, logger: log)
        if cancelledEarlier {
            try await record(event.workOrderId, "opened", from: nil, to: .cancelled, by: nil,
                             reason: "cancelled before it was opened here", context)
            log.info("work order opened after its cancellation; kept cancelled", metadata: ["ot.id": "\(event.workOrderId)"])
            return
        }
        let stored = StoredWorkOrder(opened: event)
        try await apply(outcome, to: stored, from: nil, action: "opened", context: &context)
    }

    func attach(_ command: AttachDocument, _ context: inout MessageContext) async throws {
        let stored = try await load(command.workOrderId, context)
        let outcome = try ApprovalRules.attach(
            state: stored?.state, kind: stored?.kind ?? .project, documents: stored?.documents ?? [], command: command)
        guard let stored else { return }  // unreachable: the rules reject an unknown OT
        let doc = command.document
        try await context.connection.query(
            """
            INSERT INTO approval.documents (work_order_id, position, kind, uri, sha256, added_at, added_by_message)
            SELECT \(stored.id), COALESCE(max(position), 0) + 1, \(doc.kind.rawValue), \(doc.uri), \(doc.sha256),
                   \(context.now), \(context.header.id)
            FROM approval.documents WHERE work_order_id = \(stored.id)
            ON CONFLICT DO NOTHING
            """, logger: context.logger)
        try await apply(outcome, to: stored, from: stored.state, action: "documentAttached:\(doc.kind.rawValue)", context: &context)
    }

    func approve(_ command: ApproveWorkOrder, _ context: inout MessageContext) async throws {
        let stored = try await load(command.workOrderId, context)
        try ApprovalRules.approve(state: stored?.state, command: command)
        guard let stored else { return }
        let missing = QualityGate.missingDocuments(kind: stored.kind, documents: stored.documents)
        try await setState(stored.id, .approved, context)
        try await record(
            stored.id, missing.isEmpty ? "approved" : "approvedOverride", from: stored.state, to: .approved,
            by: command.by, reason: command.reason, missing: missing, context)
        try context.emit(stored.approved(by: command.by))
        context.logger.info(
            "work order approved by the quality controller",
            metadata: ["ot.id": "\(stored.id)", "approval.by": "\(command.by)", "approval.missing": "\(missing.map(\.rawValue))"])
    }

    func reject(_ command: RejectWorkOrder, _ context: inout MessageContext) async throws {
        let stored = try await load(command.workOrderId, context)
        try ApprovalRules.reject(state: stored?.state, command: command)
        guard let stored, let reason = command.reason else { return }
        try await setState(stored.id, .rejected, context)
        try await record(stored.id, "rejected", from: stored.state, to: .rejected, by: command.by, reason: reason, context)
        try context.emit(WorkOrderRejected(workOrderId: stored.id, reason: reason))
        context.logger.info("work order rejected", metadata: ["ot.id": "\(stored.id)", "approval.by": "\(command.by)"])
    }

    func cancelled(_ event: WorkOrderCancelled, _ context: inout MessageContext) async throws {
        guard let stored = try await load(event.workOrderId, context) else {
            // Recorded, so that a late `workorder.opened` does not approve a cancelled OT.
            try await record(event.workOrderId, "cancelled", from: nil, to: .cancelled, by: nil, reason: event.reason, context)
            context.logger.info("workorder.cancelled for an unknown work order; recorded", metadata: ["ot.id": "\(event.workOrderId)"])
            return
        }
        guard let next = ApprovalRules.cancelled(from: stored.state) else {
            context.logger.info(
                "workorder.cancelled ignored: the work order is \(stored.state.rawValue)", metadata: ["ot.id": "\(stored.id)"])
            return
        }
        try await setState(stored.id, next, context)
        try await record(stored.id, "cancelled", from: stored.state, to: next, by: nil, reason: event.reason, context)
        context.logger.info("work order cancelled", metadata: ["ot.id": "\(stored.id)"])
    }

    // MARK: Satisfaction survey (§4.8)

    func closed(_ event: WorkOrderClosed, _ context: inout MessageContext) async throws {
        let conn = context.connection
        let log = context.logger
        if let stored = try await load(event.workOrderId, context) {
            if let next = ApprovalRules.closed(from: stored.state) {
                try await setState(stored.id, next, context)
                try await record(stored.id, "closed", from: stored.state, to: next, by: nil, reason: nil, context)
            } else if stored.state != .closed {
                log.warning("workorder.closed for a work order that is \(stored.state.rawValue)", metadata: ["ot.id": "\(stored.id)"])
            }
        } else {
            log.info("workorder.closed for a work order unknown to approval; survey still requested", metadata: ["ot.id": "\(event.workOrderId)"])
        }
        // One survey per OT, whatever the number of closed events.
        let surveyId = UUID().uuidString.lowercased()
        let customerJSON = String(decoding: try JSONEncoder().encode(event.customer), as: UTF8.self)
        let created = try await conn.query(
            """
            INSERT INTO approval.surveys (id, work_order_id, customer, requested_at, requested_by_message)
            VALUES (\(surveyId), \(event.workOrderId), \(customerJSON)::jsonb, \(context.now), \(context.header.id))
            ON CONFLICT (work_order_id) DO NOTHING
            RETURNING id
            """, logger: log
        ).collect().count > 0
        guard created else {
            log.info("survey already requested for this work order", metadata: ["ot.id": "\(event.workOrderId)"])
            return
        }
        try context.emit(SurveyRequested(surveyId: surveyId, workOrderId: event.workOrderId, customer: event.customer))
        log.info("satisfaction survey requested", metadata: ["ot.id": "\(event.workOrderId)", "survey.id": "\(surveyId)"])
    }

    /// An answer to a satisfaction survey: once per survey, score 1–5.
    func answer(_ command: RecordSurveyAnswer, _ context: inout MessageContext) async throws {
        try SurveyRules.validate(command)
        var found: (workOrderId: String, answeredAt: Date?)?
        for try await row in try await context.connection.query(
            "SELECT work_order_id, answered_at FROM approval.surveys WHERE id = \(command.surveyId) FOR UPDATE",
            logger: context.logger
        ).decode((String, Date?).self) {
            found = row
        }
        try SurveyRules.check(surveyId: command.surveyId, answeredAt: found.map { $0.answeredAt })
        guard let found else { return }
        try await context.connection.query(
            """
            UPDATE approval.surveys SET score = \(command.score), comments = \(command.comments), answered_at = \(context.now),
                answered_by = \(command.by)
            WHERE id = \(command.surveyId)
            """, logger: context.logger)
        try context.emit(
            SurveyAnswered(surveyId: command.surveyId, workOrderId: found.workOrderId, score: command.score, comments: command.comments))
    }

    // MARK: Prefactura review (§4.6)

    func prefacturaIssued(_ event: PrefacturaIssued, _ context: inout MessageContext) async throws {
        let conn = context.connection
        let log = context.logger
        let linesJSON = String(decoding: try JSONEncoder().encode(event.lines), as: UTF8.self)
        let inserted = try await conn.query(
            """
            INSERT INTO approval.prefacturas (id, work_order_id, amount_minor, currency, lines, state, issued_at)
            VALUES (\(event.prefacturaId), \(event.workOrderId), \(event.amount.minor), \(event.amount.currency.rawValue),
                    \(linesJSON)::jsonb, \(PrefacturaState.pending.rawValue), \(context.now))
            ON CONFLICT (id) DO NOTHING
            RETURNING id
            """, logger: log
        ).collect().count > 0
        guard inserted else {
            log.info("billing.prefactura-issued for a known prefactura; ignored", metadata: ["prefactura.id": "\(event.prefacturaId)"])
            return
        }
        // A corrected prefactura replaces the one still waiting for review.
        try await conn.query(
            """
            UPDATE approval.prefacturas SET state = \(PrefacturaState.superseded.rawValue), decided_at = \(context.now),
                   notes = 'superseded by ' || \(event.prefacturaId)
            WHERE work_order_id = \(event.workOrderId) AND id <> \(event.prefacturaId)
              AND state = \(PrefacturaState.pending.rawValue)
            """, logger: log)
        log.info("prefactura waiting for commercial review",
                 metadata: ["prefactura.id": "\(event.prefacturaId)", "ot.id": "\(event.workOrderId)"])
    }

    func review(_ command: ReviewPrefactura, _ context: inout MessageContext) async throws {
        let conn = context.connection
        let log = context.logger
        var found: (workOrderId: String, state: PrefacturaState)?
        for try await (wo, state) in try await conn.query(
            "SELECT work_order_id, state FROM approval.prefacturas WHERE id = \(command.prefacturaId) FOR UPDATE",
            logger: log
        ).decode((String, String).self) {
            found = (wo, PrefacturaState(rawValue: state) ?? .superseded)
        }
        let next = try PrefacturaRules.review(state: found?.state, command: command)
        guard let found else { return }
        try await conn.query(
            """
            UPDATE approval.prefacturas
            SET state = \(next.rawValue), decided_at = \(context.now), decided_by = \(command.by), notes = \(command.notes)
            WHERE id = \(command.prefacturaId)
            """, logger: log)
        if next == .approved {
            try context.emit(
                PrefacturaApproved(prefacturaId: command.prefacturaId, workOrderId: found.workOrderId, by: command.by, notes: command.notes))
        } else {
            try context.emit(
                PrefacturaReturned(prefacturaId: command.prefacturaId, workOrderId: found.workOrderId, by: command.by, notes: command.notes))
        }
        log.info("prefactura reviewed: \(next.rawValue)",
                 metadata: ["prefactura.id": "\(command.prefacturaId)", "ot.id": "\(found.workOrderId)"])
    }

    // MARK: Storage

    /// Applies a checklist outcome: approve (emit `workorder.approved`) or stay pending (emit
    /// `workorder.approval-pending` with what is missing).
    func apply(
        _ outcome: GateOutcome, to stored: StoredWorkOrder, from: ApprovalState?, action: String,
        context: inout MessageContext
    ) async throws {
        switch outcome {
        case .approved(let by):
            if from != nil { try await setState(stored.id, .approved, context) }
            try await record(stored.id, action, from: from, to: .approved, by: by, reason: nil, context)
            try context.emit(stored.approved(by: by))
            context.logger.info("work order approved", metadata: ["ot.id": "\(stored.id)", "approval.by": "\(by)"])
        case .pending(let missing):
            try await record(stored.id, action, from: from, to: .approvalPending, by: nil, reason: nil, missing: missing, context)
            try context.emit(WorkOrderApprovalPending(workOrderId: stored.id, missingDocuments: missing))
            context.logger.info(
                "work order waits for documents", metadata: ["ot.id": "\(stored.id)", "approval.missing": "\(missing.map(\.rawValue))"])
        }
    }

    /// The OT (locked for this transaction) with its documents, or nil when unknown.
    func load(_ id: String, _ context: MessageContext) async throws -> StoredWorkOrder? {
        let conn = context.connection
        let log = context.logger
        var stored: StoredWorkOrder?
        let rows = try await conn.query(
            """
            SELECT kind, service_line, customer::text, due_by, purchase_order_minor, purchase_order_currency, state
            FROM approval.work_orders WHERE id = \(id) FOR UPDATE
            """, logger: log)
        for try await (kind, line, customer, dueBy, minor, currency, state) in rows.decode(
            (String, String?, String, Date?, Int64?, String?, String).self)
        {
            var amount: Money?
            if let minor, let currency = currency.flatMap(Currency.init(rawValue:)) { amount = Money(minor: minor, currency: currency) }
            guard let kind = WorkOrderKind(rawValue: kind), let state = ApprovalState(rawValue: state) else {
                throw Rejection(code: "corruptState", message: "work order \(id) has kind \(kind) / state \(state)")
            }
            stored = StoredWorkOrder(
                id: id, kind: kind, serviceLine: line.map(ServiceLine.init(rawValue:)),
                customer: try JSONDecoder().decode(Customer.self, from: Data(customer.utf8)), dueBy: dueBy, amount: amount,
                state: state, documents: [])
        }
        guard var found = stored else { return nil }
        for try await (kind, uri, sha) in try await conn.query(
            "SELECT kind, uri, sha256 FROM approval.documents WHERE work_order_id = \(id) ORDER BY position", logger: log
        ).decode((String, String, String?).self) {
            if let kind = DocumentKind(rawValue: kind) { found.documents.append(Document(kind: kind, uri: uri, sha256: sha)) }
        }
        return found
    }

    func setState(_ id: String, _ state: ApprovalState, _ context: MessageContext) async throws {
        try await context.connection.query(
            "UPDATE approval.work_orders SET state = \(state.rawValue), updated_at = \(context.now) WHERE id = \(id)",
            logger: context.logger)
    }

    func record(
        _ id: String, _ action: String, from: ApprovalState?, to: ApprovalState?, by: String?, reason: String?,
        missing: [DocumentKind] = [], _ context: MessageContext
    ) async throws {
        try await context.connection.query(
            """
            INSERT INTO approval.decisions (work_order_id, action, from_state, to_state, by, reason, missing_documents, at, message_id)
            VALUES (\(id), \(action), \(from?.rawValue), \(to?.rawValue), \(by), \(reason), \(missing.map(\.rawValue))::text[],
                    \(context.now), \(context.header.id))
            """, logger: context.logger)
    }
}

/// An OT as the approval service keeps it.
struct StoredWorkOrder {
    var id: String
    var kind: WorkOrderKind
    var serviceLine: ServiceLine?
    var customer: Customer
    var dueBy: Date?
    /// The purchase-order amount, when the OT came with one.
    var amount: Money?
    var state: ApprovalState
    var documents: [Document]

    init(
        id: String, kind: WorkOrderKind, serviceLine: ServiceLine?, customer: Customer, dueBy: Date?, amount: Money?,
        state: ApprovalState, documents: [Document]
    ) {
        self.id = id
        self.kind = kind
        self.serviceLine = serviceLine
        self.customer = customer
        self.dueBy = dueBy
        self.amount = amount
        self.state = state
        self.documents = documents
    }

    init(opened e: WorkOrderOpened) {
        self.init(
            id: e.workOrderId, kind: e.kind, serviceLine: e.serviceLine, customer: e.customer, dueBy: e.dueBy,
            amount: e.purchaseOrder?.amount, state: .approvalPending, documents: e.documents)
    }

    func approved(by: String) -> WorkOrderApproved {
        WorkOrderApproved(
            workOrderId: id, approvedBy: by, customer: customer, kind: kind, serviceLine: serviceLine, dueBy: dueBy,
            amount: amount)
    }
}
