//! The one "another organization's data did not change" assertion: take what the other
//! organization sees before the test acts ([`Unchanged::http`] over its own credential, or
//! [`Unchanged::sql`] as the app role in its context), act, then [`Unchanged::assert_http`] /
//! [`Unchanged::assert_sql`]: every view must be byte-for-byte what it was.

use std::fmt::Display;

use tokio_postgres::Client;

use crate::{Credential, TestApp, sql};

/// What an organization saw, view by view (a path with its status and body, or a table's rows).
#[derive(Debug, Clone)]
pub struct Unchanged {
    auth: Vec<(&'static str, String)>,
    org: String,
    views: Vec<(String, String)>,
}

impl Unchanged {
    /// What `who` reads at each of `paths` (status and body).
    pub async fn http(
        app: &TestApp,
        who: &(impl Credential + ?Sized),
        paths: &[impl AsRef<str>],
    ) -> Self {
        let auth = who.auth_headers();
        let views = http_views(app, &auth, paths.iter().map(AsRef::as_ref)).await;
        Unchanged {
            auth,
            org: String::new(),
            views,
        }
    }

    /// The rows of each of `tables` (`palisade.<table>`, ordered by all columns) as the app role
    /// sees them in `org`'s context, read on `c`.
    pub async fn sql(c: &Client, org: impl Display, tables: &[&str]) -> Self {
        let org = org.to_string();
        let views = sql_views(c, &org, tables.iter().copied()).await;
        Unchanged {
            auth: Vec::new(),
            org,
            views,
        }
    }

    /// Every path is read again with the same credential and answers exactly as before.
    pub async fn assert_http(&self, app: &TestApp) {
        let now = http_views(app, &self.auth, self.views.iter().map(|(p, _)| p.as_str())).await;
        self.assert_same(&now);
    }

    /// Every table reads again exactly as before, in the same organization's context.
    pub async fn assert_sql(&self, c: &Client) {
        let now = sql_views(c, &self.org, self.views.iter().map(|(t, _)| t.as_str())).await;
        self.assert_same(&now);
    }

    fn assert_same(&self, now: &[(String, String)]) {
        for ((view, was), (_, is)) in self.views.iter().zip(now) {
            assert_eq!(is, was, "another organization's {view} changed");
        }
    }
}

async fn http_views<'p>(
    app: &TestApp,
    auth: &[(&'static str, String)],
    paths: impl Iterator<Item = &'p str>,
) -> Vec<(String, String)> {
    let mut views = Vec::new();
    for path in paths {
        let r = app.send("GET", path, auth, None, &[]).await;
        views.push((path.to_owned(), format!("{} {}", r.status, r.text)));
    }
    views
}

async fn sql_views<'t>(
    c: &Client,
    org: &str,
    tables: impl Iterator<Item = &'t str>,
) -> Vec<(String, String)> {
    let mut views = Vec::new();
    for table in tables {
        sql::begin_as(c, org, "owner").await;
        let rows: Option<String> = c
            .query_one(
                &format!("SELECT json_agg(t ORDER BY t::text)::text FROM palisade.{table} AS t"),
                &[],
            )
            .await
            .unwrap_or_else(|e| panic!("read {table}: {e:?}"))
            .get(0);
        sql::rollback(c).await;
        views.push((table.to_owned(), rows.unwrap_or_default()));
    }
    views
}
