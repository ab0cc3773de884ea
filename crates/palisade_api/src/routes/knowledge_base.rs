//! `/v1/knowledge-base/articles`: articles with tags and a published flag, and full-text search
//! (`?q=`, web-search syntax) under RLS. Another organization's article answers 404 exactly like
//! a missing one, and never matches a search.

use actix_web::{HttpResponse, web};
use palisade_db::TenantTx;
use palisade_db::knowledge_base::{self as db, Article, ArticleFilter, ArticlePatch, NewArticle};
use palisade_domain::{ArticleBody, ArticleId, ArticleTitle, Tags};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, not_null, parse_id};
use crate::auth::Tenant;
use crate::etag::IfMatch;
use crate::idempotency::{Idempotency, begin_or_replay};
use crate::list::List;
use crate::{ApiError, AppState};

/// Longest search query, in characters.
const MAX_QUERY_CHARS: usize = 200;

/// Declares this family's routes (see [`crate::endpoints`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    e.get("/v1/knowledge-base/articles", list)
        .tag("knowledge-base")
        .summary("List or search knowledge base articles")
        .describe("Newest first, search results included (they are filtered, not ranked)")
        .list_query::<ListQuery>()
        .list::<ArticleJson>()
        .errors(&[422]);
    e.post("/v1/knowledge-base/articles", create)
        .tag("knowledge-base")
        .summary("Create a knowledge base article")
        .describe("`tags` defaults to none, `published` to false")
        .body::<CreateBody>()
        .created::<ArticleJson>()
        .errors(&[413, 415, 422]);
    e.get("/v1/knowledge-base/articles/{id}", get)
        .tag("knowledge-base")
        .summary("Get a knowledge base article")
        .ok::<ArticleJson>()
        .errors(&[404]);
    e.patch("/v1/knowledge-base/articles/{id}", update)
        .tag("knowledge-base")
        .summary("Update a knowledge base article")
        .body::<PatchBody>()
        .ok::<ArticleJson>()
        .errors(&[404, 413, 415, 422]);
    e.delete("/v1/knowledge-base/articles/{id}", delete)
        .tag("knowledge-base")
        .summary("Delete a knowledge base article")
        .no_content()
        .errors(&[404]);
}

/// An article as clients see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Article)]
pub struct ArticleJson {
    id: Uuid,
    title: String,
    body: String,
    tags: Vec<String>,
    published: bool,
    #[serde(with = "palisade_domain::timestamp")]
    created_at: OffsetDateTime,
    #[serde(with = "palisade_domain::timestamp")]
    updated_at: OffsetDateTime,
}

impl From<Article> for ArticleJson {
    fn from(a: Article) -> Self {
        Self {
            id: a.id,
            title: a.title,
            body: a.body,
            tags: a.tags,
            published: a.published,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

fn parse_tags(f: &mut Fields, raw: Option<&Vec<String>>) -> Option<Tags> {
    match Tags::parse(raw?) {
        Ok(t) => Some(t),
        Err(e) => {
            f.invalid("tags", e.reason());
            None
        }
    }
}

/// List and search query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Full-text search in web-search syntax (`"exact phrase"`, `-word`, `or`), 1 to 200
    /// characters.
    q: Option<String>,
    /// Only articles with this tag.
    tag: Option<String>,
    #[param(value_type = Option<bool>)]
    published: Option<String>,
}

/// `GET /v1/knowledge-base/articles?q=&tag=&published=&created_after=&created_before=`: newest
/// first, search results included (they are filtered, not ranked).
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: List<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let search = match q.filter.q.as_deref().map(str::trim) {
        None => None,
        Some(s) if s.is_empty() || s.chars().count() > MAX_QUERY_CHARS => {
            f.invalid("q", "must be 1 to 200 characters");
            None
        }
        Some(s) if s.chars().any(char::is_control) => {
            f.invalid("q", "must not contain control characters");
            None
        }
        Some(s) => Some(s.to_owned()),
    };
    let filter = ArticleFilter {
        q: search,
        tag: f.optional("tag", q.filter.tag.as_deref(), Tags::parse_one),
        published: f.boolean("published", q.filter.published.as_deref()),
    };
    f.finish()?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let page = db::list(tx, &filter, q.page).await?;
    Ok(q.respond(page, ArticleJson::from))
}

/// Create body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ArticleCreate)]
pub struct CreateBody {
    #[schema(required = true)]
    title: Option<String>,
    #[schema(required = true)]
    body: Option<String>,
    /// Default: none.
    tags: Option<Vec<String>>,
    /// Default: false.
    published: Option<bool>,
}

/// `POST /v1/knowledge-base/articles` (201). `tags` defaults to none, `published` to false.
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    idem: Idempotency,
    body: crate::extract::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let title = f.required("title", body.title.as_deref(), ArticleTitle::parse);
    let text = f.required("body", body.body.as_deref(), ArticleBody::parse);
    let tags = match &body.tags {
        None => Some(Tags::default()),
        Some(t) => parse_tags(&mut f, Some(t)),
    };
    f.finish()?;
    let (Some(title), Some(text), Some(tags)) = (title, text, tags) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let new = NewArticle {
        title,
        body: text,
        tags,
        published: body.published.unwrap_or(false),
    };
    let mut tx = begin_or_replay!(idem, &state, &tenant.0);
    let article = db::create(&mut tx, &new).await?;
    tx.commit(super::created(
        "/v1/knowledge-base/articles",
        article.id,
        ArticleJson::from(article),
    ))
    .await
}

/// `GET /v1/knowledge-base/articles/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ArticleId::parse)?;
    let tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    let article = db::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(ArticleJson::from(article)))
}

/// Patch body: absent fields stay; `tags` replaces the list.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ArticlePatch)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "not_null")]
    title: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    body: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    published: Option<bool>,
}

/// `PATCH /v1/knowledge-base/articles/{id}`.
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
    body: crate::extract::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ArticleId::parse)?;
    let mut f = Fields::default();
    let patch = ArticlePatch {
        title: f.optional("title", body.title.as_deref(), ArticleTitle::parse),
        body: f.optional("body", body.body.as_deref(), ArticleBody::parse),
        tags: parse_tags(&mut f, body.tags.as_ref()),
        published: body.published,
    };
    f.finish()?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), ArticleJson::from)
        .await?;
    let article = db::update(&mut tx, id, &patch)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ArticleJson::from(article)))
}

/// `DELETE /v1/knowledge-base/articles/{id}` (204).
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path, ArticleId::parse)?;
    let mut tx = TenantTx::begin(&state.pool, &tenant.0).await?;
    if_match
        .check(db::lock(&mut tx, id), ArticleJson::from)
        .await?;
    if !db::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
