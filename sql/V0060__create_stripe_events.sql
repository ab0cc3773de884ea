-- Why: Stripe delivers an event at least once and retries for days, so the Stripe webhook path
-- records each event id it applied, in the same transaction as the effect: a retried or concurrent
-- duplicate finds the id taken (the primary key serializes them) and changes nothing.
--
-- A platform table, not a tenant table: an event is recorded before anything tenant-shaped is
-- decided, only the Stripe path (palisade_billing) reads or writes it, and no tenant ever sees it.
-- Hence its own schema, palisade_platform: every table of schema palisade is a tenant table (the
-- DDL guard, the audit and tests/api/catalog.rs rely on that), and this one is not. Privileges
-- and the reasons for them: policies/450_stripe_events.sql.
--
-- organization_id says which organization the event was applied to (NULL once that organization
-- is deleted: the id is kept, so a late retry of the event is still recognised as a duplicate).
-- Only applied events are recorded: an event for an unknown customer, or of a type Palisade does
-- not handle, leaves no row.
CREATE SCHEMA palisade_platform;
REVOKE ALL ON SCHEMA palisade_platform FROM PUBLIC;

CREATE TABLE palisade_platform.stripe_events (
    event_id text PRIMARY KEY CHECK (event_id ~ '^evt_[A-Za-z0-9_]+$' AND char_length(event_id) <= 255),
    event_type text NOT NULL CHECK (event_type ~ '^[a-z0-9_.-]{1,100}$'),
    event_created timestamptz NOT NULL,
    organization_id uuid REFERENCES palisade.organizations (id) ON DELETE SET NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
-- Serves ON DELETE SET NULL when an organization is deleted (and a DBA's "events of this org").
CREATE INDEX stripe_events_organization_idx ON palisade_platform.stripe_events (organization_id)
    WHERE organization_id IS NOT NULL;
-- Row-level security with no policy at all: a default-deny backstop. palisade_billing bypasses
-- it (BYPASSRLS) and is the only role with privileges; any role granted privileges here by
-- mistake, the owner included (FORCE), still sees and writes nothing.
ALTER TABLE palisade_platform.stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade_platform.stripe_events FORCE ROW LEVEL SECURITY;
