/**
 * The DBA audit: views over the system catalogs that show, from the live database alone, how
 * every table is protected, which roles can get past row-level security, which SECURITY DEFINER
 * functions exist and who may run them, and which views could leak tenant rows.
 *
 *     SELECT * FROM palisade_audit.violations;     -- zero rows on a healthy database
 *
 *   palisade_audit.tables      One row per table of the database. Tenant tables (schema palisade)
 *                              get every check; `ok` and `reasons` sum them up.
 *   palisade_audit.policies    One row per policy, with what it restricts rows to.
 *   palisade_audit.roles       One row per role: login, superuser, BYPASSRLS, what it owns and
 *                              what it may do on each tenant table, and why it is not ok.
 *   palisade_audit.functions   One row per function; SECURITY DEFINER ones are checked.
 *   palisade_audit.views       Views and materialized views that read tenant tables.
 *   palisade_audit.ddl_guard   The event triggers of the DDL guard (policies/001_ddl_guard.sql),
 *                              and whether each is as that file installs it.
 *   palisade_audit.columns     Every column palisade_app can reach, with its classification
 *                              (readable or secret: policies/920_column_classification.sql) and
 *                              what palisade_app may do with it.
 *   palisade_audit.copies      Tables and materialized views outside Palisade's own schemas that
 *                              hold organization_id or copy the columns of a tenant table.
 *   palisade_audit.violations  Every finding above, and the sequences every organization would
 *                              share, as (severity, kind, object_type, object, detail, fix,
 *                              rank), most urgent first.
 *   palisade_audit.finding_kinds  Every kind of finding: its severity, rank and one-line fix.
 *   palisade_audit.analysts    The read-only analyst roles and the one organization each may read
 *                              (`palisade analyst grant`; 930_analysts.sql).
 *   palisade_audit.allow_list  The deliberate exceptions (policies/910_audit_allow_list.sql).
 *   palisade_audit.column_classification  Readable or secret, per column (920_column_classification.sql).
 *
 * Which roles are looked at: roles are shared by every database of the cluster, so the findings
 * on what a role can reach from here (bypassrls_role, member_of_bypass_role, member_of_owner_role)
 * are limited to roles that matter to this database: roles that own something here, are named in
 * one of its privileges, policies or settings, and roles that are members of those (they can act
 * as them) or of a superuser, a REPLICATION role, a server-files role, pg_read_all_data or
 * pg_write_all_data (which reach every table of every database). The other role findings are not: those about the roles Palisade names
 * (palisade_app and its login members, palisade_backup, palisade_billing, the recorded analysts) are checked
 * whether or not the role holds anything here, and createrole_role on every role of the cluster
 * (on PostgreSQL 15 CREATEROLE may grant itself any role but a superuser from anywhere).
 * Superusers are the DBA's own and are reported, never flagged; so are the DBA's own
 * administrators allow-listed as administrator_role, as to their CREATEROLE and REPLICATION and
 * their memberships in superusers, REPLICATION roles and the server-files roles (every other
 * check applies to them). replication_role and policies_add_up look at every role of the cluster.
 *
 * The views are security_invoker: whoever reads them reads the system catalogs with their own
 * rights (PostgreSQL lets every role read them), so palisade_auditor needs no more than the
 * grants at the end of this file. Applied by palisade_owner after migrations, like every file
 * here; safe to re-run (the views are dropped and re-created in the same transaction).
 */
DROP VIEW IF EXISTS palisade_audit.violations, palisade_audit.tables, palisade_audit.policies,
    palisade_audit.roles, palisade_audit.functions, palisade_audit.views, palisade_audit.ddl_guard,
    palisade_audit.columns, palisade_audit.copies, palisade_audit.finding_kinds
    CASCADE;

/**
 * Every kind of finding that palisade_audit.violations can hold: its severity, its rank (the order
 * findings are listed in, most urgent first; ranks follow severities) and a one-line fix. The one
 * place severities are defined: the violations view joins it, `palisade audit` prints and sorts
 * by it (text and JSON), docs/dba.md lists it, and a test fails when the views can produce a kind
 * that has no row here.
 *   critical  rows of one organization are reachable from another, or by a role that can pick
 *             any organization, now (or with one SET ROLE or set_config it may already do);
 *   high      isolation holds, but rests on one safeguard fewer than the rules require (the owner
 *             bypasses, a definer function is open, a foreign key or a secret leaks existence);
 *   medium    the database is not as the rules say, without opening a tenant's rows (a missing
 *             policy fails closed, a missing index, an unclassified column, missing guardrails);
 *   low       a notice: listed, but `palisade audit` still exits 0 for it (e.g. the backup role
 *             left able to log in between backups).
 */
CREATE VIEW palisade_audit.finding_kinds WITH (security_invoker = true) AS
SELECT k.kind, k.severity, k.rank, k.fix
  FROM (VALUES
    ('rls_disabled', 'critical', 1,
     'ALTER TABLE <table> ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY (or run palisade migrate)'),
    ('tenant_data_outside_rls', 'critical', 2,
     'Drop the copy (DROP TABLE / DROP MATERIALIZED VIEW); read tenant rows through schema palisade, under RLS'),
    ('unscoped_policy', 'critical', 3,
     'Drop the policy or make it compare the tenant column with the context (palisade migrate restores Palisade''s own)'),
    ('context_policy_for_other_role', 'critical', 4,
     'Drop the policy: that role sets the context itself; use palisade analyst grant <role> --organization <uuid>'),
    ('app_login_member', 'critical', 5,
     'REVOKE palisade_app FROM <role>: only the allow-listed app login roles may act as the app'),
    ('public_policy', 'critical', 6,
     'Re-create the policy TO the role it is for (palisade_app), never TO PUBLIC'),
    ('app_role_bypasses', 'critical', 7,
     'ALTER ROLE <role> NOSUPERUSER NOBYPASSRLS'),
    ('app_role_owns', 'critical', 8,
     'a function: DROP FUNCTION it (given to palisade_owner, a SECURITY DEFINER one would run as the owner of every tenant table); anything else: ALTER ... OWNER TO palisade_owner; or revoke the membership that makes it an owner'),
    ('bypassrls_role', 'critical', 9,
     'ALTER ROLE <role> NOBYPASSRLS (only the allow-listed roles may bypass RLS)'),
    ('member_of_bypass_role', 'critical', 10,
     'REVOKE <superuser or BYPASSRLS role> FROM <role>; a login of your own that may become a superuser: allow-list it as administrator_role, with the reason, in policies/910_audit_allow_list.sql'),
    ('member_of_owner_role', 'critical', 11,
     'REVOKE <owner role> FROM <role> (palisade_resolver has no members)'),
    ('backup_role_can_write', 'critical', 12,
     'REVOKE from palisade_backup everything but SELECT on tables and sequences and USAGE on schemas, and its memberships'),
    ('analyst_beyond_read', 'critical', 13,
     'palisade analyst revoke <role>, then palisade analyst grant <role> --organization <uuid> again'),
    ('billing_role_beyond_billing', 'critical', 14,
     'REVOKE from palisade_billing what it holds beyond billing (REVOKE ALL ON <table> FROM palisade_billing, REVOKE <role> FROM palisade_billing, ALTER ... OWNER TO palisade_owner), then palisade migrate (it re-grants the billing tables)'),
    ('materialized_view_over_tenant_table', 'critical', 15,
     'DROP MATERIALIZED VIEW <view>; use a view WITH (security_invoker = true) instead'),
    ('view_not_security_invoker', 'critical', 16,
     'ALTER VIEW <view> SET (security_invoker = true)'),
    ('secret_column_readable', 'critical', 17,
     'REVOKE SELECT ON <table> FROM palisade_app (or the login role it was granted to) and grant SELECT column by column, without the secret'),
    ('definer_executable_by_other_role', 'critical', 18,
     'REVOKE EXECUTE ON FUNCTION <function> FROM <role> (or the membership that passes it on): Palisade grants each only to palisade_app, palisade_billing or palisade_owner; one owned by the app, an analyst or palisade_owner: DROP FUNCTION <function>'),
    ('app_role_can_login', 'critical', 19,
     'ALTER ROLE palisade_app NOLOGIN PASSWORD NULL: the server logs in as palisade_app_a or palisade_app_b'),
    ('foreign_table_in_tenant_schema', 'critical', 20,
     'DROP FOREIGN TABLE <table> (row-level security cannot apply to it), or move it out of schema palisade if it holds no tenant rows'),
    ('policies_add_up', 'critical', 21,
     'REVOKE <role> FROM <member> for the memberships that join them: palisade_app is a member of nothing, its login roles of palisade_app only, and each analyst role of nothing'),
    ('replication_role', 'critical', 22,
     'ALTER ROLE <role> NOREPLICATION; a standby''s or physical backup''s login of your own: allow-list it as administrator_role, with the reason, in policies/910_audit_allow_list.sql'),
    ('rls_not_forced', 'high', 23,
     'ALTER TABLE <table> FORCE ROW LEVEL SECURITY (or run palisade migrate)'),
    ('no_tenant_column', 'high', 24,
     'Add organization_id uuid NOT NULL REFERENCES palisade.organizations, or move the table out of schema palisade'),
    ('foreign_owner', 'high', 25,
     'ALTER TABLE <table> OWNER TO palisade_owner'),
    ('definer_bypasses_rls', 'high', 26,
     'ALTER FUNCTION <function> OWNER TO palisade_resolver (palisade install-definers re-creates Palisade''s own)'),
    ('definer_wrong_owner', 'high', 33,
     'As a superuser: ALTER FUNCTION <function> OWNER TO palisade_resolver, then palisade install-definers (a restore as palisade_owner leaves Palisade''s definers owned by it)'),
    -- High, not critical: no row is reachable until that role acts (GRANT, then SET ROLE), and
    -- CREATEROLE marks a role trusted to administer roles, as the owner that rls_not_forced leaves
    -- able to bypass is trusted: one safeguard fewer. A deliberate administrator (a managed
    -- service's admin login has CREATEROLE) is allow-listed as administrator_role and not reported.
    ('createrole_role', 'high', 34,
     'ALTER ROLE <role> NOCREATEROLE; an administrator of your own (e.g. a managed service''s admin login): allow-list it as administrator_role, with the reason, in policies/910_audit_allow_list.sql'),
    -- RLS pitfall 9: a trigger runs on every write of every organization.
    ('definer_trigger', 'high', 35,
     'ALTER FUNCTION <function> SECURITY INVOKER: a trigger on a tenant table runs as the writer, under its row-level security'),
    ('trigger_assigns_tenant_column', 'high', 36,
     'Drop the trigger, or make its function leave the tenant column of NEW (organization_id; id on organizations) as written: a row stays in the organization it was written in'),
    ('definer_public_execute', 'high', 27,
     'REVOKE EXECUTE ON FUNCTION <function> FROM PUBLIC'),
    ('definer_mutable_search_path', 'high', 28,
     'ALTER FUNCTION <function> SET search_path = '''''),
    ('fk_without_tenant', 'high', 29,
     'Make the foreign key (organization_id, <column>) reference the parent''s (organization_id, id)'),
    ('public_grant', 'high', 30,
     'REVOKE ALL ON <table> FROM PUBLIC (column grants go with it); a schema: REVOKE ALL ON SCHEMA <schema> FROM PUBLIC'),
    ('secret_derived_column', 'high', 31,
     'Classify the column secret in policies/920_column_classification.sql, or give the reason it reveals nothing'),
    ('ddl_guard_missing', 'high', 32,
     'Run palisade bootstrap (or, as a superuser, policies/001_ddl_guard.sql)'),
    ('global_unique_key', 'medium', 40,
     'Include organization_id in the unique key, or allow-list it with the reason in policies/910_audit_allow_list.sql'),
    ('missing_policy', 'medium', 41,
     'Run palisade migrate (it re-creates Palisade''s policies), or write the table''s policy for that command'),
    ('unclassified_column', 'medium', 42,
     'Classify the column readable or secret in policies/920_column_classification.sql'),
    ('stale_column_classification', 'medium', 43,
     'Remove or rename the column''s row in policies/920_column_classification.sql'),
    ('app_login_without_guardrails', 'medium', 44,
     'Run palisade bootstrap, or ALTER ROLE <role> SET statement_timeout / SET idle_in_transaction_session_timeout / CONNECTION LIMIT <n>'),
    ('no_tenant_index', 'medium', 45,
     'CREATE INDEX ON <table> (organization_id)'),
    -- RLS pitfall 13: every organization would draw from the one sequence.
    ('shared_sequence', 'medium', 46,
     'Key the rows with UUIDs (made by the application, as Palisade''s are, or gen_random_uuid()). A column: ALTER TABLE <table> ALTER COLUMN <column> DROP IDENTITY (which drops its sequence), or DROP DEFAULT then DROP SEQUENCE <sequence>. A sequence: DROP SEQUENCE <sequence>, or REVOKE ALL ON SEQUENCE <sequence> FROM <role>'),
    ('trigger_source_unread', 'medium', 47,
     'Read <function> by hand: it must not assign organization_id; better, write the trigger function in PL/pgSQL, whose source the audit reads'),
    ('fk_without_index', 'medium', 48,
     'CREATE INDEX CONCURRENTLY ON <table> (<the foreign key''s columns>), outside a transaction; then drop any INVALID index a failed build left'),
    ('backup_role_can_login', 'low', 60,
     'ALTER ROLE palisade_backup NOLOGIN once the backup is done')
  ) AS k(kind, severity, rank, fix);

/** The column a table's rows are owned through: `id` for the root table, organization_id for the
 * other tables of schema palisade, NULL for tables that are not tenant tables. */
CREATE OR REPLACE FUNCTION palisade_audit.tenant_column(p_schema name, p_table name) RETURNS name
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
        SELECT CASE WHEN p_schema <> 'palisade' THEN NULL
                    WHEN p_table = 'organizations' THEN 'id'::name
                    ELSE 'organization_id'::name END
    $fn$;

/**
 * The top-level AND operands of a deparsed expression (pg_get_expr output), each without its
 * outer parentheses: '((a = 1) AND ((b) AND (c)))' gives {'a = 1', 'b', 'c'}. A policy is scoped
 * to the organization only if one of these operands is the comparison with the tenant context;
 * an OR anywhere above that comparison would widen it, so it does not count.
 */
CREATE OR REPLACE FUNCTION palisade_audit.conjuncts(p_expr text) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    work text[] := ARRAY[p_expr];
    result text[] := '{}';
    parts text[];
    s text;
    ch text;
    quote text;
    i int;
    n int;
    depth int;
    start int;
    closing int;
BEGIN
    WHILE cardinality(work) > 0 LOOP
        s := btrim(work[1]);
        work := work[2:];
        -- Strip parentheses that enclose the whole operand.
        LOOP
            EXIT WHEN left(s, 1) <> '(' OR right(s, 1) <> ')';
            depth := 0; quote := NULL; closing := 0; i := 1; n := length(s);
            WHILE i <= n LOOP
                ch := substr(s, i, 1);
                IF quote IS NOT NULL THEN
                    IF ch = quote THEN quote := NULL; END IF;
                ELSIF ch IN ('''', '"') THEN
                    quote := ch;
                ELSIF ch = '(' THEN
                    depth := depth + 1;
                ELSIF ch = ')' THEN
                    depth := depth - 1;
                    IF depth = 0 THEN closing := i; EXIT; END IF;
                END IF;
                i := i + 1;
            END LOOP;
            EXIT WHEN closing <> n;
            s := btrim(substr(s, 2, n - 2));
        END LOOP;
        -- Split at AND outside parentheses and quotes.
        parts := '{}'; depth := 0; quote := NULL; start := 1; i := 1; n := length(s);
        WHILE i <= n LOOP
            ch := substr(s, i, 1);
            IF quote IS NOT NULL THEN
                IF ch = quote THEN quote := NULL; END IF;
            ELSIF ch IN ('''', '"') THEN
                quote := ch;
            ELSIF ch = '(' THEN
                depth := depth + 1;
            ELSIF ch = ')' THEN
                depth := depth - 1;
            ELSIF depth = 0 AND substr(s, i, 5) = ' AND ' THEN
                parts := parts || btrim(substr(s, start, i - start));
                start := i + 5;
                i := i + 4;
            END IF;
            i := i + 1;
        END LOOP;
        parts := parts || btrim(substr(s, start));
        IF cardinality(parts) = 1 THEN
            result := result || parts[1];
        ELSE
            work := parts || work;
        END IF;
    END LOOP;
    RETURN result;
END
$fn$;

/**
 * Whether a policy clause (USING or WITH CHECK, deparsed) keeps rows to the acting organization:
 * absent, `false`, or ANDed with `<tenant column> = (SELECT palisade_private.current_org_id())`
 * (either side, with or without the SELECT wrapping; the schema is left out of the deparsed text
 * when the reader's search_path includes palisade_private).
 */
CREATE OR REPLACE FUNCTION palisade_audit.scoped_to_org(p_expr text, p_column name) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
        SELECT p_expr IS NULL OR p_expr = 'false' OR EXISTS (
            SELECT 1 FROM pg_catalog.unnest(palisade_audit.conjuncts(p_expr)) AS c(operand),
                          (VALUES ('palisade_private.'), ('')) AS q(schema_prefix)
             WHERE c.operand IN (
                 p_column || ' = ( SELECT ' || q.schema_prefix || 'current_org_id() AS current_org_id)',
                 '( SELECT ' || q.schema_prefix || 'current_org_id() AS current_org_id) = ' || p_column,
                 p_column || ' = ' || q.schema_prefix || 'current_org_id()',
                 q.schema_prefix || 'current_org_id() = ' || p_column))
    $fn$;

/**
 * Whether a policy clause is the resolver form: absent, or ANDed with CURRENT_USER = '<role>',
 * which holds only while a SECURITY DEFINER function owned by that (NOLOGIN) role runs.
 */
CREATE OR REPLACE FUNCTION palisade_audit.scoped_to_role(p_expr text, p_role name) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
        SELECT p_expr IS NULL OR EXISTS (
            SELECT 1 FROM pg_catalog.unnest(palisade_audit.conjuncts(p_expr)) AS c(operand)
             WHERE c.operand IN ('CURRENT_USER = ' || pg_catalog.quote_literal(p_role) || '::name',
                                 pg_catalog.quote_literal(p_role) || '::name = CURRENT_USER'))
    $fn$;

/**
 * Whether a deparsed policy clause reads the tenant context, which any session may set for itself
 * (set_config('app.current_org', ...)): current_setting, set_config, or the context functions of
 * palisade_private (current_org_id, current_user_id, current_app_role; 010_context_functions.sql).
 * Only the app role may be trusted with it: the server sets it from an authenticated request.
 */
CREATE OR REPLACE FUNCTION palisade_audit.reads_tenant_context(p_expr text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
        SELECT coalesce(p_expr ~ '(current_setting|set_config|current_org_id|current_user_id|current_app_role)\(', false)
    $fn$;

/**
 * Whether a PL/pgSQL trigger function's source, comments left out, assigns the tenant column of
 * NEW (RLS pitfall 9): `NEW.<column> :=`, a statement `NEW.<column> = ...`, a statement `NEW :=`
 * or `NEW = ...`, `INTO NEW` (the whole row), or `INTO` a list of targets that holds
 * `NEW.<column>` (`INTO NEW.updated_at` is not reported). String literals and comments are left
 * out first, in one left-to-right pass (so neither hides code from the other). Read from the
 * source: a guard against a change, not a proof. It misses a copy of NEW changed and returned, an
 * alias of NEW (`r ALIAS FOR NEW`), a helper function that builds the row, and code in a
 * dollar-quoted string or an E'' string with \' in it; it reports `NEW.<column> :=
 * OLD.<column>`, which changes nothing (a DBA who has read such a trigger allow-lists it as
 * reviewed_trigger, 910_audit_allow_list.sql). p_column goes into the pattern as it is: it is
 * always id or organization_id (tenant_column). The catalog test (tests/api/catalog.rs) uses it
 * too.
 */
CREATE OR REPLACE FUNCTION palisade_audit.assigns_tenant_column(p_source text, p_column name) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
        SELECT coalesce(
            -- A string literal, a line comment or a block comment, whichever starts first; the
            -- block comment's pattern holds under the greedy matching an alternation gets.
            pg_catalog.regexp_replace(p_source,
                                      '''([^'']|'''')*''|--[^' || pg_catalog.chr(10) || ']*|/[*]([^*]|[*]+[^*/])*[*]+/',
                                      ' ', 'g')
            ~* ('\mnew\s*[.]\s*"?' || p_column || '"?\s*:='
                || '|(^|;|\m(then|begin|else|loop)\M)\s*new\s*[.]\s*"?' || p_column || '"?\s*='
                || '|(^|;|\m(then|begin|else|loop)\M)\s*new\s*:?='
                || '|\minto\s+(strict\s+)?new\M(?!\s*[.])'
                -- INTO a list: each earlier target a name, a field (v.f) or an element (a[1]).
                || '|\minto\s+(strict\s+)?((("[^"]*"|[\w$]+)(\s*[.]\s*("[^"]*"|[\w$]+)|\[[^]]*\])*)\s*,\s*)*'
                || 'new\s*[.]\s*("' || p_column || '"|' || p_column || '\M)'),
            false)
    $fn$;

/**
 * One row per policy. `restricts_to` says what limits the rows it lets through; NULL means
 * nothing does (e.g. USING (true)), which is a violation on a tenant table:
 *   'the acting organization'   every clause compares the tenant column with the context;
 *   'nothing (false)'           every clause is false (e.g. tenants may not write billing tables);
 *   'its resolver role'         TO palisade_resolver USING (current_user = 'palisade_resolver'):
 *                               only its SECURITY DEFINER functions (palisade_private) match. No
 *                               other role qualifies: another role's members SET ROLE to it and
 *                               match, and a memberless one's definer functions may be run by
 *                               whoever holds EXECUTE on them, wherever they are, so for any
 *                               other role the policy restricts nothing. palisade_resolver's login
 *                               members are member_of_owner_role, and whoever may run its definer
 *                               functions, in any schema, definer_executable_by_other_role;
 *   'moot: its roles bypass RLS' every role it names bypasses row-level security anyway;
 *   'restrictive'               AS RESTRICTIVE: it can only narrow what permissive ones allow;
 *   'one organization (analyst)' FOR SELECT TO one recorded analyst role (palisade_audit.analysts)
 *                               USING (<tenant column> = '<its organization>'::uuid): pinned to the
 *                               organization it was granted, whatever context it sets.
 * `context_roles`: the roles it names, other than the app role (palisade_app and the allow-listed
 * app_login_role roles), that bypass nothing and are not palisade_resolver in its resolver
 * form, when a clause reads the settable tenant context: each of them picks its
 * organization itself with set_config (context_policy_for_other_role).
 */
CREATE VIEW palisade_audit.policies WITH (security_invoker = true) AS
WITH resolver AS (
    SELECT r.oid FROM pg_catalog.pg_roles r
     WHERE r.rolname = 'palisade_resolver' AND NOT r.rolcanlogin
), p AS (
    SELECT n.nspname::text AS schema_name, c.relname::text AS table_name, p.polname::text AS policy_name,
           CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                         WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
           p.polpermissive AS permissive,
           ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(r.oid)::text END
                   FROM pg_catalog.unnest(p.polroles) AS r(oid) ORDER BY 1) AS roles,
           pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr,
           pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check_expr,
           palisade_audit.tenant_column(n.nspname, c.relname) AS tenant_column,
           p.polroles
      FROM pg_catalog.pg_policy p
      JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
)
SELECT p.schema_name, p.table_name, p.policy_name, p.command, p.permissive, p.roles,
       p.using_expr, p.with_check_expr,
       p.tenant_column IS NOT NULL AS on_tenant_table,
       CASE WHEN p.permissive AND palisade_audit.reads_tenant_context(
                     pg_catalog.concat_ws(' ', p.using_expr, p.with_check_expr))
            THEN ARRAY(
                SELECT r.rolname::text FROM pg_catalog.pg_roles r
                 WHERE r.oid = ANY (p.polroles) AND r.rolname <> 'palisade_app'
                   AND r.rolname NOT IN (SELECT a.name FROM palisade_audit.allow_list a
                                          WHERE a.kind = 'app_login_role')
                   AND NOT (r.rolsuper OR r.rolbypassrls)
                   AND NOT (r.oid IN (SELECT resolver.oid FROM resolver)
                            AND palisade_audit.scoped_to_role(p.using_expr, r.rolname)
                            AND palisade_audit.scoped_to_role(p.with_check_expr, r.rolname))
                 ORDER BY 1)
            ELSE '{}'::text[] END AS context_roles,
       (0::oid = ANY (p.polroles) OR 'palisade_app' = ANY (p.roles)) AS binds_app,
       CASE
         WHEN NOT p.permissive THEN 'restrictive'
         WHEN p.tenant_column IS NOT NULL
              AND palisade_audit.scoped_to_org(p.using_expr, p.tenant_column)
              AND palisade_audit.scoped_to_org(p.with_check_expr, p.tenant_column)
           THEN CASE WHEN coalesce(p.using_expr, 'false') = 'false'
                      AND coalesce(p.with_check_expr, 'false') = 'false'
                     THEN 'nothing (false)' ELSE 'the acting organization' END
         WHEN pg_catalog.cardinality(p.polroles) = 1
              AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                           WHERE r.oid = p.polroles[1] AND r.oid IN (SELECT resolver.oid FROM resolver)
                             AND palisade_audit.scoped_to_role(p.using_expr, r.rolname)
                             AND palisade_audit.scoped_to_role(p.with_check_expr, r.rolname))
           THEN 'its resolver role'
         WHEN NOT 0::oid = ANY (p.polroles)
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                               WHERE r.oid = ANY (p.polroles) AND NOT (r.rolsuper OR r.rolbypassrls))
           THEN 'moot: its roles bypass RLS'
         WHEN p.tenant_column IS NOT NULL AND p.command = 'SELECT' AND p.with_check_expr IS NULL
              AND pg_catalog.cardinality(p.polroles) = 1
              AND EXISTS (SELECT 1 FROM palisade_audit.analysts a
                            JOIN pg_catalog.pg_roles r ON r.rolname = a.role_name
                           WHERE r.oid = p.polroles[1]
                             AND palisade_audit.conjuncts(p.using_expr) @> ARRAY[
                                 p.tenant_column || ' = ' || pg_catalog.quote_literal(a.organization_id::text) || '::uuid'])
           THEN 'one organization (analyst)'
       END AS restricts_to
  FROM p;

/**
 * One row per table, foreign tables included (schemas other than pg_catalog, information_schema
 * and pg_toast). Tenant tables are those of schema palisade; `category` classifies every table:
 * tenant, platform (palisade_platform: no tenant rows, each table with its own policies),
 * palisade internal (palisade_private, palisade_audit, palisade_guard) or other (outside
 * Palisade's schemas, where palisade_audit.copies looks for copies of tenant data); `ok` is false,
 * with `reasons` (each "kind: detail"), when one breaks a rule:
 *   foreign_table_in_tenant_schema  a foreign table in schema palisade, the only finding on it:
 *                      row-level security does not apply to a foreign table (PostgreSQL 15
 *                      refuses ALTER TABLE ... ENABLE ROW LEVEL SECURITY on one, "not supported
 *                      for foreign tables", and CREATE POLICY, "is not a table"), so whoever may
 *                      read it reads every organization's rows in it. The DDL guard refuses one
 *                      (no_foreign_tables, 001_ddl_guard.sql) unless overridden;
 *   no_tenant_column   no organization_id uuid NOT NULL (organizations: id);
 *   rls_disabled       row-level security not enabled;
 *   rls_not_forced     not forced: the table owner would bypass the policies;
 *   missing_policy     no permissive policy for palisade_app (or PUBLIC) for SELECT, INSERT,
 *                      UPDATE or DELETE with the clauses the command needs (USING for SELECT and
 *                      DELETE, WITH CHECK for INSERT, both for UPDATE);
 *   unscoped_policy    a permissive policy whose rows are not restricted (see policies above);
 *   public_policy      a permissive policy TO PUBLIC: every policy names the role it is for;
 *   no_tenant_index    no index leading with the tenant column;
 *   fk_without_tenant  a foreign key to a tenant table whose columns do not pair this table's
 *                      organization_id with the parent's (FK checks bypass RLS: a single-column
 *                      key lets one tenant reference, and so detect, another tenant's rows);
 *   fk_without_index   a foreign key of this table with no valid, whole (not partial) index whose
 *                      leading key columns are exactly its columns, in any order, nor a unique
 *                      one on some of them only (which finds the one row too): deleting or
 *                      re-keying a parent row then reads the whole table, or the organization's
 *                      part of it, in the deleting transaction, holding its locks (deleting an
 *                      organization cascades through every such table);
 *   global_unique_key  a unique key without the tenant column, not in the allow-list (a
 *                      duplicate-key error tells one tenant what another holds);
 *   public_grant       PUBLIC holds privileges on it or on a column of it (shown as
 *                      `SELECT (email)`); PUBLIC's privileges on the schemas palisade,
 *                      palisade_private and palisade_platform are public_grant on the schema, in
 *                      palisade_audit.violations;
 *   foreign_owner      owned by a role other than the owner of schema palisade;
 *   shared_sequence    a column takes its values from a sequence (an identity column, or a
 *                      default calling nextval, as serial's does): every organization draws from
 *                      the one sequence, so each value tells a writer how many rows the others
 *                      wrote (RLS pitfall 13; the sequences themselves, in Palisade's schemas or
 *                      usable by the app, are reported in palisade_audit.violations);
 * and one finding per trigger (a partition's clone of its parent's aside), the first that applies
 * (RLS pitfall 9), a disabled one too (the detail says so: ENABLE makes it fire again); a trigger
 * allow-listed as reviewed_trigger (910_audit_allow_list.sql) is reported only if it is a definer:
 *   definer_trigger    it runs a SECURITY DEFINER function: it reads and writes as the
 *                      function's owner, not as the writer under its row-level security;
 *   trigger_source_unread  it runs a function in another language than PL/pgSQL that is not
 *                      one of PostgreSQL's own (an oid below 16384: built in, e.g.
 *                      suppress_redundant_updates_trigger, which writes no uuid column), whose
 *                      source the audit cannot read;
 *   trigger_assigns_tenant_column  its PL/pgSQL function assigns the tenant column of NEW
 *                      (palisade_audit.assigns_tenant_column, read from its source): a row may
 *                      leave the organization it was written in; for the app role only WITH CHECK
 *                      stops it, and for a role that bypasses row-level security nothing does.
 */
CREATE VIEW palisade_audit.tables WITH (security_invoker = true) AS
WITH t AS (
    SELECT c.oid, n.nspname::text AS schema_name, c.relname::text AS table_name,
           palisade_audit.tenant_column(n.nspname, c.relname) AS tenant_column,
           c.relowner, n.nspowner, c.relrowsecurity, c.relforcerowsecurity, c.relacl,
           c.relkind, n.oid AS nsp
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'f') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
), facts AS (
    SELECT t.*,
           t.tenant_column IS NOT NULL AS is_tenant_table,
           EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = t.oid AND a.attname = t.tenant_column AND NOT a.attisdropped
                      AND a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype AND a.attnotnull) AS has_tenant_column,
           cmd.select_policies, cmd.insert_policies, cmd.update_policies, cmd.delete_policies,
           ARRAY(SELECT v.command
                   FROM (VALUES (1, 'SELECT'), (2, 'INSERT'), (3, 'UPDATE'), (4, 'DELETE')) AS v(o, command)
                  WHERE NOT EXISTS (
                        SELECT 1 FROM palisade_audit.policies p
                         WHERE p.schema_name = t.schema_name AND p.table_name = t.table_name
                           AND p.permissive AND p.binds_app AND p.command IN (v.command, 'ALL')
                           AND (v.command = 'INSERT' OR p.using_expr IS NOT NULL)
                           AND (v.command IN ('SELECT', 'DELETE') OR p.with_check_expr IS NOT NULL))
                  ORDER BY v.o) AS commands_without_policy,
           ARRAY(SELECT pg_catalog.format('%s (%s TO %s) %s', p.policy_name, p.command,
                                          pg_catalog.array_to_string(p.roles, ', '),
                                          pg_catalog.concat_ws(' ', 'USING ' || p.using_expr,
                                                               'WITH CHECK ' || p.with_check_expr))
                   FROM palisade_audit.policies p
                  WHERE p.schema_name = t.schema_name AND p.table_name = t.table_name
                    AND p.restricts_to IS NULL
                  ORDER BY p.policy_name) AS unscoped_policies,
           ARRAY(SELECT p.policy_name
                   FROM palisade_audit.policies p
                  WHERE p.schema_name = t.schema_name AND p.table_name = t.table_name
                    AND p.permissive AND 'PUBLIC' = ANY (p.roles)
                  ORDER BY p.policy_name) AS public_policies,
           (SELECT ic.relname::text
              FROM pg_catalog.pg_index i
              JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
              JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
             WHERE i.indrelid = t.oid AND a.attname = t.tenant_column
             ORDER BY i.indisprimary DESC, ic.relname
             LIMIT 1) AS tenant_index,
           CASE WHEN t.tenant_column IS NOT NULL THEN ARRAY(
               SELECT k.conname::text
                 FROM pg_catalog.pg_constraint k
                 JOIN pg_catalog.pg_class r ON r.oid = k.confrelid
                 JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
                WHERE k.conrelid = t.oid AND k.contype = 'f'
                  AND palisade_audit.tenant_column(rn.nspname, r.relname) IS NOT NULL
                  AND NOT EXISTS (
                      SELECT 1 FROM pg_catalog.generate_subscripts(k.conkey, 1) AS s(i)
                        JOIN pg_catalog.pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = k.conkey[s.i]
                        JOIN pg_catalog.pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[s.i]
                       WHERE ca.attname = t.tenant_column
                         AND pa.attname = palisade_audit.tenant_column(rn.nspname, r.relname))
                ORDER BY 1) END AS foreign_keys_without_tenant,
           -- The rule of tests/api/catalog.rs: an index's leading key columns (INCLUDE columns
           -- do not count) are the key's, in any order; or a unique index on some of them.
           CASE WHEN t.tenant_column IS NOT NULL THEN ARRAY(
               SELECT pg_catalog.format('%I (%s)', k.conname,
                                        (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY c.o)
                                           FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY AS c(a, o)
                                           JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = c.a))
                 FROM pg_catalog.pg_constraint k
                WHERE k.conrelid = t.oid AND k.contype = 'f'
                  AND NOT EXISTS (
                      SELECT 1 FROM pg_catalog.pg_index i
                       WHERE i.indrelid = t.oid AND i.indpred IS NULL AND i.indisvalid
                         AND (SELECT pg_catalog.array_agg(u.a ORDER BY u.a)
                                FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY AS u(a, o)
                               WHERE u.o <= pg_catalog.cardinality(k.conkey) AND u.o <= i.indnkeyatts)
                             = (SELECT pg_catalog.array_agg(c.a ORDER BY c.a) FROM pg_catalog.unnest(k.conkey) AS c(a)))
                  AND NOT EXISTS (
                      SELECT 1 FROM pg_catalog.pg_index i
                       WHERE i.indrelid = t.oid AND i.indpred IS NULL AND i.indisvalid AND i.indisunique
                         AND (SELECT pg_catalog.bool_and(u.a = ANY (k.conkey))
                                FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY AS u(a, o)
                               WHERE u.o <= i.indnkeyatts))
                ORDER BY k.conname) END AS foreign_keys_without_index,
           CASE WHEN t.tenant_column IS NOT NULL THEN ARRAY(
               SELECT ic.relname::text
                 FROM pg_catalog.pg_index i
                 JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                WHERE i.indrelid = t.oid AND (i.indisunique OR i.indisexclusion)
                  -- among its key columns: an INCLUDE column does not make the key per tenant
                  AND NOT EXISTS (SELECT 1
                                    FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY AS u(a, o)
                                    JOIN pg_catalog.pg_attribute a
                                      ON a.attrelid = t.oid AND a.attnum = u.a
                                   WHERE u.o <= i.indnkeyatts AND a.attname = t.tenant_column)
                ORDER BY 1) END AS unique_keys_without_tenant,
           -- On the table (SELECT), then on columns, each privilege with its columns
           -- (SELECT (email)): a column grant reaches its column as a table grant would.
           ARRAY(SELECT g.what FROM (
                     SELECT DISTINCT 1 AS o, x.privilege_type::text AS what
                       FROM pg_catalog.aclexplode(t.relacl) x WHERE x.grantee = 0
                     UNION ALL
                     SELECT 2, c.privilege_type || ' ('
                               || pg_catalog.string_agg(pg_catalog.quote_ident(c.attname), ', ' ORDER BY c.attnum) || ')'
                       FROM (SELECT DISTINCT a.attnum, a.attname, x.privilege_type::text AS privilege_type
                               FROM pg_catalog.pg_attribute a, pg_catalog.aclexplode(a.attacl) x
                              WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
                                AND x.grantee = 0) AS c
                      GROUP BY c.privilege_type) AS g
                  ORDER BY g.o, g.what) AS public_privileges,
           CASE WHEN t.tenant_column IS NOT NULL THEN ARRAY(
               SELECT pg_catalog.format('%I (%s)', a.attname,
                                        CASE WHEN a.attidentity <> ''
                                             THEN 'an identity column, sequence '
                                                  || pg_catalog.pg_get_serial_sequence(pg_catalog.format('%I.%I', t.schema_name, t.table_name), a.attname)
                                             ELSE 'DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) END)
                 FROM pg_catalog.pg_attribute a
                 LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
                  AND (a.attidentity <> '' OR pg_catalog.pg_get_expr(d.adbin, d.adrelid) ~ '\mnextval\(')
                ORDER BY a.attnum) END AS sequence_columns
      FROM t
      CROSS JOIN LATERAL (
          SELECT pg_catalog.string_agg(d.line, E'\n' ORDER BY d.line) FILTER (WHERE d.command IN ('SELECT', 'ALL')) AS select_policies,
                 pg_catalog.string_agg(d.line, E'\n' ORDER BY d.line) FILTER (WHERE d.command IN ('INSERT', 'ALL')) AS insert_policies,
                 pg_catalog.string_agg(d.line, E'\n' ORDER BY d.line) FILTER (WHERE d.command IN ('UPDATE', 'ALL')) AS update_policies,
                 pg_catalog.string_agg(d.line, E'\n' ORDER BY d.line) FILTER (WHERE d.command IN ('DELETE', 'ALL')) AS delete_policies
            FROM (SELECT p.command,
                         pg_catalog.concat_ws(' ', p.policy_name,
                                              CASE WHEN NOT p.permissive THEN 'AS RESTRICTIVE' END,
                                              'TO ' || pg_catalog.array_to_string(p.roles, ', '),
                                              'USING ' || p.using_expr,
                                              'WITH CHECK ' || p.with_check_expr) AS line
                    FROM palisade_audit.policies p
                   WHERE p.schema_name = t.schema_name AND p.table_name = t.table_name) AS d
      ) AS cmd
)
SELECT f.schema_name, f.table_name, f.is_tenant_table,
       CASE WHEN f.is_tenant_table THEN 'tenant'
            WHEN f.schema_name = 'palisade_platform' THEN 'platform'
            WHEN f.schema_name IN ('palisade_private', 'palisade_audit', 'palisade_guard') THEN 'palisade internal'
            ELSE 'other' END AS category,
       f.tenant_column::text AS tenant_column,
       pg_catalog.pg_get_userbyid(f.relowner)::text AS owner,
       CASE WHEN f.is_tenant_table THEN f.has_tenant_column END AS has_tenant_column,
       f.relrowsecurity AS rls_enabled, f.relforcerowsecurity AS rls_forced,
       f.select_policies, f.insert_policies, f.update_policies, f.delete_policies,
       f.tenant_index, f.foreign_keys_without_tenant, f.unique_keys_without_tenant, f.public_privileges,
       pg_catalog.cardinality(r.reasons) = 0 AS ok,
       r.reasons
  FROM facts f
  CROSS JOIN LATERAL (SELECT CASE WHEN NOT f.is_tenant_table THEN '{}'::text[]
      -- Every other check is moot on a foreign table: it can have no RLS and no policy.
      WHEN f.relkind = 'f' THEN ARRAY[pg_catalog.format(
          'foreign_table_in_tenant_schema: a foreign table (server %s) in the tenant schema; row-level security does not apply to a foreign table, so its rows are every organization''s to whoever may read it: %s',
          (SELECT s.srvname FROM pg_catalog.pg_foreign_table ft
             JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver WHERE ft.ftrelid = f.oid),
          coalesce('readable by ' || NULLIF(pg_catalog.array_to_string(ARRAY(
              SELECT x.name FROM (
                  SELECT r.rolname::text AS name FROM pg_catalog.pg_roles r
                   WHERE NOT r.rolsuper AND r.rolname !~ '^pg_'
                     AND pg_catalog.has_schema_privilege(r.oid, f.nsp, 'USAGE')
                     AND (pg_catalog.has_table_privilege(r.oid, f.oid, 'SELECT')
                          OR pg_catalog.has_any_column_privilege(r.oid, f.oid, 'SELECT'))
                  UNION ALL
                  -- PUBLIC, when it has both: SELECT on the table or a column of it, and USAGE on
                  -- the schema (has_schema_privilege cannot take PUBLIC; a NULL nspacl is the
                  -- default, which grants PUBLIC nothing on a schema).
                  SELECT 'PUBLIC' AS name
                   WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) g
                                  WHERE n.oid = f.nsp AND g.grantee = 0 AND g.privilege_type = 'USAGE')
                     AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(f.relacl) g
                                  WHERE g.grantee = 0 AND g.privilege_type = 'SELECT'
                                 UNION ALL
                                 SELECT 1 FROM pg_catalog.pg_attribute a, pg_catalog.aclexplode(a.attacl) g
                                  WHERE a.attrelid = f.oid AND NOT a.attisdropped
                                    AND g.grantee = 0 AND g.privilege_type = 'SELECT')) AS x
               ORDER BY 1), ', '), ''),
                   'readable by superusers only for now (one GRANT away from any role)'))]
      ELSE ARRAY(
      SELECT x.reason FROM (
          SELECT 1, CASE WHEN NOT f.has_tenant_column
                         THEN pg_catalog.format('no_tenant_column: no column %s uuid NOT NULL', f.tenant_column) END
          UNION ALL
          SELECT 2, CASE WHEN NOT f.relrowsecurity
                         THEN 'rls_disabled: row-level security is not enabled' END
          UNION ALL
          SELECT 3, CASE WHEN NOT f.relforcerowsecurity
                         THEN 'rls_not_forced: row-level security is not forced, so the table owner bypasses every policy' END
          UNION ALL
          SELECT 4, pg_catalog.format('missing_policy: no permissive %s policy for palisade_app with %s', c.command,
                                      CASE c.command WHEN 'SELECT' THEN 'USING' WHEN 'DELETE' THEN 'USING'
                                                     WHEN 'INSERT' THEN 'WITH CHECK' ELSE 'USING and WITH CHECK' END)
            FROM pg_catalog.unnest(f.commands_without_policy) AS c(command)
          UNION ALL
          SELECT 5, 'unscoped_policy: policy ' || u.policy || ' does not restrict rows to the acting organization'
            FROM pg_catalog.unnest(f.unscoped_policies) AS u(policy)
          UNION ALL
          SELECT 5, 'public_policy: policy ' || u.policy || ' applies TO PUBLIC (every role, present and future, the resolver and the billing role included); name the role it is for'
            FROM pg_catalog.unnest(f.public_policies) AS u(policy)
          UNION ALL
          SELECT 6, CASE WHEN f.tenant_index IS NULL
                         THEN pg_catalog.format('no_tenant_index: no index leading with %s', f.tenant_column) END
          UNION ALL
          SELECT 7, pg_catalog.format('fk_without_tenant: foreign key %s references a tenant table without pairing %s with the parent''s tenant column', k.name, f.tenant_column)
            FROM pg_catalog.unnest(f.foreign_keys_without_tenant) AS k(name)
          UNION ALL
          SELECT 7, 'fk_without_index: foreign key ' || k.name || ' has no index leading with its columns: deleting or re-keying a parent row reads this whole table (or the organization''s part of it) while it holds its locks'
            FROM pg_catalog.unnest(f.foreign_keys_without_index) AS k(name)
          UNION ALL
          SELECT 8, pg_catalog.format('global_unique_key: unique key %s does not include %s and is not in palisade_audit.allow_list', u.name, f.tenant_column)
            FROM pg_catalog.unnest(f.unique_keys_without_tenant) AS u(name)
           WHERE u.name NOT IN (SELECT a.name FROM palisade_audit.allow_list a WHERE a.kind = 'global_unique_key')
          UNION ALL
          SELECT 9, CASE WHEN pg_catalog.cardinality(f.public_privileges) > 0
                         THEN 'public_grant: PUBLIC holds ' || pg_catalog.array_to_string(f.public_privileges, ', ') END
          UNION ALL
          SELECT 10, CASE WHEN f.relowner <> f.nspowner
                          THEN pg_catalog.format('foreign_owner: owned by %s, not by %s (the owner of schema palisade); its owner can drop its policies or disable row-level security',
                                                 pg_catalog.pg_get_userbyid(f.relowner), pg_catalog.pg_get_userbyid(f.nspowner)) END
          UNION ALL
          SELECT 11, pg_catalog.format('shared_sequence: column %s takes its values from a sequence every organization draws from, so each value tells a writer how many rows the others wrote', s.col)
            FROM pg_catalog.unnest(f.sequence_columns) AS s(col)
          UNION ALL
          -- The function by schema and name: regprocedure's text depends on the reader's
          -- search_path.
          SELECT 12, CASE WHEN tg.prosecdef
                          THEN pg_catalog.format('definer_trigger: trigger %I%s runs %I.%I, SECURITY DEFINER: it reads and writes as %s, not as the writer under its row-level security',
                                                 tg.tgname, tg.state, tg.nspname, tg.proname, pg_catalog.pg_get_userbyid(tg.proowner))
                          WHEN tg.reviewed THEN NULL
                          WHEN tg.lanname <> 'plpgsql' AND tg.proid >= 16384
                          THEN pg_catalog.format('trigger_source_unread: trigger %I%s runs %I.%I, in %s: whether it assigns %s cannot be read from its source',
                                                 tg.tgname, tg.state, tg.nspname, tg.proname, tg.lanname, f.tenant_column)
                          WHEN tg.lanname = 'plpgsql' AND palisade_audit.assigns_tenant_column(tg.prosrc, f.tenant_column)
                          THEN pg_catalog.format('trigger_assigns_tenant_column: trigger %I%s runs %I.%I, whose source assigns NEW.%s: a row may leave the organization it was written in (for the app role only WITH CHECK stops it; for a role that bypasses row-level security nothing does)',
                                                 tg.tgname, tg.state, tg.nspname, tg.proname, f.tenant_column) END
            FROM (SELECT g.tgname, pn.nspname, p.oid AS proid, p.proname, p.proowner, p.prosecdef, l.lanname, p.prosrc,
                         -- Reported all the same: ENABLE TRIGGER makes it fire again.
                         CASE g.tgenabled WHEN 'D' THEN ' (disabled now)'
                                          WHEN 'R' THEN ' (firing in replica sessions only)' ELSE '' END AS state,
                         EXISTS (SELECT 1 FROM palisade_audit.allow_list a
                                  WHERE a.kind = 'reviewed_trigger'
                                    AND a.name = f.schema_name || '.' || f.table_name || '.' || g.tgname) AS reviewed
                    FROM pg_catalog.pg_trigger g
                    JOIN pg_catalog.pg_proc p ON p.oid = g.tgfoid
                    JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
                    JOIN pg_catalog.pg_language l ON l.oid = p.prolang
                   WHERE g.tgrelid = f.oid AND NOT g.tgisinternal AND g.tgparentid = 0) AS tg
      ) AS x(o, reason)
      WHERE x.reason IS NOT NULL
      ORDER BY x.o, x.reason) END AS reasons) AS r;

/**
 * One row per role (predefined pg_* roles left out): its attributes, the tables and views it owns
 * in this database, what it may do on each tenant table, and on each platform table (schema
 * palisade_platform: no tenant rows, but the app role's Mailgun tokens and the billing role's
 * Stripe events live there). `in_this_database`: the role owns something here, is named in a
 * privilege, policy, default privilege or setting of this database, is a superuser, has
 * REPLICATION or is one of the server-files roles (pg_read_server_files, pg_write_server_files,
 * pg_execute_server_program), or is a member of such a role, or of pg_read_all_data or
 * pg_write_all_data (directly or not: they, superusers, REPLICATION and the server's files reach
 * every table of every database). bypassrls_role, member_of_bypass_role and
 * member_of_owner_role are limited to those; the other findings look at the roles Palisade names
 * whether or not they hold anything here, createrole_role at every role (the header says why).
 * Findings (`reasons`, "kind: detail"):
 *   bypassrls_role         BYPASSRLS on a role that is neither a superuser (the DBA's own) nor in
 *                          the allow-list (palisade_billing, for the Stripe path, and
 *                          palisade_backup: what each may reach is billing_role_beyond_billing and
 *                          backup_role_can_write);
 *   member_of_bypass_role  it can SET ROLE to a role that reads below row-level security: a
 *                          superuser, a BYPASSRLS or REPLICATION role (with SET ROLE to one, a
 *                          logical slot's changes), or a server-files role (a member of one of
 *                          these is flagged even if it holds nothing in this database). A role
 *                          allow-listed as administrator_role (910_audit_allow_list.sql) is not
 *                          flagged for these memberships, still for one in a BYPASSRLS role that
 *                          is not a superuser (e.g. palisade_backup);
 *   replication_role       a login role other than a superuser or an allow-listed
 *                          administrator_role has REPLICATION (a NOLOGIN one is reached through
 *                          its members: member_of_bypass_role): a base backup (pg_basebackup) or a logical replication
 *                          slot reads every organization's rows below row-level security. A
 *                          standby's or physical backup's login is the DBA's own: allow-list it;
 *   policies_add_up        the permissive tenant policies of two or more roles apply to one role
 *                          (it is, or is a member of, each; superusers aside), and permissive
 *                          policies add up: it reads the rows each may. E.g. palisade_app granted
 *                          an analyst role: every request would also read that analyst's
 *                          organization (the server refuses such an app role at startup);
 *   app_role_bypasses      a role that tenant policies are written for (palisade_app, a resolver
 *                          role) can bypass row-level security;
 *   app_role_owns          such a role owns (or can become the owner of) tables, schemas or
 *                          functions of palisade / palisade_private / palisade_platform, or a
 *                          SECURITY DEFINER function in any schema; or a role with palisade_app's
 *                          privileges (its login roles) owns one itself: an owner can disable
 *                          RLS and drop policies, redefine a function the policies call, and a
 *                          definer runs under the owner's policies for whoever may execute it;
 *   member_of_owner_role   a login role (superusers aside) is a member, directly or not, of
 *                          palisade_resolver or of another role that owns tenant tables or
 *                          SECURITY DEFINER functions: it can SET ROLE to it and act as their
 *                          owner (palisade_resolver has no members: 000_roles.sql);
 *   app_login_member       a login role (superusers aside) is a member, directly or not, of
 *                          palisade_app and is not an allow-listed app_login_role
 *                          (palisade_app_a, palisade_app_b: 910_audit_allow_list.sql): it acts
 *                          as the app, and the app's policies trust the context it sets itself;
 *   app_role_can_login     palisade_app itself can log in: the NOLOGIN group that holds every
 *                          grant of the app and that every tenant policy names, so a session as it
 *                          picks any organization with set_config (the server logs in as the
 *                          allow-listed palisade_app_a or palisade_app_b, its members);
 *   app_login_without_guardrails  a login role that acts as the app (palisade_app when it can
 *                          log in, or a login member of it), or palisade_billing (the Stripe
 *                          path's, while it can log in), lacks statement_timeout or
 *                          idle_in_transaction_session_timeout (ALTER ROLE ... SET, for this
 *                          database or all of them, or ALTER DATABASE ... SET; 0 counts as
 *                          absent; a value in postgresql.conf is not visible here) or a
 *                          connection limit (CONNECTION LIMIT -1);
 *   backup_role_can_write  palisade_backup (BYPASSRLS, allow-listed for pg_dump) holds anything
 *                          beyond SELECT on tables and sequences, USAGE on schemas and CONNECT on
 *                          the database: another privilege or a grant option, EXECUTE granted on
 *                          a SECURITY DEFINER function, ownership, a membership, SUPERUSER,
 *                          CREATEROLE, CREATEDB or REPLICATION. Checked whether or not it holds
 *                          anything here;
 *   backup_role_can_login  palisade_backup can log in: it should be NOLOGIN except during a
 *                          backup (low: a notice, not a failure);
 *   analyst_beyond_read    a recorded analyst role (palisade_audit.analysts) holds anything
 *                          beyond SELECT on readable columns of tenant tables and USAGE on schema
 *                          palisade: another privilege, SELECT on a secret or unclassified column,
 *                          a membership, ownership, REPLICATION;
 *   billing_role_beyond_billing  palisade_billing (BYPASSRLS, allow-listed for the Stripe path)
 *                          may reach what BillingPool::check_role refuses at startup: a privilege
 *                          on a tenant relation other than subscriptions and invoices, on a column
 *                          of organizations other than id and its billing columns, INSERT, DELETE,
 *                          TRUNCATE or TRIGGER on organizations, UPDATE of a column of
 *                          subscriptions or invoices that the Stripe path's upserts do not set
 *                          (organization_id, id, the row's Stripe id, created_at: a table-wide
 *                          UPDATE moves a row to another organization), DELETE, TRUNCATE,
 *                          REFERENCES or TRIGGER on those two, or a privilege on a platform
 *                          relation other than stripe_events; granted, or inherited (from a role it is a member
 *                          of, pg_read_all_data and pg_write_all_data included). Stricter than
 *                          that check: it is also reported as a member of any role (startup
 *                          refuses only memberships leading to a superuser, REPLICATION or the
 *                          server-files roles) and as the owner of a function in Palisade's
 *                          schemas or a SECURITY DEFINER one anywhere. Laxer on one point: a
 *                          sequence or composite type it owns in them is not reported (startup
 *                          refuses it; a table it owns there is foreign_owner). Checked whether
 *                          or not it holds anything here; BYPASSRLS itself is allow-listed, so
 *                          bypassrls_role says nothing of it;
 *   createrole_role        a role other than a superuser has CREATEROLE, or can SET ROLE to one
 *                          that has it (a member of an allow-listed administrator included: the
 *                          allow-list accepts the role it names, not its members). Checked for
 *                          every role of the cluster, whether or not it holds anything here: on
 *                          PostgreSQL 15 and older it may GRANT itself any role but a superuser
 *                          (palisade_backup and its BYPASSRLS, palisade_owner, palisade_resolver)
 *                          from anywhere, then connect here and read every organization. On 16 and
 *                          later CREATEROLE only administers roles it holds ADMIN OPTION on (it
 *                          gets that on each role it creates): reported only when it holds ADMIN
 *                          OPTION, directly or through a role it is a member of, on a role that is
 *                          in this database or bypasses row-level security, which it may then grant
 *                          itself or alter (e.g. give LOGIN and a password). High, not critical
 *                          (finding_kinds says why). The server refuses an app role with CREATEROLE
 *                          at startup. A role allow-listed as administrator_role (the DBA's own,
 *                          e.g. a managed service's admin login, which has CREATEROLE where there
 *                          is no superuser) is not flagged; none is by default.
 */
CREATE VIEW palisade_audit.roles WITH (security_invoker = true) AS
WITH db AS (
    SELECT d.oid, d.datdba, d.datacl FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()
), ns AS (
    SELECT n.oid, n.nspname, n.nspowner, n.nspacl FROM pg_catalog.pg_namespace n
     WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
), present AS (
    SELECT db.datdba AS role FROM db
    UNION SELECT g.grantee FROM db, pg_catalog.aclexplode(db.datacl) g
    UNION SELECT ns.nspowner FROM ns
    UNION SELECT g.grantee FROM ns, pg_catalog.aclexplode(ns.nspacl) g
    UNION SELECT c.relowner FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
    UNION SELECT g.grantee FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace,
                                pg_catalog.aclexplode(c.relacl) g
    UNION SELECT g.grantee FROM pg_catalog.pg_attribute a
                           JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                           JOIN ns ON ns.oid = c.relnamespace,
                                pg_catalog.aclexplode(a.attacl) g
    UNION SELECT p.proowner FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
    UNION SELECT g.grantee FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace,
                                pg_catalog.aclexplode(p.proacl) g
    UNION SELECT pg_catalog.unnest(p.polroles) FROM pg_catalog.pg_policy p
    UNION SELECT d.defaclrole FROM pg_catalog.pg_default_acl d
    UNION SELECT g.grantee FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) g
    UNION SELECT s.setrole FROM pg_catalog.pg_db_role_setting s, db WHERE s.setdatabase = db.oid
    -- Predefined roles that read or write every table of every database (PostgreSQL 14 and
    -- later): named in no ACL here, yet their members (with BYPASSRLS, every organization's rows).
    UNION SELECT d.oid FROM pg_catalog.pg_roles d WHERE d.rolname IN ('pg_read_all_data', 'pg_write_all_data')
    -- Superusers: they read every row of every database, so a member (directly or not) that can
    -- SET ROLE to one does too, even one that holds nothing here (member_of_bypass_role).
    -- Superusers themselves were in_this_database already, not always present: pg_has_role
    -- counts a superuser a member of every role, so of any present one. They are never flagged.
    UNION SELECT s.oid FROM pg_catalog.pg_roles s WHERE s.rolsuper
    -- Roles with REPLICATION (a base backup or a logical replication slot carries every row below
    -- row-level security), and the predefined roles that read or write the server's files (a
    -- table's too) or run its programs: like superusers, they reach every database.
    UNION SELECT d.oid FROM pg_catalog.pg_roles d
     WHERE d.rolreplication
        OR d.rolname IN ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program')
), tenant AS (
    SELECT c.oid, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p')
), platform AS (
    SELECT c.oid, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'palisade_platform' AND c.relkind IN ('r', 'p')
), tenant_objects AS (
    -- What an owner could use to switch row-level security off: Palisade's protected schemas
    -- and what is in them, functions included (an owner may redefine one the policies call,
    -- such as current_org_id); and a SECURITY DEFINER function anywhere, which runs with its
    -- owner's rights (its policies, its tenant context) for whoever may execute it.
    SELECT c.relowner AS owner, n.nspname || '.' || c.relname AS name
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('palisade', 'palisade_private', 'palisade_platform') AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    SELECT n.nspowner, 'schema ' || n.nspname FROM pg_catalog.pg_namespace n
     WHERE n.nspname IN ('palisade', 'palisade_private', 'palisade_platform')
    UNION ALL
    SELECT p.proowner, 'function ' || n.nspname || '.' || p.proname
                       || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     -- palisade_resolver owns Palisade's definers by design (000_roles.sql; its policies are
     -- in the resolver form, and who may run them is definer_executable_by_other_role's).
     WHERE pg_catalog.pg_get_userbyid(p.proowner) <> 'palisade_resolver'
       AND (n.nspname IN ('palisade', 'palisade_private', 'palisade_platform')
            OR (p.prosecdef AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'))
), here AS (
    -- The roles in_this_database: present, or members (directly or not) of a present role.
    SELECT r.oid FROM pg_catalog.pg_roles r
     WHERE r.oid IN (SELECT p.role FROM present p)
        OR EXISTS (SELECT 1 FROM present p
                    WHERE p.role <> r.oid AND p.role <> 0
                      AND pg_catalog.pg_has_role(r.oid, p.role, 'MEMBER'))
), administrator AS (
    -- The DBA's own administrators, allow-listed as administrator_role (910_audit_allow_list.sql).
    SELECT r.oid FROM pg_catalog.pg_roles r
     WHERE r.rolname IN (SELECT a.name FROM palisade_audit.allow_list a WHERE a.kind = 'administrator_role')
), facts AS (
    SELECT r.oid, r.rolname, r.rolcanlogin, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolreplication,
           r.oid IN (SELECT h.oid FROM here h) AS in_this_database,
           -- CREATEROLE that is reported: not a superuser's, not an allow-listed administrator's;
           -- its own, or that of a role it can SET ROLE to (allow-listing an administrator does
           -- not accept its members: they are not listed themselves).
           NOT r.rolsuper AND r.oid NOT IN (SELECT a.oid FROM administrator a)
             AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles c
                          WHERE c.rolcreaterole AND NOT c.rolsuper
                            AND pg_catalog.pg_has_role(r.oid, c.oid, 'MEMBER')) AS createrole,
           -- The other roles with CREATEROLE (not superusers) that it can SET ROLE to.
           CASE WHEN NOT r.rolsuper THEN ARRAY(
               SELECT c.rolname::text FROM pg_catalog.pg_roles c
                WHERE c.rolcreaterole AND NOT c.rolsuper AND c.oid <> r.oid
                  AND pg_catalog.pg_has_role(r.oid, c.oid, 'MEMBER')
                ORDER BY 1) ELSE '{}'::text[] END AS createrole_via,
           -- PostgreSQL 16 and later: the roles that matter here (in this database, or bypassing
           -- RLS) on which it holds ADMIN OPTION, directly or through a role it is a member of.
           CASE WHEN NOT r.rolsuper AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles c
                                                 WHERE c.rolcreaterole AND NOT c.rolsuper
                                                   AND pg_catalog.pg_has_role(r.oid, c.oid, 'MEMBER'))
           THEN ARRAY(
               SELECT DISTINCT t.rolname::text
                 FROM pg_catalog.pg_auth_members m
                 JOIN pg_catalog.pg_roles t ON t.oid = m.roleid
                WHERE m.admin_option AND pg_catalog.pg_has_role(r.oid, m.member, 'MEMBER')
                  AND (t.rolsuper OR t.rolbypassrls OR t.oid IN (SELECT h.oid FROM here h))
                ORDER BY 1) ELSE '{}'::text[] END AS createrole_admin_of,
           ARRAY(SELECT pg_catalog.pg_get_userbyid(m.roleid)::text FROM pg_catalog.pg_auth_members m
                  WHERE m.member = r.oid ORDER BY 1) AS member_of,
           -- The roles it can SET ROLE to that read below row-level security: superusers,
           -- BYPASSRLS, REPLICATION (SET ROLE to one, then a logical slot's changes), and the
           -- server-files roles.
           CASE WHEN NOT r.rolsuper THEN ARRAY(
               SELECT b.rolname::text FROM pg_catalog.pg_roles b
                WHERE b.oid <> r.oid
                  AND (b.rolsuper OR b.rolbypassrls OR b.rolreplication
                       OR b.rolname IN ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program'))
                  AND pg_catalog.pg_has_role(r.oid, b.oid, 'MEMBER')
                ORDER BY 1) ELSE '{}' END AS can_become_bypass_roles,
           -- Those of them member_of_bypass_role reports: an allow-listed administrator may
           -- become any of them but a BYPASSRLS role that is no superuser (e.g. palisade_backup).
           CASE WHEN NOT r.rolsuper THEN ARRAY(
               SELECT b.rolname::text FROM pg_catalog.pg_roles b
                WHERE b.oid <> r.oid
                  AND (b.rolsuper OR b.rolbypassrls OR b.rolreplication
                       OR b.rolname IN ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program'))
                  AND pg_catalog.pg_has_role(r.oid, b.oid, 'MEMBER')
                  AND NOT (r.oid IN (SELECT a.oid FROM administrator a)
                           AND NOT (b.rolbypassrls AND NOT b.rolsuper))
                ORDER BY 1) ELSE '{}' END AS reported_bypass_roles,
           -- REPLICATION of its own that is reported: a login's (a NOLOGIN role with it is reached
           -- only through its members, which member_of_bypass_role reports), not a superuser's,
           -- not an allow-listed administrator's (a standby's or a physical backup's login).
           r.rolreplication AND r.rolcanlogin AND NOT r.rolsuper
             AND r.oid NOT IN (SELECT a.oid FROM administrator a) AS replication,
           -- The roles whose permissive tenant policies apply to it (itself, or a role it is a
           -- member of, directly or not). Permissive policies add up: with two, it reads the rows
           -- each may (palisade_app granted an analyst role: every request also reads that
           -- analyst's organization).
           CASE WHEN NOT r.rolsuper THEN ARRAY(
               SELECT DISTINCT pg_catalog.pg_get_userbyid(x.role)::text
                 FROM pg_catalog.pg_policy p JOIN tenant t ON t.oid = p.polrelid,
                      pg_catalog.unnest(p.polroles) AS x(role)
                WHERE p.polpermissive AND x.role <> 0
                  AND pg_catalog.pg_has_role(r.oid, x.role, 'MEMBER')
                ORDER BY 1) ELSE '{}'::text[] END AS policy_roles,
           ARRAY(SELECT ns.nspname || '.' || c.relname FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
                  WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                  ORDER BY 1) AS tables_owned,
           ARRAY(SELECT o.name FROM tenant_objects o WHERE o.owner = r.oid ORDER BY 1) AS tenant_objects_owned,
           CASE WHEN NOT r.rolsuper THEN ARRAY(
               SELECT DISTINCT o.name || ' (as ' || pg_catalog.pg_get_userbyid(o.owner) || ')'
                 FROM tenant_objects o
                WHERE o.owner <> r.oid AND pg_catalog.pg_has_role(r.oid, o.owner, 'MEMBER')
                ORDER BY 1) ELSE '{}' END AS tenant_objects_owned_via_membership,
           CASE WHEN r.rolcanlogin AND NOT r.rolsuper THEN ARRAY(
               SELECT o.rolname::text FROM pg_catalog.pg_roles o
                WHERE o.oid <> r.oid AND pg_catalog.pg_has_role(r.oid, o.oid, 'MEMBER')
                  AND (o.rolname = 'palisade_resolver'
                       OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN tenant t ON t.oid = c.oid
                                   WHERE c.relowner = o.oid)
                       OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
                                   WHERE p.prosecdef AND p.proowner = o.oid))
                ORDER BY 1) ELSE '{}' END AS can_become_owner_roles,
           (r.rolname = 'palisade_app'
            OR EXISTS (SELECT 1 FROM pg_catalog.pg_policy p JOIN tenant t ON t.oid = p.polrelid
                        WHERE p.polpermissive AND r.oid = ANY (p.polroles))) AS bound_by_tenant_policies,
           -- It has palisade_app's privileges (palisade_app, its login roles): what it owns, it
           -- owns as the app.
           NOT r.rolsuper
             AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles app
                          WHERE app.rolname = 'palisade_app'
                            AND pg_catalog.pg_has_role(r.oid, app.oid, 'USAGE')) AS acts_as_app,
           r.rolname IN (SELECT a.name FROM palisade_audit.allow_list a WHERE a.kind = 'bypassrls_role') AS allow_listed,
           r.rolcanlogin AND NOT r.rolsuper
             AND r.rolname NOT IN (SELECT a.name FROM palisade_audit.allow_list a WHERE a.kind = 'app_login_role')
             AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles app
                          WHERE app.rolname = 'palisade_app' AND app.oid <> r.oid
                            AND pg_catalog.pg_has_role(r.oid, app.oid, 'MEMBER')) AS undocumented_app_login,
           CASE WHEN r.rolcanlogin AND NOT r.rolsuper
                 AND (r.rolname = 'palisade_billing'
                      OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles app
                                  WHERE app.rolname = 'palisade_app' AND pg_catalog.pg_has_role(r.oid, app.oid, 'MEMBER')))
                THEN ARRAY(
                    SELECT g.name FROM (VALUES (1, 'statement_timeout'), (2, 'idle_in_transaction_session_timeout')) AS g(o, name)
                     WHERE coalesce((
                         SELECT pg_catalog.substr(cfg, pg_catalog.length(g.name) + 2)
                           FROM pg_catalog.pg_db_role_setting s CROSS JOIN db, pg_catalog.unnest(s.setconfig) AS cfg
                          WHERE cfg LIKE g.name || '=%'
                            AND ((s.setrole = r.oid AND s.setdatabase IN (0, db.oid))
                                 OR (s.setrole = 0 AND s.setdatabase = db.oid))
                          -- PostgreSQL's precedence: role in this database, role, database.
                          ORDER BY (s.setrole = r.oid AND s.setdatabase = db.oid) DESC, (s.setrole = r.oid) DESC
                          LIMIT 1), '0') ~ '^0[a-z]*$'
                     ORDER BY g.o)
                    || CASE WHEN r.rolconnlimit = -1 THEN ARRAY['a connection limit'] ELSE '{}'::text[] END
                ELSE '{}'::text[] END AS missing_guardrails,
           CASE WHEN r.rolname = 'palisade_backup' THEN ARRAY(
               SELECT x.what FROM (
                   SELECT 1 AS o, 'SUPERUSER' AS what WHERE r.rolsuper
                   UNION ALL SELECT 2 AS o, 'CREATEROLE' AS what WHERE r.rolcreaterole
                   UNION ALL SELECT 3 AS o, 'CREATEDB' AS what WHERE r.rolcreatedb
                   UNION ALL SELECT 4 AS o, 'REPLICATION' AS what WHERE r.rolreplication
                   UNION ALL
                   SELECT 5, 'member of ' || pg_catalog.string_agg(pg_catalog.pg_get_userbyid(m.roleid)::text, ', ' ORDER BY pg_catalog.pg_get_userbyid(m.roleid)::text)
                     FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid HAVING pg_catalog.count(*) > 0
                   UNION ALL
                   SELECT 6, 'owns ' || pg_catalog.string_agg(o.name, ', ' ORDER BY o.name) FROM (
                       SELECT ns.nspname || '.' || c.relname AS name FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
                        WHERE c.relowner = r.oid
                       UNION ALL SELECT 'schema ' || ns.nspname FROM ns WHERE ns.nspowner = r.oid
                       UNION ALL SELECT 'function ' || ns.nspname || '.' || p.proname FROM pg_catalog.pg_proc p
                                   JOIN ns ON ns.oid = p.pronamespace WHERE p.proowner = r.oid
                       UNION ALL SELECT 'database ' || pg_catalog.current_database() FROM db WHERE db.datdba = r.oid) AS o
                   HAVING pg_catalog.count(*) > 0
                   UNION ALL
                   SELECT 7, pg_catalog.string_agg(DISTINCT g.what, ', ') FROM (
                       SELECT x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                              || ' on ' || ns.nspname || '.' || c.relname AS what
                         FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace, pg_catalog.aclexplode(c.relacl) x
                        WHERE x.grantee = r.oid AND (x.privilege_type <> 'SELECT' OR x.is_grantable)
                       UNION ALL
                       SELECT x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                              || ' on ' || ns.nspname || '.' || c.relname || '.' || a.attname
                         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                         JOIN ns ON ns.oid = c.relnamespace, pg_catalog.aclexplode(a.attacl) x
                        WHERE x.grantee = r.oid AND (x.privilege_type <> 'SELECT' OR x.is_grantable)
                       UNION ALL
                       SELECT x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                              || ' on schema ' || ns.nspname
                         FROM ns, pg_catalog.aclexplode(ns.nspacl) x
                        WHERE x.grantee = r.oid AND (x.privilege_type <> 'USAGE' OR x.is_grantable)
                       UNION ALL
                       SELECT x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                              || ' on database ' || pg_catalog.current_database()
                         FROM db, pg_catalog.aclexplode(db.datacl) x
                        WHERE x.grantee = r.oid AND (x.privilege_type <> 'CONNECT' OR x.is_grantable)
                       UNION ALL
                       SELECT 'EXECUTE on SECURITY DEFINER function ' || ns.nspname || '.' || p.proname
                         FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace, pg_catalog.aclexplode(p.proacl) x
                        WHERE p.prosecdef AND x.grantee = r.oid) AS g
                   HAVING pg_catalog.count(*) > 0
               ) AS x ORDER BY x.o) ELSE '{}'::text[] END AS backup_excess,
           CASE WHEN r.rolname IN (SELECT a.role_name FROM palisade_audit.analysts a) THEN ARRAY(
               SELECT x.what FROM (
                   SELECT 0 AS o, 'REPLICATION' AS what WHERE r.rolreplication
                   UNION ALL
                   SELECT 1, 'member of ' || pg_catalog.string_agg(pg_catalog.pg_get_userbyid(m.roleid)::text, ', ' ORDER BY pg_catalog.pg_get_userbyid(m.roleid)::text)
                     FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid HAVING pg_catalog.count(*) > 0
                   UNION ALL
                   SELECT 2, 'owns ' || pg_catalog.string_agg(ns.nspname || '.' || c.relname, ', ' ORDER BY c.relname)
                     FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relowner = r.oid
                   HAVING pg_catalog.count(*) > 0
                   UNION ALL
                   SELECT 3, pg_catalog.string_agg(DISTINCT g.what, ', ') FROM (
                       SELECT x.privilege_type || ' on ' || ns.nspname || '.' || c.relname AS what
                         FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace, pg_catalog.aclexplode(c.relacl) x
                        WHERE x.grantee = r.oid
                       UNION ALL
                       SELECT x.privilege_type || ' on ' || ns.nspname || '.' || c.relname || '.' || a.attname
                         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                         JOIN ns ON ns.oid = c.relnamespace, pg_catalog.aclexplode(a.attacl) x
                        WHERE x.grantee = r.oid
                          AND (x.privilege_type <> 'SELECT' OR x.is_grantable OR ns.nspname <> 'palisade'
                               OR NOT EXISTS (SELECT 1 FROM palisade_audit.column_classification cc
                                               WHERE cc.schema_name = ns.nspname AND cc.table_name = c.relname
                                                 AND cc.column_name = a.attname AND cc.classification = 'readable'))
                       UNION ALL
                       SELECT x.privilege_type || ' on schema ' || ns.nspname
                         FROM ns, pg_catalog.aclexplode(ns.nspacl) x
                        WHERE x.grantee = r.oid AND (x.privilege_type <> 'USAGE' OR x.is_grantable OR ns.nspname <> 'palisade')
                       UNION ALL
                       SELECT x.privilege_type || ' on database ' || pg_catalog.current_database()
                         FROM db, pg_catalog.aclexplode(db.datacl) x
                        WHERE x.grantee = r.oid AND (x.privilege_type <> 'CONNECT' OR x.is_grantable)) AS g
                   HAVING pg_catalog.count(*) > 0
               ) AS x ORDER BY x.o) ELSE '{}'::text[] END AS analyst_excess,
           -- What BillingPool::check_role (palisade_db's stripe.rs) refuses beyond billing, read
           -- with has_table_privilege and has_column_privilege, so a privilege it inherits counts
           -- (from any role it is a member of, pg_read_all_data and pg_write_all_data included),
           -- and every membership, which lends it that role's privileges: with BYPASSRLS, each
           -- reaches every organization's rows. Its REPLICATION, superuser and server-files
           -- memberships are replication_role and member_of_bypass_role.
           CASE WHEN r.rolname = 'palisade_billing' THEN ARRAY(
               SELECT x.what FROM (
                   SELECT 1 AS o, 'is a member of ' || pg_catalog.string_agg(pg_catalog.pg_get_userbyid(m.roleid)::text, ', ' ORDER BY pg_catalog.pg_get_userbyid(m.roleid)::text) AS what
                     FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid HAVING pg_catalog.count(*) > 0
                   UNION ALL
                   SELECT 2, 'owns ' || pg_catalog.string_agg(o.name, ', ' ORDER BY o.name)
                     FROM tenant_objects o WHERE o.owner = r.oid HAVING pg_catalog.count(*) > 0
                   UNION ALL
                   SELECT 3, 'holds privileges on ' || pg_catalog.string_agg(b.name, ', ' ORDER BY b.name) FROM (
                       -- A tenant relation other than the billing tables, or a platform one
                       -- other than its own stripe_events: any privilege, on it or a column.
                       SELECT n.nspname || '.' || c.relname AS name
                         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
                          AND ((n.nspname = 'palisade' AND c.relname NOT IN ('subscriptions', 'invoices', 'organizations'))
                               OR (n.nspname = 'palisade_platform' AND c.relname <> 'stripe_events'))
                          AND (pg_catalog.has_table_privilege(r.oid, c.oid,
                                   'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                               OR pg_catalog.has_any_column_privilege(r.oid, c.oid,
                                   'SELECT, INSERT, UPDATE, REFERENCES'))
                       UNION ALL
                       -- organizations: its id and billing columns only, and no row added or removed.
                       SELECT 'palisade.organizations.' || a.attname
                         FROM pg_catalog.pg_attribute a
                         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'palisade' AND c.relname = 'organizations'
                          AND a.attnum > 0 AND NOT a.attisdropped
                          AND a.attname NOT IN ('id', 'stripe_customer_id', 'plan', 'plan_status')
                          AND pg_catalog.has_column_privilege(r.oid, c.oid, a.attnum,
                                  'SELECT, INSERT, UPDATE, REFERENCES')
                       UNION ALL
                       -- subscriptions and invoices: UPDATE of the columns the Stripe path's
                       -- upserts set only (palisade_db's stripe.rs, SUBSCRIPTION_UPDATED_COLUMNS
                       -- and INVOICE_UPDATED_COLUMNS; 440_billing.sql grants them): never of
                       -- organization_id, which would move a row to another organization.
                       SELECT 'palisade.' || c.relname || '.' || a.attname || ' (UPDATE)' AS name
                         FROM pg_catalog.pg_attribute a
                         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'palisade' AND c.relname IN ('subscriptions', 'invoices')
                          AND a.attnum > 0 AND NOT a.attisdropped
                          AND a.attname <> ALL (CASE c.relname
                                WHEN 'subscriptions' THEN ARRAY['status', 'plan', 'stripe_price_id',
                                    'quantity', 'unit_amount_cents', 'currency', 'current_period_start',
                                    'current_period_end', 'cancel_at_period_end', 'cancelled_at',
                                    'stripe_updated_at', 'updated_at']::pg_catalog.name[]
                                ELSE ARRAY['stripe_subscription_id', 'number', 'status', 'currency',
                                    'subtotal_cents', 'total_cents', 'amount_due_cents',
                                    'amount_paid_cents', 'period_start', 'period_end', 'due_at',
                                    'paid_at', 'hosted_invoice_url', 'stripe_updated_at',
                                    'updated_at']::pg_catalog.name[] END)
                          AND pg_catalog.has_column_privilege(r.oid, c.oid, a.attnum, 'UPDATE')
                       UNION ALL
                       SELECT 'palisade.' || c.relname || ' (DELETE, TRUNCATE, REFERENCES or TRIGGER)' AS name
                         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'palisade' AND c.relname IN ('subscriptions', 'invoices')
                          AND (pg_catalog.has_table_privilege(r.oid, c.oid, 'DELETE, TRUNCATE, REFERENCES, TRIGGER')
                               OR pg_catalog.has_any_column_privilege(r.oid, c.oid, 'REFERENCES'))
                       UNION ALL
                       -- Named (AS name) like the first branch: an unnamed column deparses
                       -- without AS, which a dump restores as "AS text" (drift after a restore).
                       SELECT 'palisade.organizations (INSERT, DELETE, TRUNCATE or TRIGGER)' AS name
                         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'palisade' AND c.relname = 'organizations'
                          AND pg_catalog.has_table_privilege(r.oid, c.oid, 'INSERT, DELETE, TRUNCATE, TRIGGER')) AS b
                   HAVING pg_catalog.count(*) > 0
               ) AS x ORDER BY x.o) ELSE '{}'::text[] END AS billing_excess
      FROM pg_catalog.pg_roles r
     WHERE r.rolname !~ '^pg_'
)
SELECT f.rolname::text AS role_name, f.rolcanlogin AS can_login, f.rolsuper AS is_superuser,
       f.rolbypassrls AS bypass_rls,
       (f.rolsuper OR f.rolbypassrls OR f.rolreplication
        OR pg_catalog.cardinality(f.can_become_bypass_roles) > 0) AS can_bypass_rls,
       f.in_this_database, f.member_of, f.can_become_bypass_roles,
       f.tables_owned, f.tenant_objects_owned, f.can_become_owner_roles,
       CASE WHEN f.rolsuper THEN 'all (superuser)'
            WHEN f.in_this_database THEN (
                SELECT pg_catalog.string_agg(t.relname || ': ' || pv.privs, '; ' ORDER BY t.relname)
                  FROM tenant t
                 CROSS JOIN LATERAL (
                     SELECT pg_catalog.string_agg(x.label, ' ' ORDER BY v.o) AS privs
                       FROM (VALUES (1, 'SELECT'), (2, 'INSERT'), (3, 'UPDATE'), (4, 'DELETE'),
                                    (5, 'TRUNCATE'), (6, 'REFERENCES'), (7, 'TRIGGER')) AS v(o, priv)
                      CROSS JOIN LATERAL (
                          SELECT CASE WHEN pg_catalog.has_table_privilege(f.oid, t.oid, v.priv) THEN v.priv
                                      WHEN v.priv IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                                           AND pg_catalog.has_any_column_privilege(f.oid, t.oid, v.priv)
                                      THEN v.priv || '(some columns)' END AS label) AS x
                      WHERE x.label IS NOT NULL) AS pv
                 WHERE pv.privs IS NOT NULL)
       END AS tenant_privileges,
       CASE WHEN f.rolsuper THEN 'all (superuser)'
            WHEN f.in_this_database THEN (
                SELECT pg_catalog.string_agg(t.relname || ': ' || pv.privs, '; ' ORDER BY t.relname)
                  FROM platform t
                 CROSS JOIN LATERAL (
                     SELECT pg_catalog.string_agg(x.label, ' ' ORDER BY v.o) AS privs
                       FROM (VALUES (1, 'SELECT'), (2, 'INSERT'), (3, 'UPDATE'), (4, 'DELETE'),
                                    (5, 'TRUNCATE'), (6, 'REFERENCES'), (7, 'TRIGGER')) AS v(o, priv)
                      CROSS JOIN LATERAL (
                          SELECT CASE WHEN pg_catalog.has_table_privilege(f.oid, t.oid, v.priv) THEN v.priv
                                      WHEN v.priv IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                                           AND pg_catalog.has_any_column_privilege(f.oid, t.oid, v.priv)
                                      THEN v.priv || '(some columns)' END AS label) AS x
                      WHERE x.label IS NOT NULL) AS pv
                 WHERE pv.privs IS NOT NULL)
       END AS platform_privileges,
       pg_catalog.cardinality(r.reasons) = 0 AS ok,
       r.reasons
  FROM facts f
  CROSS JOIN LATERAL (SELECT ARRAY(
      SELECT x.reason FROM (
          SELECT 1, CASE WHEN f.in_this_database AND NOT f.rolsuper AND f.rolbypassrls AND NOT f.allow_listed
                         THEN 'bypassrls_role: has BYPASSRLS but is neither a superuser nor in palisade_audit.allow_list' END
          UNION ALL
          SELECT 2, CASE WHEN f.in_this_database AND pg_catalog.cardinality(f.reported_bypass_roles) > 0
                         THEN 'member_of_bypass_role: can SET ROLE to '
                              || pg_catalog.array_to_string(f.reported_bypass_roles, ', ')
                              || ', which bypass(es) row-level security (superuser, BYPASSRLS, REPLICATION, or the server''s files)' END
          UNION ALL
          SELECT 3, CASE WHEN f.bound_by_tenant_policies AND (f.rolsuper OR f.rolbypassrls)
                         THEN 'app_role_bypasses: tenant policies are written for this role, but it is a superuser or has BYPASSRLS' END
          UNION ALL
          SELECT 4, CASE WHEN f.bound_by_tenant_policies
                          AND pg_catalog.cardinality(f.tenant_objects_owned || f.tenant_objects_owned_via_membership) > 0
                         THEN 'app_role_owns: tenant policies are written for this role, but it owns '
                              || pg_catalog.array_to_string(f.tenant_objects_owned || f.tenant_objects_owned_via_membership, ', ')
                              || ' (an owner can disable row-level security and drop policies, redefine a function they call, or let others run a SECURITY DEFINER function under them)'
                         -- A login role of the app: what it owns itself (what it can become the
                         -- owner of through palisade_app is reported on palisade_app).
                         WHEN f.acts_as_app AND pg_catalog.cardinality(f.tenant_objects_owned) > 0
                         THEN 'app_role_owns: acts as palisade_app (it has its privileges), but owns '
                              || pg_catalog.array_to_string(f.tenant_objects_owned, ', ')
                              || ' (an owner can disable row-level security and drop policies, redefine a function they call, or let others run a SECURITY DEFINER function as the app)' END
          UNION ALL
          SELECT 5, CASE WHEN f.in_this_database AND pg_catalog.cardinality(f.can_become_owner_roles) > 0
                         THEN 'member_of_owner_role: logs in and can SET ROLE to '
                              || pg_catalog.array_to_string(f.can_become_owner_roles, ', ')
                              || ', which own(s) tenant tables or SECURITY DEFINER functions (palisade_resolver''s read every organization''s users and key hashes); revoke the membership' END
          UNION ALL
          SELECT 6, CASE WHEN f.undocumented_app_login
                         THEN 'app_login_member: logs in and is a member of palisade_app, so it acts as the app and picks any organization with set_config(''app.current_org'', ...); only the allow-listed app_login_role roles may' END
          UNION ALL
          SELECT 7, CASE WHEN pg_catalog.cardinality(f.missing_guardrails) > 0
                         THEN 'app_login_without_guardrails: '
                              || CASE WHEN f.rolname = 'palisade_billing' THEN 'logs in for the Stripe path without '
                                      ELSE 'acts as the app without ' END
                              || pg_catalog.array_to_string(f.missing_guardrails, ', ')
                              || ' (a runaway query or an abandoned transaction holds connections and locks)' END
          UNION ALL
          SELECT 8, CASE WHEN pg_catalog.cardinality(f.backup_excess) > 0
                         THEN 'backup_role_can_write: the backup role bypasses row-level security and must only read, yet holds '
                              || pg_catalog.array_to_string(f.backup_excess, '; ') END
          UNION ALL
          SELECT 9, CASE WHEN f.rolname = 'palisade_backup' AND f.rolcanlogin
                         THEN 'backup_role_can_login: the backup role (BYPASSRLS) can log in; it should be NOLOGIN except during a backup' END
          UNION ALL
          SELECT 10, CASE WHEN pg_catalog.cardinality(f.analyst_excess) > 0
                          THEN 'analyst_beyond_read: a recorded analyst role may only read readable columns of tenant tables, yet holds '
                               || pg_catalog.array_to_string(f.analyst_excess, '; ') END
          UNION ALL
          SELECT 15, CASE WHEN pg_catalog.cardinality(f.billing_excess) > 0
                          THEN 'billing_role_beyond_billing: the billing role bypasses row-level security and may only reach the billing tables (subscriptions, invoices, the id and billing columns of organizations, palisade_platform.stripe_events), yet '
                               || pg_catalog.array_to_string(f.billing_excess, '; ')
                               || ' (with BYPASSRLS, every organization''s rows of whatever it reaches)' END
          UNION ALL
          SELECT 11, CASE WHEN f.rolname = 'palisade_app' AND f.rolcanlogin
                          THEN 'app_role_can_login: palisade_app, the group every tenant policy names, can log in, so a session as it picks any organization with set_config(''app.current_org'', ...); the server logs in as palisade_app_a or palisade_app_b' END
          UNION ALL
          SELECT 13, CASE WHEN pg_catalog.cardinality(f.policy_roles) > 1
                          THEN 'policies_add_up: the tenant policies of '
                               || pg_catalog.array_to_string(f.policy_roles, ', ')
                               || ' all apply to it (it is, or is a member of, each), and permissive policies add up: it reads the rows each of them may; revoke the memberships that join them' END
          UNION ALL
          SELECT 14, CASE WHEN f.replication
                          THEN 'replication_role: has REPLICATION, so a base backup (pg_basebackup) or a logical replication slot carries every organization''s rows below row-level security; a standby''s or physical backup''s login of your own: allow-list it as administrator_role' END
          UNION ALL
          SELECT 12, CASE WHEN NOT f.createrole THEN NULL
                          WHEN pg_catalog.current_setting('server_version_num')::int < 160000
                          THEN 'createrole_role: ' || CASE WHEN f.rolcreaterole THEN 'has CREATEROLE'
                                   ELSE 'can SET ROLE to ' || pg_catalog.array_to_string(f.createrole_via, ', ') || ', which has CREATEROLE' END
                               || ', so on PostgreSQL 15 and older it may grant itself any role but a superuser (e.g. palisade_backup, which bypasses row-level security, or palisade_owner, which owns the tenant tables) and then read every organization''s rows; it need hold nothing in this database to do so'
                          WHEN pg_catalog.cardinality(f.createrole_admin_of) > 0
                          THEN 'createrole_role: ' || CASE WHEN f.rolcreaterole THEN 'has CREATEROLE'
                                   ELSE 'can SET ROLE to ' || pg_catalog.array_to_string(f.createrole_via, ', ') || ', which has CREATEROLE,' END
                               || ' and ADMIN OPTION on '
                               || pg_catalog.array_to_string(f.createrole_admin_of, ', ')
                               || ', so it may grant itself membership in them or alter them (e.g. give one LOGIN and a password) and act as them' END
      ) AS x(o, reason)
      WHERE x.reason IS NOT NULL
      ORDER BY x.o) AS reasons) AS r;

/**
 * One row per function outside the system schemas (extension members left out). SECURITY DEFINER
 * functions run with their owner's rights, so each is checked (`reasons`, "kind: detail"):
 *   definer_mutable_search_path  no SET search_path (or one with $user or public): the caller's
 *                                search_path could redirect the names it uses;
 *   definer_public_execute       PUBLIC may execute it (the default unless revoked);
 *   definer_bypasses_rls         its owner is a superuser or has BYPASSRLS, so it sees every row;
 *   definer_wrong_owner          in one of Palisade's schemas, owned by a role other than
 *                                palisade_resolver (restored or created by the wrong role): the
 *                                resolver policies do not apply to it, and its owner's rights do;
 *   definer_executable_by_other_role  in one of Palisade's schemas (or owned by palisade_resolver
 *                                or palisade_owner, wherever it is; one of the owner's outside
 *                                Palisade's schemas, executable by PUBLIC, names PUBLIC), and a
 *                                role other than the one Palisade grants
 *                                EXECUTE to in palisade_private (the 02N_*.sql files: palisade_app,
 *                                but palisade_billing for emit_invoice_paid and palisade_owner for
 *                                purge_expired_records; elsewhere, none) holds EXECUTE: granted
 *                                it, or a member (directly or not) of a role granted it;
 *                                superusers and the owner aside. The resolvers read across organizations (any user's
 *                                password hash by email, the organization of any key), so, like
 *                                a copy of tenant rows, it is critical even while that role lacks
 *                                USAGE on the schema: one GRANT away. `executable_by` lists the
 *                                grantees; members of palisade_app (the app) or of the owner are
 *                                the role findings app_login_member and member_of_owner_role.
 *                                And in any schema, one whose owner (no superuser) has the
 *                                privileges of palisade_app (the app, its login roles) or of a
 *                                recorded analyst, when a role other than its owner (PUBLIC
 *                                included) may execute it: it runs under the app's policies, which
 *                                trust the organization the caller sets (set_config), or under the
 *                                analyst's; Palisade owns no definer so (its owner also gets
 *                                app_role_owns when it is the app, a login role of it or the
 *                                analyst role itself, not a person granted the analyst role).
 */
CREATE VIEW palisade_audit.functions WITH (security_invoker = true) AS
-- The role whose privileges and tenant policies each role has, superusers aside (their definers
-- are definer_bypasses_rls): palisade_app (the role is the app, or one of its login roles), else
-- a recorded analyst. Once per role, not per function: pg_has_role over every function took
-- seconds.
WITH acting AS MATERIALIZED (
    SELECT o.oid, a.acts_as
      FROM pg_catalog.pg_roles o
      CROSS JOIN LATERAL (
          SELECT t.rolname::text AS acts_as FROM pg_catalog.pg_roles t
           WHERE (t.rolname = 'palisade_app'
                  OR t.rolname IN (SELECT x.role_name FROM palisade_audit.analysts x))
             AND pg_catalog.pg_has_role(o.oid, t.oid, 'USAGE')
           ORDER BY t.rolname = 'palisade_app' DESC, t.rolname
           LIMIT 1) AS a
     WHERE NOT o.rolsuper
), f AS (
    SELECT p.oid, n.nspname::text AS schema_name, p.proname::text AS function_name,
           pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments,
           pg_catalog.pg_get_userbyid(p.proowner)::text AS owner, p.prosecdef AS security_definer,
           (SELECT pg_catalog.substr(cfg, 13) FROM pg_catalog.unnest(p.proconfig) AS cfg
             WHERE cfg LIKE 'search\_path=%' LIMIT 1) AS search_path,
           CASE WHEN p.proacl IS NULL
                THEN ARRAY[pg_catalog.pg_get_userbyid(p.proowner)::text, 'PUBLIC']
                ELSE ARRAY(SELECT DISTINCT CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                                ELSE pg_catalog.pg_get_userbyid(x.grantee)::text END
                             FROM pg_catalog.aclexplode(p.proacl) x
                            WHERE x.privilege_type = 'EXECUTE' ORDER BY 1) END AS executable_by,
           o.rolsuper OR o.rolbypassrls AS owner_bypasses_rls,
           w.acts_as,
           CASE WHEN p.prosecdef
                     AND (n.nspname IN ('palisade', 'palisade_private', 'palisade_platform', 'palisade_audit')
                          OR o.rolname IN ('palisade_resolver', 'palisade_owner') OR w.acts_as IS NOT NULL)
                THEN ARRAY(
                    SELECT e.name FROM (
                        SELECT DISTINCT r.rolname::text
                               || CASE WHEN r.oid <> x.grantee THEN ' (member of ' || pg_catalog.pg_get_userbyid(x.grantee) || ')' ELSE '' END AS name
                          FROM pg_catalog.aclexplode(p.proacl) x
                          JOIN pg_catalog.pg_roles r
                            ON r.oid = x.grantee OR pg_catalog.pg_has_role(r.oid, x.grantee, 'MEMBER')
                         WHERE x.privilege_type = 'EXECUTE' AND x.grantee NOT IN (0, p.proowner)
                           AND pg_catalog.pg_get_userbyid(x.grantee)::text IS DISTINCT FROM g.palisade_grantee
                           AND NOT r.rolsuper AND r.oid <> p.proowner
                        UNION ALL
                        -- One run as the app, an analyst or the owner of every tenant table
                        -- (outside Palisade's schemas: inside them the owner's definer is
                        -- definer_wrong_owner): by PUBLIC too (a NULL proacl is the default,
                        -- EXECUTE for PUBLIC), every role present and future.
                        SELECT 'PUBLIC' AS name
                         WHERE (w.acts_as IS NOT NULL
                                OR (o.rolname = 'palisade_owner'
                                    AND n.nspname NOT IN ('palisade', 'palisade_private', 'palisade_platform', 'palisade_audit')))
                           AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) x
                                        WHERE x.grantee = 0 AND x.privilege_type = 'EXECUTE')) AS e
                     ORDER BY e.name) END AS other_executors,
           g.palisade_grantee
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_catalog.pg_roles o ON o.oid = p.proowner
      LEFT JOIN acting w ON w.oid = p.proowner
      -- The one role the 02N_*.sql files grant EXECUTE on each of Palisade's definers to.
      CROSS JOIN LATERAL (
          -- By name within palisade_private only (a cast to regprocedure would fail the view
          -- where it is not installed); Palisade grants no definer elsewhere, so there nobody
          -- is excepted, palisade_app included.
          SELECT CASE WHEN n.nspname <> 'palisade_private' THEN NULL
                      WHEN p.proname = 'emit_invoice_paid' THEN 'palisade_billing'
                      WHEN p.proname = 'purge_expired_records' THEN 'palisade_owner'
                      ELSE 'palisade_app' END AS palisade_grantee) AS g
     WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                          AND d.objid = p.oid AND d.deptype = 'e')
)
SELECT f.schema_name, f.function_name, f.arguments, f.owner, f.security_definer, f.search_path,
       f.executable_by, pg_catalog.cardinality(r.reasons) = 0 AS ok, r.reasons
  FROM f
  CROSS JOIN LATERAL (SELECT CASE WHEN NOT f.security_definer THEN '{}'::text[] ELSE ARRAY(
      SELECT x.reason FROM (
          SELECT 1, CASE WHEN f.search_path IS NULL
                         THEN 'definer_mutable_search_path: SECURITY DEFINER without SET search_path'
                         WHEN f.search_path ~ '(^|[ ,"])(\$user|public)($|[ ,"])'
                         THEN 'definer_mutable_search_path: SECURITY DEFINER with search_path ' || f.search_path || ', which others may be able to create objects in' END
          UNION ALL
          SELECT 2, CASE WHEN 'PUBLIC' = ANY (f.executable_by)
                         THEN 'definer_public_execute: SECURITY DEFINER and executable by PUBLIC' END
          UNION ALL
          SELECT 3, CASE WHEN f.owner_bypasses_rls
                         THEN 'definer_bypasses_rls: SECURITY DEFINER owned by ' || f.owner || ', which bypasses row-level security' END
          UNION ALL
          SELECT 4, CASE WHEN NOT f.owner_bypasses_rls AND f.owner <> 'palisade_resolver'
                              AND f.schema_name IN ('palisade', 'palisade_private', 'palisade_platform', 'palisade_audit')
                         THEN 'definer_wrong_owner: SECURITY DEFINER in a schema of Palisade''s owned by ' || f.owner || ', not palisade_resolver' END
          UNION ALL
          SELECT 5, CASE WHEN pg_catalog.cardinality(f.other_executors) = 0 THEN NULL
                         WHEN f.acts_as IS NOT NULL
                         THEN 'definer_executable_by_other_role: SECURITY DEFINER owned by ' || f.owner
                              || CASE WHEN f.owner <> f.acts_as THEN ', which has the privileges of ' || f.acts_as ELSE '' END
                              || ', and executable by ' || pg_catalog.array_to_string(f.other_executors, ', ')
                              || ': each runs it under ' || f.acts_as || '''s policies, '
                              || CASE WHEN f.acts_as = 'palisade_app'
                                      THEN 'which trust the organization a session sets itself (set_config(''app.current_org'', ...)): any organization''s rows'
                                      ELSE 'and reads that analyst''s organization''s rows' END
                         ELSE 'definer_executable_by_other_role: SECURITY DEFINER in a schema of Palisade''s or owned by palisade_resolver or palisade_owner, and executable by '
                              || pg_catalog.array_to_string(f.other_executors, ', ')
                              || coalesce(', beyond ' || f.palisade_grantee || ', the role Palisade grants it to',
                                          ' (Palisade grants no SECURITY DEFINER function outside palisade_private)')
                              || ': each runs it with ' || f.owner
                              || CASE WHEN f.owner = 'palisade_owner'
                                      THEN '''s rights, which own every tenant table (its policies, row-level security and grants)'
                                      ELSE '''s rights, which read across organizations' END END
      ) AS x(o, reason)
      WHERE x.reason IS NOT NULL
      ORDER BY x.o) END AS reasons) AS r;

/**
 * Views and materialized views that read tenant tables, directly or through other views.
 * A view without security_invoker reads its tables with its owner's rights, not the reader's,
 * so the reader's row-level security does not apply (`view_not_security_invoker`). A
 * materialized view holds a copy of what its owner saw when refreshed and has no row-level
 * security of its own (`materialized_view_over_tenant_table`).
 */
CREATE VIEW palisade_audit.views WITH (security_invoker = true) AS
WITH RECURSIVE tenant AS (
    SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p')
), dep AS (
    SELECT DISTINCT r.ev_class AS view_oid, d.refobjid AS used_oid
      FROM pg_catalog.pg_rewrite r
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
     WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> r.ev_class
), reach (view_oid, tenant_oid) AS (
    SELECT dep.view_oid, dep.used_oid FROM dep JOIN tenant ON tenant.oid = dep.used_oid
    UNION
    SELECT dep.view_oid, reach.tenant_oid FROM dep JOIN reach ON reach.view_oid = dep.used_oid
), v AS (
    SELECT c.oid, n.nspname::text AS schema_name, c.relname::text AS view_name, c.relkind,
           pg_catalog.pg_get_userbyid(c.relowner)::text AS owner,
           EXISTS (SELECT 1 FROM pg_catalog.pg_options_to_table(c.reloptions) o
                    WHERE o.option_name = 'security_invoker'
                      AND pg_catalog.lower(o.option_value) IN ('true', 'on', 'yes', '1')) AS security_invoker
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid IN (SELECT reach.view_oid FROM reach) AND c.relkind IN ('v', 'm')
)
SELECT v.schema_name, v.view_name,
       CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS kind,
       v.owner, v.security_invoker,
       ARRAY(SELECT DISTINCT 'palisade.' || c.relname::text FROM reach
               JOIN pg_catalog.pg_class c ON c.oid = reach.tenant_oid
              WHERE reach.view_oid = v.oid ORDER BY 1) AS tenant_tables,
       pg_catalog.cardinality(r.reasons) = 0 AS ok, r.reasons
  FROM v
  CROSS JOIN LATERAL (SELECT ARRAY(
      SELECT x.reason FROM (
          SELECT 1, CASE WHEN v.relkind = 'v' AND NOT v.security_invoker
                         THEN 'view_not_security_invoker: reads tenant tables as its owner ' || v.owner || ', not as the reader: set security_invoker = true' END
          UNION ALL
          SELECT 2, CASE WHEN v.relkind = 'm'
                         THEN 'materialized_view_over_tenant_table: holds tenant rows without row-level security' END
      ) AS x(o, reason)
      WHERE x.reason IS NOT NULL
      ORDER BY x.o) AS reasons) AS r;

/**
 * Tables and materialized views outside Palisade's own schemas (palisade, palisade_private,
 * palisade_platform, palisade_audit, palisade_guard; extension members left out) that look like
 * tenant data: nothing there is under the tenant policies, so whoever can read such a relation
 * reads every organization's rows. `CREATE TABLE reporting.customers_copy AS SELECT * FROM
 * palisade.customers` as a superuser is the typical case. The heuristic, deliberately simple:
 *   - it has a column named organization_id (of any type): the tenant key itself; or
 *   - at least 3 of its columns have the name and type of columns of one tenant table, leaving
 *     out the generic id, created_at, updated_at and change_xid (a partial copy, e.g. email,
 *     phone, name).
 * `copied_from` is the tenant table with the most such columns, `matched_columns` those columns.
 * `readable_by` lists the roles other than superusers that may SELECT it now (with USAGE on its
 * schema), and PUBLIC when it may too (SELECT on it or a column, USAGE on the schema). A copy is reported whether or not anyone but the superusers can read
 * it yet (tenant_data_outside_rls): one GRANT, which no guard refuses, exposes every organization.
 * Materialized views over tenant tables are reported by palisade_audit.views and left out here.
 */
CREATE VIEW palisade_audit.copies WITH (security_invoker = true) AS
WITH tenant_col AS (
    SELECT c.oid AS table_oid, c.relname::text AS table_name, a.attname, a.atttypid
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p')
       AND a.attname NOT IN ('id', 'created_at', 'updated_at', 'change_xid')
), outside AS (
    SELECT c.oid, n.oid AS nsp, n.nspname::text AS schema_name, c.relname::text AS relation_name, c.relkind,
           pg_catalog.pg_get_userbyid(c.relowner)::text AS owner
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'm', 'f')
       AND n.nspname NOT IN ('palisade', 'palisade_private', 'palisade_platform', 'palisade_audit', 'palisade_guard',
                             'palisade_migrations', 'information_schema')
       AND n.nspname !~ '^pg_'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
       AND NOT EXISTS (SELECT 1 FROM palisade_audit.views v
                        WHERE v.schema_name = n.nspname AND v.view_name = c.relname)
), matches AS (
    SELECT o.oid, t.table_name,
           ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   JOIN tenant_col t2 ON t2.table_name = t.table_name AND t2.attname = a.attname
                                     AND t2.atttypid = a.atttypid
                  WHERE a.attrelid = o.oid AND a.attnum > 0 AND NOT a.attisdropped
                  ORDER BY a.attnum) AS columns
      FROM outside o
      CROSS JOIN (SELECT DISTINCT tenant_col.table_name FROM tenant_col) AS t
), best AS (
    SELECT DISTINCT ON (m.oid) m.oid, m.table_name, m.columns
      FROM matches m
     ORDER BY m.oid, pg_catalog.cardinality(m.columns) DESC, m.table_name
), c AS (
    SELECT o.*,
           EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = o.oid AND a.attname = 'organization_id' AND NOT a.attisdropped) AS has_organization_id,
           b.table_name AS best_table, coalesce(b.columns, '{}') AS best_columns,
           ARRAY(SELECT x.name FROM (
                     SELECT r.rolname::text AS name FROM pg_catalog.pg_roles r
                      WHERE NOT r.rolsuper AND r.rolname !~ '^pg_'
                        AND pg_catalog.has_schema_privilege(r.oid, o.nsp, 'USAGE')
                        AND (pg_catalog.has_table_privilege(r.oid, o.oid, 'SELECT')
                             OR pg_catalog.has_any_column_privilege(r.oid, o.oid, 'SELECT'))
                     UNION ALL
                     -- PUBLIC, when it has SELECT on it (or a column) and USAGE on its schema, as
                     -- for a foreign table in palisade_audit.tables.
                     SELECT 'PUBLIC' AS name
                      WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) g
                                     WHERE n.oid = o.nsp AND g.grantee = 0 AND g.privilege_type = 'USAGE')
                        AND EXISTS (SELECT 1 FROM pg_catalog.pg_class k, pg_catalog.aclexplode(k.relacl) g
                                     WHERE k.oid = o.oid AND g.grantee = 0 AND g.privilege_type = 'SELECT'
                                    UNION ALL
                                    SELECT 1 FROM pg_catalog.pg_attribute a, pg_catalog.aclexplode(a.attacl) g
                                     WHERE a.attrelid = o.oid AND NOT a.attisdropped
                                       AND g.grantee = 0 AND g.privilege_type = 'SELECT')) AS x
                  ORDER BY 1) AS readable_by
      FROM outside o LEFT JOIN best b ON b.oid = o.oid
)
SELECT c.schema_name, c.relation_name,
       CASE c.relkind WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,
       c.owner, c.has_organization_id,
       CASE WHEN pg_catalog.cardinality(c.best_columns) > 0 THEN 'palisade.' || c.best_table END AS copied_from,
       c.best_columns AS matched_columns, c.readable_by,
       pg_catalog.cardinality(r.reasons) = 0 AS ok, r.reasons
  FROM c
  CROSS JOIN LATERAL (SELECT ARRAY(
      SELECT x.reason FROM (
          SELECT CASE WHEN c.has_organization_id OR pg_catalog.cardinality(c.best_columns) >= 3
                      THEN 'tenant_data_outside_rls: '
                           || CASE WHEN c.has_organization_id THEN 'holds organization_id'
                                   ELSE 'copies ' || pg_catalog.cardinality(c.best_columns) || ' columns of palisade.' || c.best_table
                                        || ' (' || pg_catalog.array_to_string(c.best_columns, ', ') || ')' END
                           || ' outside row-level security: every organization''s rows, readable by '
                           || coalesce(NULLIF(pg_catalog.array_to_string(c.readable_by, ', '), ''),
                                       'superusers only for now (one GRANT away from any role)') END
      ) AS x(reason)
      WHERE x.reason IS NOT NULL) AS reasons) AS r;

/**
 * One row per column that palisade_app can reach, and per classified column
 * (palisade_audit.column_classification, written by policies/920_column_classification.sql).
 * palisade_app reaches a column when it, or a role acting as it (a non-superuser member: its
 * login roles), holds any privilege on its table or on one of the table's columns (directly,
 * through membership, or through PUBLIC), in any schema but the system ones; then every column
 * of that table counts. Here "palisade_app may" means any of those roles may: a grant made by
 * hand to palisade_app_a is checked as one made to palisade_app. `app_privileges` lists what palisade_app
 * may do with the column (table-wide privileges included); `derived_from_secret` the secret
 * columns it is computed from (a generated column's expression; for a view that reads its
 * tables as its owner, or a materialized view, every secret column it reads). Findings:
 *   unclassified_column          palisade_app can reach it and it is not classified: decide
 *                                readable or secret in 920_column_classification.sql;
 *   secret_column_readable       classified secret, yet palisade_app may SELECT it: it would be
 *                                in the export and in any query result;
 *   stale_column_classification  classified, but no such column exists (renamed or dropped:
 *                                a renamed secret must not lose its classification silently);
 *   secret_derived_column        classified readable without a reason, yet computed from a
 *                                secret column: a copy of a secret under another name.
 */
CREATE VIEW palisade_audit.columns WITH (security_invoker = true) AS
WITH app AS (
    -- palisade_app, and every role acting as it (its login roles, palisade_app_a and _b): a
    -- grant made to a login role is the app's as much as one made to the group.
    SELECT r.oid FROM pg_catalog.pg_roles g, pg_catalog.pg_roles r
     WHERE g.rolname = 'palisade_app'
       AND (r.oid = g.oid OR (NOT r.rolsuper AND pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')))
), rel AS (
    SELECT c.oid, n.nspname::text AS schema_name, c.relname::text AS table_name, c.relkind,
           c.relkind = 'm' OR (c.relkind = 'v' AND NOT EXISTS (
               SELECT 1 FROM pg_catalog.pg_options_to_table(c.reloptions) o
                WHERE o.option_name = 'security_invoker'
                  AND pg_catalog.lower(o.option_value) IN ('true', 'on', 'yes', '1'))) AS reads_as_owner
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
       AND EXISTS (SELECT 1 FROM app
                    WHERE pg_catalog.has_table_privilege(app.oid, c.oid,
                              'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                       OR pg_catalog.has_any_column_privilege(app.oid, c.oid,
                              'SELECT, INSERT, UPDATE, REFERENCES'))
), col AS (
    SELECT rel.oid, rel.schema_name, rel.table_name, rel.relkind, rel.reads_as_owner,
           a.attnum, a.attname::text AS column_name, a.attgenerated,
           ARRAY(SELECT v.priv
                   FROM (VALUES (1, 'SELECT'), (2, 'INSERT'), (3, 'UPDATE'), (4, 'REFERENCES')) AS v(o, priv)
                  WHERE EXISTS (SELECT 1 FROM app
                                 WHERE pg_catalog.has_column_privilege(app.oid, rel.oid, a.attnum, v.priv))
                  UNION ALL
                 SELECT v.priv
                   FROM (VALUES (5, 'DELETE'), (6, 'TRUNCATE'), (7, 'TRIGGER')) AS v(o, priv)
                  WHERE EXISTS (SELECT 1 FROM app
                                 WHERE pg_catalog.has_table_privilege(app.oid, rel.oid, v.priv))) AS app_privileges
      FROM rel
      JOIN pg_catalog.pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
), secret AS (
    SELECT a.attrelid, a.attnum, cc.schema_name || '.' || cc.table_name || '.' || cc.column_name AS name
      FROM palisade_audit.column_classification cc
      JOIN pg_catalog.pg_namespace n ON n.nspname = cc.schema_name
      JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = cc.table_name
      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = cc.column_name AND NOT a.attisdropped
     WHERE cc.classification = 'secret'
), derived AS (
    -- A generated column: its default expression depends on the columns it reads.
    SELECT col.oid, col.attnum, s.name
      FROM col
      JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = col.oid AND ad.adnum = col.attnum
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                                 AND d.objid = ad.oid
                                 AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
      JOIN secret s ON s.attrelid = d.refobjid AND s.attnum = d.refobjsubid
     WHERE col.attgenerated <> ''
    UNION
    -- A view that reads as its owner (or a materialized view): its rule depends on every column
    -- it reads; which output column carries which is not recorded, so each gets them all.
    SELECT col.oid, col.attnum, s.name
      FROM col
      JOIN pg_catalog.pg_rewrite rw ON rw.ev_class = col.oid
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                                 AND d.objid = rw.oid
                                 AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
      JOIN secret s ON s.attrelid = d.refobjid AND s.attnum = d.refobjsubid
     WHERE col.reads_as_owner
), joined AS (
    SELECT coalesce(col.schema_name, cc.schema_name) AS schema_name,
           coalesce(col.table_name, cc.table_name) AS table_name,
           coalesce(col.column_name, cc.column_name) AS column_name,
           col.attnum IS NOT NULL AS app_can_reach,
           col.attnum IS NULL AND NOT EXISTS (
               SELECT 1 FROM pg_catalog.pg_namespace n
                 JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = cc.table_name
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = cc.column_name
                                               AND a.attnum > 0 AND NOT a.attisdropped
                WHERE n.nspname = cc.schema_name) AS missing,
           cc.classification, cc.reason,
           coalesce(col.app_privileges, '{}') AS app_privileges,
           ARRAY(SELECT DISTINCT d.name FROM derived d
                  WHERE d.oid = col.oid AND d.attnum = col.attnum ORDER BY 1) AS derived_from_secret,
           col.attnum
      FROM col
      FULL JOIN palisade_audit.column_classification cc
        ON cc.schema_name = col.schema_name AND cc.table_name = col.table_name
       AND cc.column_name = col.column_name
)
SELECT j.schema_name, j.table_name, j.column_name, j.classification, j.reason, j.app_can_reach,
       'SELECT' = ANY (j.app_privileges) AS app_can_select, j.app_privileges, j.derived_from_secret,
       pg_catalog.cardinality(r.reasons) = 0 AS ok, r.reasons
  FROM joined j
  CROSS JOIN LATERAL (SELECT ARRAY(
      SELECT x.reason FROM (
          SELECT 1, CASE WHEN j.app_can_reach AND j.classification IS NULL
                         THEN 'unclassified_column: palisade_app can reach this column ('
                              || pg_catalog.array_to_string(j.app_privileges, ' ')
                              || ' on it or its table) but policies/920_column_classification.sql does not classify it' END
          UNION ALL
          SELECT 2, CASE WHEN j.classification = 'secret' AND 'SELECT' = ANY (j.app_privileges)
                         THEN 'secret_column_readable: classified secret, yet palisade_app may SELECT it (grant SELECT column by column, without it)' END
          UNION ALL
          SELECT 3, CASE WHEN j.missing
                         THEN 'stale_column_classification: classified in policies/920_column_classification.sql, but no such column exists' END
          UNION ALL
          SELECT 4, CASE WHEN j.classification = 'readable' AND j.reason IS NULL
                          AND pg_catalog.cardinality(j.derived_from_secret) > 0
                          AND 'SELECT' = ANY (j.app_privileges)
                         THEN 'secret_derived_column: readable by palisade_app, yet computed from secret column(s) '
                              || pg_catalog.array_to_string(j.derived_from_secret, ', ')
                              || ' (classify it secret, or give the reason it reveals nothing)' END
      ) AS x(o, reason)
      WHERE x.reason IS NOT NULL
      ORDER BY x.o) AS reasons) AS r;

/**
 * The DDL guard's event triggers (policies/001_ddl_guard.sql): as installed, and as that file
 * installs them (`expected_*`). `enabled`: it fires in a normal session, i.e. it is ENABLE (the
 * default, evtenabled 'O') or ENABLE ALWAYS ('A'); DISABLE ('D') never fires, and ENABLE REPLICA
 * ('R') fires only while session_replication_role = replica, so never for the sessions the guard
 * is for. `problems` (empty when the trigger is intact) completes "the DDL guard is ...": not
 * installed, disabled, enabled for replica sessions only, firing on another event, running
 * another function, or missing some of the command tags the file gives it (a command without
 * its tag passes unchecked; a trigger with no tag filter fires for every command, so lacks none).
 * A superuser who re-creates a trigger by hand can get any of these wrong; `palisade bootstrap`
 * re-creates both as written. The functions' bodies are compared by the drift check, not here.
 * The expected tags are written twice, here and in 001_ddl_guard.sql (which runs before this
 * schema exists, as a superuser); a test (audit.rs) fails when the two differ.
 */
CREATE VIEW palisade_audit.ddl_guard WITH (security_invoker = true) AS
SELECT w.event_trigger, e.evtevent::text AS event,
       coalesce(e.evtenabled IN ('O', 'A'), false) AS enabled,
       CASE WHEN e.oid IS NOT NULL THEN e.evtfoid::pg_catalog.regprocedure::text END AS function,
       e.evttags AS tags,
       w.expected_event, w.expected_function, w.expected_tags,
       p.problems
  FROM (VALUES ('palisade_ddl_guard_before', 'ddl_command_start', 'palisade_guard.remember_rls()',
                ARRAY['ALTER TABLE', 'ALTER INDEX', 'ALTER SCHEMA']),
               ('palisade_ddl_guard', 'ddl_command_end', 'palisade_guard.check_tenant_ddl()',
                ARRAY['CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE', 'ALTER INDEX',
                      'ALTER SCHEMA', 'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE',
                      'IMPORT FOREIGN SCHEMA'])
       ) AS w(event_trigger, expected_event, expected_function, expected_tags)
  LEFT JOIN pg_catalog.pg_event_trigger e ON e.evtname = w.event_trigger
  LEFT JOIN pg_catalog.pg_proc fp ON fp.oid = e.evtfoid
  LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fp.pronamespace
  CROSS JOIN LATERAL (SELECT ARRAY(
      SELECT x.problem FROM (
          SELECT 1, CASE WHEN e.oid IS NULL THEN 'not installed in this database' END
          UNION ALL
          SELECT 2, CASE e.evtenabled WHEN 'D' THEN 'disabled'
                         WHEN 'R' THEN 'enabled for replica sessions only (ENABLE REPLICA): it fires only while session_replication_role = replica, never in a normal session' END
          UNION ALL
          SELECT 3, CASE WHEN e.evtevent <> w.expected_event
                         THEN 'firing on ' || e.evtevent || ' instead of ' || w.expected_event END
          UNION ALL
          -- By schema and name (the function takes no argument): regprocedure's text depends on
          -- the reader's search_path.
          SELECT 4, CASE WHEN e.oid IS NOT NULL
                          AND fn.nspname || '.' || fp.proname || '()' IS DISTINCT FROM w.expected_function
                         THEN 'running ' || e.evtfoid::pg_catalog.regprocedure::text || ' instead of ' || w.expected_function END
          UNION ALL
          SELECT 5, 'missing the command tag(s) ' || pg_catalog.string_agg(t.tag, ', ' ORDER BY t.o)
                    || ', so those commands pass unchecked'
            FROM pg_catalog.unnest(w.expected_tags) WITH ORDINALITY AS t(tag, o)
           WHERE e.evttags IS NOT NULL AND NOT t.tag = ANY (e.evttags)
          HAVING pg_catalog.count(*) > 0
      ) AS x(o, problem)
      WHERE x.problem IS NOT NULL
      ORDER BY x.o) AS problems) AS p;

/**
 * Every finding of the views above, the sequences every organization would share
 * (shared_sequence) and PUBLIC's privileges on Palisade's schemas (public_grant), one row each, most urgent first: by `rank` (from
 * palisade_audit.finding_kinds, which also gives `severity` and `fix`), then object. Empty on a
 * healthy database (a low-severity notice, such as the backup role left able to log in, is listed
 * but does not fail `palisade audit`). `kind` is the stable name of the rule (see each view's
 * comment); `object` is what breaks it.
 */
-- Every column of every branch is named (AS kind, ...): an unnamed one deparses differently once
-- a restore has parsed the view again, and the drift check would call a faithful restore drift.
CREATE VIEW palisade_audit.violations WITH (security_invoker = true) AS
SELECT coalesce(k.severity, 'critical') AS severity, x.kind, x.object_type, x.object, x.detail,
       coalesce(k.fix, 'none known: this kind is missing from palisade_audit.finding_kinds, so it is listed first') AS fix,
       coalesce(k.rank, 0) AS rank
  FROM (
      SELECT pg_catalog.split_part(r.reason, ': ', 1) AS kind, 'table' AS object_type,
             t.schema_name || '.' || t.table_name AS object,
             pg_catalog.substr(r.reason, pg_catalog.strpos(r.reason, ': ') + 2) AS detail
        FROM palisade_audit.tables t, pg_catalog.unnest(t.reasons) AS r(reason)
      UNION ALL
      SELECT pg_catalog.split_part(r.reason, ': ', 1) AS kind, 'role' AS object_type, o.role_name AS object,
             pg_catalog.substr(r.reason, pg_catalog.strpos(r.reason, ': ') + 2) AS detail
        FROM palisade_audit.roles o, pg_catalog.unnest(o.reasons) AS r(reason)
      UNION ALL
      SELECT pg_catalog.split_part(r.reason, ': ', 1) AS kind, 'function' AS object_type,
             f.schema_name || '.' || f.function_name || '(' || f.arguments || ')' AS object,
             pg_catalog.substr(r.reason, pg_catalog.strpos(r.reason, ': ') + 2) AS detail
        FROM palisade_audit.functions f, pg_catalog.unnest(f.reasons) AS r(reason)
      UNION ALL
      SELECT pg_catalog.split_part(r.reason, ': ', 1) AS kind, v.kind AS object_type,
             v.schema_name || '.' || v.view_name AS object,
             pg_catalog.substr(r.reason, pg_catalog.strpos(r.reason, ': ') + 2) AS detail
        FROM palisade_audit.views v, pg_catalog.unnest(v.reasons) AS r(reason)
      UNION ALL
      SELECT pg_catalog.split_part(r.reason, ': ', 1) AS kind, 'column' AS object_type,
             c.schema_name || '.' || c.table_name || '.' || c.column_name AS object,
             pg_catalog.substr(r.reason, pg_catalog.strpos(r.reason, ': ') + 2) AS detail
        FROM palisade_audit.columns c, pg_catalog.unnest(c.reasons) AS r(reason)
      UNION ALL
      SELECT pg_catalog.split_part(r.reason, ': ', 1) AS kind, c.kind AS object_type,
             c.schema_name || '.' || c.relation_name AS object,
             pg_catalog.substr(r.reason, pg_catalog.strpos(r.reason, ': ') + 2) AS detail
        FROM palisade_audit.copies c, pg_catalog.unnest(c.reasons) AS r(reason)
      UNION ALL
      SELECT 'context_policy_for_other_role' AS kind, 'policy' AS object_type,
             p.schema_name || '.' || p.table_name || '.' || p.policy_name AS object,
             'reads the settable tenant context for ' || pg_catalog.array_to_string(p.context_roles, ', ')
             || ', which may set app.current_org to any organization itself (set_config); only the app role''s policies may read it' AS detail
        FROM palisade_audit.policies p
       WHERE pg_catalog.cardinality(p.context_roles) > 0
      UNION ALL
      -- RLS pitfall 13: a sequence in Palisade's schemas (it holds none), or one that the app
      -- (palisade_app, or a role acting as it) may draw from or read, whatever uses it; a column
      -- drawing from one is reported on its table, in palisade_audit.tables.
      SELECT 'shared_sequence' AS kind, 'sequence' AS object_type, n.nspname || '.' || c.relname AS object,
             CASE WHEN pg_catalog.cardinality(u.roles) > 0
                  THEN 'usable (USAGE, SELECT or UPDATE) by ' || pg_catalog.array_to_string(u.roles, ', ')
                       || ', which act for every organization: its values tell each how many the others drew'
                  ELSE 'a sequence in Palisade''s schema ' || n.nspname
                       || ': a column or a statement drawing from it would tell each organization how many values the others drew' END AS detail
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL (
            SELECT ARRAY(SELECT r.rolname::text
                           FROM pg_catalog.pg_roles r
                           JOIN pg_catalog.pg_roles app ON app.rolname = 'palisade_app'
                          WHERE NOT r.rolsuper
                            AND (r.oid = app.oid OR pg_catalog.pg_has_role(r.oid, app.oid, 'MEMBER'))
                            AND pg_catalog.has_sequence_privilege(r.oid, c.oid, 'USAGE, SELECT, UPDATE')
                          ORDER BY 1) AS roles) AS u
       WHERE c.relkind = 'S'
         AND (n.nspname IN ('palisade', 'palisade_private', 'palisade_platform', 'palisade_audit', 'palisade_guard')
              OR pg_catalog.cardinality(u.roles) > 0)
      UNION ALL
      -- PUBLIC on a schema of Palisade's that holds tenant or platform rows (Palisade grants
      -- PUBLIC nothing there): USAGE lets every role, present and future, reach what it or PUBLIC
      -- is granted in it (a column granted to PUBLIC needs nothing more); CREATE lets it add
      -- objects beside Palisade's.
      SELECT 'public_grant' AS kind, 'schema' AS object_type, n.nspname::text AS object,
             'PUBLIC holds ' || pg_catalog.string_agg(DISTINCT x.privilege_type, ', ')
             || ' on it: every role, present and future, may use what it holds wherever it has a privilege there' AS detail
        FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) x
       WHERE n.nspname IN ('palisade', 'palisade_private', 'palisade_platform') AND x.grantee = 0
       GROUP BY n.nspname
      UNION ALL
      SELECT 'ddl_guard_missing' AS kind, 'event trigger' AS object_type, g.event_trigger AS object,
             'the DDL guard is ' || pg_catalog.array_to_string(g.problems, '; ') || ': run palisade bootstrap ('
             -- Installed, and its one problem is that it does not fire: ENABLE is enough.
             || CASE WHEN g.event IS NOT NULL AND NOT g.enabled AND pg_catalog.cardinality(g.problems) = 1
                     THEN 'or ALTER EVENT TRIGGER ' || g.event_trigger || ' ENABLE)'
                     ELSE 'or, as a superuser, policies/001_ddl_guard.sql)' END AS detail
        FROM palisade_audit.ddl_guard g
       WHERE pg_catalog.cardinality(g.problems) > 0
  ) AS x
  LEFT JOIN palisade_audit.finding_kinds k ON k.kind = x.kind
 ORDER BY coalesce(k.rank, 0), x.object_type, x.object, x.kind, x.detail;

/**
 * DBAs who are not superusers read the audit through palisade_auditor (000_roles.sql): the schema,
 * every view and the allow-list, and the helper functions the views call; nothing else. The role
 * is created by `palisade bootstrap`; on a server bootstrapped by an older version it may not exist
 * yet, and then these grants wait for the next apply after bootstrap has been re-run (the server
 * still starts; `palisade audit` then reports the missing DDL guard of that older bootstrap).
 */
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA palisade_audit FROM PUBLIC;
DO $grants$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_auditor') THEN
        GRANT USAGE ON SCHEMA palisade_audit TO palisade_auditor;
        GRANT SELECT ON ALL TABLES IN SCHEMA palisade_audit TO palisade_auditor;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA palisade_audit TO palisade_auditor;
    END IF;
END
$grants$;
