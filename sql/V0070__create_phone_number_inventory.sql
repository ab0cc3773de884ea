-- Why: phone numbers are assigned from the platform's carrier inventory, not claimed first come
-- first served. Operators load the numbers the platform's carrier account holds (`palisade
-- numbers`, as the owner); an organization claims only an available one, through the
-- SECURITY DEFINER functions of policies/022_phone_number_inventory.sql; a released number is
-- quarantined before anyone else may claim it. The database refuses a tenant phone_numbers row
-- whose number the inventory does not assign to that organization, and an outbound campaign,
-- message or call whose from_number is not one of the organization's own numbers with that
-- capability. docs/phone-numbers.md describes the flows and this upgrade.

-- A platform table, not a tenant table (schema palisade_platform): the platform's numbers, and
-- which organization holds each. Tenants never read it: they reach it only through the narrow
-- functions of policies/022, which answer about the acting organization alone. Privileges and
-- policies: policies/325_phone_number_inventory.sql.
CREATE TABLE palisade_platform.phone_number_inventory (
    number text PRIMARY KEY CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    -- What the carrier lets this number do; an organization may use a subset.
    capabilities text[] NOT NULL
        CHECK (cardinality(capabilities) BETWEEN 1 AND 2 AND capabilities <@ ARRAY['sms', 'voice']),
    -- The organization the number is assigned to; NULL when it is not assigned. Deleting the
    -- organization releases the number (and the trigger below quarantines it).
    holder_org_id uuid REFERENCES palisade.organizations (id) ON DELETE SET NULL (holder_org_id),
    -- The organization that released it last, and when: during the quarantine only that
    -- organization may take it back. Not a foreign key: the organization may be deleted.
    released_by_org_id uuid,
    released_at timestamptz,
    added_at timestamptz NOT NULL DEFAULT now(),
    -- The target of phone_numbers_inventory_fkey: a tenant row exists only for its holder.
    CONSTRAINT phone_number_inventory_holder_number_key UNIQUE (holder_org_id, number),
    CONSTRAINT phone_number_inventory_release_check
        CHECK ((released_by_org_id IS NULL) = (released_at IS NULL)),
    CONSTRAINT phone_number_inventory_held_check
        CHECK (holder_org_id IS NULL OR released_by_org_id IS NULL)
);
-- Browsing what is available: unassigned numbers, in number order.
CREATE INDEX phone_number_inventory_unassigned_idx
    ON palisade_platform.phone_number_inventory (number) WHERE holder_org_id IS NULL;
-- Enabled here, forced after the upgrade's INSERT below (the owner has no policy on it until
-- policies/470 is applied, so FORCE would refuse that INSERT).
ALTER TABLE palisade_platform.phone_number_inventory ENABLE ROW LEVEL SECURITY;

-- When a number stops being assigned without saying when (the ON DELETE SET NULL of a deleted
-- organization, or an operator's UPDATE), remember who held it and since when it is free, so
-- the quarantine applies. The release function of policies/022 sets both itself, from the
-- application's clock.
CREATE FUNCTION palisade_private.phone_number_inventory_released() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF OLD.holder_org_id IS NOT NULL AND NEW.holder_org_id IS NULL AND NEW.released_at IS NULL THEN
            NEW.released_by_org_id := OLD.holder_org_id;
            NEW.released_at := pg_catalog.now();
        END IF;
        RETURN NEW;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.phone_number_inventory_released() FROM PUBLIC;
CREATE TRIGGER phone_number_inventory_released
    BEFORE UPDATE OF holder_org_id ON palisade_platform.phone_number_inventory
    FOR EACH ROW EXECUTE FUNCTION palisade_private.phone_number_inventory_released();

-- Upgrade: numbers claimed the old way stay with their holders. The owner sees no tenant rows
-- while phone_numbers is forced (FORCE ROW LEVEL SECURITY binds it too), so it lifts FORCE for
-- this one statement, inside this migration's transaction (the DDL guard lets `palisade
-- migrate` pass), and restores it at once. Their capabilities become the inventory's: the
-- operator corrects them with `palisade numbers add` if the carrier says otherwise.
ALTER TABLE palisade.phone_numbers NO FORCE ROW LEVEL SECURITY;
INSERT INTO palisade_platform.phone_number_inventory (number, capabilities, holder_org_id)
SELECT n.number, n.capabilities, n.organization_id FROM palisade.phone_numbers AS n;
ALTER TABLE palisade.phone_numbers FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade_platform.phone_number_inventory FORCE ROW LEVEL SECURITY;

-- A tenant row exists only for a number the inventory assigns to that organization: even a
-- direct INSERT as the app role cannot claim a number. (A foreign key to a platform table; FK
-- checks bypass row-level security, and what this one reveals, that a number is not assigned
-- to the acting organization, is what the claim function answers anyway.)
ALTER TABLE palisade.phone_numbers
    ADD CONSTRAINT phone_numbers_inventory_fkey FOREIGN KEY (organization_id, number)
        REFERENCES palisade_platform.phone_number_inventory (holder_org_id, number);

-- Outbound use is tied to ownership. sms_number is the number when it may send SMS (NULL
-- otherwise), so that a composite foreign key can require both the number and the capability.
ALTER TABLE palisade.phone_numbers
    ADD COLUMN sms_number text GENERATED ALWAYS AS
        (CASE WHEN 'sms' = ANY (capabilities) THEN number END) STORED,
    ADD CONSTRAINT phone_numbers_org_sms_number_key UNIQUE (organization_id, sms_number);

-- A campaign that may still send (draft, scheduled, sending) names one of the organization's
-- SMS numbers; a sent or cancelled one keeps its from_number as history and pins nothing.
-- NOT VALID: campaigns written before this migration may name any number; they are not
-- checked until their from_number changes (and their messages cannot be queued from a number
-- the organization does not hold: the trigger below). NOT VALID on every installation, so that
-- a new database and an upgraded one are the same schema (the audit's drift check).
ALTER TABLE palisade.sms_campaigns
    ADD COLUMN active_from_number text GENERATED ALWAYS AS
        (CASE WHEN status IN ('draft', 'scheduled', 'sending') THEN from_number END) STORED;
ALTER TABLE palisade.sms_campaigns
    ADD CONSTRAINT sms_campaigns_from_number_fkey FOREIGN KEY (organization_id, active_from_number)
        REFERENCES palisade.phone_numbers (organization_id, sms_number) NOT VALID;
-- Releasing a number, or dropping its sms capability, looks for campaigns that still use it.
CREATE INDEX sms_campaigns_org_active_from_idx
    ON palisade.sms_campaigns (organization_id, active_from_number);

-- Outbound messages and calls: their from_number must be one of the organization's numbers
-- with the capability, when they are written. A foreign key would pin every number that ever
-- sent anything; history stays as it was sent, and inbound rows keep the customer's number.
-- Invoker's rights on purpose: the writer (the app role, under row-level security) sees only
-- its own organization's numbers, which is exactly the set allowed.
CREATE FUNCTION palisade_private.outbound_from_number_owned() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    DECLARE
        v_capability text := TG_ARGV[0];
    BEGIN
        IF NEW.direction = 'outbound' AND NOT EXISTS (
            SELECT 1 FROM palisade.phone_numbers AS n
             WHERE n.organization_id = NEW.organization_id AND n.number = NEW.from_number
               AND v_capability = ANY (n.capabilities)) THEN
            RAISE EXCEPTION 'outbound from_number is not one of the organization''s numbers with the % capability', v_capability
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_TABLE_NAME || '_from_number_owned',
                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
        END IF;
        RETURN NEW;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.outbound_from_number_owned() FROM PUBLIC;

CREATE TRIGGER sms_messages_from_number_owned_insert
    BEFORE INSERT ON palisade.sms_messages
    FOR EACH ROW EXECUTE FUNCTION palisade_private.outbound_from_number_owned('sms');
CREATE TRIGGER sms_messages_from_number_owned_update
    BEFORE UPDATE OF from_number, direction ON palisade.sms_messages
    FOR EACH ROW
    WHEN (NEW.from_number IS DISTINCT FROM OLD.from_number OR NEW.direction IS DISTINCT FROM OLD.direction)
    EXECUTE FUNCTION palisade_private.outbound_from_number_owned('sms');
CREATE TRIGGER calls_from_number_owned_insert
    BEFORE INSERT ON palisade.calls
    FOR EACH ROW EXECUTE FUNCTION palisade_private.outbound_from_number_owned('voice');
CREATE TRIGGER calls_from_number_owned_update
    BEFORE UPDATE OF from_number, direction ON palisade.calls
    FOR EACH ROW
    WHEN (NEW.from_number IS DISTINCT FROM OLD.from_number OR NEW.direction IS DISTINCT FROM OLD.direction)
    EXECUTE FUNCTION palisade_private.outbound_from_number_owned('voice');
