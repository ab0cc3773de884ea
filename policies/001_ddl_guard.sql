/**
 * The DDL guard rail: the database itself refuses DDL that would break tenancy.
 *
 * Applied by a superuser, connected to the Palisade database (event triggers can only be created
 * by a superuser, and they belong to one database): `palisade bootstrap` does it after creating
 * the database, and a DBA can do it with psql (`\c palisade` then `\i policies/001_ddl_guard.sql`).
 * Safe to re-run. It lives in its own schema, palisade_guard, owned by that superuser, so that
 * neither the app role nor the owner role can replace or drop it.
 *
 * Rules, checked for every role, superusers included:
 *   tenant_column_required  A table created in schema palisade (CREATE TABLE, CREATE TABLE AS,
 *                           SELECT INTO), moved into it (ALTER TABLE ... SET SCHEMA palisade) or
 *                           altered there has a column organization_id uuid NOT NULL (the root
 *                           table palisade.organizations: its id). Every table in that schema is a
 *                           tenant table; row-level security compares that column with the acting
 *                           organization.
 *   rls_stays_enabled       ALTER TABLE may not turn row-level security off on a palisade table
 *                           that has it on (DISABLE ROW LEVEL SECURITY).
 *   rls_stays_forced        ALTER TABLE may not un-force it (NO FORCE ROW LEVEL SECURITY): the
 *                           table's owner would then bypass every policy.
 * The two RLS rules look at what one ALTER TABLE statement changes (the state just before it
 * against the state after it), not at the state alone: migrations create a table first and
 * ENABLE/FORCE it in later statements, which must keep working.
 *
 * The conscious override: a non-empty setting palisade.ddl_guard_override, whose value says why.
 * `palisade migrate` sets it to 'palisade migrate' on its own dedicated owner connection (never
 * on a pooled app connection): the project's migrations are the reviewed path. A DBA who must
 * break a rule does the same, for one transaction only:
 *     BEGIN;
 *     SET LOCAL palisade.ddl_guard_override = 'INC-123: why this is needed';
 *     ALTER TABLE palisade.some_table DISABLE ROW LEVEL SECURITY;
 *     COMMIT;
 * An overridden breach still raises a WARNING naming the rule and the reason, which the server
 * log keeps. The guard is a guard rail against mistakes, not a boundary against the owner role or
 * a superuser: they can set the override, and `palisade audit` reports what they leave behind.
 */
CREATE SCHEMA IF NOT EXISTS palisade_guard;
REVOKE ALL ON SCHEMA palisade_guard FROM PUBLIC;

/**
 * Before an ALTER TABLE: remembers, for the rest of the transaction, which palisade tables have
 * row-level security enabled and forced ("oid:EF" pairs, E and F being 0 or 1), so that the check
 * after it can tell a table being switched off from a new table not yet switched on.
 */
CREATE OR REPLACE FUNCTION palisade_guard.remember_rls() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM pg_catalog.set_config('palisade_guard.rls_before', coalesce((
        SELECT pg_catalog.string_agg(c.oid::text || ':' || c.relrowsecurity::int::text
                                     || c.relforcerowsecurity::int::text, ',')
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p')), ''), true);
END
$fn$;

/** After CREATE TABLE, CREATE TABLE AS, SELECT INTO and ALTER TABLE: applies the rules above. */
CREATE OR REPLACE FUNCTION palisade_guard.check_tenant_ddl() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    override text := NULLIF(pg_catalog.current_setting('palisade.ddl_guard_override', true), '');
    before text := ',' || coalesce(pg_catalog.current_setting('palisade_guard.rls_before', true), '') || ',';
    t record;
    col name;
    was text;
    breaches text[] := '{}';
    breach text;
BEGIN
    FOR t IN
        SELECT DISTINCT e.objid, e.command_tag, c.relname, c.relrowsecurity, c.relforcerowsecurity
          FROM pg_catalog.pg_event_trigger_ddl_commands() e
          JOIN pg_catalog.pg_class c ON c.oid = e.objid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objsubid = 0
           AND n.nspname = 'palisade' AND c.relkind IN ('r', 'p')
    LOOP
        col := CASE WHEN t.relname = 'organizations' THEN 'id' ELSE 'organization_id' END;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = t.objid AND a.attname = col AND NOT a.attisdropped
                          AND a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype AND a.attnotnull) THEN
            breaches := breaches || pg_catalog.format(
                'rule tenant_column_required: palisade.%I has no column %I uuid NOT NULL; every table in schema palisade is a tenant table',
                t.relname, col);
        END IF;
        IF t.command_tag = 'ALTER TABLE' THEN
            was := pg_catalog.substring(before, ',' || t.objid::text || ':([01][01]),');
            IF was IS NOT NULL AND pg_catalog.substr(was, 1, 1) = '1' AND NOT t.relrowsecurity THEN
                breaches := breaches || pg_catalog.format(
                    'rule rls_stays_enabled: row-level security may not be disabled on tenant table palisade.%I',
                    t.relname);
            END IF;
            IF was IS NOT NULL AND pg_catalog.substr(was, 2, 1) = '1' AND NOT t.relforcerowsecurity THEN
                breaches := breaches || pg_catalog.format(
                    'rule rls_stays_forced: row-level security may not be un-forced on tenant table palisade.%I (its owner would bypass every policy)',
                    t.relname);
            END IF;
        END IF;
    END LOOP;
    IF pg_catalog.cardinality(breaches) = 0 THEN
        RETURN;
    END IF;
    IF override IS NULL THEN
        RAISE EXCEPTION 'palisade DDL guard: %', pg_catalog.array_to_string(breaches, '; ')
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The guard (policies/001_ddl_guard.sql) keeps every table of schema palisade a tenant table protected by row-level security.',
                  HINT = 'Migrations (palisade migrate) pass. To override consciously, in a transaction: SET LOCAL palisade.ddl_guard_override = ''<why>''; see docs/dba.md.';
    END IF;
    FOREACH breach IN ARRAY breaches LOOP
        RAISE WARNING 'palisade DDL guard overridden by % (palisade.ddl_guard_override = %): %',
            session_user, override, breach;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION palisade_guard.remember_rls() FROM PUBLIC;
REVOKE ALL ON FUNCTION palisade_guard.check_tenant_ddl() FROM PUBLIC;

-- Re-created on every run, so that a disabled or altered trigger is put back as written here.
DROP EVENT TRIGGER IF EXISTS palisade_ddl_guard_before;
CREATE EVENT TRIGGER palisade_ddl_guard_before ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION palisade_guard.remember_rls();
DROP EVENT TRIGGER IF EXISTS palisade_ddl_guard;
CREATE EVENT TRIGGER palisade_ddl_guard ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE')
    EXECUTE FUNCTION palisade_guard.check_tenant_ddl();
