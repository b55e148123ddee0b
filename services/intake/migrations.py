"""Versioned migrations of the intake schema."""

MIGRATIONS = (
    (
        1,
        """
        CREATE TABLE {schema}.seen_events (
            source text NOT NULL,
            event_id text NOT NULL,
            seen_at timestamptz NOT NULL,
            PRIMARY KEY (source, event_id)
        );
        CREATE INDEX seen_events_seen_at ON {schema}.seen_events (seen_at);
        CREATE TABLE {schema}.vault (
            customer_token text PRIMARY KEY,
            sealed bytea NOT NULL,
            updated_at timestamptz NOT NULL
        );
        CREATE TABLE {schema}.complaints (
            complaint_id text PRIMARY KEY,
            customer_token text NOT NULL,
            category text,
            registered_at timestamptz NOT NULL,
            repeat_count int NOT NULL DEFAULT 0
        );
        CREATE INDEX complaints_customer ON {schema}.complaints (customer_token, registered_at);
        """,
    ),
)
