-- Why: analytics events an organization ingests (one or a batch of up to 100 per request), listed
-- and summed per type and day. The optional customer reference is composite; deleting the
-- customer keeps the event and clears only customer_id.
CREATE TABLE palisade.analytics_events (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    event_type text NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_.]{0,63}$'),
    occurred_at timestamptz NOT NULL,
    properties jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(properties) = 'object' AND pg_column_size(properties) <= 8192),
    customer_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT analytics_events_customer_fkey FOREIGN KEY (organization_id, customer_id)
        REFERENCES palisade.customers (organization_id, id) ON DELETE SET NULL (customer_id)
);
-- Newest-first keyset pagination of GET /v1/analytics/events.
CREATE INDEX analytics_events_org_created_idx
    ON palisade.analytics_events (organization_id, created_at, id);
-- GET /v1/analytics/summary: counts per type and day over a range of occurred_at.
CREATE INDEX analytics_events_org_occurred_idx
    ON palisade.analytics_events (organization_id, occurred_at, event_type);
-- The customer filter, and the SET NULL when a customer is deleted.
CREATE INDEX analytics_events_org_customer_idx
    ON palisade.analytics_events (organization_id, customer_id);
ALTER TABLE palisade.analytics_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.analytics_events FORCE ROW LEVEL SECURITY;
