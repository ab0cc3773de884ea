/**
 * Roles. Applied by a superuser (the `bootstrap` step, or a DBA with psql), never by the app.
 * Safe to re-run. Passwords are not set here: `palisade bootstrap` sets them from configuration,
 * or a DBA runs ALTER ROLE ... PASSWORD (docs/dba.md, "Installing and upgrading").
 *
 *   palisade_owner     LOGIN. Owns the schemas, tables and functions; runs migrations and
 *                      re-applies this directory. FORCE ROW LEVEL SECURITY binds it too, and it has
 *                      no tenant policies: it sees no tenant rows.
 *   palisade_app       NOLOGIN: the group that holds every grant of the app and that every
 *                      policy names (TO palisade_app applies to its members). Every tenant request
 *                      and carrier/email webhook runs as one of its two login members below. Owns
 *                      nothing, is no superuser, has no BYPASSRLS. Outside the tenant schema it
 *                      reaches one platform table, the Mailgun webhook's replay guard
 *                      palisade_platform.mailgun_tokens (460_mailgun_tokens.sql).
 *   palisade_app_a,    LOGIN roles the server connects as, exactly one "active" at a time:
 *   palisade_app_b     members of palisade_app (INHERIT) and of nothing else, no attribute
 *                      beyond LOGIN. PostgreSQL has no dual passwords, so the app's credential is
 *                      rotated by giving the idle one a new password, pointing the servers at
 *                      it, and disabling the other once its sessions are gone (`palisade
 *                      rotate-app-credential`; docs/dba.md, "Rotating passwords"). Their LOGIN
 *                      attribute and password are left alone here: bootstrap and the rotation
 *                      set them. Role settings (statement_timeout,
 *                      idle_in_transaction_session_timeout, CONNECTION LIMIT) apply to the login
 *                      role, not through the group, so `palisade bootstrap` sets them on both.
 *                      The server refuses to start as a role that is a superuser, has
 *                      BYPASSRLS, owns anything, is not a member of palisade_app, or is a member
 *                      (directly, or through palisade_app) of any other role: a policy written
 *                      for a role applies to its members, and permissive policies add up, so
 *                      a membership in an analyst role would show that organization's rows to
 *                      every request.
 *   palisade_billing   LOGIN, BYPASSRLS. The Stripe webhook path only (POST /webhooks/stripe,
 *                      through palisade_db::BillingPool, whose only operations are Stripe's), with
 *                      grants on billing tables only (440_billing.sql) and on its dedupe table
 *                      palisade_platform.stripe_events (450_stripe_events.sql). row_security = off
 *                      makes it fail loudly (instead of silently seeing nothing) if it ever loses
 *                      BYPASSRLS. The server refuses to start Stripe with a billing role that is a
 *                      superuser, has REPLICATION or the server's files (or may SET ROLE to a
 *                      role that has), or holds privileges on any other tenant table.
 *   palisade_resolver  NOLOGIN. Owns the few SECURITY DEFINER functions that must find a row before
 *                      a tenant is known (login by email, API keys, member sessions, the
 *                      organization of a webhook delivery), or touch platform data for a tenant
 *                      (phone number claims): the 02N_*.sql files. Nobody logs in as it and it has
 *                      no members: a member could SET ROLE to it and read what its policies open
 *                      (every organization's users, password and key hashes). So a superuser, not
 *                      the owner, creates its functions: after migrations it applies every
 *                      02N_*.sql file with SET LOCAL ROLE palisade_resolver (`palisade
 *                      install-definers`; embedded mode does it on every start). Its policies also
 *                      require current_user = 'palisade_resolver' (true only inside its own
 *                      functions), as a second line of defence. The server refuses an app role that
 *                      is a member of it, and `palisade audit` reports any login role that is
 *                      (member_of_owner_role).
 *   palisade_auditor   NOLOGIN. Optional, read-only: the audit views of schema palisade_audit
 *                      (900_audit.sql) and nothing else; no tenant table, no BYPASSRLS. A DBA who
 *                      is not a superuser gets it with GRANT palisade_auditor TO <their role>.
 *                      Its LOGIN attribute is left alone here, so a DBA may also give it a
 *                      password and log in as it (ALTER ROLE palisade_auditor LOGIN PASSWORD ...).
 *   palisade_backup    NOLOGIN when created, BYPASSRLS, read-only. Logical backups only (pg_dump,
 *                      docs/dba.md "Backups"): dumping a table whose row-level security is forced
 *                      needs a superuser or BYPASSRLS, and a backup must not need a superuser.
 *                      SELECT on every table and sequence of Palisade's schemas and USAGE on them
 *                      (950_backup_role.sql), nothing else; every session read-only by default;
 *                      member of no role (revoked below). The server never connects as it (the
 *                      app role's check refuses BYPASSRLS; the billing check refuses any role but
 *                      palisade_billing). Its LOGIN attribute is left alone after creation: an
 *                      operator enables it for the backup and disables it afterwards.
 *                      `palisade audit` reports it if it can write, owns anything or is a member
 *                      of a role. With palisade_billing, the only BYPASSRLS role besides
 *                      superusers (palisade_audit.allow_list).
 */
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_owner') THEN
        CREATE ROLE palisade_owner;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_app') THEN
        CREATE ROLE palisade_app;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_app_a') THEN
        CREATE ROLE palisade_app_a NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_app_b') THEN
        CREATE ROLE palisade_app_b NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_billing') THEN
        CREATE ROLE palisade_billing;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_resolver') THEN
        CREATE ROLE palisade_resolver;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_auditor') THEN
        CREATE ROLE palisade_auditor NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_backup') THEN
        CREATE ROLE palisade_backup NOLOGIN;
    END IF;
END
$roles$;

ALTER ROLE palisade_owner    LOGIN   NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_app      NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_app_a  INHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_app_b  INHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_billing  LOGIN   NOSUPERUSER BYPASSRLS   NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_resolver NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_auditor          NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_backup           NOSUPERUSER BYPASSRLS   NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_billing SET row_security = off;
-- pg_dump sets its own transactions read-only; anything else the role runs is read-only too.
ALTER ROLE palisade_backup SET default_transaction_read_only = on;

/**
 * The memberships revoked below are revoked grant by grant: from PostgreSQL 16 one membership may
 * be granted several times, by different grantors (a role holding ADMIN OPTION on it), and
 * REVOKE without GRANTED BY revokes only the one the current role (here a superuser: the bootstrap
 * superuser's) granted, leaving the others with a warning. So each pg_auth_members row is revoked
 * GRANTED BY its own grantor, with CASCADE (grants that depended on it go too). PostgreSQL 15 and
 * older keep one row per membership, which any REVOKE by a superuser removes, and may keep the OID
 * of a grantor since dropped: GRANTED BY is left out there.
 */
CREATE OR REPLACE FUNCTION pg_temp.revoke_membership(m pg_catalog.pg_auth_members) RETURNS void
LANGUAGE plpgsql AS $revoke$
BEGIN
    IF pg_catalog.current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE pg_catalog.format('REVOKE %I FROM %I GRANTED BY %I CASCADE',
            pg_catalog.pg_get_userbyid(m.roleid), pg_catalog.pg_get_userbyid(m.member),
            pg_catalog.pg_get_userbyid(m.grantor));
    ELSE
        EXECUTE pg_catalog.format('REVOKE %I FROM %I',
            pg_catalog.pg_get_userbyid(m.roleid), pg_catalog.pg_get_userbyid(m.member));
    END IF;
END
$revoke$;

/**
 * palisade_resolver has no members. Before this rule the owner was one (so that policy files could
 * SET ROLE to it); re-running this file on such a database revokes that, and any other direct
 * membership someone granted by hand.
 */
DO $no_resolver_members$
DECLARE
    granted pg_catalog.pg_auth_members;
BEGIN
    FOR granted IN
        SELECT m.* FROM pg_catalog.pg_auth_members m
         WHERE m.roleid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'palisade_resolver')
    LOOP
        PERFORM pg_temp.revoke_membership(granted);
    END LOOP;
END
$no_resolver_members$;

/**
 * palisade_backup is a member of no role: a membership could give it write privileges, or let it
 * SET ROLE to a role that has them. Revoked each time this file runs.
 */
DO $backup_member_of_nothing$
DECLARE
    granted pg_catalog.pg_auth_members;
BEGIN
    FOR granted IN
        SELECT m.* FROM pg_catalog.pg_auth_members m
         WHERE m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'palisade_backup')
    LOOP
        PERFORM pg_temp.revoke_membership(granted);
    END LOOP;
END
$backup_member_of_nothing$;

/**
 * palisade_app_a and palisade_app_b are members of palisade_app and of nothing else, and
 * palisade_app is a member of nothing: a membership granted by hand would reach every request (a
 * role that owns tables could disable RLS; a policy written for an analyst role applies to its
 * members and adds up with palisade_app's, so every request would also read that analyst's
 * organization). Re-running this file revokes it; the server refuses to start with one.
 */
GRANT palisade_app TO palisade_app_a;
GRANT palisade_app TO palisade_app_b;
DO $app_memberships$
DECLARE
    granted pg_catalog.pg_auth_members;
BEGIN
    FOR granted IN
        SELECT m.* FROM pg_catalog.pg_auth_members m
         WHERE m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'palisade_app')
            OR (m.member IN (SELECT oid FROM pg_catalog.pg_roles
                              WHERE rolname IN ('palisade_app_a', 'palisade_app_b'))
                AND m.roleid <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'palisade_app'))
    LOOP
        PERFORM pg_temp.revoke_membership(granted);
    END LOOP;
END
$app_memberships$;
