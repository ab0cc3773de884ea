//! `/v1/knowledge-base/articles`: articles with tags and a published flag, and full-text search
//! (`?q=`, web-search syntax) under RLS. Another organization's article answers 404 exactly like
//! a missing one, and never matches a search. The handlers are [`crate::resource`]'s.

use palisade_db::knowledge_base::{Article, ArticleFilter, ArticlePatch, NewArticle};
use palisade_domain::{ArticleBody, ArticleTitle, SearchText, Tag, Tags};

use crate::resource::{self};

/// The knowledge-base family.
pub(crate) struct Articles;

resource::family! {
    Articles: Article => Article, "/v1/knowledge-base/articles", "knowledge-base", "a knowledge base article", "knowledge base articles";
}

impl crate::changes::Synced for Articles {
    const CHANGES: &'static str = "/v1/knowledge-base/articles/changes";
}

/// Declares this family's routes (see [`crate::resource`] and, for the changes feed declared
/// before the item routes whose `{id}` would take its path, [`crate::changes`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    crate::changes::changes_route::<Articles>(e);
    resource::list_route::<Articles>(e)
        .summary("List or search knowledge base articles")
        .describe("Newest first, search results included (they are filtered, not ranked)");
    resource::create_route::<Articles>(e).describe("`tags` defaults to none, `published` to false");
    resource::get_route::<Articles>(e);
    resource::update_route::<Articles>(e);
    resource::delete_route::<Articles>(e);
}

crate::list::filters! {
    /// List and search query string: newest first, search results included (they are
    /// filtered, not ranked).
    Articles: ListQuery => ArticleFilter {
        /// Full-text search in web-search syntax (`"exact phrase"`, `-word`, `or`), 1 to 200
        /// characters.
        q: Text<SearchText>,
        /// Only articles with this tag.
        tag: Text<Tag>,
        published: Flag,
    }
}

resource::created! {
    /// Create body.
    Articles: CreateBody as ArticleCreate => NewArticle {
        title: required Text<ArticleTitle>,
        body: required Text<ArticleBody>,
        /// Default: none.
        tags: default(Tags::default()) Items<Tags, String>,
        /// Default: false.
        published: default(false) Flag,
    }
}

resource::patch! {
    /// Patch body: absent fields stay; `tags` replaces the list.
    Articles: PatchBody as ArticlePatch => ArticlePatch {
        title: set Text<ArticleTitle>,
        body: set Text<ArticleBody>,
        tags: set Items<Tags, String>,
        published: set Flag,
    }
}
