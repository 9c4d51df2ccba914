import Runtime

/// The `billing` schema. Since migration 2 the closed OTs (`workOrder`, with their prefacturas and
/// invoice) and the CxC charges (`charge`, with their payment) live in the service kit's
/// `aggregates` table: one aggregate per OT and per charge request makes double billing
/// impossible (a second closed event or request finds the aggregate). The views below show them
/// under the names of migration 1, whose tables are kept as `*_v1`. Migration 1 said:
/// - `work_orders.work_order_id` is the primary key: a closed OT enters billing once, whatever is
///   redelivered or replayed with a new message id;
/// - `prefacturas_current`: at most one non-returned prefactura per work order;
/// - `invoices.work_order_id` and `invoices.prefactura_id` are unique: one invoice per OT;
/// - `charges.request_id` is unique: one CxC per request; `payments.charge_id` is the primary
///   key: one payment per charge.
///
/// Migration 3 links the charges filed before it to their OTs: a pole move's request
/// (`PMR-…`) named no OT, whose id is `PM-<requestId>` (`PoleMoveRules.workOrderId` in commercial);
/// every charge's OT becomes its alias (the first charge keeps it), so that OT's opening and
/// cancellation reach it from now on. The openings of the OTs of charges already paid went by
/// unseen: those charges are marked `workOrderUntracked` (the reconciliation cannot say they lack
/// an OT). `billing.charges` shows the link.
public enum BillingMigrations {
    public static let all: [Migration] = [
        Migration(
            1, "charges, payments, closed work orders, prefacturas and invoices",
            [
                "CREATE SEQUENCE billing.charge_number",
                "CREATE SEQUENCE billing.prefactura_number",
                "CREATE SEQUENCE billing.invoice_number",
                """
                CREATE TABLE billing.charges (
                    id text PRIMARY KEY,
                    request_id text NOT NULL UNIQUE,
                    amount_minor bigint NOT NULL,
                    currency text NOT NULL,
                    payer_name text NOT NULL,
                    payer_id_number text NOT NULL,
                    reason text NOT NULL,
                    work_order_id text,
                    created_at timestamptz NOT NULL,
                    created_by_message text NOT NULL)
                """,
                "CREATE INDEX charges_created_at ON billing.charges (created_at)",
                """
                CREATE TABLE billing.payments (
                    charge_id text PRIMARY KEY REFERENCES billing.charges (id),
                    amount_minor bigint NOT NULL,
                    currency text NOT NULL,
                    receipt text NOT NULL,
                    paid_at timestamptz NOT NULL,
                    recorded_by_message text NOT NULL)
                """,
                "CREATE INDEX payments_paid_at ON billing.payments (paid_at)",
                """
                CREATE TABLE billing.work_orders (
                    work_order_id text PRIMARY KEY,
                    kind text NOT NULL,
                    customer jsonb NOT NULL,
                    country text NOT NULL,
                    outcome text NOT NULL,
                    closed_at timestamptz NOT NULL,
                    received_at timestamptz NOT NULL,
                    closed_message text NOT NULL)
                """,
                """
                CREATE TABLE billing.prefacturas (
                    id text PRIMARY KEY,
                    work_order_id text NOT NULL REFERENCES billing.work_orders (work_order_id),
                    version int NOT NULL,
                    status text NOT NULL CHECK (status IN ('issued', 'returned', 'invoiced')),
                    lines jsonb NOT NULL,
                    amount_minor bigint NOT NULL,
                    currency text NOT NULL,
                    needs_pricing boolean NOT NULL,
                    corrects text REFERENCES billing.prefacturas (id),
                    issued_at timestamptz NOT NULL,
                    returned_at timestamptz,
                    returned_by text,
                    return_notes text,
                    UNIQUE (work_order_id, version))
                """,
                "CREATE UNIQUE INDEX prefacturas_current ON billing.prefacturas (work_order_id) WHERE status <> 'returned'",
                """
                CREATE TABLE billing.invoices (
                    id text PRIMARY KEY,
                    prefactura_id text NOT NULL UNIQUE REFERENCES billing.prefacturas (id),
                    work_order_id text NOT NULL UNIQUE REFERENCES billing.work_orders (work_order_id),
                    amount_minor bigint NOT NULL,
                    currency text NOT NULL,
                    issuer text NOT NULL,
                    needs_pricing boolean NOT NULL,
                    approved_by text NOT NULL,
                    approval_notes text,
                    issued_at timestamptz NOT NULL)
                """,
                "CREATE INDEX invoices_issued_at ON billing.invoices (issued_at)",
            ]),
        Migration(
            2, "the service kit's store: views over aggregates",
            [
                "ALTER TABLE IF EXISTS billing.invoices RENAME TO invoices_v1",
                "ALTER TABLE IF EXISTS billing.prefacturas RENAME TO prefacturas_v1",
                "ALTER TABLE IF EXISTS billing.work_orders RENAME TO work_orders_v1",
                "ALTER TABLE IF EXISTS billing.payments RENAME TO payments_v1",
                "ALTER TABLE IF EXISTS billing.charges RENAME TO charges_v1",
                """
                CREATE VIEW billing.work_orders AS
                SELECT a.id AS work_order_id, a.data->>'kind' AS kind, a.data->'customer' AS customer,
                       a.data->'customer'->>'country' AS country, a.data->>'outcome' AS outcome,
                       (a.data->>'closedAt')::timestamptz AS closed_at, (a.data->>'receivedAt')::timestamptz AS received_at,
                       a.data->>'closedMessage' AS closed_message
                FROM billing.aggregates a WHERE a.kind = 'workOrder'
                """,
                """
                CREATE VIEW billing.prefacturas AS
                SELECT p.e->>'id' AS id, a.id AS work_order_id, (p.e->>'version')::int AS version, p.e->>'status' AS status,
                       p.e->'lines' AS lines, (p.e->'amount'->>'minor')::bigint AS amount_minor, p.e->'amount'->>'currency' AS currency,
                       (p.e->>'needsPricing')::boolean AS needs_pricing, p.e->>'corrects' AS corrects,
                       (p.e->>'issuedAt')::timestamptz AS issued_at, (p.e->>'returnedAt')::timestamptz AS returned_at,
                       p.e->>'returnedBy' AS returned_by, p.e->>'returnNotes' AS return_notes
                FROM billing.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'prefacturas') AS p(e)
                WHERE a.kind = 'workOrder'
                """,
                """
                CREATE VIEW billing.invoices AS
                SELECT a.data->'invoice'->>'id' AS id, a.data->'invoice'->>'prefacturaId' AS prefactura_id, a.id AS work_order_id,
                       (a.data->'invoice'->'amount'->>'minor')::bigint AS amount_minor,
                       a.data->'invoice'->'amount'->>'currency' AS currency, a.data->'invoice'->>'issuer' AS issuer,
                       (a.data->'invoice'->>'needsPricing')::boolean AS needs_pricing, a.data->'invoice'->>'approvedBy' AS approved_by,
                       a.data->'invoice'->>'approvalNotes' AS approval_notes, (a.data->'invoice'->>'issuedAt')::timestamptz AS issued_at
                FROM billing.aggregates a WHERE a.kind = 'workOrder' AND a.data ? 'invoice'
                """,
                """
                CREATE VIEW billing.charges AS
                SELECT a.data->>'chargeId' AS id, a.id AS request_id, (a.data->'amount'->>'minor')::bigint AS amount_minor,
                       a.data->'amount'->>'currency' AS currency, a.data->'payer'->>'name' AS payer_name,
                       a.data->'payer'->>'idNumber' AS payer_id_number, a.data->>'reason' AS reason,
                       a.data->>'workOrderId' AS work_order_id, (a.data->>'createdAt')::timestamptz AS created_at,
                       a.data->>'createdByMessage' AS created_by_message
                FROM billing.aggregates a WHERE a.kind = 'charge'
                """,
                """
                CREATE VIEW billing.payments AS
                SELECT a.data->>'chargeId' AS charge_id, (a.data->'payment'->'amount'->>'minor')::bigint AS amount_minor,
                       a.data->'payment'->'amount'->>'currency' AS currency, a.data->'payment'->>'receipt' AS receipt,
                       (a.data->'payment'->>'paidAt')::timestamptz AS paid_at, a.data->'payment'->>'recordedByMessage' AS recorded_by_message
                FROM billing.aggregates a WHERE a.kind = 'charge' AND a.data ? 'payment'
                """,
            ]),
        Migration(
            3, "charges linked to their OTs: the OT of a pole move's charge, its alias, what billing learns of it",
            [
                """
                UPDATE billing.aggregates SET data = jsonb_set(data, '{workOrderId}', to_jsonb('PM-' || id))
                WHERE kind = 'charge' AND id LIKE 'PMR-%' AND data->>'workOrderId' IS NULL
                """,
                """
                UPDATE billing.aggregates SET data = data || '{"workOrderUntracked": true}'::jsonb
                WHERE kind = 'charge' AND data ? 'payment' AND data->>'workOrderId' IS NOT NULL
                """,
                """
                INSERT INTO billing.aliases (kind, alias, id)
                SELECT DISTINCT ON (data->>'workOrderId') 'charge', data->>'workOrderId', id
                FROM billing.aggregates
                WHERE kind = 'charge' AND coalesce(data->>'workOrderId', '') <> ''
                ORDER BY data->>'workOrderId', created_at
                ON CONFLICT (kind, alias) DO NOTHING
                """,
                """
                CREATE OR REPLACE VIEW billing.charges AS
                SELECT a.data->>'chargeId' AS id, a.id AS request_id, (a.data->'amount'->>'minor')::bigint AS amount_minor,
                       a.data->'amount'->>'currency' AS currency, a.data->'payer'->>'name' AS payer_name,
                       a.data->'payer'->>'idNumber' AS payer_id_number, a.data->>'reason' AS reason,
                       a.data->>'workOrderId' AS work_order_id, (a.data->>'createdAt')::timestamptz AS created_at,
                       a.data->>'createdByMessage' AS created_by_message, a.status,
                       (a.data->>'workOrderOpenedAt')::timestamptz AS work_order_opened_at,
                       (a.data->>'workOrderCancelledAt')::timestamptz AS work_order_cancelled_at,
                       a.data->>'workOrderCancelReason' AS work_order_cancel_reason,
                       coalesce((a.data->>'workOrderUntracked')::boolean, false) AS work_order_untracked
                FROM billing.aggregates a WHERE a.kind = 'charge'
                """,
            ]),
        Migration(
            4, "recurring invoices: contracts, their products and proformas",
            [
                """
                CREATE VIEW billing.contracts AS
                SELECT a.id, a.status AS state, a.data->'customer'->>'id' AS customer_id, a.data->'customer'->>'name' AS customer_name,
                       jsonb_array_length(a.data->'products') AS products, jsonb_array_length(a.data->'fees') AS fees,
                       (a.data->>'registeredAt')::timestamptz AS registered_at
                FROM billing.aggregates a WHERE a.kind = 'contract'
                """,
                """
                CREATE VIEW billing.proformas AS
                SELECT p.e->'issued'->>'proformaId' AS id, a.id AS contract_id, p.e->'issued'->>'month' AS month,
                       (p.e->'issued'->'total'->>'minor')::bigint AS total_minor, p.e->'issued'->'total'->>'currency' AS currency,
                       (p.e->'issued'->>'dueBy')::date AS due_by, (p.e->>'issuedAt')::timestamptz AS issued_at,
                       p.e->'paid'->>'receipt' AS receipt, (p.e->>'paidAt')::timestamptz AS paid_at, p.e->'issued'->'lines' AS lines
                FROM billing.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'proformas') AS p(e)
                WHERE a.kind = 'contract'
                """,
                """
                CREATE VIEW billing.billing_cycles AS
                SELECT a.id AS month, a.status AS state, r.n AS run, (r.e->>'proformas')::int AS proformas,
                       (r.e->>'requestedAt')::timestamptz AS requested_at, (r.e->>'completedAt')::timestamptz AS completed_at
                FROM billing.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'runs') WITH ORDINALITY AS r(e, n)
                WHERE a.kind = 'cycle'
                """,
            ]),
    ]
}
