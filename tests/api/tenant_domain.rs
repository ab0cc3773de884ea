//! The tenant domain's administration tables (integrations, outbound webhooks, API keys,
//! members, organization, billing): the isolation seeder, billing fixtures (written as the
//! Stripe path's role, since tenants cannot), and role enforcement at the SQL level, in the
//! shape of basejump's pgTAP tests: a member context's INSERT is refused by RLS, its UPDATE and
//! DELETE touch nothing; an admin context cannot delete the organization or touch an owner.

use palisade_test_support::sql::{begin_as_user, is_rls_refusal};
use palisade_test_support::{Account, TestApp, spawn_app_with_owner};
use serde_json::json;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::isolation::{Item, Seeded};

/// A connection as palisade_billing (BYPASSRLS, grants on billing tables only).
pub async fn billing_client(app: &TestApp) -> Client {
    palisade_db::schema::connect(&app.db.url_as("palisade_billing"))
        .await
        .unwrap()
}

fn stripe_id(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}

/// Inserts a subscription for `org` as the Stripe path would; returns its id.
pub async fn insert_subscription(billing: &Client, org: &str, status: &str, plan: &str) -> Uuid {
    let id = Uuid::now_v7();
    billing
        .execute(
            "INSERT INTO palisade.subscriptions (organization_id, id, stripe_subscription_id, status, plan, \
                 stripe_price_id, quantity, unit_amount_cents, currency, current_period_start, \
                 current_period_end, stripe_updated_at) \
             VALUES ($1::text::uuid, $2, $3, $4, $5, $6, 3, 2900, 'usd', now(), now() + interval '30 days', now())",
            &[&org, &id, &stripe_id("sub"), &status, &plan, &stripe_id("price")],
        )
        .await
        .unwrap();
    id
}

/// Inserts an invoice for `org` as the Stripe path would; returns its id.
pub async fn insert_invoice(billing: &Client, org: &str, status: &str, number: &str) -> Uuid {
    let id = Uuid::now_v7();
    billing
        .execute(
            "INSERT INTO palisade.invoices (organization_id, id, stripe_invoice_id, stripe_subscription_id, \
                 number, status, currency, subtotal_cents, total_cents, amount_due_cents, amount_paid_cents, \
                 period_start, period_end, hosted_invoice_url, stripe_updated_at) \
             VALUES ($1::text::uuid, $2, $3, $4, $5, $6, 'usd', 8700, 8700, 8700, \
                     CASE WHEN $6 = 'paid' THEN 8700 ELSE 0 END, now() - interval '30 days', now(), \
                     'https://invoice.stripe.com/i/test', now())",
            &[&org, &id, &stripe_id("in"), &stripe_id("sub"), &number, &status],
        )
        .await
        .unwrap();
    id
}

/// Creates `path` as `acct` and returns the JSON (asserting 201).
pub async fn post(
    app: &TestApp,
    acct: &Account,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = app.post(&acct, path, &body).await;
    assert_eq!(r.status, 201, "POST {path}: {}", r.text);
    r.json
}

/// The isolation seeder: one row of every table of this group for `acct`.
pub async fn seed(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    let integration = post(
        app,
        acct,
        "/v1/integrations",
        json!({"provider": "slack", "name": format!("{marker} slack"),
               "config": {"channel": format!("#{marker}")},
               "secrets": {"bot_token": format!("xoxb-{marker}-secret")}}),
    )
    .await;
    let webhook = post(
        app,
        acct,
        "/v1/webhooks",
        json!({"url": format!("https://hooks.example.com/{marker}"),
               "event_types": ["customer.created", "invoice.paid"],
               "description": format!("{marker} hook")}),
    )
    .await;
    let key = post(
        app,
        acct,
        "/v1/api-keys",
        json!({"name": format!("{marker} key"), "role": "member"}),
    )
    .await;
    // A key with an expiry, so every view of keys (and the timestamp walk) shows one.
    let expiring = post(
        app,
        acct,
        "/v1/api-keys",
        json!({"name": format!("{marker} expiring key"), "role": "member",
               "expires_at": "2999-01-01T00:00:00Z"}),
    )
    .await;
    // Members join by invitation, with their own password.
    let email = format!("{marker}-{}@example.com", Uuid::new_v4().simple());
    let r = app.invite(acct, &email, "member").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = app.invitation_token(&email).await;
    let r = app
        .accept_invitation(
            &token,
            &format!("{marker} member"),
            "a long enough passphrase",
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let member = json!({"id": r.json["user_id"]});
    // A pending email verification (palisade.email_verifications). Only a signup makes one, and
    // the seeded owners verified theirs (an unverified owner may not invite): the superuser
    // stands in for a signup's, on the member, with a hash nobody holds. No code path gives an
    // invited member one; the isolation tests need a row of each organization, not its history.
    app.db
        .superuser_client()
        .await
        .execute(
            "INSERT INTO palisade.email_verifications
                    (organization_id, id, user_id, token_hash, created_at, expires_at)
             VALUES ($1::text::uuid, gen_random_uuid(), $2::text::uuid,
                     sha256(gen_random_uuid()::text::bytea),
                     now(), now() + interval '1 day')",
            &[&acct.org_id, &member["id"].as_str().unwrap()],
        )
        .await
        .unwrap();
    let billing = billing_client(app).await;
    insert_subscription(&billing, &acct.org_id, "active", "pro").await;
    let invoice = insert_invoice(&billing, &acct.org_id, "paid", &format!("{marker}-0001")).await;
    let id = |v: &serde_json::Value| v["id"].as_str().unwrap().to_owned();
    Seeded {
        items: vec![
            Item {
                path: format!("/v1/integrations/{}", id(&integration)),
                writes: &["PATCH", "DELETE"],
                patch: json!({"name": "changed by another tenant", "enabled": false}),
            },
            Item {
                path: format!("/v1/webhooks/{}", id(&webhook)),
                writes: &["PATCH", "DELETE"],
                patch: json!({"description": "changed by another tenant", "enabled": false}),
            },
            Item {
                path: format!("/v1/api-keys/{}", id(&key)),
                writes: &["DELETE"],
                patch: json!({}),
            },
            Item {
                path: format!("/v1/api-keys/{}", id(&expiring)),
                writes: &["DELETE"],
                patch: json!({}),
            },
            Item {
                path: format!("/v1/members/{}", id(&member)),
                writes: &["PATCH", "DELETE"],
                patch: json!({"name": "changed by another tenant", "role": "admin"}),
            },
            Item {
                path: format!("/v1/billing/invoices/{invoice}"),
                writes: &[],
                patch: json!({}),
            },
        ],
        views: vec![
            "/v1/integrations".into(),
            "/v1/integrations?provider=slack&enabled=true".into(),
            "/v1/webhooks".into(),
            "/v1/webhooks?event_type=customer.created".into(),
            "/v1/api-keys".into(),
            "/v1/api-keys?revoked=false".into(),
            "/v1/api-keys?expired=false".into(),
            "/v1/members".into(),
            "/v1/members?role=member".into(),
            "/v1/organization".into(),
            "/v1/billing/subscription".into(),
            "/v1/billing/invoices".into(),
            "/v1/billing/invoices?status=paid".into(),
        ],
    }
}

#[actix_web::test]
async fn a_member_context_can_read_but_not_write_admin_tables_at_the_sql_level() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let s = seed(&app, &a, "sqlroles").await;
    assert!(!s.items.is_empty());
    let member = app.add_user(&a, palisade_domain::Role::Member).await;
    let c = app.db.app_client().await;

    // (table, an INSERT of a valid row and its parameters); then an UPDATE and a DELETE of
    // every row.
    type Param = Box<dyn tokio_postgres::types::ToSql + Sync>;
    let key_hash = vec![7u8; 32];
    let cases: [(&str, &str, Vec<Param>); 4] = [
        (
            "integrations",
            "INSERT INTO palisade.integrations (id, provider, name) VALUES ($1, 'zapier', 'by a member')",
            vec![Box::new(Uuid::now_v7())],
        ),
        (
            "outbound_webhooks",
            "INSERT INTO palisade.outbound_webhooks (id, url, event_types, signing_secret) \
             VALUES ($1, 'https://hooks.example.com/m', '{customer.created}', \
                     'whsec_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')",
            vec![Box::new(Uuid::now_v7())],
        ),
        (
            "api_keys",
            "INSERT INTO palisade.api_keys (id, name, role, prefix, key_hash, created_by) \
             VALUES ($1, 'by a member', 'member', 'pk_aaaaaaaa', $2, $3::text::uuid)",
            vec![
                Box::new(Uuid::now_v7()),
                Box::new(key_hash),
                Box::new(member.user_id.clone()),
            ],
        ),
        (
            "users",
            "INSERT INTO palisade.users (id, email, name, role, password_hash) \
             VALUES ($1, 'sneaky@example.com', 'Sneaky', 'member', 'x')",
            vec![Box::new(Uuid::now_v7())],
        ),
    ];
    for (table, insert, params) in &cases {
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref()).collect();
        begin_as_user(&c, &a.org_id, &member.user_id, "member").await;
        let visible: i64 = c
            .query_one(&format!("SELECT count(*) FROM palisade.{table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert!(visible > 0, "{table}: a member reads nothing");
        let err = c.execute(*insert, &params).await.unwrap_err();
        assert!(is_rls_refusal(&err), "{table}: member INSERT: {err:?}");
        c.batch_execute("ROLLBACK").await.unwrap();

        begin_as_user(&c, &a.org_id, &member.user_id, "member").await;
        let updated = c
            .execute(
                &format!("UPDATE palisade.{table} SET updated_at = now()"),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(updated, 0, "{table}: a member updated rows");
        c.batch_execute("ROLLBACK").await.unwrap();

        begin_as_user(&c, &a.org_id, &member.user_id, "member").await;
        let deleted = c
            .execute(&format!("DELETE FROM palisade.{table}"), &[])
            .await;
        c.batch_execute("ROLLBACK").await.unwrap();
        match (*table, deleted) {
            // Keys are revoked, never deleted: no DELETE grant for anyone.
            ("api_keys", Err(e)) => assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE)),
            (_, Ok(n)) => assert_eq!(n, 0, "{table}: a member deleted rows"),
            (_, Err(e)) => panic!("{table}: member DELETE: {e:?}"),
        }
    }

    // The organization: a member cannot rename it; an admin cannot delete it.
    begin_as_user(&c, &a.org_id, &member.user_id, "member").await;
    let n = c
        .execute("UPDATE palisade.organizations SET name = 'renamed'", &[])
        .await
        .unwrap();
    assert_eq!(n, 0);
    c.batch_execute("ROLLBACK").await.unwrap();
    begin_as_user(&c, &a.org_id, &member.user_id, "admin").await;
    let n = c
        .execute("DELETE FROM palisade.organizations", &[])
        .await
        .unwrap();
    assert_eq!(n, 0, "an admin deleted the organization");
    c.batch_execute("ROLLBACK").await.unwrap();

    // The same statements as an admin do work (the refusals above are about the role).
    begin_as_user(&c, &a.org_id, &member.user_id, "admin").await;
    let n = c
        .execute("UPDATE palisade.integrations SET updated_at = now()", &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[actix_web::test]
async fn only_an_owner_context_touches_owner_rows_at_the_sql_level() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let admin = app.add_user(&a, palisade_domain::Role::Admin).await;
    let c = app.db.app_client().await;

    begin_as_user(&c, &a.org_id, &admin.user_id, "admin").await;
    let err = c
        .execute(
            "INSERT INTO palisade.users (id, email, name, role, password_hash) \
             VALUES ($1, 'coowner@example.com', 'Co', 'owner', 'x')",
            &[&Uuid::now_v7()],
        )
        .await
        .unwrap_err();
    assert!(is_rls_refusal(&err), "admin created an owner: {err:?}");
    c.batch_execute("ROLLBACK").await.unwrap();

    begin_as_user(&c, &a.org_id, &admin.user_id, "admin").await;
    let n = c
        .execute(
            "UPDATE palisade.users SET name = 'renamed' WHERE role = 'owner'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 0, "admin changed an owner");
    let n = c
        .execute("DELETE FROM palisade.users WHERE role = 'owner'", &[])
        .await
        .unwrap();
    assert_eq!(n, 0, "admin removed an owner");
    c.batch_execute("ROLLBACK").await.unwrap();

    begin_as_user(&c, &a.org_id, &admin.user_id, "admin").await;
    let err = c
        .execute(
            "UPDATE palisade.users SET role = 'owner' WHERE id = $1::text::uuid",
            &[&admin.user_id],
        )
        .await
        .unwrap_err();
    assert!(is_rls_refusal(&err), "admin promoted to owner: {err:?}");
    c.batch_execute("ROLLBACK").await.unwrap();

    // The owner may do all of it.
    begin_as_user(&c, &a.org_id, &a.user_id, "owner").await;
    let n = c
        .execute(
            "UPDATE palisade.users SET role = 'owner' WHERE id = $1::text::uuid",
            &[&admin.user_id],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[actix_web::test]
async fn tenants_cannot_write_billing_and_the_billing_role_reaches_billing_only() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let billing = billing_client(&app).await;
    let invoice = insert_invoice(&billing, &a.org_id, "open", "A-1").await;
    insert_subscription(&billing, &a.org_id, "active", "pro").await;
    let c = app.db.app_client().await;

    // Even the owner cannot write billing rows: no grant (42501), whatever the policy says.
    for sql in [
        "INSERT INTO palisade.invoices SELECT * FROM palisade.invoices",
        "UPDATE palisade.invoices SET status = 'paid'",
        "DELETE FROM palisade.invoices",
        "UPDATE palisade.subscriptions SET plan = 'enterprise'",
        "DELETE FROM palisade.subscriptions",
        "UPDATE palisade.organizations SET plan = 'enterprise'",
        "UPDATE palisade.organizations SET stripe_customer_id = 'cus_stolen'",
    ] {
        begin_as_user(&c, &a.org_id, &a.user_id, "owner").await;
        let err = c.execute(sql, &[]).await.unwrap_err();
        c.batch_execute("ROLLBACK").await.unwrap();
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err:?}"
        );
    }
    begin_as_user(&c, &a.org_id, &a.user_id, "owner").await;
    let status: String = c
        .query_one(
            "SELECT status FROM palisade.invoices WHERE id = $1",
            &[&invoice],
        )
        .await
        .unwrap()
        .get(0);
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(status, "open");

    // palisade_billing: its tables and the organization's billing columns, nothing else.
    for sql in [
        "SELECT count(*) FROM palisade.customers",
        "SELECT count(*) FROM palisade.users",
        "SELECT count(*) FROM palisade.api_keys",
        "SELECT count(*) FROM palisade.integrations",
        "SELECT count(*) FROM palisade.outbound_webhooks",
        "SELECT name FROM palisade.organizations",
        "UPDATE palisade.organizations SET name = 'x'",
        "DELETE FROM palisade.invoices",
        "DELETE FROM palisade.organizations",
    ] {
        let err = billing.execute(sql, &[]).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "billing: {sql}: {err:?}"
        );
    }
    let n = billing
        .execute(
            "UPDATE palisade.organizations SET stripe_customer_id = 'cus_Test123', plan = 'pro', \
                 plan_status = 'active' WHERE id = $1::text::uuid",
            &[&a.org_id],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let found: Uuid = billing
        .query_one(
            "SELECT id FROM palisade.organizations WHERE stripe_customer_id = 'cus_Test123'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(found.to_string(), a.org_id);
    let n = billing
        .execute(
            "UPDATE palisade.invoices SET status = 'paid' WHERE id = $1",
            &[&invoice],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let r = app.get(&a, "/v1/organization").await;
    assert_eq!(
        (r.json["plan"].as_str(), r.json["plan_status"].as_str()),
        (Some("pro"), Some("active"))
    );
}
