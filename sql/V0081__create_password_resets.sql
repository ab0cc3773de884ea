-- Why: password reset by an emailed single-use link (issue 9). A row is one pending link for one
-- user; only the SHA-256 of its random token is stored (token_hash, never readable by
-- palisade_app; consumed only inside palisade_private.reset_password). Rows go with their user.
CREATE TABLE palisade.password_resets (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT password_resets_token_hash_key UNIQUE (organization_id, token_hash),
    CONSTRAINT password_resets_user_id_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES palisade.users (organization_id, id) ON DELETE CASCADE
);
-- Serves "this user's pending resets" and the cascade when a user is removed.
CREATE INDEX password_resets_org_user_idx ON palisade.password_resets (organization_id, user_id);
-- Serves the lookup by token before the organization is known (reset_password).
CREATE INDEX password_resets_token_hash_idx ON palisade.password_resets (token_hash);
ALTER TABLE palisade.password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.password_resets FORCE ROW LEVEL SECURITY;
