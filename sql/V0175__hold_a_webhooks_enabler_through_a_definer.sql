-- Why: V0174's trigger locked the writer's user row with palisade_app's own locking read, which
-- the users update policy also filters: an admin's context cannot see an owner's row, and an
-- owner's API key acts as an admin, so an owner writing through a key was never held (helper
-- 109's review) and their removal by another owner did not wait for the write. The lock now goes
-- through palisade_private.hold_acting_user() (policies/027_outbound_webhook_delivery.sql, a
-- definer of the resolver's that locks and reads only the transaction's own user). Also from that
-- review:
-- - an INSERT could still give disabled_reason and disabled_at (palisade_app's INSERT grant
--   covers every column): the trigger now clears them, as it overwrites enabled_by;
-- - the reason was derived under any role with no organization set too (palisade_owner, which
--   RLS shows no users, would have stamped 'enabler_removed' on every webhook it disabled): now
--   only in a transaction of the row's own organization.
-- The lock is taken only when the transaction's context says owner or admin: a member's write is
-- refused by the policies, as before.
CREATE OR REPLACE FUNCTION palisade_private.outbound_webhook_enabled_by() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    DECLARE
        v_org uuid := NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid;
        v_user uuid;
        v_role text;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            NEW.disabled_reason := NULL;
            NEW.disabled_at := NULL;
        END IF;
        IF TG_OP = 'INSERT' OR NEW.url IS DISTINCT FROM OLD.url
           OR (NEW.enabled AND NOT OLD.enabled) THEN
            v_user := NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid;
            NEW.enabled_by := v_user;
            IF v_user IS NOT NULL
               AND NULLIF(pg_catalog.current_setting('app.current_role', true), '')
                   IN ('owner', 'admin') THEN
                v_role := palisade_private.hold_acting_user();
                IF v_role IS NULL THEN
                    RAISE EXCEPTION USING ERRCODE = 'PA401', MESSAGE = 'user_gone';
                ELSIF v_role NOT IN ('owner', 'admin') THEN
                    RAISE EXCEPTION USING ERRCODE = 'PA403', MESSAGE = 'admin';
                END IF;
            END IF;
        END IF;
        IF TG_OP = 'UPDATE' AND OLD.enabled AND NOT NEW.enabled
           AND NEW.disabled_reason IS NULL AND NEW.enabled_by IS NOT NULL
           AND NEW.organization_id = v_org THEN
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
