/**
 * palisade_platform.phone_number_inventory: the numbers the platform's carrier account holds,
 * their capabilities, the organization each is assigned to, and the last release (who, when)
 * that starts its quarantine (sql/V0070__create_phone_number_inventory.sql, docs/phone-numbers.md).
 *
 * Platform data, not tenant data: which organization holds which number is nobody's business but
 * the platform's. So no tenant-facing role reads it:
 *   palisade_owner     the operator path (`palisade numbers add|import|list`, which connects as
 *                      the owner and never as the app role): reads and writes every row.
 *   palisade_resolver  reads and updates assignments, only while one of its SECURITY DEFINER
 *                      functions runs (policies/022_phone_number_inventory.sql: claim, release,
 *                      browse what is available, all for the acting organization only).
 *   palisade_app       nothing: it calls those functions. A direct INSERT into palisade.phone_numbers
 *                      of a number not assigned to the organization is refused by the foreign
 *                      key phone_numbers_inventory_fkey (FK checks need no privilege here).
 *   palisade_billing, PUBLIC: nothing.
 *
 * Row-level security is enabled and forced: any other role given a privilege by mistake still
 * sees and writes nothing.
 */
REVOKE ALL ON palisade_platform.phone_number_inventory
    FROM PUBLIC, palisade_app, palisade_billing, palisade_resolver;
GRANT USAGE ON SCHEMA palisade_platform TO palisade_resolver;
GRANT SELECT ON palisade_platform.phone_number_inventory TO palisade_resolver;
GRANT UPDATE (holder_org_id, released_by_org_id, released_at)
    ON palisade_platform.phone_number_inventory TO palisade_resolver;

ALTER TABLE palisade_platform.phone_number_inventory ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade_platform.phone_number_inventory FORCE ROW LEVEL SECURITY;

/** The operator (`palisade numbers list`) reads the whole inventory. */
DROP POLICY IF EXISTS phone_number_inventory_select_owner ON palisade_platform.phone_number_inventory;
CREATE POLICY phone_number_inventory_select_owner ON palisade_platform.phone_number_inventory
    FOR SELECT TO palisade_owner USING (true);

/** The operator (`palisade numbers add|import`) loads the carrier account's numbers. */
DROP POLICY IF EXISTS phone_number_inventory_insert_owner ON palisade_platform.phone_number_inventory;
CREATE POLICY phone_number_inventory_insert_owner ON palisade_platform.phone_number_inventory
    FOR INSERT TO palisade_owner WITH CHECK (true);

/** The operator corrects a number's capabilities (`palisade numbers add` of a known number). */
DROP POLICY IF EXISTS phone_number_inventory_update_owner ON palisade_platform.phone_number_inventory;
CREATE POLICY phone_number_inventory_update_owner ON palisade_platform.phone_number_inventory
    FOR UPDATE TO palisade_owner USING (true) WITH CHECK (true);

/** The operator removes a number the carrier account no longer holds (`palisade numbers remove`). */
DROP POLICY IF EXISTS phone_number_inventory_delete_owner ON palisade_platform.phone_number_inventory;
CREATE POLICY phone_number_inventory_delete_owner ON palisade_platform.phone_number_inventory
    FOR DELETE TO palisade_owner USING (true);

/**
 * The claim functions read the inventory. current_user is palisade_resolver only while one of
 * its SECURITY DEFINER functions runs, so this does not extend to members of the role.
 */
DROP POLICY IF EXISTS phone_number_inventory_select_resolver ON palisade_platform.phone_number_inventory;
CREATE POLICY phone_number_inventory_select_resolver ON palisade_platform.phone_number_inventory
    FOR SELECT TO palisade_resolver USING (current_user = 'palisade_resolver');

/** The claim and release functions change assignments (never numbers or capabilities: no grant). */
DROP POLICY IF EXISTS phone_number_inventory_update_resolver ON palisade_platform.phone_number_inventory;
CREATE POLICY phone_number_inventory_update_resolver ON palisade_platform.phone_number_inventory
    FOR UPDATE TO palisade_resolver
    USING (current_user = 'palisade_resolver') WITH CHECK (current_user = 'palisade_resolver');
