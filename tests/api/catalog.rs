//! Schema rules, read from pg_catalog (crates.io's `schema_details.rs` pattern): a table added
//! to the tenant schema without them fails here, naming the table, without anyone writing a
//! new test.

use palisade_test_support::TestDb;

/// Unique keys that do not include `organization_id`, each a deliberate, documented exception
/// (the justification is in policies/910_audit_allow_list.sql and the table's own file). Anything
/// else is a violation: a global unique key tells one tenant that another already holds a value.
/// One source of truth: the table `palisade_audit.allow_list`, which the audit views read too.
async fn global_unique_allow_list(c: &tokio_postgres::Client) -> Vec<String> {
    palisade_test_support::sql::column(
        c,
        "SELECT name FROM palisade_audit.allow_list WHERE kind = 'global_unique_key' ORDER BY name",
    )
    .await
}

/// The root table: its own `id` is the organization id.
const ROOT: &str = "organizations";

async fn violations(db: &TestDb) -> Vec<String> {
    let c = db.superuser_client().await;
    let rows = c
        .query(
            "WITH t AS (
                SELECT c.oid, c.relname::text AS name, c.relrowsecurity, c.relforcerowsecurity,
                       CASE WHEN c.relname = 'organizations' THEN 'id' ELSE 'organization_id' END AS tenant_col
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'palisade' AND c.relkind IN ('r', 'p')
            )
            SELECT t.name,
                   -- the tenant column: uuid NOT NULL
                   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = t.tenant_col
                             AND a.atttypid = 'uuid'::regtype AND a.attnotnull AND NOT a.attisdropped) AS has_tenant_col,
                   t.relrowsecurity, t.relforcerowsecurity,
                   -- commands with a policy for palisade_app, and whether each has the clauses it needs
                   ARRAY(SELECT DISTINCT p.polcmd::text FROM pg_policy p
                          WHERE p.polrelid = t.oid AND 'palisade_app'::regrole = ANY (p.polroles)
                            AND (p.polcmd IN ('a') OR p.polqual IS NOT NULL)
                            AND (p.polcmd IN ('r', 'd') OR p.polwithcheck IS NOT NULL)) AS commands,
                   -- an index whose leading column is the tenant column
                   EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
                            WHERE i.indrelid = t.oid AND a.attname = t.tenant_col) AS tenant_index,
                   -- foreign keys to tenant tables that do not carry the tenant column
                   ARRAY(SELECT k.conname::text FROM pg_constraint k
                          JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
                          WHERE k.conrelid = t.oid AND k.contype = 'f' AND rn.nspname = 'palisade'
                            AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid
                                              AND a.attnum = ANY (k.conkey) AND a.attname = 'organization_id')
                         ) AS bad_fks,
                   -- unique and exclusion constraints and unique indexes without the tenant
                   -- column among their key columns (an INCLUDE column is not one)
                   ARRAY(SELECT ic.relname::text FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                          WHERE i.indrelid = t.oid AND (i.indisunique OR i.indisexclusion)
                            AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) WITH ORDINALITY AS u(a, o)
                                              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = u.a
                                             WHERE u.o <= i.indnkeyatts AND a.attname = t.tenant_col)) AS global_uniques,
                   -- columns drawing from a sequence (RLS pitfall 13: a sequence shared by every
                   -- tenant tells each how many rows the others make): identity, or a default
                   -- calling nextval (serial's)
                   ARRAY(SELECT a.attname::text FROM pg_attribute a
                          WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
                            AND (a.attidentity <> ''
                                 OR EXISTS (SELECT 1 FROM pg_attrdef d
                                             WHERE d.adrelid = t.oid AND d.adnum = a.attnum
                                               AND pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%'))
                         ) AS sequence_columns,
                   -- triggers whose function may move a row to another organization (RLS pitfall
                   -- 9), and why: it runs as its owner; it is not PL/pgSQL (nor built into
                   -- PostgreSQL, an oid below 16384, writing no uuid column), so its source cannot
                   -- be read (a partition's clone of its parent's is the parent's);
                   -- or its source assigns the tenant column, by the audit's own reading
                   -- (palisade_audit.assigns_tenant_column: a guard against a change, not a proof)
                   ARRAY(SELECT tg.tgname::text || ': ' || CASE
                                    WHEN f.prosecdef THEN 'runs as its owner'
                                    WHEN l.lanname <> 'plpgsql' THEN 'is not PL/pgSQL, its source unread'
                                    ELSE 'assigns the tenant column' END
                          FROM pg_trigger tg JOIN pg_proc f ON f.oid = tg.tgfoid
                          JOIN pg_language l ON l.oid = f.prolang
                          WHERE tg.tgrelid = t.oid AND NOT tg.tgisinternal AND tg.tgparentid = 0
                            AND (f.prosecdef
                                 OR (l.lanname <> 'plpgsql' AND f.oid >= 16384)
                                 OR (l.lanname = 'plpgsql'
                                     AND palisade_audit.assigns_tenant_column(f.prosrc, t.tenant_col)))
                         ) AS tenant_column_triggers,
                   -- foreign keys with no whole (not partial) index whose leading columns are
                   -- exactly theirs, in any order, nor a unique one on some of them only (which
                   -- finds the one row too): deleting or re-keying a parent row then reads the
                   -- whole referencing table, or the whole organization's part of it, in the
                   -- deleting transaction
                   ARRAY(SELECT k.conname::text FROM pg_constraint k
                          WHERE k.conrelid = t.oid AND k.contype = 'f'
                            AND NOT EXISTS (
                                SELECT 1 FROM pg_index i
                                 WHERE i.indrelid = t.oid AND i.indpred IS NULL AND i.indisvalid
                                   AND (SELECT array_agg(u.a ORDER BY u.a)
                                          FROM unnest(i.indkey) WITH ORDINALITY AS u (a, o)
                                         WHERE u.o <= cardinality(k.conkey) AND u.o <= i.indnkeyatts)
                                     = (SELECT array_agg(c.a ORDER BY c.a) FROM unnest(k.conkey) AS c (a)))
                            AND NOT EXISTS (
                                SELECT 1 FROM pg_index i
                                 WHERE i.indrelid = t.oid AND i.indpred IS NULL AND i.indisvalid
                                   AND i.indisunique
                                   AND (SELECT bool_and(u.a = ANY (k.conkey))
                                          FROM unnest(i.indkey) WITH ORDINALITY AS u (a, o)
                                         WHERE u.o <= i.indnkeyatts))
                         ) AS unindexed_fks
              FROM t ORDER BY t.name",
            &[],
        )
        .await
        .unwrap();
    assert!(rows.len() >= 3, "no tenant tables found");
    let allowed = global_unique_allow_list(&c).await;
    let mut out = Vec::new();
    for r in rows {
        let name: String = r.get(0);
        let col = if name == ROOT {
            "id"
        } else {
            "organization_id"
        };
        if !r.get::<_, bool>(1) {
            out.push(format!("{name}: no {col} uuid NOT NULL"));
        }
        if !r.get::<_, bool>(2) {
            out.push(format!("{name}: row-level security not enabled"));
        }
        if !r.get::<_, bool>(3) {
            out.push(format!("{name}: row-level security not forced"));
        }
        let commands: Vec<String> = r.get(4);
        let has = |c: &str| commands.iter().any(|x| x == c || x == "*");
        for (code, label) in [
            ("r", "SELECT"),
            ("a", "INSERT"),
            ("w", "UPDATE"),
            ("d", "DELETE"),
        ] {
            if !has(code) {
                out.push(format!(
                    "{name}: no {label} policy for palisade_app with USING/WITH CHECK"
                ));
            }
        }
        if !r.get::<_, bool>(5) {
            out.push(format!("{name}: no index leading with {col}"));
        }
        for fk in r.get::<_, Vec<String>>(6) {
            out.push(format!(
                "{name}: foreign key {fk} to a tenant table without organization_id"
            ));
        }
        for u in r.get::<_, Vec<String>>(7) {
            if !allowed.contains(&u) {
                out.push(format!("{name}: unique key {u} without {col}"));
            }
        }
        for column in r.get::<_, Vec<String>>(8) {
            out.push(format!("{name}: column {column} draws from a sequence"));
        }
        for trigger in r.get::<_, Vec<String>>(9) {
            out.push(format!("{name}: trigger {trigger}"));
        }
        for fk in r.get::<_, Vec<String>>(10) {
            out.push(format!(
                "{name}: foreign key {fk} has no index leading with its columns"
            ));
        }
    }
    // A sequence in any of Palisade's schemas, whatever uses it.
    let sequences: Vec<String> = palisade_test_support::sql::column(
        &c,
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname LIKE 'palisade%' AND c.relkind = 'S' ORDER BY 1",
    )
    .await;
    for s in sequences {
        out.push(format!("sequence {s} in Palisade's schemas"));
    }
    out
}

#[tokio::test]
async fn every_tenant_table_follows_the_schema_rules() {
    let db = TestDb::new().await;
    let v = violations(&db).await;
    assert!(
        v.is_empty(),
        "schema rule violations:\n  {}",
        v.join("\n  ")
    );
}

#[tokio::test]
async fn the_rules_catch_a_table_that_breaks_them() {
    // The test above is only worth something if it fails on a bad table: add one as a DBA
    // would (superuser, consciously overriding the DDL guard, which would refuse the first
    // table) and expect every rule to be named.
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    su.batch_execute(
        "BEGIN;
         SET LOCAL palisade.ddl_guard_override = 'catalog test: tables that break the rules on purpose';
         CREATE TABLE palisade.sloppy (id uuid PRIMARY KEY, customer_id uuid, email text UNIQUE,
             number serial, counted bigint GENERATED ALWAYS AS IDENTITY);
         CREATE SEQUENCE palisade.sloppy_tickets;
         CREATE TABLE palisade.sloppy_child (organization_id uuid NOT NULL, id uuid,
             customer_id uuid REFERENCES palisade.sloppy (id), PRIMARY KEY (organization_id, id),
             ticket bigint DEFAULT nextval('palisade.sloppy_tickets'),
             other_customer_id uuid, CONSTRAINT sloppy_child_covered_fkey
                 FOREIGN KEY (organization_id, other_customer_id)
                 REFERENCES palisade.customers (organization_id, id));
         -- Uniqueness across tenants in other forms: the tenant column only INCLUDEd, and an
         -- exclusion constraint.
         ALTER TABLE palisade.sloppy_child ADD CONSTRAINT sloppy_child_ticket_key UNIQUE (ticket)
             INCLUDE (organization_id);
         ALTER TABLE palisade.sloppy_child ADD COLUMN code text,
             ADD CONSTRAINT sloppy_child_code_excl EXCLUDE USING hash (code WITH =);
         -- other_customer_id only INCLUDEd: the index cannot find a customer's rows.
         CREATE INDEX sloppy_child_org_include_idx ON palisade.sloppy_child (organization_id)
             INCLUDE (other_customer_id);
         CREATE FUNCTION palisade.sloppy_move() RETURNS trigger LANGUAGE plpgsql AS
             $$BEGIN NEW.organization_id := gen_random_uuid(); RETURN NEW; END$$;
         CREATE TRIGGER sloppy_child_move BEFORE INSERT ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_move();
         CREATE FUNCTION palisade.sloppy_as_owner() RETURNS trigger LANGUAGE plpgsql
             SECURITY DEFINER SET search_path = '' AS $$BEGIN RETURN NEW; END$$;
         CREATE TRIGGER sloppy_child_as_owner AFTER INSERT ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_as_owner();
         CREATE FUNCTION palisade.sloppy_compares() RETURNS trigger LANGUAGE plpgsql AS
             $$BEGIN IF NEW.organization_id = OLD.organization_id THEN RETURN NEW; END IF;
             RETURN NULL; END$$;
         CREATE TRIGGER sloppy_child_compares BEFORE UPDATE ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_compares();
         CREATE FUNCTION palisade.sloppy_spaced() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
             PERFORM 1; -- a comment before the statement
             IF true THEN new . organization_id = gen_random_uuid(); END IF; RETURN NEW; END$$;
         CREATE TRIGGER sloppy_child_spaced BEFORE INSERT ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_spaced();
         CREATE FUNCTION palisade.sloppy_after_comment() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
             PERFORM 1; /* a comment */ NEW.organization_id = gen_random_uuid(); RETURN NEW; END$$;
         CREATE TRIGGER sloppy_child_after_comment BEFORE INSERT ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_after_comment();
         CREATE FUNCTION palisade.sloppy_whole_row() RETURNS trigger LANGUAGE plpgsql AS
             $$BEGIN NEW := OLD; RETURN NEW; END$$;
         CREATE TRIGGER sloppy_child_whole_row BEFORE UPDATE ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_whole_row();
         CREATE FUNCTION palisade.sloppy_into() RETURNS trigger LANGUAGE plpgsql AS
             $$BEGIN SELECT gen_random_uuid() INTO NEW.organization_id; RETURN NEW; END$$;
         CREATE TRIGGER sloppy_child_into BEFORE INSERT ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_into();
         CREATE FUNCTION palisade.sloppy_into_list() RETURNS trigger LANGUAGE plpgsql AS
             $$DECLARE v record; BEGIN SELECT now() AS at INTO v;
             SELECT now(), gen_random_uuid() INTO v.at, NEW.organization_id;
             RETURN NEW; END$$;
         CREATE FUNCTION palisade.sloppy_after_block() RETURNS trigger LANGUAGE plpgsql AS
             $$BEGIN /* a -- dash */ NEW.organization_id := gen_random_uuid(); RETURN NEW; END$$;
         CREATE TRIGGER sloppy_child_after_block BEFORE INSERT ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_after_block();
         CREATE TRIGGER sloppy_child_into_list BEFORE INSERT ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_into_list();
         CREATE FUNCTION palisade.sloppy_unread() RETURNS trigger LANGUAGE internal
             AS 'suppress_redundant_updates_trigger';
         CREATE TRIGGER sloppy_child_unread BEFORE UPDATE ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_unread();
         -- Not reported: PostgreSQL's own trigger function, and one that fills another column.
         CREATE TRIGGER sloppy_child_builtin BEFORE UPDATE ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
         CREATE FUNCTION palisade.sloppy_fills_id() RETURNS trigger LANGUAGE plpgsql AS
             $$BEGIN SELECT gen_random_uuid() INTO NEW.id; /* -- a dash comment inside */
             RAISE NOTICE 'never NEW.organization_id := gen_random_uuid()'; RETURN NEW; END$$;
         CREATE TRIGGER sloppy_child_fills_id BEFORE INSERT ON palisade.sloppy_child
             FOR EACH ROW EXECUTE FUNCTION palisade.sloppy_fills_id();
         COMMIT;",
    )
    .await
    .unwrap();
    let v = violations(&db).await.join("\n");
    for expected in [
        "sloppy: no organization_id uuid NOT NULL",
        "sloppy: row-level security not enabled",
        "sloppy: row-level security not forced",
        "sloppy: no SELECT policy",
        "sloppy: no index leading with organization_id",
        "sloppy: unique key sloppy_email_key without organization_id",
        "sloppy: unique key sloppy_pkey without organization_id",
        "sloppy_child: unique key sloppy_child_ticket_key without organization_id",
        "sloppy_child: unique key sloppy_child_code_excl without organization_id",
        "sloppy_child: foreign key sloppy_child_customer_id_fkey to a tenant table without organization_id",
        "sloppy_child: foreign key sloppy_child_customer_id_fkey has no index leading with its columns",
        "sloppy_child: foreign key sloppy_child_covered_fkey has no index leading with its columns",
        "sloppy: column number draws from a sequence",
        "sloppy: column counted draws from a sequence",
        "sloppy_child: column ticket draws from a sequence",
        "sequence palisade.sloppy_number_seq in Palisade's schemas",
        "sequence palisade.sloppy_counted_seq in Palisade's schemas",
        "sequence palisade.sloppy_tickets in Palisade's schemas",
        "sloppy_child: trigger sloppy_child_move: assigns the tenant column",
        "sloppy_child: trigger sloppy_child_as_owner: runs as its owner",
        "sloppy_child: trigger sloppy_child_spaced: assigns the tenant column",
        "sloppy_child: trigger sloppy_child_after_comment: assigns the tenant column",
        "sloppy_child: trigger sloppy_child_whole_row: assigns the tenant column",
        "sloppy_child: trigger sloppy_child_into: assigns the tenant column",
        "sloppy_child: trigger sloppy_child_into_list: assigns the tenant column",
        "sloppy_child: trigger sloppy_child_after_block: assigns the tenant column",
        "sloppy_child: trigger sloppy_child_unread: is not PL/pgSQL, its source unread",
    ] {
        assert!(v.contains(expected), "missing {expected:?} in:\n{v}");
    }
    // A trigger that only compares the tenant column, one that fills another, and PostgreSQL's
    // own are not reported.
    for quiet in [
        "sloppy_child_compares",
        "sloppy_child_fills_id",
        "sloppy_child_builtin",
    ] {
        assert!(!v.contains(quiet), "{quiet} reported:\n{v}");
    }
}

/// The platform tables (schema `palisade_platform`, outside the tenant schema) that
/// `palisade_app` may touch, each justified in its policy file: `mailgun_tokens`, the Mailgun
/// webhook's replay guard (`policies/460_mailgun_tokens.sql`).
const APP_PLATFORM_TABLES: &[&str] = &["mailgun_tokens"];

#[tokio::test]
async fn platform_tables_are_locked_down_and_the_app_role_reaches_only_the_allowed_ones() {
    let db = TestDb::new().await;
    let c = db.superuser_client().await;
    let rows = c
        .query(
            "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                    EXISTS (SELECT 1 FROM aclexplode(c.relacl) x WHERE x.grantee = 0) AS public_grant,
                    has_table_privilege('palisade_app', c.oid,
                        'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                      OR has_any_column_privilege('palisade_app', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES') AS app
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'palisade_platform' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert!(
        names.iter().any(|n| n == "stripe_events") && names.iter().any(|n| n == "mailgun_tokens"),
        "{names:?}"
    );
    let mut out = Vec::new();
    for r in &rows {
        let name: String = r.get(0);
        if !r.get::<_, bool>(1) || !r.get::<_, bool>(2) {
            out.push(format!("{name}: row-level security not enabled and forced"));
        }
        if r.get::<_, bool>(3) {
            out.push(format!("{name}: PUBLIC holds privileges"));
        }
        if r.get::<_, bool>(4) != APP_PLATFORM_TABLES.contains(&name.as_str()) {
            out.push(format!(
                "{name}: palisade_app privileges do not match APP_PLATFORM_TABLES"
            ));
        }
    }
    assert!(out.is_empty(), "{}", out.join("\n"));
    // The app role may create nothing there.
    let can_create: bool = c
        .query_one(
            "SELECT has_schema_privilege('palisade_app', 'palisade_platform', 'CREATE')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!can_create);
}
