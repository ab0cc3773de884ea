/**
 * The outbound webhook delivery worker's three narrow paths around RLS, the Stripe path's
 * invoice.paid, and the lock a webhook write holds on its writer (hold_acting_user). Same rules as
 * 020_resolvers.sql: SECURITY DEFINER, owned by the NOLOGIN role palisade_resolver,
 * `search_path = ''`, EXECUTE for palisade_app only (emit_invoice_paid: palisade_billing). The
 * columns and policies they rely on are in 410_outbound_webhooks.sql (`*_resolver`),
 * 415_outbound_webhook_deliveries.sql, 440_billing.sql (invoices) and 110_users.sql
 * (hold_acting_user).
 *
 * The worker never reads across organizations itself: it asks due_outbound_webhook_deliveries
 * for (organization, delivery) ids, opens the worker's tenant transaction for each organization
 * (TenantTx::begin_for_delivery_worker: the organization, no user, app.current_role
 * 'delivery_worker'), claims the row under RLS with FOR UPDATE SKIP LOCKED, and asks
 * outbound_webhook_secret for that one endpoint's secret. The app role has no SELECT on
 * signing_secret (410_outbound_webhooks.sql). The "worker's kind of transaction" below is that
 * context; a provider webhook's (no user, no role) and a user's are not it.
 */
SET LOCAL ROLE palisade_resolver;

/**
 * due_outbound_webhook_deliveries(now, limit, per organization): pending deliveries whose next
 * attempt is due at `now` (the server's clock), or that were never tried, not leased: at most
 * `per organization` of each organization's, its oldest, and of those at most `limit`, taken in
 * turns: every organization's oldest first (the oldest of those first), then every
 * organization's second, and so on. Organization and delivery ids, nothing else.
 *
 * Why turns: taken oldest first across organizations, the due rows of one organization whose
 * endpoint answers slowly or not at all (up to the worker's timeout an attempt), fed by a steady
 * stream of its own changes, came first in every batch, and held back every other
 * organization's deliveries for as long as that backlog lasted: hours, days. Now one
 * organization's deliveries fill at most `per organization` places of a batch, and another's
 * oldest is in the first turn.
 *
 * How it reads (the partial index outbound_webhook_deliveries_org_due_idx, sql/V0184): `orgs`
 * walks the organizations that have pending deliveries, one index probe each (a loose index
 * scan: not their rows; ordered as the index is, so that no other index on organization_id,
 * which would walk through the settled deliveries too, gives the order); for each, the range of its due rows, in order, up to `per
 * organization`. `enable_bitmapscan = off` keeps that range an ordered index scan that stops
 * at its limit: the function's body gets a generic plan, which expects one row of an
 * organization out of many, and for one row a bitmap scan then a sort looks cheaper. It read
 * all of an organization's due rows, every poll, to keep 8 of them: a backlog of N rows
 * drained in N/8 polls of up to N rows each (helper 136 measured 318 ms a poll at 500,000). A never-tried delivery is queued with the database's now() as its
 * next_attempt_at (the trigger's emit_webhook_event, a redelivery), so it is due even when the
 * server's clock is behind the database's. The first condition on next_attempt_at bounds the
 * range, and it holds every row the second admits: without it the OR made every poll (once a
 * second, in every instance) read the whole pending backlog, every retry of an endpoint that is
 * down included, to find nothing due.
 */
DROP FUNCTION IF EXISTS palisade_private.due_outbound_webhook_deliveries(timestamptz, integer);
CREATE OR REPLACE FUNCTION palisade_private.due_outbound_webhook_deliveries(p_now timestamptz,
                                                                            p_limit integer,
                                                                            p_per_organization integer)
    RETURNS TABLE (organization_id uuid, delivery_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    SET enable_bitmapscan = off
    AS $fn$
        WITH RECURSIVE orgs AS (
            (SELECT d.organization_id
               FROM palisade.outbound_webhook_deliveries AS d
              WHERE d.status = 'pending'
              ORDER BY d.organization_id, d.next_attempt_at, d.id
              LIMIT 1)
            UNION ALL
            SELECT (SELECT d.organization_id
                      FROM palisade.outbound_webhook_deliveries AS d
                     WHERE d.status = 'pending' AND d.organization_id > o.organization_id
                     ORDER BY d.organization_id, d.next_attempt_at, d.id
                     LIMIT 1)
              FROM orgs AS o
             WHERE o.organization_id IS NOT NULL
        ), due AS (
            SELECT f.organization_id, f.id, f.next_attempt_at,
                   pg_catalog.row_number() OVER (PARTITION BY f.organization_id
                                                 ORDER BY f.next_attempt_at, f.id) AS turn
              FROM orgs AS o
             CROSS JOIN LATERAL (
                 SELECT d.organization_id, d.id, d.next_attempt_at
                   FROM palisade.outbound_webhook_deliveries AS d
                  WHERE d.organization_id = o.organization_id
                    AND d.status = 'pending'
                    AND d.next_attempt_at <= GREATEST(p_now, pg_catalog.now())
                    AND (d.next_attempt_at <= p_now OR d.attempt_count = 0)
                    AND (d.leased_until IS NULL OR d.leased_until < pg_catalog.now())
                  ORDER BY d.next_attempt_at, d.id
                  LIMIT LEAST(GREATEST(p_per_organization, 0), 1000)
             ) AS f
        )
        SELECT due.organization_id, due.id
          FROM due
         ORDER BY due.turn, due.next_attempt_at, due.id
         LIMIT LEAST(GREATEST(p_limit, 0), 1000)
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.due_outbound_webhook_deliveries(timestamptz, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.due_outbound_webhook_deliveries(timestamptz, integer, integer) TO palisade_app;

/**
 * outbound_webhook_secret(delivery): the signing secret of the endpoint this delivery goes to,
 * only inside the worker's kind of transaction of the delivery's
 * own organization, only while the delivery is pending and leased (a worker claimed it for an
 * attempt within the last minute), and only for an enabled endpoint. NULL otherwise. A
 * signed-in user's transaction gets NULL.
 */
CREATE OR REPLACE FUNCTION palisade_private.outbound_webhook_secret(p_delivery_id uuid)
    RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        SELECT w.signing_secret
          FROM palisade.outbound_webhook_deliveries AS d
          JOIN palisade.outbound_webhooks AS w
            ON w.organization_id = d.organization_id AND w.id = d.webhook_id
         WHERE d.id = p_delivery_id
           -- The context, read once per call (an initplan), not once per row.
           AND d.organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid)
           AND (SELECT NULLIF(pg_catalog.current_setting('app.current_user', true), '')) IS NULL
           AND (SELECT pg_catalog.current_setting('app.current_role', true)) = 'delivery_worker'
           AND d.status = 'pending' AND d.leased_until > pg_catalog.now()
           AND w.enabled
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.outbound_webhook_secret(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.outbound_webhook_secret(uuid) TO palisade_app;

/**
 * disable_failing_outbound_webhook(webhook): disables the endpoint after persistent failure,
 * from the worker's kind of transaction in the endpoint's own organization, and only when one of
 * its deliveries has failed for good (status 'failed': every retry, over more than 24 hours,
 * failed) and no delivery to it has succeeded since that one was queued. Says whether it disabled it (false: not found, already disabled, or no such failure).
 */
CREATE OR REPLACE FUNCTION palisade_private.disable_failing_outbound_webhook(p_webhook_id uuid)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
    DECLARE
        v_org uuid := NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid;
        v_user text := NULLIF(pg_catalog.current_setting('app.current_user', true), '');
        v_role text := pg_catalog.current_setting('app.current_role', true);
    BEGIN
        IF v_org IS NULL OR v_user IS NOT NULL OR v_role IS DISTINCT FROM 'delivery_worker' THEN
            RETURN false;
        END IF;
        UPDATE palisade.outbound_webhooks AS w
           SET enabled = false, disabled_reason = 'delivery_failures',
               disabled_at = pg_catalog.now(), updated_at = pg_catalog.now()
         WHERE w.organization_id = v_org AND w.id = p_webhook_id AND w.enabled
           AND EXISTS (SELECT FROM palisade.outbound_webhook_deliveries AS d
                        WHERE d.organization_id = v_org AND d.webhook_id = p_webhook_id
                          AND d.status = 'failed'
                          -- ...and nothing sent to it has succeeded since that delivery was
                          -- queued: one payload it refuses does not disable a working endpoint.
                          AND NOT EXISTS (SELECT FROM palisade.outbound_webhook_deliveries AS s
                                           WHERE s.organization_id = v_org
                                             AND s.webhook_id = p_webhook_id
                                             AND s.status = 'succeeded'
                                             AND s.updated_at > d.created_at));
        RETURN FOUND;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.disable_failing_outbound_webhook(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.disable_failing_outbound_webhook(uuid) TO palisade_app;

/**
 * emit_invoice_paid(org, invoice): the outbox write of invoice.paid for the Stripe path, whose
 * role (palisade_billing) has no privilege on the outbox. Called by the invoices trigger of
 * sql/V0150 in the transaction that marked the invoice paid; emits only invoice.paid, only for
 * an invoice of `org` that is paid, to that organization's enabled endpoints subscribed to it.
 * EXECUTE for palisade_billing only.
 */
CREATE OR REPLACE FUNCTION palisade_private.emit_invoice_paid(p_org uuid, p_invoice_id uuid)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    -- The billing connection runs with row_security = off (so that RLS could never silently
    -- filter its BYPASSRLS reads); this function's own reads and writes go through the
    -- resolver's policies, which need it on.
    SET row_security = on
    AS $fn$
    DECLARE
        v_data jsonb;
    BEGIN
        SELECT pg_catalog.jsonb_build_object('id', i.id, 'currency', i.currency,
                                             'amount_paid_cents', i.amount_paid_cents)
          INTO v_data
          FROM palisade.invoices AS i
         WHERE i.organization_id = p_org AND i.id = p_invoice_id AND i.status = 'paid';
        IF v_data IS NOT NULL THEN
            -- The outbox write every trigger makes (sql/V0150), here with the resolver's rights
            -- and policies, which admit invoice.paid only.
            PERFORM palisade_private.emit_webhook_event(p_org, 'invoice.paid', v_data);
        END IF;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.emit_invoice_paid(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.emit_invoice_paid(uuid, uuid) TO palisade_billing;

/**
 * hold_acting_user(): locks the transaction's own user row (app.current_user in
 * app.current_org) FOR SHARE and returns that user's role there now; NULL when there is no such
 * user (removed meanwhile) or no context. For the trigger outbound_webhooks_enabled_by
 * (sql/V0175): a write that makes its writer a webhook's enabled_by holds their row until it
 * commits, so that removing them (DELETE) or making them a member (UPDATE) waits for the write
 * and then disables what it enabled, and a write that comes after finds them gone or a member.
 * A definer because the app's own locking read is also filtered by the users update policy
 * (110_users.sql), which hides an owner's row from an admin's context: an owner's API key acts
 * as an admin. It takes no parameter: it locks, and tells the role of, only the caller's own
 * user, whom the caller's context already names. It gives palisade_app nothing it lacked: the app
 * may set any context with set_config, reads every user's role of an organization it sets
 * (users_select), and with an owner's context may lock any user row FOR UPDATE itself.
 */
CREATE OR REPLACE FUNCTION palisade_private.hold_acting_user()
    RETURNS text
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
        SELECT u.role
          FROM palisade.users AS u
         WHERE u.organization_id = NULLIF(pg_catalog.current_setting('app.current_org', true), '')::uuid
           AND u.id = NULLIF(pg_catalog.current_setting('app.current_user', true), '')::uuid
           FOR SHARE
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.hold_acting_user() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.hold_acting_user() TO palisade_app;

RESET ROLE;
