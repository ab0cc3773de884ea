-- Why: bearer tokens are stateless JWTs; a password change or reset must end every token issued
-- before it at once. Each token carries the user's credential_version (claim `ver`) and the
-- per-request user lookup (palisade_private.member_session) compares it: bumping it kills them all.
ALTER TABLE palisade.users ADD COLUMN credential_version integer NOT NULL DEFAULT 0
    CHECK (credential_version >= 0);
