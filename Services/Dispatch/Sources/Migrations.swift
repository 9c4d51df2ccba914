import Runtime

/// The `dispatch` schema. Since migration 2 the OTs live in the service kit's `aggregates`
/// table (kind `workOrder`), their history in `history`, their SLA timers in `timers`; the
/// views `work_orders`, `transitions` and `sla_deadlines` show them as the follow-up reports of
/// OPE-SUM-GES-P08 steps 11–14 read them. Migration 1's tables are kept as `*_v1`.
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
        Migration(
            2, "the service kit's store: reporting views over aggregates and history",
            [
                "ALTER TABLE IF EXISTS dispatch.sla_deadlines RENAME TO sla_deadlines_v1",
                "ALTER TABLE IF EXISTS dispatch.transitions RENAME TO transitions_v1",
                "ALTER TABLE IF EXISTS dispatch.work_orders RENAME TO work_orders_v1",
                """
                CREATE VIEW dispatch.work_orders AS
                SELECT a.id, a.status AS state, d->>'number' AS number, d->>'kind' AS kind, d->'customer' AS customer,
                       d->'customer'->>'id' AS customer_id, d->'customer'->>'sector' AS sector,
                       d->'customer'->>'segment' AS segment, d->'customer'->>'country' AS country,
                       d->>'serviceLine' AS service_line, (d->>'dueBy')::timestamptz AS due_by,
                       (d->'amount'->>'minor')::bigint AS amount_minor, d->'amount'->>'currency' AS amount_currency,
                       (d->>'approvedAt')::timestamptz AS approved_at, d->>'approvedBy' AS approved_by,
                       (d->>'priority')::int AS priority, (d->>'prioritizedLevel')::int AS prioritized_level,
                       (d->>'contactBy')::timestamptz AS contact_by, (d->>'dispatchedAt')::timestamptz AS dispatched_at,
                       d->'assignee' AS assignee, (d->>'scheduledFor')::timestamptz AS scheduled_for,
                       (d->>'firstAssignedAt')::timestamptz AS first_assigned_at, (d->>'assignedAt')::timestamptz AS assigned_at,
                       d->>'outcome' AS outcome, d->>'notes' AS notes, (d->>'attendedAt')::timestamptz AS attended_at,
                       (d->>'closedAt')::timestamptz AS closed_at, d->>'closedBy' AS closed_by,
                       (d->>'cancelledAt')::timestamptz AS cancelled_at, d->>'cancelReason' AS cancel_reason,
                       (d->>'rejectedAt')::timestamptz AS rejected_at, d->>'rejectReason' AS reject_reason,
                       a.correlation_id, a.created_at, a.updated_at
                FROM dispatch.aggregates a CROSS JOIN LATERAL (SELECT a.data AS d) x
                WHERE a.kind = 'workOrder'
                """,
                """
                CREATE VIEW dispatch.transitions AS
                SELECT seq AS id, id AS work_order_id, from_status AS from_state, to_status AS to_state, at, by, reason, message_id
                FROM dispatch.history WHERE kind = 'workOrder' AND to_status IS NOT NULL
                """,
                """
                CREATE VIEW dispatch.sla_deadlines AS
                SELECT a.id AS work_order_id, s.key AS what, (s.value->>'deadline')::timestamptz AS deadline,
                       (s.value->>'metAt')::timestamptz AS met_at, (s.value->>'breachedAt')::timestamptz AS breached_at
                FROM dispatch.aggregates a CROSS JOIN LATERAL jsonb_each(a.data->'sla') s
                WHERE a.kind = 'workOrder'
                """,
            ]),
    ]
}
