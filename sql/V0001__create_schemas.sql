-- Why: tenant tables live in their own schema (palisade) so that the audit and the schema-rule
-- tests can say "every table in this schema is a tenant table"; helper and resolver functions
-- live in palisade_private, which no client role may create objects in.
CREATE SCHEMA palisade;
CREATE SCHEMA palisade_private;
REVOKE ALL ON SCHEMA palisade FROM PUBLIC;
REVOKE ALL ON SCHEMA palisade_private FROM PUBLIC;
