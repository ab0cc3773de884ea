-- Why: Mailgun signs only `timestamp + token`, not the event beside them in the body, so whoever
-- captures one signed request could, while its timestamp is fresh (300 s), send the same
-- signature with other event data. The Mailgun webhook therefore records each token it accepts
-- with the SHA-256 of the body it came with, and accepts that token again only with the same
-- body (a retry). Kept in the database so that every server instance, and a restarted one, sees
-- the tokens any instance accepted.
--
-- A platform table, not a tenant table: it holds Mailgun's random tokens and body digests, no
-- organization, and is written before anything tenant-shaped is decided. Hence schema
-- palisade_platform (every table of schema palisade is a tenant table). Privileges and the
-- reasons for them: policies/460_mailgun_tokens.sql.
--
-- A token can verify only while its timestamp is within 300 s of the clock, so a row older than
-- 600 s can never match a request that verifies: the webhook deletes such rows as it goes
-- (palisade_db::webhooks::admit_mailgun_token), through the index below.
CREATE TABLE palisade_platform.mailgun_tokens (
    token text PRIMARY KEY CHECK (char_length(token) BETWEEN 1 AND 512),
    body_sha256 bytea NOT NULL CHECK (octet_length(body_sha256) = 32),
    accepted_at timestamptz NOT NULL DEFAULT now()
);
-- Serves the sweep of expired tokens (oldest first).
CREATE INDEX mailgun_tokens_accepted_at_idx ON palisade_platform.mailgun_tokens (accepted_at);
-- Row-level security, enabled and forced here; the policies that let palisade_app through are in
-- policies/460_mailgun_tokens.sql. Any other role granted privileges by mistake, the owner
-- included (FORCE), sees and writes nothing.
ALTER TABLE palisade_platform.mailgun_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade_platform.mailgun_tokens FORCE ROW LEVEL SECURITY;
