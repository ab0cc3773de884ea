//! `/v1/organization`: the acting organization itself. Every member reads it; owners and admins
//! rename it; only the owner deletes it, and with it every row it owns in every table (the
//! composite foreign keys cascade). `/v1/organization/export` returns all of its data as JSON
//! (owners and admins), generated from the catalog under RLS and without secrets: see
//! `palisade_db::organization`.

use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpResponse, web};
use palisade_db::organization::{self as db, Organization};
use palisade_domain::OrganizationName;
use palisade_domain::stripe::SubscriptionStatus;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, not_null};
use crate::auth::{Caller, UserSession};
use crate::endpoints::Auth;
use crate::etag::IfMatch;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/organization", get)
        .tag("organization")
        .summary("Get the organization")
        .ok::<OrganizationJson>()
        .errors(&[404]);
    e.patch("/v1/organization", update)
        .tag("organization")
        .summary("Rename the organization")
        .describe("Rename (owners and admins)")
        .body::<PatchBody>()
        .ok::<OrganizationJson>()
        .errors(&[403, 404, 413, 415, 422]);
    e.delete("/v1/organization", delete)
        .auth(Auth::User)
        .tag("organization")
        .summary("Delete the organization and everything in it")
        .describe("Irreversible: every row of the organization goes, and every token and key of it stops working (the owner only, with a user's session)")
        .no_content()
        .errors(&[403, 404]);
    e.get("/v1/organization/export", export)
        .tag("organization")
        .summary("Export every row of the organization")
        .describe("`{\"organization_id\", \"exported_at\", \"tables\": {...}}` (owners and admins: every row in it is one a member may read, but a bulk copy of the whole organization is an administrator's act)")
        .ok::<ExportJson>()
        .errors(&[403]);
}

/// The organization as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Organization)]
pub struct OrganizationJson {
    id: Uuid,
    name: String,
    /// The billing plan (`free` until a subscription says otherwise).
    plan: String,
    /// The subscription's status, once there is one.
    #[schema(value_type = Option<SubscriptionStatus>)]
    plan_status: Option<String>,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Organization> for OrganizationJson {
    fn from(o: Organization) -> Self {
        Self {
            id: o.id,
            name: o.name,
            plan: o.plan,
            plan_status: o.plan_status,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// `GET /v1/organization`.
pub async fn get(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let tx = caller.begin(&state).await?;
    let org = db::get(tx).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(OrganizationJson::from(org)))
}

/// Patch body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrganizationPatch)]
pub struct PatchBody {
    /// 1 to 200 characters.
    #[schema(value_type = String, required = true)]
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
}

crate::rules::field_rules!(PatchBody {
    "name": Text<palisade_domain::OrganizationName>,
});

/// `GET /v1/organization/export`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OrganizationExport)]
pub struct ExportJson {
    organization_id: Uuid,
    #[serde(with = "palisade_domain::timestamp")]
    exported_at: OffsetDateTime,
    /// Every table of the organization's data by name, each an array of its rows (objects,
    /// column names as keys), with only the columns the app role may read: no password hash,
    /// integration secret, webhook signing secret, social access token or key hash.
    #[schema(value_type = HashMap<String, Vec<Object>>)]
    tables: serde_json::Value,
}

/// `PATCH /v1/organization`: rename (owners and admins).
#[tracing::instrument(name = "rename_organization", skip_all)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let name = f.required("name", body.name.as_deref(), OrganizationName::parse);
    let name = f.finish_with(name)?;
    let mut tx = caller
        .begin_as(&state, palisade_domain::Role::Admin)
        .await?;
    if_match
        .check(db::lock(&mut tx), OrganizationJson::from)
        .await?;
    // One statement, the last: its COMMIT goes with it (and BEGIN and the check, without
    // If-Match).
    tx.commit_with_next_statement();
    let org = db::rename(&mut tx, &name)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(OrganizationJson::from(org)))
}

/// `DELETE /v1/organization` (204; the owner only, with a user's session, never an API key). Irreversible: every row of the
/// organization goes, and every token and key of it stops working.
#[tracing::instrument(name = "delete_organization", skip_all)]
pub async fn delete(
    state: web::Data<AppState>,
    UserSession(tenant): UserSession,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    tenant.require_owner()?;
    let mut tx = tenant.begin(&state).await?;
    if_match
        .check(db::lock(&mut tx), OrganizationJson::from)
        .await?;
    if !db::delete(&mut tx).await? {
        return Err(ApiError::NotFound);
    }
    // Its phone numbers went back to the inventory with it (the cascade): quarantined from now,
    // by the application's clock, so nobody else takes over its customers' replies at once.
    palisade_db::phone_numbers::quarantine_deleted_organization_numbers(&mut tx, state.clock.now())
        .await?;
    tx.commit().await?;
    tracing::warn!(org.id = %tenant.0.org_id, "organization deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/organization/export`: `{"organization_id", "exported_at", "tables": {...}}`
/// (owners and admins: every row in it is one a member may read, but a bulk copy of the whole
/// organization is an administrator's act).
#[tracing::instrument(name = "export_organization", skip_all)]
pub async fn export(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut tx = caller
        .begin_as(&state, palisade_domain::Role::Admin)
        .await?;
    let tables = db::export(&mut tx).await?;
    let organization_id = tx
        .org_id()
        .ok_or_else(|| ApiError::internal("an answered check left no organization"))?;
    tx.commit().await?;
    let exported_at = OffsetDateTime::now_utc();
    tracing::info!("organization exported");
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(ExportJson {
            organization_id: organization_id.as_uuid(),
            exported_at,
            tables,
        }))
}
