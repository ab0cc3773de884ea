-- Why: an organization's SMS campaigns (one body sent from one number to many recipients).
-- Same lifecycle as email campaigns; the counters are kept by the sender and the Twilio status
-- callbacks (a later issue), never by clients.
CREATE TABLE palisade.sms_campaigns (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 1600),
    from_number text NOT NULL CHECK (from_number ~ '^\+[1-9][0-9]{6,14}$'),
    status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled')),
    scheduled_at timestamptz,
    sent_count integer NOT NULL DEFAULT 0 CHECK (sent_count >= 0),
    delivered_count integer NOT NULL DEFAULT 0 CHECK (delivered_count >= 0),
    undelivered_count integer NOT NULL DEFAULT 0 CHECK (undelivered_count >= 0),
    failed_count integer NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT sms_campaigns_scheduled_at_check CHECK (status <> 'scheduled' OR scheduled_at IS NOT NULL)
);
-- Serves the newest-first keyset pagination of GET /v1/sms-campaigns.
CREATE INDEX sms_campaigns_org_created_idx ON palisade.sms_campaigns (organization_id, created_at, id);
ALTER TABLE palisade.sms_campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.sms_campaigns FORCE ROW LEVEL SECURITY;
