-- Why: posts of an organization's social accounts, with their engagement counters. The account
-- reference is composite (same organization only); deleting the account deletes its posts.
CREATE TABLE palisade.social_posts (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    account_id uuid NOT NULL,
    body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 5000),
    status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'scheduled', 'published', 'failed')),
    scheduled_at timestamptz,
    published_at timestamptz,
    likes bigint NOT NULL DEFAULT 0 CHECK (likes >= 0),
    shares bigint NOT NULL DEFAULT 0 CHECK (shares >= 0),
    comments bigint NOT NULL DEFAULT 0 CHECK (comments >= 0),
    impressions bigint NOT NULL DEFAULT 0 CHECK (impressions >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT social_posts_account_fkey FOREIGN KEY (organization_id, account_id)
        REFERENCES palisade.social_accounts (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT social_posts_scheduled_check CHECK (status <> 'scheduled' OR scheduled_at IS NOT NULL),
    CONSTRAINT social_posts_published_check CHECK (status <> 'published' OR published_at IS NOT NULL)
);
-- Newest-first keyset pagination of GET /v1/social/posts.
CREATE INDEX social_posts_org_created_idx ON palisade.social_posts (organization_id, created_at, id);
-- The account filter, the cascade from the account, and /v1/social/analytics per account.
CREATE INDEX social_posts_org_account_published_idx
    ON palisade.social_posts (organization_id, account_id, published_at);
ALTER TABLE palisade.social_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.social_posts FORCE ROW LEVEL SECURITY;
