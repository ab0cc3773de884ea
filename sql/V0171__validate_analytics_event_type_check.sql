-- Why: V0170 added analytics_events_event_type_check NOT VALID. Validating it here scans the
-- table under SHARE UPDATE EXCLUSIVE: events go on being written and read meanwhile, however
-- long the scan of a large table takes (about 0.5 µs a row for the expression, plus the reads).
-- The rows passed V0026's CHECK, which accepts the same types.
ALTER TABLE palisade.analytics_events VALIDATE CONSTRAINT analytics_events_event_type_check;
