-- Why: members join by invitation (issue 9, "credentials belong to their person"): an owner or
-- admin invites an email with a role, the invitee follows a single-use emailed link and sets their
-- own password. Only the SHA-256 of the link's random token is stored (token_hash, never readable
-- by palisade_app; looked up only inside palisade_private.invitation_by_token). A pending
-- invitation goes with its inviter (composite FK, ON DELETE CASCADE): a removed admin keeps
-- nothing. One pending invitation per organization and email; inviting again replaces it.
CREATE TABLE palisade.invitations (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    email text NOT NULL CHECK (email = lower(email) AND char_length(email) BETWEEN 3 AND 254),
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    invited_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT invitations_email_key UNIQUE (organization_id, email),
    CONSTRAINT invitations_token_hash_key UNIQUE (organization_id, token_hash),
    CONSTRAINT invitations_invited_by_fkey FOREIGN KEY (organization_id, invited_by)
        REFERENCES palisade.users (organization_id, id) ON DELETE CASCADE
);
-- Serves the newest-first keyset pagination of GET /v1/invitations.
CREATE INDEX invitations_org_created_idx ON palisade.invitations (organization_id, created_at, id);
-- Serves the cascade when an inviter is removed.
CREATE INDEX invitations_org_invited_by_idx ON palisade.invitations (organization_id, invited_by);
-- Serves the lookup by token before the organization is known (invitation_by_token).
CREATE INDEX invitations_token_hash_idx ON palisade.invitations (token_hash);
ALTER TABLE palisade.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.invitations FORCE ROW LEVEL SECURITY;
