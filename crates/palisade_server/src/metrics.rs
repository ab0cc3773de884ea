//! The metrics listener: `GET /metrics` on `PALISADE_METRICS_ADDR`, and nothing else there.
//!
//! A second HTTP server of its own (one worker, no signal handling: the application stops it
//! after the API's server), so the metrics never share the API's port, routes or middleware:
//! the public address answers `/metrics` with 404 like any unknown path, and a scrape is
//! neither counted nor logged as a request. What is served is [`Metrics::render`]'s text
//! (docs/metrics.md).

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
use palisade_api::metrics::{CONTENT_TYPE, Metrics};

/// The path Prometheus scrapes.
pub const PATH: &str = "/metrics";

/// Whether listening on `metrics` would also be listening on the API's `http` address: the
/// same address, or the same port where either address is a wildcard (`0.0.0.0`, `[::]`). Port
/// 0 (a free port, a new one each time) never clashes. Host names are compared as written; one
/// that resolves to the API's address is refused when the second listener cannot bind.
pub fn shares_the_api_address(http: &str, metrics: &str) -> bool {
    if let (Ok(a), Ok(b)) = (http.parse::<SocketAddr>(), metrics.parse::<SocketAddr>()) {
        return a.port() == b.port()
            && a.port() != 0
            && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified());
    }
    let split = |addr: &str| {
        addr.trim().rsplit_once(':').map(|(host, port)| {
            (
                host.trim_matches(['[', ']']).to_ascii_lowercase(),
                port.to_owned(),
            )
        })
    };
    match (split(http), split(metrics)) {
        (Some((host_a, port_a)), Some((host_b, port_b))) => {
            let wildcard = |h: &str| h == "0.0.0.0" || h == "::";
            port_a == port_b
                && port_a != "0"
                && (host_a == host_b || wildcard(&host_a) || wildcard(&host_b))
        }
        _ => http.trim() == metrics.trim(),
    }
}

/// The metrics server on `listener`, not yet running (await it, or spawn it).
pub fn server(listener: TcpListener, metrics: Metrics) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(metrics.clone()))
            .service(web::resource(PATH).route(web::get().to(scrape)))
            .default_service(web::to(HttpResponse::NotFound))
    })
    .workers(1)
    // The application stops it once the API's server has stopped (startup.rs).
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)?
    .run())
}

async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.render() {
        Some(text) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
            .body(text),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::shares_the_api_address as shares;

    #[test]
    fn the_api_address_or_its_port_on_a_wildcard_is_refused() {
        for (http, metrics) in [
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("127.0.0.1:8080", "0.0.0.0:8080"),
            ("[::]:8080", "127.0.0.1:8080"),
            ("[::1]:9000", "[::1]:9000"),
            ("localhost:8080", "localhost:8080"),
            ("localhost:8080", "0.0.0.0:8080"),
            ("api.internal:8080", "API.internal:8080"),
        ] {
            assert!(shares(http, metrics), "{http} {metrics}");
        }
        for (http, metrics) in [
            ("127.0.0.1:8080", "127.0.0.1:9464"),
            ("10.0.0.5:8080", "127.0.0.1:8080"),
            ("127.0.0.1:0", "127.0.0.1:0"),
            ("localhost:8080", "localhost:9464"),
            ("0.0.0.0:8080", "0.0.0.0:9464"),
        ] {
            assert!(!shares(http, metrics), "{http} {metrics}");
        }
    }
}
