-- Why: GET /v1/analytics/events?event_type=... pages newest first; with only
-- analytics_events_org_created_idx, a rare type made each page walk the organization's events
-- back in time until it had found a page of that type (a whole history for a type with fewer rows
-- than a page). This index serves the filter and the page's order together. No route updates an
-- event (policies/350_analytics_events.sql): what it costs is one more entry per insert.
--
-- On a database whose analytics_events is already large, build it first without blocking writes
-- (outside a transaction), then upgrade: this statement then finds it and does nothing.
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS analytics_events_org_type_created_idx
--       ON palisade.analytics_events (organization_id, event_type, created_at, id);
-- (docs/adding-a-resource.md: an INVALID index a failed build left must be dropped first.)
CREATE INDEX IF NOT EXISTS analytics_events_org_type_created_idx
    ON palisade.analytics_events (organization_id, event_type, created_at, id);
