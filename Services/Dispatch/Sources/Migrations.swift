import Runtime

/// The `dispatch` schema: the OT as operations sees it, its transition history (for the
/// follow-up reports of OPE-SUM-GES-P08 steps 11–14) and its SLA deadlines (durable timers).
public enum DispatchMigrations {
    public static let all: [Migration] = [
        Migration(
            1, "work orders, transitions and SLA deadlines",
            [
                """
                CREATE TABLE dispatch.work_orders (
                    id text PRIMARY KEY,
                    state text NOT NULL,
                    number text,
                    kind text,
                    customer jsonb,
                    customer_id text,
                    sector text,
                    segment text,
                    country text,
                    service_line text,
                    due_by timestamptz,
                    amount_minor bigint,
                    amount_currency text,
                    approved_at timestamptz,
                    approved_by text,
                    priority int,
                    prioritized_level int,
                    contact_by timestamptz,
                    dispatched_at timestamptz,
                    assignee jsonb,
                    scheduled_for timestamptz,
                    first_assigned_at timestamptz,
                    assigned_at timestamptz,
                    outcome text,
                    notes text,
                    attended_at timestamptz,
                    closed_at timestamptz,
                    closed_by text,
                    cancelled_at timestamptz,
                    cancel_reason text,
                    rejected_at timestamptz,
                    reject_reason text,
                    correlation_id text,
                    causation_id text,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL)
                """,
                "CREATE INDEX work_orders_created ON dispatch.work_orders (created_at)",
                "CREATE INDEX work_orders_state ON dispatch.work_orders (state)",
                """
                CREATE TABLE dispatch.transitions (
                    id bigserial PRIMARY KEY,
                    work_order_id text NOT NULL REFERENCES dispatch.work_orders (id),
                    from_state text,
                    to_state text NOT NULL,
                    at timestamptz NOT NULL,
                    by text,
                    reason text,
                    message_id text NOT NULL)
                """,
                "CREATE INDEX transitions_work_order ON dispatch.transitions (work_order_id, at, id)",
                """
                CREATE TABLE dispatch.sla_deadlines (
                    work_order_id text NOT NULL REFERENCES dispatch.work_orders (id),
                    what text NOT NULL CHECK (what IN ('contact', 'due', 'priority')),
                    deadline timestamptz NOT NULL,
                    met_at timestamptz,
                    breached_at timestamptz,
                    PRIMARY KEY (work_order_id, what))
                """,
                "CREATE INDEX sla_deadlines_due ON dispatch.sla_deadlines (deadline) WHERE breached_at IS NULL AND met_at IS NULL",
            ]),
    ]
}
