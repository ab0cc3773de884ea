-- Why: the Amazon Connect instances an organization registers, so that the contact events
-- EventBridge delivers for an instance (POST /webhooks/aws-connect/events) are applied to this
-- organization only when it registered that instance's ARN. The ARN is unique per organization,
-- never platform-wide (RLS pitfall 2): two organizations may both register one ARN, and neither
-- learns of the other from a uniqueness error; the credential an event arrives with says whose
-- it is (sql/V0146). region is the ARN's own (the API checks they agree; so does the CHECK).
CREATE TABLE palisade.aws_connect_instances (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    instance_arn text NOT NULL
        CHECK (instance_arn ~ '^arn:aws(-[a-z]+)*:connect:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:instance/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    region text NOT NULL CHECK (region ~ '^[a-z]{2}(-[a-z]+)+-[0-9]$'),
    label text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT aws_connect_instances_region_matches_arn_check
        CHECK (split_part(instance_arn, ':', 4) = region),
    CONSTRAINT aws_connect_instances_instance_arn_key UNIQUE (organization_id, instance_arn)
);
-- Newest-first keyset pagination of GET /v1/call-center/aws-connect/instances.
CREATE INDEX aws_connect_instances_org_created_idx
    ON palisade.aws_connect_instances (organization_id, created_at, id);
ALTER TABLE palisade.aws_connect_instances ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.aws_connect_instances FORCE ROW LEVEL SECURITY;
