-- Why: incremental sync (GET /v1/customers/changes). A mobile client that keeps a copy of the
-- organization's customers asks for what changed since its last sync, deletions included.
-- Polling by created_at or updated_at cannot be exact: both are the writing transaction's start,
-- and a transaction that started before a poll but commits after it writes a time the poll has
-- already passed, so the next poll misses the row. Each row therefore records the id of the
-- transaction that last wrote it (change_xid), and a sync token records the oldest transaction
-- still running when the sync began (pg_snapshot_xmin): everything older had ended and was read,
-- everything at or after it is read again by the next sync. A row may be sent again, never
-- missed. Transaction ids are 64-bit (xid8): they never wrap around.
--
-- change_xid: added with a constant default (a catalog change only, no rewrite of the table),
-- so the customers written before this migration read 0, "before any sync"; then the default
-- for new rows, and a trigger that stamps every insert and update whatever the statement says.
ALTER TABLE palisade.customers ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.customers ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();

CREATE FUNCTION palisade_private.stamp_change_xid() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        NEW.change_xid := pg_catalog.pg_current_xact_id();
        RETURN NEW;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.stamp_change_xid() FROM PUBLIC;
CREATE TRIGGER customers_change_xid
    BEFORE INSERT OR UPDATE ON palisade.customers
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();

-- Serves the changes feed: an organization's customers in the order of their last change.
-- A plain CREATE INDEX: it blocks writes to customers while it builds. On a database with many
-- customers, build it first with CREATE INDEX CONCURRENTLY IF NOT EXISTS and the same definition
-- (docs/adding-a-resource.md; the changelog's Operators section says so).
CREATE INDEX IF NOT EXISTS customers_org_change_idx
    ON palisade.customers (organization_id, change_xid, id);

-- What was deleted, for the next sync to say so: one row per deleted row of a synced table
-- (today customers only; `resource` names the table as its route does). Written by the table's
-- delete trigger in the deleting transaction, as the deleting role (policies/125_deleted_rows.sql).
-- Nothing deletes these rows but their organization's deletion (ON DELETE CASCADE): docs/dba.md
-- says how the table grows.
CREATE TABLE palisade.deleted_rows (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    resource text NOT NULL CHECK (resource IN ('customers')),
    row_id uuid NOT NULL,
    change_xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    deleted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- In the changes feed's order. Not unique by row_id alone: a row restored from a backup and
    -- deleted again is a second deletion, which the next sync must hear of too.
    PRIMARY KEY (organization_id, resource, change_xid, row_id)
);

-- The customers' AFTER trigger, until now only their outbound webhook events: those, and the
-- deletion record. An update's event compares the row without updated_at and change_xid (every
-- write stamps both, so only a change of something else is news). A customer deleted with its
-- organization records nothing and tells nobody: the organization's rows go with it (and the
-- deletion record's foreign key would refuse a row for an organization already deleted).
CREATE FUNCTION palisade_private.customer_changed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM palisade_private.emit_webhook_event(NEW.organization_id, 'customer.created',
                pg_catalog.jsonb_build_object('id', NEW.id));
        ELSIF TG_OP = 'UPDATE' THEN
            IF pg_catalog.to_jsonb(OLD) - 'updated_at' - 'change_xid'
               IS DISTINCT FROM pg_catalog.to_jsonb(NEW) - 'updated_at' - 'change_xid' THEN
                PERFORM palisade_private.emit_webhook_event(NEW.organization_id, 'customer.updated',
                    pg_catalog.jsonb_build_object('id', NEW.id));
            END IF;
        ELSIF EXISTS (SELECT FROM palisade.organizations AS o WHERE o.id = OLD.organization_id) THEN
            INSERT INTO palisade.deleted_rows (organization_id, resource, row_id)
                 VALUES (OLD.organization_id, 'customers', OLD.id);
            PERFORM palisade_private.emit_webhook_event(OLD.organization_id, 'customer.deleted',
                pg_catalog.jsonb_build_object('id', OLD.id));
        END IF;
        RETURN NULL;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.customer_changed() FROM PUBLIC;
DROP TRIGGER customers_webhook_events ON palisade.customers;
DROP FUNCTION palisade_private.customer_webhook_events();
CREATE TRIGGER customers_changed
    AFTER INSERT OR UPDATE OR DELETE ON palisade.customers
    FOR EACH ROW EXECUTE FUNCTION palisade_private.customer_changed();
