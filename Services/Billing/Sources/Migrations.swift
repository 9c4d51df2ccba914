import Runtime

/// The `billing` schema. Double billing is impossible at the database level:
/// - `work_orders.work_order_id` is the primary key: a closed OT enters billing once, whatever is
///   redelivered or replayed with a new message id;
/// - `prefacturas_current`: at most one non-returned prefactura per work order;
/// - `invoices.work_order_id` and `invoices.prefactura_id` are unique: one invoice per OT;
/// - `charges.request_id` is unique: one CxC per request; `payments.charge_id` is the primary
///   key: one payment per charge.
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
    ]
}
