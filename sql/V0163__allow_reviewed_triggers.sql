-- Why: the audit reads a trigger function's PL/pgSQL source for an assignment of the tenant column
-- (trigger_assigns_tenant_column) and cannot read one in another language
-- (trigger_source_unread). A trigger a DBA has read and accepts (e.g. one that copies
-- organization_id from its parent row, which row-level security keeps in the same organization,
-- or contrib's moddatetime) is a deliberate exception, listed where the other exceptions are:
-- palisade_audit.allow_list, kind reviewed_trigger, named schema.table.trigger (rows in
-- policies/910_audit_allow_list.sql; none by default).
ALTER TABLE palisade_audit.allow_list DROP CONSTRAINT allow_list_kind_check;
ALTER TABLE palisade_audit.allow_list ADD CONSTRAINT allow_list_kind_check
    CHECK (kind IN ('global_unique_key', 'bypassrls_role', 'app_login_role', 'administrator_role',
                    'reviewed_trigger'));
