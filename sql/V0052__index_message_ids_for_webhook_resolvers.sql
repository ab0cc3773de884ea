-- Why: the webhook resolvers (policies/021_webhook_resolvers.sql) find a message or call by our
-- own id, carried in the signed callback URL or custom argument, before the organization is
-- known. The primary keys lead with organization_id, so they cannot serve a lookup by id alone.
-- Not unique: ids are unique per organization (the primary key); the resolvers answer only
-- when exactly one row matches.
CREATE INDEX sms_messages_id_idx ON palisade.sms_messages (id);
CREATE INDEX calls_id_idx ON palisade.calls (id);
CREATE INDEX email_messages_id_idx ON palisade.email_messages (id);
