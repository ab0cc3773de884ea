//! What the email, SMS and voice campaign routes share: the list, get and delete handlers
//! (generic over the channel's [`CampaignRoute`]), the rules of a campaign's lifecycle (a new
//! campaign's status, a PATCH checked against the locked row, deletion), and the check that a
//! campaign still takes recipients. Each channel module keeps its own JSON, its create and
//! PATCH bodies (their fields differ) and its messages or calls.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::messaging::Guarded;
use palisade_db::messaging::campaign::{self as db, Campaign, CampaignFilter};
use palisade_domain::{CampaignStatus, ParseError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::Tenant;
use crate::etag::IfMatch;
use crate::list::List;
use crate::routes::{Fields, parse_id};
use crate::{ApiError, AppState};

/// A channel's campaign as the routes see it: its JSON and how its id is parsed.
pub(super) trait CampaignRoute: Campaign + 'static {
    /// The campaign as clients see it (its schema documents the generic routes).
    type Json: Serialize + From<Self> + utoipa::ToSchema;
    /// Parses the id in a path.
    const PARSE_ID: fn(&str) -> Result<Self::Id, ParseError>;
}

/// Campaign list query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CampaignListQuery {
    #[param(value_type = Option<CampaignStatus>, inline)]
    status: Option<String>,
}

/// `GET /v1/{email,sms,voice}-campaigns?limit=&cursor=&status=&created_after=&created_before=`.
pub(super) async fn list_campaigns<C: CampaignRoute>(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<CampaignListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let status = f.optional("status", q.filter.status.as_deref(), CampaignStatus::parse);
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list_campaigns::<C>(tx, &CampaignFilter { status }, q.page).await?;
    Ok(q.respond(page, C::Json::from))
}

/// `GET /v1/{email,sms,voice}-campaigns/{id}`.
pub(super) async fn get_campaign<C: CampaignRoute>(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, C::PARSE_ID)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let campaign = db::get_campaign::<C>(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(C::Json::from(campaign)))
}

/// `DELETE /v1/{email,sms,voice}-campaigns/{id}` (204): with its recipients (email, SMS), or
/// leaving its calls unlinked (voice); 409 while sending or once sent.
pub(super) async fn delete_campaign<C: CampaignRoute>(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, C::PARSE_ID)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    check_if_match::<C>(&mut tx, id, &if_match).await?;
    match db::delete_campaign::<C>(&mut tx, id).await? {
        Guarded::Done(()) => {}
        Guarded::NotFound => return Err(ApiError::NotFound),
        Guarded::Refused(status) => return Err(not_deletable(status)),
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `If-Match` on a campaign (PATCH, DELETE), against its row locked in `tx`.
pub(super) async fn check_if_match<C: CampaignRoute>(
    tx: &mut TenantTx,
    id: C::Id,
    if_match: &IfMatch,
) -> Result<(), ApiError> {
    if_match
        .check(db::lock_campaign::<C>(tx, id), C::Json::from)
        .await
}

/// The first step of a PATCH: locks the campaign (404 when it is not this organization's) and
/// checks `change` against it ([`check_campaign_change`]). Returns the status to store.
pub(super) async fn lock_and_check<C: Campaign>(
    tx: &mut TenantTx,
    id: C::Id,
    change: &CampaignChange,
    now: OffsetDateTime,
) -> Result<Option<CampaignStatus>, ApiError> {
    let current = db::lock_campaign::<C>(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    check_campaign_change(current.status(), current.scheduled_at(), change, now)
}

/// Before adding a recipient: share-locks the campaign's status (404 when it is not this
/// organization's; 409 unless draft or scheduled).
pub(super) async fn takes_recipients<C: Campaign>(
    tx: &mut TenantTx,
    id: C::Id,
) -> Result<(), ApiError> {
    let status = db::share_campaign_status::<C>(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !status.is_editable() {
        return Err(not_editable_for_recipients(status));
    }
    Ok(())
}

/// Before listing a campaign's recipients: 404 when it is not this organization's.
pub(super) async fn require_campaign<C: Campaign>(
    tx: &mut TenantTx,
    id: C::Id,
) -> Result<(), ApiError> {
    if !db::campaign_exists::<C>(tx, id).await? {
        return Err(ApiError::NotFound);
    }
    Ok(())
}

/// The status of a new campaign: draft (default) or scheduled, which needs `scheduled_at`.
pub(super) fn new_campaign_status(
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
pub(super) struct CampaignChange {
    /// The requested status, if any.
    pub(super) status: Option<CampaignStatus>,
    /// The requested schedule (already checked to be in the future), if any.
    pub(super) scheduled_at: Option<Option<OffsetDateTime>>,
    /// Whether the PATCH touches the content (name, texts, schedule).
    pub(super) edits_content: bool,
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
