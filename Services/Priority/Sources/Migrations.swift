import Runtime

/// The `priority` schema: the kit's tables, the damage-number sequence, and views over the damage
/// cases and the OTs' priorities for reports and the KPI (`otctl kpi damages`).
public enum PriorityMigrations {
    public static let all: [Migration] = [
        Migration(
            1, "damage numbers; views: damages, work_orders",
            [
                "CREATE SEQUENCE priority.damage_number",
                """
                CREATE VIEW priority.damages AS
                SELECT d.e->>'damageId' AS damage_id, a.id AS product_id, a.data->>'productType' AS product_type,
                       a.data->'customer'->>'id' AS customer_id, d.e->>'channel' AS channel, d.e->>'fault' AS fault,
                       d.e->>'phase' AS state, (d.e->>'reiteration')::int AS reiteration, (d.e->>'reports')::int AS reports,
                       (d.e->>'reiteration')::int + (d.e->>'reports')::int AS reiterations, d.e->>'previousDamageId' AS previous_damage_id,
                       (d.e->>'registeredAt')::timestamptz AS registered_at, (d.e->>'reiteratedAt')::timestamptz AS reiterated_at,
                       d.e->>'workOrderId' AS work_order_id, d.e->'workOrderIds' AS work_order_ids,
                       (d.e->>'repairBy')::timestamptz AS repair_by, (d.e->>'qualityDueAt')::timestamptz AS quality_due_at,
                       (d.e->>'escalationStep')::int AS escalation_step, (d.e->>'solvedAt')::timestamptz AS solved_at,
                       (d.e->>'closedAt')::timestamptz AS closed_at, d.e->>'how' AS how
                FROM priority.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'damages') AS d(e)
                WHERE a.kind = 'product'
                """,
                """
                CREATE VIEW priority.work_orders AS
                SELECT a.id, a.status AS state, a.data->>'number' AS number, a.data->>'kind' AS kind,
                       a.data->'customer'->>'segment' AS segment, a.data->>'productId' AS product_id,
                       COALESCE(a.data->>'productType', a.data->'damage'->'product'->>'type') AS product_type,
                       a.data->'damage'->>'damageId' AS damage_id, (a.data->>'level')::int AS level, a.data->>'row' AS matrix_row,
                       (a.data->>'reiterated')::boolean AS reiterated, (a.data->>'openedAt')::timestamptz AS opened_at,
                       (a.data->>'deadline')::timestamptz AS deadline, a.data->>'ended' AS ended, (a.data->>'endedAt')::timestamptz AS ended_at,
                       (a.data->>'highVulnerabilityAt')::timestamptz AS high_vulnerability_at
                FROM priority.aggregates a WHERE a.kind = 'workorder'
                """,
            ]),
        // The estimated repair time is told by the repair OT itself (damage.reiterated): the
        // damage no longer keeps its OT's deadline.
        Migration(
            2, "view damages without repair_by",
            [
                "DROP VIEW priority.damages",
                """
                CREATE VIEW priority.damages AS
                SELECT d.e->>'damageId' AS damage_id, a.id AS product_id, a.data->>'productType' AS product_type,
                       a.data->'customer'->>'id' AS customer_id, d.e->>'channel' AS channel, d.e->>'fault' AS fault,
                       d.e->>'phase' AS state, (d.e->>'reiteration')::int AS reiteration, (d.e->>'reports')::int AS reports,
                       (d.e->>'reiteration')::int + (d.e->>'reports')::int AS reiterations, d.e->>'previousDamageId' AS previous_damage_id,
                       (d.e->>'registeredAt')::timestamptz AS registered_at, (d.e->>'reiteratedAt')::timestamptz AS reiterated_at,
                       d.e->>'workOrderId' AS work_order_id, d.e->'workOrderIds' AS work_order_ids,
                       (d.e->>'qualityDueAt')::timestamptz AS quality_due_at,
                       (d.e->>'escalationStep')::int AS escalation_step, (d.e->>'solvedAt')::timestamptz AS solved_at,
                       (d.e->>'closedAt')::timestamptz AS closed_at, d.e->>'how' AS how
                FROM priority.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'damages') AS d(e)
                WHERE a.kind = 'product'
                """,
            ]),
    ]
}
