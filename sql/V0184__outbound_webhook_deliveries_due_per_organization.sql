-- Why: the delivery worker took the oldest due deliveries across every organization, so one
-- organization's backlog (an endpoint that answers slowly or not at all, fed by a steady stream
-- of its own changes) held back every other organization's deliveries for as long as it lasted.
-- The worker now takes each organization's oldest due deliveries in turn
-- (palisade_private.due_outbound_webhook_deliveries, policies/027): it walks the organizations
-- that have pending deliveries, then reads each one's due rows, in this index's order. It
-- replaces the index on next_attempt_at alone, which nothing else reads.
-- A plain CREATE INDEX blocks writes to outbound_webhook_deliveries (every change that emits an
-- event) while it builds; where that table is large, build it first with CREATE INDEX
-- CONCURRENTLY IF NOT EXISTS and the same definition (docs/changelog.md).
CREATE INDEX IF NOT EXISTS outbound_webhook_deliveries_org_due_idx
    ON palisade.outbound_webhook_deliveries (organization_id, next_attempt_at, id)
    WHERE status = 'pending';
DROP INDEX IF EXISTS palisade.outbound_webhook_deliveries_due_idx;
