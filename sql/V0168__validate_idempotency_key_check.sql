-- Why: V0167 added idempotency_keys_key_check NOT VALID, so that its ACCESS EXCLUSIVE lock lasted
-- only as long as a catalog change. Validating it here scans the table under SHARE UPDATE
-- EXCLUSIVE, which lets keyed POSTs (reads and writes of the table) go on meanwhile
-- (docs/adding-a-resource.md). The rows passed V0130's CHECK, which accepts the same keys.
ALTER TABLE palisade.idempotency_keys VALIDATE CONSTRAINT idempotency_keys_key_check;
