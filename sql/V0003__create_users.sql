-- Why: people who log in. A user belongs to exactly one organization. The login email is one of
-- the documented platform-wide unique keys (see policies/110_users.sql for the justification).
CREATE TABLE palisade.users (
    organization_id uuid NOT NULL REFERENCES palisade.organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    email text NOT NULL CHECK (email = lower(email) AND char_length(email) BETWEEN 3 AND 254),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT users_email_key UNIQUE (email)
);
ALTER TABLE palisade.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE palisade.users FORCE ROW LEVEL SECURITY;
