/**
 * palisade_audit.allow_list: the deliberate, documented exceptions to the tenancy rules. The audit
 * views (900_audit.sql), `palisade audit` and the catalog test (tests/api/catalog.rs) all read this
 * table; nothing else lists exceptions. Re-written on every apply, so the live list is exactly this
 * file's (a row added by hand is reported as drift by `palisade audit`).
 *
 *   global_unique_key  a unique key without organization_id. It tells a tenant that a value is
 *                      taken somewhere, so each must be something the product needs to find
 *                      before a tenant is known, read only through a resolver function.
 *   bypassrls_role     a role other than the superusers that may hold BYPASSRLS.
 *   app_login_role     a login role that may be a member of palisade_app (act as the app). Any
 *                      other login member is reported (app_login_member): it could set the
 *                      tenant context itself and read any organization.
 *   administrator_role a role of the DBA's own that may administer roles (CREATEROLE), become
 *                      a superuser (a member of one) or replicate (REPLICATION: a standby's or a
 *                      physical backup's login): e.g. a personal login after GRANT postgres
 *                      TO alice, or, on a managed service without a real superuser, the
 *                      provider's admin login, which has CREATEROLE. Each can reach every
 *                      organization's rows (on PostgreSQL 15 a CREATEROLE role may grant itself
 *                      palisade_backup; a member of a superuser may SET ROLE to it), so listing
 *                      one says it is trusted as a superuser is. It is then not reported
 *                      createrole_role nor replication_role, nor member_of_bypass_role for its
 *                      memberships in superusers, REPLICATION roles or the server-files roles;
 *                      everything else is still checked (a membership in a BYPASSRLS
 *                      role that is not a superuser, such as palisade_backup, or in
 *                      palisade_app: app_login_member), and its members are not accepted with
 *                      it (a role that can SET ROLE to a listed CREATEROLE role is still
 *                      createrole_role unless listed itself). None by default: Palisade itself
 *                      needs none (none of its roles has CREATEROLE or is a member of a
 *                      superuser); a DBA adds theirs here, through review, with the reason.
 *   reviewed_trigger   a trigger on a tenant table, named schema.table.trigger (the names as
 *                      they are, unquoted, case and all), whose function a DBA has read and
 *                      accepts: it is then not reported
 *                      trigger_assigns_tenant_column (the audit's reading of the source found an
 *                      assignment of the tenant column, e.g. one copied from the parent row,
 *                      which row-level security keeps in the same organization) nor
 *                      trigger_source_unread (a function in another language, e.g. contrib's
 *                      moddatetime). Still definer_trigger if its function is SECURITY DEFINER:
 *                      that is what it does, not what its source says. None by default:
 *                      Palisade's own triggers need none, and the catalog test accepts none. As
 *                      with every row here, the trigger belongs in your build's migrations too:
 *                      one added by hand is drift, which `palisade audit` reports whatever this
 *                      list says.
 */
DELETE FROM palisade_audit.allow_list;
INSERT INTO palisade_audit.allow_list (kind, name, reason) VALUES
    ('global_unique_key', 'users_email_key',
     'The login email: people log in before their organization is known (policies/110_users.sql).'),
    ('global_unique_key', 'phone_numbers_number_key',
     'A phone number routes inbound SMS and calls to exactly one organization.'),
    ('global_unique_key', 'api_keys_key_hash_key',
     'An API key is found by its hash before its organization is known; the hash of a random 256-bit key reveals nothing.'),
    ('global_unique_key', 'aws_connect_credentials_key_hash_key',
     'An Amazon Connect event credential is found by its hash before its organization is known; the hash of a random 256-bit credential reveals nothing (260_aws_connect_credentials.sql).'),
    ('bypassrls_role', 'palisade_billing',
     'The Stripe webhook path upserts subscriptions and invoices of any organization (000_roles.sql).'),
    ('bypassrls_role', 'palisade_backup',
     'Logical backups: pg_dump reads every organization''s rows of FORCE-RLS tables; NOLOGIN except during a backup, SELECT and USAGE only, never used by the server (000_roles.sql, 950_backup_role.sql; the audit reports anything more: backup_role_can_write).'),
    ('app_login_role', 'palisade_app_a',
     'One of the two login roles the server connects as, taking turns for password rotation without downtime; a member of palisade_app, which holds the grants (000_roles.sql).'),
    ('app_login_role', 'palisade_app_b',
     'The other login role of the password rotation pair; a member of palisade_app (000_roles.sql).');
