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
    (
        3,
        # Transfers, corrections and reopens read before the complaint's first decision.
        """
        CREATE TABLE {schema}.pending_changes (
            cause text PRIMARY KEY,
            complaint_id text NOT NULL,
            topic text NOT NULL,
            partition int NOT NULL,
            "offset" bigint NOT NULL,
            value bytea NOT NULL,
            headers jsonb NOT NULL,
            held_at timestamptz NOT NULL
        );
        CREATE INDEX pending_changes_complaint ON {schema}.pending_changes (complaint_id);
        """,
    ),
    (
        4,
        # Each change applied once: a change read again after its decision was committed
        # (a crash before the offset commit) is recognised by its cause and not applied twice.
        """
        CREATE TABLE {schema}.applied_changes (
            cause text PRIMARY KEY,
            complaint_id text NOT NULL,
            applied_at timestamptz NOT NULL
        );
        """,
    ),
)
