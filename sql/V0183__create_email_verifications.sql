-- Why: an email address is a login, unique across the platform, and signup took it on the
-- signer's word. Anyone could sign up with someone else's address, and, as its owner, invite
-- people from it. Signup now mails a verification link; until the address's owner opens it, the
-- account is unverified: it logs in and works, but may not invite (docs/accounts.md).
--
-- A row here is a user whose address is not verified yet, with the current link: only the
-- SHA-256 of the link's random token is stored (token_hash, never readable by palisade_app;
-- consumed only inside palisade_private.verify_email). Verifying deletes the row; a password
-- reset, whose link went to the same address, deletes it too. No row: verified. So the users of
-- before this migration, and members who joined through an invitation (its link went to their
-- address), are verified without a row. The row goes with its user.
CREATE TABLE palisade.email_verifications (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    -- When the current link was made, and until when it works (a new one replaces it).
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    PRIMARY KEY (organization_id, id),
    -- One per user: a new link replaces the previous one in place.
    CONSTRAINT email_verifications_user_id_key UNIQUE (organization_id, user_id),
    CONSTRAINT email_verifications_token_hash_key UNIQUE (organization_id, token_hash),
    CONSTRAINT email_verifications_user_id_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES palisade.users (organization_id, id) ON DELETE CASCADE
);
-- Serves the lookup by token before the organization is known (verify_email).
CREATE INDEX email_verifications_token_hash_idx ON palisade.email_verifications (token_hash);
ALTER TABLE palisade.email_verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.email_verifications FORCE ROW LEVEL SECURITY;
