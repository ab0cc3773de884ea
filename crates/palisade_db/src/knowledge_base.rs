//! Knowledge-base articles and their full-text search. No query filters by organization: the
//! policies of `policies/330_kb_articles.sql` do (that file also records why the search is
//! planned the way it is), and `organization_id` defaults to the context on insert.

use palisade_domain::{ArticleBody, ArticleId, ArticleTitle, Tags};
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::list::{Cursor, ListQuery};
use crate::{DbError, Page, PageRequest, TenantTx};

/// An article as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    /// Its id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Tags, normalised.
    pub tags: Vec<String>,
    /// Whether customers may see it.
    pub published: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// An article to create.
#[derive(Debug, Clone)]
pub struct NewArticle {
    /// Title.
    pub title: ArticleTitle,
    /// Body.
    pub body: ArticleBody,
    /// Tags.
    pub tags: Tags,
    /// Published.
    pub published: bool,
}

/// A partial update: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct ArticlePatch {
    /// New title.
    pub title: Option<ArticleTitle>,
    /// New body.
    pub body: Option<ArticleBody>,
    /// New tags (replacing the old ones).
    pub tags: Option<Tags>,
    /// Publish or unpublish.
    pub published: Option<bool>,
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    /// Full-text search (web search syntax: words, "quoted phrases", -excluded, or).
    pub q: Option<String>,
    /// Only articles carrying this (normalised) tag.
    pub tag: Option<String>,
    /// Only published, or only unpublished, articles.
    pub published: Option<bool>,
}

const COLUMNS: &str = "id, title, body, tags, published, created_at, updated_at";

/// The search condition, shared with the EXPLAIN test: the stored tsvector against the query.
pub const SEARCH_CONDITION: &str = "search @@ websearch_to_tsquery('english', $";

fn from_row(r: &Row) -> Result<Article, DbError> {
    Ok(Article {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        tags: r.try_get("tags")?,
        published: r.try_get("published")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The list statement for `filter` (without pagination): what [`list`] runs.
pub fn list_query<'a>(filter: &'a ArticleFilter, tag: Option<&'a Vec<String>>) -> ListQuery<'a> {
    ListQuery::new(
        "SELECT id, title, body, tags, published, created_at, updated_at \
         FROM palisade.kb_articles WHERE true",
    )
    .and_opt_wrapped(SEARCH_CONDITION, filter.q.as_ref(), ")")
    .and_opt("tags @> $", tag)
    .and_opt("published = $", filter.published.as_ref())
}

/// One page of articles, newest first (search results too). Ends the transaction.
pub async fn list(
    tx: TenantTx,
    filter: &ArticleFilter,
    page: PageRequest<Cursor>,
) -> Result<Page<Article, Cursor>, DbError> {
    let tag = filter.tag.clone().map(|t| vec![t]);
    list_query(filter, tag.as_ref())
        .page(&page)
        .fetch(tx, page.limit, from_row, |a| Cursor {
            created_at: a.created_at,
            id: a.id,
        })
        .await
}

/// The statement of [`get`] (and, `FOR UPDATE`, of [`lock`]).
const GET_SQL: &str = "SELECT id, title, body, tags, published, created_at, updated_at \
             FROM palisade.kb_articles WHERE id = $1";

/// One article, or `None` when it does not exist in this organization.
pub async fn get(tx: TenantTx, id: ArticleId) -> Result<Option<Article>, DbError> {
    let rows = tx.query_once(GET_SQL, &[&id.as_uuid()]).await?;
    rows.first().map(from_row).transpose()
}

/// [`get`] inside a write transaction, the row locked until it ends (for `If-Match`).
pub async fn lock(tx: &mut TenantTx, id: ArticleId) -> Result<Option<Article>, DbError> {
    crate::lock::for_update(tx, GET_SQL, id.as_uuid(), from_row).await
}

/// Creates an article in the acting organization.
pub async fn create(tx: &mut TenantTx, new: &NewArticle) -> Result<Article, DbError> {
    let sql = format!(
        "INSERT INTO palisade.kb_articles (id, title, body, tags, published) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &ArticleId::new().as_uuid(),
                &new.title.as_str(),
                &new.body.as_str(),
                &new.tags.as_slice(),
                &new.published,
            ],
        )
        .await?;
    from_row(&row)
}

/// Applies `patch`; `None` when the article does not exist in this organization.
pub async fn update(
    tx: &mut TenantTx,
    id: ArticleId,
    patch: &ArticlePatch,
) -> Result<Option<Article>, DbError> {
    let sql = format!(
        "UPDATE palisade.kb_articles SET title = coalesce($2, title), body = coalesce($3, body), \
             tags = coalesce($4, tags), published = coalesce($5, published), updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = tx
        .query_opt(
            &sql,
            &[
                &id.as_uuid(),
                &patch.title.as_ref().map(ArticleTitle::as_str),
                &patch.body.as_ref().map(ArticleBody::as_str),
                &patch.tags.as_ref().map(Tags::as_slice),
                &patch.published,
            ],
        )
        .await?;
    row.map(|r| from_row(&r)).transpose()
}

/// Deletes an article; `false` when it does not exist in this organization.
pub async fn delete(tx: &mut TenantTx, id: ArticleId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM palisade.kb_articles WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        == 1)
}
