-- Why: V0172 added outbound_webhooks_disabled_reason_check NOT VALID. Validating it here scans
-- the table under SHARE UPDATE EXCLUSIVE: webhooks go on being read and written meanwhile. The
-- rows passed V0150's CHECK, which allows a subset of these reasons.
ALTER TABLE palisade.outbound_webhooks VALIDATE CONSTRAINT outbound_webhooks_disabled_reason_check;
