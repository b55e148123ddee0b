"""Versioned migrations of the sla_timer schema."""

MIGRATIONS = (
    (
        1,
        """
        CREATE TABLE {schema}.timers (
            complaint_id text NOT NULL,
            target text NOT NULL,
            partition int NOT NULL,
            state text NOT NULL,
            priority text NOT NULL,
            department text NOT NULL,
            policy text NOT NULL,
            sensitive boolean NOT NULL DEFAULT false,
            route_version int NOT NULL DEFAULT 0,
            started_at timestamptz NOT NULL,
            used_seconds double precision NOT NULL DEFAULT 0,
            duration_seconds double precision NOT NULL,
            deadline timestamptz NOT NULL,
            warned_pct int NOT NULL DEFAULT 0,
            escalation_level int NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (complaint_id, target)
        );
        CREATE INDEX timers_live ON {schema}.timers (partition)
            WHERE state IN ('active', 'breached', 'paused');
        """,
    ),
    (
        2,
        """
        ALTER TABLE {schema}.timers DROP COLUMN duration_seconds;
        ALTER TABLE {schema}.timers ALTER COLUMN deadline DROP NOT NULL;
        ALTER TABLE {schema}.timers ADD COLUMN category text;
        ALTER TABLE {schema}.timers ADD COLUMN tightened boolean NOT NULL DEFAULT false;
        ALTER TABLE {schema}.timers ADD COLUMN source text;
        ALTER TABLE {schema}.timers ADD COLUMN due_at timestamptz;
        ALTER TABLE {schema}.timers ADD COLUMN next_due timestamptz;
        CREATE INDEX timers_next_due ON {schema}.timers (partition) WHERE next_due IS NOT NULL;
        """,
    ),
)
