//! Prometheus metrics: what the server counts, and the text it serves on its metrics address
//! (`PALISADE_METRICS_ADDR`, never the API's; docs/metrics.md lists every metric).
//!
//! [`Metrics`] is one server's registry: [`record_requests`] (middleware) counts each answer
//! by route template, method and status and times it; the provider webhook handlers count what
//! each delivery did ([`Metrics::webhook`]); [`Metrics::render`] samples the pools and the
//! password hashing threads and writes the whole registry. Database errors are counted where
//! they are made, in `palisade_db` ([`palisade_db::error_counter`], process-wide), and this
//! registry serves that count too.
//!
//! **No tenant data in a label.** The route is actix's template (`/v1/customers/{id}`), never
//! the path, so no id reaches a label and their number stays that of the route table; a path
//! no route matches is `unmatched`. Methods outside the standard few are `other`. Every other
//! label comes from a fixed list in this module or in `palisade_db`.
//!
//! With metrics off ([`Metrics::off`], the default) nothing is counted: the middleware passes
//! requests through and the handlers' counts do nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use palisade_db::{AppPool, BillingPool, PoolStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::auth::PasswordHashing;
use crate::error::ErrorCode;

/// The content type of [`Metrics::render`]'s text (OpenMetrics 1.0, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The request duration histogram's upper bounds, in seconds: from a health check (well under
/// a millisecond) through a login (argon2, tens of milliseconds) to a request that waited for
/// the pool (up to its 5 s timeout) and beyond.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

palisade_domain::str_enum! {
    /// Who sent a provider webhook: the `provider` label.
    pub enum WebhookProvider {
        /// Twilio: inbound SMS, SMS and voice status callbacks.
        Twilio = "twilio",
        /// SendGrid's event webhook.
        Sendgrid = "sendgrid",
        /// Mailgun's webhooks.
        Mailgun = "mailgun",
        /// Amazon Connect contact events.
        AwsConnect = "aws_connect",
        /// Stripe's billing events.
        Stripe = "stripe",
    }
}

impl WebhookProvider {
    /// The provider whose webhook route has this template; `None` for any other route.
    pub fn of_route(route: &str) -> Option<Self> {
        Some(match route {
            "/webhooks/twilio/sms" | "/webhooks/twilio/sms/status" => Self::Twilio,
            "/webhooks/twilio/voice/status" => Self::Twilio,
            "/webhooks/email/sendgrid" => Self::Sendgrid,
            "/webhooks/email/mailgun" => Self::Mailgun,
            "/webhooks/aws-connect/events" => Self::AwsConnect,
            crate::webhooks::stripe::PATH => Self::Stripe,
            _ => return None,
        })
    }
}

impl From<palisade_db::webhooks::Provider> for WebhookProvider {
    fn from(p: palisade_db::webhooks::Provider) -> Self {
        use palisade_db::webhooks::Provider as P;
        match p {
            P::Twilio => Self::Twilio,
            P::Sendgrid => Self::Sendgrid,
            P::Mailgun => Self::Mailgun,
            P::AwsConnect => Self::AwsConnect,
        }
    }
}

palisade_domain::str_enum! {
    /// What became of a provider webhook delivery: the `outcome` label. The first five are
    /// counted by the handlers, once per event (a SendGrid batch holds several); the rest from
    /// the answer, once per request that was not acknowledged.
    pub enum WebhookOutcome {
        /// Written: it changed what it is about, and was recorded.
        Applied = "applied",
        /// Recorded, but older than what is stored: nothing else changed.
        Stale = "stale",
        /// Already recorded: nothing written.
        Duplicate = "duplicate",
        /// Acknowledged without a write: routed to no organization, about nothing we keep, a
        /// type we do not handle.
        Ignored = "ignored",
        /// Not applied because of an error a retry would repeat: a SendGrid event skipped so the
        /// rest of its batch goes on, a Stripe customer held by several organizations.
        Failed = "failed",
        /// Refused (401): a missing, wrong or stale signature, or a replayed Mailgun token.
        BadSignature = "bad_signature",
        /// Refused (401): an Amazon Connect event without a working credential.
        BadCredentials = "bad_credentials",
        /// Refused (503): this server has no secret for the provider.
        NotConfigured = "not_configured",
        /// Refused (4xx): signed, but unreadable or too large; a wrong method or media type.
        Refused = "refused",
        /// Answered 503 `unavailable`: the database was away; the provider retries.
        Unavailable = "unavailable",
        /// Answered another 5xx: a bug or an unexpected database error; the provider retries.
        Error = "error",
    }
}

impl From<palisade_db::webhooks::Outcome> for WebhookOutcome {
    fn from(o: palisade_db::webhooks::Outcome) -> Self {
        match o {
            palisade_db::webhooks::Outcome::Applied => Self::Applied,
            palisade_db::webhooks::Outcome::Stale => Self::Stale,
        }
    }
}

impl WebhookOutcome {
    /// The outcome of a webhook request that was not acknowledged, from its answer.
    fn of_refusal(status: StatusCode, code: Option<ErrorCode>) -> Self {
        match code {
            Some(ErrorCode::InvalidSignature) => Self::BadSignature,
            Some(ErrorCode::InvalidCredentials) => Self::BadCredentials,
            Some(ErrorCode::NotConfigured) => Self::NotConfigured,
            Some(ErrorCode::Unavailable) => Self::Unavailable,
            _ if status.is_server_error() => Self::Error,
            _ => Self::Refused,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    provider: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

type DurationFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The pool gauges, set from [`PoolStatus`] at each scrape.
#[derive(Default)]
struct PoolGauges {
    max: Family<PoolLabels, Gauge>,
    open: Family<PoolLabels, Gauge>,
    idle: Family<PoolLabels, Gauge>,
    waiting: Family<PoolLabels, Gauge>,
}

impl PoolGauges {
    fn set(&self, pool: &'static str, s: PoolStatus) {
        let labels = PoolLabels { pool };
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.max.get_or_create(&labels).set(n(s.max_size));
        self.open.get_or_create(&labels).set(n(s.size));
        self.idle.get_or_create(&labels).set(n(s.idle));
        self.waiting.get_or_create(&labels).set(n(s.waiting));
    }
}

/// What is sampled at each scrape rather than counted as it happens.
struct Sampled {
    pool: AppPool,
    billing: Option<BillingPool>,
    passwords: PasswordHashing,
    pools: PoolGauges,
    hashing_threads: Gauge,
    hashing_running: Gauge,
    hashing_waiting: Gauge,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily,
    webhooks: Family<WebhookLabels, Counter>,
    sampled: Sampled,
}

/// One server's metrics (see the module doc). Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Inner>>);

impl Metrics {
    /// Metrics off: nothing is counted or served.
    pub fn off() -> Self {
        Self(None)
    }

    /// Metrics on, for a server with the app pool `pool`, the Stripe webhook's `billing` pool
    /// (when configured) and its password hashing threads.
    pub fn new(pool: AppPool, billing: Option<BillingPool>, passwords: PasswordHashing) -> Self {
        let mut registry = Registry::with_prefix("palisade");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let durations = DurationFamily::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its answer, by method and route template",
            Unit::Seconds,
            durations.clone(),
        );
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "provider_webhooks",
            "Provider webhook deliveries (carriers, email providers, Amazon Connect, Stripe), by provider and outcome",
            webhooks.clone(),
        );
        registry.register(
            "db_errors",
            "Database errors, by SQLSTATE class or what failed without one (connection, unavailable, client)",
            palisade_db::error_counter(),
        );
        let pools = PoolGauges::default();
        registry.register(
            "db_pool_max_connections",
            "The most connections the pool may open",
            pools.max.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Connections the pool has open, idle or in use",
            pools.open.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Open connections of the pool that are idle",
            pools.idle.clone(),
        );
        registry.register(
            "db_pool_waiting",
            "Requests waiting for one of the pool's connections",
            pools.waiting.clone(),
        );
        let sampled = Sampled {
            pool,
            billing,
            passwords,
            pools,
            hashing_threads: Gauge::default(),
            hashing_running: Gauge::default(),
            hashing_waiting: Gauge::default(),
        };
        registry.register(
            "password_hashing_threads",
            "Password hashing threads: at most this many argon2 hashes run at once",
            sampled.hashing_threads.clone(),
        );
        registry.register(
            "password_hashing_running",
            "Password hashes and verifications running now",
            sampled.hashing_running.clone(),
        );
        registry.register(
            "password_hashing_waiting",
            "Requests waiting for a password hashing thread",
            sampled.hashing_waiting.clone(),
        );
        Self(Some(Arc::new(Inner {
            registry,
            requests,
            durations,
            webhooks,
            sampled,
        })))
    }

    /// Whether metrics are on.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Counts a webhook delivery of `provider` that came to `outcome`.
    pub fn webhook(&self, provider: impl Into<WebhookProvider>, outcome: WebhookOutcome) {
        if let Some(m) = &self.0 {
            m.webhooks
                .get_or_create(&WebhookLabels {
                    provider: provider.into().as_str(),
                    outcome: outcome.as_str(),
                })
                .inc();
        }
    }

    /// Counts and times one answered request.
    fn request(
        &self,
        method: &'static str,
        route: Option<String>,
        status: StatusCode,
        code: Option<ErrorCode>,
        elapsed: Duration,
    ) {
        let Some(m) = &self.0 else { return };
        let route = route.unwrap_or_else(|| UNMATCHED.to_owned());
        // A webhook acknowledged (2xx) was counted by its handler, event by event.
        if !status.is_success()
            && let Some(provider) = WebhookProvider::of_route(&route)
        {
            m.webhooks
                .get_or_create(&WebhookLabels {
                    provider: provider.as_str(),
                    outcome: WebhookOutcome::of_refusal(status, code).as_str(),
                })
                .inc();
        }
        let labels = RouteLabels { method, route };
        m.durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        m.requests
            .get_or_create(&RequestLabels {
                method: labels.method,
                route: labels.route,
                status: status.as_u16(),
            })
            .inc();
    }

    /// Samples the pools and the hashing threads, then writes every metric as OpenMetrics
    /// text ([`CONTENT_TYPE`]). `None` with metrics off.
    pub fn render(&self) -> Option<String> {
        let m = self.0.as_ref()?;
        let s = &m.sampled;
        s.pools.set("app", s.pool.status());
        if let Some(billing) = &s.billing {
            s.pools.set("billing", billing.status());
        }
        let load = s.passwords.load();
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        s.hashing_threads.set(n(load.threads));
        s.hashing_running.set(n(load.running));
        s.hashing_waiting.set(n(load.waiting));
        let mut text = String::new();
        // Writing to a String cannot fail.
        prometheus_client::encoding::text::encode(&mut text, &m.registry).ok()?;
        Some(text)
    }
}

/// The `method` label: the standard methods as they are, any other `other` (a client may send
/// any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts and times every answer ([`Metrics`] from the app data, registered by
/// [`crate::configure`]). The server registers it outermost, so the time covers every other
/// middleware and the status is the one the client gets.
pub async fn record_requests<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let metrics = match req.app_data::<web::Data<Metrics>>() {
        Some(m) if m.is_on() => m.clone(),
        _ => return next.call(req).await,
    };
    let started = Instant::now();
    let method = method_label(req.method());
    // The template of the route the path matches (the router's table, before routing).
    let route = req.match_pattern();
    let answer = next.call(req).await;
    let api_code = crate::error::error_code;
    let (status, code) = match &answer {
        Ok(res) => (res.status(), res.response().error().and_then(api_code)),
        Err(e) => (e.as_response_error().status_code(), api_code(e)),
    };
    metrics.request(method, route, status, code, started.elapsed());
    answer
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_webhook_route_names_its_provider() {
        let mut endpoints = crate::endpoints::Endpoints::default();
        crate::routes::register(&mut endpoints, None);
        let webhook_routes: Vec<&str> = endpoints
            .routes()
            .into_iter()
            .map(|(_, path)| path)
            .filter(|p| p.starts_with("/webhooks/"))
            .collect();
        assert!(webhook_routes.len() >= 7, "{webhook_routes:?}");
        for route in &webhook_routes {
            assert!(
                WebhookProvider::of_route(route).is_some(),
                "{route} has no provider label: add it to WebhookProvider::of_route"
            );
        }
        assert_eq!(WebhookProvider::of_route("/v1/webhooks/{id}"), None);
        assert_eq!(WebhookProvider::of_route(UNMATCHED), None);
    }

    #[test]
    fn a_refused_webhook_is_named_by_its_error_code_then_its_status() {
        let of = WebhookOutcome::of_refusal;
        let unauthorized = StatusCode::UNAUTHORIZED;
        let unavailable = StatusCode::SERVICE_UNAVAILABLE;
        assert_eq!(
            of(unauthorized, Some(ErrorCode::InvalidSignature)),
            WebhookOutcome::BadSignature
        );
        assert_eq!(
            of(unauthorized, Some(ErrorCode::InvalidCredentials)),
            WebhookOutcome::BadCredentials
        );
        assert_eq!(
            of(unavailable, Some(ErrorCode::NotConfigured)),
            WebhookOutcome::NotConfigured
        );
        assert_eq!(
            of(unavailable, Some(ErrorCode::Unavailable)),
            WebhookOutcome::Unavailable
        );
        assert_eq!(
            of(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(ErrorCode::InternalError)
            ),
            WebhookOutcome::Error
        );
        assert_eq!(of(StatusCode::BAD_GATEWAY, None), WebhookOutcome::Error);
        assert_eq!(
            of(StatusCode::BAD_REQUEST, Some(ErrorCode::InvalidPayload)),
            WebhookOutcome::Refused
        );
        assert_eq!(
            of(StatusCode::PAYLOAD_TOO_LARGE, None),
            WebhookOutcome::Refused
        );
    }

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(method_label(&Method::TRACE), "other");
    }
}
