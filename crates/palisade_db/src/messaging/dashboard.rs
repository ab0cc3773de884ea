//! The dashboard's figures: campaigns, messages and calls counted by status, and call time,
//! for the acting organization (RLS scopes every table in the statement), in one round trip.

use palisade_domain::{CallStatus, CampaignStatus, EmailStatus, ParseError, SmsStatus};
use tokio_postgres::Row;

use super::CreatedRange;
use crate::{DbError, TenantTx};

/// The branch of [`STATS`] counting the rows of each table by status (inside the window `w`).
macro_rules! by_status_branches {
    ($($table:literal),+) => {
        concat!($(
            "SELECT '", $table, "' AS kind, status, count(*) AS n FROM palisade.", $table,
            ", w WHERE created_at >= w.after AND created_at < w.before GROUP BY status\nUNION ALL\n",
        )+)
    };
}

/// One statement for everything: each branch is an aggregate over one table, filtered by the
/// same creation window (`after` inclusive, `before` exclusive, open when NULL).
const STATS: &str = concat!(
    "WITH w AS (SELECT coalesce($1::timestamptz, '-infinity') AS after, \
     coalesce($2::timestamptz, 'infinity') AS before)\n",
    by_status_branches!(
        "email_campaigns",
        "email_messages",
        "sms_campaigns",
        "sms_messages",
        "voice_campaigns",
        "calls"
    ),
    "SELECT 'call_seconds', NULL::text, coalesce(sum(duration_seconds), 0) \
     FROM palisade.calls, w WHERE created_at >= w.after AND created_at < w.before",
);

/// Counts per status, every status present (zero when none), in lifecycle order.
pub type ByStatus<S> = Vec<(S, i64)>;

/// The acting organization's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardCounts {
    /// Email campaigns by status.
    pub email_campaigns: ByStatus<CampaignStatus>,
    /// Email messages by status.
    pub email_messages: ByStatus<EmailStatus>,
    /// SMS campaigns by status.
    pub sms_campaigns: ByStatus<CampaignStatus>,
    /// SMS messages (inbound and outbound) by status.
    pub sms_messages: ByStatus<SmsStatus>,
    /// Voice campaigns by status.
    pub voice_campaigns: ByStatus<CampaignStatus>,
    /// Calls by status.
    pub calls: ByStatus<CallStatus>,
    /// Total talk time of the calls, in seconds.
    pub call_seconds: i64,
}

fn by_status<S: Copy + Eq>(
    all: &[S],
    rows: &[Row],
    kind: &str,
    parse: fn(&str) -> Result<S, ParseError>,
) -> Result<ByStatus<S>, DbError> {
    let mut out: ByStatus<S> = all.iter().map(|s| (*s, 0)).collect();
    for r in rows {
        if r.try_get::<_, &str>("kind")? != kind {
            continue;
        }
        let status = super::decode(r, "status", parse)?;
        let n: i64 = r.try_get("n")?;
        if let Some(slot) = out.iter_mut().find(|(s, _)| *s == status) {
            slot.1 = n;
        }
    }
    Ok(out)
}

/// The figures for rows created within `created`. Ends the transaction (one round trip).
pub async fn stats(tx: TenantTx, created: &CreatedRange) -> Result<DashboardCounts, DbError> {
    let rows = tx
        .query_once(STATS, &[&created.after, &created.before])
        .await?;
    let call_seconds = rows
        .iter()
        .find(|r| r.try_get::<_, &str>("kind").ok() == Some("call_seconds"))
        .map(|r| r.try_get::<_, i64>("n"))
        .transpose()?
        .unwrap_or(0);
    Ok(DashboardCounts {
        email_campaigns: by_status(
            CampaignStatus::ALL,
            &rows,
            "email_campaigns",
            CampaignStatus::parse,
        )?,
        email_messages: by_status(
            EmailStatus::ALL,
            &rows,
            "email_messages",
            EmailStatus::parse,
        )?,
        sms_campaigns: by_status(
            CampaignStatus::ALL,
            &rows,
            "sms_campaigns",
            CampaignStatus::parse,
        )?,
        sms_messages: by_status(SmsStatus::ALL, &rows, "sms_messages", SmsStatus::parse)?,
        voice_campaigns: by_status(
            CampaignStatus::ALL,
            &rows,
            "voice_campaigns",
            CampaignStatus::parse,
        )?,
        calls: by_status(CallStatus::ALL, &rows, "calls", CallStatus::parse)?,
        call_seconds,
    })
}
