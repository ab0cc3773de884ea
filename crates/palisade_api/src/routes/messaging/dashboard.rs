//! `GET /v1/dashboard/stats`: the organization's campaigns, messages and calls counted by
//! status, per channel, with delivery rates and call time.
//!
//! Definitions (the same as the status docs in `palisade_domain`):
//! - email `sent` counts messages that left for the recipient's server: sent, delivered,
//!   opened, clicked, bounced; `delivered` counts delivered, opened, clicked (an open implies
//!   a delivery). Dropped and failed messages never left.
//! - SMS `sent` counts outbound messages the carrier accepted: sent, delivered, undelivered;
//!   `delivered` counts delivered. Failed ones were never sent; inbound ones are `received`.
//! - `delivery_rate` is delivered / sent, or `null` when nothing was sent.
//! - `total_call_seconds` sums the known durations; `total_call_minutes` is that / 60,
//!   rounded to two decimals.
//!
//! `created_after` (inclusive) / `created_before` (exclusive), RFC 3339, restrict every figure
//! to rows created in that window, as on every list.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use palisade_db::messaging::dashboard::{self as db, ByStatus};
use palisade_domain::{CallStatus, CampaignStatus, EmailStatus, SmsStatus};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::routes::Fields;
use crate::{ApiError, AppState};

/// Query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Only rows created at or after this instant (inclusive).
    #[param(format = DateTime)]
    created_after: Option<String>,
    /// Only rows created before this instant (exclusive).
    #[param(format = DateTime)]
    created_before: Option<String>,
}

crate::rules::field_rules!(StatsQuery {});

/// Counts by status: every status of the kind, 0 when none.
type Counts = BTreeMap<&'static str, i64>;

/// The dashboard's figures, per channel.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DashboardStats)]
pub struct StatsJson {
    email: EmailStatsJson,
    sms: SmsStatsJson,
    voice: VoiceStatsJson,
}

/// Email figures.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DashboardEmailStats)]
pub struct EmailStatsJson {
    /// Campaigns by status, every status present.
    #[schema(value_type = BTreeMap<CampaignStatus, i64>)]
    campaigns: Counts,
    /// Messages by status, every status present.
    #[schema(value_type = BTreeMap<EmailStatus, i64>)]
    messages: Counts,
    /// Messages that left for the recipient's server: sent, delivered, opened, clicked,
    /// bounced.
    sent: i64,
    /// Delivered, opened, clicked.
    delivered: i64,
    /// `delivered / sent`, or `null` when nothing was sent.
    delivery_rate: Option<f64>,
}

/// SMS figures.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DashboardSmsStats)]
pub struct SmsStatsJson {
    /// Campaigns by status, every status present.
    #[schema(value_type = BTreeMap<CampaignStatus, i64>)]
    campaigns: Counts,
    /// Messages (inbound and outbound) by status, every status present.
    #[schema(value_type = BTreeMap<SmsStatus, i64>)]
    messages: Counts,
    /// Outbound messages the carrier accepted: sent, delivered, undelivered.
    sent: i64,
    /// Delivered.
    delivered: i64,
    /// `delivered / sent`, or `null` when nothing was sent.
    delivery_rate: Option<f64>,
}

/// Voice figures.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DashboardVoiceStats)]
pub struct VoiceStatsJson {
    /// Campaigns by status, every status present.
    #[schema(value_type = BTreeMap<CampaignStatus, i64>)]
    campaigns: Counts,
    /// Calls by status, every status present.
    #[schema(value_type = BTreeMap<CallStatus, i64>)]
    calls: Counts,
    total_calls: i64,
    /// The sum of the known durations.
    total_call_seconds: i64,
    /// `total_call_seconds / 60`, rounded to two decimals.
    total_call_minutes: f64,
}

fn by_status<S: Copy>(counts: &ByStatus<S>, name: fn(S) -> &'static str) -> Counts {
    counts.iter().map(|(s, n)| (name(*s), *n)).collect()
}

fn sum_where<S: Copy>(counts: &ByStatus<S>, pred: fn(S) -> bool) -> i64 {
    counts
        .iter()
        .filter(|(s, _)| pred(*s))
        .map(|(_, n)| n)
        .sum()
}

/// delivered / sent, or `None` when nothing was sent.
fn delivery_rate(delivered: i64, sent: i64) -> Option<f64> {
    // Row counts fit f64's 53-bit mantissa exactly.
    (sent > 0).then(|| delivered as f64 / sent as f64)
}

/// `GET /v1/dashboard/stats?created_after=&created_before=`.
pub async fn stats(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::default();
    let created = f.created_range(q.created_after.as_deref(), q.created_before.as_deref());
    f.finish()?;
    let tx = caller.begin(&state).await?;
    let c = db::stats(tx, &created).await?;

    let email_sent = sum_where(&c.email_messages, |s| s.counts_as_sent());
    let email_delivered = sum_where(&c.email_messages, |s| s.counts_as_delivered());
    let sms_sent = sum_where(&c.sms_messages, |s| s.counts_as_sent());
    let sms_delivered = sum_where(&c.sms_messages, |s| s.counts_as_delivered());
    let calls_total: i64 = c.calls.iter().map(|(_, n)| n).sum();
    let total_call_minutes = centi_minutes(c.call_seconds) as f64 / 100.0;

    Ok(HttpResponse::Ok().json(StatsJson {
        email: EmailStatsJson {
            campaigns: by_status(&c.email_campaigns, |s| s.as_str()),
            messages: by_status(&c.email_messages, |s| s.as_str()),
            sent: email_sent,
            delivered: email_delivered,
            delivery_rate: delivery_rate(email_delivered, email_sent),
        },
        sms: SmsStatsJson {
            campaigns: by_status(&c.sms_campaigns, |s| s.as_str()),
            messages: by_status(&c.sms_messages, |s| s.as_str()),
            sent: sms_sent,
            delivered: sms_delivered,
            delivery_rate: delivery_rate(sms_delivered, sms_sent),
        },
        voice: VoiceStatsJson {
            campaigns: by_status(&c.voice_campaigns, |s| s.as_str()),
            calls: by_status(&c.calls, |s| s.as_str()),
            total_calls: calls_total,
            total_call_seconds: c.call_seconds,
            total_call_minutes,
        },
    }))
}

/// Hundredths of a minute in `seconds`, rounded half up: integer arithmetic, so the figure is
/// exact, and saturating, so a total past what fits stops at its maximum (each call's duration
/// is bounded, their sum is not: overflowing, it wrapped to a negative figure, or panicked in a
/// debug build).
fn centi_minutes(seconds: i64) -> i64 {
    seconds.saturating_mul(100).saturating_add(30) / 60
}

#[cfg(test)]
mod tests {
    use super::centi_minutes;

    #[test]
    fn call_minutes_round_half_up_and_saturate() {
        assert_eq!(centi_minutes(0), 0);
        assert_eq!(centi_minutes(90), 150);
        assert_eq!(centi_minutes(1), 2); // 1.67 hundredths, rounded up
        assert_eq!(centi_minutes(i64::MAX / 50), i64::MAX / 60);
        assert_eq!(centi_minutes(i64::MAX), i64::MAX / 60);
    }
}
