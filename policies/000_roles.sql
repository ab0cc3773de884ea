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
 *                      of a role that owns or bypasses.
 *   palisade_billing   LOGIN, BYPASSRLS. The Stripe webhook path only (POST /webhooks/stripe,
 *                      through palisade_db::BillingPool, whose only operations are Stripe's), with
 *                      grants on billing tables only (440_billing.sql) and on its dedupe table
 *                      palisade_platform.stripe_events (450_stripe_events.sql). row_security = off
 *                      makes it fail loudly (instead of silently seeing nothing) if it ever loses
 *                      BYPASSRLS. The server refuses to start Stripe with a billing role that is a
 *                      superuser or holds privileges on any other tenant table.
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
 * palisade_resolver has no members. Before this rule the owner was one (so that policy files could
 * SET ROLE to it); re-running this file on such a database revokes that, and any other direct
 * membership someone granted by hand.
 */
DO $no_resolver_members$
DECLARE
    member name;
BEGIN
    FOR member IN
        SELECT pg_catalog.pg_get_userbyid(m.member) FROM pg_catalog.pg_auth_members m
         WHERE m.roleid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'palisade_resolver')
    LOOP
        EXECUTE pg_catalog.format('REVOKE palisade_resolver FROM %I', member);
    END LOOP;
END
$no_resolver_members$;

/**
 * palisade_backup is a member of no role: a membership could give it write privileges, or let it
 * SET ROLE to a role that has them. Revoked each time this file runs.
 */
DO $backup_member_of_nothing$
DECLARE
    grp name;
BEGIN
    FOR grp IN
        SELECT pg_catalog.pg_get_userbyid(m.roleid) FROM pg_catalog.pg_auth_members m
         WHERE m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'palisade_backup')
    LOOP
        EXECUTE pg_catalog.format('REVOKE %I FROM palisade_backup', grp);
    END LOOP;
END
$backup_member_of_nothing$;

/**
 * palisade_app_a and palisade_app_b are members of palisade_app and of nothing else: a membership
 * granted by hand (say, of a role that owns tables) would reach every request, so re-running this
 * file revokes it (the server also refuses to start with one that owns or bypasses).
 */
GRANT palisade_app TO palisade_app_a;
GRANT palisade_app TO palisade_app_b;
DO $app_login_memberships$
DECLARE
    granted record;
BEGIN
    FOR granted IN
        SELECT pg_catalog.pg_get_userbyid(m.roleid) AS role_name,
               pg_catalog.pg_get_userbyid(m.member) AS member_name
          FROM pg_catalog.pg_auth_members m
         WHERE m.member IN (SELECT oid FROM pg_catalog.pg_roles
                             WHERE rolname IN ('palisade_app_a', 'palisade_app_b'))
           AND m.roleid <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'palisade_app')
    LOOP
        EXECUTE pg_catalog.format('REVOKE %I FROM %I', granted.role_name, granted.member_name);
    END LOOP;
END
$app_login_memberships$;
