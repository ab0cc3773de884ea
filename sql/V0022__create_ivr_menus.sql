-- Why: an organization's IVR menus: a name, unique within the organization, and the menu tree as
-- the client sent it (validated by palisade_domain::IvrMenuTree; the CHECKs are a backstop).
CREATE TABLE palisade.ivr_menus (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    tree jsonb NOT NULL CHECK (jsonb_typeof(tree) = 'object' AND pg_column_size(tree) <= 65536),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT ivr_menus_name_key UNIQUE (organization_id, name)
);
-- Newest-first keyset pagination of GET /v1/ivr/menus.
CREATE INDEX ivr_menus_org_created_idx ON palisade.ivr_menus (organization_id, created_at, id);
ALTER TABLE palisade.ivr_menus ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.ivr_menus FORCE ROW LEVEL SECURITY;
