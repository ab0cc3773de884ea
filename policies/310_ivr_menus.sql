/**
 * palisade.ivr_menus: an organization's IVR menus (a name unique within the organization,
 * ivr_menus_name_key includes organization_id, and the menu tree as jsonb).
 *
 * Who may do what: every role of the organization reads its own menus; only owners and admins
 * create, change or delete them, as for phone numbers (320_phone_numbers.sql): a menu decides
 * where calls are transferred, so it carries the same authority as the number that starts in it.
 * The handler refuses members with 403 first; these policies enforce it again, so a member's
 * INSERT fails with "new row violates row-level security policy" and a member's UPDATE or
 * DELETE matches no row. Nothing of another organization is visible or writable.
 */
ALTER TABLE palisade.ivr_menus ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.ivr_menus FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.ivr_menus
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.ivr_menus FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.ivr_menus TO palisade_app;

/** Every role of an organization reads its IVR menus. */
DROP POLICY IF EXISTS ivr_menus_select ON palisade.ivr_menus;
CREATE POLICY ivr_menus_select ON palisade.ivr_menus FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Owners and admins add IVR menus to their own organization only. */
DROP POLICY IF EXISTS ivr_menus_insert ON palisade.ivr_menus;
CREATE POLICY ivr_menus_insert ON palisade.ivr_menus FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins edit their own organization's IVR menus and cannot hand them to another. */
DROP POLICY IF EXISTS ivr_menus_update ON palisade.ivr_menus;
CREATE POLICY ivr_menus_update ON palisade.ivr_menus FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));

/** Owners and admins delete their own organization's IVR menus. */
DROP POLICY IF EXISTS ivr_menus_delete ON palisade.ivr_menus;
CREATE POLICY ivr_menus_delete ON palisade.ivr_menus FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id())
        AND (SELECT palisade_private.current_app_role()) IN ('owner', 'admin'));
