SET LOCAL ROLE palisade_resolver;
/**
 * Phone number claims: how an organization reaches the platform's number inventory
 * (palisade_platform.phone_number_inventory, sql/V0070__create_phone_number_inventory.sql),
 * which it may not read. Same rules as 020_resolvers.sql: SECURITY DEFINER, owned by the NOLOGIN
 * role palisade_resolver, `search_path = ''`, fully qualified names, EXECUTE for palisade_app
 * only. The resolver reads and updates only what these need (policies/325_phone_number_inventory.sql).
 *
 * The acting organization and role come from the transaction's own context (app.current_org,
 * app.current_role, set by TenantTx), never from a parameter: a caller cannot claim, release or
 * browse for another organization. They are read inline (the helpers of 010 are executable by
 * palisade_app only). No organization in the context: nothing is claimed, released or listed.
 *
 * "Now" and the quarantine length are parameters: the application's clock
 * (palisade_domain::Clock) and PALISADE_NUMBER_QUARANTINE_DAYS. The database trusts the app role
 * for them, as it does for every value the app role writes.
 *
 * Availability, for the acting organization O at time now, with quarantine q: a number that is
 * not assigned, and was never released, or was released by O, or was released at least q
 * before now. Nothing any function returns says who holds a number, or whether it exists.
 *
 * Plpgsql bodies: they are resolved when called, so this file does not depend on the order in
 * which the inventory's grants are applied.
 */

/**
 * claim_phone_number(number, now, quarantine): assigns the number to the acting organization if
 * it is available to it (or already assigned to it), and returns its capabilities; NULL
 * otherwise, the same for a number that does not exist and one held by anyone else. Owners and
 * admins only (the phone_numbers policies say the same). Atomic: the row is locked by the
 * UPDATE, so of two organizations racing for one number the second re-checks after the first
 * commits and gets NULL. The caller inserts its palisade.phone_numbers row in the same
 * transaction (under RLS); if that fails, the claim rolls back with it.
 */
CREATE OR REPLACE FUNCTION palisade_private.claim_phone_number(
    p_number text, p_now timestamptz, p_quarantine interval)
    RETURNS text[]
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_org uuid := NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid;
        v_role text := NULLIF(pg_catalog.current_setting('app.current_role', true), '');
        v_capabilities text[];
    BEGIN
        IF v_org IS NULL OR v_role IS NULL OR v_role NOT IN ('owner', 'admin') THEN
            RETURN NULL;
        END IF;
        UPDATE palisade_platform.phone_number_inventory AS i
           SET holder_org_id = v_org, released_by_org_id = NULL, released_at = NULL
         WHERE i.number = p_number
           AND (i.holder_org_id = v_org
                OR (i.holder_org_id IS NULL
                    AND (i.released_at IS NULL
                         OR i.released_by_org_id = v_org
                         OR i.released_at + p_quarantine <= p_now)))
        RETURNING i.capabilities INTO v_capabilities;
        RETURN v_capabilities;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.claim_phone_number(text, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.claim_phone_number(text, timestamptz, interval) TO palisade_app;

/**
 * release_phone_number(number, now): the acting organization gives the number back; it is
 * quarantined from now on (only this organization may take it back until the quarantine ends).
 * Owners and admins only. Call it after deleting the organization's phone_numbers row in the
 * same transaction: while that row exists, phone_numbers_inventory_fkey refuses the release.
 * Returns whether the number was assigned to the acting organization.
 */
CREATE OR REPLACE FUNCTION palisade_private.release_phone_number(p_number text, p_now timestamptz)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_org uuid := NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid;
        v_role text := NULLIF(pg_catalog.current_setting('app.current_role', true), '');
    BEGIN
        IF v_org IS NULL OR v_role IS NULL OR v_role NOT IN ('owner', 'admin') THEN
            RETURN false;
        END IF;
        UPDATE palisade_platform.phone_number_inventory AS i
           SET holder_org_id = NULL, released_by_org_id = v_org, released_at = p_now
         WHERE i.number = p_number AND i.holder_org_id = v_org;
        RETURN FOUND;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.release_phone_number(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.release_phone_number(text, timestamptz) TO palisade_app;

/**
 * stamp_deleted_organization_releases(now): after the acting organization deleted itself in
 * this transaction, its numbers were released by the cascade (ON DELETE SET NULL, stamped with
 * the database's transaction time by the inventory's trigger); this restamps exactly those with
 * the application's clock, so the quarantine is measured on one clock. Owners only (deleting the
 * organization is theirs). Returns how many numbers were quarantined.
 */
CREATE OR REPLACE FUNCTION palisade_private.stamp_deleted_organization_releases(p_now timestamptz)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_org uuid := NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid;
        v_role text := NULLIF(pg_catalog.current_setting('app.current_role', true), '');
        v_count integer;
    BEGIN
        IF v_org IS NULL OR v_role IS DISTINCT FROM 'owner' THEN
            RETURN 0;
        END IF;
        UPDATE palisade_platform.phone_number_inventory AS i
           SET released_at = p_now
         WHERE i.released_by_org_id = v_org AND i.holder_org_id IS NULL
           AND i.released_at = pg_catalog.now();
        GET DIAGNOSTICS v_count = ROW_COUNT;
        RETURN v_count;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.stamp_deleted_organization_releases(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.stamp_deleted_organization_releases(timestamptz) TO palisade_app;

/**
 * available_phone_numbers(now, quarantine, capability, after, limit): the numbers the acting
 * organization could claim now (see "Availability" above), with their capabilities, in number
 * order after `after` (keyset paging), at most `limit` (capped at 101). Any role may browse.
 * Only available numbers and their capabilities: nothing about holders.
 */
CREATE OR REPLACE FUNCTION palisade_private.available_phone_numbers(
    p_now timestamptz, p_quarantine interval, p_capability text, p_after text, p_limit integer)
    RETURNS TABLE (available_number text, available_capabilities text[])
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_org uuid := NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid;
    BEGIN
        IF v_org IS NULL THEN
            RETURN;
        END IF;
        RETURN QUERY
            SELECT i.number, i.capabilities
              FROM palisade_platform.phone_number_inventory AS i
             WHERE i.holder_org_id IS NULL
               AND (i.released_at IS NULL
                    OR i.released_by_org_id = v_org
                    OR i.released_at + p_quarantine <= p_now)
               AND (p_capability IS NULL OR p_capability = ANY (i.capabilities))
               AND (p_after IS NULL OR i.number > p_after)
             ORDER BY i.number
             LIMIT LEAST(GREATEST(p_limit, 0), 101);
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.available_phone_numbers(timestamptz, interval, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.available_phone_numbers(timestamptz, interval, text, text, integer) TO palisade_app;

/**
 * held_phone_number_capabilities(number): what the carrier lets this number do, if it is
 * assigned to the acting organization; NULL otherwise. An organization may use a subset
 * (PATCH /v1/phone-numbers/{id} checks a change of capabilities against it).
 */
CREATE OR REPLACE FUNCTION palisade_private.held_phone_number_capabilities(p_number text)
    RETURNS text[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_org uuid := NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid;
        v_capabilities text[];
    BEGIN
        SELECT i.capabilities INTO v_capabilities
          FROM palisade_platform.phone_number_inventory AS i
         WHERE i.number = p_number AND i.holder_org_id = v_org;
        RETURN v_capabilities;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.held_phone_number_capabilities(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.held_phone_number_capabilities(text) TO palisade_app;

RESET ROLE;
