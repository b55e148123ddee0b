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
    (
        2,
        """
        ALTER TABLE {schema}.complaints ADD COLUMN reference text;
        ALTER TABLE {schema}.complaints ADD COLUMN source text;
        ALTER TABLE {schema}.complaints ADD COLUMN external_ref text;
        CREATE INDEX complaints_reference ON {schema}.complaints (reference);
        CREATE TABLE {schema}.pending (
            source text NOT NULL,
            event_id text NOT NULL,
            complaint_id text NOT NULL,
            topic text NOT NULL,
            partition int NOT NULL,
            "offset" bigint NOT NULL,
            sealed bytea NOT NULL,
            held_at timestamptz NOT NULL,
            PRIMARY KEY (source, event_id)
        );
        CREATE INDEX pending_complaint ON {schema}.pending (complaint_id, held_at);
        CREATE INDEX pending_held ON {schema}.pending (partition, held_at);
        """,
    ),
    (
        3,
        # The sealed contact data of each complaint, as the customer gave it then. One row per
        # complaint (not per customer) so that instances on different partitions never wait
        # on each other's row locks when the same customer complains twice at once.
        """
        CREATE TABLE {schema}.contacts (
            complaint_id text PRIMARY KEY,
            customer_token text NOT NULL,
            sealed bytea NOT NULL,
            sealed_at timestamptz NOT NULL
        );
        CREATE INDEX contacts_customer ON {schema}.contacts (customer_token, sealed_at);
        INSERT INTO {schema}.contacts (complaint_id, customer_token, sealed, sealed_at)
        SELECT DISTINCT ON (v.customer_token) c.complaint_id, v.customer_token, v.sealed,
               v.updated_at
          FROM {schema}.vault v JOIN {schema}.complaints c USING (customer_token)
         ORDER BY v.customer_token, c.registered_at DESC;
        DROP TABLE {schema}.vault;
        """,
    ),
)
