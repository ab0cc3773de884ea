//! Issue 9, items 6 and 7, against real databases: no login role can become the resolver
//! (palisade_resolver, owner of the SECURITY DEFINER functions), and the DDL guard has no side
//! door (every DDL path that could weaken a tenant table is refused, corrected, or reported by
//! `palisade audit`).
//!
//! Its own test process, with its own throwaway cluster: the resolver test grants and revokes a
//! membership of the shared role palisade_owner, which every database of the cluster would see,
//! so it runs as one sequential test, holding [`SHARED_ROLES`] against the other test of this
//! file that compares the audit's findings (role findings included) before and after each case.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

use palisade_db::schema;
use palisade_server::audit::{EXIT_FINDINGS, EXIT_OK, audit_database};
use palisade_test_support::command::{audit_violations as violations, run};
use palisade_test_support::{TestDb, cluster};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

/// Held while a test changes cluster-wide role memberships, or compares findings that such a
/// change would show in every database of the cluster.
static SHARED_ROLES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the built `palisade` binary with `args` and the superuser/database of `db`.
async fn palisade(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.args(args)
        .env("DATABASE_URL", db.url_as(schema::OWNER_ROLE))
        .env_remove("DATABASE_URL_FILE")
        .env(
            "PALISADE_SUPERUSER_URL",
            cluster().superuser_url("postgres"),
        )
        .env_remove("PALISADE_SUPERUSER_URL_FILE")
        .env("PALISADE_DATABASE_NAME", &db.name);
    if args.first() == Some(&"install-definers") {
        // Configuration of the server itself is not what this command needs.
        cmd.env_remove("DATABASE_URL");
        cmd.env_remove("DATABASE_URL_FILE");
    }
    let out = run(cmd).await;
    (out.code, out.stdout, out.stderr)
}

async fn owner_may_become_resolver(owner: &Client) -> Result<(), tokio_postgres::Error> {
    owner.batch_execute("SET ROLE palisade_resolver").await?;
    owner.batch_execute("RESET ROLE").await
}

#[tokio::test]
async fn no_login_role_can_become_the_resolver() {
    let _roles = SHARED_ROLES.lock().await;
    let db = TestDb::new().await;
    let su = db.superuser_client().await;
    let owner = db.owner_client().await;

    // After bootstrap, migrate and install_definers (the test template is built that way): the
    // resolver has no member, the owner cannot become it nor call its functions, the audit is
    // clean.
    let members: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_auth_members WHERE roleid = 'palisade_resolver'::regrole",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(members, 0);
    let err = owner_may_become_resolver(&owner).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .contains("permission denied"),
        "{err}"
    );
    let err = owner
        .query(
            "SELECT * FROM palisade_private.login_lookup('a@example.com')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    // Every SECURITY DEFINER function is the resolver's.
    let owners: Vec<String> = su
        .query(
            "SELECT DISTINCT pg_get_userbyid(p.proowner)::text FROM pg_proc p
               JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE p.prosecdef AND n.nspname LIKE 'palisade%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(owners, vec!["palisade_resolver".to_owned()]);
    assert_eq!(violations(&su).await, vec![]);

    // The old arrangement, as a database bootstrapped by an older version has it.
    su.batch_execute("GRANT palisade_resolver TO palisade_owner")
        .await
        .unwrap();
    owner_may_become_resolver(&owner).await.unwrap();
    let found = violations(&su).await;
    assert!(
        found.contains(&(
            "member_of_owner_role".into(),
            "role".into(),
            schema::OWNER_ROLE.into()
        )),
        "{found:?}"
    );
    let report = audit_database(&db.url_as(schema::OWNER_ROLE), None, false)
        .await
        .unwrap();
    let finding = report
        .violations
        .iter()
        .find(|v| v.kind == "member_of_owner_role")
        .unwrap();
    assert!(finding.detail.contains("palisade_resolver"), "{finding:?}");
    assert_eq!(palisade_server::audit::exit_code(&report), EXIT_FINDINGS);
    let (code, stdout, stderr) = palisade(&db, &["audit", "--no-drift"]).await;
    assert_eq!(code, i32::from(EXIT_FINDINGS), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("[member_of_owner_role] role palisade_owner:"),
        "{stdout}"
    );

    // The upgrade step revokes it: `palisade install-definers` re-applies the roles file.
    let (code, stdout, stderr) = palisade(&db, &["install-definers"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let err = owner_may_become_resolver(&owner).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    assert_eq!(violations(&su).await, vec![]);

    // A login role that reaches the resolver through a NOLOGIN role in between is reported too.
    let (login, middle) = (
        format!("palisade_probe_{}", uuid::Uuid::new_v4().simple()),
        format!("palisade_probe_{}", uuid::Uuid::new_v4().simple()),
    );
    // Dropped with the database even when an assertion below fails (roles are cluster-wide).
    db.drop_role_with_it(&login);
    db.drop_role_with_it(&middle);
    su.batch_execute(&format!(
        "CREATE ROLE {middle} NOLOGIN; CREATE ROLE {login} LOGIN;
         GRANT palisade_resolver TO {middle}; GRANT {middle} TO {login};"
    ))
    .await
    .unwrap();
    let found = violations(&su).await;
    assert!(
        found.contains(&("member_of_owner_role".into(), "role".into(), login.clone())),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(_, _, o)| *o == middle),
        "a NOLOGIN role is not reported by itself: {found:?}"
    );
    su.batch_execute(&format!("DROP ROLE {login}; DROP ROLE {middle};"))
        .await
        .unwrap();
    let (code, stdout, stderr) = palisade(&db, &["audit", "--no-drift"]).await;
    assert_eq!(code, i32::from(EXIT_OK), "{stdout}\n{stderr}");
}

/// Who runs a case's statement.
#[derive(Clone, Copy, Debug)]
enum As {
    Owner,
    Superuser,
}

/// What must happen to a case's statement.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The guard refuses it, naming this rule; nothing changes (the audit stays clean).
    Refused(&'static str),
    /// It succeeds, and this query (as the superuser) then returns true: the guard corrected
    /// it, or it could not weaken anything.
    Corrected(&'static str),
    /// It succeeds, and `palisade audit` reports this violation kind on this table.
    Reported(&'static str, &'static str),
}

struct Case {
    name: &'static str,
    setup: &'static str,
    who: As,
    sql: &'static str,
    expect: Expect,
}

/// RLS enabled and forced on a table.
const CUSTOMERS_CLOSED: &str =
    "SELECT relrowsecurity AND relforcerowsecurity AND relnamespace = 'palisade'::regnamespace
       FROM pg_class WHERE oid = 'palisade.customers'::regclass";

/// A foreign-data wrapper without a handler, and a server of it: enough to create foreign tables.
const FOREIGN_SERVER: &str = "CREATE FOREIGN DATA WRAPPER edge_dummy_fdw;
    CREATE SERVER edge_dummy FOREIGN DATA WRAPPER edge_dummy_fdw;";

const CASES: &[Case] = &[
    Case {
        name: "disable RLS (owner)",
        setup: "",
        who: As::Owner,
        sql: "ALTER TABLE palisade.customers DISABLE ROW LEVEL SECURITY",
        expect: Expect::Refused("rls_stays_enabled"),
    },
    Case {
        name: "disable RLS (superuser)",
        setup: "",
        who: As::Superuser,
        sql: "ALTER TABLE palisade.customers DISABLE ROW LEVEL SECURITY",
        expect: Expect::Refused("rls_stays_enabled"),
    },
    Case {
        name: "no force (owner)",
        setup: "",
        who: As::Owner,
        sql: "ALTER TABLE palisade.customers NO FORCE ROW LEVEL SECURITY",
        expect: Expect::Refused("rls_stays_forced"),
    },
    Case {
        name: "set schema round trip (owner)",
        setup: "",
        who: As::Owner,
        sql: "ALTER TABLE palisade.customers SET SCHEMA palisade_private;
              ALTER TABLE palisade_private.customers DISABLE ROW LEVEL SECURITY;
              ALTER TABLE palisade_private.customers SET SCHEMA palisade;",
        expect: Expect::Refused("tenant_table_stays"),
    },
    Case {
        name: "set schema round trip (superuser)",
        setup: "",
        who: As::Superuser,
        sql: "ALTER TABLE palisade.customers SET SCHEMA public;
              ALTER TABLE public.customers DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;
              ALTER TABLE public.customers SET SCHEMA palisade;",
        expect: Expect::Refused("tenant_table_stays"),
    },
    Case {
        name: "set schema round trip with a guess at an internal flag (owner)",
        setup: "",
        who: As::Owner,
        sql: "BEGIN;
              SET LOCAL palisade_guard.busy = 'on';
              SET LOCAL palisade_guard.rls_before = '';
              ALTER TABLE palisade.customers SET SCHEMA palisade_private;
              ALTER TABLE palisade_private.customers DISABLE ROW LEVEL SECURITY;
              ALTER TABLE palisade_private.customers SET SCHEMA palisade;
              COMMIT;",
        expect: Expect::Refused("tenant_table_stays"),
    },
    Case {
        name: "set schema round trip, consciously overridden (superuser)",
        setup: "",
        who: As::Superuser,
        sql: "BEGIN;
              SET LOCAL palisade.ddl_guard_override = 'test: the round trip, on purpose';
              ALTER TABLE palisade.customers SET SCHEMA public;
              ALTER TABLE public.customers DISABLE ROW LEVEL SECURITY;
              ALTER TABLE public.customers SET SCHEMA palisade;
              COMMIT;",
        expect: Expect::Reported("rls_disabled", "palisade.customers"),
    },
    Case {
        name: "rename (owner)",
        setup: "",
        who: As::Owner,
        sql: "ALTER TABLE palisade.customers RENAME TO clients",
        expect: Expect::Corrected(
            "SELECT relrowsecurity AND relforcerowsecurity
                    AND (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) >= 4
               FROM pg_class c WHERE c.oid = 'palisade.clients'::regclass",
        ),
    },
    Case {
        name: "rename through ALTER INDEX (owner)",
        setup: "",
        who: As::Owner,
        sql: "ALTER INDEX palisade.customers RENAME TO clients",
        expect: Expect::Corrected(
            "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class
              WHERE oid = 'palisade.clients'::regclass",
        ),
    },
    Case {
        name: "new table without RLS (owner)",
        setup: "",
        who: As::Owner,
        sql: "CREATE TABLE palisade.notes (organization_id uuid NOT NULL, id uuid NOT NULL,
                  body text, PRIMARY KEY (organization_id, id));
              GRANT SELECT ON palisade.notes TO palisade_app;",
        expect: Expect::Corrected(
            "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class
              WHERE oid = 'palisade.notes'::regclass",
        ),
    },
    Case {
        name: "new table without RLS moved in with SET SCHEMA (owner)",
        setup: "",
        who: As::Owner,
        sql: "CREATE TABLE palisade_private.notes (organization_id uuid NOT NULL, id uuid NOT NULL,
                  PRIMARY KEY (organization_id, id));
              ALTER TABLE palisade_private.notes SET SCHEMA palisade;
              GRANT SELECT ON palisade.notes TO palisade_app;",
        expect: Expect::Corrected(
            "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class
              WHERE oid = 'palisade.notes'::regclass",
        ),
    },
    Case {
        name: "create table as (owner)",
        setup: "",
        who: As::Owner,
        sql: "CREATE TABLE palisade.notes AS SELECT organization_id, id FROM palisade.customers",
        expect: Expect::Refused("tenant_column_required"),
    },
    Case {
        name: "select into (superuser)",
        setup: "",
        who: As::Superuser,
        sql: "SELECT organization_id, id INTO palisade.notes FROM palisade.customers",
        expect: Expect::Refused("tenant_column_required"),
    },
    Case {
        name: "partitioned table and its partition (owner)",
        setup: "",
        who: As::Owner,
        sql: "CREATE TABLE palisade.events (organization_id uuid NOT NULL, id uuid NOT NULL,
                  PRIMARY KEY (organization_id, id)) PARTITION BY HASH (organization_id);
              CREATE TABLE palisade.events_0 PARTITION OF palisade.events
                  FOR VALUES WITH (MODULUS 1, REMAINDER 0);",
        expect: Expect::Corrected(
            "SELECT bool_and(relrowsecurity AND relforcerowsecurity) AND count(*) = 2
               FROM pg_class WHERE oid IN ('palisade.events'::regclass, 'palisade.events_0'::regclass)",
        ),
    },
    Case {
        name: "partition outside the schema (owner)",
        setup: "BEGIN; SET LOCAL ROLE palisade_owner;
                 CREATE TABLE palisade.events (organization_id uuid NOT NULL, id uuid NOT NULL,
                     PRIMARY KEY (organization_id, id)) PARTITION BY HASH (organization_id);
                 COMMIT;",
        who: As::Owner,
        sql: "CREATE TABLE palisade_private.events_0 PARTITION OF palisade.events
                  FOR VALUES WITH (MODULUS 1, REMAINDER 0)",
        expect: Expect::Refused("tenant_hierarchy_closed"),
    },
    Case {
        name: "attach partition from outside the schema (owner)",
        setup: "BEGIN; SET LOCAL ROLE palisade_owner;
                 CREATE TABLE palisade.events (organization_id uuid NOT NULL, id uuid NOT NULL,
                     PRIMARY KEY (organization_id, id)) PARTITION BY HASH (organization_id);
                 CREATE TABLE palisade_private.events_0 (organization_id uuid NOT NULL,
                     id uuid NOT NULL, PRIMARY KEY (organization_id, id));
                 COMMIT;",
        who: As::Owner,
        sql: "ALTER TABLE palisade.events ATTACH PARTITION palisade_private.events_0
                  FOR VALUES WITH (MODULUS 1, REMAINDER 0)",
        expect: Expect::Refused("tenant_hierarchy_closed"),
    },
    Case {
        name: "a palisade table as a partition of an outside table (superuser)",
        setup: "CREATE TABLE public.events (organization_id uuid NOT NULL, id uuid NOT NULL)
                     PARTITION BY HASH (organization_id);",
        who: As::Superuser,
        sql: "CREATE TABLE palisade.events_0 PARTITION OF public.events
                  FOR VALUES WITH (MODULUS 1, REMAINDER 0)",
        expect: Expect::Refused("tenant_hierarchy_closed"),
    },
    Case {
        name: "inheritance child outside the schema (owner)",
        setup: "",
        who: As::Owner,
        sql: "CREATE TABLE palisade_private.vip_customers () INHERITS (palisade.customers)",
        expect: Expect::Refused("tenant_hierarchy_closed"),
    },
    Case {
        name: "outside table made a child with ALTER TABLE ... INHERIT (owner)",
        setup: "",
        who: As::Owner,
        sql: "CREATE TABLE palisade_private.vip_customers (LIKE palisade.customers INCLUDING ALL);
              ALTER TABLE palisade_private.vip_customers INHERIT palisade.customers;",
        expect: Expect::Refused("tenant_hierarchy_closed"),
    },
    Case {
        name: "inheritance child inside the schema (owner)",
        setup: "",
        who: As::Owner,
        sql: "CREATE TABLE palisade.vip_customers () INHERITS (palisade.customers)",
        expect: Expect::Corrected(
            "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class
              WHERE oid = 'palisade.vip_customers'::regclass",
        ),
    },
    Case {
        name: "rename schema palisade away (superuser)",
        setup: "",
        who: As::Superuser,
        sql: "ALTER SCHEMA palisade RENAME TO palisade_old",
        expect: Expect::Refused("tenant_schema_fixed"),
    },
    // Row-level security does not apply to a foreign table. (IMPORT FOREIGN SCHEMA needs
    // postgres_fdw: audit.rs tries it.)
    Case {
        name: "foreign table in the schema (superuser)",
        setup: FOREIGN_SERVER,
        who: As::Superuser,
        sql: "CREATE FOREIGN TABLE palisade.notes (organization_id uuid NOT NULL, id uuid NOT NULL)
                  SERVER edge_dummy",
        expect: Expect::Refused("no_foreign_tables"),
    },
    Case {
        name: "foreign table moved into the schema (superuser)",
        setup: FOREIGN_SERVER,
        who: As::Superuser,
        sql: "CREATE FOREIGN TABLE public.notes (organization_id uuid NOT NULL, id uuid NOT NULL)
                  SERVER edge_dummy;
              ALTER FOREIGN TABLE public.notes SET SCHEMA palisade;",
        expect: Expect::Refused("no_foreign_tables"),
    },
    Case {
        name: "foreign table outside the schema as a child of a tenant table (superuser)",
        setup: FOREIGN_SERVER,
        who: As::Superuser,
        sql: "CREATE FOREIGN TABLE public.vip_customers () INHERITS (palisade.customers)
                  SERVER edge_dummy",
        expect: Expect::Refused("tenant_hierarchy_closed"),
    },
    Case {
        name: "drop a policy (owner)",
        setup: "",
        who: As::Owner,
        sql: "DROP POLICY customers_select ON palisade.customers",
        expect: Expect::Reported("missing_policy", "palisade.customers"),
    },
    Case {
        name: "alter a policy to always-true (owner)",
        setup: "",
        who: As::Owner,
        sql: "ALTER POLICY customers_select ON palisade.customers USING (true)",
        expect: Expect::Reported("unscoped_policy", "palisade.customers"),
    },
    Case {
        name: "add a permissive always-true policy (owner)",
        setup: "",
        who: As::Owner,
        sql: "CREATE POLICY customers_everything ON palisade.customers FOR SELECT TO palisade_app
                  USING (true)",
        expect: Expect::Reported("unscoped_policy", "palisade.customers"),
    },
    Case {
        name: "add a policy TO PUBLIC (owner)",
        setup: "",
        who: As::Owner,
        sql: "CREATE POLICY customers_anyone ON palisade.customers FOR SELECT
                  USING (organization_id = (SELECT palisade_private.current_org_id()))",
        expect: Expect::Reported("public_policy", "palisade.customers"),
    },
    Case {
        name: "grant to PUBLIC (owner)",
        setup: "",
        who: As::Owner,
        sql: "GRANT SELECT ON palisade.customers TO PUBLIC",
        expect: Expect::Reported("public_grant", "palisade.customers"),
    },
];

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

#[tokio::test]
async fn every_ddl_path_that_could_weaken_a_tenant_table_is_refused_corrected_or_reported() {
    let _roles = SHARED_ROLES.lock().await;
    for case in CASES {
        let db = TestDb::new().await;
        let su = db.superuser_client().await;
        // A tenant row, so "corrected" can also be checked as the app role: it sees nothing.
        su.batch_execute(
            "INSERT INTO palisade.organizations (id, name) VALUES
                 ('0192f3c4-0000-7000-8000-000000000001', 'Acme');
             INSERT INTO palisade.customers (organization_id, id, name) VALUES
                 ('0192f3c4-0000-7000-8000-000000000001', gen_random_uuid(), 'Grace');",
        )
        .await
        .unwrap();
        if !case.setup.is_empty() {
            su.batch_execute(case.setup)
                .await
                .unwrap_or_else(|e| panic!("{}: setup: {}", case.name, message(&e)));
        }
        let client = match case.who {
            As::Owner => db.owner_client().await,
            As::Superuser => db.superuser_client().await,
        };
        let before = violations(&su).await;
        let result = client.batch_execute(case.sql).await;
        match case.expect {
            Expect::Refused(rule) => {
                let err = result.expect_err(case.name);
                assert_eq!(
                    err.code(),
                    Some(&SqlState::INSUFFICIENT_PRIVILEGE),
                    "{}: {}",
                    case.name,
                    message(&err)
                );
                assert!(
                    message(&err).contains(&format!("rule {rule}")),
                    "{}: {}",
                    case.name,
                    message(&err)
                );
                // Nothing changed.
                assert!(
                    su.query_one(CUSTOMERS_CLOSED, &[])
                        .await
                        .unwrap()
                        .get::<_, bool>(0),
                    "{}",
                    case.name
                );
                assert_eq!(violations(&su).await, before, "{}", case.name);
            }
            Expect::Corrected(check) => {
                result.unwrap_or_else(|e| panic!("{}: {}", case.name, message(&e)));
                let ok: bool = su.query_one(check, &[]).await.unwrap().get(0);
                assert!(ok, "{}: {check}", case.name);
            }
            Expect::Reported(kind, object) => {
                result.unwrap_or_else(|e| panic!("{}: {}", case.name, message(&e)));
                // What `palisade audit` reports (its library entry point, live checks only).
                let report = audit_database(&db.url_as(schema::OWNER_ROLE), None, false)
                    .await
                    .unwrap();
                assert!(
                    report
                        .violations
                        .iter()
                        .any(|v| v.kind == kind && v.object_type == "table" && v.object == object),
                    "{}: no {kind} on {object} in {:?}",
                    case.name,
                    report.violations
                );
                assert_eq!(
                    palisade_server::audit::exit_code(&report),
                    EXIT_FINDINGS,
                    "{}",
                    case.name
                );
            }
        }
    }
}

#[tokio::test]
async fn a_table_the_guard_closed_shows_no_row_to_the_app_role_until_its_policies_exist() {
    let db = TestDb::new().await;
    let owner = db.owner_client().await;
    owner
        .batch_execute(
            "CREATE TABLE palisade.notes (organization_id uuid NOT NULL, id uuid NOT NULL,
                 PRIMARY KEY (organization_id, id));
             GRANT SELECT, INSERT ON palisade.notes TO palisade_app;",
        )
        .await
        .unwrap();
    let org = uuid::Uuid::now_v7();
    let su = db.superuser_client().await;
    su.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'Acme')",
        &[&org],
    )
    .await
    .unwrap();
    su.execute(
        "INSERT INTO palisade.notes (organization_id, id) VALUES ($1, gen_random_uuid())",
        &[&org],
    )
    .await
    .unwrap();
    let app = db.app_client().await;
    let seen: i64 = app
        .query_one("SELECT count(*) FROM palisade.notes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 0, "no policy yet: closed");
    let err = app
        .execute(
            "INSERT INTO palisade.notes (organization_id, id) VALUES ($1, gen_random_uuid())",
            &[&org],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    // Its owner is bound too (FORCE).
    let seen: i64 = owner
        .query_one("SELECT count(*) FROM palisade.notes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 0);
    // The migrations' way (the override on the migrating connection) keeps working: create,
    // fill, then enable and force in later statements.
    let mut migrating = db.owner_client().await;
    schema::migrate_with(&mut migrating).await.unwrap();
    migrating
        .batch_execute(
            "BEGIN;
             CREATE TABLE palisade.later (organization_id uuid NOT NULL, id uuid NOT NULL,
                 PRIMARY KEY (organization_id, id));
             ALTER TABLE palisade.later ADD COLUMN label text;
             ALTER TABLE palisade.later ENABLE ROW LEVEL SECURITY;
             ALTER TABLE palisade.later FORCE ROW LEVEL SECURITY;
             COMMIT;",
        )
        .await
        .unwrap();
    let closed: bool = su
        .query_one(
            "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class
              WHERE oid = 'palisade.later'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(closed);
}
