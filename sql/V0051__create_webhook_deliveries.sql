-- Why: the record of every carrier and email-provider webhook delivery an organization received,
-- written in the same transaction as the delivery's effect. Its unique key is what makes a
-- retried or duplicated delivery (Twilio, SendGrid and Mailgun all retry, and may deliver the
-- same event twice at once) change nothing: the second INSERT ... ON CONFLICT DO NOTHING finds
-- the first one's row (or waits for its transaction) and the handler stops there.
-- event_key is the provider's own id for the delivery (see policies/500_webhook_deliveries.sql
-- for each provider's key). Unique per organization and provider, never globally (pitfall 2).
CREATE TABLE palisade.webhook_deliveries (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    provider text NOT NULL CHECK (provider IN ('twilio', 'sendgrid', 'mailgun')),
    event_key text NOT NULL CHECK (char_length(event_key) BETWEEN 1 AND 300),
    kind text NOT NULL CHECK (kind IN ('sms.inbound', 'sms.status', 'voice.status', 'email.event')),
    -- What the delivery did: 'applied' (changed the row it is about) or 'stale' (it was older
    -- than what we already had, e.g. a late "sent" after "delivered", and changed nothing).
    outcome text NOT NULL CHECK (outcome IN ('applied', 'stale')),
    -- The row the delivery was about (an sms_messages, calls or email_messages id). Not a
    -- foreign key: it points into one of three tables, and the record outlives the row.
    subject_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT webhook_deliveries_event_key_key UNIQUE (organization_id, provider, kind, event_key)
);
-- Newest-first keyset pagination of GET /v1/webhook-deliveries.
CREATE INDEX webhook_deliveries_org_created_idx
    ON palisade.webhook_deliveries (organization_id, created_at, id);
ALTER TABLE palisade.webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.webhook_deliveries FORCE ROW LEVEL SECURITY;
