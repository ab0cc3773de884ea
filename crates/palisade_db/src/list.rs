//! Keyset-paginated list queries, assembled from constant SQL fragments.
//!
//! Every tenant table has `created_at` and `id`, and every list is newest first, so a page
//! continues after the last item's `(created_at, id)` ([`Cursor`]). Each combination of filters
//! becomes its own prepared statement with a plan that fits it (a single statement with
//! `$n IS NULL OR ...` for every optional filter gets a generic plan that evaluates every
//! condition on every row). Fragments are `&'static str`; values are always bind parameters.
//!
//! ```text
//! let rows = ListQuery::new("SELECT id, name, created_at FROM palisade.things WHERE true")
//!     .and_eq("status = $", status.as_ref())      // only when Some
//!     .after(page.after.as_ref())
//!     .fetch(tx, page.limit)
//!     .await?;
//! ```

use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::{DbError, Page, TenantTx};

/// Position in a newest-first list: the last item's `(created_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last item's creation time.
    pub created_at: OffsetDateTime,
    /// The last item's id (breaks ties between equal times).
    pub id: Uuid,
}

/// The creation-time window of every list and of the dashboard: `after` inclusive, `before`
/// exclusive (so consecutive windows neither overlap nor leave a gap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreatedRange {
    /// Only rows created at or after this instant.
    pub after: Option<OffsetDateTime>,
    /// Only rows created strictly before this instant.
    pub before: Option<OffsetDateTime>,
}

/// A bound value: borrowed from the caller, or owned by the query (a value computed from a
/// filter, like an enum's spelling).
enum Param<'a> {
    Borrowed(&'a (dyn ToSql + Sync)),
    Owned(Box<dyn ToSql + Sync + Send + 'a>),
}

/// The row counts a list page's statement fetches (the page's limit + 1, rounded up to one of
/// these): see [`ListQuery::fetch`].
pub const FETCH_SIZES: [u32; 4] = [11, 26, 51, 101];

/// The end of every list statement, for each of [`FETCH_SIZES`] (appended as a constant, not
/// formatted, on every list request).
const ORDERED_FETCHES: [&str; 4] = [
    " ORDER BY created_at DESC, id DESC LIMIT 11",
    " ORDER BY created_at DESC, id DESC LIMIT 26",
    " ORDER BY created_at DESC, id DESC LIMIT 51",
    " ORDER BY created_at DESC, id DESC LIMIT 101",
];

/// A list statement under construction.
pub struct ListQuery<'a> {
    sql: String,
    params: Vec<Param<'a>>,
}

impl<'a> ListQuery<'a> {
    /// Starts from a constant `SELECT ... FROM palisade.<table> WHERE <condition>` (typically
    /// `WHERE true`: RLS does the tenant filtering).
    pub fn new(select: &'static str) -> Self {
        // Room for the usual filters and the ORDER BY ... LIMIT that `fetch` appends, so the
        // string is allocated once.
        let mut sql = String::with_capacity(select.len() + 128);
        sql.push_str(select);
        Self {
            sql,
            params: Vec::with_capacity(6),
        }
    }

    fn bind(&mut self, value: &'a (dyn ToSql + Sync)) {
        self.push(Param::Borrowed(value));
    }

    fn push(&mut self, param: Param<'a>) {
        use std::fmt::Write as _;
        self.params.push(param);
        let _ = write!(self.sql, "{}", self.params.len());
    }

    /// Appends ` AND <condition>` binding `value` at the condition's `$` (its only one), when
    /// `value` is `Some`; the query keeps the value, so it may be computed from a filter:
    /// `and_opt_value("kind = $", filter.kind.map(Kind::as_str))`,
    /// `and_opt_value("name ILIKE '%' || $ || '%'", pattern)`.
    pub fn and_opt_value<T: ToSql + Sync + Send + 'a>(
        mut self,
        condition: &'static str,
        value: Option<T>,
    ) -> Self {
        if let Some(v) = value {
            self.condition(condition, Param::Owned(Box::new(v)));
        }
        self
    }

    /// Appends ` AND <condition>` binding `value` at the condition's `$` (its only one), e.g.
    /// `and("status = $", &status)` or `and("name ILIKE '%' || $ || '%'", &pattern)`.
    pub fn and(mut self, condition: &'static str, value: &'a (dyn ToSql + Sync)) -> Self {
        self.condition(condition, Param::Borrowed(value));
        self
    }

    fn condition(&mut self, condition: &'static str, value: Param<'a>) {
        let (before, after) = condition.split_once('$').unwrap_or((condition, ""));
        self.sql.push_str(" AND ");
        self.sql.push_str(before);
        self.sql.push('$');
        self.push(value);
        self.sql.push_str(after);
    }

    /// [`ListQuery::and`] when `value` is `Some`; nothing otherwise.
    pub fn and_opt<T: ToSql + Sync>(self, prefix: &'static str, value: Option<&'a T>) -> Self {
        match value {
            Some(v) => self.and(prefix, v),
            None => self,
        }
    }

    /// Applies a page request: its creation window, then its cursor.
    pub fn page(self, page: &'a crate::PageRequest<Cursor>) -> Self {
        self.and_opt("created_at >= $", page.created.after.as_ref())
            .and_opt("created_at < $", page.created.before.as_ref())
            .after(page.after.as_ref())
    }

    /// Continues after `cursor`, when there is one.
    pub fn after(mut self, cursor: Option<&'a Cursor>) -> Self {
        if let Some(c) = cursor {
            self.sql.push_str(" AND (created_at, id) < ($");
            self.bind(&c.created_at);
            self.sql.push_str(", $");
            self.bind(&c.id);
            self.sql.push(')');
        }
        self
    }

    /// The SQL so far (for tests and EXPLAIN).
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Orders newest first, fetches `limit + 1` rows in one round trip (ending `tx`), and
    /// decodes a page: at most `limit` items and, when more exist, the cursor after the last.
    pub async fn fetch<T>(
        mut self,
        tx: TenantTx,
        limit: u16,
        decode: impl Fn(&Row) -> Result<T, DbError>,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Result<Page<T, Cursor>, DbError> {
        // The limit is written into the statement, not bound: with `LIMIT $n` PostgreSQL
        // re-plans the statement at every execution (a generic plan cannot know the limit, so it
        // always costs more than a custom one), and planning took three times as long as running
        // the 51-row page. Without other parameters (the first page of an unfiltered list, the
        // common case) the plan is then made once per connection. The written limit is one of
        // FETCH_SIZES (the rows beyond limit + 1 are not decoded), so each query shape is at most
        // four cached statements per connection, whatever limits clients ask for.
        match FETCH_SIZES.iter().position(|n| *n > u32::from(limit)) {
            Some(i) => self.sql.push_str(ORDERED_FETCHES[i]),
            None => {
                use std::fmt::Write as _;
                let fetch = u32::from(limit) + 1;
                let _ = write!(self.sql, " ORDER BY created_at DESC, id DESC LIMIT {fetch}");
            }
        }
        let params: Vec<&(dyn ToSql + Sync)> = self
            .params
            .iter()
            .map(|p| match p {
                Param::Borrowed(v) => *v,
                Param::Owned(v) => v.as_ref() as &(dyn ToSql + Sync),
            })
            .collect();
        let rows = tx.query_once(&self.sql, &params).await?;
        // The row after the page only says that there is more: the cursor is the last item's,
        // so that row is not decoded.
        let more = rows.len() > usize::from(limit);
        let items = rows
            .iter()
            .take(usize::from(limit))
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

/// Escapes LIKE wildcards so a substring filter matches literally (use with `ESCAPE '\'`).
pub fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_number_their_placeholders() {
        let status = "sent".to_owned();
        let name = "x".to_owned();
        let c = Cursor {
            created_at: OffsetDateTime::UNIX_EPOCH,
            id: Uuid::nil(),
        };
        let q = ListQuery::new("SELECT id FROM palisade.t WHERE true")
            .and("status = $", &status)
            .and_opt::<String>("email = $", None)
            .and("name ILIKE '%' || $ || '%' ESCAPE '\\'", &name)
            .after(Some(&c));
        assert_eq!(
            q.sql(),
            "SELECT id FROM palisade.t WHERE true AND status = $1 AND name ILIKE '%' || $2 || '%' ESCAPE '\\' \
             AND (created_at, id) < ($3, $4)"
        );
    }

    #[test]
    fn each_fetch_size_has_its_constant_ending() {
        for (size, ending) in FETCH_SIZES.iter().zip(ORDERED_FETCHES) {
            assert_eq!(
                ending,
                format!(" ORDER BY created_at DESC, id DESC LIMIT {size}")
            );
        }
        assert_eq!(FETCH_SIZES.len(), ORDERED_FETCHES.len());
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_literal("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(like_literal("Ada"), "Ada");
    }
}
