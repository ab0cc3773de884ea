/**
 * No temporary objects in the Palisade database for roles that are not given them: REVOKE
 * TEMPORARY ... FROM PUBLIC (PostgreSQL grants it to PUBLIC by default). And no objects in schema
 * public either: REVOKE CREATE ON SCHEMA public FROM PUBLIC. PostgreSQL 15 no longer grants that
 * in a new cluster, but a database upgraded from an older version (pg_upgrade, or a dump
 * restored with its ACLs) keeps the old grant, and with it palisade_app could create a table in
 * public and hang a trigger of its own on it.
 *
 * Why: palisade_app owns nothing and cannot create a table, a function or a trigger anywhere in
 * Palisade's schemas, but with TEMPORARY it could create a temporary table with a trigger whose
 * function (in pg_temp) writes a tenant table. A policy that trusts "this row is written by one of
 * our triggers" (policies/300_chat.sql: only the chatbot's trigger writes sender 'bot') would then
 * trust it. The server refuses to start when its app role may create temporary objects, may
 * create anything in any schema, or owns anything (schema::check_app_role).
 *
 * Applied by a superuser connected to the Palisade database, like 001_ddl_guard.sql (`palisade
 * bootstrap`, `palisade install-definers`); safe to re-run. The database's owner keeps the right
 * (an owner's privileges are implicit). A database copied with CREATE DATABASE ... TEMPLATE does
 * not inherit it: privileges on a database are not copied.
 */
DO $do$
BEGIN
    EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC',
                              pg_catalog.current_database());
    IF EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'public') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
END
$do$;
