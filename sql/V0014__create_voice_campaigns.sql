-- Why: an organization's voice campaigns (outbound calls following one script). Same lifecycle
-- as email and SMS campaigns; the calls they place reference them.
CREATE TABLE palisade.voice_campaigns (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    script text CHECK (char_length(script) BETWEEN 1 AND 20000),
    status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled')),
    scheduled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT voice_campaigns_scheduled_at_check CHECK (status <> 'scheduled' OR scheduled_at IS NOT NULL)
);
-- Serves the newest-first keyset pagination of GET /v1/voice-campaigns.
CREATE INDEX voice_campaigns_org_created_idx ON palisade.voice_campaigns (organization_id, created_at, id);
ALTER TABLE palisade.voice_campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.voice_campaigns FORCE ROW LEVEL SECURITY;
