-- Why: outbound webhooks are delivered, not only registered (issue 11). Each event an
-- organization's endpoints subscribe to is written to an outbox **in the transaction of the change
-- that caused it** (triggers below), so a rolled-back change sends nothing and a committed one is
-- never lost; the delivery worker (crates/palisade_api/src/delivery/) sends it afterwards. Nothing
-- is written when no enabled endpoint of the organization subscribes to the event's type.
--
-- outbound_webhook_events: one row per event, its id being the `webhook-id` header every
-- attempt and redelivery of it carries (receivers dedupe on it). `data` is what the event is
-- about: the object's id and the few fields that say what happened (docs/outbound-webhooks.md); the
-- envelope (`type`, `timestamp`) is added when it is sent.
CREATE TABLE palisade.outbound_webhook_events (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    type text NOT NULL CHECK (type IN (
        'customer.created', 'customer.updated', 'customer.deleted',
        'message.received', 'message.delivered', 'message.failed',
        'call.completed', 'chat.message.created', 'campaign.completed', 'invoice.paid')),
    data jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
ALTER TABLE palisade.outbound_webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.outbound_webhook_events FORCE ROW LEVEL SECURITY;

-- outbound_webhook_deliveries: one row per (event, endpoint) to send, and its state. The worker
-- claims a due row (status 'pending', next_attempt_at reached or never tried, no live lease)
-- with FOR UPDATE SKIP LOCKED and leases it (leased_until: a worker that dies mid-send leaves the
-- row due again when the lease ends: at-least-once), sends, and records the outcome:
-- 'succeeded', a retry time, or after the last retry 'failed'. 'skipped': the endpoint was
-- disabled, or no longer subscribes to the event's type, when it came due. A redelivery is a
-- new row for the same event and endpoint.
CREATE TABLE palisade.outbound_webhook_deliveries (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    webhook_id uuid NOT NULL,
    event_id uuid NOT NULL,
    -- The event's type, copied from it (events never change) so the list needs no join.
    event_type text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'succeeded', 'failed', 'skipped')),
    attempt_count integer NOT NULL DEFAULT 0 CHECK (attempt_count BETWEEN 0 AND 100),
    -- When the next attempt is due (the server's clock); NULL once settled.
    next_attempt_at timestamptz,
    -- Until when a worker holds it for the attempt it claimed (the database's clock, so that
    -- instances whose clocks differ cannot take it from each other early); NULL when free.
    leased_until timestamptz,
    last_attempt_at timestamptz,
    -- The receiver's HTTP status of the last attempt (NULL when it gave none).
    last_response_status integer CHECK (last_response_status BETWEEN 100 AND 599),
    last_latency_ms integer CHECK (last_latency_ms >= 0),
    -- Why the last attempt failed, as a code (docs/outbound-webhooks.md); never the receiver's words.
    last_error text CHECK (last_error IN (
        'http_status', 'timeout', 'dns', 'non_public_address', 'connect', 'tls', 'protocol',
        'response_too_large', 'endpoint_disabled', 'unsubscribed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT outbound_webhook_deliveries_pending_check
        CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
    -- Composite: an endpoint or event of another organization cannot be referenced (pitfall 1).
    CONSTRAINT outbound_webhook_deliveries_webhook_fkey FOREIGN KEY (organization_id, webhook_id)
        REFERENCES palisade.outbound_webhooks (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT outbound_webhook_deliveries_event_fkey FOREIGN KEY (organization_id, event_id)
        REFERENCES palisade.outbound_webhook_events (organization_id, id) ON DELETE CASCADE
);
-- Newest-first keyset pagination of GET /v1/webhooks/{id}/deliveries.
CREATE INDEX outbound_webhook_deliveries_webhook_created_idx
    ON palisade.outbound_webhook_deliveries (organization_id, webhook_id, created_at, id);
-- The event's deliveries (the foreign key's referencing side, for cascades).
CREATE INDEX outbound_webhook_deliveries_event_idx
    ON palisade.outbound_webhook_deliveries (organization_id, event_id);
-- What the worker's resolver scans across organizations: due rows only.
CREATE INDEX outbound_webhook_deliveries_due_idx
    ON palisade.outbound_webhook_deliveries (next_attempt_at) WHERE status = 'pending';
ALTER TABLE palisade.outbound_webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.outbound_webhook_deliveries FORCE ROW LEVEL SECURITY;

-- Why an endpoint stopped: set by the worker when it disables an endpoint after persistent
-- failure, cleared when the organization enables it again (trigger below).
ALTER TABLE palisade.outbound_webhooks
    ADD COLUMN disabled_reason text CHECK (disabled_reason IN ('delivery_failures')),
    ADD COLUMN disabled_at timestamptz,
    ADD CONSTRAINT outbound_webhooks_disabled_check
        CHECK ((disabled_reason IS NULL) = (disabled_at IS NULL)
               AND (disabled_reason IS NULL OR NOT enabled));

CREATE FUNCTION palisade_private.outbound_webhook_reenabled() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF NEW.enabled AND NOT OLD.enabled THEN
            NEW.disabled_reason := NULL;
            NEW.disabled_at := NULL;
        END IF;
        RETURN NEW;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.outbound_webhook_reenabled() FROM PUBLIC;
CREATE TRIGGER outbound_webhooks_reenabled
    BEFORE UPDATE OF enabled ON palisade.outbound_webhooks
    FOR EACH ROW EXECUTE FUNCTION palisade_private.outbound_webhook_reenabled();

-- Standard Webhooks secrets are `whsec_` + standard base64 (with padding) of the key, and its
-- libraries decode them so. Ours were base64url without padding: the same 32 key bytes,
-- respelled here so that the secret a client was shown works in those libraries. Secrets shown
-- before this version spell the same key the old way; the API documents the respelling.
ALTER TABLE palisade.outbound_webhooks NO FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.outbound_webhooks DROP CONSTRAINT outbound_webhooks_signing_secret_check;
UPDATE palisade.outbound_webhooks
   SET signing_secret = 'whsec_' || translate(substr(signing_secret, 7), '-_', '+/') || '=';
ALTER TABLE palisade.outbound_webhooks ADD CONSTRAINT outbound_webhooks_signing_secret_check
    CHECK (signing_secret ~ '^whsec_[A-Za-z0-9+/]{43}=$');
ALTER TABLE palisade.outbound_webhooks FORCE ROW LEVEL SECURITY;

-- emit_webhook_event(org, type, data): the outbox write, called by the triggers below in the
-- transaction of the change. SECURITY INVOKER: it writes as the caller (palisade_app under its
-- tenant context, or palisade_billing on the Stripe path), so RLS checks the rows like any other.
CREATE FUNCTION palisade_private.emit_webhook_event(p_org uuid, p_type text, p_data jsonb)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    DECLARE
        v_event uuid;
        v_webhooks uuid[];
    BEGIN
        -- One read of the endpoints per change (this runs on every write of those tables).
        SELECT pg_catalog.array_agg(w.id) INTO v_webhooks
          FROM palisade.outbound_webhooks AS w
         WHERE w.organization_id = p_org AND w.enabled AND p_type = ANY (w.event_types);
        IF v_webhooks IS NULL THEN
            RETURN;
        END IF;
        INSERT INTO palisade.outbound_webhook_events (organization_id, type, data)
             VALUES (p_org, p_type, p_data)
          RETURNING id INTO v_event;
        INSERT INTO palisade.outbound_webhook_deliveries
                    (organization_id, webhook_id, event_id, event_type, next_attempt_at)
             SELECT p_org, w.id, v_event, p_type, pg_catalog.now()
               FROM pg_catalog.unnest(v_webhooks) AS w (id);
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.emit_webhook_event(uuid, text, jsonb) FROM PUBLIC;

-- The events, one trigger function per table: which change is which event, and its data.
CREATE FUNCTION palisade_private.customer_webhook_events() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM palisade_private.emit_webhook_event(NEW.organization_id, 'customer.created',
                pg_catalog.jsonb_build_object('id', NEW.id));
        ELSIF TG_OP = 'UPDATE' THEN
            -- Every API write stamps updated_at: only a change of something else is news.
            IF pg_catalog.to_jsonb(OLD) - 'updated_at' IS DISTINCT FROM pg_catalog.to_jsonb(NEW) - 'updated_at' THEN
                PERFORM palisade_private.emit_webhook_event(NEW.organization_id, 'customer.updated',
                    pg_catalog.jsonb_build_object('id', NEW.id));
            END IF;
        -- A customer deleted with its organization tells nobody: the endpoints go too.
        ELSIF EXISTS (SELECT FROM palisade.organizations AS o WHERE o.id = OLD.organization_id) THEN
            PERFORM palisade_private.emit_webhook_event(OLD.organization_id, 'customer.deleted',
                pg_catalog.jsonb_build_object('id', OLD.id));
        END IF;
        RETURN NULL;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.customer_webhook_events() FROM PUBLIC;
CREATE TRIGGER customers_webhook_events
    AFTER INSERT OR UPDATE OR DELETE ON palisade.customers
    FOR EACH ROW EXECUTE FUNCTION palisade_private.customer_webhook_events();

-- message.received: an inbound SMS. message.delivered / message.failed: an SMS or email reaching
-- that status (email: bounced and dropped are failures too).
CREATE FUNCTION palisade_private.message_webhook_events() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    DECLARE
        v_channel text := CASE TG_TABLE_NAME WHEN 'sms_messages' THEN 'sms' ELSE 'email' END;
        v_type text;
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.status = 'received' THEN
            v_type := 'message.received';
        ELSIF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
            RETURN NULL;
        ELSIF NEW.status = 'delivered' THEN
            v_type := 'message.delivered';
        ELSIF NEW.status IN ('failed', 'undelivered', 'bounced', 'dropped') THEN
            v_type := 'message.failed';
        ELSE
            RETURN NULL;
        END IF;
        PERFORM palisade_private.emit_webhook_event(NEW.organization_id, v_type,
            pg_catalog.jsonb_build_object('id', NEW.id, 'channel', v_channel, 'status', NEW.status));
        RETURN NULL;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.message_webhook_events() FROM PUBLIC;
CREATE TRIGGER sms_messages_webhook_events
    AFTER INSERT OR UPDATE OF status ON palisade.sms_messages
    FOR EACH ROW EXECUTE FUNCTION palisade_private.message_webhook_events();
CREATE TRIGGER email_messages_webhook_events
    AFTER INSERT OR UPDATE OF status ON palisade.email_messages
    FOR EACH ROW EXECUTE FUNCTION palisade_private.message_webhook_events();

CREATE FUNCTION palisade_private.call_webhook_events() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF NEW.status = 'completed'
           AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'completed') THEN
            PERFORM palisade_private.emit_webhook_event(NEW.organization_id, 'call.completed',
                pg_catalog.jsonb_build_object('id', NEW.id, 'direction', NEW.direction,
                    -- An Amazon Connect contact's duration is written by a later statement of the
                    -- same transaction (crates/palisade_db/src/aws_connect.rs): the same figure.
                    'duration_seconds', coalesce(NEW.duration_seconds,
                        LEAST(round(extract(epoch FROM NEW.ended_at - NEW.started_at)), 2147483647)::integer)));
        END IF;
        RETURN NULL;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.call_webhook_events() FROM PUBLIC;
CREATE TRIGGER calls_webhook_events
    AFTER INSERT OR UPDATE OF status ON palisade.calls
    FOR EACH ROW EXECUTE FUNCTION palisade_private.call_webhook_events();

CREATE FUNCTION palisade_private.chat_message_webhook_events() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        PERFORM palisade_private.emit_webhook_event(NEW.organization_id, 'chat.message.created',
            pg_catalog.jsonb_build_object('id', NEW.id, 'conversation_id', NEW.conversation_id,
                                          'sender', NEW.sender));
        RETURN NULL;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.chat_message_webhook_events() FROM PUBLIC;
-- Named to fire before chat_messages_chatbot (triggers fire in name order): a customer's
-- message is announced before the bot's reply to it.
CREATE TRIGGER chat_messages_as_webhook_events
    AFTER INSERT ON palisade.chat_messages
    FOR EACH ROW EXECUTE FUNCTION palisade_private.chat_message_webhook_events();

-- invoice.paid, from the Stripe path's own transaction. That transaction is palisade_billing's,
-- which has no privilege on the outbox (its startup check refuses any beyond billing): the
-- trigger calls palisade_private.emit_invoice_paid, a SECURITY DEFINER function of
-- policies/027_outbound_webhook_delivery.sql that emits only invoice.paid, only for a paid
-- invoice that exists.
CREATE FUNCTION palisade_private.invoice_webhook_events() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF NEW.status = 'paid' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'paid') THEN
            PERFORM palisade_private.emit_invoice_paid(NEW.organization_id, NEW.id);
        END IF;
        RETURN NULL;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.invoice_webhook_events() FROM PUBLIC;
CREATE TRIGGER invoices_webhook_events
    AFTER INSERT OR UPDATE OF status ON palisade.invoices
    FOR EACH ROW EXECUTE FUNCTION palisade_private.invoice_webhook_events();
