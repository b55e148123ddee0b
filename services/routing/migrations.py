"""Versioned migrations of the routing schema."""

MIGRATIONS = (
    (
        1,
        """
        CREATE TABLE {schema}.decisions (
            complaint_id text PRIMARY KEY,
            version int NOT NULL,
            owner text,
            department text,
            priority text,
            open boolean NOT NULL,
            decision jsonb,
            occurred_at timestamptz,
            updated_at timestamptz NOT NULL
        );
        CREATE INDEX decisions_open_owner ON {schema}.decisions (owner) WHERE open;
        """,
    ),
    (2, "ALTER TABLE {schema}.decisions ADD COLUMN source text;"),
)
