-- Why: an API key may be given a lifetime when it is minted (POST /v1/api-keys `expires_at`), so
-- that a key handed to a contractor or a short-lived job stops working by itself. NULL: no
-- expiry (every existing key). Set once, at creation: the app role may not update it
-- (policies/420_api_keys.sql grants no UPDATE on it), so a key's lifetime cannot be extended.
ALTER TABLE palisade.api_keys ADD COLUMN expires_at timestamptz;
ALTER TABLE palisade.api_keys ADD CONSTRAINT api_keys_expires_after_creation_check
    CHECK (expires_at IS NULL OR expires_at > created_at);
