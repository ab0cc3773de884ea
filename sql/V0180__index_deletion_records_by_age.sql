-- Why: deletion records are kept for a window (PALISADE_RETAIN_DELETION_RECORDS_DAYS, 90 days
-- or more), then retention deletes them (policies/029_retention.sql), and the server refuses a
-- sync token whose sync began more than 89 days ago (docs/api.md "Incremental sync").
-- Retention picks its batches by age: this index serves it, as V0155's serve the other records.
-- A plain CREATE INDEX blocks the deletions of synced rows while it builds; where deletion
-- records are many, build it first with CREATE INDEX CONCURRENTLY IF NOT EXISTS and the same
-- definition (the changelog's Operators section says so).
CREATE INDEX IF NOT EXISTS deleted_rows_deleted_at_idx ON palisade.deleted_rows (deleted_at);
