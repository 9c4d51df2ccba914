import Runtime

/// The `commercial` schema. Since migration 3 the OTs (`workOrder`, with their folder and scope
/// changes) and the pole-move requests (`poleMoveRequest`) live in the service kit's
/// `aggregates` table; the views below show them under the names of migrations 1–2, whose
/// tables are kept as `*_v1`. The sequence `work_order_number` still numbers the OTs. Since
/// migration 4 the first OT of each customer carries the alias `customer:<country>:<tax id>`.
public enum CommercialMigrations {
    public static let all: [Migration] = [
        Migration(
            1, "work orders and their document folders",
            [
                "CREATE SEQUENCE commercial.work_order_number",
                """
                CREATE TABLE commercial.work_orders (
                    id text PRIMARY KEY,
                    number text NOT NULL UNIQUE,
                    kind text NOT NULL,
                    service_line text,
                    customer_id text NOT NULL,
                    customer jsonb NOT NULL,
                    country text NOT NULL,
                    public_sector boolean NOT NULL,
                    opportunity_id text,
                    purchase_order_number text,
                    purchase_order_minor bigint,
                    purchase_order_currency text,
                    due_by timestamptz,
                    description text NOT NULL,
                    folder text NOT NULL,
                    state text NOT NULL DEFAULT 'opened',
                    opened_at timestamptz NOT NULL,
                    opened_by_message text NOT NULL)
                """,
                "CREATE INDEX work_orders_customer ON commercial.work_orders (customer_id)",
                """
                CREATE TABLE commercial.documents (
                    work_order_id text NOT NULL REFERENCES commercial.work_orders (id),
                    position int NOT NULL,
                    kind text NOT NULL,
                    uri text NOT NULL,
                    sha256 text,
                    added_at timestamptz NOT NULL,
                    PRIMARY KEY (work_order_id, position))
                """,
            ]),
        Migration(
            2, "scope changes and pole-move requests",
            [
                """
                CREATE TABLE commercial.scope_changes (
                    id bigserial PRIMARY KEY,
                    work_order_id text NOT NULL REFERENCES commercial.work_orders (id),
                    changes jsonb NOT NULL,
                    document_uri text NOT NULL,
                    changed_at timestamptz NOT NULL,
                    by_message text NOT NULL)
                """,
                """
                CREATE TABLE commercial.pole_move_requests (
                    id text PRIMARY KEY,
                    requester_name text NOT NULL,
                    requester_id_number text NOT NULL,
                    address text NOT NULL,
                    state text NOT NULL,
                    charge_id text UNIQUE,
                    work_order_id text,
                    requested_at timestamptz NOT NULL,
                    paid_at timestamptz)
                """,
            ]),
        Migration(
            3, "the service kit's store: views over aggregates",
            [
                "ALTER TABLE IF EXISTS commercial.pole_move_requests RENAME TO pole_move_requests_v1",
                "ALTER TABLE IF EXISTS commercial.scope_changes RENAME TO scope_changes_v1",
                "ALTER TABLE IF EXISTS commercial.documents RENAME TO documents_v1",
                "ALTER TABLE IF EXISTS commercial.work_orders RENAME TO work_orders_v1",
                """
                CREATE VIEW commercial.work_orders AS
                SELECT a.id, a.data->>'number' AS number, a.data->>'kind' AS kind, a.data->>'serviceLine' AS service_line,
                       a.data->'customer'->>'id' AS customer_id, a.data->'customer' AS customer,
                       a.data->'customer'->>'country' AS country, (a.data->'customer'->>'sector') = 'public' AS public_sector,
                       a.data->>'opportunityId' AS opportunity_id, a.data->'purchaseOrder'->>'number' AS purchase_order_number,
                       (a.data->'purchaseOrder'->'amount'->>'minor')::bigint AS purchase_order_minor,
                       a.data->'purchaseOrder'->'amount'->>'currency' AS purchase_order_currency,
                       (a.data->>'dueBy')::timestamptz AS due_by, a.data->>'description' AS description,
                       a.data->>'folder' AS folder, a.status AS state, (a.data->>'openedAt')::timestamptz AS opened_at,
                       a.data->>'openedByMessage' AS opened_by_message
                FROM commercial.aggregates a WHERE a.kind = 'workOrder'
                """,
                """
                CREATE VIEW commercial.documents AS
                SELECT a.id AS work_order_id, d.n::int AS position, d.doc->'document'->>'kind' AS kind,
                       d.doc->'document'->>'uri' AS uri, d.doc->'document'->>'sha256' AS sha256,
                       (d.doc->>'addedAt')::timestamptz AS added_at
                FROM commercial.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'documents') WITH ORDINALITY AS d(doc, n)
                WHERE a.kind = 'workOrder'
                """,
                """
                CREATE VIEW commercial.scope_changes AS
                SELECT c.n AS id, a.id AS work_order_id, c.e->'changes' AS changes, c.e->>'documentUri' AS document_uri,
                       (c.e->>'changedAt')::timestamptz AS changed_at, c.e->>'byMessage' AS by_message
                FROM commercial.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'scopeChanges') WITH ORDINALITY AS c(e, n)
                WHERE a.kind = 'workOrder'
                """,
                """
                CREATE VIEW commercial.pole_move_requests AS
                SELECT a.id, a.data->'requester'->>'name' AS requester_name, a.data->'requester'->>'idNumber' AS requester_id_number,
                       a.data->>'address' AS address, a.status AS state, a.data->>'chargeId' AS charge_id,
                       a.data->>'workOrderId' AS work_order_id, (a.data->>'requestedAt')::timestamptz AS requested_at,
                       (a.data->>'paidAt')::timestamptz AS paid_at
                FROM commercial.aggregates a WHERE a.kind = 'poleMoveRequest'
                """,
            ]),
        Migration(
            4, "known customers (OPE-SUM-GES-P08 step 1): the first OT of each customer so far registers its alias",
            [
                // The alias of KnownCustomers.alias(country:taxId:): country, then the tax id's
                // letters and digits in upper case.
                """
                INSERT INTO commercial.aliases (kind, alias, id)
                SELECT DISTINCT ON (alias) 'workOrder', alias, id
                FROM (
                    SELECT a.id, a.created_at,
                           'customer:' || (a.data->'customer'->>'country') || ':'
                               || upper(regexp_replace(a.data->'customer'->>'taxId', '[^[:alnum:]]', '', 'g')) AS alias
                    FROM commercial.aggregates a
                    WHERE a.kind = 'workOrder' AND a.data->'customer'->>'id' <> 'COMTECO-GENERICO'
                ) w
                ORDER BY alias, created_at
                ON CONFLICT (kind, alias) DO NOTHING
                """,
            ]),
        Migration(
            5, "the pole-move follow-up: the OT's attendance or cancellation per request, the monthly reports",
            [
                """
                CREATE OR REPLACE VIEW commercial.pole_move_requests AS
                SELECT a.id, a.data->'requester'->>'name' AS requester_name, a.data->'requester'->>'idNumber' AS requester_id_number,
                       a.data->>'address' AS address, a.status AS state, a.data->>'chargeId' AS charge_id,
                       a.data->>'workOrderId' AS work_order_id, (a.data->>'requestedAt')::timestamptz AS requested_at,
                       (a.data->>'paidAt')::timestamptz AS paid_at,
                       CASE a.status WHEN 'attended' THEN 'ATENDIDO' WHEN 'cancelled' THEN 'ANULADO' ELSE 'REGISTRADO' END AS seed_state,
                       (a.data->>'attendedAt')::timestamptz AS attended_at, (a.data->>'cancelledAt')::timestamptz AS cancelled_at,
                       a.data->>'cancelReason' AS cancel_reason, a.data->>'correctiveAction' AS corrective_action,
                       a.data->>'correctiveActionBy' AS corrective_action_by
                FROM commercial.aggregates a WHERE a.kind = 'poleMoveRequest'
                """,
                """
                CREATE VIEW commercial.pole_move_reports AS
                SELECT a.id AS month, a.status AS state, (a.data->'report'->>'registrado')::int AS registrado,
                       (a.data->'report'->>'atendido')::int AS atendido, (a.data->'report'->>'anulado')::int AS anulado,
                       (a.data->'report'->>'total')::int AS total, a.data->'report'->>'verdict' AS verdict,
                       a.data->'report'->>'preparedBy' AS prepared_by, (a.data->'report'->>'byBackup')::boolean AS by_backup,
                       (a.data->>'reportedAt')::timestamptz AS reported_at, a.data->'report' AS report
                FROM commercial.aggregates a WHERE a.kind = 'poleMoveMonth'
                """,
            ]),
    ]
}
