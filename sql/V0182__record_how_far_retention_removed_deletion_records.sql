-- Why: a sync token's feed must find every deletion record after the token's position
-- (docs/api.md "Incremental sync"). Retention removes records older than their window
-- (policies/029_retention.sql), and the server refuses a token whose sync began more than 89 days
-- ago, by its own clock. That age alone leaves two gaps: a deleting transaction that stays open
-- for more than the day's margin (its record is dated by its start, so it is removed a day early
-- for a sync that began while it ran), and a server clock a day behind the database's. Neither is
-- seen by the clocks; both are by the transaction ids. So retention now records, per
-- organization, the newest transaction id among the records it removed, and a feed refuses (410)
-- a token whose position is at or before it: the records after the position may be gone.
--
-- One row per organization that has lost a record to retention; written only by retention (as
-- palisade_resolver, inside purge_expired_records), read by the feeds as the app role under
-- its organization's policies (policies/126_pruned_deletion_records.sql), gone with the
-- organization. pruned_xid is a transaction id, like the records' change_xid: never sent to a
-- client.
CREATE TABLE palisade.pruned_deletion_records (
    organization_id uuid PRIMARY KEY REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    -- The newest (highest) change_xid of the organization's deletion records retention removed.
    pruned_xid xid8 NOT NULL,
    -- When retention last removed a record of the organization.
    pruned_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
