/**
 * palisade_platform.mailgun_tokens: the Mailgun signature tokens accepted in the last ten minutes,
 * each with the SHA-256 of the body it came with (sql/V0061__create_mailgun_tokens.sql).
 * Mailgun signs `timestamp + token` only, not the event beside them, so a captured signature
 * could carry other event data while its timestamp is fresh; the Mailgun webhook accepts a token
 * with one body only (palisade_db::webhooks::admit_mailgun_token), and this table is how every
 * server instance knows which tokens any of them accepted.
 *
 * Why the app role may touch this one platform table: the Mailgun webhook runs as palisade_app
 * (like every carrier and email webhook), and checks the token before the organization is known,
 * in one autocommit statement outside any tenant transaction. Why that is safe: the table holds
 * no tenant data, no organization id, no address, no event: random tokens Mailgun generated,
 * digests of bodies, and times. Reading it tells nobody anything about any organization; the
 * tokens are worthless without the signature that came with them, which is not stored.
 *
 * Who may do what:
 *   palisade_app      USAGE on the schema (granted here, nothing else on it); on this table
 *                     SELECT (compare a token's digest), INSERT (record a new token; its
 *                     accepted_at is the database's clock) and DELETE of tokens older than ten
 *                     minutes (twice the 300 s signature tolerance), which can no longer match a
 *                     request that verifies: the policy is the floor, so no request can forget
 *                     a token that could still be replayed. No UPDATE: a token's body never
 *                     changes (no grant and no policy).
 *   palisade_billing  nothing (the Stripe path never sees Mailgun).
 *   PUBLIC            nothing.
 *
 * Row-level security is enabled and forced; the policies below let palisade_app through (rows
 * here belong to no organization, so they do not compare one). Any other role given a privilege
 * by mistake, the owner included, still sees and writes nothing.
 */
REVOKE ALL ON SCHEMA palisade_platform FROM palisade_app;
GRANT USAGE ON SCHEMA palisade_platform TO palisade_app;

ALTER TABLE palisade_platform.mailgun_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade_platform.mailgun_tokens FORCE ROW LEVEL SECURITY;

REVOKE ALL ON palisade_platform.mailgun_tokens FROM PUBLIC, palisade_app, palisade_billing, palisade_resolver;
GRANT SELECT (token, accepted_at), DELETE ON palisade_platform.mailgun_tokens TO palisade_resolver;
GRANT SELECT, INSERT, DELETE ON palisade_platform.mailgun_tokens TO palisade_app;

/** The Mailgun webhook reads the digest a token was first accepted with. */
DROP POLICY IF EXISTS mailgun_tokens_select ON palisade_platform.mailgun_tokens;
CREATE POLICY mailgun_tokens_select ON palisade_platform.mailgun_tokens FOR SELECT TO palisade_app
    USING (true);

/** The Mailgun webhook records each token it accepts for the first time. */
DROP POLICY IF EXISTS mailgun_tokens_insert ON palisade_platform.mailgun_tokens;
CREATE POLICY mailgun_tokens_insert ON palisade_platform.mailgun_tokens FOR INSERT TO palisade_app
    WITH CHECK (true);

/**
 * The Mailgun webhook forgets tokens once they can no longer verify: only those accepted more
 * than ten minutes ago (by the database's clock). A fresher token is never deleted, whatever the
 * statement asks.
 */
DROP POLICY IF EXISTS mailgun_tokens_delete ON palisade_platform.mailgun_tokens;
CREATE POLICY mailgun_tokens_delete ON palisade_platform.mailgun_tokens FOR DELETE TO palisade_app
    USING (accepted_at < now() - interval '600 seconds');

/**
 * Retention (029_retention.sql): the resolver reads and deletes tokens past their window, only
 * inside palisade_private.purge_expired_records, which `palisade retention` and the server's
 * scheduled run call as palisade_owner.
 */
DROP POLICY IF EXISTS mailgun_tokens_select_resolver ON palisade_platform.mailgun_tokens;
CREATE POLICY mailgun_tokens_select_resolver ON palisade_platform.mailgun_tokens FOR SELECT TO palisade_resolver
    USING (current_user = 'palisade_resolver');
DROP POLICY IF EXISTS mailgun_tokens_delete_resolver ON palisade_platform.mailgun_tokens;
CREATE POLICY mailgun_tokens_delete_resolver ON palisade_platform.mailgun_tokens FOR DELETE TO palisade_resolver
    USING (current_user = 'palisade_resolver');
