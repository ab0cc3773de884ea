//! Amazon Connect: the instances an organization registers, the credentials its EventBridge
//! connection sends, and applying a contact event to a call or a chat conversation.
//!
//! Before a tenant is known, only [`resolve_credential`] reads anything: one call to
//! `palisade_private.aws_connect_credential_lookup` (`policies/026_aws_connect_resolvers.sql`),
//! which returns the organization of a working credential and nothing else. Everything after
//! runs in [`TenantTx::begin_for_provider`] for that organization, under RLS: the event's
//! instance ARN is looked up among that organization's instances only ([`instance_by_arn`]), so
//! an ARN registered by several organizations is never ambiguous and never reveals another's.
//!
//! Each event is applied by one `INSERT ... ON CONFLICT (organization_id, connect_contact_id) DO
//! UPDATE` statement: the first event of a contact creates its row, later ones update it. A
//! call's status moves only forward ([`CALL_RANK`]); a conversation, once closed, stays closed.
//! Concurrent events of one contact serialize on the unique key, and the delivery record
//! ([`crate::webhooks::record`], keyed by the EventBridge event id) rolls a repeated event back.

use palisade_domain::{
    AwsRegion, CallId, CallStatus, ConnectCredentialId, ConnectInstanceArn, ConnectLabel,
    ConversationId, Direction, OrgId, UserId,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crud;
use crate::twilio_status::CALL_RANK;
use crate::{AppPool, DbError, TenantTx};

/// The unique key that keeps an instance ARN registered once per organization.
pub const INSTANCE_ARN_KEY: &str = "aws_connect_instances_instance_arn_key";

crate::table! {
    /// A registered Connect instance, as stored and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct ConnectInstance in "palisade.aws_connect_instances" {
        /// Its id.
        id: Uuid,
        /// The instance ARN (`arn:aws:connect:<region>:<account>:instance/<id>`), unique within
        /// the organization.
        instance_arn: String,
        /// The ARN's region.
        region: String,
        /// Display label.
        label: String,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

/// An instance to register.
#[derive(Debug, Clone)]
pub struct NewConnectInstance {
    /// The instance ARN.
    pub instance_arn: ConnectInstanceArn,
    /// Its region: the ARN's (checked by the caller, and by the table's `region_matches_arn`),
    /// as an [`AwsRegion`] (at most 32 characters: an ARN's own region is bounded by the ARN's
    /// length only).
    pub region: AwsRegion,
    /// Display label.
    pub label: ConnectLabel,
}

impl crud::Insert for NewConnectInstance {
    type Row = ConnectInstance;
    /// Fails with [`INSTANCE_ARN_KEY`] when this organization already registered the ARN.
    async fn insert(&self, tx: &mut TenantTx) -> Result<ConnectInstance, DbError> {
        crud::returning(
            tx,
            "INSERT INTO palisade.aws_connect_instances (id, instance_arn, region, label) \
             VALUES ($1, $2, $3, $4)",
            &[
                &palisade_domain::ConnectInstanceId::new().as_uuid(),
                &self.instance_arn.as_str(),
                &self.region.as_str(),
                &self.label.as_str(),
            ],
        )
        .await
    }
}

crate::patch_type! {
    /// A partial update: the label only (an instance's ARN is what it is: register another).
    pub struct ConnectInstancePatch for ConnectInstance {
        /// New label.
        label: set ConnectLabel,
    }
}

crate::filter_type! {
    /// Instance list filters.
    pub struct ConnectInstanceFilter for ConnectInstance {
        /// Only instances in this region.
        region: palisade_domain::AwsRegion => "region = $",
    }
}

crate::table! {
    /// An event credential as stored and as clients see it, without its hash (never the
    /// credential itself).
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct ConnectCredential in "palisade.aws_connect_credentials" {
        /// Its id.
        id: Uuid,
        /// Display label.
        label: String,
        /// The credential's first characters (`pcc_` and 8 more), to recognise it.
        prefix: String,
        /// The member who created it.
        created_by: Uuid,
        /// Last use by an event (stamped at most once a minute).
        #[serde(with = "palisade_domain::timestamp::option")]
        last_used_at: Option<OffsetDateTime>,
        /// When it was revoked.
        #[serde(with = "palisade_domain::timestamp::option")]
        revoked_at: Option<OffsetDateTime>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

/// A credential to record. The caller generated it and shows it once; only its hash comes here.
#[derive(Clone)]
pub struct NewConnectCredential {
    /// Display label.
    pub label: ConnectLabel,
    /// The displayable prefix (`pcc_` and 8 characters).
    pub prefix: String,
    /// SHA-256 of the whole credential.
    pub key_hash: [u8; 32],
}

impl std::fmt::Debug for NewConnectCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnectCredential")
            .field("label", &self.label)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl crud::Insert for NewConnectCredential {
    type Row = ConnectCredential;
    /// Records a credential created by the acting user (owners and admins: RLS refuses others).
    async fn insert(&self, tx: &mut TenantTx) -> Result<ConnectCredential, DbError> {
        let created_by = tx
            .context()
            .map(|c| c.user_id.as_uuid())
            .ok_or_else(|| DbError::Decode("a Connect credential is created by a user".into()))?;
        crud::returning(
            tx,
            "INSERT INTO palisade.aws_connect_credentials (id, label, prefix, key_hash, created_by) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &ConnectCredentialId::new().as_uuid(),
                &self.label.as_str(),
                &self.prefix,
                &self.key_hash.as_slice(),
                &created_by,
            ],
        )
        .await
    }
}

crate::patch_type! {
    /// A partial update: the label only (revoking is [`REVOKE_CREDENTIAL`]).
    pub struct ConnectCredentialPatch for ConnectCredential {
        /// New label.
        label: set ConnectLabel,
    }
}

crate::filter_type! {
    /// Credential list filters.
    pub struct ConnectCredentialFilter for ConnectCredential {
        /// Only revoked (`true`) or only working (`false`) credentials.
        revoked: bool => "(revoked_at IS NOT NULL) = $",
    }
}

/// Revokes credential `$1` (idempotent: the first revocation time stays);
/// `DELETE /v1/call-center/aws-connect/credentials/{id}` runs it instead of deleting.
pub const REVOKE_CREDENTIAL: &str = "UPDATE palisade.aws_connect_credentials \
     SET revoked_at = coalesce(revoked_at, now()), updated_at = now() WHERE id = $1";

/// Revokes every working credential `user` created, when the user is removed or loses the
/// owner and admin roles (`DELETE` and `PATCH /v1/members/{id}`): a credential needs an owner or
/// admin to make it, and outlives neither its creator nor their role (the lookup also refuses
/// one whose creator is gone or is a member: policies/026_aws_connect_resolvers.sql). Returns
/// how many.
pub async fn revoke_credentials_created_by(
    tx: &mut TenantTx,
    user: UserId,
) -> Result<u64, DbError> {
    tx.execute(
        "UPDATE palisade.aws_connect_credentials SET revoked_at = now(), updated_at = now() \
         WHERE created_by = $1 AND revoked_at IS NULL",
        &[&user.as_uuid()],
    )
    .await
}

/// The organization of the working credential (not revoked, its creator still an owner or
/// admin there) whose SHA-256 is `key_hash`, before any tenant is known, through the resolver
/// function (which also stamps its `last_used_at` at most once a minute). `None` for an unknown
/// or revoked credential alike.
pub async fn resolve_credential(
    pool: &AppPool,
    key_hash: &[u8; 32],
) -> Result<Option<OrgId>, DbError> {
    let conn = pool.get().await?;
    let stmt = conn
        .prepare_cached("SELECT palisade_private.aws_connect_credential_lookup($1)")
        .await?;
    let row = conn.query_one(&stmt, &[&key_hash.as_slice()]).await?;
    Ok(row.try_get::<_, Option<Uuid>>(0)?.map(OrgId::from_uuid))
}

/// The id of this organization's instance with this ARN, if it registered one.
///
/// Read without a lock: a row lock (`FOR KEY SHARE`) must pass the instances' UPDATE policy,
/// which admits owners and admins only (`policies/255_aws_connect_instances.sql`), and the
/// contact-event webhook's transaction has no role, so a locked read would find no instance at
/// all. An instance deleted by a transaction that commits after this read is caught at the
/// event's insert instead ([`is_instance_gone`]).
pub async fn instance_by_arn(tx: &mut TenantTx, arn: &str) -> Result<Option<Uuid>, DbError> {
    let row = tx
        .query_opt(
            "SELECT id FROM palisade.aws_connect_instances WHERE instance_arn = $1",
            &[&arn],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Whether `e` is [`apply_voice`]'s or [`apply_chat`]'s refusal of the instance it was given:
/// the instance [`instance_by_arn`] found was deleted by a transaction that committed while the
/// insert's foreign key check waited for it (`calls_connect_instance_fkey`,
/// `chat_conversations_connect_instance_fkey`, SQLSTATE 23503). The event is then one of an
/// instance the organization no longer has; the transaction has failed, and is rolled back.
pub fn is_instance_gone(e: &DbError) -> bool {
    e.is_foreign_key_violation_of("calls_connect_instance_fkey")
        || e.is_foreign_key_violation_of("chat_conversations_connect_instance_fkey")
}

/// How a voice contact's call gets its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactDirection {
    /// Known from the event's initiation method.
    Known(Direction),
    /// A transfer: the direction of the contact it was transferred from (`previousContactId`)
    /// when this organization has its call, else inbound.
    FromPrevious,
}

/// A voice contact event, already read and mapped (see `palisade_api::webhooks::aws_connect`).
#[derive(Debug, Clone)]
pub struct VoiceContact<'a> {
    /// The registered instance it came from.
    pub instance_id: Uuid,
    /// Connect's contact id.
    pub contact_id: &'a str,
    /// The contact it was transferred from, if any.
    pub previous_contact_id: Option<&'a str>,
    /// Its direction.
    pub direction: ContactDirection,
    /// What the event says the call's status is now.
    pub status: CallStatus,
    /// When the contact started (its initiation time).
    pub started_at: Option<OffsetDateTime>,
    /// When it was disconnected.
    pub ended_at: Option<OffsetDateTime>,
    /// Its queue, if the event names one.
    pub queue_arn: Option<&'a str>,
    /// Its agent, if the event names one.
    pub agent_arn: Option<&'a str>,
}

/// What applying an event did to its call or conversation (its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactApplied {
    /// The row now has the event's status (created, advanced, or already there).
    Applied(Uuid),
    /// The row was already further along: only missing details were filled in.
    Stale(Uuid),
}

/// Creates or advances the call of a voice contact (see the module doc): the status only moves
/// forward along [`CALL_RANK`]; `started_at` is the earliest start any event reported,
/// `ended_at` the first end (never before the start); queue and agent keep the first value
/// reported; the duration follows from start and end.
pub async fn apply_voice(
    tx: &mut TenantTx,
    contact: &VoiceContact<'_>,
) -> Result<ContactApplied, DbError> {
    let rank_new = CALL_RANK.replace("{s}", "excluded.status");
    let rank_old = CALL_RANK.replace("{s}", "c.status");
    let direction = match contact.direction {
        ContactDirection::Known(d) => Some(d.as_str()),
        ContactDirection::FromPrevious => None,
    };
    let ended_at = match (contact.started_at, contact.ended_at) {
        (Some(s), Some(e)) => Some(e.max(s)),
        (_, e) => e,
    };
    let sql = format!(
        "INSERT INTO palisade.calls AS c \
                (id, direction, status, connect_contact_id, connect_instance_id, queue_arn, agent_arn, \
                 started_at, ended_at) \
         VALUES ($1, coalesce($2::text, \
                    (SELECT p.direction FROM palisade.calls AS p \
                      WHERE p.connect_contact_id = $3::text), 'inbound'), \
                 $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (organization_id, connect_contact_id) DO UPDATE SET \
             status = CASE WHEN ({rank_new}) > ({rank_old}) THEN excluded.status ELSE c.status END, \
             queue_arn = coalesce(c.queue_arn, excluded.queue_arn), \
             agent_arn = coalesce(c.agent_arn, excluded.agent_arn), \
             started_at = least(c.started_at, excluded.started_at, c.ended_at), \
             ended_at = coalesce(c.ended_at, CASE WHEN excluded.ended_at IS NOT NULL \
                 THEN greatest(excluded.ended_at, least(c.started_at, excluded.started_at)) END), \
             updated_at = now() \
         RETURNING c.id, c.status"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &CallId::new().as_uuid(),
                &direction,
                &contact.previous_contact_id,
                &contact.status.as_str(),
                &contact.contact_id,
                &contact.instance_id,
                &contact.queue_arn,
                &contact.agent_arn,
                &contact.started_at,
                &ended_at,
            ],
        )
        .await?;
    let id: Uuid = row.try_get(0)?;
    let status: String = row.try_get(1)?;
    tx.execute(
        "UPDATE palisade.calls SET duration_seconds = \
             least(round(extract(epoch FROM ended_at - started_at)), 2147483647)::integer \
          WHERE id = $1 AND started_at IS NOT NULL AND ended_at IS NOT NULL \
            AND duration_seconds IS DISTINCT FROM \
                least(round(extract(epoch FROM ended_at - started_at)), 2147483647)::integer",
        &[&id],
    )
    .await?;
    Ok(if status == contact.status.as_str() {
        ContactApplied::Applied(id)
    } else {
        ContactApplied::Stale(id)
    })
}

/// Creates the chat conversation of a chat contact (open), or closes it (`closed` true): a
/// closed conversation stays closed.
pub async fn apply_chat(
    tx: &mut TenantTx,
    instance_id: Uuid,
    contact_id: &str,
    closed: bool,
) -> Result<ContactApplied, DbError> {
    let status = if closed { "closed" } else { "open" };
    let row = tx
        .query_one(
            "INSERT INTO palisade.chat_conversations AS c \
                    (id, status, connect_contact_id, connect_instance_id) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organization_id, connect_contact_id) DO UPDATE SET \
                 status = CASE WHEN excluded.status = 'closed' THEN 'closed' ELSE c.status END, \
                 updated_at = now() \
             RETURNING c.id, c.status",
            &[
                &ConversationId::new().as_uuid(),
                &status,
                &contact_id,
                &instance_id,
            ],
        )
        .await?;
    let id: Uuid = row.try_get(0)?;
    let now: String = row.try_get(1)?;
    Ok(if now == status {
        ContactApplied::Applied(id)
    } else {
        ContactApplied::Stale(id)
    })
}
