//! The docs page for people, `GET /docs` (crates/palisade_api/src/routes/docs_page.rs): it loads
//! nothing from another origin. Every `src`/`href` of the page is this server's and served with
//! its type; the Content-Security-Policy lets a browser load and fetch from this origin only,
//! so even a URL inside the vendored bundle could not be loaded; the initializer points at
//! `/openapi.json` and turns the online validator off.

use palisade_api::routes::docs_page::{ASSETS, Asset, PAGE};
use palisade_test_support::{TestResponse, request, spawn_app};

/// Every value of an `attr=` attribute in `html` (which must be double-quoted: another
/// spelling fails rather than slipping past).
fn attribute_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=");
    html.match_indices(&needle)
        .filter(|(at, _)| html[..*at].ends_with(char::is_whitespace))
        .map(|(at, _)| {
            let rest = html[at + needle.len()..]
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("{attr}= not double-quoted at byte {at}"));
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

/// The CSP as `(directive, sources)`.
fn directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .filter(|d| !d.trim().is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            (words.next().unwrap(), words.collect())
        })
        .collect()
}

/// Whether `url` leads to this server: a path, not `//host/...`, not `scheme:...`.
fn same_origin(url: &str) -> bool {
    url.starts_with('/') && !url.starts_with("//")
}

fn embedded(name: &str) -> &'static Asset {
    ASSETS.iter().find(|a| a.name == name).unwrap()
}

fn assert_served_as(r: &TestResponse, asset: &Asset, context: &str) {
    assert_eq!(r.status, 200, "{context}: {}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some(asset.content_type),
        "{context}"
    );
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{context}"
    );
    assert!(r.header("etag").is_some(), "{context}: no ETag");
    assert_eq!(r.header("cache-control"), Some("no-cache"), "{context}");
    assert!(
        r.headers
            .iter()
            .all(|(n, _)| !n.starts_with("access-control-")),
        "{context}: a CORS header"
    );
    assert!(
        r.text == String::from_utf8_lossy(asset.bytes),
        "{context}: not the embedded bytes"
    );
}

#[actix_web::test]
async fn the_page_and_everything_it_loads_come_from_this_server() {
    let app = spawn_app().await;
    let page = request(&app.addr, "GET", "/docs", &[], None).await;
    assert_served_as(&page, &PAGE, "GET /docs");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.text.contains("<div id=\"swagger-ui\">"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("<script>"), "an inline script");
    assert!(!page.text.contains(" style="), "an inline style");

    let mut links: Vec<&str> = attribute_values(&page.text, "src");
    links.extend(attribute_values(&page.text, "href"));
    links.sort_unstable();
    assert_eq!(
        links,
        [
            "/docs/favicon-32x32.png",
            "/docs/palisade-docs.js",
            "/docs/swagger-ui-bundle.js",
            "/docs/swagger-ui.css",
        ]
    );
    for link in links {
        assert!(same_origin(link), "{link}");
        let name = link.strip_prefix("/docs/").unwrap();
        let r = request(&app.addr, "GET", link, &[], None).await;
        assert_served_as(&r, embedded(name), link);
        let expected = match name.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("png") => "image/png",
            other => panic!("{link}: a file of type {other:?}"),
        };
        assert_eq!(r.header("content-type"), Some(expected), "{link}");
    }

    // The initializer: this server's document, no validator, no other URL.
    let init = request(&app.addr, "GET", "/docs/palisade-docs.js", &[], None).await;
    assert!(
        init.text.contains("url: \"/openapi.json\""),
        "{}",
        init.text
    );
    assert!(init.text.contains("validatorUrl: null"), "{}", init.text);
    assert!(
        init.text.contains("queryConfigEnabled: false"),
        "{}",
        init.text
    );
    assert!(!init.text.contains("://"), "{}", init.text);
    let doc = request(&app.addr, "GET", "/openapi.json", &[], None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["paths"]["/docs"]["get"].is_object());

    // The stylesheet's url(...) are data: images only (a font or image elsewhere would load).
    let css = request(&app.addr, "GET", "/docs/swagger-ui.css", &[], None).await;
    let urls: Vec<&str> = css
        .text
        .match_indices("url(")
        .map(|(at, _)| css.text[at + 4..].trim_start_matches(['"', '\'']))
        .collect();
    assert!(!urls.is_empty());
    for url in urls {
        assert!(url.starts_with("data:"), "{}", &url[..url.len().min(80)]);
    }
    assert!(!css.text.contains("@import"));
    // The bundle's one call out by default is the validator badge, turned off above. Its
    // other URLs are documentation links and JSON Schema ids, never loaded: the CSP below is
    // what guarantees it.
    let bundle = request(&app.addr, "GET", "/docs/swagger-ui-bundle.js", &[], None).await;
    assert!(
        bundle
            .text
            .contains("https://validator.swagger.io/validator")
    );
}

#[actix_web::test]
async fn the_page_policy_lets_a_browser_load_and_fetch_from_this_origin_only() {
    let app = spawn_app().await;
    let page = request(&app.addr, "GET", "/docs", &[], None).await;
    let csp = page
        .header("content-security-policy")
        .expect("no Content-Security-Policy on /docs");
    let directives = directives(csp);
    let sources = |name: &str| -> Vec<String> {
        let of = |n: &str| directives.iter().find(|(d, _)| d == n).map(|(_, s)| s);
        // A fetch directive that is absent falls back to default-src.
        of(name).or_else(|| of("default-src")).unwrap().clone()
    };
    assert_eq!(sources("default-src"), ["'none'"], "{csp}");
    // Scripts: files of this origin only; no inline script, no eval.
    assert_eq!(sources("script-src"), ["'self'"], "{csp}");
    // Nothing inline, nothing evaluated, no other origin; data: for images alone.
    for name in [
        "style-src",
        "img-src",
        "font-src",
        "connect-src",
        "media-src",
        "object-src",
        "frame-src",
        "worker-src",
        "manifest-src",
    ] {
        for s in sources(name) {
            let allowed = s == "'self'" || s == "'none'" || (name == "img-src" && s == "data:");
            assert!(allowed, "{name} allows {s}: {csp}");
        }
    }
    assert!(sources("connect-src").contains(&"'self'".to_owned()));
    // Not covered by default-src: stated.
    for name in ["base-uri", "form-action", "frame-ancestors"] {
        let of = directives.iter().find(|(d, _)| d == name);
        assert_eq!(
            of.map(|(_, s)| s.clone()),
            Some(vec!["'none'".to_owned()]),
            "{name}: {csp}"
        );
    }
}

#[actix_web::test]
async fn an_unchanged_file_answers_304_and_an_unknown_one_404() {
    let app = spawn_app().await;
    for path in ["/docs", "/docs/swagger-ui-bundle.js"] {
        let first = request(&app.addr, "GET", path, &[], None).await;
        let tag = first.header("etag").unwrap().to_owned();
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
        for condition in [tag.clone(), format!("W/{tag}, \"other\""), "*".to_owned()] {
            let again = request(
                &app.addr,
                "GET",
                path,
                &[("If-None-Match", condition.clone())],
                None,
            )
            .await;
            assert_eq!(again.status, 304, "{path} {condition}");
            assert_eq!(again.header("etag"), Some(tag.as_str()));
            assert!(again.text.is_empty());
        }
        let other = request(
            &app.addr,
            "GET",
            path,
            &[("If-None-Match", "\"other\"".to_owned())],
            None,
        )
        .await;
        assert_eq!(other.status, 200, "{path}");
    }
    for path in [
        "/docs/index.html",
        "/docs/swagger-ui.js",
        "/docs/..%2FCargo.toml",
    ] {
        let r = request(&app.addr, "GET", path, &[], None).await;
        r.assert_error_at(404, "not_found", path);
    }
}
