-- Why: incremental sync (GET /v1/<collection>/changes; docs/api.md "Incremental sync") for the
-- families a client keeps a copy of besides those of V0177 to V0179: the campaigns of every
-- channel (their status and counters change as they send), email messages (an SMS message's
-- feed came with V0178), social posts and IVR menus. Each table gets what V0178 gave its tables:
-- the change stamp (change_xid, added with a constant default, a catalog change only: existing
-- rows read 0, "before any sync"; then defaulting to the writing transaction, and stamped on
-- every insert and update by palisade_private.stamp_change_xid()), the feed's index, and the
-- deletion records' statement trigger (palisade_private.record_deletions, V0178), which records
-- cascaded deletions too: a campaign's recipients, a disconnected social account's posts.
--
-- The indexes are plain CREATE INDEX: each blocks writes to its table while it builds. On a
-- database with many email messages, build them first with CREATE INDEX CONCURRENTLY IF NOT
-- EXISTS and the same definitions (the changelog's Operators section says so).

ALTER TABLE palisade.email_campaigns ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.email_campaigns ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();
ALTER TABLE palisade.email_messages ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.email_messages ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();
ALTER TABLE palisade.sms_campaigns ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.sms_campaigns ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();
ALTER TABLE palisade.voice_campaigns ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.voice_campaigns ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();
ALTER TABLE palisade.social_posts ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.social_posts ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();
ALTER TABLE palisade.ivr_menus ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE palisade.ivr_menus ALTER COLUMN change_xid SET DEFAULT pg_catalog.pg_current_xact_id();

CREATE TRIGGER email_campaigns_change_xid
    BEFORE INSERT OR UPDATE ON palisade.email_campaigns
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();
CREATE TRIGGER email_messages_change_xid
    BEFORE INSERT OR UPDATE ON palisade.email_messages
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();
CREATE TRIGGER sms_campaigns_change_xid
    BEFORE INSERT OR UPDATE ON palisade.sms_campaigns
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();
CREATE TRIGGER voice_campaigns_change_xid
    BEFORE INSERT OR UPDATE ON palisade.voice_campaigns
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();
CREATE TRIGGER social_posts_change_xid
    BEFORE INSERT OR UPDATE ON palisade.social_posts
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();
CREATE TRIGGER ivr_menus_change_xid
    BEFORE INSERT OR UPDATE ON palisade.ivr_menus
    FOR EACH ROW EXECUTE FUNCTION palisade_private.stamp_change_xid();

CREATE INDEX IF NOT EXISTS email_campaigns_org_change_idx
    ON palisade.email_campaigns (organization_id, change_xid, id);
CREATE INDEX IF NOT EXISTS email_messages_org_change_idx
    ON palisade.email_messages (organization_id, change_xid, id);
CREATE INDEX IF NOT EXISTS sms_campaigns_org_change_idx
    ON palisade.sms_campaigns (organization_id, change_xid, id);
CREATE INDEX IF NOT EXISTS voice_campaigns_org_change_idx
    ON palisade.voice_campaigns (organization_id, change_xid, id);
CREATE INDEX IF NOT EXISTS social_posts_org_change_idx
    ON palisade.social_posts (organization_id, change_xid, id);
CREATE INDEX IF NOT EXISTS ivr_menus_org_change_idx
    ON palisade.ivr_menus (organization_id, change_xid, id);

ALTER TABLE palisade.deleted_rows DROP CONSTRAINT deleted_rows_resource_check;
ALTER TABLE palisade.deleted_rows ADD CONSTRAINT deleted_rows_resource_check
    CHECK (resource IN ('customers', 'kb_articles', 'chat_conversations', 'chat_messages', 'calls',
                        'sms_messages', 'email_campaigns', 'email_messages', 'sms_campaigns',
                        'voice_campaigns', 'social_posts', 'ivr_menus'));

CREATE TRIGGER email_campaigns_deleted
    AFTER DELETE ON palisade.email_campaigns REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
CREATE TRIGGER email_messages_deleted
    AFTER DELETE ON palisade.email_messages REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
CREATE TRIGGER sms_campaigns_deleted
    AFTER DELETE ON palisade.sms_campaigns REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
CREATE TRIGGER voice_campaigns_deleted
    AFTER DELETE ON palisade.voice_campaigns REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
CREATE TRIGGER social_posts_deleted
    AFTER DELETE ON palisade.social_posts REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
CREATE TRIGGER ivr_menus_deleted
    AFTER DELETE ON palisade.ivr_menus REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION palisade_private.record_deletions();
