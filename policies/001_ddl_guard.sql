/**
 * The DDL guard rail: the database itself refuses DDL that would break tenancy, and closes every
 * table that enters the tenant schema until its policies exist.
 *
 * Applied by a superuser, connected to the Palisade database (event triggers can only be created
 * by a superuser, and they belong to one database): `palisade bootstrap` and
 * `palisade install-definers` do it, and a DBA can do it with psql (`\c palisade` then
 * `\i policies/001_ddl_guard.sql`). Safe to re-run. It lives in its own schema, palisade_guard,
 * owned by that superuser, so that neither the app role nor the owner role can replace or drop it.
 * Its functions call nothing the owner role could replace (pg_catalog only): they run as whoever
 * issued the DDL, a superuser included.
 *
 * Rules, checked for every role, superusers included, whatever path a table takes into schema
 * palisade (CREATE TABLE, CREATE TABLE AS, SELECT INTO, CREATE TABLE ... PARTITION OF / INHERITS /
 * LIKE, ALTER TABLE ... SET SCHEMA palisade, ATTACH PARTITION, INHERIT, RENAME; for a foreign
 * table, CREATE FOREIGN TABLE, IMPORT FOREIGN SCHEMA and ALTER [FOREIGN] TABLE ... SET SCHEMA):
 *   tenant_column_required  A table created in schema palisade, moved into it or altered there has
 *                           a column organization_id uuid NOT NULL (the root table
 *                           palisade.organizations: its id). Every table in that schema is a
 *                           tenant table; row-level security compares that column with the acting
 *                           organization.
 *   rls_on_arrival          Not refused but corrected: a table that enters schema palisade
 *                           (created there, or moved in) without row-level security enabled and
 *                           forced gets both at once, from the guard, in the same statement. With
 *                           no policy yet it is closed to every role but the superusers; its
 *                           policies (policies/NNN_<table>.sql) open it. A migration that creates
 *                           a table and enables RLS in later statements keeps working (enabling
 *                           twice changes nothing).
 *   rls_stays_enabled       ALTER TABLE may not turn row-level security off on a palisade table
 *                           that has it on (DISABLE ROW LEVEL SECURITY).
 *   rls_stays_forced        ALTER TABLE may not un-force it (NO FORCE ROW LEVEL SECURITY): the
 *                           table's owner would then bypass every policy.
 *   tenant_table_stays      A palisade table may not leave the schema (ALTER TABLE ... SET SCHEMA
 *                           elsewhere): outside it, no rule and no audit check would hold it, and
 *                           it could come back weakened (the "round trip").
 *   tenant_hierarchy_closed A partition or inheritance child of a palisade table must be in
 *                           schema palisade too, and a palisade table may not be a partition or
 *                           child of a table outside it (CREATE TABLE ... PARTITION OF / INHERITS,
 *                           ATTACH PARTITION, ALTER TABLE ... INHERIT): a query on a parent reads
 *                           its children's rows under the parent's policies only, and a child
 *                           read directly is protected by its own, so both must be tenant tables.
 *   tenant_schema_fixed     Schema palisade may not be renamed, and no other schema may be renamed
 *                           to palisade (a swapped-in schema would bring tables the guard never
 *                           saw).
 *   no_foreign_tables       No foreign table in schema palisade: none created there (CREATE
 *                           FOREIGN TABLE, PARTITION OF included), imported into it (IMPORT
 *                           FOREIGN SCHEMA ... INTO palisade) or moved in (ALTER [FOREIGN] TABLE
 *                           ... SET SCHEMA palisade), and none altered there. Row-level security
 *                           does not apply to a foreign table: PostgreSQL refuses it (on 15,
 *                           ALTER TABLE ... ENABLE or FORCE ROW LEVEL SECURITY fails with "This
 *                           operation is not supported for foreign tables", CREATE POLICY with
 *                           "is not a table"), so whoever may read it reads every organization's
 *                           rows it holds. Dropping one, or moving it out, passes. A foreign
 *                           table elsewhere that is a partition or child of a palisade table is
 *                           tenant_hierarchy_closed.
 * The RLS rules look at what one statement changes (the state just before it against the state
 * after it), not at the state alone.
 *
 * What the guard does not refuse, and `palisade audit` reports instead: dropping or altering a
 * policy (missing_policy, unscoped_policy for one that lets every row through, e.g. USING (true),
 * public_policy for one TO PUBLIC), GRANT ... TO PUBLIC (public_grant), a change of owner
 * (foreign_owner), views over tenant tables (view_not_security_invoker), and a disabled or altered
 * guard (ddl_guard_missing: a trigger missing, disabled, enabled for replica sessions only, or
 * re-created on another event, with another function or with fewer tags than below). The policy
 * files themselves drop and re-create policies on every apply.
 *
 * The conscious override: a non-empty setting palisade.ddl_guard_override, whose value says why.
 * `palisade migrate` sets it to 'palisade migrate' on its own dedicated owner connection (never
 * on a pooled app connection): the project's migrations are the reviewed path. Under the override
 * every rule above only warns, and rls_on_arrival does not switch RLS on (migrations create a
 * table, may fill it, and enable its RLS in later statements; the audit and the catalog test fail
 * a migration that forgets). A DBA who must break a rule does the same, for one transaction only:
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
 * Before an ALTER (TABLE, INDEX, SCHEMA): remembers, for the rest of the transaction, which
 * tables are in schema palisade with their row-level security flags ("oid:EF" pairs, E and F
 * being 0 or 1), and the oid of schema palisade, so that the check after it can tell a table
 * being switched off from a new table not yet switched on, and a table leaving the schema.
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
    PERFORM pg_catalog.set_config('palisade_guard.schema_before', coalesce((
        SELECT n.oid::text FROM pg_catalog.pg_namespace n WHERE n.nspname = 'palisade'), ''), true);
END
$fn$;

/**
 * After CREATE TABLE, CREATE TABLE AS, SELECT INTO, CREATE FOREIGN TABLE, IMPORT FOREIGN SCHEMA and
 * ALTER TABLE/INDEX/SCHEMA/FOREIGN TABLE: the rules above.
 */
CREATE OR REPLACE FUNCTION palisade_guard.check_tenant_ddl() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    override text := NULLIF(pg_catalog.current_setting('palisade.ddl_guard_override', true), '');
    before text := ',' || coalesce(pg_catalog.current_setting('palisade_guard.rls_before', true), '') || ',';
    schema_before text := coalesce(pg_catalog.current_setting('palisade_guard.schema_before', true), '');
    tenant_schema oid := (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = 'palisade');
    t record;
    col name;
    was text;
    is_alter boolean;
    entered boolean;
    breaches text[] := '{}';
    to_close oid[] := '{}';
    breach text;
    target oid;
BEGIN
    FOR t IN
        SELECT DISTINCT e.objid, e.command_tag, c.relname, c.relnamespace, c.relkind,
               c.relrowsecurity, c.relforcerowsecurity,
               pg_catalog.format('%I.%I', n.nspname, c.relname) AS qualified
          FROM pg_catalog.pg_event_trigger_ddl_commands() e
          JOIN pg_catalog.pg_class c ON c.oid = e.objid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objsubid = 0
           AND c.relkind IN ('r', 'p', 'f')
    LOOP
        is_alter := t.command_tag LIKE 'ALTER %';
        was := pg_catalog.substring(before, ',' || t.objid::text || ':([01][01]),');
        -- Leaving: it was in palisade before this ALTER, and is not any more.
        IF is_alter AND was IS NOT NULL AND t.relnamespace IS DISTINCT FROM tenant_schema THEN
            breaches := breaches || pg_catalog.format(
                'rule tenant_table_stays: tenant table %s may not leave schema palisade (move it back; to retire it, drop it)',
                t.qualified);
        END IF;
        -- Partitions and inheritance children stay on one side of the schema boundary.
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
                     JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
                     JOIN pg_catalog.pg_class ch ON ch.oid = i.inhrelid
                    WHERE (i.inhrelid = t.objid OR i.inhparent = t.objid)
                      AND (p.relnamespace = tenant_schema) <> (ch.relnamespace = tenant_schema)) THEN
            breaches := breaches || pg_catalog.format(
                'rule tenant_hierarchy_closed: %s would be a partition or inheritance parent or child of a table on the other side of schema palisade; partitions and children of tenant tables are tenant tables, in schema palisade',
                t.qualified);
        END IF;
        CONTINUE WHEN t.relnamespace IS DISTINCT FROM tenant_schema;
        -- A foreign table cannot have row-level security: refused whatever it has, one breach
        -- each. A foreign table with column FDW options (IMPORT FOREIGN SCHEMA gives each column
        -- some; so may a CREATE FOREIGN TABLE by hand) is listed as created once, then altered
        -- once per such column; the DISTINCT above leaves two rows of it.
        IF t.relkind = 'f' THEN
            breach := pg_catalog.format(
                'rule no_foreign_tables: %s is a foreign table in schema palisade; row-level security does not apply to a foreign table (PostgreSQL refuses to enable it or to create a policy on one), so whoever may read it would read every organization''s rows in it',
                t.qualified);
            IF NOT breach = ANY (breaches) THEN
                breaches := breaches || breach;
            END IF;
            CONTINUE;
        END IF;
        col := CASE WHEN t.relname = 'organizations' THEN 'id' ELSE 'organization_id' END;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = t.objid AND a.attname = col AND NOT a.attisdropped
                          AND a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype AND a.attnotnull) THEN
            breaches := breaches || pg_catalog.format(
                'rule tenant_column_required: %s has no column %I uuid NOT NULL; every table in schema palisade is a tenant table',
                t.qualified, col);
        END IF;
        IF is_alter AND was IS NOT NULL THEN
            IF pg_catalog.substr(was, 1, 1) = '1' AND NOT t.relrowsecurity THEN
                breaches := breaches || pg_catalog.format(
                    'rule rls_stays_enabled: row-level security may not be disabled on tenant table %s',
                    t.qualified);
            END IF;
            IF pg_catalog.substr(was, 2, 1) = '1' AND NOT t.relforcerowsecurity THEN
                breaches := breaches || pg_catalog.format(
                    'rule rls_stays_forced: row-level security may not be un-forced on tenant table %s (its owner would bypass every policy)',
                    t.qualified);
            END IF;
        END IF;
        -- Arriving (created here, or moved in by this ALTER): closed until its policies exist.
        entered := NOT is_alter OR was IS NULL;
        IF entered AND NOT (t.relrowsecurity AND t.relforcerowsecurity) THEN
            IF override IS NULL THEN
                to_close := to_close || t.objid;
            ELSE
                breaches := breaches || pg_catalog.format(
                    'rule rls_on_arrival: %s entered schema palisade without row-level security enabled and forced; enable and force it before it holds rows',
                    t.qualified);
            END IF;
        END IF;
    END LOOP;
    -- Schema palisade itself: not renamed away, not replaced by another schema renamed to it.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger_ddl_commands() e
                WHERE e.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass)
       AND schema_before IS DISTINCT FROM coalesce(tenant_schema::text, '') THEN
        breaches := breaches || 'rule tenant_schema_fixed: schema palisade may not be renamed, nor another schema renamed to palisade'::text;
    END IF;
    IF pg_catalog.cardinality(breaches) > 0 THEN
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
    END IF;
    -- rls_on_arrival. The guard's own ALTER TABLE fires these triggers again, and passes them
    -- like any other: the table is already in the schema (not "entered") and only gains RLS.
    -- There is deliberately no "the guard is busy" flag to skip them: any role can set a
    -- custom setting, so such a flag would be a silent side door.
    FOREACH target IN ARRAY to_close LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY',
                                  target::pg_catalog.regclass);
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION palisade_guard.remember_rls() FROM PUBLIC;
REVOKE ALL ON FUNCTION palisade_guard.check_tenant_ddl() FROM PUBLIC;

-- Re-created on every run, so that a disabled or altered trigger is put back as written here.
-- palisade_audit.ddl_guard (900_audit.sql) repeats their events, functions and tags, and reports
-- a trigger that differs; a test (crates/palisade_server/tests/audit.rs) keeps the two equal.
-- ALTER INDEX is here because `ALTER INDEX <a table> RENAME TO ...` renames a table. ALTER FOREIGN
-- TABLE is not (it alters foreign tables only, which the state it remembers never holds).
DROP EVENT TRIGGER IF EXISTS palisade_ddl_guard_before;
CREATE EVENT TRIGGER palisade_ddl_guard_before ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'ALTER INDEX', 'ALTER SCHEMA')
    EXECUTE FUNCTION palisade_guard.remember_rls();
DROP EVENT TRIGGER IF EXISTS palisade_ddl_guard;
CREATE EVENT TRIGGER palisade_ddl_guard ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE', 'ALTER INDEX',
                 'ALTER SCHEMA', 'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE',
                 'IMPORT FOREIGN SCHEMA')
    EXECUTE FUNCTION palisade_guard.check_tenant_ddl();
