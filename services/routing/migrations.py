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
    (
        5,
        # Trained classifiers (the latest version is the one in use) and what they learn from:
        # the rows of a labelled file and agents' corrections (one per complaint, the latest).
        """
        CREATE TABLE {schema}.models (
            version int PRIMARY KEY,
            created_at timestamptz NOT NULL,
            origin text NOT NULL,
            examples int NOT NULL,
            corrections int NOT NULL,
            learnt_up_to bigint NOT NULL,
            categories jsonb NOT NULL,
            evaluation jsonb,
            model bytea NOT NULL
        );
        CREATE TABLE {schema}.examples (
            id bigserial PRIMARY KEY,
            origin text NOT NULL CHECK (origin IN ('file', 'correction')),
            complaint_id text UNIQUE,
            text text NOT NULL,
            category text NOT NULL,
            added_at timestamptz NOT NULL
        );
        """,
    ),
    (
        6,
        # The model in use, when it is not simply the latest: a version activated by hand or
        # rolled back to (training a new version makes that one the model in use).
        """
        CREATE TABLE {schema}.model_in_use (
            one boolean PRIMARY KEY DEFAULT true CHECK (one),
            version int NOT NULL REFERENCES {schema}.models (version),
            since timestamptz NOT NULL,
            why text NOT NULL
        );
        """,
    ),
)
