-- Why: keys that servers use instead of a user's token. Only the SHA-256 of a key is stored; the
-- key itself is shown once. api_keys_key_hash_key is an allow-listed global key: a request names
-- its key before its organization is known (justified in policies/420_api_keys.sql).
-- created_by is the user who minted the key, whose identity the key acts with. It is deliberately
-- not a foreign key: the row (name, prefix, last use, revocation) stays as a record when its
-- creator is removed. The key stops working then: the resolver requires the creator to exist,
-- and removing a member revokes the keys they created.
CREATE TABLE palisade.api_keys (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    role text NOT NULL CHECK (role IN ('admin', 'member')),
    prefix text NOT NULL CHECK (prefix ~ '^pk_[A-Za-z0-9_-]{8}$'),
    key_hash bytea NOT NULL CHECK (octet_length(key_hash) = 32),
    created_by uuid NOT NULL,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
-- Serves the newest-first keyset pagination of GET /v1/api-keys.
CREATE INDEX api_keys_org_created_idx ON palisade.api_keys (organization_id, created_at, id);
-- Finds a removed member's keys to revoke them.
CREATE INDEX api_keys_org_created_by_idx ON palisade.api_keys (organization_id, created_by);
ALTER TABLE palisade.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.api_keys FORCE ROW LEVEL SECURITY;
