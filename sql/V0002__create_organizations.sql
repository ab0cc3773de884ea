-- Why: the root of tenancy, one row per organization. Its own id is its organization id.
-- RLS is enabled and forced here so the table is closed (no rows for anyone) until
-- policies/ grants access; the policies themselves live in policies/100_organizations.sql.
CREATE TABLE palisade.organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE palisade.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.organizations FORCE ROW LEVEL SECURITY;
