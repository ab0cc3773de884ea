-- Why: V0184 builds outbound_webhook_deliveries_org_due_idx with IF NOT EXISTS, so that an
-- operator may build it first with CREATE INDEX CONCURRENTLY (docs/changelog.md). A concurrent
-- build that failed leaves an invalid index of that name, which IF NOT EXISTS keeps: the
-- delivery worker's poll then has no usable index. Drop such an index and build it again.
DO $do$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_index AS i
                WHERE i.indexrelid = pg_catalog.to_regclass('palisade.outbound_webhook_deliveries_org_due_idx')
                  AND NOT i.indisvalid) THEN
        DROP INDEX palisade.outbound_webhook_deliveries_org_due_idx;
        CREATE INDEX outbound_webhook_deliveries_org_due_idx
            ON palisade.outbound_webhook_deliveries (organization_id, next_attempt_at, id)
            WHERE status = 'pending';
    END IF;
END
$do$;
