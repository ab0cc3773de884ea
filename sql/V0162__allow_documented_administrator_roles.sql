-- Why: the audit reports a role with CREATEROLE (createrole_role) in every database of the
-- cluster, and a member of a superuser (member_of_bypass_role) too. A DBA's own administrator (a
-- personal login granted a superuser, or a managed service's admin login, which has CREATEROLE)
-- is a deliberate exception, listed where the other exceptions are: palisade_audit.allow_list,
-- kind administrator_role (rows in policies/910_audit_allow_list.sql; none by default).
ALTER TABLE palisade_audit.allow_list DROP CONSTRAINT allow_list_kind_check;
ALTER TABLE palisade_audit.allow_list ADD CONSTRAINT allow_list_kind_check
    CHECK (kind IN ('global_unique_key', 'bypassrls_role', 'app_login_role', 'administrator_role'));
