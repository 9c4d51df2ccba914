import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// The billing service's message handler: CxC charges and payments (OPE-SUM-GES-P08 steps 3–5),
/// the prefactura of every closed OT and the invoice once it is approved (SGC-PC-07 §4.6–4.7).
///
/// Idempotency beyond the runtime's inbox (which only knows message ids) lives in unique keys:
/// a charge per `requestId`, a prefactura chain per work order, an invoice per work order. A
/// repeated fact with a new message id therefore changes nothing and emits nothing.
public struct BillingHandler: MessageHandler {
    public init() {}

    public func handle(_ message: any Message, context: inout MessageContext) async throws {
        switch message {
        case let closed as WorkOrderClosed:
            try await bill(closed, &context)
        case let request as ChargeRequested:
            try await createCharge(request, &context)
        case let payment as RecordPayment:
            try await recordPayment(payment, &context)
        case let approved as PrefacturaApproved:
            try await issueInvoice(approved, &context)
        case let returned as PrefacturaReturned:
            try await reissue(returned, &context)
        default:
            context.logger.warning("message type not handled by billing; ignored")
        }
    }

    // MARK: The billing batch

    /// `workorder.closed` → one prefactura per OT, in ONE statement: the work order is registered
    /// with `ON CONFLICT DO NOTHING` and the prefactura is inserted only for a row that was new.
    /// No SELECT first, so concurrent batches cannot race.
    func bill(_ closed: WorkOrderClosed, _ context: inout MessageContext) async throws {
        if BillingRules.settledByCxC(closed.kind) {
            try await context.connection.query(
                """
                INSERT INTO billing.work_orders (work_order_id, kind, customer, country, outcome, closed_at, received_at, closed_message)
                VALUES (\(closed.workOrderId), \(closed.kind.rawValue), \(String(decoding: try JSONEncoder().encode(closed.customer), as: UTF8.self))::jsonb,
                        \(closed.customer.country.rawValue), \(closed.outcome.rawValue), \(closed.closedAt), \(context.now), \(context.header.id))
                ON CONFLICT (work_order_id) DO NOTHING
                """, logger: context.logger)
            context.logger.info("closed work order was settled by its CxC; no prefactura", metadata: ["ot.id": "\(closed.workOrderId)"])
            return
        }
        let draft = BillingRules.draft(closed)
        let linesJSON = String(decoding: try JSONEncoder().encode(draft.lines), as: UTF8.self)
        let customerJSON = String(decoding: try JSONEncoder().encode(closed.customer), as: UTF8.self)
        let year = String(BillingRules.year(of: context.now))
        let rows = try await context.connection.query(
            """
            WITH wo AS (
                INSERT INTO billing.work_orders (work_order_id, kind, customer, country, outcome, closed_at, received_at, closed_message)
                VALUES (\(closed.workOrderId), \(closed.kind.rawValue), \(customerJSON)::jsonb, \(closed.customer.country.rawValue),
                        \(closed.outcome.rawValue), \(closed.closedAt), \(context.now), \(context.header.id))
                ON CONFLICT (work_order_id) DO NOTHING
                RETURNING work_order_id)
            INSERT INTO billing.prefacturas (id, work_order_id, version, status, lines, amount_minor, currency, needs_pricing, issued_at)
            SELECT 'PF-' || \(year) || '-' || lpad(nextval('billing.prefactura_number')::text, 6, '0'), work_order_id, 1, 'issued',
                   \(linesJSON)::jsonb, \(draft.amount.minor), \(draft.amount.currency.rawValue), \(draft.needsPricing), \(context.now)
            FROM wo
            RETURNING id
            """, logger: context.logger)
        var prefacturaId: String?
        for try await id in rows.decode(String.self) { prefacturaId = id }
        guard let prefacturaId else {
            context.logger.info("closed work order already billed; ignored", metadata: ["ot.id": "\(closed.workOrderId)"])
            return
        }
        if draft.needsPricing {
            context.logger.warning(
                "closed work order has no amount and no list price: prefactura issued at 0, needs pricing",
                metadata: ["ot.id": "\(closed.workOrderId)", "prefactura.id": "\(prefacturaId)"])
        }
        try context.emit(
            PrefacturaIssued(prefacturaId: prefacturaId, workOrderId: closed.workOrderId, amount: draft.amount, lines: draft.lines))
    }

    // MARK: CxC

    /// `billing.charge-requested` → a CxC, once per `requestId`. A repeated request (even with
    /// another message id) creates nothing and emits nothing: `charge-created` was already
    /// published through the outbox, which does not lose messages.
    func createCharge(_ request: ChargeRequested, _ context: inout MessageContext) async throws {
        let year = String(BillingRules.year(of: context.now))
        let rows = try await context.connection.query(
            """
            INSERT INTO billing.charges (id, request_id, amount_minor, currency, payer_name, payer_id_number, reason,
                                         work_order_id, created_at, created_by_message)
            VALUES ('CXC-' || \(year) || '-' || lpad(nextval('billing.charge_number')::text, 6, '0'), \(request.requestId),
                    \(request.amount.minor), \(request.amount.currency.rawValue), \(request.payer.name), \(request.payer.idNumber),
                    \(request.reason), \(request.workOrderId), \(context.now), \(context.header.id))
            ON CONFLICT (request_id) DO NOTHING
            RETURNING id
            """, logger: context.logger)
        var chargeId: String?
        for try await id in rows.decode(String.self) { chargeId = id }
        guard let chargeId else {
            context.logger.info("charge already requested; ignored", metadata: ["request.id": "\(request.requestId)"])
            return
        }
        try context.emit(
            ChargeCreated(
                chargeId: chargeId, amount: request.amount, payer: request.payer, reason: request.reason,
                workOrderId: request.workOrderId, requestId: request.requestId))
        context.logger.info("charge created", metadata: ["charge.id": "\(chargeId)", "request.id": "\(request.requestId)"])
    }

    /// `billing.record-payment` (the cashier): the charge must exist, be unpaid, and be paid in
    /// exactly its amount. The charge row is locked so concurrent payments serialise; the primary
    /// key of `payments` forbids a second one regardless.
    func recordPayment(_ payment: RecordPayment, _ context: inout MessageContext) async throws {
        try BillingRules.validate(payment)
        let conn = context.connection
        let rows = try await conn.query(
            """
            SELECT c.amount_minor, c.currency, p.charge_id IS NOT NULL
            FROM billing.charges c LEFT JOIN billing.payments p ON p.charge_id = c.id
            WHERE c.id = \(payment.chargeId)
            FOR UPDATE OF c
            """, logger: context.logger)
        var found: (Int64, String, Bool)?
        for try await row in rows.decode((Int64, String, Bool).self) { found = row }
        guard let (minor, currencyCode, paid) = found else {
            throw Rejection(
                code: "notFound", message: "no charge \(payment.chargeId)",
                errors: [FieldProblem(field: "data.chargeId", problem: "no such charge")])
        }
        guard let currency = Currency(rawValue: currencyCode) else {
            throw Rejection(code: "corruptCharge", message: "charge \(payment.chargeId) has unknown currency \(currencyCode)")
        }
        try BillingRules.check(payment: payment, chargeAmount: Money(minor: minor, currency: currency), alreadyPaid: paid)
        try await conn.query(
            """
            INSERT INTO billing.payments (charge_id, amount_minor, currency, receipt, paid_at, recorded_by_message)
            VALUES (\(payment.chargeId), \(payment.amount.minor), \(payment.amount.currency.rawValue), \(payment.receipt),
                    \(context.now), \(context.header.id))
            """, logger: context.logger)
        try context.emit(ChargePaid(chargeId: payment.chargeId, amount: payment.amount, receipt: payment.receipt))
        context.logger.info("charge paid", metadata: ["charge.id": "\(payment.chargeId)", "receipt": "\(payment.receipt)"])
    }

    // MARK: Review outcome

    /// The current prefactura row, locked.
    struct PrefacturaRow {
        var workOrderId: String
        var version: Int
        var status: String
        var lines: String
        var amount: Money
        var needsPricing: Bool
        var country: Country
    }

    func lockPrefactura(_ id: String, _ context: MessageContext) async throws -> PrefacturaRow? {
        let rows = try await context.connection.query(
            """
            SELECT p.work_order_id, p.version, p.status, p.lines::text, p.amount_minor, p.currency, p.needs_pricing, w.country
            FROM billing.prefacturas p JOIN billing.work_orders w USING (work_order_id)
            WHERE p.id = \(id)
            FOR UPDATE OF p
            """, logger: context.logger)
        var found: PrefacturaRow?
        for try await (wo, version, status, lines, minor, currency, needsPricing, country) in rows.decode(
            (String, Int, String, String, Int64, String, Bool, String).self)
        {
            guard let c = Currency(rawValue: currency), let k = Country(rawValue: country) else { continue }
            found = PrefacturaRow(
                workOrderId: wo, version: version, status: status, lines: lines, amount: Money(minor: minor, currency: c),
                needsPricing: needsPricing, country: k)
        }
        return found
    }

    /// `billing.prefactura-approved` → the invoice, once per OT (§4.7). An approval of an unknown,
    /// returned or already invoiced prefactura is a stale fact: logged and ignored.
    func issueInvoice(_ approved: PrefacturaApproved, _ context: inout MessageContext) async throws {
        var log = context.logger
        log[metadataKey: "prefactura.id"] = "\(approved.prefacturaId)"
        log[metadataKey: "ot.id"] = "\(approved.workOrderId)"
        guard let pf = try await lockPrefactura(approved.prefacturaId, context), pf.workOrderId == approved.workOrderId else {
            log.warning("approval of an unknown prefactura (or of another work order); ignored")
            return
        }
        guard pf.status == "issued" else {
            log.notice("approval of a prefactura that is \(pf.status); ignored")
            return
        }
        let issuer = BillingRules.issuer(for: pf.country)
        let year = String(BillingRules.year(of: context.now))
        let rows = try await context.connection.query(
            """
            WITH inv AS (
                INSERT INTO billing.invoices (id, prefactura_id, work_order_id, amount_minor, currency, issuer, needs_pricing,
                                              approved_by, approval_notes, issued_at)
                VALUES ('FAC-' || \(pf.country.rawValue) || '-' || \(year) || '-' || lpad(nextval('billing.invoice_number')::text, 7, '0'),
                        \(approved.prefacturaId), \(pf.workOrderId), \(pf.amount.minor), \(pf.amount.currency.rawValue),
                        \(issuer.rawValue), \(pf.needsPricing), \(approved.by), \(approved.notes), \(context.now))
                ON CONFLICT DO NOTHING
                RETURNING id, prefactura_id)
            UPDATE billing.prefacturas SET status = 'invoiced' FROM inv WHERE prefacturas.id = inv.prefactura_id
            RETURNING inv.id
            """, logger: log)
        var invoiceId: String?
        for try await id in rows.decode(String.self) { invoiceId = id }
        guard let invoiceId else {
            log.notice("work order already invoiced; ignored")
            return
        }
        try context.emit(
            InvoiceIssued(
                invoiceId: invoiceId, prefacturaId: approved.prefacturaId, workOrderId: pf.workOrderId, amount: pf.amount,
                issuer: issuer))
        log.info("invoice issued", metadata: ["invoice.id": "\(invoiceId)", "issuer": "\(issuer.rawValue)"])
    }

    /// `billing.prefactura-returned` → the prefactura is marked returned (who, when, notes) and
    /// its correction is issued: a new prefactura (new id, version + 1, `corrects` = the returned
    /// one) with the same lines — the correction itself is made out of band by the quality
    /// controller; the platform records the notes and puts the prefactura back into review. A
    /// return of a prefactura that is no longer current is a stale fact: logged and ignored.
    func reissue(_ returned: PrefacturaReturned, _ context: inout MessageContext) async throws {
        var log = context.logger
        log[metadataKey: "prefactura.id"] = "\(returned.prefacturaId)"
        log[metadataKey: "ot.id"] = "\(returned.workOrderId)"
        guard let pf = try await lockPrefactura(returned.prefacturaId, context), pf.workOrderId == returned.workOrderId else {
            log.warning("return of an unknown prefactura (or of another work order); ignored")
            return
        }
        guard pf.status == "issued" else {
            log.notice("return of a prefactura that is \(pf.status); ignored")
            return
        }
        let year = String(BillingRules.year(of: context.now))
        let rows = try await context.connection.query(
            """
            WITH old AS (
                UPDATE billing.prefacturas
                SET status = 'returned', returned_at = \(context.now), returned_by = \(returned.by), return_notes = \(returned.notes)
                WHERE id = \(returned.prefacturaId) AND status = 'issued'
                RETURNING id, work_order_id, version, lines, amount_minor, currency, needs_pricing)
            INSERT INTO billing.prefacturas (id, work_order_id, version, status, lines, amount_minor, currency, needs_pricing,
                                             corrects, issued_at)
            SELECT 'PF-' || \(year) || '-' || lpad(nextval('billing.prefactura_number')::text, 6, '0'), work_order_id, version + 1,
                   'issued', lines, amount_minor, currency, needs_pricing, id, \(context.now)
            FROM old
            RETURNING id
            """, logger: log)
        var newId: String?
        for try await id in rows.decode(String.self) { newId = id }
        guard let newId else {
            log.notice("prefactura no longer issued; ignored")
            return
        }
        let lines = try JSONDecoder().decode([PrefacturaLine].self, from: Data(pf.lines.utf8))
        try context.emit(PrefacturaIssued(prefacturaId: newId, workOrderId: pf.workOrderId, amount: pf.amount, lines: lines))
        log.info("prefactura returned and re-issued", metadata: ["prefactura.new": "\(newId)", "version": "\(pf.version + 1)"])
    }
}
