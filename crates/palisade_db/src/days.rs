//! Ranges of whole days in a time zone, for the summaries that count by day (the analytics
//! summary, the social analytics): the days' bounds and each instant's day are PostgreSQL's
//! (`AT TIME ZONE`, its time zone database, daylight saving included), so that the range a
//! client asked for and the days its events fall on are computed by one clock and one set of
//! rules. A client names a zone as the database lists it in `pg_timezone_names`
//! ([`time_zone_names`]); `UTC` by default.

use time::Date;

use crate::DbError;
use crate::pool::AppPool;

/// The days a summary covers, as asked: `to` absent is today in `zone`, `from` absent the 29
/// days before `to` too; `zone` one of [`time_zone_names`] (or `UTC`).
#[derive(Debug, Clone, Copy)]
pub struct Days<'a> {
    /// The first day, if given.
    pub from: Option<Date>,
    /// The last day (inclusive), if given.
    pub to: Option<Date>,
    /// The time zone the days are in.
    pub zone: &'a str,
}

/// The days a summary covered, as the database resolved [`Days`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first day.
    pub from: Date,
    /// The last day (inclusive).
    pub to: Date,
}

/// The common table expression `w(from_day, to_day, start_at, end_at, valid)` of a statement
/// whose `$1`, `$2` and `$3` are [`Days::from`], [`Days::to`] and [`Days::zone`]: the days;
/// instants that hold them, from the midnight of the day before the first to the midnight two
/// days after the last, for an index to read (a statement keeps the instants whose day in the
/// zone, `(t AT TIME ZONE $3)::date`, is one of the days: [`in_days`]); and whether the range is
/// one a summary reads (`from_day <= to_day`, at most 366 days). A statement reads nothing when
/// it is not, and the caller refuses it ([`Window`]). The bounds are a day wider than the days
/// because a midnight is not always one instant: where clocks go back at midnight (Havana,
/// the Azores), 00:00 happens twice and `AT TIME ZONE` takes the second, while the hour before
/// it is already that day.
pub(crate) const WINDOW: &str = "\
w AS (SELECT f.from_day, r.to_day,
             ((f.from_day - 1)::timestamp AT TIME ZONE $3::text) AS start_at,
             ((r.to_day + 2)::timestamp AT TIME ZONE $3::text) AS end_at,
             f.from_day <= r.to_day AND r.to_day - f.from_day < 366 AS valid
        FROM (SELECT coalesce($2::date, (pg_catalog.now() AT TIME ZONE $3::text)::date) AS to_day) AS r,
             LATERAL (SELECT coalesce($1::date, r.to_day - 29) AS from_day) AS f)";

/// The filter of a statement built on [`WINDOW`] that keeps the instants `instant` (a column
/// the statement's own code names, never input; the zone is the bound `$3`) on one of its days
/// in the zone, beside the bounds that let it read an index.
pub(crate) fn in_days(instant: &str) -> String {
    format!(
        "{instant} >= w.start_at AND {instant} < w.end_at \
         AND ({instant} AT TIME ZONE $3::text)::date BETWEEN w.from_day AND w.to_day"
    )
}

/// Reads [`Window`] and its `valid` flag from a row of a statement built on [`WINDOW`] (its
/// columns `from_day`, `to_day`, `valid`).
pub(crate) fn window(row: &tokio_postgres::Row) -> Result<(Window, bool), DbError> {
    Ok((
        Window {
            from: row.try_get("from_day")?,
            to: row.try_get("to_day")?,
        },
        row.try_get("valid")?,
    ))
}

/// The time zone names a summary may count its days in: those the database knows
/// (`pg_timezone_names`, some 1,200 on Debian's PostgreSQL, `posix/` aliases included; zones
/// with leap seconds are not listed, as PostgreSQL cannot use them), but for
/// - the names that are also abbreviations (`CET`, `EET`, `EST`, `GMT`, `MET`, `MST`, `WET`,
///   ...: `pg_timezone_abbrevs`), which `AT TIME ZONE` reads as the abbreviation, a fixed offset
///   without daylight saving (`CET` in July is UTC+1 where Europe/Paris is UTC+2), but for
///   `UTC`, `GMT`, `UCT` and `Zulu` (UTC either way);
/// - `localtime` (whatever zone the server runs in), `posixrules` and `Factory`, and their
///   `posix/` aliases.
///
/// Read before any tenant is known, from the catalog: it takes PostgreSQL 40 to 140 ms (it
/// reads every zone file), so the API reads it once. The abbreviations are the server's
/// `timezone_abbreviations` setting's (`Default` unless an operator changed it).
pub async fn time_zone_names(pool: &AppPool) -> Result<Vec<String>, DbError> {
    let conn = pool.get().await?;
    let rows = conn
        .query(
            "SELECT n.name FROM pg_catalog.pg_timezone_names AS n
              WHERE n.name !~ '(^|/)(localtime|posixrules|Factory)$'
                AND (n.name IN ('UTC', 'GMT', 'UCT', 'Zulu')
                     OR NOT EXISTS (SELECT FROM pg_catalog.pg_timezone_abbrevs AS a
                                     WHERE pg_catalog.lower(a.abbrev) = pg_catalog.lower(n.name)))",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| r.try_get::<_, String>(0).map_err(DbError::from))
        .collect()
}
