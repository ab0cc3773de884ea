-- Why: one row per recipient of an email campaign, tracking its delivery. The provider's
-- message id (SendGrid sg_message_id, Mailgun id) is unique per organization, never globally
-- (RLS pitfall 2); the webhooks of a later issue find a row by it.
CREATE TABLE palisade.email_messages (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    customer_id uuid,
    to_email text NOT NULL CHECK (to_email = lower(to_email) AND char_length(to_email) BETWEEN 3 AND 254),
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'sent', 'delivered', 'opened', 'clicked', 'bounced', 'dropped', 'failed')),
    provider_message_id text CHECK (char_length(provider_message_id) BETWEEN 1 AND 255),
    sent_at timestamptz,
    delivered_at timestamptz,
    opened_at timestamptz,
    clicked_at timestamptz,
    failed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    -- Composite: a campaign of another organization cannot be referenced (RLS pitfall 1).
    CONSTRAINT email_messages_campaign_fkey FOREIGN KEY (organization_id, campaign_id)
        REFERENCES palisade.email_campaigns (organization_id, id) ON DELETE CASCADE,
    -- Deleting a customer keeps the delivery record, without the link.
    CONSTRAINT email_messages_customer_fkey FOREIGN KEY (organization_id, customer_id)
        REFERENCES palisade.customers (organization_id, id) ON DELETE SET NULL (customer_id),
    -- One row per recipient: a campaign never mails the same address twice.
    CONSTRAINT email_messages_recipient_key UNIQUE (organization_id, campaign_id, to_email),
    CONSTRAINT email_messages_provider_message_id_key UNIQUE (organization_id, provider_message_id)
);
-- Serves GET /v1/email-messages (newest first).
CREATE INDEX email_messages_org_created_idx ON palisade.email_messages (organization_id, created_at, id);
-- Serves GET /v1/email-campaigns/{id}/messages (newest first within a campaign).
CREATE INDEX email_messages_campaign_created_idx
    ON palisade.email_messages (organization_id, campaign_id, created_at, id);
-- ON DELETE SET NULL from customers, and the customer_id filter.
CREATE INDEX email_messages_customer_idx ON palisade.email_messages (organization_id, customer_id);
-- For the webhook resolver (later issue), which finds a message by the provider's id before
-- it knows the organization. Not unique: uniqueness is per organization (the key above).
CREATE INDEX email_messages_provider_message_id_idx ON palisade.email_messages (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
ALTER TABLE palisade.email_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.email_messages FORCE ROW LEVEL SECURITY;
