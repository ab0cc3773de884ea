-- Why: the audit reports login roles that are members of palisade_app (each can act as the app
-- and pick any organization with set_config). The documented ones, the two login roles that take
-- turns for password rotation, are deliberate exceptions, listed where the other exceptions are:
-- palisade_audit.allow_list, kind app_login_role (rows in policies/910_audit_allow_list.sql).
ALTER TABLE palisade_audit.allow_list DROP CONSTRAINT allow_list_kind_check;
ALTER TABLE palisade_audit.allow_list ADD CONSTRAINT allow_list_kind_check
    CHECK (kind IN ('global_unique_key', 'bypassrls_role', 'app_login_role'));
