/**
 * Schema privileges and the tenant-context helpers every policy reads.
 * Applied by palisade_owner after migrations; safe to re-run.
 *
 * The request's tenant transaction sets three transaction-local settings
 * (set_config(name, value, true)): app.current_org, app.current_user, app.current_role.
 * A pooled connection reports '' (not NULL) for them after a transaction ends, hence nullif:
 * no organization set means NULL, and `organization_id = NULL` matches no row. Fail closed.
 *
 * Policies call these wrapped in a scalar subquery, `(SELECT palisade_private.current_org_id())`,
 * so PostgreSQL evaluates them once per statement (an InitPlan), not once per row. Measured on
 * 4 December 2026 (docs/benchmarks.md): a count over 100,000 customers scanned sequentially took
 * 3.7 ms with the subquery and 30 ms with the bare function call, which is evaluated for every
 * row where the policy is a filter. Where it is an index condition both are evaluated once, and
 * pgbench could not tell the two apart on a 50-row list (the server's CPU, subquery over bare
 * call, 1.02 with a 95% interval of 0.99 to 1.08, over 20 rounds). They are plain STABLE SQL
 * functions, not SECURITY DEFINER: they read only the caller's own settings.
 * They deliberately have no `SET search_path` clause: a function with a SET clause cannot be
 * inlined, and its per-call GUC save/restore measurably slowed every tenant query. Instead, every
 * function and type in their bodies is schema-qualified (pg_catalog.current_setting,
 * pg_catalog.uuid, pg_catalog.text; the cast to uuid is found by its types, not by name).
 *
 * One name is not, and cannot be: the `=` that NULLIF compares with. NULLIF(a, b) is
 * `CASE WHEN a = b THEN NULL ELSE a END`, SQL has no way to qualify its operator, and PostgreSQL
 * resolves that `=` (text = text) through the caller's search_path when it inlines or runs the
 * body. Written without NULLIF, the body would either read the setting twice
 * (`CASE WHEN s OPERATOR(pg_catalog.=) '' ...` with `s` spelled out in both places) or need a FROM
 * clause, which stops inlining: both add cost to every request. The `=` is safe as it is:
 *   - NULLIF returns NULL or its first argument unchanged, whatever `=` answers. An operator put
 *     in its place could only make these functions return NULL (no rows: fail closed), raise an
 *     error, or return the caller's own setting, which the caller may set anyway; never another
 *     organization's id. And it would run as the caller (these are not SECURITY DEFINER).
 *   - pg_catalog is searched before every schema of the search_path unless a session names it
 *     later, and the server never sets a search_path.
 *   - palisade_app can create nothing to put there: no CREATE on any schema, no TEMPORARY
 *     (002_no_temporary_objects.sql; operators are never looked up in pg_temp anyway), and the
 *     server refuses to start if it could (schema::check_app_role). Only a role that may already
 *     do far worse (the owner, a superuser) could create a shadowing operator.
 * tests/api/rls_sql.rs (a_shadowing_equals_operator_only_closes_the_context) plants one, first
 * in the app role's search_path, and finds no other organization's row.
 */
GRANT USAGE ON SCHEMA palisade TO palisade_app, palisade_resolver;
GRANT USAGE ON SCHEMA palisade_private TO palisade_app;
-- The resolver role owns the SECURITY DEFINER functions of the 02N_*.sql files (created by a
-- superuser acting as it, after this file has run), so it needs to be able to hold objects in
-- this schema. Nobody can log in as it, and it has no members.
GRANT USAGE, CREATE ON SCHEMA palisade_private TO palisade_resolver;

/** The acting organization, or NULL when none is set (every tenant policy compares to it). */
CREATE OR REPLACE FUNCTION palisade_private.current_org_id() RETURNS pg_catalog.uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $fn$ SELECT NULLIF(pg_catalog.current_setting('app.current_org', true), '')::pg_catalog.uuid $fn$;

/** The acting user, or NULL. */
CREATE OR REPLACE FUNCTION palisade_private.current_user_id() RETURNS pg_catalog.uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $fn$ SELECT NULLIF(pg_catalog.current_setting('app.current_user', true), '')::pg_catalog.uuid $fn$;

/** The acting user's role in the organization ('owner', 'admin', 'member'), or NULL. */
CREATE OR REPLACE FUNCTION palisade_private.current_app_role() RETURNS pg_catalog.text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $fn$ SELECT NULLIF(pg_catalog.current_setting('app.current_role', true), '') $fn$;

REVOKE ALL ON FUNCTION palisade_private.current_org_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION palisade_private.current_user_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION palisade_private.current_app_role() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.current_org_id() TO palisade_app;
GRANT EXECUTE ON FUNCTION palisade_private.current_user_id() TO palisade_app;
GRANT EXECUTE ON FUNCTION palisade_private.current_app_role() TO palisade_app;
