-- Why: an organization's customers. Email is unique per organization, never globally: a global
-- key would tell one tenant that another already has that customer (RLS pitfall 2).
CREATE TABLE palisade.customers (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    email text CHECK (email = lower(email) AND char_length(email) BETWEEN 3 AND 254),
    phone text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT customers_email_key UNIQUE (organization_id, email)
);
-- Serves the newest-first keyset pagination of GET /v1/customers.
CREATE INDEX customers_org_created_idx ON palisade.customers (organization_id, created_at, id);
ALTER TABLE palisade.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.customers FORCE ROW LEVEL SECURITY;
