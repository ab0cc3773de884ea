-- Why: `palisade analyst grant` makes a read-only role that sees one organization's rows. The
-- record of each (its role and its organization) is what policies/930_analysts.sql re-creates the
-- role's pinned policies and column grants from on every apply (tenant tables added later
-- included), and what the audit reads to call those policies safe rather than unscoped.
CREATE TABLE palisade_audit.analysts (
    role_name text PRIMARY KEY CHECK (role_name ~ '^[a-z_][a-z0-9_]{0,39}$'),
    organization_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
