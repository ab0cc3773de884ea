//! Amazon Connect: `/v1/call-center/aws-connect/instances` and `/credentials`, and contact
//! events at `POST /webhooks/aws-connect/events`, sent shaped exactly like AWS's documented
//! samples (see [`sample`]).

use futures_util::future::join_all;
use palisade_domain::Role;
use palisade_test_support::sql::{
    assert_members_read_and_only_admins_write, begin_as, begin_as_user, begin_new_organization,
    execute_as, is_rls_refusal, rollback, sqlstate,
};
use palisade_test_support::{
    Account, TestApp, TestResponse, id, ids, request, spawn_app_with_owner, spawn_app_with_team,
};
use serde_json::{Value, json};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::isolation::{Item, Seeded};

const INSTANCES: &str = "/v1/call-center/aws-connect/instances";
const CREDENTIALS: &str = "/v1/call-center/aws-connect/credentials";
const EVENTS: &str = "/webhooks/aws-connect/events";

/// A fresh instance ARN in `us-west-2`, account 123456789012 (AWS's sample account).
fn new_arn() -> String {
    format!(
        "arn:aws:connect:us-west-2:123456789012:instance/{}",
        Uuid::new_v4()
    )
}

/// An event shaped exactly like the samples of AWS's "Amazon Connect contact events" page
/// (https://docs.aws.amazon.com/connect/latest/adminguide/contact-events.html: "Sample contact
/// event for when a voice call is connected to an agent", "... when a voice call is
/// disconnected", "Sample event for when contact properties are updated"), with its
/// placeholders (`your-region`, `the event ID`, `arn`, ...) filled in with real-looking values.
/// AWS documents no sample for INITIATED and QUEUED: those are the connected sample's envelope
/// and the data model's fields for that point of the contact (no agent yet; no queue yet at
/// INITIATED). Timestamps follow one contact: initiated 17:17:53, in queue 17:17:58, with an
/// agent 17:18:09, disconnected 17:18:37.
pub(crate) fn sample(
    event_type: &str,
    event_id: &str,
    contact_id: &str,
    instance_arn: &str,
) -> Value {
    let instance_id = instance_arn.rsplit('/').next().unwrap();
    let queue_arn = format!("{instance_arn}/queue/12345678-1234-1234-1234-123456789012");
    let agent_arn = format!("{instance_arn}/agent/12345678-1234-1234-1234-123456789012");
    let hierarchy_groups = json!({
        "level1": {"arn": format!("{instance_arn}/agent-group/abcdefgh-1234-1234-1234-12345678901a")},
        "level2": {"arn": format!("{instance_arn}/agent-group/abcdefgh-1234-1234-1234-12345678901b")}
    });
    let detail = match event_type {
        "INITIATED" => json!({
            "eventType": "INITIATED",
            "contactId": contact_id,
            "channel": "VOICE",
            "instanceArn": instance_arn,
            "initiationMethod": "INBOUND",
            "initiationTimestamp": "2021-08-04T17:17:53.000Z",
            "tags": {"aws:connect:instanceId": instance_id, "aws:connect:systemEndpoint": "+11234567890"}
        }),
        "QUEUED" => json!({
            "eventType": "QUEUED",
            "contactId": contact_id,
            "channel": "VOICE",
            "instanceArn": instance_arn,
            "initiationMethod": "INBOUND",
            "initiationTimestamp": "2021-08-04T17:17:53.000Z",
            "connectedToSystemTimestamp": "2021-08-04T17:17:55.000Z",
            "queueInfo": {
                "queueType": "STANDARD",
                "queueArn": queue_arn,
                "enqueueTimestamp": "2021-08-04T17:17:58.000Z"
            },
            "tags": {"aws:connect:instanceId": instance_id, "aws:connect:systemEndpoint": "+11234567890"}
        }),
        // "Sample contact event for when a voice call is connected to an agent".
        "CONNECTED_TO_AGENT" => json!({
            "initiationTimestamp": "2021-08-04T17:17:53.000Z",
            "contactId": contact_id,
            "channel": "VOICE",
            "instanceArn": instance_arn,
            "initiationMethod": "INBOUND",
            "eventType": "CONNECTED_TO_AGENT",
            "agentInfo": {
                "agentArn": agent_arn,
                "connectedToAgentTimestamp": "2021-08-04T17:18:09.000Z",
                "hierarchyGroups": hierarchy_groups
            },
            "queueInfo": {
                "queueType": "type",
                "queueArn": queue_arn,
                "enqueueTimestamp": "2021-08-04T17:17:58.000Z"
            },
            "tags": {"aws:connect:instanceId": instance_id, "aws:connect:systemEndpoint": "+11234567890"}
        }),
        // "Sample contact event for when a voice call is disconnected" (its channel spelled
        // "Voice" as in the sample; its initiationMethod INBOUND here, OUTBOUND in the sample).
        "DISCONNECTED" => json!({
            "eventType": "DISCONNECTED",
            "contactId": contact_id,
            "initialContactId": contact_id,
            "channel": "Voice",
            "instanceArn": instance_arn,
            "initiationMethod": "INBOUND",
            "initiationTimestamp": "2021-08-04T17:17:53.000Z",
            "connectedToSystemTimestamp": "2021-08-04T17:17:55.000Z",
            "disconnectTimestamp": "2021-08-04T17:18:37.000Z",
            "agentInfo": {
                "agentArn": agent_arn,
                "connectedToAgentTimestamp": "2021-08-04T17:18:09.000Z",
                "hierarchyGroups": hierarchy_groups
            },
            "CustomerVoiceActivity": {
                "greetingStartTimestamp": "2021-08-04T17:18:10.000Z",
                "greetingEndTimestamp": "2021-08-04T17:18:12.000Z"
            },
            "tags": {
                "aws:connect:instanceId": instance_id,
                "aws:connect:systemEndpoint": "+11234567890",
                "Dept": "Finance"
            }
        }),
        // "Sample event for when contact properties are updated" (a chat).
        "CONTACT_DATA_UPDATED" => json!({
            "eventType": "CONTACT_DATA_UPDATED",
            "contactId": contact_id,
            "channel": "CHAT",
            "instanceArn": instance_arn,
            "initiationMethod": "API",
            "queueInfo": {
                "queueArn": queue_arn,
                "enqueueTimestamp": "2023-10-24T02:39:15.240Z",
                "queueType": "STANDARD"
            },
            "agentInfo": {
                "agentArn": agent_arn,
                "connectedToAgentTimestamp": "1970-01-01T00:00:00.001Z",
                "hierarchyGroups": hierarchy_groups
            },
            "updatedProperties": ["ContactLens.ConversationalAnalytics.Configuration"],
            "initiationTimestamp": "2023-10-24T02:39:15.154Z",
            "connectedToSystemTimestamp": "1970-01-01T00:00:00.001Z",
            "tags": {"aws:connect:instanceId": instance_id}
        }),
        other => panic!("no sample for {other}"),
    };
    json!({
        "version": "0",
        "id": event_id,
        "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "account": "123456789012",
        "time": "2021-08-04T17:43:48Z",
        "region": "us-west-2",
        "resources": [
            format!("{instance_arn}/contact/{contact_id}"),
            instance_arn
        ],
        "detail": detail
    })
}

/// `sample` with the channel (and nothing else) changed.
fn on_channel(mut event: Value, channel: &str) -> Value {
    event["detail"]["channel"] = json!(channel);
    event
}

/// Posts `body` as EventBridge would, with `key` in `X-Palisade-Connect-Key` when given.
async fn post_raw(app: &TestApp, key: Option<&str>, body: &[u8]) -> TestResponse {
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    if let Some(key) = key {
        headers.push(("X-Palisade-Connect-Key", key.to_owned()));
    }
    request(&app.addr, "POST", EVENTS, &headers, Some(body)).await
}

pub(crate) async fn post_event(app: &TestApp, key: Option<&str>, event: &Value) -> TestResponse {
    post_raw(app, key, event.to_string().as_bytes()).await
}

/// Posts `event` with `key` and expects the 200 acknowledgement.
async fn deliver(app: &TestApp, key: &str, event: &Value) {
    let r = post_event(app, Some(key), event).await;
    assert_eq!(r.status, 200, "{}: {}", event["id"], r.text);
    crate::openapi::assert_ok_as_documented(EVENTS, &r);
}

/// Registers `arn` for `acct` and creates a credential: returns the credential.
async fn connect(app: &TestApp, acct: &Account, arn: &str) -> String {
    app.create(
        acct,
        INSTANCES,
        json!({"instance_arn": arn, "region": "us-west-2", "label": "Main"}),
    )
    .await;
    credential(app, acct).await.0
}

/// A new credential of `acct`'s organization: (the credential, its id).
async fn credential(app: &TestApp, acct: &Account) -> (String, String) {
    let c = app
        .create(acct, CREDENTIALS, json!({"label": "EventBridge"}))
        .await;
    (c["key"].as_str().unwrap().to_owned(), id(&c).to_owned())
}

async fn data(app: &TestApp, acct: &Account, path: &str) -> Vec<Value> {
    app.get_ok(acct, path).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// What the events wrote in `acct`'s organization: calls, conversations, deliveries.
async fn written(app: &TestApp, acct: &Account) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    (
        data(app, acct, "/v1/calls").await,
        data(app, acct, "/v1/chat/conversations").await,
        data(app, acct, "/v1/webhook-deliveries?provider=aws_connect").await,
    )
}

async fn assert_nothing_written(app: &TestApp, acct: &Account) {
    let (calls, conversations, deliveries) = written(app, acct).await;
    assert!(calls.is_empty(), "{calls:?}");
    assert!(conversations.is_empty(), "{conversations:?}");
    assert!(deliveries.is_empty(), "{deliveries:?}");
}

/// The one call of `acct`'s organization.
async fn the_call(app: &TestApp, acct: &Account) -> Value {
    let calls = data(app, acct, "/v1/calls").await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    calls[0].clone()
}

#[actix_web::test]
async fn instances_are_registered_by_owners_and_admins_with_a_valid_arn() {
    let (app, owner, admin, member) = spawn_app_with_team("Acme").await;
    let arn = new_arn();
    let body = json!({"instance_arn": arn, "region": "us-west-2", "label": "Main"});
    let instance = app.create(&admin, INSTANCES, body.clone()).await;
    assert_eq!(
        (
            &instance["instance_arn"],
            &instance["region"],
            &instance["label"]
        ),
        (&json!(arn), &json!("us-west-2"), &json!("Main"))
    );
    let path = format!("{INSTANCES}/{}", id(&instance));
    // Every role reads.
    assert_eq!(app.get_ok(&member, &path).await, instance);
    assert_eq!(ids(&app.get_ok(&member, INSTANCES).await), [id(&instance)]);
    // Only owners and admins write.
    app.assert_forbidden(
        &member,
        &[
            (
                "POST",
                INSTANCES,
                Some(json!({"instance_arn": new_arn(), "region": "us-west-2", "label": "M"})),
            ),
            ("PATCH", &path, Some(json!({"label": "Mine"}))),
            ("DELETE", &path, None),
        ],
    )
    .await;
    // Once per organization: 409, nothing added.
    app.post(&owner, INSTANCES, &body)
        .await
        .assert_taken("instance_taken", "instance_arn");
    // Validation: a bad ARN, a region that is not the ARN's, a region that is no region.
    for (bad, field) in [
        (
            json!({"instance_arn": "arn:aws:connect:us-west-2:123456789012:queue/x", "region": "us-west-2", "label": "M"}),
            "instance_arn",
        ),
        (
            json!({"instance_arn": arn.replace("123456789012", "1234"), "region": "us-west-2", "label": "M"}),
            "instance_arn",
        ),
        (
            json!({"instance_arn": new_arn(), "region": "eu-west-1", "label": "M"}),
            "region",
        ),
        (
            json!({"instance_arn": new_arn(), "region": "Oregon", "label": "M"}),
            "region",
        ),
        (
            json!({"instance_arn": new_arn(), "region": "us-west-2", "label": " "}),
            "label",
        ),
        (json!({"region": "us-west-2", "label": "M"}), "instance_arn"),
    ] {
        let r = app.post(&owner, INSTANCES, &bad).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
        assert_eq!(r.json["fields"][0]["field"], field, "{bad}: {}", r.text);
    }
    // Every bad field is named, not only the first.
    let bad = json!({"instance_arn": new_arn(), "region": "Oregon", "label": " "});
    let r = app.post(&owner, INSTANCES, &bad).await;
    let fields: Vec<&str> = r.json["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.text))
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        (r.status, fields),
        (422, vec!["region", "label"]),
        "{}",
        r.text
    );
    assert_eq!(app.list_ids(&owner, INSTANCES).await, [id(&instance)]);
    // The label changes; the ARN does not.
    let r = app.patch(&owner, &path, &json!({"label": "Primary"})).await;
    assert_eq!(
        (r.status, &r.json["label"]),
        (200, &json!("Primary")),
        "{}",
        r.text
    );
    let r = app
        .patch(&owner, &path, &json!({"instance_arn": new_arn()}))
        .await;
    r.assert_error(400, "unknown_field");
    let r = app
        .get(&owner, &format!("{INSTANCES}?region=us-west-2"))
        .await;
    assert_eq!(ids(&r.json), [id(&instance)]);
    assert!(
        app.list_ids(&owner, &format!("{INSTANCES}?region=eu-west-1"))
            .await
            .is_empty()
    );

    // Another organization registers the same ARN; neither sees the other's.
    let other_app_acct = app.signup("Other").await;
    let theirs = app.create(&other_app_acct, INSTANCES, body.clone()).await;
    let their_path = format!("{INSTANCES}/{}", id(&theirs));
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"label": "x"}))),
        ("DELETE", None),
    ] {
        let r = app
            .request_as(&owner, method, &their_path, body.as_ref(), &[])
            .await;
        r.assert_error_at(404, "not_found", format_args!("{method} {their_path}"));
    }
    assert_eq!(app.list_ids(&owner, INSTANCES).await, [id(&instance)]);

    assert_eq!(app.delete(&owner, &path).await.status, 204);
    assert_eq!(app.get(&owner, &path).await.status, 404);
    assert_eq!(
        app.get_ok(&other_app_acct, &their_path).await["label"],
        "Main"
    );
}

/// `n` lowercase letters that do not repeat in a pattern (a xorshift generator): PostgreSQL
/// compresses a run of one letter below its btree limit, it cannot compress these.
fn letters(n: usize) -> String {
    let mut x: u32 = 0x9e37_79b9;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// An instance ARN in partition `aws-<partition>` and region `region`.
fn arn_in(partition: &str, region: &str) -> String {
    format!(
        "arn:aws-{partition}:connect:{region}:123456789012:instance/{}",
        Uuid::new_v4()
    )
}

/// An ARN over 256 characters or a region over 32 is 422 `too_long` naming it, and nothing is
/// created. Unbounded, an ARN of a 3000-letter partition made a key over PostgreSQL's limit for
/// the btree of `aws_connect_instances_instance_arn_key` (SQLSTATE 54000): a 500 and an ERROR
/// line. The table holds every writer to the same bounds (V0188, validated by V0189).
#[actix_web::test]
async fn an_arn_or_a_region_over_its_bound_is_422_and_creates_nothing() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let long_region = format!("us-{}-1", letters(40));
    let at_256 = arn_in(
        &"q".repeat(256 - arn_in("", "us-east-1").len()),
        "us-east-1",
    );
    assert_eq!(at_256.len(), 256);
    for (body, refused) in [
        (
            json!({"instance_arn": arn_in(&letters(3000), "us-east-1"), "region": "us-east-1", "label": "x"}),
            vec![("instance_arn", "too_long")],
        ),
        (
            json!({"instance_arn": at_256.replacen("aws-q", "aws-qq", 1), "region": "us-east-1", "label": "x"}),
            vec![("instance_arn", "too_long")],
        ),
        (
            json!({"instance_arn": new_arn(), "region": format!("us-{}-1", letters(3000)), "label": "x"}),
            vec![("region", "too_long")],
        ),
        // An ARN within its bound whose region is over the region's: refused on `region`, too
        // long as given, or not the ARN's when within its bound (an ARN of the OpenAPI
        // document's shape is refused only for what `region` must be, a rule across fields).
        (
            json!({"instance_arn": arn_in("us-gov", &long_region), "region": long_region, "label": "x"}),
            vec![("region", "too_long")],
        ),
        (
            json!({"instance_arn": arn_in("us-gov", &long_region), "region": "us-east-1", "label": "x"}),
            vec![("region", "invalid")],
        ),
    ] {
        let r = app.post(&owner, INSTANCES, &body).await;
        let fields: Vec<(&str, &str)> = r.json["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: {}", r.status, r.text))
            .iter()
            .map(|f| (f["field"].as_str().unwrap(), f["code"].as_str().unwrap()))
            .collect();
        assert_eq!((r.status, fields), (422, refused), "{}", r.text);
    }
    assert!(app.list_ids(&owner, INSTANCES).await.is_empty());
    // At the bounds, taken.
    let region_32 = format!("us-{}-1", "z".repeat(27));
    assert_eq!(region_32.len(), 32);
    for (arn, region) in [
        (at_256.as_str(), "us-east-1"),
        (&arn_in("us-gov", &region_32), region_32.as_str()),
    ] {
        app.create(
            &owner,
            INSTANCES,
            json!({"instance_arn": arn, "region": region, "label": "x"}),
        )
        .await;
    }
    assert_eq!(app.list_ids(&owner, INSTANCES).await.len(), 2);
    let r = app
        .get(&owner, &format!("{INSTANCES}?region={long_region}"))
        .await;
    r.assert_error(422, "validation_failed");
}

/// The table refuses, as the app role, an ARN over 256 characters and a region over 32
/// (`aws_connect_instances_instance_arn_length_check`, `..._region_length_check`, V0188,
/// validated by V0189), whatever writes them: not a btree's 54000.
#[tokio::test]
async fn the_table_refuses_an_arn_or_a_region_over_its_bound() {
    use palisade_test_support::sql::{assert_check_refuses, constraint_definition};
    let db = palisade_test_support::TestDb::new().await;
    let c = db.app_client().await;
    let org = begin_new_organization(&c).await;
    c.batch_execute("COMMIT").await.unwrap();
    begin_as(&c, org, "owner").await;
    let insert_arn = "INSERT INTO palisade.aws_connect_instances (id, instance_arn, region, label) \
                      VALUES (gen_random_uuid(), $1, 'us-east-1', 'Main')";
    let over = arn_in(&letters(3000), "us-east-1");
    assert_check_refuses(
        &c,
        insert_arn,
        &over,
        "aws_connect_instances_instance_arn_length_check",
    )
    .await;
    let insert_region = "INSERT INTO palisade.aws_connect_instances \
                         (id, instance_arn, region, label) \
                         VALUES (gen_random_uuid(), 'arn:aws:connect:' || $1 \
                                 || ':123456789012:instance/12345678-1234-1234-1234-123456789012', \
                                 $1, 'Main')";
    assert_check_refuses(
        &c,
        insert_region,
        &format!("us-{}-1", letters(40)),
        "aws_connect_instances_region_length_check",
    )
    .await;
    rollback(&c).await;
    let su = db.superuser_client().await;
    for (name, definition) in [
        (
            "aws_connect_instances_instance_arn_length_check",
            "CHECK ((char_length(instance_arn) <= 256))",
        ),
        (
            "aws_connect_instances_region_length_check",
            "CHECK ((char_length(region) <= 32))",
        ),
    ] {
        assert_eq!(
            constraint_definition(&su, name).await,
            (definition.to_owned(), true)
        );
    }
}

#[actix_web::test]
async fn a_credential_is_shown_once_rotated_by_creating_another_and_revoked() {
    let (app, owner, _admin, member) = spawn_app_with_team("Acme").await;
    let arn = new_arn();
    let created = app
        .create(&owner, CREDENTIALS, json!({"label": "EventBridge"}))
        .await;
    let first = created["key"].as_str().unwrap().to_owned();
    assert!(first.starts_with("pcc_") && first.len() == 47, "{first}");
    assert!(first.starts_with(created["prefix"].as_str().unwrap()));
    let path = format!("{CREDENTIALS}/{}", id(&created));
    // Never readable again: not by get, not in the list.
    let read = app.get_ok(&member, &path).await;
    assert_eq!(read.get("key"), None, "{read}");
    assert!(!app.get(&owner, CREDENTIALS).await.text.contains(&first));
    assert!(!app.get(&owner, &path).await.text.contains(&first[4..]));
    app.assert_forbidden(
        &member,
        &[
            ("POST", CREDENTIALS, Some(json!({"label": "x"}))),
            ("PATCH", &path, Some(json!({"label": "x"}))),
            ("DELETE", &path, None),
        ],
    )
    .await;
    let r = app
        .patch(&owner, &path, &json!({"label": "Old connection"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    app.create(
        &owner,
        INSTANCES,
        json!({"instance_arn": arn, "region": "us-west-2", "label": "Main"}),
    )
    .await;
    deliver(&app, &first, &sample("INITIATED", "e1", "c-1", &arn)).await;
    // Rotation: a second credential works alongside the first until the first is revoked.
    let (second, _) = credential(&app, &owner).await;
    assert_ne!(first, second);
    deliver(&app, &second, &sample("QUEUED", "e2", "c-1", &arn)).await;
    deliver(&app, &first, &sample("QUEUED", "e3", "c-2", &arn)).await;
    assert_eq!(app.delete(&owner, &path).await.status, 204);
    assert_eq!(app.delete(&owner, &path).await.status, 204, "idempotent");
    let r = post_event(
        &app,
        Some(&first),
        &sample("CONNECTED_TO_AGENT", "e4", "c-1", &arn),
    )
    .await;
    r.assert_error(401, "invalid_credentials");
    assert!(app.get_ok(&owner, &path).await["revoked_at"].is_string());
    assert_eq!(
        app.list_ids(&owner, &format!("{CREDENTIALS}?revoked=true"))
            .await,
        [id(&created)]
    );
    deliver(
        &app,
        &second,
        &sample("CONNECTED_TO_AGENT", "e5", "c-1", &arn),
    )
    .await;
    let (calls, _, deliveries) = written(&app, &owner).await;
    assert_eq!((calls.len(), deliveries.len()), (2, 4));
}

/// Whoever saw a credential once keeps no power through it after losing the right to make one:
/// removing its creator, or making them a member, revokes it, and its events answer 401.
#[actix_web::test]
async fn a_credential_dies_when_its_creator_is_removed_or_made_a_member() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let arn = new_arn();
    let owners_key = connect(&app, &owner, &arn).await;
    let (demoted, removed) = (
        app.add_user(&owner, Role::Admin).await,
        app.add_user(&owner, Role::Admin).await,
    );
    let (demoted_key, demoted_id) = credential(&app, &demoted).await;
    let (removed_key, removed_id) = credential(&app, &removed).await;
    let second_owner = app.add_user(&owner, Role::Owner).await;
    let (second_owners_key, _) = credential(&app, &second_owner).await;
    // Renaming a member, or making an owner an admin, takes nothing away.
    for (who, patch) in [
        (&demoted, json!({"name": "Renamed"})),
        (&second_owner, json!({"role": "admin"})),
    ] {
        let r = app
            .patch(&owner, &format!("/v1/members/{}", who.user_id), &patch)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    for (n, key) in [&demoted_key, &removed_key, &second_owners_key]
        .into_iter()
        .enumerate()
    {
        deliver(
            &app,
            key,
            &sample("INITIATED", &format!("e{n}"), "c-1", &arn),
        )
        .await;
    }

    app.set_role(&owner, &demoted, Role::Member).await;
    app.remove_member(&owner, &removed).await;

    for (key, cred) in [(&demoted_key, &demoted_id), (&removed_key, &removed_id)] {
        let r = post_event(&app, Some(key), &sample("QUEUED", "e9", "c-2", &arn)).await;
        r.assert_error(401, "invalid_credentials");
        let listed = app.get_ok(&owner, &format!("{CREDENTIALS}/{cred}")).await;
        assert!(listed["revoked_at"].is_string(), "{listed}");
    }
    // Made an admin again, the demoted creator gets nothing back: the revocation stands.
    app.set_role(&owner, &demoted, Role::Admin).await;
    let r = post_event(
        &app,
        Some(&demoted_key),
        &sample("QUEUED", "e9", "c-2", &arn),
    )
    .await;
    r.assert_error(401, "invalid_credentials");
    // The organization's other credential is untouched.
    deliver(&app, &owners_key, &sample("QUEUED", "e10", "c-1", &arn)).await;
    let (calls, _, deliveries) = written(&app, &owner).await;
    assert_eq!((calls.len(), deliveries.len()), (1, 4));
}

#[actix_web::test]
async fn without_a_working_credential_every_event_is_the_same_401() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let registered = new_arn();
    let key = connect(&app, &owner, &registered).await;
    let (revoked, revoked_id) = credential(&app, &owner).await;
    assert_eq!(
        app.delete(&owner, &format!("{CREDENTIALS}/{revoked_id}"))
            .await
            .status,
        204
    );
    let wrong = format!("pcc_{}", "A".repeat(43));
    let api_key = app.api_key(&owner, "server", Role::Admin).await.key;
    let mut answers = Vec::new();
    for arn in [registered.as_str(), &new_arn()] {
        let event = sample("INITIATED", "e1", "c-1", arn);
        for presented in [
            None,
            Some(""),
            Some("pcc_short"),
            Some(wrong.as_str()),
            Some(revoked.as_str()),
            Some(api_key.as_str()),
            Some(&key[..key.len() - 1]),
        ] {
            let r = post_event(&app, presented, &event).await;
            r.assert_error_at(
                401,
                "invalid_credentials",
                format_args!("{presented:?} {arn}"),
            );
            answers.push(r.text);
        }
        // Nothing is read before the credential: not even a body that is not JSON.
        let r = post_raw(&app, Some(&wrong), b"not json").await;
        r.assert_error(401, "invalid_credentials");
        answers.push(r.text);
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_nothing_written(&app, &owner).await;
}

/// An event over the route's 256 KiB is 413 with or without a working credential (the body's
/// size is checked as it is read, before the credential; docs/aws-connect.md), and writes
/// nothing; the document lists the 413.
#[actix_web::test]
async fn an_event_over_the_size_limit_is_413_whatever_the_credential() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let key = connect(&app, &owner, &new_arn()).await;
    let huge = vec![b' '; 256 * 1024 + 1];
    for presented in [Some(key.as_str()), None] {
        let r = post_raw(&app, presented, &huge).await;
        r.assert_error_at(413, "payload_too_large", format_args!("{presented:?}"));
        crate::openapi::assert_status_documented(EVENTS, &r);
    }
    let r = post_raw(&app, None, &[b' '; 256 * 1024]).await;
    r.assert_error(401, "invalid_credentials");
    assert_nothing_written(&app, &owner).await;
}

#[actix_web::test]
async fn events_the_organization_does_not_record_are_acknowledged_and_write_nothing() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let arn = new_arn();
    let key = connect(&app, &owner, &arn).await;
    let mut other_source = sample("INITIATED", "e2", "c-1", &arn);
    other_source["source"] = json!("aws.s3");
    let mut monitor = sample("INITIATED", "e7", "c-1", &arn);
    monitor["detail"]["initiationMethod"] = json!("MONITOR");
    for event in [
        // An instance this organization did not register.
        sample("INITIATED", "e1", "c-1", &new_arn()),
        other_source,
        on_channel(sample("INITIATED", "e3", "c-1", &arn), "TASK"),
        on_channel(sample("INITIATED", "e4", "c-1", &arn), "EMAIL"),
        sample("CONTACT_DATA_UPDATED", "e5", "c-1", &arn),
        on_channel(sample("CONTACT_DATA_UPDATED", "e6", "c-1", &arn), "VOICE"),
        monitor,
    ] {
        let r = post_event(&app, Some(&key), &event).await;
        assert_eq!(r.status, 200, "{event}: {}", r.text);
    }
    // Unreadable bodies, once authenticated: 400, nothing written.
    let mut no_contact = sample("INITIATED", "e8", "c-1", &arn);
    no_contact["detail"]
        .as_object_mut()
        .unwrap()
        .remove("contactId");
    let mut bad_time = sample("INITIATED", "e9", "c-1", &arn);
    bad_time["detail"]["initiationTimestamp"] = json!("yesterday");
    // RFC 3339, but in the year 10000 once in UTC (it answered 500: the time crate panicked).
    let mut past_9999 = sample("INITIATED", "e10", "c-1", &arn);
    past_9999["detail"]["initiationTimestamp"] = json!("9999-12-31T23:59:59-01:00");
    for body in [
        b"not json".to_vec(),
        b"[]".to_vec(),
        no_contact.to_string().into_bytes(),
        bad_time.to_string().into_bytes(),
        past_9999.to_string().into_bytes(),
    ] {
        let r = post_raw(&app, Some(&key), &body).await;
        r.assert_error(400, "invalid_payload");
    }
    assert_nothing_written(&app, &owner).await;
}

/// An event whose id, contact id, previous contact id, instance, queue or agent ARN holds a
/// control character answers 400 `invalid_payload` and writes nothing (docs/aws-connect.md, "The
/// events route"). A NUL answered 500 (PostgreSQL refuses it in text, SQLSTATE 22021), which
/// EventBridge retries for a day; the other control characters were written.
#[actix_web::test]
async fn an_id_or_arn_with_a_control_character_is_refused_and_writes_nothing() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let arn = new_arn();
    let key = connect(&app, &owner, &arn).await;
    for bad in ["\u{0}", "\u{1b}", "\u{85}"] {
        let mut transfer = sample("INITIATED", "e4", "c-1", &arn);
        transfer["detail"]["initiationMethod"] = json!("TRANSFER");
        transfer["detail"]["previousContactId"] = json!(format!("c-{bad}0"));
        let mut queued = sample("QUEUED", "e5", "c-1", &arn);
        queued["detail"]["queueInfo"]["queueArn"] = json!(format!("{arn}/queue/{bad}"));
        let mut agent = sample("CONNECTED_TO_AGENT", "e6", "c-1", &arn);
        agent["detail"]["agentInfo"]["agentArn"] = json!(format!("{arn}/agent/{bad}"));
        for event in [
            sample("INITIATED", &format!("e{bad}1"), "c-1", &arn),
            sample("INITIATED", "e2", &format!("c-{bad}1"), &arn),
            sample("INITIATED", "e3", "c-1", &format!("{arn}{bad}")),
            // On a channel we do not record, too: the event cannot be read.
            on_channel(
                sample("INITIATED", "e3", "c-1", &format!("{arn}{bad}")),
                "TASK",
            ),
            transfer,
            queued,
            agent,
        ] {
            let r = post_event(&app, Some(&key), &event).await;
            assert_eq!(r.status, 400, "{event}: {}", r.text);
            r.assert_error(400, "invalid_payload");
        }
    }
    assert_nothing_written(&app, &owner).await;
    // The same events without it are applied.
    deliver(&app, &key, &sample("INITIATED", "e1", "c-1", &arn)).await;
    let mut queued = sample("QUEUED", "e5", "c-1", &arn);
    queued["detail"]["queueInfo"]["queueArn"] = json!(format!("{arn}/queue/q"));
    deliver(&app, &key, &queued).await;
    assert_eq!(
        the_call(&app, &owner).await["queue_arn"],
        format!("{arn}/queue/q")
    );
}

#[actix_web::test]
async fn a_voice_contact_lifecycle_from_aws_samples_is_one_call() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let arn = new_arn();
    let key = connect(&app, &owner, &arn).await;
    let contact = Uuid::new_v4().to_string();
    for (n, (event_type, status)) in [
        ("INITIATED", "queued"),
        ("QUEUED", "ringing"),
        ("CONNECTED_TO_AGENT", "in_progress"),
        ("DISCONNECTED", "completed"),
    ]
    .into_iter()
    .enumerate()
    {
        deliver(
            &app,
            &key,
            &sample(event_type, &format!("ev-{n}"), &contact, &arn),
        )
        .await;
        assert_eq!(
            the_call(&app, &owner).await["status"],
            status,
            "{event_type}"
        );
    }
    let call = the_call(&app, &owner).await;
    let instance = &app.get_ok(&owner, INSTANCES).await["data"][0];
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["connect_contact_id"], contact.as_str());
    assert_eq!(call["connect_instance_id"], instance["id"]);
    assert_eq!(call["started_at"], "2021-08-04T17:17:53.000000Z");
    assert_eq!(call["ended_at"], "2021-08-04T17:18:37.000000Z");
    assert_eq!(call["duration_seconds"], 44);
    assert_eq!(
        call["queue_arn"],
        format!("{arn}/queue/12345678-1234-1234-1234-123456789012")
    );
    assert_eq!(
        call["agent_arn"],
        format!("{arn}/agent/12345678-1234-1234-1234-123456789012")
    );
    // Contact events carry no numbers: none are invented.
    assert_eq!(
        (&call["from_number"], &call["to_number"]),
        (&Value::Null, &Value::Null)
    );
    let deliveries = data(&app, &owner, "/v1/webhook-deliveries?kind=connect.contact").await;
    assert_eq!(deliveries.len(), 4);
    assert!(
        deliveries
            .iter()
            .all(|d| d["subject_id"] == call["id"] && d["outcome"] == "applied")
    );
    // A call created through the API still needs both numbers.
    let r = app
        .post(&owner, "/v1/calls", &json!({"direction": "inbound"}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);

    // An outbound contact (the disconnected sample as AWS gives it: OUTBOUND, no queue).
    let outbound = Uuid::new_v4().to_string();
    let mut event = sample("DISCONNECTED", "ev-out", &outbound, &arn);
    event["detail"]["initiationMethod"] = json!("OUTBOUND");
    deliver(&app, &key, &event).await;
    let calls = data(&app, &owner, "/v1/calls?direction=outbound").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (&calls[0]["status"], &calls[0]["queue_arn"]),
        (&json!("completed"), &Value::Null)
    );
    // A transfer of it takes its direction.
    let mut transfer = sample("INITIATED", "ev-transfer", "c-transferred", &arn);
    transfer["detail"]["initiationMethod"] = json!("TRANSFER");
    transfer["detail"]["previousContactId"] = json!(outbound);
    deliver(&app, &key, &transfer).await;
    assert_eq!(
        data(&app, &owner, "/v1/calls?direction=outbound")
            .await
            .len(),
        2
    );
}

#[actix_web::test]
async fn the_same_event_twice_or_at_once_changes_nothing_more() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let arn = new_arn();
    let key = connect(&app, &owner, &arn).await;
    let initiated = sample("INITIATED", "ev-1", "c-1", &arn);
    for _ in 0..5 {
        deliver(&app, &key, &initiated).await;
    }
    let first = the_call(&app, &owner).await;
    let connected = sample("CONNECTED_TO_AGENT", "ev-2", "c-1", &arn);
    let answers = join_all((0..5).map(|_| post_event(&app, Some(&key), &connected))).await;
    assert!(answers.iter().all(|r| r.status == 200), "{answers:?}");
    // Five first events of a new contact at once: one call.
    let fresh = sample("INITIATED", "ev-3", "c-2", &arn);
    let answers = join_all((0..5).map(|_| post_event(&app, Some(&key), &fresh))).await;
    assert!(answers.iter().all(|r| r.status == 200), "{answers:?}");
    let (calls, _, deliveries) = written(&app, &owner).await;
    assert_eq!(
        (calls.len(), deliveries.len()),
        (2, 3),
        "{calls:?} {deliveries:?}"
    );
    let call = app
        .get_ok(&owner, &format!("/v1/calls/{}", id(&first)))
        .await;
    assert_eq!(call["status"], "in_progress");
    // A repeated event is rolled back whole: the call is as the first delivery left it.
    deliver(&app, &key, &connected).await;
    assert_eq!(
        app.get_ok(&owner, &format!("/v1/calls/{}", id(&first)))
            .await,
        call
    );
}

#[actix_web::test]
async fn events_out_of_order_never_take_a_call_back() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let arn = new_arn();
    let key = connect(&app, &owner, &arn).await;
    deliver(&app, &key, &sample("DISCONNECTED", "ev-4", "c-1", &arn)).await;
    let done = the_call(&app, &owner).await;
    assert_eq!(done["status"], "completed");
    deliver(
        &app,
        &key,
        &sample("CONNECTED_TO_AGENT", "ev-3", "c-1", &arn),
    )
    .await;
    deliver(&app, &key, &sample("QUEUED", "ev-2", "c-1", &arn)).await;
    deliver(&app, &key, &sample("INITIATED", "ev-1", "c-1", &arn)).await;
    let call = the_call(&app, &owner).await;
    assert_eq!(call["status"], "completed");
    assert_eq!(
        (
            &call["started_at"],
            &call["ended_at"],
            &call["duration_seconds"]
        ),
        (&done["started_at"], &done["ended_at"], &json!(44))
    );
    // What the late events knew and the first did not is filled in.
    assert_eq!(
        call["queue_arn"],
        format!("{arn}/queue/12345678-1234-1234-1234-123456789012")
    );
    let outcomes: Vec<Value> = data(&app, &owner, "/v1/webhook-deliveries")
        .await
        .iter()
        .map(|d| d["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        [
            json!("stale"),
            json!("stale"),
            json!("stale"),
            json!("applied")
        ]
    );
}

#[actix_web::test]
async fn two_organizations_with_one_arn_each_get_only_their_own_events() {
    let (app, a) = spawn_app_with_owner("Acme").await;
    let b = app.signup("Other").await;
    let arn = new_arn();
    let key_a = connect(&app, &a, &arn).await;
    let key_b = connect(&app, &b, &arn).await;
    deliver(&app, &key_a, &sample("INITIATED", "ev-1", "c-a", &arn)).await;
    deliver(&app, &key_b, &sample("INITIATED", "ev-1", "c-b", &arn)).await;
    deliver(&app, &key_b, &sample("DISCONNECTED", "ev-2", "c-b", &arn)).await;
    let call_a = the_call(&app, &a).await;
    let call_b = the_call(&app, &b).await;
    assert_eq!(
        (&call_a["connect_contact_id"], &call_a["status"]),
        (&json!("c-a"), &json!("queued"))
    );
    assert_eq!(
        (&call_b["connect_contact_id"], &call_b["status"]),
        (&json!("c-b"), &json!("completed"))
    );
    assert_eq!(
        app.get(&a, &format!("/v1/calls/{}", id(&call_b)))
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn a_chat_contact_becomes_a_conversation_closed_on_disconnect() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let arn = new_arn();
    let key = connect(&app, &owner, &arn).await;
    let contact = Uuid::new_v4().to_string();
    for (event_type, n) in [("INITIATED", 1), ("CONNECTED_TO_AGENT", 2)] {
        let event = on_channel(
            sample(event_type, &format!("ev-{n}"), &contact, &arn),
            "CHAT",
        );
        deliver(&app, &key, &event).await;
    }
    let (calls, conversations, _) = written(&app, &owner).await;
    assert!(calls.is_empty());
    assert_eq!(conversations.len(), 1);
    assert_eq!(
        (
            &conversations[0]["status"],
            &conversations[0]["connect_contact_id"]
        ),
        (&json!("open"), &json!(contact))
    );
    deliver(
        &app,
        &key,
        &on_channel(sample("DISCONNECTED", "ev-3", &contact, &arn), "CHAT"),
    )
    .await;
    // A late event does not reopen it.
    deliver(
        &app,
        &key,
        &on_channel(sample("QUEUED", "ev-4", &contact, &arn), "CHAT"),
    )
    .await;
    let (_, conversations, deliveries) = written(&app, &owner).await;
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0]["status"], "closed");
    assert_eq!(deliveries.len(), 4);
}

/// An event whose instance is deleted while the event is applied is acknowledged and writes
/// nothing, as an event of an instance the organization never registered. The delete here has
/// run but not committed when the event arrives, and commits while the event waits for it. The
/// instance was read without a lock (a lock would need the instances' UPDATE policy, owners and
/// admins only), so it was still found, and the call's or conversation's foreign key check
/// failed once the delete committed (23503: 500, and EventBridge's retry, finding no instance,
/// dropped the event).
#[actix_web::test]
async fn an_event_of_an_instance_deleted_meanwhile_is_acknowledged_and_writes_nothing() {
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let su = app.db.superuser_client().await;
    for channel in ["VOICE", "CHAT"] {
        let arn = new_arn();
        let key = connect(&app, &owner, &arn).await;
        let instance = data(&app, &owner, INSTANCES)
            .await
            .into_iter()
            .find(|i| i["instance_arn"] == arn.as_str())
            .unwrap();
        let instance: Uuid = id(&instance).parse().unwrap();
        su.batch_execute("BEGIN").await.unwrap();
        su.execute(
            "DELETE FROM palisade.aws_connect_instances WHERE id = $1",
            &[&instance],
        )
        .await
        .unwrap();
        let event = on_channel(
            sample("INITIATED", &format!("e-{channel}"), "c-1", &arn),
            channel,
        );
        let commit = async {
            app.db.until_one_session_waits_on_a_lock().await;
            su.batch_execute("COMMIT").await.unwrap();
        };
        let (r, ()) = tokio::join!(post_event(&app, Some(&key), &event), commit);
        assert_eq!(r.status, 200, "{channel}: {}", r.text);
    }
    assert_nothing_written(&app, &owner).await;
    assert!(data(&app, &owner, INSTANCES).await.is_empty());
}

/// The isolation seeder: an instance, a credential, a call and a conversation from events.
pub async fn seed(app: &TestApp, acct: &Account, marker: &str) -> Seeded {
    let arn = new_arn();
    let instance = app
        .create(
            acct,
            INSTANCES,
            json!({"instance_arn": arn, "region": "us-west-2", "label": format!("{marker} instance")}),
        )
        .await;
    let (key, credential_id) = credential(app, acct).await;
    deliver(
        app,
        &key,
        &sample("CONNECTED_TO_AGENT", "seed-1", "seed-voice", &arn),
    )
    .await;
    deliver(
        app,
        &key,
        &on_channel(sample("INITIATED", "seed-2", "seed-chat", &arn), "CHAT"),
    )
    .await;
    Seeded {
        items: vec![
            Item {
                path: format!("{INSTANCES}/{}", id(&instance)),
                writes: &["PATCH", "DELETE"],
                patch: json!({"label": "changed by another tenant"}),
            },
            Item {
                path: format!("{CREDENTIALS}/{credential_id}"),
                writes: &["PATCH", "DELETE"],
                patch: json!({"label": "changed by another tenant"}),
            },
        ],
        views: vec![
            INSTANCES.into(),
            format!("{INSTANCES}?region=us-west-2"),
            CREDENTIALS.into(),
            format!("{CREDENTIALS}?revoked=false"),
            "/v1/webhook-deliveries?provider=aws_connect".into(),
        ],
    }
}

#[tokio::test]
async fn the_policies_refuse_instance_writes_to_members() {
    let db = palisade_test_support::TestDb::new().await;
    let c = db.app_client().await;
    let insert = "INSERT INTO palisade.aws_connect_instances (id, instance_arn, region, label) \
                  VALUES ($1, $2, 'us-west-2', 'Main')";
    let org = begin_new_organization(&c).await;
    let id = Uuid::now_v7();
    c.execute(insert, &[&id, &new_arn()]).await.unwrap();
    c.batch_execute("COMMIT").await.unwrap();
    assert_members_read_and_only_admins_write(
        &c,
        org,
        "aws_connect_instances",
        id,
        insert,
        &[&Uuid::now_v7(), &new_arn()],
        "label = 'x'",
    )
    .await;
    // The region is the ARN's, in the table too.
    begin_as(&c, org, "owner").await;
    let err = c
        .execute(
            "INSERT INTO palisade.aws_connect_instances (id, instance_arn, region, label) \
             VALUES ($1, $2, 'eu-west-1', 'Main')",
            &[&Uuid::now_v7(), &new_arn()],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err, "region"), &SqlState::CHECK_VIOLATION);
    rollback(&c).await;
}

#[tokio::test]
async fn credentials_in_sql_hashes_unreadable_revocation_final_and_resolved_by_the_resolver_only() {
    let db = palisade_test_support::TestDb::new().await;
    let c = db.app_client().await;
    let org = begin_new_organization(&c).await;
    let (owner, admin) = (Uuid::now_v7(), Uuid::now_v7());
    for (user, role) in [(owner, "owner"), (admin, "admin")] {
        c.execute(
            "INSERT INTO palisade.users (id, email, name, role, password_hash) \
             VALUES ($1, $2, 'U', $3, 'x')",
            &[&user, &format!("{user}@example.com"), &role],
        )
        .await
        .unwrap();
    }
    c.batch_execute("COMMIT").await.unwrap();
    let (id, hash) = (Uuid::now_v7(), vec![7u8; 32]);
    let insert = "INSERT INTO palisade.aws_connect_credentials (id, label, prefix, key_hash, created_by) \
                  VALUES ($1, 'EventBridge', 'pcc_abcdefgh', $2, $3)";
    execute_as(&c, org, owner, "owner", insert, &[&id, &hash, &owner]).await;
    let resolve = "SELECT palisade_private.aws_connect_credential_lookup($1)";
    let found: Option<Uuid> = c.query_one(resolve, &[&hash]).await.unwrap().get(0);
    assert_eq!(found, Some(org), "the resolver finds a working credential");

    // A credential works only while its creator is an owner or admin of its organization,
    // whatever its revoked_at says (the API also revokes it then; this is the second line).
    let admins = (Uuid::now_v7(), vec![9u8; 32]);
    execute_as(
        &c,
        org,
        admin,
        "admin",
        insert,
        &[&admins.0, &admins.1, &admin],
    )
    .await;
    let set_role = "UPDATE palisade.users SET role = $2 WHERE id = $1";
    for (role, expected) in [("member", None), ("admin", Some(org)), ("owner", Some(org))] {
        execute_as(&c, org, owner, "owner", set_role, &[&admin, &role]).await;
        let found: Option<Uuid> = c.query_one(resolve, &[&admins.1]).await.unwrap().get(0);
        assert_eq!(found, expected, "its creator made {role}");
    }
    let remove = "DELETE FROM palisade.users WHERE id = $1";
    execute_as(&c, org, owner, "owner", remove, &[&admin]).await;
    let found: Option<Uuid> = c.query_one(resolve, &[&admins.1]).await.unwrap().get(0);
    assert_eq!(found, None, "its creator removed");

    // Members mint none; nobody mints one recorded as created by someone else.
    for (role, user, created_by) in [("member", owner, owner), ("admin", Uuid::now_v7(), owner)] {
        begin_as_user(&c, org, user, role).await;
        let err = c
            .execute(insert, &[&Uuid::now_v7(), &vec![8u8; 32], &created_by])
            .await
            .unwrap_err();
        assert!(is_rls_refusal(&err), "{role}: {err:?}");
        rollback(&c).await;
    }
    // The hash is write-only: not even its owner's organization reads it.
    begin_as_user(&c, org, owner, "owner").await;
    let err = c
        .query("SELECT key_hash FROM palisade.aws_connect_credentials", &[])
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err, "key_hash"),
        &SqlState::INSUFFICIENT_PRIVILEGE
    );
    rollback(&c).await;
    // Never deleted (no DELETE grant at all), and once revoked, revoked for good.
    begin_as_user(&c, org, owner, "owner").await;
    let err = c
        .execute(
            "DELETE FROM palisade.aws_connect_credentials WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err, "delete"), &SqlState::INSUFFICIENT_PRIVILEGE);
    rollback(&c).await;
    execute_as(&c, org, owner, "owner", db_revoke(), &[&id]).await;
    let found: Option<Uuid> = c.query_one(resolve, &[&hash]).await.unwrap().get(0);
    assert_eq!(found, None, "a revoked credential resolves to nothing");
    begin_as_user(&c, org, owner, "owner").await;
    let err = c
        .execute(
            "UPDATE palisade.aws_connect_credentials SET revoked_at = NULL WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err, "un-revoke"), &SqlState::CHECK_VIOLATION);
    rollback(&c).await;
    // Outside any organization the table is empty and unwritable.
    begin_as(&c, "", "owner").await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM palisade.aws_connect_credentials", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    rollback(&c).await;
}

fn db_revoke() -> &'static str {
    "UPDATE palisade.aws_connect_credentials SET revoked_at = now() WHERE id = $1"
}

/// A Connect contact that ends announces `call.completed` with its duration (written by a later
/// statement of the same transaction than the status), once, however often AWS repeats it.
#[actix_web::test]
async fn a_disconnected_contact_is_announced_as_call_completed_with_its_duration() {
    use palisade_test_support::receiver::{Receiver, Reply, TestCa, test_worker};
    let (app, owner) = spawn_app_with_owner("Acme").await;
    let arn = new_arn();
    let key = connect(&app, &owner, &arn).await;
    let ca = TestCa::new();
    let r = Receiver::start(&ca, Reply::Status(200)).await;
    app.create(
        &owner,
        "/v1/webhooks",
        json!({"url": r.url(), "event_types": ["call.completed"]}),
    )
    .await;
    let contact = Uuid::new_v4().to_string();
    for (n, event_type) in [
        "INITIATED",
        "CONNECTED_TO_AGENT",
        "DISCONNECTED",
        "DISCONNECTED",
    ]
    .into_iter()
    .enumerate()
    {
        deliver(
            &app,
            &key,
            &sample(event_type, &format!("ev-{n}"), &contact, &arn),
        )
        .await;
    }
    let worker = test_worker(
        app.pool.clone(),
        std::sync::Arc::new(app.clock.clone()),
        &ca,
        &[&r],
        &[],
        true,
    );
    assert_eq!(worker.run_once().await.expect("cycle").succeeded, 1);
    let call = the_call(&app, &owner).await;
    let got = r.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].json()["data"],
        json!({"id": call["id"], "direction": "inbound", "duration_seconds": 44})
    );
}
