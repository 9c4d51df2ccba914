import Runtime

/// The `approval` schema.
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
    ]
}
