//! Voice campaigns, and every call placed or received: the rows, filters, inserts and
//! updates; reading, locking, listing and deleting are [`crate::crud`]'s.

use palisade_domain::{
    CallDuration, CallNotes, CallStatus, CampaignName, CampaignStatus, CustomerId, Direction,
    PhoneNumber, ProviderId, VoiceCampaignId, VoiceScript,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::campaign::impl_campaign;
use crate::crud;
use crate::{DbError, TenantTx};

/// The key that keeps a call SID unique within an organization.
pub const CALL_SID_KEY: &str = "calls_call_sid_key";
/// The composite foreign key from a call to its customer.
pub const CUSTOMER_FKEY: &str = "calls_customer_fkey";
/// The composite foreign key from a call to its voice campaign.
pub const CAMPAIGN_FKEY: &str = "calls_voice_campaign_fkey";
/// An outbound call's from_number is one of the organization's numbers with the `voice`
/// capability (a trigger, sql/V0070, raising a foreign key violation by this name).
pub const FROM_NUMBER_OWNED: &str = "calls_from_number_owned";

crate::table! {
    /// A voice campaign as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct VoiceCampaign in "palisade.voice_campaigns" {
        /// Its id.
        id: Uuid,
        /// Name (internal).
        name: String,
        /// What the calls say or follow, if written yet.
        script: Option<String>,
        /// Status.
        #[schema(value_type = CampaignStatus)]
        status: String,
        /// When it goes (or went) out, if scheduled.
        #[serde(with = "palisade_domain::timestamp::option")]
        scheduled_at: Option<OffsetDateTime>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

impl_campaign!(VoiceCampaign, "palisade.voice_campaigns");

super::campaign::content_types! {
    /// A voice campaign's content.
    VoiceCampaign: VoiceContent, VoiceEdit {
        /// Name.
        name: set CampaignName,
        /// Script, if any.
        script: clear VoiceScript,
    }
}

crate::table! {
    /// A call as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Call in "palisade.calls" {
        /// Its id.
        id: Uuid,
        /// The voice campaign it belongs to, if any.
        voice_campaign_id: Option<Uuid>,
        /// The customer on the other end, if known.
        customer_id: Option<Uuid>,
        /// Inbound or outbound.
        #[schema(value_type = Direction)]
        direction: String,
        /// Caller (E.164); `null` only for an Amazon Connect contact (its events carry no
        /// numbers).
        from_number: Option<String>,
        /// Callee (E.164); `null` only for an Amazon Connect contact.
        to_number: Option<String>,
        /// The carrier's id of the call (Twilio CallSid), once known.
        call_sid: Option<String>,
        /// Status.
        #[schema(value_type = CallStatus)]
        status: String,
        /// Talk time in seconds, once known (an Amazon Connect contact: from `started_at` to
        /// `ended_at`, queue time included).
        duration_seconds: Option<i32>,
        /// When it was answered (an Amazon Connect contact: when it was initiated).
        #[serde(with = "palisade_domain::timestamp::option")]
        started_at: Option<OffsetDateTime>,
        /// When it ended.
        #[serde(with = "palisade_domain::timestamp::option")]
        ended_at: Option<OffsetDateTime>,
        /// The highest Twilio SequenceNumber applied by the voice status callbacks.
        last_sequence_number: Option<i64>,
        /// Free-text notes.
        notes: Option<String>,
        /// The Amazon Connect contact id, for a call that came from Connect's contact events.
        connect_contact_id: Option<String>,
        /// The registered Connect instance it came from (`null` once that instance is removed).
        connect_instance_id: Option<Uuid>,
        /// The Connect queue it waited in, if any.
        queue_arn: Option<String>,
        /// The Connect agent it was connected to, if any.
        agent_arn: Option<String>,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

crate::insert_type! {
    /// A call to record.
    ///
    /// Fails with [`CALL_SID_KEY`] when the SID is already recorded here, and with
    /// [`CUSTOMER_FKEY`] or [`CAMPAIGN_FKEY`] when the customer or campaign is not this
    /// organization's.
    pub struct NewCall into Call {
        /// Inbound or outbound.
        direction: Direction,
        /// Caller.
        from_number: PhoneNumber,
        /// Callee.
        to_number: PhoneNumber,
        /// The carrier's call SID, if known.
        call_sid: Option<ProviderId>,
        /// Status.
        status: CallStatus,
        /// Talk time, if known.
        duration_seconds: Option<i32>,
        /// When it was answered.
        started_at: Option<OffsetDateTime>,
        /// When it ended (not before `started_at`).
        ended_at: Option<OffsetDateTime>,
        /// Its voice campaign.
        voice_campaign_id: Option<VoiceCampaignId>,
        /// The customer on the other end.
        customer_id: Option<CustomerId>,
        /// Notes.
        notes: Option<CallNotes>,
    }
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct CallPatch {
    /// New or cleared notes.
    pub notes: Option<Option<CallNotes>>,
    /// New or cleared customer.
    pub customer_id: Option<Option<CustomerId>>,
    /// A new status, different from the current one and already checked
    /// ([`CallStatus::may_move_to`]). Moving to `in_progress` records `started_at` (now, or the
    /// recorded `ended_at` if that is earlier); moving to a final status records `ended_at` (now,
    /// or `started_at` if that is later) and, for an answered call, the duration, unless known
    /// (at most i32::MAX seconds, the column's limit: a start may be dated as far back as 0000).
    pub status: Option<CallStatus>,
    /// Talk time.
    pub duration_seconds: Option<CallDuration>,
}

crate::filter_type! {
    /// Call list filters.
    pub struct CallFilter for Call {
        /// Only this status.
        status: CallStatus => "status = $",
        /// Only this direction.
        direction: Direction => "direction = $",
        /// Only this campaign's calls.
        voice_campaign_id: VoiceCampaignId => "voice_campaign_id = $",
        /// Only calls with this customer.
        customer_id: CustomerId => "customer_id = $",
    }
}

impl crud::Update for CallPatch {
    type Row = Call;
    /// Fails with [`CUSTOMER_FKEY`] when the customer is not this organization's.
    async fn update(&self, tx: &mut TenantTx, id: Uuid) -> Result<Option<Call>, DbError> {
        let notes = self.notes.as_ref();
        let customer = self.customer_id.as_ref();
        // In SET, column names are the row's values before this update. A recorded time is
        // never moved, and a new one never breaks ended_at >= started_at: the start of a call
        // recorded as ended (a client may give ended_at alone) is that end at the latest, as the
        // Twilio and Amazon Connect events do; the end of a call that started "in the future" (a
        // client's clock) is that start at the earliest.
        crud::returning_opt(
            tx,
            "UPDATE palisade.calls SET \
                 notes = CASE WHEN $2 THEN $3 ELSE notes END, \
                 customer_id = CASE WHEN $4 THEN $5 ELSE customer_id END, \
                 status = coalesce($6, status), \
                 started_at = CASE WHEN $6 = 'in_progress' THEN coalesce(started_at, least(now(), ended_at)) ELSE started_at END, \
                 ended_at = CASE WHEN $7 THEN coalesce(ended_at, greatest(started_at, now())) ELSE ended_at END, \
                 duration_seconds = coalesce($8, duration_seconds, CASE WHEN $7 AND started_at IS NOT NULL \
                     THEN least(round(extract(epoch FROM coalesce(ended_at, greatest(started_at, now())) - started_at)), 2147483647)::integer END), \
                 updated_at = now() \
             WHERE id = $1",
            &[
                &id,
                &notes.is_some(),
                &notes.and_then(|n| n.as_ref().map(CallNotes::as_str)),
                &customer.is_some(),
                &customer.and_then(|c| c.map(|c| c.as_uuid())),
                &self.status.map(CallStatus::as_str),
                &self.status.is_some_and(CallStatus::is_final),
                &self.duration_seconds.map(CallDuration::seconds),
            ],
        )
        .await
    }
}
