//! The time zones a summary's days may be counted in (`?tz=` of `/v1/analytics/summary` and
//! `/v1/social/analytics`): the names the database knows (`pg_timezone_names`), so that every
//! zone a client may name is one PostgreSQL computes the days of, less those it would read
//! otherwise than the client meant (`palisade_db::days::time_zone_names`): names that are also
//! abbreviations (`CET` would be a fixed UTC+1, never summer time) and `localtime`. Other
//! abbreviations (`PST`) and POSIX-style specifications (`UTC+3`, which PostgreSQL reads as
//! three hours *west* of UTC) are not names there. Each is refused.

use palisade_db::pool::AppPool;
use tokio::sync::OnceCell;

use crate::ApiError;

/// The zone of a summary whose request names none.
pub const DEFAULT: &str = "UTC";

/// The longest name looked up (the longest PostgreSQL lists is under 40 characters).
pub const MAX_LEN: usize = 64;

/// The database's zone names, read once, by the first request that names a zone other than
/// [`DEFAULT`] (reading them takes PostgreSQL 40 to 140 ms; requests that arrive meanwhile wait
/// for that read rather than making their own). A failed read is not kept: the next request
/// reads again.
#[derive(Debug, Default)]
pub struct TimeZones {
    /// `(lower-cased, as the database spells it)`, sorted by the first.
    names: OnceCell<Vec<(Box<str>, Box<str>)>>,
}

impl TimeZones {
    /// The zone `raw` names, as the database spells it ([`DEFAULT`] when absent), compared
    /// without regard to case as PostgreSQL compares them; `None` when it is not one a summary
    /// may use.
    pub async fn resolve(
        &self,
        pool: &AppPool,
        raw: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let Some(raw) = raw else {
            return Ok(Some(DEFAULT.to_owned()));
        };
        if raw == DEFAULT {
            return Ok(Some(DEFAULT.to_owned()));
        }
        if raw.is_empty() || raw.len() > MAX_LEN {
            return Ok(None);
        }
        let names = self
            .names
            .get_or_try_init(|| async {
                let mut names: Vec<(Box<str>, Box<str>)> = palisade_db::days::time_zone_names(pool)
                    .await?
                    .into_iter()
                    .map(|name| (name.to_lowercase().into_boxed_str(), name.into_boxed_str()))
                    .collect();
                names.sort();
                Ok::<_, ApiError>(names)
            })
            .await?;
        let key = raw.to_lowercase();
        Ok(names
            .binary_search_by(|(lower, _)| lower.as_ref().cmp(key.as_str()))
            .ok()
            .and_then(|at| names.get(at))
            .map(|(_, name)| name.to_string()))
    }
}
