/**
 * palisade.phone_numbers: the E.164 numbers an organization holds, their capabilities, and the
 * IVR menu a call to them starts in (composite foreign key: never another organization's menu).
 * A row exists only for a number the platform's inventory assigns to the organization
 * (phone_numbers_inventory_fkey, sql/V0070; claims go through policies/022), so no write here,
 * even a direct INSERT, can take a number nobody assigned (docs/phone-numbers.md).
 *
 * A global unique key of the tenant domain: phone_numbers_number_key UNIQUE (number), one of the
 * four allow-listed in policies/910_audit_allow_list.sql (tests/api/catalog.rs reads the list
 * back). Why it is needed: an inbound SMS or call names only the
 * number it was sent to, and it must route to exactly one organization (the webhook resolvers
 * of 021_webhook_resolvers.sql find the organization from the number, before any tenant is
 * known). What it reveals: nothing the API answers: a claim goes through
 * claim_phone_number (policies/022) first, which answers the same for a number that is unknown,
 * held by anyone or quarantined (409 number_unavailable), with no detail about who holds it,
 * since when, or how it is configured. Why the key is acceptable: a phone number is public by nature (anyone can dial it
 * and learn that it is in service), a carrier assigns it to one subscriber only, and the
 * platform could not route it otherwise. Nothing else of the row is visible across tenants.
 *
 * Who may do what: every role reads its organization's numbers; only owners and admins add,
 * change or release them (they decide where customers' calls and messages go, and numbers cost
 * money). The handler refuses members with 403 first; these policies enforce it again, so a
 * member's INSERT fails with "new row violates row-level security policy" and a member's
 * UPDATE or DELETE matches no row.
 */
ALTER TABLE palisade.phone_numbers ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.phone_numbers FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.phone_numbers
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.phone_numbers FROM palisade_app, palisade_resolver;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.phone_numbers TO palisade_app;
-- The webhook resolver reads only the columns that route a delivery (021_webhook_resolvers.sql).
GRANT SELECT (organization_id, number, capabilities) ON palisade.phone_numbers TO palisade_resolver;

/** Every role of an organization reads its phone numbers. */
DROP POLICY IF EXISTS phone_numbers_select ON palisade.phone_numbers;
CREATE POLICY phone_numbers_select ON palisade.phone_numbers FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins add numbers to their own organization only. */
DROP POLICY IF EXISTS phone_numbers_insert ON palisade.phone_numbers;
CREATE POLICY phone_numbers_insert ON palisade.phone_numbers FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins edit their own organization's numbers and cannot hand them to another. */
DROP POLICY IF EXISTS phone_numbers_update ON palisade.phone_numbers;
CREATE POLICY phone_numbers_update ON palisade.phone_numbers FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins release their own organization's numbers. */
DROP POLICY IF EXISTS phone_numbers_delete ON palisade.phone_numbers;
CREATE POLICY phone_numbers_delete ON palisade.phone_numbers FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/**
 * The webhook resolver finds a row before any tenant is known (webhook_org_for_number: the
 * organization an inbound SMS or call to this number belongs to). current_user is
 * palisade_resolver only while one of its SECURITY DEFINER functions runs, so this does not
 * extend to members of palisade_resolver (it has none: 000_roles.sql).
 */
DROP POLICY IF EXISTS phone_numbers_select_resolver ON palisade.phone_numbers;
CREATE POLICY phone_numbers_select_resolver ON palisade.phone_numbers FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
