/**
 * Retention: the one path that deletes, across every organization, the append-only records that
 * have outlived their purpose (docs/dba.md "Retention"). Same rules as 020_resolvers.sql:
 * SECURITY DEFINER, owned by the NOLOGIN role palisade_resolver, `search_path = ''`. EXECUTE for
 * palisade_owner only: `palisade retention` and the server's scheduled run call it over the
 * owner's URL, never the app role, so no request can delete a record. The owner cannot delete
 * these rows itself (row-level security is forced on it and it has no tenant policy); the
 * `*_resolver` policies each table's owner file adds let only this function through.
 *
 * purge_expired_records(windows..., batch) deletes at most `batch` rows of each kind per call
 * (the caller repeats until a call deletes fewer), so a first run over a large backlog is many
 * short transactions, not one long one. A step that would wait more than 50 ms for a lock leaves
 * its batch to the next run (beside an organization's deletion, waiting could deadlock: see the
 * function's body). The windows are measured on the database's clock. Each has a floor below
 * which the function refuses to run, longer than the retries and replay windows that need the
 * record:
 *
 *   webhook_deliveries       created_at   floor 2 days: Twilio retries for 15 s, Mailgun for
 *                                         8 h, SendGrid and Amazon EventBridge (Connect events)
 *                                         for 24 h; a delivery forgotten earlier would be applied
 *                                         twice.
 *   mailgun_tokens           accepted_at  floor 10 minutes: the replay guard's window
 *                                         (460_mailgun_tokens.sql).
 *   stripe_events            received_at  floor 4 days: Stripe retries for up to 3 days.
 *   outbound_webhook_events  occurred_at  floor 2 days (the retry schedule lasts 27.5 h); an
 *                                         event goes with its deliveries, and only once none of
 *                                         them is pending.
 *   invitations,             expires_at   floor 0: an expired link opens nothing.
 *   password_resets
 *   idempotency_keys         created_at   floor 24 hours: the server honours a key for 24 h.
 *                                         Kept 25 hours at least, whatever the window: the
 *                                         server's clock wrote created_at, and the hour is a
 *                                         margin for it running behind the database's.
 *   phone number quarantine  released_at  the quarantine length itself (the server's
 *                                         PALISADE_NUMBER_QUARANTINE_DAYS; whoever runs retention
 *                                         must run it with the server's value): a number whose
 *                                         quarantine has ended forgets which organization
 *                                         released it. The number stays in the inventory.
 *   deleted_rows             deleted_at   floor 90 days: the server refuses a sync token whose
 *                                         sync began more than 89 days ago (a fixed age,
 *                                         palisade_db::retention::SYNC_TOKEN_AGE), so every
 *                                         token it accepts finds the deletion records since it
 *                                         began, whatever window each run is given. Each
 *                                         organization whose records go keeps the newest
 *                                         transaction id among them
 *                                         (palisade.pruned_deletion_records, V0182), and a feed
 *                                         refuses a token at or before it: that holds whatever
 *                                         the clocks, and however long a deleting transaction
 *                                         stayed open.
 */
SET LOCAL ROLE palisade_resolver;

-- The signature before deletion records were kept for a window only (V0180); CREATE OR REPLACE
-- would add an overload beside it.
DROP FUNCTION IF EXISTS palisade_private.purge_expired_records(
    interval, interval, interval, interval, interval, interval, interval, integer);

CREATE OR REPLACE FUNCTION palisade_private.purge_expired_records(
    p_webhook_deliveries interval,
    p_mailgun_tokens interval,
    p_stripe_events interval,
    p_outbound_webhook_events interval,
    p_expired_links interval,
    p_idempotency_keys interval,
    p_number_quarantine interval,
    p_deletion_records interval,
    p_batch integer)
    RETURNS TABLE (record text, affected bigint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = ''
    AS $fn$
DECLARE
    n bigint;
    v_orgs uuid[];
    v_ids uuid[];
    v_lock_timeout text;
BEGIN
    IF p_webhook_deliveries IS NULL OR p_webhook_deliveries < interval '2 days'
       OR p_mailgun_tokens IS NULL OR p_mailgun_tokens < interval '10 minutes'
       OR p_stripe_events IS NULL OR p_stripe_events < interval '4 days'
       OR p_outbound_webhook_events IS NULL OR p_outbound_webhook_events < interval '2 days'
       OR p_expired_links IS NULL OR p_expired_links < interval '0'
       OR p_idempotency_keys IS NULL OR p_idempotency_keys < interval '24 hours'
       OR p_number_quarantine IS NULL OR p_number_quarantine < interval '0'
       OR p_deletion_records IS NULL OR p_deletion_records < interval '90 days'
       OR p_batch IS NULL OR p_batch < 1 THEN
        RAISE EXCEPTION 'retention window below its floor'
            USING ERRCODE = '22023',
                  HINT = 'Floors: webhook deliveries 2 days, Mailgun tokens 10 minutes, Stripe events 4 days, outbound webhook events 2 days, idempotency keys 24 hours, deletion records 90 days; batch at least 1.';
    END IF;

    -- No step waits long for a lock. An organization's deletion is one DELETE whose cascade
    -- goes table by table (the users with their invitations and password resets, later the
    -- outbound webhooks with their deliveries, the carrier webhook deliveries, the idempotency
    -- keys, then the outbound events and the deletion records); retention takes the same
    -- organization's rows in another order. Each could come to wait for rows the other had
    -- already deleted: a deadlock, one of them aborted (the owner's DELETE /v1/organization
    -- answering 503, or the run failing). So every step waits 50 ms at most for a lock, then
    -- leaves its batch, untouched, to the next run (its block's subtransaction rolls back,
    -- freeing what it took; the step counts 0). Rows the earlier steps removed stay locked
    -- until the call ends, and the deletion may wait for them meanwhile: PostgreSQL looks for a
    -- deadlock once a wait has lasted deadlock_timeout (1 s by default), and the deletion finds
    -- one then only if retention happens to be in one of its 50 ms waits for it.
    v_lock_timeout := pg_catalog.current_setting('lock_timeout');
    PERFORM pg_catalog.set_config('lock_timeout', '50ms', true);

    -- Each statement repeats its age test on the row it deletes, not only in the subquery that
    -- picks the batch: a row changed meanwhile by another transaction (an idempotency key taken
    -- over, a number released again) is re-checked in its new version and kept.
    BEGIN
        DELETE FROM palisade.webhook_deliveries AS t
         WHERE t.created_at < pg_catalog.now() - p_webhook_deliveries
           AND (t.organization_id, t.id) IN (
                   SELECT d.organization_id, d.id FROM palisade.webhook_deliveries AS d
                    WHERE d.created_at < pg_catalog.now() - p_webhook_deliveries
                    LIMIT p_batch);
        GET DIAGNOSTICS n = ROW_COUNT;
    EXCEPTION WHEN lock_not_available THEN
        n := 0;
    END;
    record := 'webhook_deliveries'; affected := n; RETURN NEXT;

    BEGIN
        DELETE FROM palisade_platform.mailgun_tokens AS t
         WHERE t.accepted_at < pg_catalog.now() - p_mailgun_tokens
           AND t.token IN (
                   SELECT m.token FROM palisade_platform.mailgun_tokens AS m
                    WHERE m.accepted_at < pg_catalog.now() - p_mailgun_tokens
                    LIMIT p_batch);
        GET DIAGNOSTICS n = ROW_COUNT;
    EXCEPTION WHEN lock_not_available THEN
        n := 0;
    END;
    record := 'mailgun_tokens'; affected := n; RETURN NEXT;

    BEGIN
        DELETE FROM palisade_platform.stripe_events AS t
         WHERE t.received_at < pg_catalog.now() - p_stripe_events
           AND t.event_id IN (
                   SELECT e.event_id FROM palisade_platform.stripe_events AS e
                    WHERE e.received_at < pg_catalog.now() - p_stripe_events
                    LIMIT p_batch);
        GET DIAGNOSTICS n = ROW_COUNT;
    EXCEPTION WHEN lock_not_available THEN
        n := 0;
    END;
    record := 'stripe_events'; affected := n; RETURN NEXT;

    -- Deliveries go with their event (ON DELETE CASCADE); never while one is pending. The
    -- events are locked first (FOR UPDATE, skipping any a transaction is using): a redelivery
    -- queued for one of them meanwhile waits for this transaction and then finds no event,
    -- instead of being deleted by the cascade unseen. Those already queued are pending, so
    -- their events were not picked. Skipping locked events does not keep the cascade from
    -- waiting: for deliveries an organization's deletion is deleting through its webhooks,
    -- while that organization's events are not yet locked.
    BEGIN
        SELECT pg_catalog.array_agg(e.organization_id), pg_catalog.array_agg(e.id)
          INTO v_orgs, v_ids
          FROM (SELECT o.organization_id, o.id FROM palisade.outbound_webhook_events AS o
                 WHERE o.occurred_at < pg_catalog.now() - p_outbound_webhook_events
                   AND NOT EXISTS (SELECT 1 FROM palisade.outbound_webhook_deliveries AS d
                                    WHERE d.organization_id = o.organization_id
                                      AND d.event_id = o.id AND d.status = 'pending')
                 LIMIT p_batch
                   FOR UPDATE SKIP LOCKED) AS e;
        -- unnest of two arrays is FROM-clause syntax, unqualified (pg_catalog is always
        -- searched).
        DELETE FROM palisade.outbound_webhook_events AS t
         WHERE (t.organization_id, t.id) IN (SELECT * FROM unnest(v_orgs, v_ids))
           AND NOT EXISTS (SELECT 1 FROM palisade.outbound_webhook_deliveries AS d
                            WHERE d.organization_id = t.organization_id
                              AND d.event_id = t.id AND d.status = 'pending');
        GET DIAGNOSTICS n = ROW_COUNT;
    EXCEPTION WHEN lock_not_available THEN
        n := 0;
    END;
    record := 'outbound_webhook_events'; affected := n; RETURN NEXT;

    BEGIN
        DELETE FROM palisade.invitations AS t
         WHERE t.expires_at < pg_catalog.now() - p_expired_links
           AND (t.organization_id, t.id) IN (
                   SELECT i.organization_id, i.id FROM palisade.invitations AS i
                    WHERE i.expires_at < pg_catalog.now() - p_expired_links
                    LIMIT p_batch);
        GET DIAGNOSTICS n = ROW_COUNT;
    EXCEPTION WHEN lock_not_available THEN
        n := 0;
    END;
    record := 'invitations'; affected := n; RETURN NEXT;

    BEGIN
        DELETE FROM palisade.password_resets AS t
         WHERE t.expires_at < pg_catalog.now() - p_expired_links
           AND (t.organization_id, t.id) IN (
                   SELECT r.organization_id, r.id FROM palisade.password_resets AS r
                    WHERE r.expires_at < pg_catalog.now() - p_expired_links
                    LIMIT p_batch);
        GET DIAGNOSTICS n = ROW_COUNT;
    EXCEPTION WHEN lock_not_available THEN
        n := 0;
    END;
    record := 'password_resets'; affected := n; RETURN NEXT;

    -- Never before 25 hours: the server honours a key 24 hours by its own clock, which wrote
    -- created_at; the hour is a margin for that clock behind the database's (at the floor, a
    -- day, a key gone earlier would let a retry the server still replays act twice).
    BEGIN
        DELETE FROM palisade.idempotency_keys AS t
         WHERE t.created_at < pg_catalog.now()
                              - GREATEST(p_idempotency_keys, interval '25 hours')
           AND (t.organization_id, t.key) IN (
                   SELECT k.organization_id, k.key FROM palisade.idempotency_keys AS k
                    WHERE k.created_at < pg_catalog.now()
                                         - GREATEST(p_idempotency_keys, interval '25 hours')
                    LIMIT p_batch);
        GET DIAGNOSTICS n = ROW_COUNT;
    EXCEPTION WHEN lock_not_available THEN
        n := 0;
    END;
    record := 'idempotency_keys'; affected := n; RETURN NEXT;

    BEGIN
        UPDATE palisade_platform.phone_number_inventory AS t
           SET released_by_org_id = NULL, released_at = NULL
         WHERE t.released_at <= pg_catalog.now() - p_number_quarantine
           AND t.number IN (
                   SELECT q.number FROM palisade_platform.phone_number_inventory AS q
                    WHERE q.released_at <= pg_catalog.now() - p_number_quarantine
                    LIMIT p_batch);
        GET DIAGNOSTICS n = ROW_COUNT;
    EXCEPTION WHEN lock_not_available THEN
        n := 0;
    END;
    record := 'number_quarantines'; affected := n; RETURN NEXT;

    -- Each organization whose records go keeps the newest transaction id among them, in the
    -- same statement (palisade.pruned_deletion_records, never moved back): a feed refuses a
    -- token at or before it, whatever the clocks say (V0182). xid8 has no max() before
    -- PostgreSQL 16: DISTINCT ON picks it. Beside an organization's deletion, this step also
    -- waits for the organization's row (the mark's foreign key), which the deletion holds from
    -- its start: 50 ms at most, as every step; a mark of an organization whose deletion has
    -- committed meanwhile fails its foreign key, and the batch is left the same way.
    BEGIN
        WITH gone AS (
            DELETE FROM palisade.deleted_rows AS t
             WHERE t.deleted_at < pg_catalog.now() - p_deletion_records
               AND (t.organization_id, t.resource, t.change_xid, t.row_id) IN (
                       SELECT d.organization_id, d.resource, d.change_xid, d.row_id
                         FROM palisade.deleted_rows AS d
                        WHERE d.deleted_at < pg_catalog.now() - p_deletion_records
                        LIMIT p_batch)
            RETURNING t.organization_id, t.change_xid
        ), newest AS (
            SELECT DISTINCT ON (g.organization_id) g.organization_id, g.change_xid
              FROM gone AS g
             ORDER BY g.organization_id, g.change_xid DESC
        ), marked AS (
            INSERT INTO palisade.pruned_deletion_records AS p (organization_id, pruned_xid)
            SELECT w.organization_id, w.change_xid FROM newest AS w
            ON CONFLICT (organization_id) DO UPDATE
               SET pruned_xid = GREATEST(p.pruned_xid, EXCLUDED.pruned_xid),
                   pruned_at = pg_catalog.now()
        )
        SELECT pg_catalog.count(*) INTO n FROM gone;
    EXCEPTION WHEN lock_not_available OR foreign_key_violation THEN
        n := 0;
    END;
    PERFORM pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
    record := 'deleted_rows'; affected := n; RETURN NEXT;
END
$fn$;
REVOKE ALL ON FUNCTION palisade_private.purge_expired_records(
    interval, interval, interval, interval, interval, interval, interval, interval, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION palisade_private.purge_expired_records(
    interval, interval, interval, interval, interval, interval, interval, interval, integer)
    TO palisade_owner;

RESET ROLE;
