//! `/v1/phone-numbers`: the E.164 numbers an organization owns. Members read; only owners and
//! admins add, change or release numbers (403 here, and the policies of
//! `policies/320_phone_numbers.sql` refuse it again). A number is unique across the platform:
//! adding one that is taken, by this organization or any other, answers 409
//! `number_unavailable` with no detail about who holds it.

use actix_web::{HttpResponse, web};
use palisade_db::phone_numbers::{
    self as db, NewPhoneNumber, PhoneNumberFilter, PhoneNumberPatch, PhoneNumberRow,
};
use palisade_db::{PageRequest, TenantTx};
use palisade_domain::{
    Capabilities, Capability, IvrMenuId, PhoneLabel, PhoneNumber, PhoneNumberId,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::query_params::{no_such, page_response};
use super::{Fields, method_not_allowed, nullable, parse_id};
use crate::auth::Tenant;
use crate::pagination::{decode_cursor, parse_limit};
use crate::{ApiError, AppState};

/// Registers the phone-number routes (inside `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/phone-numbers")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/phone-numbers/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete))
            .default_service(web::to(method_not_allowed)),
    );
}

/// A number as clients see it.
#[derive(Serialize)]
pub struct PhoneNumberJson {
    id: Uuid,
    number: String,
    label: Option<String>,
    capabilities: Vec<String>,
    ivr_menu_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<PhoneNumberRow> for PhoneNumberJson {
    fn from(n: PhoneNumberRow) -> Self {
        Self {
            id: n.id,
            number: n.number,
            label: n.label,
            capabilities: n.capabilities,
            ivr_menu_id: n.ivr_menu_id,
            created_at: n.created_at,
            updated_at: n.updated_at,
        }
    }
}

fn parse_capabilities(f: &mut Fields, raw: Option<&Vec<String>>) -> Option<Capabilities> {
    match Capabilities::parse(raw?) {
        Ok(c) => Some(c),
        Err(e) => {
            f.invalid("capabilities", e.reason());
            None
        }
    }
}

/// List query string.
#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    number: Option<String>,
    capability: Option<String>,
    ivr_menu_id: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
}

/// `GET /v1/phone-numbers?number=&capability=&ivr_menu_id=&created_after=&created_before=`.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = parse_limit(q.limit.as_deref())?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut f = Fields::default();
    let filter = PhoneNumberFilter {
        number: f.optional("number", q.number.as_deref(), PhoneNumber::parse),
        capability: f.optional("capability", q.capability.as_deref(), Capability::parse),
        ivr_menu_id: f.optional("ivr_menu_id", q.ivr_menu_id.as_deref(), IvrMenuId::parse),
        created_after: f.time("created_after", q.created_after.as_deref()),
        created_before: f.time("created_before", q.created_before.as_deref()),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &filter, PageRequest { after, limit }).await?;
    Ok(page_response(page, PhoneNumberJson::from))
}

/// Create body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    number: Option<String>,
    label: Option<String>,
    capabilities: Option<Vec<String>>,
    ivr_menu_id: Option<String>,
}

/// `POST /v1/phone-numbers` (201; owners and admins). `capabilities` defaults to both.
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    tenant.require_admin()?;
    let mut f = Fields::default();
    let number = f.required("number", body.number.as_deref(), PhoneNumber::parse);
    let label = f.optional("label", body.label.as_deref(), PhoneLabel::parse);
    let default_capabilities = vec!["sms".to_owned(), "voice".to_owned()];
    let capabilities = parse_capabilities(
        &mut f,
        Some(body.capabilities.as_ref().unwrap_or(&default_capabilities)),
    );
    let ivr_menu_id = f.optional("ivr_menu_id", body.ivr_menu_id.as_deref(), IvrMenuId::parse);
    f.finish()?;
    let (Some(number), Some(capabilities)) = (number, capabilities) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let new = NewPhoneNumber {
        number,
        label,
        capabilities,
        ivr_menu_id,
    };
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let created = match db::create(&mut tx, &new).await {
        Err(e) if e.is_unique_violation_of(db::NUMBER_KEY) => {
            return Err(ApiError::Conflict {
                code: "number_unavailable",
                message: "this number is not available",
            });
        }
        Err(e) if e.is_foreign_key_violation_of(db::IVR_MENU_FKEY) => {
            return Err(no_such("ivr_menu_id"));
        }
        other => other?,
    };
    tx.commit().await?;
    Ok(HttpResponse::Created().json(PhoneNumberJson::from(created)))
}

/// `GET /v1/phone-numbers/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, PhoneNumberId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let n = db::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(PhoneNumberJson::from(n)))
}

/// Patch body: absent fields stay; `null` clears `label` or `ivr_menu_id`. The number itself
/// cannot change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "nullable")]
    label: Option<Option<String>>,
    capabilities: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    ivr_menu_id: Option<Option<String>>,
}

/// `PATCH /v1/phone-numbers/{id}` (owners and admins).
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    body: web::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, PhoneNumberId::parse)?;
    tenant.require_admin()?;
    let mut f = Fields::default();
    let patch = PhoneNumberPatch {
        label: f.clearable("label", &body.label, PhoneLabel::parse),
        capabilities: parse_capabilities(&mut f, body.capabilities.as_ref()),
        ivr_menu_id: f.clearable("ivr_menu_id", &body.ivr_menu_id, IvrMenuId::parse),
    };
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let n = match db::update(&mut tx, id, &patch).await {
        Err(e) if e.is_foreign_key_violation_of(db::IVR_MENU_FKEY) => {
            return Err(no_such("ivr_menu_id"));
        }
        other => other?.ok_or(ApiError::NotFound)?,
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(PhoneNumberJson::from(n)))
}

/// `DELETE /v1/phone-numbers/{id}` (204; owners and admins): releases the number.
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, PhoneNumberId::parse)?;
    tenant.require_admin()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if !db::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
