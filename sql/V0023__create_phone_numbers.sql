-- Why: the E.164 numbers an organization owns. A number routes inbound SMS and calls to exactly
-- one organization, so it is unique across the platform: phone_numbers_number_key is one of the
-- allow-listed global keys (justified in policies/320_phone_numbers.sql). The optional IVR menu
-- reference is composite; deleting the menu clears only ivr_menu_id.
CREATE TABLE palisade.phone_numbers (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    number text NOT NULL CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    label text CHECK (char_length(label) BETWEEN 1 AND 100),
    capabilities text[] NOT NULL
        CHECK (cardinality(capabilities) BETWEEN 1 AND 2 AND capabilities <@ ARRAY['sms', 'voice']),
    ivr_menu_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT phone_numbers_number_key UNIQUE (number),
    CONSTRAINT phone_numbers_ivr_menu_fkey FOREIGN KEY (organization_id, ivr_menu_id)
        REFERENCES palisade.ivr_menus (organization_id, id) ON DELETE SET NULL (ivr_menu_id)
);
-- Newest-first keyset pagination of GET /v1/phone-numbers.
CREATE INDEX phone_numbers_org_created_idx
    ON palisade.phone_numbers (organization_id, created_at, id);
-- The ivr_menu_id filter, and the SET NULL when a menu is deleted.
CREATE INDEX phone_numbers_org_ivr_menu_idx ON palisade.phone_numbers (organization_id, ivr_menu_id);
ALTER TABLE palisade.phone_numbers ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.phone_numbers FORCE ROW LEVEL SECURITY;
