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
    (
        2,
        """
        -- Rows written before delivery existed were never sent: they stay as history.
        ALTER TABLE {schema}.outbox
            ADD COLUMN state text NOT NULL DEFAULT 'skipped',
            ADD COLUMN subject text NOT NULL DEFAULT '',
            ADD COLUMN html text,
            ADD COLUMN urgent boolean NOT NULL DEFAULT false,
            ADD COLUMN attempts int NOT NULL DEFAULT 0,
            ADD COLUMN next_attempt_at timestamptz,
            ADD COLUMN lease_until timestamptz,
            ADD COLUMN detail text,
            ADD COLUMN updated_at timestamptz;
        ALTER TABLE {schema}.outbox ALTER COLUMN state SET DEFAULT 'queued';
        CREATE INDEX outbox_due ON {schema}.outbox (channel, next_attempt_at)
            WHERE state IN ('queued', 'retrying', 'deferred');
        CREATE INDEX outbox_sending ON {schema}.outbox (lease_until) WHERE state = 'sending';
        -- Outcomes the senders recorded, published on the topic by the worker's loop.
        CREATE TABLE {schema}.outcomes (
            id bigserial PRIMARY KEY,
            notification_key text NOT NULL REFERENCES {schema}.outbox,
            outcome text NOT NULL,
            attempts int NOT NULL,
            detail text,
            next_attempt_at timestamptz,
            at timestamptz NOT NULL,
            published_at timestamptz
        );
        CREATE INDEX outcomes_unpublished ON {schema}.outcomes (id) WHERE published_at IS NULL;
        -- What notification knows of each complaint, to address and word its notices.
        CREATE TABLE {schema}.complaints (
            complaint_id text PRIMARY KEY,
            reference text,
            language text,
            time_zone text,
            utc_offset text,
            customer_token text,
            subject text,
            description text NOT NULL DEFAULT '',
            category text,
            occurred_at timestamptz,
            historical boolean NOT NULL DEFAULT false,
            ack_wait_until timestamptz,
            owner text,
            department text,
            priority text,
            sensitive boolean NOT NULL DEFAULT false,
            special_periods text[] NOT NULL DEFAULT '{}',
            routed_version int,
            resolve_deadline timestamptz,
            updated_at timestamptz NOT NULL
        );
        CREATE INDEX complaints_ack_wait ON {schema}.complaints (ack_wait_until)
            WHERE ack_wait_until IS NOT NULL;
        """,
    ),
    (
        3,
        """
        -- Where the complaint came from (a survey answer names it) and how the customer is
        -- reached (from the masked contact: 'email' or 'phone'; the address stays in the vault).
        ALTER TABLE {schema}.complaints
            ADD COLUMN source text,
            ADD COLUMN external_ref text,
            ADD COLUMN contact_kind text,
            ADD COLUMN follow_up_deadline timestamptz,
            ADD COLUMN surveyed boolean NOT NULL DEFAULT false,
            ADD COLUMN safety boolean NOT NULL DEFAULT false;
        CREATE INDEX outbox_progress ON {schema}.outbox (complaint_id, created_at)
            WHERE kind = 'progress';
        CREATE INDEX outbox_recipient ON {schema}.outbox (recipient, channel, updated_at)
            WHERE state = 'sent';
        -- Early-warning episodes: what management was last told of each.
        CREATE TABLE {schema}.alerts (
            alert_key text PRIMARY KEY,
            revision int NOT NULL,
            status text NOT NULL,
            announced_count int NOT NULL,
            announced_revision int NOT NULL,
            updated_at timestamptz NOT NULL
        );
        """,
    ),
    (
        4,
        """
        -- How a survey ended: 'answered', or 'no_answer' once its link expired unanswered.
        ALTER TABLE {schema}.complaints ADD COLUMN survey_closed text;
        CREATE INDEX complaints_survey_open ON {schema}.complaints (follow_up_deadline)
            WHERE follow_up_deadline IS NOT NULL AND survey_closed IS NULL;
        """,
    ),
    (
        5,
        # The category's name as people read it, by language, from routing decisions.
        """
        ALTER TABLE {schema}.complaints
            ADD COLUMN category_display jsonb NOT NULL DEFAULT '{}'::jsonb;
        """,
    ),
    (
        6,
        # Lifecycle events of complaints not seen registered yet (the worker's topics arrive
        # in no order relative to each other): kept until the registration comes.
        """
        CREATE TABLE {schema}.held_lifecycle (
            complaint_id text NOT NULL,
            source text NOT NULL,
            source_event_id text NOT NULL,
            payload jsonb NOT NULL,
            held_at timestamptz NOT NULL,
            PRIMARY KEY (complaint_id, source, source_event_id)
        );
        CREATE INDEX held_lifecycle_age ON {schema}.held_lifecycle (held_at);
        """,
    ),
)
