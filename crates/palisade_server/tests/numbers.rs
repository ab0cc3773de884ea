//! `palisade numbers`, the operator's path to the phone number inventory, run as the built binary
//! against a real database with `DATABASE_URL` = the owner role, as an operator would. Its own
//! test process, with its own throwaway cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

use palisade_db::schema;
use palisade_test_support::TestDb;
use palisade_test_support::command::{Run, run};
use uuid::Uuid;

async fn numbers(db: &TestDb, role: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.arg("numbers")
        .args(args)
        .env("DATABASE_URL", db.url_as(role))
        .env_remove("DATABASE_URL_FILE")
        .env("PALISADE_NUMBER_QUARANTINE_DAYS", "30");
    run(cmd).await
}

async fn inventory(db: &TestDb) -> Vec<(String, Vec<String>, Option<Uuid>)> {
    db.owner_client()
        .await
        .query(
            "SELECT number, capabilities, holder_org_id FROM palisade_platform.phone_number_inventory ORDER BY number",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn operators_load_list_and_remove_numbers_as_the_owner() {
    let db = TestDb::new().await;
    let owner = schema::OWNER_ROLE;

    let r = numbers(
        &db,
        owner,
        &["add", "+1 555 000 1111", "--capabilities", "voice,sms"],
    )
    .await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("added +15550001111 (sms,voice)"),
        "{}",
        r.stdout
    );

    let dir = std::env::temp_dir().join(format!("palisade-numbers-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "+15550002222 sms\n+15550003333 fax\n").unwrap();
    let r = numbers(&db, owner, &["import", bad.to_str().unwrap()]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("line 2") && r.stderr.contains("nothing was imported"),
        "{}",
        r.stderr
    );
    assert_eq!(inventory(&db).await.len(), 1, "a bad file imports nothing");

    let good = dir.join("numbers.txt");
    std::fs::write(
        &good,
        "# carrier export\n+15550002222 sms\n+15550003333\tvoice # spare\n\n+15550001111 sms\n",
    )
    .unwrap();
    let r = numbers(&db, owner, &["import", good.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("imported 3 numbers: 2 added, 1 updated"),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        inventory(&db).await,
        vec![
            ("+15550001111".into(), vec!["sms".into()], None),
            ("+15550002222".into(), vec!["sms".into()], None),
            ("+15550003333".into(), vec!["voice".into()], None),
        ]
    );

    // An organization holds one (assigned as a claim would, here by the owner directly).
    let org = Uuid::now_v7();
    let app = db.app_client().await;
    palisade_test_support::sql::begin_as(&app, &org.to_string(), "owner").await;
    app.execute(
        "INSERT INTO palisade.organizations (id, name) VALUES ($1, 'Acme')",
        &[&org],
    )
    .await
    .unwrap();
    app.batch_execute("COMMIT").await.unwrap();
    db.owner_client()
        .await
        .execute(
            "UPDATE palisade_platform.phone_number_inventory SET holder_org_id = $1 WHERE number = '+15550002222'",
            &[&org],
        )
        .await
        .unwrap();

    let r = numbers(&db, owner, &["list"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.stdout);
    assert!(lines[0].starts_with("+15550001111") && lines[0].ends_with("available"));
    assert!(
        lines[1].contains(&format!("assigned to organization {org}")),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("voice") && lines[2].ends_with("available"));
    assert_eq!(lines[3], "3 numbers");

    let r = numbers(&db, owner, &["remove", "+15550002222"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("must release it first"), "{}", r.stderr);
    let r = numbers(&db, owner, &["remove", "+15550001111"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = numbers(&db, owner, &["remove", "+15550001111"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not in the inventory"), "{}", r.stderr);
    assert_eq!(inventory(&db).await.len(), 2);

    // The app role can do none of it: the inventory is not its to read or write.
    for args in [
        &["list"][..],
        &["add", "+15550004444", "--capabilities", "sms"],
    ] {
        let r = numbers(&db, palisade_test_support::TEST_APP_LOGIN_ROLE, args).await;
        assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
        assert!(r.stderr.contains("permission denied"), "{}", r.stderr);
    }
    assert_eq!(inventory(&db).await.len(), 2);

    // Usage errors exit 2 and change nothing.
    let r = numbers(&db, owner, &["add", "+15550004444"]).await;
    assert_eq!(r.code, 2);
}
