//! `/v1/knowledge-base/articles`: articles with tags and a published flag, and full-text search
//! (`?q=`, web-search syntax) under RLS. Another organization's article answers 404 exactly like
//! a missing one, and never matches a search. The handlers are [`crate::resource`]'s.

use palisade_db::knowledge_base::{Article, ArticleFilter, ArticlePatch, NewArticle};
use palisade_domain::{ArticleBody, ArticleTitle, SearchText, Tag, Tags};
use serde::Deserialize;

use super::Fields;
use crate::resource::{self, Created};

/// The knowledge-base family.
pub(crate) struct Articles;

resource::family! {
    Articles: Article => Article, "/v1/knowledge-base/articles", "knowledge-base", "a knowledge base article", "knowledge base articles";
}

/// Declares this family's routes (see [`crate::resource`]).
pub(crate) fn register(e: &mut crate::endpoints::Endpoints) {
    resource::list_route::<Articles>(e)
        .summary("List or search knowledge base articles")
        .describe("Newest first, search results included (they are filtered, not ranked)");
    resource::create_route::<Articles>(e).describe("`tags` defaults to none, `published` to false");
    resource::get_route::<Articles>(e);
    resource::update_route::<Articles>(e);
    resource::delete_route::<Articles>(e);
}

fn parse_tags(f: &mut Fields, raw: Option<&Vec<String>>) -> Option<Tags> {
    match Tags::parse(raw?) {
        Ok(t) => Some(t),
        Err(e) => {
            f.refused("tags", &e);
            None
        }
    }
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

impl Created for Articles {
    type Body = CreateBody;
    type New = NewArticle;

    fn parse(body: &CreateBody, f: &mut Fields) -> Option<NewArticle> {
        let title = f.required("title", body.title.as_deref(), ArticleTitle::parse);
        let text = f.required("body", body.body.as_deref(), ArticleBody::parse);
        let tags = match &body.tags {
            None => Some(Tags::default()),
            Some(t) => parse_tags(f, Some(t)),
        };
        Some(NewArticle {
            title: title?,
            body: text?,
            tags: tags?,
            published: body.published.unwrap_or(false),
        })
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
