-- Why: one shape for write-only secrets in the API (docs/api.md): `has_<name>: bool`, the value
-- only in the response that wrote it. `signing_secret` is unreadable by palisade_app (column
-- privileges, policies/410_outbound_webhooks.sql); this stored generated column says it is set
-- (always, as the column is NOT NULL), computed by the server, classified readable
-- (policies/920_column_classification.sql).
ALTER TABLE palisade.outbound_webhooks
    ADD COLUMN has_signing_secret boolean GENERATED ALWAYS AS (signing_secret IS NOT NULL) STORED;
