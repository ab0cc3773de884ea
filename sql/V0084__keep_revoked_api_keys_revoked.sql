-- Why: a revoked API key must stay revoked. The app role may UPDATE revoked_at (that is how a
-- key is revoked), so without this an owner or admin context could set it back to NULL and
-- bring a leaked key back to life. Revoking again (the same value) still passes.
CREATE FUNCTION palisade_private.api_key_stays_revoked() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
            RAISE EXCEPTION 'a revoked API key stays revoked'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'api_keys_stay_revoked',
                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
        END IF;
        RETURN NEW;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.api_key_stays_revoked() FROM PUBLIC;

CREATE TRIGGER api_keys_stay_revoked
    BEFORE UPDATE OF revoked_at ON palisade.api_keys
    FOR EACH ROW EXECUTE FUNCTION palisade_private.api_key_stays_revoked();
