-- Why: every SMS an organization sends or receives. Outbound rows are a campaign's recipients;
-- inbound rows (written by the Twilio webhook, a later issue) belong to no campaign. The carrier's
-- message SID (Twilio MessageSid) is unique per organization, never globally (RLS pitfall 2).
CREATE TABLE palisade.sms_messages (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    campaign_id uuid,
    customer_id uuid,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_number text NOT NULL CHECK (from_number ~ '^\+[1-9][0-9]{6,14}$'),
    to_number text NOT NULL CHECK (to_number ~ '^\+[1-9][0-9]{6,14}$'),
    body text CHECK (char_length(body) <= 1600),
    status text NOT NULL
        CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'received')),
    carrier_sid text CHECK (char_length(carrier_sid) BETWEEN 1 AND 255),
    error_code integer,
    sent_at timestamptz,
    delivered_at timestamptz,
    failed_at timestamptz,
    received_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    -- Only inbound messages are 'received', and they belong to no campaign.
    CONSTRAINT sms_messages_direction_status_check CHECK ((direction = 'inbound') = (status = 'received')),
    CONSTRAINT sms_messages_inbound_campaign_check CHECK (direction = 'outbound' OR campaign_id IS NULL),
    -- Composite: a campaign or customer of another organization cannot be referenced (pitfall 1).
    -- A NULL campaign_id (inbound) is not checked (MATCH SIMPLE).
    CONSTRAINT sms_messages_campaign_fkey FOREIGN KEY (organization_id, campaign_id)
        REFERENCES palisade.sms_campaigns (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT sms_messages_customer_fkey FOREIGN KEY (organization_id, customer_id)
        REFERENCES palisade.customers (organization_id, id) ON DELETE SET NULL (customer_id),
    -- One row per recipient of a campaign (inbound rows have no campaign: NULLs never collide).
    CONSTRAINT sms_messages_recipient_key UNIQUE (organization_id, campaign_id, to_number),
    CONSTRAINT sms_messages_carrier_sid_key UNIQUE (organization_id, carrier_sid)
);
-- Serves GET /v1/sms-messages (newest first).
CREATE INDEX sms_messages_org_created_idx ON palisade.sms_messages (organization_id, created_at, id);
-- Serves GET /v1/sms-campaigns/{id}/messages (newest first within a campaign).
CREATE INDEX sms_messages_campaign_created_idx
    ON palisade.sms_messages (organization_id, campaign_id, created_at, id);
-- ON DELETE SET NULL from customers, and the customer_id filter.
CREATE INDEX sms_messages_customer_idx ON palisade.sms_messages (organization_id, customer_id);
-- For the Twilio status-callback resolver (later issue), which finds a message by its SID
-- before it knows the organization. Not unique: uniqueness is per organization.
CREATE INDEX sms_messages_carrier_sid_idx ON palisade.sms_messages (carrier_sid)
    WHERE carrier_sid IS NOT NULL;
ALTER TABLE palisade.sms_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.sms_messages FORCE ROW LEVEL SECURITY;
