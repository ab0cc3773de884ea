//! The time zones a summary's days may be counted in (`?tz=` of `/v1/analytics/summary` and
//! `/v1/social/analytics`): the names the database knows (`pg_timezone_names`), so that every
//! zone a client may name is one PostgreSQL computes the days of. Abbreviations (`PST`) and
//! POSIX-style specifications (`UTC+3`, which PostgreSQL reads as three hours *west* of UTC)
//! are not names there, and are refused rather than read in a way the client did not mean.

use std::sync::OnceLock;

use palisade_db::pool::AppPool;

use crate::ApiError;

/// The zone of a summary whose request names none.
pub const DEFAULT: &str = "UTC";

/// The longest name looked up (the longest PostgreSQL lists is some 30 characters).
const MAX_LEN: usize = 64;

/// The database's zone names, read once, on the first request that names a zone other than
/// [`DEFAULT`] (reading them takes PostgreSQL 40 to 140 ms).
#[derive(Debug, Default)]
pub struct TimeZones {
    /// `(lower-cased, as the database spells it)`, sorted by the first.
    names: OnceLock<Vec<(Box<str>, Box<str>)>>,
}

impl TimeZones {
    /// The zone `raw` names, as the database spells it ([`DEFAULT`] when absent), compared
    /// without regard to case as PostgreSQL compares them; `None` when the database knows no
    /// zone of that name.
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
        let names = match self.names.get() {
            Some(names) => names,
            None => {
                let mut read: Vec<(Box<str>, Box<str>)> = palisade_db::days::time_zone_names(pool)
                    .await?
                    .into_iter()
                    .map(|name| (name.to_lowercase().into_boxed_str(), name.into_boxed_str()))
                    .collect();
                read.sort();
                // Two requests may both have read them: either list is the same.
                self.names.get_or_init(|| read)
            }
        };
        let key = raw.to_lowercase();
        Ok(names
            .binary_search_by(|(lower, _)| lower.as_ref().cmp(key.as_str()))
            .ok()
            .and_then(|at| names.get(at))
            .map(|(_, name)| name.to_string()))
    }
}
