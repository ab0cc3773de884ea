-- Why: social_accounts.access_token becomes unreadable by palisade_app (column privileges,
-- policies/360_social.sql), yet the API still answers whether a token is set. A stored generated
-- column says so without anyone reading the token: computed by the server on every write, it
-- cannot disagree with the token, and it is classified readable with that reason
-- (policies/920_column_classification.sql).
ALTER TABLE palisade.social_accounts
    ADD COLUMN has_access_token boolean GENERATED ALWAYS AS (access_token IS NOT NULL) STORED;
