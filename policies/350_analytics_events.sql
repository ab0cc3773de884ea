/**
 * palisade.analytics_events: events an organization ingests, optionally about one of its
 * customers (composite foreign key: never another organization's customer).
 *
 * Who may do what: every role of the organization ingests and reads its own events. The API
 * never edits or deletes an event (the UPDATE and DELETE policies are still scoped to the
 * organization, so no path could reach another tenant's rows); events go when their
 * organization goes, and a deleted customer only clears customer_id.
 */
ALTER TABLE palisade.analytics_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.analytics_events FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.analytics_events
    ALTER COLUMN organization_id SET DEFAULT palisade_private.current_org_id();

REVOKE ALL ON palisade.analytics_events FROM palisade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON palisade.analytics_events TO palisade_app;

/** Every role of an organization reads its events. */
DROP POLICY IF EXISTS analytics_events_select ON palisade.analytics_events;
CREATE POLICY analytics_events_select ON palisade.analytics_events FOR SELECT TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role adds events to its own organization only. */
DROP POLICY IF EXISTS analytics_events_insert ON palisade.analytics_events;
CREATE POLICY analytics_events_insert ON palisade.analytics_events FOR INSERT TO palisade_app
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role edits its own organization's events and cannot hand them to another. */
DROP POLICY IF EXISTS analytics_events_update ON palisade.analytics_events;
CREATE POLICY analytics_events_update ON palisade.analytics_events FOR UPDATE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()))
    WITH CHECK (organization_id = (SELECT palisade_private.current_org_id()));

/** Every role deletes its own organization's events. */
DROP POLICY IF EXISTS analytics_events_delete ON palisade.analytics_events;
CREATE POLICY analytics_events_delete ON palisade.analytics_events FOR DELETE TO palisade_app
    USING (organization_id = (SELECT palisade_private.current_org_id()));
