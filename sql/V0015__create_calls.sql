-- Why: every phone call an organization places or receives. The carrier's call SID (Twilio
-- CallSid) is unique per organization, never globally (RLS pitfall 2); last_sequence_number
-- lets the status-callback webhook (a later issue) ignore callbacks that arrive out of order.
CREATE TABLE palisade.calls (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    voice_campaign_id uuid,
    customer_id uuid,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_number text NOT NULL CHECK (from_number ~ '^\+[1-9][0-9]{6,14}$'),
    to_number text NOT NULL CHECK (to_number ~ '^\+[1-9][0-9]{6,14}$'),
    call_sid text CHECK (char_length(call_sid) BETWEEN 1 AND 255),
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled')),
    duration_seconds integer CHECK (duration_seconds >= 0),
    started_at timestamptz,
    ended_at timestamptz,
    last_sequence_number bigint CHECK (last_sequence_number >= 0),
    notes text CHECK (char_length(notes) BETWEEN 1 AND 10000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT calls_ended_after_started_check CHECK (ended_at >= started_at),
    -- Composite: a campaign or customer of another organization cannot be referenced (pitfall 1).
    -- Deleting either keeps the call, without the link.
    CONSTRAINT calls_voice_campaign_fkey FOREIGN KEY (organization_id, voice_campaign_id)
        REFERENCES palisade.voice_campaigns (organization_id, id) ON DELETE SET NULL (voice_campaign_id),
    CONSTRAINT calls_customer_fkey FOREIGN KEY (organization_id, customer_id)
        REFERENCES palisade.customers (organization_id, id) ON DELETE SET NULL (customer_id),
    CONSTRAINT calls_call_sid_key UNIQUE (organization_id, call_sid)
);
-- Serves the newest-first keyset pagination of GET /v1/calls.
CREATE INDEX calls_org_created_idx ON palisade.calls (organization_id, created_at, id);
-- ON DELETE SET NULL from voice campaigns and customers, and the matching filters.
CREATE INDEX calls_voice_campaign_idx ON palisade.calls (organization_id, voice_campaign_id);
CREATE INDEX calls_customer_idx ON palisade.calls (organization_id, customer_id);
-- For the voice status-callback resolver (later issue), which finds a call by its SID before it
-- knows the organization. Not unique: uniqueness is per organization.
CREATE INDEX calls_call_sid_idx ON palisade.calls (call_sid) WHERE call_sid IS NOT NULL;
ALTER TABLE palisade.calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.calls FORCE ROW LEVEL SECURITY;
