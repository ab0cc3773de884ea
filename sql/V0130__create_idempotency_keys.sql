-- Why: Idempotency-Key on tenant POSTs (docs/api.md, "Retrying a POST"). A client that did not
-- get an answer sends its request again with the same key; the first request's response is
-- replayed instead of acting twice. Each row is written in the same transaction as the
-- request's effect: the key is claimed by that transaction's first statement (INSERT ... ON
-- CONFLICT, so a concurrent duplicate waits on the primary key until the first one commits or
-- rolls back) and the response is stored just before COMMIT. A request that fails rolls back
-- and leaves no row. The key is unique per organization, never globally (RLS pitfall 2):
-- another organization's identical key is another row, and the conflict never reaches across.
-- Rows older than 24 hours are ignored (and taken over by a new request with the same key);
-- deleting them is the retention command's job (issue 12).
CREATE TABLE palisade.idempotency_keys (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    -- The client's Idempotency-Key: 1 to 255 printable ASCII characters.
    key text NOT NULL CHECK (key ~ '^[\x20-\x7e]{1,255}$'),
    -- SHA-256 of what the key was first used for: method, path, user and body.
    request_hash bytea NOT NULL CHECK (octet_length(request_hash) = 32),
    -- The first response (set just before COMMIT; only successful responses are ever stored).
    response_status smallint CHECK (response_status BETWEEN 200 AND 299),
    response_body text,
    response_location text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, key)
);
ALTER TABLE palisade.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.idempotency_keys FORCE ROW LEVEL SECURITY;
