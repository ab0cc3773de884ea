/**
 * What the backup role palisade_backup (000_roles.sql; docs/dba.md "Backups") may read: every
 * table, view and sequence of Palisade's schemas, so that
 *
 *     pg_dump --username=palisade_backup --schema='palisade*' --exclude-schema=palisade_guard ...
 *
 * writes a complete logical backup without a superuser (BYPASSRLS lets it read past the forced
 * row-level security). SELECT and USAGE only: no INSERT, UPDATE, DELETE, TRUNCATE, no EXECUTE,
 * no CREATE. Secret columns are included on purpose: a restore that lost the password hashes,
 * key hashes and signing secrets would lock every organization out. So a dump file is as
 * sensitive as the database itself.
 *
 * Applied by palisade_owner after every other file (the views of 900_audit.sql are re-created
 * on each run, and a tenant table added by a later migration is covered by the next run). The
 * schema palisade_guard is the superuser's (001_ddl_guard.sql) and not part of a dump:
 * `palisade bootstrap` re-installs it. `palisade audit` reports the role if it ever holds more.
 */
DO $grants$
BEGIN
    -- The role comes from 000_roles.sql (`palisade bootstrap`, `palisade install-definers`). On
    -- a server upgraded by `migrate` before those ran again it does not exist yet: these grants
    -- then wait for the next run after them (the server starts; the audit shows no backup role).
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'palisade_backup') THEN
        GRANT USAGE ON SCHEMA palisade, palisade_private, palisade_platform, palisade_audit,
            palisade_migrations TO palisade_backup;
        GRANT SELECT ON ALL TABLES IN SCHEMA palisade, palisade_private, palisade_platform,
            palisade_audit, palisade_migrations TO palisade_backup;
        GRANT SELECT ON ALL SEQUENCES IN SCHEMA palisade, palisade_private, palisade_platform,
            palisade_audit, palisade_migrations TO palisade_backup;
    END IF;
END
$grants$;
