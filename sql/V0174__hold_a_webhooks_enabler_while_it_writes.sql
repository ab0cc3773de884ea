-- Why: V0172's trigger recorded the writer with the role their request was checked with, and the
-- member routes disabled the writer's webhooks with a reason palisade_app wrote. Helper 108's
-- review found both weaker than they read:
-- - A request of an admin's that passed its credential check before their removal or demotion
--   committed could still enable or re-point a webhook after it (waiting, say, for the
--   removal's lock on that webhook, then going ahead with the role it was checked with),
--   leaving a webhook enabled on the authority of someone who no longer had it.
-- - palisade_app needed UPDATE on disabled_reason, so any owner's or admin's transaction could
--   write any reason (`delivery_failures` on a webhook it disabled by hand, say).
-- Now the trigger, when it makes the writer a webhook's enabled_by, locks the writer's user row
-- FOR SHARE and requires them to be an owner or admin of the organization still: a removal's
-- DELETE or a demotion's UPDATE of that row waits for the write to commit (the member routes
-- disable the user's webhooks after that statement, so they see it), and a write that comes
-- after them finds the row gone (SQLSTATE PA401 'user_gone': 401) or a member's (PA403 'admin':
-- 403). Only when the transaction's own context says owner or admin: a member's write is refused
-- by the insert and update policies as before, and an admin's context cannot lock an owner's row
-- (the users update policy), so a writer promoted to owner during the request is let through
-- unlocked. And the reason is the trigger's: when an enabled webhook is disabled without one (the
-- worker gives 'delivery_failures'), it says 'enabler_removed' if enabled_by is no user of the
-- organization any more, 'enabler_demoted' if a member; palisade_app no longer writes it
-- (policies/410_outbound_webhooks.sql takes the grant back).
CREATE OR REPLACE FUNCTION palisade_private.outbound_webhook_enabled_by() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    DECLARE
        -- The transaction's organization, not the row's: a row for another organization is
        -- then refused by the policies, as before, not by a lookup of its users.
        v_org uuid := NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid;
        v_user uuid;
        v_role text;
    BEGIN
        IF TG_OP = 'INSERT' OR NEW.url IS DISTINCT FROM OLD.url
           OR (NEW.enabled AND NOT OLD.enabled) THEN
            v_user := NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid;
            NEW.enabled_by := v_user;
            IF v_user IS NOT NULL
               AND NULLIF(pg_catalog.current_setting('app.current_role', true), '')
                   IN ('owner', 'admin') THEN
                PERFORM FROM palisade.users AS u
                  WHERE u.organization_id = v_org AND u.id = v_user
                    AND u.role IN ('owner', 'admin')
                    FOR SHARE;
                IF NOT FOUND THEN
                    SELECT u.role INTO v_role FROM palisade.users AS u
                     WHERE u.organization_id = v_org AND u.id = v_user;
                    IF NOT FOUND THEN
                        RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'user_gone';
                    ELSIF v_role NOT IN ('owner', 'admin') THEN
                        RAISE EXCEPTION USING ERRCODE = 'PA403', MESSAGE = 'admin';
                    END IF;
                END IF;
            END IF;
        END IF;
        IF TG_OP = 'UPDATE' AND OLD.enabled AND NOT NEW.enabled
           AND NEW.disabled_reason IS NULL AND NEW.enabled_by IS NOT NULL THEN
            SELECT u.role INTO v_role FROM palisade.users AS u
             WHERE u.organization_id = NEW.organization_id AND u.id = NEW.enabled_by;
            IF NOT FOUND THEN
                NEW.disabled_reason := 'enabler_removed';
                NEW.disabled_at := pg_catalog.now();
            ELSIF v_role NOT IN ('owner', 'admin') THEN
                NEW.disabled_reason := 'enabler_demoted';
                NEW.disabled_at := pg_catalog.now();
            END IF;
        END IF;
        RETURN NEW;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.outbound_webhook_enabled_by() FROM PUBLIC;
