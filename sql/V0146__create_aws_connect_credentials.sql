-- Why: the credentials an organization's EventBridge connection sends (header
-- X-Palisade-Connect-Key) with each Amazon Connect contact event. Like API keys (V0032): only the
-- SHA-256 of a credential is stored, the credential itself is shown once; the hash is an
-- allow-listed global key, because an event names its credential before its organization is
-- known (justified in policies/260_aws_connect_credentials.sql). Rotation is "create another,
-- switch the connection to it, revoke the old one": credentials are revoked (revoked_at), never
-- deleted, and a revoked one stays revoked (the trigger below, as V0084 does for API keys).
-- created_by is the user who created it (not a foreign key: the record outlives the member).
CREATE TABLE palisade.aws_connect_credentials (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    label text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 200),
    prefix text NOT NULL CHECK (prefix ~ '^pcc_[A-Za-z0-9_-]{8}$'),
    key_hash bytea NOT NULL CHECK (octet_length(key_hash) = 32),
    created_by uuid NOT NULL,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT aws_connect_credentials_key_hash_key UNIQUE (key_hash)
);
-- Newest-first keyset pagination of GET /v1/call-center/aws-connect/credentials.
CREATE INDEX aws_connect_credentials_org_created_idx
    ON palisade.aws_connect_credentials (organization_id, created_at, id);
ALTER TABLE palisade.aws_connect_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.aws_connect_credentials FORCE ROW LEVEL SECURITY;

CREATE FUNCTION palisade_private.aws_connect_credential_stays_revoked() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = ''
    AS $fn$
    BEGIN
        IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
            RAISE EXCEPTION 'a revoked Amazon Connect credential stays revoked'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'aws_connect_credentials_stay_revoked',
                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
        END IF;
        RETURN NEW;
    END
    $fn$;
REVOKE ALL ON FUNCTION palisade_private.aws_connect_credential_stays_revoked() FROM PUBLIC;

CREATE TRIGGER aws_connect_credentials_stay_revoked
    BEFORE UPDATE OF revoked_at ON palisade.aws_connect_credentials
    FOR EACH ROW EXECUTE FUNCTION palisade_private.aws_connect_credential_stays_revoked();
