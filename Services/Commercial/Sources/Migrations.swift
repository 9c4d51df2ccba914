import Runtime

/// The `commercial` schema.
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
    ]
}
