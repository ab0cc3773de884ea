//! The API's docs page for people: `GET /docs`, Swagger UI over the served `/openapi.json`,
//! and the files it loads, `GET /docs/{file}` (docs/api.md, "The docs page").
//!
//! Every byte is in the binary (`include_bytes!`), so the page works with no network: our page
//! and its initializer (`assets/docs/`) and a released Swagger UI bundle, vendored unchanged
//! (`assets/swagger-ui/`, whose README says which release, its licence, and how
//! `scripts/vendor_swagger_ui.sh` re-fetches and checks it). The page's
//! [`CONTENT_SECURITY_POLICY`] lets a browser load scripts, styles, images and fonts from this
//! origin only and fetch this origin only, and run no inline script: even a bundle that tried to
//! reach elsewhere (the online validator, a font) would be refused by the browser itself. The
//! initializer turns the validator badge off and ignores `?url=` in the address bar, so the page
//! shows this server's document and calls nothing else.
//!
//! Every answer carries `X-Content-Type-Options: nosniff`, a strong `ETag` (an `If-None-Match`
//! that names it answers 304) and `Cache-Control: no-cache`: the file names carry no version,
//! so a browser revalidates each time and gets a 304 while the binary is the same. No CORS
//! header ([`crate::cors`] answers `/v1` only).

use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::ApiError;
use crate::endpoints::{Auth, Endpoints};
use crate::error::ErrorCode;

/// The page's `Content-Security-Policy`: scripts, styles, images (and the `data:` images of
/// Swagger UI's stylesheet), fonts and fetches from this origin only; nothing inline (React sets
/// styles through the CSSOM, which the policy does not govern), no `<base>`, no form posts, no
/// framing. Checked in headless Chromium: the page renders, operations open and "Try it out"
/// works with no violation.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
pub struct Asset {
    /// Its name under `/docs/` (the page itself: `index.html`, served at `/docs`).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes, as committed.
    pub bytes: &'static [u8],
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        Self {
            name,
            content_type,
            bytes,
            etag: OnceLock::new(),
        }
    }

    /// Its strong entity tag, computed on first use (the bundle is 1.7 MB: once per process).
    fn etag(&self) -> &str {
        self.etag
            .get_or_init(|| crate::etag::entity_tag(self.bytes))
    }
}

/// `GET /docs`.
pub static PAGE: Asset = Asset::new(
    "index.html",
    "text/html; charset=utf-8",
    include_bytes!("../../assets/docs/index.html"),
);

/// `GET /docs/{file}`: what the page loads.
pub static ASSETS: [Asset; 4] = [
    Asset::new(
        "palisade-docs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/docs/palisade-docs.js"),
    ),
    Asset::new(
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    ),
    Asset::new(
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui.css"),
    ),
    Asset::new(
        "favicon-32x32.png",
        "image/png",
        include_bytes!("../../assets/swagger-ui/favicon-32x32.png"),
    ),
];

/// Declares `GET /docs` and `GET /docs/{file}`. They are in the document like `/openapi.json`:
/// the route table is the one way to serve a route, and the document lists what is served.
pub fn register(e: &mut Endpoints) {
    e.get("/docs", page)
        .auth(Auth::Public)
        .tag("meta")
        .summary("This API's docs page for people (Swagger UI over /openapi.json)")
        .describe(
            "An HTML page; everything it loads is served by this server under `/docs/`, and \
             its `Content-Security-Policy` forbids any other origin. A strong `ETag`; an \
             `If-None-Match` naming it answers 304.",
        )
        .plain(200, "text/html", "The page");
    e.get("/docs/{file}", asset)
        .auth(Auth::Public)
        .tag("meta")
        .summary("A file the docs page loads")
        .describe(
            "`palisade-docs.js`, `swagger-ui-bundle.js`, `swagger-ui.css`, \
             `favicon-32x32.png`; any other name answers 404. A strong `ETag`; an \
             `If-None-Match` naming it answers 304.",
        )
        .plain(
            200,
            "*/*",
            "The file: `text/javascript`, `text/css` or `image/png`, by its name",
        )
        .errors(&[404]);
}

async fn page(req: HttpRequest) -> HttpResponse {
    let mut answer = serve(&req, &PAGE);
    answer.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    answer
}

async fn asset(req: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = file.into_inner();
    match ASSETS.iter().find(|a| a.name == file) {
        Some(found) => Ok(serve(&req, found)),
        None => Err(ApiError::Http {
            status: StatusCode::NOT_FOUND,
            code: ErrorCode::NotFound,
            message: "no such file under /docs".into(),
        }),
    }
}

/// The file, or 304 when the request's `If-None-Match` names its tag (or is `*`); weak
/// comparison, as RFC 9110 §13.1.2 asks for `If-None-Match`.
fn serve(req: &HttpRequest, asset: &'static Asset) -> HttpResponse {
    let etag = asset.etag();
    let unchanged = crate::etag::none_match(req.headers().get_all(header::IF_NONE_MATCH), etag);
    let mut answer = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if unchanged {
        answer.finish()
    } else {
        answer.content_type(asset.content_type).body(asset.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// The vendored files are embedded exactly as `scripts/vendor_swagger_ui.sh` recorded them
    /// (a hand edit or a partial update fails here; `--check` compares them with upstream).
    #[test]
    fn the_vendored_files_match_their_recorded_sha256() {
        let sums = include_str!("../../assets/swagger-ui/SHA256SUMS");
        let embedded: Vec<&Asset> = ASSETS
            .iter()
            .filter(|a| a.name != "palisade-docs.js")
            .collect();
        assert_eq!(embedded.len(), 3);
        for a in embedded {
            let line = sums
                .lines()
                .find(|l| l.ends_with(&format!("  {}", a.name)))
                .unwrap_or_else(|| panic!("{} is not in SHA256SUMS", a.name));
            let digest = Sha256::digest(a.bytes);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                line.split_whitespace().next(),
                Some(hex.as_str()),
                "{}",
                a.name
            );
        }
    }
}
