/**
 * Roles. Applied by a superuser (the `bootstrap` step, or a DBA with psql), never by the app.
 * Safe to re-run. Passwords are not set here: `palisade bootstrap` sets them from configuration,
 * or a DBA runs ALTER ROLE ... PASSWORD (docs: README "Using an existing PostgreSQL").
 *
 *   palisade_owner     LOGIN. Owns the schemas, tables and functions; runs migrations and
 *                      re-applies this directory. FORCE ROW LEVEL SECURITY binds it too, and it has
 *                      no tenant policies: it sees no tenant rows.
 *   palisade_app       LOGIN. Every tenant request and carrier/email webhook. Owns nothing, is no
 *                      superuser, has no BYPASSRLS; the server refuses to start otherwise.
 *                      Outside the tenant schema it reaches one platform table, the Mailgun
 *                      webhook's replay guard palisade_platform.mailgun_tokens
 *                      (460_mailgun_tokens.sql).
 *   palisade_billing   LOGIN, BYPASSRLS. The Stripe webhook path only (POST /webhooks/stripe,
 *                      through palisade_db::BillingPool, whose only operations are Stripe's), with
 *                      grants on billing tables only (440_billing.sql) and on its dedupe table
 *                      palisade_platform.stripe_events (450_stripe_events.sql). row_security = off
 *                      makes it fail loudly (instead of silently seeing nothing) if it ever loses
 *                      BYPASSRLS. The server refuses to start Stripe with a billing role that is a
 *                      superuser or holds privileges on any other tenant table.
 *   palisade_resolver  NOLOGIN. Owns the few SECURITY DEFINER functions that must find a row before
 *                      a tenant is known (login by email, API keys, the organization of a webhook
 *                      delivery: 020_resolvers.sql, 021_webhook_resolvers.sql), or touch platform
 *                      data for a tenant (phone number claims: 022_phone_number_inventory.sql).
 *                      Nobody logs in as it. The owner role is
 *                      its only member, so that 020_resolvers.sql can SET ROLE to it to create and
 *                      replace those functions. The resolver's policies also require
 *                      current_user = 'palisade_resolver' (true only inside its own functions), so
 *                      membership alone does not let the owner see tenant rows.
 *   palisade_auditor   NOLOGIN. Optional, read-only: the audit views of schema palisade_audit
 *                      (900_audit.sql) and nothing else; no tenant table, no BYPASSRLS. A DBA who
 *                      is not a superuser gets it with GRANT palisade_auditor TO <their role>.
 *                      Its LOGIN attribute is left alone here, so a DBA may also give it a
 *                      password and log in as it (ALTER ROLE palisade_auditor LOGIN PASSWORD ...).
 */
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_owner') THEN
        CREATE ROLE palisade_owner;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_app') THEN
        CREATE ROLE palisade_app;
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
END
$roles$;

ALTER ROLE palisade_owner    LOGIN   NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_app      LOGIN   NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_billing  LOGIN   NOSUPERUSER BYPASSRLS   NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_resolver NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_auditor          NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE palisade_billing SET row_security = off;

GRANT palisade_resolver TO palisade_owner;
