-- Why: an organization's connections to outside services (CRM, helpdesk, chat, automation).
-- `config` holds non-secret settings and is returned by the API; `secrets` holds credentials and
-- is write-only: palisade_app may write it but has no SELECT on it (policies/400_integrations.sql),
-- so no response, log line or export can contain it. `secret_keys` names the secrets that are set
-- (written with them), which is all a client is ever shown of them.
CREATE TABLE palisade.integrations (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    provider text NOT NULL CHECK (provider IN ('salesforce', 'hubspot', 'zendesk', 'slack', 'zapier')),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    config jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(config) = 'object' AND octet_length(config::text) <= 16384),
    secrets jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(secrets) = 'object' AND octet_length(secrets::text) <= 65536),
    secret_keys text[] NOT NULL DEFAULT '{}' CHECK (cardinality(secret_keys) <= 20),
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT integrations_name_key UNIQUE (organization_id, name)
);
-- Serves the newest-first keyset pagination of GET /v1/integrations.
CREATE INDEX integrations_org_created_idx ON palisade.integrations (organization_id, created_at, id);
ALTER TABLE palisade.integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.integrations FORCE ROW LEVEL SECURITY;
