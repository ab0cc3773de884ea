/**
 * Analysts: read-only roles that see one organization's rows, and nothing else.
 *
 * `palisade analyst grant <role> --organization <uuid>` (as a superuser: creating a role needs
 * CREATEROLE) creates or adopts the role and records it in palisade_audit.analysts; this file,
 * applied by palisade_owner after migrations like every file here (and by the subcommand right
 * away), gives every recorded analyst, on every table of schema palisade (tables added later
 * included: it runs on every `palisade migrate`):
 *   - SELECT on the columns classified readable in policies/920_column_classification.sql, and on
 *     nothing else: secret columns (password hashes, key hashes, secrets) and unclassified ones
 *     stay unreadable; no INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER;
 *   - one policy, analyst_<role>: FOR SELECT TO <role> USING (organization_id = '<its
 *     organization>'::uuid) (organizations: id). The organization is a literal, not the tenant
 *     context: an analyst who runs set_config('app.current_org', <another>, false) still sees
 *     only its own;
 *   - USAGE on schema palisade (nothing on palisade_private, palisade_platform or the audit).
 * Everything is revoked from the role first, so a grant made by hand disappears at the next
 * apply. `palisade analyst revoke <role>` removes the record, the policies and the grants (the
 * role itself is left to the DBA, who may still use it elsewhere).
 *
 * The audit recognises these policies ('one organization (analyst)' in palisade_audit.policies)
 * and reports a recorded analyst holding more (analyst_beyond_read); the drift check leaves the
 * recorded analysts' policies and grants out of its comparison (palisade_db::audit). A record
 * whose role no longer exists is skipped with a WARNING.
 */
DO $analysts$
DECLARE
    a record;
    t record;
    cols text;
BEGIN
    FOR a IN SELECT an.role_name, an.organization_id, r.oid AS role_oid
               FROM palisade_audit.analysts an
               LEFT JOIN pg_catalog.pg_roles r ON r.rolname = an.role_name
              ORDER BY an.role_name LOOP
        IF a.role_oid IS NULL THEN
            RAISE WARNING 'analyst role % is recorded in palisade_audit.analysts but does not exist: run palisade analyst grant or revoke',
                a.role_name;
            CONTINUE;
        END IF;
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA palisade TO %I', a.role_name);
        FOR t IN
            SELECT c.oid, c.relname, c.relacl,
                   CASE WHEN c.relname = 'organizations' THEN 'id' ELSE 'organization_id' END AS tenant_column
              FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p')
             ORDER BY c.relname
        LOOP
            -- Revoking a table privilege revokes it on each column too. Only when the role holds
            -- something: a REVOKE on a never-granted table would write out its default ACL.
            IF EXISTS (SELECT 1 FROM pg_catalog.aclexplode(t.relacl) x WHERE x.grantee = a.role_oid)
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) x
                           WHERE att.attrelid = t.oid AND x.grantee = a.role_oid) THEN
                EXECUTE pg_catalog.format('REVOKE ALL ON palisade.%I FROM %I', t.relname, a.role_name);
            END IF;
            SELECT pg_catalog.string_agg(pg_catalog.quote_ident(att.attname), ', ' ORDER BY att.attnum)
              INTO cols
              FROM pg_catalog.pg_attribute att
              JOIN palisade_audit.column_classification cc
                ON cc.schema_name = 'palisade' AND cc.table_name = t.relname
               AND cc.column_name = att.attname AND cc.classification = 'readable'
             WHERE att.attrelid = t.oid AND att.attnum > 0 AND NOT att.attisdropped;
            IF cols IS NOT NULL THEN
                EXECUTE pg_catalog.format('GRANT SELECT (%s) ON palisade.%I TO %I', cols, t.relname, a.role_name);
            END IF;
            EXECUTE pg_catalog.format('DROP POLICY IF EXISTS %I ON palisade.%I',
                                      'analyst_' || a.role_name, t.relname);
            EXECUTE pg_catalog.format('CREATE POLICY %I ON palisade.%I FOR SELECT TO %I USING (%I = %L::uuid)',
                                      'analyst_' || a.role_name, t.relname, a.role_name, t.tenant_column,
                                      a.organization_id);
        END LOOP;
    END LOOP;
END
$analysts$;
