-- Why: an organization's email campaigns (one subject and body sent to many recipients). The
-- status moves draft -> scheduled -> sending -> sent (or cancelled); the counters are kept by
-- the sender and the provider webhooks (a later issue), never by clients.
CREATE TABLE palisade.email_campaigns (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    subject text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 998),
    body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 50000),
    status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled')),
    scheduled_at timestamptz,
    sent_count integer NOT NULL DEFAULT 0 CHECK (sent_count >= 0),
    delivered_count integer NOT NULL DEFAULT 0 CHECK (delivered_count >= 0),
    opened_count integer NOT NULL DEFAULT 0 CHECK (opened_count >= 0),
    clicked_count integer NOT NULL DEFAULT 0 CHECK (clicked_count >= 0),
    bounced_count integer NOT NULL DEFAULT 0 CHECK (bounced_count >= 0),
    failed_count integer NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    -- A scheduled campaign knows when it goes out ("in the future" is checked by the API:
    -- a CHECK cannot call now()).
    CONSTRAINT email_campaigns_scheduled_at_check CHECK (status <> 'scheduled' OR scheduled_at IS NOT NULL)
);
-- Serves the newest-first keyset pagination of GET /v1/email-campaigns.
CREATE INDEX email_campaigns_org_created_idx ON palisade.email_campaigns (organization_id, created_at, id);
ALTER TABLE palisade.email_campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.email_campaigns FORCE ROW LEVEL SECURITY;
