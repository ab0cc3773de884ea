//! Voice campaigns, and every call placed or received.

use palisade_domain::{
    CallId, CallNotes, CallStatus, CampaignName, CampaignStatus, CustomerId, Direction,
    PhoneNumber, ProviderId, VoiceCampaignId, VoiceScript,
};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

pub use super::campaign::CampaignFilter;
use super::campaign::impl_campaign;
use super::decode;
use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// The key that keeps a call SID unique within an organization.
pub const CALL_SID_KEY: &str = "calls_call_sid_key";
/// The composite foreign key from a call to its customer.
pub const CUSTOMER_FKEY: &str = "calls_customer_fkey";
/// The composite foreign key from a call to its voice campaign.
pub const CAMPAIGN_FKEY: &str = "calls_voice_campaign_fkey";
/// An outbound call's from_number is one of the organization's numbers with the `voice`
/// capability (a trigger, sql/V0070, raising a foreign key violation by this name).
pub const FROM_NUMBER_OWNED: &str = "calls_from_number_owned";

macro_rules! campaign_columns {
    () => {
        "id, name, script, status, scheduled_at, created_at, updated_at"
    };
}

macro_rules! call_columns {
    () => {
        "id, voice_campaign_id, customer_id, direction, from_number, to_number, call_sid, status, \
         duration_seconds, started_at, ended_at, last_sequence_number, notes, created_at, updated_at"
    };
}

/// A voice campaign as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceCampaign {
    /// Its id.
    pub id: Uuid,
    /// Name (internal).
    pub name: String,
    /// What the calls say or follow, if written yet.
    pub script: Option<String>,
    /// Status.
    pub status: CampaignStatus,
    /// When it goes (or went) out, if scheduled.
    pub scheduled_at: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A voice campaign to create.
#[derive(Debug, Clone)]
pub struct NewVoiceCampaign {
    /// Name.
    pub name: CampaignName,
    /// Script, if any.
    pub script: Option<VoiceScript>,
    /// Initial status (the API allows draft or scheduled).
    pub status: CampaignStatus,
    /// When it goes out.
    pub scheduled_at: Option<OffsetDateTime>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct VoiceCampaignPatch {
    /// New name.
    pub name: Option<CampaignName>,
    /// New or cleared script.
    pub script: Option<Option<VoiceScript>>,
    /// New status (already checked against the current one).
    pub status: Option<CampaignStatus>,
    /// New or cleared schedule.
    pub scheduled_at: Option<Option<OffsetDateTime>>,
}

impl_campaign!(
    VoiceCampaign,
    VoiceCampaignId,
    "voice_campaigns",
    campaign_columns!()
);

fn campaign_from_row(r: &Row) -> Result<VoiceCampaign, DbError> {
    Ok(VoiceCampaign {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        script: r.try_get("script")?,
        status: decode(r, "status", CampaignStatus::parse)?,
        scheduled_at: r.try_get("scheduled_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Creates a campaign in the acting organization.
pub async fn create_campaign(
    tx: &mut TenantTx,
    new: &NewVoiceCampaign,
) -> Result<VoiceCampaign, DbError> {
    let id = VoiceCampaignId::new();
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO palisade.voice_campaigns (id, name, script, status, scheduled_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING ",
                campaign_columns!()
            ),
            &[
                &id.as_uuid(),
                &new.name.as_str(),
                &new.script.as_ref().map(VoiceScript::as_str),
                &new.status.as_str(),
                &new.scheduled_at,
            ],
        )
        .await?;
    campaign_from_row(&row)
}

/// Applies `patch` (checked by the caller against the row it locked); `None` when the campaign
/// does not exist in this organization.
pub async fn update_campaign(
    tx: &mut TenantTx,
    id: VoiceCampaignId,
    patch: &VoiceCampaignPatch,
) -> Result<Option<VoiceCampaign>, DbError> {
    let set_script = patch.script.is_some();
    let script = patch
        .script
        .as_ref()
        .and_then(|s| s.as_ref().map(VoiceScript::as_str));
    let set_scheduled = patch.scheduled_at.is_some();
    let scheduled_at = patch.scheduled_at.flatten();
    let row = tx
        .query_opt(
            concat!(
                "UPDATE palisade.voice_campaigns SET \
                     name = coalesce($2, name), \
                     script = CASE WHEN $3 THEN $4 ELSE script END, \
                     status = coalesce($5, status), \
                     scheduled_at = CASE WHEN $6 THEN $7 ELSE scheduled_at END, \
                     updated_at = now() \
                 WHERE id = $1 RETURNING ",
                campaign_columns!()
            ),
            &[
                &id.as_uuid(),
                &patch.name.as_ref().map(CampaignName::as_str),
                &set_script,
                &script,
                &patch.status.map(CampaignStatus::as_str),
                &set_scheduled,
                &scheduled_at,
            ],
        )
        .await?;
    row.map(|r| campaign_from_row(&r)).transpose()
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Its id.
    pub id: Uuid,
    /// The voice campaign it belongs to, if any.
    pub voice_campaign_id: Option<Uuid>,
    /// The customer on the other end, if known.
    pub customer_id: Option<Uuid>,
    /// Inbound or outbound.
    pub direction: Direction,
    /// Caller (E.164).
    pub from_number: String,
    /// Callee (E.164).
    pub to_number: String,
    /// The carrier's call SID (Twilio CallSid), once known.
    pub call_sid: Option<String>,
    /// Status.
    pub status: CallStatus,
    /// Talk time in seconds, once known.
    pub duration_seconds: Option<i32>,
    /// When it was answered.
    pub started_at: Option<OffsetDateTime>,
    /// When it ended.
    pub ended_at: Option<OffsetDateTime>,
    /// The highest Twilio SequenceNumber applied by the voice status callbacks
    /// ([`crate::carrier_status`]).
    pub last_sequence_number: Option<i64>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A call to record.
#[derive(Debug, Clone)]
pub struct NewCall {
    /// Inbound or outbound.
    pub direction: Direction,
    /// Caller.
    pub from_number: PhoneNumber,
    /// Callee.
    pub to_number: PhoneNumber,
    /// The carrier's call SID, if known.
    pub call_sid: Option<ProviderId>,
    /// Status.
    pub status: CallStatus,
    /// Talk time, if known.
    pub duration_seconds: Option<i32>,
    /// When it was answered.
    pub started_at: Option<OffsetDateTime>,
    /// When it ended (not before `started_at`).
    pub ended_at: Option<OffsetDateTime>,
    /// Its voice campaign.
    pub voice_campaign_id: Option<VoiceCampaignId>,
    /// The customer on the other end.
    pub customer_id: Option<CustomerId>,
    /// Notes.
    pub notes: Option<CallNotes>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct CallPatch {
    /// New or cleared notes.
    pub notes: Option<Option<CallNotes>>,
    /// New or cleared customer.
    pub customer_id: Option<Option<CustomerId>>,
    /// A new status, different from the current one and already checked
    /// ([`CallStatus::may_move_to`]). Moving to `in_progress` records `started_at`; moving to a
    /// final status records `ended_at` and, for an answered call, the duration, unless known
    /// (at most i32::MAX seconds, the column's limit: a start may be dated as far back as 0000).
    pub status: Option<CallStatus>,
    /// Talk time.
    pub duration_seconds: Option<i32>,
}

/// Call list filters.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallFilter {
    /// Only this status.
    pub status: Option<CallStatus>,
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only this campaign's calls.
    pub voice_campaign_id: Option<VoiceCampaignId>,
    /// Only calls with this customer.
    pub customer_id: Option<CustomerId>,
}

fn call_from_row(r: &Row) -> Result<Call, DbError> {
    Ok(Call {
        id: r.try_get("id")?,
        voice_campaign_id: r.try_get("voice_campaign_id")?,
        customer_id: r.try_get("customer_id")?,
        direction: decode(r, "direction", Direction::parse)?,
        from_number: r.try_get("from_number")?,
        to_number: r.try_get("to_number")?,
        call_sid: r.try_get("call_sid")?,
        status: decode(r, "status", CallStatus::parse)?,
        duration_seconds: r.try_get("duration_seconds")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
        last_sequence_number: r.try_get("last_sequence_number")?,
        notes: r.try_get("notes")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn cursor_of_call(c: &Call) -> Cursor {
    Cursor {
        created_at: c.created_at,
        id: c.id,
    }
}

/// One page of calls, newest first. Ends the transaction (one round trip).
pub async fn list_calls(
    tx: TenantTx,
    filter: &CallFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Call, Cursor>, DbError> {
    let status = filter.status.map(CallStatus::as_str);
    let direction = filter.direction.map(Direction::as_str);
    let campaign = filter.voice_campaign_id.map(|c| c.as_uuid());
    let customer = filter.customer_id.map(|c| c.as_uuid());
    ListQuery::new(concat!(
        "SELECT ",
        call_columns!(),
        " FROM palisade.calls WHERE true"
    ))
    .and_opt("status = $", status.as_ref())
    .and_opt("direction = $", direction.as_ref())
    .and_opt("voice_campaign_id = $", campaign.as_ref())
    .and_opt("customer_id = $", customer.as_ref())
    .page(&page)
    .fetch(tx, page.limit, call_from_row, cursor_of_call)
    .await
}

/// The statement of [`get_call`] (and, `FOR UPDATE`, of [`lock_call`]).
const GET_CALL_SQL: &str = concat!(
    "SELECT ",
    call_columns!(),
    " FROM palisade.calls WHERE id = $1"
);

/// One call, or `None` when it does not exist in this organization.
pub async fn get_call(tx: TenantTx, id: CallId) -> Result<Option<Call>, DbError> {
    let rows = tx.query_once(GET_CALL_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(call_from_row).transpose()
}

/// One call, locked until the transaction ends (read it, check the rules or `If-Match`, then
/// update).
pub async fn lock_call(tx: &mut TenantTx, id: CallId) -> Result<Option<Call>, DbError> {
    crate::lock::for_update(tx, GET_CALL_SQL, id.as_uuid(), call_from_row).await
}

/// Records a call. Fails with [`CALL_SID_KEY`] when the SID is already recorded here, and with
/// [`CUSTOMER_FKEY`] or [`CAMPAIGN_FKEY`] when the customer or campaign is not this
/// organization's.
pub async fn create_call(tx: &mut TenantTx, new: &NewCall) -> Result<Call, DbError> {
    let id = CallId::new();
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO palisade.calls (id, direction, from_number, to_number, call_sid, status, \
                     duration_seconds, started_at, ended_at, voice_campaign_id, customer_id, notes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
                call_columns!()
            ),
            &[
                &id.as_uuid(),
                &new.direction.as_str(),
                &new.from_number.as_str(),
                &new.to_number.as_str(),
                &new.call_sid.as_ref().map(ProviderId::as_str),
                &new.status.as_str(),
                &new.duration_seconds,
                &new.started_at,
                &new.ended_at,
                &new.voice_campaign_id.map(|c| c.as_uuid()),
                &new.customer_id.map(|c| c.as_uuid()),
                &new.notes.as_ref().map(CallNotes::as_str),
            ],
        )
        .await?;
    call_from_row(&row)
}

/// Applies `patch`; `None` when the call does not exist in this organization. Fails with
/// [`CUSTOMER_FKEY`] when the customer is not this organization's.
pub async fn update_call(
    tx: &mut TenantTx,
    id: CallId,
    patch: &CallPatch,
) -> Result<Option<Call>, DbError> {
    let set_notes = patch.notes.is_some();
    let notes = patch
        .notes
        .as_ref()
        .and_then(|n| n.as_ref().map(CallNotes::as_str));
    let set_customer = patch.customer_id.is_some();
    let customer = patch.customer_id.flatten().map(|c| c.as_uuid());
    let status = patch.status.map(CallStatus::as_str);
    let ends = patch.status.is_some_and(CallStatus::is_final);
    // In SET, column names are the row's values before this update. The ended_at of a call
    // that started "in the future" (a client's clock) is clamped so ended_at >= started_at holds.
    let row = tx
        .query_opt(
            concat!(
                "UPDATE palisade.calls SET \
                     notes = CASE WHEN $2 THEN $3 ELSE notes END, \
                     customer_id = CASE WHEN $4 THEN $5 ELSE customer_id END, \
                     status = coalesce($6, status), \
                     started_at = CASE WHEN $6 = 'in_progress' THEN coalesce(started_at, now()) ELSE started_at END, \
                     ended_at = CASE WHEN $7 THEN coalesce(ended_at, greatest(started_at, now())) ELSE ended_at END, \
                     duration_seconds = coalesce($8, duration_seconds, CASE WHEN $7 AND started_at IS NOT NULL \
                         THEN least(round(extract(epoch FROM coalesce(ended_at, greatest(started_at, now())) - started_at)), 2147483647)::integer END), \
                     updated_at = now() \
                 WHERE id = $1 RETURNING ",
                call_columns!()
            ),
            &[
                &id.as_uuid(),
                &set_notes,
                &notes,
                &set_customer,
                &customer,
                &status,
                &ends,
                &patch.duration_seconds,
            ],
        )
        .await?;
    row.map(|r| call_from_row(&r)).transpose()
}

/// Deletes a call; `false` when it does not exist in this organization.
pub async fn delete_call(tx: &mut TenantTx, id: CallId) -> Result<bool, DbError> {
    Ok(tx
        .execute("DELETE FROM palisade.calls WHERE id = $1", &[&id.as_uuid()])
        .await?
        == 1)
}
