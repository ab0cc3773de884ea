-- Why: DBAs audit tenancy from psql. The audit views (policies/900_audit.sql) live in their own
-- schema, readable by DBAs and by the optional read-only palisade_auditor role. The allow-list of
-- deliberate exceptions to the tenancy rules is a table there (rows in
-- policies/910_audit_allow_list.sql): the one source of truth that the audit views, the `palisade
-- audit` command and the catalog test all read.
CREATE SCHEMA palisade_audit;
REVOKE ALL ON SCHEMA palisade_audit FROM PUBLIC;

CREATE TABLE palisade_audit.allow_list (
    kind text NOT NULL CHECK (kind IN ('global_unique_key', 'bypassrls_role')),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 63),
    reason text NOT NULL CHECK (char_length(reason) > 0),
    PRIMARY KEY (kind, name)
);
