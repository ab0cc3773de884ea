-- Why: endpoints an organization registers to be told about its events. The URL is validated in
-- Rust (https only, no private, loopback, link-local or otherwise internal hosts); the CHECK here
-- is the backstop. The signing secret is generated server-side and shown once: palisade_app may
-- write it but has no SELECT on it (policies/410_outbound_webhooks.sql). The event types are a
-- fixed set, kept in step with palisade_domain::WebhookEvent.
CREATE TABLE palisade.outbound_webhooks (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    url text NOT NULL CHECK (url LIKE 'https://%' AND char_length(url) <= 2048),
    description text CHECK (char_length(description) BETWEEN 1 AND 500),
    event_types text[] NOT NULL CHECK (
        cardinality(event_types) >= 1
        AND event_types <@ ARRAY[
            'customer.created', 'customer.updated', 'customer.deleted',
            'message.received', 'message.delivered', 'message.failed',
            'call.completed', 'chat.message.created', 'campaign.completed', 'invoice.paid'
        ]::text[]
    ),
    enabled boolean NOT NULL DEFAULT true,
    signing_secret text NOT NULL CHECK (signing_secret ~ '^whsec_[A-Za-z0-9_-]{43}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
-- Serves the newest-first keyset pagination of GET /v1/webhooks.
CREATE INDEX outbound_webhooks_org_created_idx ON palisade.outbound_webhooks (organization_id, created_at, id);
ALTER TABLE palisade.outbound_webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.outbound_webhooks FORCE ROW LEVEL SECURITY;
