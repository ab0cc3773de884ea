-- Why: a column that palisade_app may SELECT ends up in the catalog-driven export, in any
-- `RETURNING *`, and in reach of any query a handler builds, so "write-only" is only true when
-- the app role has no SELECT privilege on the column. Every column the app role can reach is
-- therefore classified once, readable or secret (with the reason), in this table; the rows are
-- written by policies/920_column_classification.sql, and the audit view palisade_audit.columns
-- (policies/900_audit.sql), `palisade audit` and tests/api/column_secrecy.rs check the live
-- privileges against it. Schema palisade_audit: DBAs and palisade_auditor read it from psql.
CREATE TABLE palisade_audit.column_classification (
    schema_name text NOT NULL CHECK (char_length(schema_name) BETWEEN 1 AND 63),
    table_name text NOT NULL CHECK (char_length(table_name) BETWEEN 1 AND 63),
    column_name text NOT NULL CHECK (char_length(column_name) BETWEEN 1 AND 63),
    classification text NOT NULL CHECK (classification IN ('readable', 'secret')),
    reason text CHECK (char_length(reason) > 0),
    PRIMARY KEY (schema_name, table_name, column_name),
    -- A secret says what it protects; a readable column may say why it is safe to read.
    CONSTRAINT column_classification_secret_reason_check
        CHECK (classification = 'readable' OR reason IS NOT NULL)
);
