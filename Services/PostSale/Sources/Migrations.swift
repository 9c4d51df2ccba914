import Runtime

/// The `postsale` schema: the kit's tables, and views over the contracts, their products and the
/// requests for reports and KPIs (`otctl kpi postsale`).
public enum PostSaleMigrations {
    public static let all: [Migration] = [
        Migration(
            1, "views: contracts, products, requests",
            [
                """
                CREATE VIEW postsale.contracts AS
                SELECT a.id, a.status AS state, a.data->'customer'->>'id' AS customer_id, a.data->'customer'->>'name' AS customer_name,
                       (a.data->>'minimumPermanenceUntil')::date AS minimum_permanence_until,
                       jsonb_array_length(a.data->'unpaid') AS unpaid_proformas, (a.data->>'registeredAt')::timestamptz AS registered_at
                FROM postsale.aggregates a WHERE a.kind = 'contract'
                """,
                """
                CREATE VIEW postsale.products AS
                SELECT a.id AS contract_id, p.e->'product'->>'id' AS product_id, p.e->'product'->>'type' AS type,
                       p.e->>'status' AS state, (p.e->'product'->'monthly'->>'minor')::bigint AS monthly_minor,
                       p.e->'product'->'monthly'->>'currency' AS currency, p.e->'product'->>'technology' AS technology,
                       (p.e->'product'->>'installedOn')::date AS installed_on, (p.e->>'withdrawnOn')::date AS withdrawn_on,
                       p.e->>'plan' AS plan, p.e->>'address' AS address, p.e->'services' AS services
                FROM postsale.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'products') AS p(e)
                WHERE a.kind = 'contract'
                """,
                """
                CREATE VIEW postsale.requests AS
                SELECT a.id, a.data->>'flow' AS flow, a.data->>'contractId' AS contract_id, a.status AS state, a.data->>'step' AS step,
                       a.data->>'channel' AS channel, (a.data->>'receivedAt')::timestamptz AS received_at,
                       (a.data->>'attendedAt')::timestamptz AS attended_at, (a.data->>'endedAt')::timestamptz AS ended_at,
                       a.data->>'outcome' AS outcome, (a.data->>'qualityOk')::boolean AS quality_ok,
                       a.data->'missing' AS missing, a.data->>'workOrderId' AS work_order_id, a.data->'results' AS results
                FROM postsale.aggregates a WHERE a.kind = 'request'
                """,
                // Every end of a request records an interaction ("interacción"), as does every contact on the way.
                """
                CREATE VIEW postsale.interactions AS
                SELECT a.id AS request_id, a.data->>'contractId' AS contract_id, a.data->>'flow' AS flow, i.n AS position,
                       (i.e->>'at')::timestamptz AS at, i.e->>'note' AS note
                FROM postsale.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'interactions') WITH ORDINALITY AS i(e, n)
                WHERE a.kind = 'request'
                """,
                // The contracts' history: registrations, suspensions, reconnections, plan changes, withdrawals, …
                """
                CREATE VIEW postsale.contract_history AS
                SELECT h.id AS contract_id, h.seq, h.action, h.from_status, h.to_status, h.reason, h.at, h.message_id
                FROM postsale.history h WHERE h.kind = 'contract'
                """,
            ])
    ]
}
