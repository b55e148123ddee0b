"""Versioned migrations of the notification schema."""

MIGRATIONS = (
    (
        1,
        """
        CREATE TABLE {schema}.outbox (
            notification_key text PRIMARY KEY,
            complaint_id text NOT NULL,
            kind text NOT NULL,
            audience text NOT NULL,
            recipient text NOT NULL,
            channel text NOT NULL,
            language text NOT NULL,
            body text NOT NULL,
            created_at timestamptz NOT NULL
        );
        CREATE INDEX outbox_complaint ON {schema}.outbox (complaint_id);
        """,
    ),
)
