-- Why: retention (policies/029_retention.sql, `palisade retention` and the server's hourly run)
-- deletes, across every organization, the append-only records older than their window. The
-- existing indexes lead with organization_id (each tenant's own lists), which a delete by age
-- alone cannot use: without these, each run scans every table whole. One index per table, on
-- the column the window is measured on; partial where only some rows can ever go.
CREATE INDEX webhook_deliveries_created_idx ON palisade.webhook_deliveries (created_at);
CREATE INDEX stripe_events_received_idx ON palisade_platform.stripe_events (received_at);
CREATE INDEX outbound_webhook_events_occurred_idx ON palisade.outbound_webhook_events (occurred_at);
CREATE INDEX invitations_expires_idx ON palisade.invitations (expires_at);
CREATE INDEX password_resets_expires_idx ON palisade.password_resets (expires_at);
CREATE INDEX idempotency_keys_created_idx ON palisade.idempotency_keys (created_at);
CREATE INDEX phone_number_inventory_released_idx ON palisade_platform.phone_number_inventory (released_at)
    WHERE released_at IS NOT NULL;
