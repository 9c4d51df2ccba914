import Runtime

/// The `approval` schema. Since migration 3 the OTs at the gate (`workOrder`), the prefactura
/// reviews of each OT (`prefacturaReview`) and the surveys (`survey`) live in the service kit's
/// `aggregates` table and their decisions in `history`; the views below show them under the
/// names of migration 1 (whose tables are kept as `*_v1`).
public enum ApprovalMigrations {
    public static let all: [Migration] = [
        Migration(
            1, "work orders under the quality gate, prefactura reviews, surveys",
            [
                """
                CREATE TABLE approval.work_orders (
                    id text PRIMARY KEY,
                    number text NOT NULL,
                    kind text NOT NULL,
                    service_line text,
                    customer jsonb NOT NULL,
                    due_by timestamptz,
                    purchase_order_number text,
                    purchase_order_minor bigint,
                    purchase_order_currency text,
                    state text NOT NULL,
                    opened_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL)
                """,
                """
                CREATE TABLE approval.documents (
                    work_order_id text NOT NULL REFERENCES approval.work_orders (id),
                    position int NOT NULL,
                    kind text NOT NULL,
                    uri text NOT NULL,
                    sha256 text,
                    added_at timestamptz NOT NULL,
                    added_by_message text NOT NULL,
                    PRIMARY KEY (work_order_id, position),
                    UNIQUE (work_order_id, kind, uri))
                """,
                // Every decision on an OT: who, when, why, and the message that caused it.
                """
                CREATE TABLE approval.decisions (
                    seq bigserial PRIMARY KEY,
                    work_order_id text NOT NULL,
                    action text NOT NULL,
                    from_state text,
                    to_state text,
                    by text,
                    reason text,
                    missing_documents text[] NOT NULL DEFAULT '{}',
                    at timestamptz NOT NULL,
                    message_id text NOT NULL)
                """,
                "CREATE INDEX decisions_work_order ON approval.decisions (work_order_id, seq)",
                """
                CREATE TABLE approval.prefacturas (
                    id text PRIMARY KEY,
                    work_order_id text NOT NULL,
                    amount_minor bigint NOT NULL,
                    currency text NOT NULL,
                    lines jsonb NOT NULL,
                    state text NOT NULL,
                    issued_at timestamptz NOT NULL,
                    decided_at timestamptz,
                    decided_by text,
                    notes text)
                """,
                "CREATE INDEX prefacturas_work_order ON approval.prefacturas (work_order_id)",
                """
                CREATE TABLE approval.surveys (
                    id text PRIMARY KEY,
                    work_order_id text NOT NULL UNIQUE,
                    customer jsonb NOT NULL,
                    requested_at timestamptz NOT NULL,
                    requested_by_message text NOT NULL)
                """,
            ]),
        Migration(
            2, "survey answers",
            [
                "ALTER TABLE approval.surveys ADD COLUMN score int CHECK (score BETWEEN 1 AND 5)",
                "ALTER TABLE approval.surveys ADD COLUMN comments text",
                "ALTER TABLE approval.surveys ADD COLUMN answered_at timestamptz",
                "ALTER TABLE approval.surveys ADD COLUMN answered_by text",
            ]),
        Migration(
            3, "the service kit's store: views over aggregates and history",
            [
                "ALTER TABLE IF EXISTS approval.surveys RENAME TO surveys_v1",
                "ALTER TABLE IF EXISTS approval.prefacturas RENAME TO prefacturas_v1",
                "ALTER TABLE IF EXISTS approval.decisions RENAME TO decisions_v1",
                "ALTER TABLE IF EXISTS approval.documents RENAME TO documents_v1",
                "ALTER TABLE IF EXISTS approval.work_orders RENAME TO work_orders_v1",
                """
                CREATE VIEW approval.work_orders AS
                SELECT a.id, a.data->'opening'->>'number' AS number, a.data->'opening'->>'kind' AS kind,
                       a.data->'opening'->>'serviceLine' AS service_line, a.data->'opening'->'customer' AS customer,
                       (a.data->'opening'->>'dueBy')::timestamptz AS due_by,
                       a.data->'opening'->'purchaseOrder'->>'number' AS purchase_order_number,
                       (a.data->'opening'->'purchaseOrder'->'amount'->>'minor')::bigint AS purchase_order_minor,
                       a.data->'opening'->'purchaseOrder'->'amount'->>'currency' AS purchase_order_currency,
                       a.status AS state, (a.data->'opening'->>'openedAt')::timestamptz AS opened_at, a.updated_at
                FROM approval.aggregates a WHERE a.kind = 'workOrder' AND a.data ? 'opening'
                """,
                """
                CREATE VIEW approval.documents AS
                SELECT a.id AS work_order_id, d.n::int AS position, d.doc->'document'->>'kind' AS kind,
                       d.doc->'document'->>'uri' AS uri, d.doc->'document'->>'sha256' AS sha256,
                       (d.doc->>'addedAt')::timestamptz AS added_at, d.doc->>'addedByMessage' AS added_by_message
                FROM approval.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'documents') WITH ORDINALITY AS d(doc, n)
                WHERE a.kind = 'workOrder'
                """,
                """
                CREATE VIEW approval.decisions AS
                SELECT seq, id AS work_order_id, action, from_status AS from_state, to_status AS to_state, by, reason,
                       COALESCE(string_to_array(NULLIF(details->>'missing', ''), ','), '{}') AS missing_documents, at, message_id
                FROM approval.history WHERE kind = 'workOrder'
                """,
                """
                CREATE VIEW approval.prefacturas AS
                SELECT p.e->>'prefacturaId' AS id, a.id AS work_order_id, (p.e->'amount'->>'minor')::bigint AS amount_minor,
                       p.e->'amount'->>'currency' AS currency, p.e->'lines' AS lines, p.e->>'state' AS state,
                       (p.e->>'issuedAt')::timestamptz AS issued_at, (p.e->>'decidedAt')::timestamptz AS decided_at,
                       p.e->>'decidedBy' AS decided_by, p.e->>'notes' AS notes
                FROM approval.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'prefacturas') AS p(e)
                WHERE a.kind = 'prefacturaReview'
                """,
                """
                CREATE VIEW approval.surveys AS
                SELECT a.data->>'surveyId' AS id, a.id AS work_order_id, a.data->'customer' AS customer,
                       (a.data->>'requestedAt')::timestamptz AS requested_at, a.data->>'requestedByMessage' AS requested_by_message,
                       (a.data->>'score')::int AS score, a.data->>'comments' AS comments,
                       (a.data->>'answeredAt')::timestamptz AS answered_at, a.data->>'answeredBy' AS answered_by
                FROM approval.aggregates a WHERE a.kind = 'survey'
                """,
            ]),
    ]
}
