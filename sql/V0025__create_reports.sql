-- Why: an organization's saved report definitions: what to compute (kind), with which parameters
-- (a bounded JSON object, validated by palisade_domain::ReportParameters), and how often to run.
CREATE TABLE palisade.reports (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('campaign_performance', 'call_volume', 'customer_growth',
                                       'chat_activity', 'social_engagement')),
    parameters jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(parameters) = 'object' AND pg_column_size(parameters) <= 16384),
    schedule text CHECK (schedule IN ('daily', 'weekly', 'monthly')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
-- Newest-first keyset pagination of GET /v1/reports.
CREATE INDEX reports_org_created_idx ON palisade.reports (organization_id, created_at, id);
ALTER TABLE palisade.reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.reports FORCE ROW LEVEL SECURITY;
