import Runtime

/// The `records` schema: the kit's tables, and views over the files, their returns and the
/// retrievals for reports and the KPI (`otctl kpi records`).
public enum RecordsMigrations {
    public static let all: [Migration] = [
        Migration(
            1, "views: files, file_returns, retrievals",
            [
                """
                CREATE VIEW records.files AS
                SELECT a.id, a.status AS state, a.data->>'caseKind' AS case_kind, a.data->>'caseId' AS case_id,
                       a.data->>'service' AS service, a.data->>'office' AS office, a.data->'advisor'->>'id' AS advisor_id,
                       a.data->'advisor'->>'name' AS advisor_name, (a.data->>'automatic')::boolean AS automatic,
                       (a.data->>'registeredAt')::timestamptz AS registered_at, (a.data->>'archivedAt')::timestamptz AS archived_at,
                       (a.data->>'retainUntil')::timestamptz AS retain_until, a.data->>'location' AS location,
                       (a.data->>'transferredAt')::timestamptz AS transferred_at, a.data->'missing' AS missing,
                       jsonb_array_length(a.data->'documents') AS documents, a.data->'stored' AS stored
                FROM records.aggregates a WHERE a.kind = 'file'
                """,
                // Every return to an advisor is recorded (seed 002: "la devolución queda registrada").
                """
                CREATE VIEW records.file_returns AS
                SELECT a.id AS file_id, r.n AS position, (r.e->>'at')::timestamptz AS at, r.e->'missing' AS missing,
                       a.data->'advisor'->>'id' AS advisor_id
                FROM records.aggregates a CROSS JOIN LATERAL jsonb_array_elements(a.data->'returns') WITH ORDINALITY AS r(e, n)
                WHERE a.kind = 'file'
                """,
                """
                CREATE VIEW records.retrievals AS
                SELECT a.id, a.status AS state, a.data->>'fileId' AS file_id, a.data->>'caseId' AS case_id, a.data->>'format' AS format,
                       a.data->'requestedBy'->>'unit' AS requested_by_unit, a.data->'requestedBy'->>'name' AS requested_by,
                       (a.data->>'requestedAt')::timestamptz AS requested_at, (a.data->>'deliveredAt')::timestamptz AS delivered_at,
                       a.data->>'deliveredBy' AS delivered_by, (a.data->>'failedAt')::timestamptz AS failed_at, a.data->>'reason' AS reason
                FROM records.aggregates a WHERE a.kind = 'retrieval'
                """,
            ])
    ]
}
