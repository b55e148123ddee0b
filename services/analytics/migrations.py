"""Versioned migrations of the analytics schema (the complaint archive)."""

MIGRATIONS = (
    (
        1,
        """
        CREATE TABLE {schema}.complaints (
            complaint_id text PRIMARY KEY,
            reference text,
            source text,
            external_ref text,
            category text,
            channel text,
            language text,
            status text NOT NULL DEFAULT 'registered',
            department text,
            queue text,
            owner text,
            priority text,
            sensitive boolean NOT NULL DEFAULT false,
            route_version int NOT NULL DEFAULT 0,
            repeat_count int NOT NULL DEFAULT 0,
            occurred_at timestamptz,
            registered_at timestamptz,
            resolved_at timestamptz,
            sla_deadline timestamptz,
            sla_breached boolean NOT NULL DEFAULT false,
            escalation_level int NOT NULL DEFAULT 0,
            notifications int NOT NULL DEFAULT 0,
            csat int,
            updated_at timestamptz NOT NULL
        );
        CREATE INDEX complaints_category ON {schema}.complaints (category);
        CREATE INDEX complaints_reference ON {schema}.complaints (reference);
        CREATE TABLE {schema}.events (
            ce_id text PRIMARY KEY,
            complaint_id text NOT NULL,
            topic text NOT NULL,
            kind text NOT NULL,
            at timestamptz NOT NULL,
            recorded_at timestamptz NOT NULL,
            payload jsonb NOT NULL
        );
        CREATE INDEX events_complaint ON {schema}.events (complaint_id, at);
        """,
    ),
    (
        2,
        """
        ALTER TABLE {schema}.complaints
            ADD COLUMN customer_token text,
            ADD COLUMN region text,
            ADD COLUMN product text,
            ADD COLUMN sub_category text,
            ADD COLUMN reopen_count int NOT NULL DEFAULT 0,
            ADD COLUMN root_cause text,
            ADD COLUMN corrective_action text,
            ADD COLUMN preventive_action text,
            ADD COLUMN compensation_amount numeric(14, 2) NOT NULL DEFAULT 0,
            ADD COLUMN compensation_currency text,
            ADD COLUMN csat_comment text;
        CREATE INDEX complaints_registered ON {schema}.complaints (registered_at);
        CREATE INDEX complaints_customer ON {schema}.complaints (customer_token);
        CREATE TABLE {schema}.sla_targets (
            complaint_id text NOT NULL,
            target text NOT NULL,
            policy text NOT NULL,
            state text NOT NULL,
            deadline timestamptz NOT NULL,
            breached boolean NOT NULL DEFAULT false,
            escalation_level int NOT NULL DEFAULT 0,
            elapsed_seconds double precision,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (complaint_id, target)
        );
        """,
    ),
    (
        3,
        """
        CREATE INDEX complaints_occurred ON {schema}.complaints (occurred_at);
        CREATE INDEX complaints_resolved ON {schema}.complaints (resolved_at);
        CREATE INDEX complaints_updated ON {schema}.complaints (updated_at);
        CREATE INDEX sla_targets_deadline ON {schema}.sla_targets (deadline);
        CREATE TABLE {schema}.stats_published (
            name text PRIMARY KEY,
            upto timestamptz NOT NULL
        );
        """,
    ),
    (
        4,
        """
        ALTER TABLE {schema}.complaints ADD COLUMN place text;
        CREATE INDEX complaints_place ON {schema}.complaints (place);
        """,
    ),
    (
        5,
        """
        CREATE TABLE {schema}.alerts (
            alert_key text PRIMARY KEY,
            kind text NOT NULL,
            status text NOT NULL,
            revision int NOT NULL,
            category text NOT NULL,
            slice jsonb NOT NULL,
            summary text NOT NULL,
            since timestamptz,
            window_start timestamptz NOT NULL,
            window_end timestamptz NOT NULL,
            opened_at timestamptz NOT NULL,
            detected_at timestamptz NOT NULL,
            closed_at timestamptz,
            count int NOT NULL,
            peak_count int NOT NULL,
            baseline double precision,
            p_value double precision,
            distinct_customers int NOT NULL,
            top_terms jsonb NOT NULL,
            score double precision NOT NULL,
            updated_at timestamptz NOT NULL
        );
        CREATE INDEX alerts_opened ON {schema}.alerts (opened_at);
        """,
    ),
    (
        6,
        """
        ALTER TABLE {schema}.complaints ADD COLUMN acknowledged_at timestamptz;
        ALTER TABLE {schema}.sla_targets ADD COLUMN met_at timestamptz;
        UPDATE {schema}.complaints c SET acknowledged_at = a.at
          FROM (SELECT complaint_id, min(at) AS at FROM {schema}.events
                WHERE kind IN ('status:acknowledged', 'status:assigned', 'status:in_progress',
                  'status:waiting_on_customer', 'status:resolved', 'status:closed')
                GROUP BY 1) a
         WHERE a.complaint_id = c.complaint_id;
        UPDATE {schema}.sla_targets t SET met_at = CASE t.target
            WHEN 'acknowledge' THEN c.acknowledged_at ELSE c.resolved_at END
          FROM {schema}.complaints c
         WHERE c.complaint_id = t.complaint_id AND t.target IN ('acknowledge', 'resolve');
        UPDATE {schema}.complaints c SET sla_breached = l.late
          FROM (SELECT complaint_id, bool_or((met_at IS NOT NULL AND met_at > deadline)
                  OR (met_at IS NULL AND breached)) AS late
                FROM {schema}.sla_targets GROUP BY 1) l
         WHERE l.complaint_id = c.complaint_id;
        """,
    ),
    (
        7,
        """
        CREATE TABLE {schema}.category_names (
            category text PRIMARY KEY,
            display jsonb NOT NULL,
            at timestamptz NOT NULL
        );
        INSERT INTO {schema}.category_names (category, display, at)
        SELECT DISTINCT ON (payload->>'category') payload->>'category',
               payload->'category_display', at
          FROM {schema}.events
         WHERE kind LIKE 'routed:%' AND payload->'category_display' <> '{}'::jsonb
           AND payload->>'category' IS NOT NULL
         ORDER BY payload->>'category', at DESC;
        """,
    ),
    (
        8,
        # A complaint's row changes with each of its events: with no index on a column every
        # change sets (updated_at) and room left on each page, PostgreSQL updates it in place
        # (a HOT update), without a new entry in each of its indexes. What changed since the
        # figures were last published is found from the events recorded since instead.
        """
        DROP INDEX {schema}.complaints_updated;
        ALTER TABLE {schema}.complaints SET (fillfactor = 70);
        CREATE INDEX events_recorded ON {schema}.events (recorded_at);
        """,
    ),
)
