-- Why: one shape for write-only secrets in the API (docs/api.md): `has_<name>: bool`, the value
-- only in the response that wrote it. An integration's `secrets` are unreadable by palisade_app
-- (column privileges, policies/400_integrations.sql); this stored generated column says whether
-- any is set, computed by the server on every write from `secret_keys` (the names, which the
-- app writes with the secrets), and classified readable (policies/920_column_classification.sql).
ALTER TABLE palisade.integrations
    ADD COLUMN has_secrets boolean GENERATED ALWAYS AS (cardinality(secret_keys) > 0) STORED;
