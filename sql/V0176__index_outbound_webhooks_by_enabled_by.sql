-- Why: GET /v1/webhooks?enabled_by=<user id> (the webhooks a user answers for), and removing a
-- member or making one a member (which locks, then disables, the webhooks that member enabled:
-- routes/members.rs) look webhooks up by enabled_by. Nothing caps how many webhooks an
-- organization registers, so without this index each of them read the organization's whole
-- list (outbound_webhooks_org_created_idx), as api_keys_org_created_by_idx spares the keys'.
-- A plain CREATE INDEX: it blocks writes to outbound_webhooks while it builds, which on a table
-- of endpoints (not events) takes moments. On a database where this table is unusually large,
-- build it first with CREATE INDEX CONCURRENTLY IF NOT EXISTS and the same definition
-- (docs/adding-a-resource.md).
CREATE INDEX IF NOT EXISTS outbound_webhooks_org_enabled_by_idx
    ON palisade.outbound_webhooks (organization_id, enabled_by);
