-- Why: an organization's knowledge-base articles, searchable in full text under RLS. The
-- tsvector is a stored generated column: computed once per write, never per row searched (the
-- search filters the organization's rows with it; see policies/330_kb_articles.sql for the
-- EXPLAIN figures and why there is no GIN index).
CREATE TABLE palisade.kb_articles (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 300),
    body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 50000),
    tags text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20),
    published boolean NOT NULL DEFAULT false,
    search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, title), 'A')
        || setweight(to_tsvector('english'::regconfig, body), 'B')
    ) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
-- Newest-first keyset pagination of GET /v1/knowledge-base/articles, with or without ?q=: the
-- organization qual of the policy narrows through it first.
CREATE INDEX kb_articles_org_created_idx ON palisade.kb_articles (organization_id, created_at, id);
ALTER TABLE palisade.kb_articles ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.kb_articles FORCE ROW LEVEL SECURITY;
