-- Why: invariant 7, "what survives when the person who made it loses access". A webhook sends
-- the organization's events to the URL an owner or admin chose, and nothing recorded who: removing
-- an admin left the events flowing to wherever they had pointed one, their own server included.
-- enabled_by is the user on whose authority a webhook sends where it sends: who created it, last
-- set its URL to another one, or last enabled it (the trigger below writes it; for an API key's
-- request, the key's creator, whom enter_api_key sets as app.current_user). DELETE and
-- PATCH /v1/members/{id} disable the enabled webhooks of a member they remove or make a member
-- (disabled_reason 'enabler_removed' or 'enabler_demoted'), in the same transaction, as they
-- revoke the Amazon Connect credentials such a member created. NULL for the webhooks created
-- before this migration (nobody recorded their creator), until one of those writes names someone.
-- Not a foreign key: the record outlives the member, like aws_connect_credentials.created_by.
-- palisade_app never writes it itself: no UPDATE grant on it, and the trigger overwrites whatever
-- an INSERT gives (policies/410_outbound_webhooks.sql).
ALTER TABLE palisade.outbound_webhooks ADD COLUMN enabled_by uuid;

CREATE FUNCTION palisade_private.outbound_webhook_enabled_by() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            NEW.enabled_by := NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid;
        ELSIF NEW.url IS DISTINCT FROM OLD.url OR (NEW.enabled AND NOT OLD.enabled) THEN
            NEW.enabled_by := NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid;
        END IF;
        RETURN NEW;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.outbound_webhook_enabled_by() FROM PUBLIC;
CREATE TRIGGER outbound_webhooks_enabled_by
    BEFORE INSERT OR UPDATE OF url, enabled ON palisade.outbound_webhooks
    FOR EACH ROW EXECUTE FUNCTION palisade_private.outbound_webhook_enabled_by();

-- The two new reasons. Added NOT VALID (a catalog change under this migration's lock: the rows
-- passed the old CHECK, which allows a subset); V0173 validates it without blocking writes.
ALTER TABLE palisade.outbound_webhooks
    DROP CONSTRAINT outbound_webhooks_disabled_reason_check,
    ADD CONSTRAINT outbound_webhooks_disabled_reason_check
        CHECK (disabled_reason IN ('delivery_failures', 'enabler_removed', 'enabler_demoted'))
        NOT VALID;
