-- Why: clients get one enum spelling, snake_case with one word for cancelled, and the stored
-- values are the ones they see. Calls stored Twilio's `in-progress`, `no-answer` and `canceled`:
-- they become `in_progress`, `no_answer` and `cancelled`. Subscriptions (and an organization's
-- plan_status, which copies its subscription's) stored Stripe's `canceled`: it becomes
-- `cancelled`. The providers' spellings are mapped where their payloads are read
-- (crates/palisade_api/src/webhooks/twilio_status.rs, crates/palisade_domain/src/stripe.rs).
--
-- Per column: the old CHECK goes, the stored values are rewritten, the CHECK comes back with the
-- new spellings (same name), all in this migration's transaction, so no committed row is ever
-- outside its CHECK. updated_at is left alone: each row says what it said, spelled anew.
--
-- FORCE ROW LEVEL SECURITY binds the owner too, and a migration has no tenant: the FORCE of the
-- three tables is lifted for the rewrite and put back in the same transaction (as V0083 does;
-- the DDL guard lets a migration pass, with a warning in the log).
ALTER TABLE palisade.calls NO FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.subscriptions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.organizations NO FORCE ROW LEVEL SECURITY;

ALTER TABLE palisade.calls DROP CONSTRAINT calls_status_check;
UPDATE palisade.calls
   SET status = CASE status WHEN 'in-progress' THEN 'in_progress'
                            WHEN 'no-answer' THEN 'no_answer'
                            WHEN 'canceled' THEN 'cancelled' END
 WHERE status IN ('in-progress', 'no-answer', 'canceled');
ALTER TABLE palisade.calls ADD CONSTRAINT calls_status_check
    CHECK (status IN ('queued', 'ringing', 'in_progress', 'completed', 'busy', 'no_answer', 'failed', 'cancelled'));

ALTER TABLE palisade.subscriptions DROP CONSTRAINT subscriptions_status_check;
UPDATE palisade.subscriptions SET status = 'cancelled' WHERE status = 'canceled';
ALTER TABLE palisade.subscriptions ADD CONSTRAINT subscriptions_status_check
    CHECK (status IN ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'cancelled',
                      'unpaid', 'paused'));

ALTER TABLE palisade.organizations DROP CONSTRAINT organizations_plan_status_check;
UPDATE palisade.organizations SET plan_status = 'cancelled' WHERE plan_status = 'canceled';
ALTER TABLE palisade.organizations ADD CONSTRAINT organizations_plan_status_check
    CHECK (plan_status IN ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'cancelled',
                           'unpaid', 'paused'));

ALTER TABLE palisade.calls FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.subscriptions FORCE ROW LEVEL SECURITY;
ALTER TABLE palisade.organizations FORCE ROW LEVEL SECURITY;
