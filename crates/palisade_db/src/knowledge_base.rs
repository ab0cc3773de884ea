//! Knowledge-base articles and their full-text search: the row, its filters, insert and update
//! (listing, reading, locking and deleting are [`crate::crud`]'s). No query filters by organization: the
//! policies of `policies/330_kb_articles.sql` do (that file also records why the search is
//! planned the way it is), and `organization_id` defaults to the context on insert.

use palisade_domain::{ArticleBody, ArticleTitle, SearchText, Tag, Tags};
use time::OffsetDateTime;
use uuid::Uuid;

crate::table! {
    /// An article as stored, and as clients see it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Article in "palisade.kb_articles" {
        /// Its id.
        id: Uuid,
        /// Title.
        title: String,
        /// Body.
        body: String,
        /// Tags, normalised.
        tags: Vec<String>,
        /// Whether customers may see it.
        published: bool,
        /// Creation time.
        #[serde(with = "palisade_domain::timestamp")]
        created_at: OffsetDateTime,
        /// Last change.
        #[serde(with = "palisade_domain::timestamp")]
        updated_at: OffsetDateTime,
    }
}

crate::insert_type! {
    /// An article to create.
    pub struct NewArticle into Article {
        /// Title.
        title: ArticleTitle,
        /// Body.
        body: ArticleBody,
        /// Tags.
        tags: Tags,
        /// Published.
        published: bool,
    }
}

crate::patch_type! {
    /// A partial update: `None` leaves a field alone.
    pub struct ArticlePatch for Article {
        /// New title.
        title: set ArticleTitle,
        /// New body.
        body: set ArticleBody,
        /// New tags (replacing the old ones).
        tags: set Tags,
        /// Publish or unpublish.
        published: set bool,
    }
}

crate::filter_type! {
    /// List filters.
    pub struct ArticleFilter for Article {
        /// Full-text search (web search syntax: words, "quoted phrases", -excluded, or).
        q: SearchText => SEARCH_CONDITION,
        /// Only articles carrying this tag.
        tag: Tag => "tags @> $"
            with |t| vec![t.as_str()],
        /// Only published, or only unpublished, articles.
        published: bool => "published = $",
    }
}

/// The search condition: the stored tsvector against the query (web-search syntax).
pub const SEARCH_CONDITION: &str = "search @@ websearch_to_tsquery('english', $)";
