//! What the email, SMS and voice campaign routes share: the family [`Campaigns`] of each
//! channel's row (its list route and filters are the same for every channel), the rules of a
//! campaign's lifecycle (a new campaign's status, a PATCH checked against the locked row,
//! deletion: [`Resource::DELETE_GUARD`] and [`Patched::GUARD`]), and the check that a campaign
//! still takes recipients. Each channel module keeps its own JSON, its create and PATCH bodies
//! (their fields differ) and its messages or calls.

use std::marker::PhantomData;

use actix_web::http::StatusCode;
use palisade_db::TenantTx;
use palisade_db::messaging::campaign::{self as db, Campaign, CampaignFilter, CampaignPatch};
use palisade_domain::CampaignStatus;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ApiError;
use crate::endpoints::Endpoints;
use crate::kinds::{Choice, Field};
use crate::resource::{self, Created, Listed, Patched, Resource};
use crate::routes::Fields;

/// The campaigns of the channel whose row is `C`: `/v1/{email,sms,voice}-campaigns`.
pub(crate) struct Campaigns<C>(PhantomData<C>);

/// Campaign list query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CampaignListQuery {
    #[param(value_type = Option<CampaignStatus>, inline)]
    status: Option<String>,
}

crate::rules::field_rules!(CampaignListQuery {
    "status": Choice<CampaignStatus>,
});

impl<C: Campaign + 'static> Listed for Campaigns<C>
where
    Self: Resource<Row = C>,
{
    type Query = CampaignListQuery;
    type Filter = CampaignFilter<C>;

    fn filter(q: &CampaignListQuery, f: &mut Fields) -> CampaignFilter<C> {
        CampaignFilter::new(f.optional("status", q.status.as_deref(), CampaignStatus::parse))
    }
}

/// Declares a channel's campaign create and PATCH bodies: the channel's own fields, then
/// `status` and `scheduled_at`, which every channel takes alike. Create fields are
/// `Option<String>` (required ones `#[schema(required = true, value_type = String)]`); PATCH fields may be
/// absent, null or a string ([`crate::routes::nullable`]), each with its schema. The calling
/// module imports `CampaignStatus`.
macro_rules! campaign_bodies {
    (
        $(#[$create_meta:meta])*
        pub struct $create:ident { $( $(#[$c:meta])* $create_field:ident ),+ $(,)? }
        $(#[$patch_meta:meta])*
        pub struct $patch:ident { $( $(#[$p:meta])* $patch_field:ident ),+ $(,)? }
    ) => {
        #[derive(serde::Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        $(#[$create_meta])*
        pub struct $create {
            $( $(#[$c])* $create_field: Option<String>, )+
            /// `draft` (default) or `scheduled`.
            #[schema(value_type = Option<CampaignStatus>)]
            status: Option<String>,
            /// In the future; required to schedule.
            #[serde(default, deserialize_with = "crate::routes::nullable")]
            #[schema(value_type = Option<String>, format = DateTime)]
            scheduled_at: Option<Option<String>>,
        }

        #[derive(serde::Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        $(#[$patch_meta])*
        pub struct $patch {
            $(
                $(#[$p])*
                #[serde(default, deserialize_with = "crate::routes::nullable")]
                $patch_field: Option<Option<String>>,
            )+
            /// Along the transitions clients may make (409 `invalid_status_transition` otherwise).
            #[serde(default, deserialize_with = "crate::routes::nullable")]
            #[schema(value_type = CampaignStatus)]
            status: Option<Option<String>>,
            /// In the future.
            #[serde(default, deserialize_with = "crate::routes::nullable")]
            #[schema(value_type = Option<String>, format = DateTime)]
            scheduled_at: Option<Option<String>>,
        }
    };
}
pub(super) use campaign_bodies;

/// Declares a channel's five campaign routes; `update` and `delete` describe what its PATCH
/// and DELETE do beyond the rules every channel shares.
pub(super) fn routes<C>(e: &mut Endpoints, update: &str, delete: &str)
where
    C: Campaign + 'static,
    Campaigns<C>: Resource<Row = C> + Created + Patched + crate::changes::Synced,
{
    // The changes feed first: the item routes' `{id}` would take its path.
    crate::changes::changes_route::<Campaigns<C>>(e);
    resource::list_route::<Campaigns<C>>(e);
    resource::create_route::<Campaigns<C>>(e)
        .describe("A draft, or scheduled with a future `scheduled_at`");
    resource::get_route::<Campaigns<C>>(e);
    resource::update_route::<Campaigns<C>>(e)
        .describe(update)
        .errors(&[409]);
    resource::delete_route::<Campaigns<C>>(e)
        .describe(delete)
        .errors(&[409]);
}

/// Every channel's [`Resource::DELETE_GUARD`]: only draft, scheduled and cancelled campaigns
/// may go (409 `campaign_not_deletable` otherwise).
pub(super) fn deletable<C: Campaign>(campaign: &C) -> Result<(), ApiError> {
    let status = campaign.status()?;
    if status.is_deletable() {
        Ok(())
    } else {
        Err(not_deletable(status))
    }
}

/// Every channel's [`Patched::GUARD`]: checks the PATCH against the campaign as it is
/// ([`check_campaign_change`]) and keeps the status to store (`None` when it does not change).
pub(super) fn guard<C: Campaign, T: Default + PartialEq>(
    patch: &mut CampaignPatch<T>,
    current: &C,
) -> Result<(), ApiError> {
    let change = CampaignChange {
        status: patch.status,
        scheduled_at: patch.scheduled_at,
        edits_content: patch.edits_content(),
    };
    patch.status = check_campaign_change(
        current.status()?,
        current.scheduled_at(),
        &change,
        OffsetDateTime::now_utc(),
    )?;
    Ok(())
}

/// Before adding a recipient: share-locks the campaign's status (404 when it is not this
/// organization's; 409 unless draft or scheduled).
pub(super) async fn takes_recipients<C: Campaign>(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<(), ApiError> {
    let status = db::share_status::<C>(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !status.is_editable() {
        return Err(not_editable_for_recipients(status));
    }
    Ok(())
}

impl Fields {
    /// A new campaign's status and schedule: draft (default) or scheduled, which needs a
    /// future `scheduled_at`.
    pub(super) fn new_schedule(
        &mut self,
        status: Option<&str>,
        scheduled_at: &Option<Option<String>>,
    ) -> (CampaignStatus, Option<OffsetDateTime>) {
        let scheduled_at = self
            .scheduled_at(scheduled_at, OffsetDateTime::now_utc())
            .flatten();
        (
            new_campaign_status(self, status, scheduled_at),
            scheduled_at,
        )
    }

    /// A PATCH of the channel's `content` changes, with its status and schedule (checked
    /// against the campaign by [`guard`]).
    pub(super) fn campaign_patch<T>(
        &mut self,
        content: T,
        status: &Option<Option<String>>,
        scheduled_at: &Option<Option<String>>,
    ) -> CampaignPatch<T> {
        let status = Field::set::<Choice<CampaignStatus>>(self, "status", status);
        CampaignPatch {
            content,
            status,
            scheduled_at: self.scheduled_at(scheduled_at, OffsetDateTime::now_utc()),
        }
    }
}

/// The status of a new campaign: draft (default) or scheduled, which needs `scheduled_at`.
fn new_campaign_status(
    f: &mut Fields,
    raw: Option<&str>,
    scheduled_at: Option<OffsetDateTime>,
) -> CampaignStatus {
    let status = f
        .optional("status", raw, CampaignStatus::parse)
        .unwrap_or(CampaignStatus::Draft);
    match status {
        CampaignStatus::Draft => {}
        CampaignStatus::Scheduled => {
            if scheduled_at.is_none() && !f.0.iter().any(|e| e.field == "scheduled_at") {
                f.required_because("scheduled_at", "is required to schedule a campaign");
            }
        }
        // Parsed, but not a status a campaign can start in.
        _ => f.invalid("status", "a new campaign is draft or scheduled"),
    }
    status
}

/// What a PATCH asks of a campaign's lifecycle.
struct CampaignChange {
    /// The requested status, if any.
    status: Option<CampaignStatus>,
    /// The requested schedule (already checked to be in the future), if any.
    scheduled_at: Option<Option<OffsetDateTime>>,
    /// Whether the PATCH touches the content (name, texts, schedule).
    edits_content: bool,
}

/// Checks a PATCH against the campaign's current status (read `FOR UPDATE`): 409 for a
/// transition clients may not make or an edit of a campaign that has gone out, 422 when the
/// result would be scheduled without a future `scheduled_at`. Returns the status to store:
/// `None` when it does not change.
fn check_campaign_change(
    current: CampaignStatus,
    current_scheduled_at: Option<OffsetDateTime>,
    change: &CampaignChange,
    now: OffsetDateTime,
) -> Result<Option<CampaignStatus>, ApiError> {
    let target = change.status.unwrap_or(current);
    if !current.client_may_move_to(target) {
        return Err(ApiError::Http {
            status: StatusCode::CONFLICT,
            code: crate::error::ErrorCode::InvalidStatusTransition,
            message: format!(
                "a {} campaign cannot become {}",
                current.as_str(),
                target.as_str()
            ),
        });
    }
    if change.edits_content && !current.is_editable() {
        return Err(ApiError::Http {
            status: StatusCode::CONFLICT,
            code: crate::error::ErrorCode::CampaignNotEditable,
            message: format!(
                "a {} campaign cannot be edited; only draft and scheduled ones can",
                current.as_str()
            ),
        });
    }
    if target == CampaignStatus::Scheduled && (target != current || change.scheduled_at.is_some()) {
        match change.scheduled_at.unwrap_or(current_scheduled_at) {
            None => {
                return Err(ApiError::Validation(vec![crate::error::FieldError::new(
                    "scheduled_at",
                    crate::error::FieldCode::Required,
                    "is required to schedule a campaign",
                )]));
            }
            Some(t) if t <= now => {
                return Err(ApiError::invalid("scheduled_at", "must be in the future"));
            }
            Some(_) => {}
        }
    }
    Ok((target != current).then_some(target))
}

fn not_deletable(status: CampaignStatus) -> ApiError {
    ApiError::Http {
        status: StatusCode::CONFLICT,
        code: crate::error::ErrorCode::CampaignNotDeletable,
        message: format!(
            "a {} campaign cannot be deleted; only draft, scheduled and cancelled ones can",
            status.as_str()
        ),
    }
}

fn not_editable_for_recipients(status: CampaignStatus) -> ApiError {
    ApiError::Http {
        status: StatusCode::CONFLICT,
        code: crate::error::ErrorCode::CampaignNotEditable,
        message: format!(
            "recipients cannot be added to a {} campaign; only to draft and scheduled ones",
            status.as_str()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignStatus::*;

    fn change(
        status: Option<CampaignStatus>,
        scheduled_at: Option<Option<OffsetDateTime>>,
        edits_content: bool,
    ) -> CampaignChange {
        CampaignChange {
            status,
            scheduled_at,
            edits_content,
        }
    }

    fn code(r: Result<Option<CampaignStatus>, ApiError>) -> String {
        match r {
            Ok(s) => format!("ok {s:?}"),
            Err(ApiError::Http { code, .. }) => code.as_str().to_owned(),
            Err(ApiError::Validation(f)) => format!("422 {}: {}", f[0].field, f[0].reason),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn campaign_changes() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(10_000);
        let later = now + time::Duration::hours(1);
        let earlier = now - time::Duration::hours(1);
        let cases = [
            (
                Draft,
                None,
                change(Some(Scheduled), Some(Some(later)), false),
                "ok Some(Scheduled)",
            ),
            (
                Draft,
                None,
                change(Some(Scheduled), None, false),
                "422 scheduled_at: is required to schedule a campaign",
            ),
            (
                Draft,
                Some(earlier),
                change(Some(Scheduled), None, false),
                "422 scheduled_at: must be in the future",
            ),
            (
                Draft,
                Some(later),
                change(Some(Scheduled), None, false),
                "ok Some(Scheduled)",
            ),
            (
                Scheduled,
                Some(later),
                change(None, Some(None), true),
                "422 scheduled_at: is required to schedule a campaign",
            ),
            (
                Scheduled,
                Some(earlier),
                change(Some(Scheduled), None, false),
                "ok None",
            ),
            (
                Scheduled,
                Some(later),
                change(Some(Draft), None, true),
                "ok Some(Draft)",
            ),
            (
                Draft,
                None,
                change(Some(Sending), None, true),
                "ok Some(Sending)",
            ),
            (
                Sending,
                None,
                change(Some(Cancelled), None, false),
                "ok Some(Cancelled)",
            ),
            (
                Sending,
                None,
                change(Some(Sent), None, false),
                "invalid_status_transition",
            ),
            (
                Sending,
                None,
                change(None, None, true),
                "campaign_not_editable",
            ),
            (
                Sent,
                None,
                change(Some(Draft), None, false),
                "invalid_status_transition",
            ),
            (
                Sent,
                None,
                change(None, None, true),
                "campaign_not_editable",
            ),
            (Sent, None, change(Some(Sent), None, false), "ok None"),
            (
                Cancelled,
                None,
                change(Some(Cancelled), None, true),
                "campaign_not_editable",
            ),
        ];
        for (current, scheduled, ch, expected) in cases {
            assert_eq!(
                code(check_campaign_change(current, scheduled, &ch, now)),
                expected,
                "{current:?} {:?}",
                ch.status
            );
        }
    }
}
