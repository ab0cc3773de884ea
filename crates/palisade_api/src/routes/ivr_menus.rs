//! `/v1/ivr/menus`: IVR menus (a name unique within the organization, and a menu tree parsed by
//! [`IvrMenuTree`], stored and returned as given). Another organization's menu answers 404
//! exactly like a missing one. Every role reads; only owners and admins create, change or
//! delete menus, as for phone numbers (a menu decides where calls are transferred): 403 here,
//! and the policies of `policies/310_ivr_menus.sql` refuse it again.

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::ivr_menus::{self as db, IvrMenu, IvrMenuFilter, IvrMenuPatch};
use palisade_domain::{IvrMenuId, IvrMenuName, IvrMenuTree};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, not_null, parse_id};
use crate::auth::Tenant;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/ivr/menus", list)
        .tag("ivr")
        .summary("List IVR menus")
        .describe("Newest first; `name` is a case-insensitive substring")
        .list_query::<ListQuery>()
        .list::<IvrMenuJson>()
        .errors(&[422]);
    e.post("/v1/ivr/menus", create)
        .tag("ivr")
        .summary("Create an IVR menu")
        .describe("Owners and admins")
        .body::<CreateBody>()
        .created::<IvrMenuJson>()
        .errors(&[403, 409, 413, 415, 422]);
    e.get("/v1/ivr/menus/{id}", get)
        .tag("ivr")
        .summary("Get an IVR menu")
        .ok::<IvrMenuJson>()
        .errors(&[404]);
    e.patch("/v1/ivr/menus/{id}", update)
        .tag("ivr")
        .summary("Update an IVR menu")
        .describe("Owners and admins; `tree` replaces the whole tree")
        .body::<PatchBody>()
        .ok::<IvrMenuJson>()
        .errors(&[403, 404, 409, 413, 415, 422]);
    e.delete("/v1/ivr/menus/{id}", delete)
        .tag("ivr")
        .summary("Delete an IVR menu")
        .describe("Owners and admins; numbers that pointed at it keep working without a menu")
        .no_content()
        .errors(&[403, 404]);
}

/// A menu as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = IvrMenu)]
pub struct IvrMenuJson {
    id: Uuid,
    name: String,
    /// The menu tree, as given: a node is `{"prompt", "options"}`, `options` maps 1 to 12
    /// keypad keys (`0`-`9`, `*`, `#`) to an `action`: `say` (`text`), `transfer` (`to`, E.164),
    /// `submenu` (`menu`, a node), `voicemail` (`greeting`, optional) or `hangup`.
    #[schema(value_type = Object)]
    tree: Value,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<IvrMenu> for IvrMenuJson {
    fn from(m: IvrMenu) -> Self {
        Self {
            id: m.id,
            name: m.name,
            tree: m.tree,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn name_taken() -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::NameTaken,
        message: "another IVR menu of this organization has this name",
    }
}

fn parse_tree(f: &mut Fields, raw: Option<&Value>) -> Option<IvrMenuTree> {
    match IvrMenuTree::parse(raw?) {
        Ok(t) => Some(t),
        Err(e) => {
            f.invalid("tree", e.reason());
            None
        }
    }
}

/// List query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Case-insensitive substring of the name.
    name: Option<String>,
}

/// `GET /v1/ivr/menus?name=&created_after=&created_before=`: newest first; `name` is a
/// case-insensitive substring.
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let filter = IvrMenuFilter {
        name_contains: f.optional("name", q.filter.name.as_deref(), |s| {
            IvrMenuName::parse(s).map(|n| n.as_str().to_owned())
        }),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &filter, q.page).await?;
    Ok(q.respond(page, IvrMenuJson::from))
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IvrMenuCreate)]
pub struct CreateBody {
    /// Unique within the organization (409 `name_taken`).
    #[schema(required = true)]
    name: Option<String>,
    /// The menu tree (see `IvrMenu`); bounded in depth, nodes and size.
    #[schema(required = true, value_type = Object)]
    tree: Option<Value>,
}

/// `POST /v1/ivr/menus` (201; owners and admins).
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    tenant.require_admin()?;
    let mut f = Fields::default();
    let name = f.required("name", body.name.as_deref(), IvrMenuName::parse);
    if body.tree.is_none() {
        f.missing("tree");
    }
    let tree = parse_tree(&mut f, body.tree.as_ref());
    f.finish()?;
    let (Some(name), Some(tree)) = (name, tree) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let menu = match db::create(&mut tx, &name, &tree).await {
        Err(e) if e.is_unique_violation_of(db::NAME_KEY) => return Err(name_taken()),
        other => other?,
    };
    tx.commit(super::created(
        "/v1/ivr/menus",
        menu.id,
        IvrMenuJson::from(menu),
    ))
    .await
}

/// `GET /v1/ivr/menus/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, IvrMenuId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let menu = db::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(IvrMenuJson::from(menu)))
}

/// Patch body: absent fields stay; `tree` replaces the whole tree.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IvrMenuPatch)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "not_null")]
    tree: Option<Value>,
}

/// `PATCH /v1/ivr/menus/{id}` (owners and admins).
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, IvrMenuId::parse)?;
    tenant.require_admin()?;
    let mut f = Fields::default();
    let patch = IvrMenuPatch {
        name: f.optional("name", body.name.as_deref(), IvrMenuName::parse),
        tree: parse_tree(&mut f, body.tree.as_ref()),
    };
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), IvrMenuJson::from)
        .await?;
    let menu = match db::update(&mut tx, id, &patch).await {
        Err(e) if e.is_unique_violation_of(db::NAME_KEY) => return Err(name_taken()),
        other => other?.ok_or(ApiError::NotFound)?,
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(IvrMenuJson::from(menu)))
}

/// `DELETE /v1/ivr/menus/{id}` (204; owners and admins); numbers that pointed at it keep
/// working without a menu.
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, IvrMenuId::parse)?;
    tenant.require_admin()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), IvrMenuJson::from)
        .await?;
    if !db::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
