-- Why: the social network accounts an organization connects. A handle is unique per
-- (organization, network), never globally: two organizations may both manage @acme on a network
-- without learning of each other. The access token is write-only (never selected by the API).
CREATE TABLE palisade.social_accounts (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    network text NOT NULL CHECK (network IN ('twitter', 'facebook', 'instagram', 'linkedin')),
    handle text NOT NULL CHECK (handle = lower(handle) AND char_length(handle) BETWEEN 1 AND 100),
    access_token text CHECK (char_length(access_token) BETWEEN 1 AND 4096),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT social_accounts_handle_key UNIQUE (organization_id, network, handle)
);
-- Newest-first keyset pagination of GET /v1/social/accounts.
CREATE INDEX social_accounts_org_created_idx
    ON palisade.social_accounts (organization_id, created_at, id);
ALTER TABLE palisade.social_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.social_accounts FORCE ROW LEVEL SECURITY;
