//! No input crashes a request or answers 5xx: property-based tests through the HTTP layer.
//!
//! Generated text (NUL and the other control characters, lone surrogates escaped in JSON,
//! every plane of unicode, lengths at and beyond every limit), numbers at and beyond the limits
//! of i32, i64, u64 and f64 (`1e400` included) and dates at and beyond years 0 and 9999 go into
//! every field of the bodies (at any depth), every query parameter and every id in the paths of
//! every resource family, and into every field of correctly signed provider webhooks. Every
//! answer must be below 500, a 4xx must be the JSON error body, and a refused write must leave
//! what it aimed at as it was.
//!
//! Each test first sweeps every slot with the classic crashers ([`sweep_values`],
//! [`sweep_texts`]), then runs random cases. One app per test. proptest runs a property's cases
//! one after the other, so [`fuzz`] runs them on a blocking thread with a runtime of its own
//! while the app keeps serving on the test's. `PROPTEST_CASES=2000` makes every property run
//! that many cases (a long local hunt).

use std::sync::{Arc, Mutex};

use futures_util::future::LocalBoxFuture;
use hmac::{Hmac, KeyInit, Mac};
use palisade_domain::Role;
use palisade_test_support::{
    Account, TEST_MAILGUN_SIGNING_KEY, TestApp, TestResponse, percent_encode, request,
    sendgrid_test_signer, spawn_app_with_owner, unique_number, unix_now,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::engagement::menu_tree;

// --- running a property against a live app -------------------------------------------------

type Outcome<'a> = LocalBoxFuture<'a, Result<(), TestCaseError>>;

/// Cases per property: `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Checks `check` on `default_cases` values of the strategy `make` builds, one case after the
/// other on a blocking thread with a runtime of its own; the app keeps serving on the test's
/// runtime meanwhile. A failure panics with proptest's shrunk counterexample.
async fn fuzz<C, S>(
    ctx: &Arc<C>,
    default_cases: u32,
    make: fn(&C) -> S,
    check: for<'a> fn(&'a C, S::Value) -> Outcome<'a>,
) where
    C: Send + Sync + 'static,
    S: Strategy + 'static,
{
    let ctx = Arc::clone(ctx);
    let outcome = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the cases");
        let mut runner = TestRunner::new(Config {
            cases: cases(default_cases),
            failure_persistence: None,
            // Each shrinking step is a request: bounded, so a failure is reported quickly.
            max_shrink_iters: 200,
            ..Config::default()
        });
        let strategy = make(&ctx);
        runner
            .run(&strategy, |v| rt.block_on(check(&ctx, v)))
            .map_err(|e| e.to_string())
    })
    .await
    .expect("the fuzzing thread");
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// At most 300 characters of `s`, for messages.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(300).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

/// The rule every answer keeps: below 500, and a 4xx is the JSON error body.
fn answered(what: &str, r: &TestResponse) -> Result<(), TestCaseError> {
    prop_assert!(
        r.status < 500,
        "{} answered {}: {}",
        short(what),
        r.status,
        short(&r.text)
    );
    if r.status >= 400 {
        prop_assert!(
            r.json["error"].as_str().is_some_and(|c| !c.is_empty())
                && r.json["message"].is_string(),
            "{} answered {} without the JSON error body: {}",
            short(what),
            r.status,
            short(&r.text)
        );
    }
    Ok(())
}

/// Panics with a failed check's message (the sweeps are plain loops, not proptest).
fn must(outcome: Result<(), TestCaseError>) {
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// Sends `body` (raw bytes, JSON content type) with a bearer token, when given.
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> TestResponse {
    let mut headers: Vec<(&str, String)> = Vec::new();
    if let Some(t) = token {
        headers.push(("Authorization", format!("Bearer {t}")));
    }
    if body.is_some() {
        headers.push(("Content-Type", "application/json".into()));
    }
    request(&app.addr, method, path, &headers, body).await
}

// --- what is sent ------------------------------------------------------------------------

/// Lengths at and just past the documented limits (labels 100, names 200, provider ids 255,
/// descriptions 500, subjects 998, prompts 1000, SMS 1600, chat 4000, tokens 4096, posts 5000,
/// notes 10 000, scripts 20 000, articles 50 000).
const LENGTHS: &[usize] = &[
    0, 1, 64, 65, 100, 101, 200, 201, 255, 256, 300, 301, 500, 501, 998, 999, 1000, 1001, 1600,
    1601, 4000, 4001, 4096, 4097, 5001, 10_001, 20_001, 50_001,
];

/// The most bytes one generated text takes once encoded, in a JSON body or a URL. Bodies
/// beyond the 64 KiB limit are refused before they are read (413, tested in `customers.rs`),
/// and request heads beyond 128 KiB by the HTTP layer before the app: past either, a
/// connection closed with unread input loses the answer, and the fuzz would test the client.
const MAX_TEXT_BYTES: usize = 56 * 1024;

/// Characters that break naive handling: NUL, other C0 and C1 controls, DEL, separators,
/// zero-width and byte-order marks, the replacement character, astral and combining characters,
/// a right-to-left override, quotes, backslash, percent, plus, and the last code point.
const SPECIAL: &[char] = &[
    '\0',
    '\u{1}',
    '\t',
    '\n',
    '\r',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9f}',
    '\u{2028}',
    '\u{2029}',
    '\u{200b}',
    '\u{feff}',
    '\u{fffd}',
    '\u{1f600}',
    '\u{301}',
    '\u{202e}',
    '"',
    '\'',
    '\\',
    '%',
    '+',
    '&',
    '=',
    '/',
    '\u{10ffff}',
    'é',
    'a',
    ' ',
];

/// Values that pass some parser, for a special character to be put inside.
const PLAUSIBLE: &[&str] = &[
    "Ada Lovelace",
    "ada@example.com",
    "+14155550123",
    "2024-05-01T00:00:00Z",
    "2024-05-01",
    "draft",
    "sms",
    "twitter",
    "customer.created",
    "https://hooks.example.com/x",
    "0190c6f0-0000-7000-8000-000000000000",
    "CA0123456789abcdef0123456789abcdef",
    "page.viewed",
    "true",
    "42",
];

/// Years at and beyond the ends of what RFC 3339, the `time` crate and PostgreSQL hold.
const YEARS: &[i32] = &[
    -100_000, -10_000, -4714, -4713, -1, 0, 1, 1969, 1970, 2024, 9998, 9999, 10_000, 99_999,
    275_760, 294_277,
];

/// Times of day and offsets, valid and not, that can push a date across a year boundary.
const TIMES: &[&str] = &[
    "",
    "T00:00:00Z",
    "T23:59:59Z",
    "T23:59:59.999999999Z",
    "T23:59:59.9999995Z",
    "T23:59:59-23:59",
    "T00:00:00+23:59",
    "T24:00:00Z",
    "T23:59:60Z",
    "T12:00:00+00:00",
    " 12:00:00Z",
    "T12:00:00",
    "T12:00:00 01:00",
];

/// Numbers at and beyond the limits of i32, i64, u64 and f64, and in odd spellings.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "0.5",
    "-0.0",
    "1e400",
    "-1e400",
    "1e-400",
    "1.7976931348623157e308",
    "5e-324",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967296",
    "86401",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "1E2",
    "253402300800",
];

/// JSON that no `serde_json::Value` can hold or that stresses the parser: lone surrogates,
/// an escaped NUL, a valid pair, deep nesting, and plain oddities.
const RAW_JSON: &[&str] = &[
    r#""\ud800""#,
    r#""a\udc00b""#,
    r#""\udfff\ud800""#,
    r#""\u0000""#,
    r#""x\u0000y""#,
    r#""\ud83d\ude00""#,
    r#""\u001f\u007f\u0085""#,
    "null",
    "true",
    "false",
    "[]",
    "{}",
    r#""""#,
    r#"{"\u0000": 1}"#,
    r#"{"a": "\u0000"}"#,
    r#"{"a": {"b": ["\u0000"]}}"#,
    r#"{"\ud800": "\udc00"}"#,
    r#"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
];

/// Whole bodies that are not what any route expects.
const RAW_BODIES: &[&[u8]] = &[
    b"",
    b"null",
    b"[]",
    b"{",
    b"\xff\xfe{}",
    b"\xef\xbb\xbf{}",
    b"{\"a\":1,\"a\":2}",
    b"1e400",
    b"\"\\u0000\"",
    b"{\"\\u0000\":\"\\ud800\"}",
];

/// Query strings that are not well-formed: bad percent escapes, invalid UTF-8, repeats.
const RAW_QUERIES: &[&str] = &[
    "%",
    "%zz",
    "%FF%FE=%C0%80",
    "=",
    "&&&",
    "limit=1&limit=2",
    "a%00b=c%00d",
    "cursor=%00",
    "limit=%2B1",
];

fn year(y: i32) -> String {
    if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    }
}

/// A date or date-time at or beyond the limits, valid or not.
fn date_text() -> impl Strategy<Value = String> {
    (
        select(YEARS),
        select(&[1u8, 12, 2, 0, 13][..]),
        select(&[1u8, 31, 29, 30, 0, 32][..]),
        select(TIMES),
        any::<bool>(),
    )
        .prop_map(|(y, m, d, t, plus)| {
            let y = if plus && y > 9999 {
                format!("+{y}")
            } else {
                year(y)
            };
            format!("{y}-{m:02}-{d:02}{t}")
        })
}

/// A number in JSON (also sent as text in forms and query strings).
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(NUMBERS).prop_map(str::to_owned),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i32>().prop_map(|n| n.to_string()),
        1 => any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(|n| n.to_string()),
    ]
}

/// Text that breaks naive storage or parsing.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        // Any text, control characters and every plane included.
        3 => any::<String>(),
        3 => prop::collection::vec(prop_oneof![any::<char>(), select(SPECIAL)], 0..40)
            .prop_map(|c| c.into_iter().collect::<String>()),
        // Something a parser would take, with a special character put inside or around it.
        3 => (select(PLAUSIBLE), select(SPECIAL), any::<prop::sample::Index>()).prop_map(
            |(base, c, at)| {
                let cut = base
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([base.len()])
                    .nth(at.index(base.chars().count() + 1))
                    .unwrap_or(0);
                format!("{}{c}{}", &base[..cut], &base[cut..])
            }
        ),
        // One character repeated to a length at or past a limit (within what one request
        // carries: see [`MAX_TEXT_BYTES`]).
        2 => (select(SPECIAL), select(LENGTHS)).prop_map(|(c, n)| {
            let one = c.to_string();
            let encoded = (json_string(&one).len() - 2).max(percent_encode(&one).len());
            one.repeat(n.min(MAX_TEXT_BYTES / encoded))
        }),
        2 => date_text(),
        1 => number_text(),
    ]
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A JSON object key: generated text, or an escape no Rust string holds.
fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => text().prop_map(|s| json_string(&s)),
        1 => select(&[r#""\u0000""#, r#""\ud800""#, r#""a\u0000""#, r#""""#][..])
            .prop_map(str::to_owned),
    ]
}

/// A JSON value with no inner structure.
fn json_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => text().prop_map(|s| json_string(&s)),
        2 => date_text().prop_map(|s| json_string(&s)),
        2 => number_text(),
        2 => select(RAW_JSON).prop_map(str::to_owned),
    ]
}

/// Any JSON value the fuzz sends: leaves, and arrays and objects (nested once) of them.
fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => json_leaf(),
        1 => prop::collection::vec(json_leaf(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
        1 => prop::collection::vec((json_key(), json_leaf()), 0..4).prop_map(|kv| object(&kv)),
        1 => (json_key(), prop::collection::vec((json_key(), json_leaf()), 0..3))
            .prop_map(|(k, inner)| object(&[(k, object(&inner))])),
    ]
}

fn object(members: &[(String, String)]) -> String {
    let inner: Vec<String> = members.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// A value for a query parameter, a form field or a path segment (sent percent-encoded).
fn param_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => text(),
        1 => date_text(),
        1 => number_text(),
    ]
}

/// The JSON values every value slot gets in a sweep: NUL, a lone surrogate, control
/// characters, a long string, numbers at and past the i32 and i64 limits and past f64, dates
/// past the years 0000 and 9999 once in UTC, NUL in a nested key and string, and null.
fn sweep_values() -> Vec<String> {
    let mut v: Vec<String> = [
        r#""a\u0000b""#,
        r#""\ud800""#,
        r#""\u001b[31m\u007f\u0085""#,
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809",
        "2147483648",
        "1e400",
        "-1",
        r#""9999-12-31T23:59:59-23:59""#,
        r#""0000-01-01T00:00:00+23:59""#,
        r#""10000-01-01T00:00:00Z""#,
        r#""9999-12-31""#,
        r#"{"\u0000": ["\u0000"]}"#,
        "null",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push(json_string(&"a".repeat(20_001)));
    v
}

/// The keys an added member gets in a sweep.
const SWEEP_KEYS: &[&str] = &[r#""\u0000""#, r#""\ud800""#];

/// The texts every query parameter, id and form field gets in a sweep.
fn sweep_texts() -> Vec<String> {
    let mut v: Vec<String> = [
        "a\0b",
        "\u{1b}[31m\u{7f}",
        "\u{fffd}\u{10ffff}",
        "9223372036854775808",
        "-1",
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00+23:59",
        "10000-01-01",
        "9999-12-31",
        "-0001-12-31",
        "Fri, 31 Dec 9999 23:59:59 -2359",
        "",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push("a".repeat(20_001));
    v
}

// --- bodies with a slot ----------------------------------------------------------------------

const VALUE_SLOT: &str = "\u{1}value-slot\u{1}";
const KEY_SLOT: &str = "\u{1}key-slot\u{1}";

/// Every body that is `body` with one value (at any depth), one key, or one added member
/// replaced by a slot: the places a generated fragment goes.
fn slots(body: &Value) -> Vec<String> {
    fn walk(root: &Value, path: &mut Vec<PathStep>, out: &mut Vec<String>) {
        match at(root, path) {
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                // An added member, and each key renamed.
                out.push(edited(root, path, |n| {
                    if let Value::Object(m) = n {
                        m.insert(KEY_SLOT.into(), Value::String(VALUE_SLOT.into()));
                    }
                }));
                for k in &keys {
                    out.push(edited(root, path, |n| {
                        if let Value::Object(m) = n
                            && let Some(v) = m.remove(k)
                        {
                            m.insert(KEY_SLOT.into(), v);
                        }
                    }));
                }
                for k in keys {
                    path.push(PathStep::Key(k));
                    out.push(edited(root, path, |n| {
                        *n = Value::String(VALUE_SLOT.into())
                    }));
                    walk(root, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for i in 0..items.len() {
                    path.push(PathStep::Index(i));
                    out.push(edited(root, path, |n| {
                        *n = Value::String(VALUE_SLOT.into())
                    }));
                    walk(root, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(body, &mut Vec::new(), &mut out);
    out.sort();
    out.dedup();
    out
}

enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(root: &'a Value, path: &[PathStep]) -> &'a Value {
    path.iter().fold(root, |v, step| match step {
        PathStep::Key(k) => &v[k.as_str()],
        PathStep::Index(i) => &v[*i],
    })
}

fn edited(root: &Value, path: &[PathStep], edit: impl FnOnce(&mut Value)) -> String {
    let mut copy = root.clone();
    let mut node = &mut copy;
    for step in path {
        node = match step {
            PathStep::Key(k) => &mut node[k.as_str()],
            PathStep::Index(i) => &mut node[*i],
        };
    }
    edit(node);
    copy.to_string()
}

/// The body of `slot` with `value` (or `key`, for a key slot) in place.
fn fill(slot: &str, key: &str, value: &str) -> String {
    slot.replace(&json_string(KEY_SLOT), key)
        .replace(&json_string(VALUE_SLOT), value)
}

/// What a sweep puts in `slot`: values in a value slot, keys in an added member; a renamed
/// key is left to the random cases.
fn sweep_fills(slot: &str) -> Vec<(String, String)> {
    let has_key = slot.contains(&json_string(KEY_SLOT));
    let has_value = slot.contains(&json_string(VALUE_SLOT));
    match (has_key, has_value) {
        (false, true) => sweep_values()
            .into_iter()
            .map(|v| (String::new(), v))
            .collect(),
        (true, true) => SWEEP_KEYS
            .iter()
            .map(|k| ((*k).to_owned(), "1".to_owned()))
            .collect(),
        _ => Vec::new(),
    }
}

// --- resource families -----------------------------------------------------------------------

/// What a refused write must leave as it was.
enum Unchanged {
    /// The newest item of this list (`?limit=1`): a refused create adds none.
    Newest(String),
    /// This item.
    Item(String),
    /// Nothing cheap to look at.
    Nothing,
}

/// One write the fuzz aims at: a route and a body it accepts.
struct Write {
    method: &'static str,
    path: String,
    /// Whether the request carries the family's bearer token.
    authenticated: bool,
    slots: Vec<String>,
    unchanged: Unchanged,
    /// What `unchanged` looked like after the last answer.
    seen: Mutex<Value>,
}

/// A resource family as the fuzz sees it: its writes and its reads.
struct Family {
    app: TestApp,
    token: String,
    writes: Vec<Write>,
    /// Read paths and their query parameters.
    lists: Vec<(String, Vec<&'static str>)>,
    /// Item paths around their id, `(before, after)`: the id is fuzzed, with GET, PATCH,
    /// DELETE and POST.
    items: Vec<(String, String)>,
}

impl Family {
    fn new(app: TestApp, acct: &Account) -> Self {
        Self {
            app,
            token: acct.token.clone(),
            writes: Vec::new(),
            lists: Vec::new(),
            items: Vec::new(),
        }
    }

    fn write(
        mut self,
        method: &'static str,
        path: &str,
        body: Value,
        unchanged: Unchanged,
    ) -> Self {
        self.writes.push(Write {
            method,
            path: path.to_owned(),
            authenticated: true,
            slots: slots(&body),
            unchanged,
            seen: Mutex::new(Value::Null),
        });
        self
    }

    /// A write sent without the family's token (the routes under `/v1/auth`).
    fn anonymous_write(mut self, path: &str, body: Value) -> Self {
        self = self.write("POST", path, body, Unchanged::Nothing);
        if let Some(w) = self.writes.last_mut() {
            w.authenticated = false;
        }
        self
    }

    fn list(mut self, path: &str, params: &[&'static str]) -> Self {
        let mut all = vec!["limit", "cursor"];
        all.extend_from_slice(params);
        self.lists.push((path.to_owned(), all));
        self
    }

    /// An item path; its last segment that is a UUID is the one fuzzed.
    fn item(mut self, path: &str) -> Self {
        let segments: Vec<&str> = path.split('/').collect();
        let at = segments
            .iter()
            .rposition(|s| Uuid::try_parse(s).is_ok())
            .expect("an id in the item path");
        self.items.push((
            format!("{}/", segments[..at].join("/")),
            segments[at + 1..].iter().map(|s| format!("/{s}")).collect(),
        ));
        self
    }

    async fn look(&self, unchanged: &Unchanged) -> Value {
        let path = match unchanged {
            Unchanged::Newest(list) => format!("{list}?limit=1"),
            Unchanged::Item(item) => item.clone(),
            Unchanged::Nothing => return Value::Null,
        };
        let r = send(&self.app, "GET", &path, Some(&self.token), None).await;
        match unchanged {
            Unchanged::Newest(_) => r.json["data"][0]["id"].clone(),
            _ => r.json,
        }
    }

    /// Sends one write and checks the rules: below 500, a JSON 4xx, and a refused write
    /// changes nothing it aimed at.
    async fn write_once(&self, w: usize, body: &[u8]) -> Result<(), TestCaseError> {
        let w = &self.writes[w];
        let token = w.authenticated.then_some(self.token.as_str());
        let r = send(&self.app, w.method, &w.path, token, Some(body)).await;
        let what = format!("{} {} {}", w.method, w.path, String::from_utf8_lossy(body));
        answered(&what, &r)?;
        if r.status >= 400 {
            let now = self.look(&w.unchanged).await;
            let seen = w.seen.lock().unwrap().clone();
            prop_assert_eq!(
                now,
                seen,
                "{} answered {} but changed it",
                short(&what),
                r.status
            );
        } else {
            // It may have changed what another write watches, too.
            for w in &self.writes {
                let now = self.look(&w.unchanged).await;
                *w.seen.lock().unwrap() = now;
            }
        }
        Ok(())
    }

    /// Sends `value` as query parameter `pick` of list `target` (or `raw` as the whole query
    /// string), or as the id of item `target - lists` (with GET, PATCH, DELETE or POST by
    /// `pick`).
    async fn read_once(
        &self,
        target: usize,
        pick: usize,
        value: &str,
        raw: Option<&str>,
    ) -> Result<(), TestCaseError> {
        let token = Some(self.token.as_str());
        if let Some((path, params)) = self.lists.get(target) {
            let query = match raw {
                Some(q) => q.to_owned(),
                None => format!("{}={}", params[pick % params.len()], percent_encode(value)),
            };
            let path = format!("{path}?{query}");
            let r = send(&self.app, "GET", &path, token, None).await;
            return answered(&format!("GET {path}"), &r);
        }
        let (before, after) = &self.items[target - self.lists.len()];
        let path = format!("{before}{}{after}", percent_encode(value));
        let method = ["GET", "PATCH", "DELETE", "POST"][pick % 4];
        let body = matches!(method, "PATCH" | "POST").then_some(&b"{}"[..]);
        let r = send(&self.app, method, &path, token, body).await;
        answered(&format!("{method} {path}"), &r)
    }

    /// Every value slot of every write with each of [`sweep_values`], every query parameter
    /// and id with each of [`sweep_texts`]: the classic crashers, every run.
    async fn sweep(&self) {
        for (w, write) in self.writes.iter().enumerate() {
            for slot in &write.slots {
                for (key, value) in sweep_fills(slot) {
                    must(
                        self.write_once(w, fill(slot, &key, &value).as_bytes())
                            .await,
                    );
                }
            }
        }
        let mut targets: Vec<(usize, usize)> = Vec::new();
        for (t, (_, params)) in self.lists.iter().enumerate() {
            targets.extend((0..params.len()).map(|i| (t, i)));
        }
        for i in 0..self.items.len() {
            targets.extend((0..4).map(|method| (self.lists.len() + i, method)));
        }
        for (target, pick) in targets {
            for value in sweep_texts() {
                must(self.read_once(target, pick, &value, None).await);
            }
        }
    }

    /// Sweeps, then runs the write and read properties.
    async fn fuzz(self) {
        let family = Arc::new(self);
        for w in &family.writes {
            *w.seen.lock().unwrap() = family.look(&w.unchanged).await;
        }
        family.sweep().await;
        if !family.writes.is_empty() {
            fuzz(&family, 64, write_cases, check_write).await;
        }
        fuzz(&family, 64, read_cases, check_read).await;
    }
}

type WriteCase = (usize, prop::sample::Index, String, String, usize);

fn write_cases(f: &Family) -> impl Strategy<Value = WriteCase> + use<> {
    (
        0..f.writes.len(),
        any::<prop::sample::Index>(),
        json_key(),
        json_value(),
        // Now and then a whole body that is not what the route expects.
        prop_oneof![9 => Just(usize::MAX), 1 => 0..RAW_BODIES.len()],
    )
}

fn check_write(f: &Family, (w, slot, key, value, raw): WriteCase) -> Outcome<'_> {
    Box::pin(async move {
        let body = match RAW_BODIES.get(raw) {
            Some(raw) => raw.to_vec(),
            None => fill(slot.get::<String>(&f.writes[w].slots), &key, &value).into_bytes(),
        };
        f.write_once(w, &body).await
    })
}

type ReadCase = (usize, prop::sample::Index, String, usize);

fn read_cases(f: &Family) -> impl Strategy<Value = ReadCase> + use<> {
    (
        0..(f.lists.len() + f.items.len()),
        any::<prop::sample::Index>(),
        param_text(),
        prop_oneof![9 => Just(usize::MAX), 1 => 0..RAW_QUERIES.len()],
    )
}

fn check_read(f: &Family, (target, pick, value, raw): ReadCase) -> Outcome<'_> {
    Box::pin(async move {
        let raw = RAW_QUERIES.get(raw).copied();
        f.read_once(target, pick.index(usize::MAX), &value, raw)
            .await
    })
}

// --- setting families up -------------------------------------------------------------------

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// An SMS campaign from `number` with `customer` as its one recipient: the campaign's id and
/// the message's.
async fn sms_campaign_to(
    app: &TestApp,
    a: &Account,
    number: &str,
    customer: &str,
) -> (String, String) {
    let campaign = id(&app
        .create(
            a,
            "/v1/sms-campaigns",
            json!({"name": "S", "body": "B", "from_number": number}),
        )
        .await);
    let message = id(&app
        .create(
            a,
            &format!("/v1/sms-campaigns/{campaign}/messages"),
            json!({"customer_id": customer}),
        )
        .await);
    (campaign, message)
}

const CREATED: &[&str] = &["created_after", "created_before"];

#[actix_web::test]
async fn customers_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let c = id(&app
        .create_customer(&a, json!({"name": "Ada", "email": "ada@example.com"}))
        .await);
    let item = format!("/v1/customers/{c}");
    Family::new(app, &a)
        .write(
            "POST",
            "/v1/customers",
            json!({"name": "Bob", "email": "bob@example.com", "phone": "+14155550123"}),
            Unchanged::Newest("/v1/customers".into()),
        )
        .write(
            "PATCH",
            &item,
            json!({"name": "Ada L", "email": "ada.l@example.com", "phone": "+14155550124"}),
            Unchanged::Item(item.clone()),
        )
        .list("/v1/customers", &["email", "name", "phone"])
        .list("/v1/customers/changes", &["since"])
        .list("/v1/knowledge-base/articles/changes", &["since"])
        .list("/v1/chat/conversations/changes", &["since"])
        .list("/v1/chat/messages/changes", &["since"])
        .list("/v1/calls/changes", &["since"])
        .list("/v1/sms-messages/changes", &["since"])
        .list("/v1/email-campaigns/changes", &["since"])
        .list("/v1/email-messages/changes", &["since"])
        .list("/v1/sms-campaigns/changes", &["since"])
        .list("/v1/voice-campaigns/changes", &["since"])
        .list("/v1/social/posts/changes", &["since"])
        .list("/v1/ivr/menus/changes", &["since"])
        .item(&item)
        .fuzz()
        .await;
}

#[actix_web::test]
async fn campaigns_of_every_channel_and_their_recipients_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let number = app.claim_number(&a, &["sms", "voice"]).await;
    let customer = id(&app
        .create_customer(
            &a,
            json!({"name": "Ada", "email": "ada@example.com", "phone": "+14155550123"}),
        )
        .await);
    let email = id(&app
        .create(
            &a,
            "/v1/email-campaigns",
            json!({"name": "E", "subject": "S", "body": "B"}),
        )
        .await);
    let (sms, sms_message) = sms_campaign_to(&app, &a, &number, &customer).await;
    let voice = id(&app
        .create(
            &a,
            "/v1/voice-campaigns",
            json!({"name": "V", "script": "Hello"}),
        )
        .await);
    let email_message = id(&app
        .create(
            &a,
            &format!("/v1/email-campaigns/{email}/messages"),
            json!({"customer_id": customer}),
        )
        .await);
    let later = "2999-01-01T00:00:00Z";
    let campaign_params = ["status", "created_after", "created_before"];
    Family::new(app, &a)
        .write(
            "POST",
            "/v1/email-campaigns",
            json!({"name": "E2", "subject": "S", "body": "B", "status": "scheduled", "scheduled_at": later}),
            Unchanged::Newest("/v1/email-campaigns".into()),
        )
        .write(
            "PATCH",
            &format!("/v1/email-campaigns/{email}"),
            json!({"name": "E3", "subject": "S2", "body": "B2", "status": "draft", "scheduled_at": null}),
            Unchanged::Item(format!("/v1/email-campaigns/{email}")),
        )
        .write(
            "POST",
            "/v1/sms-campaigns",
            json!({"name": "S2", "body": "B", "from_number": number, "status": "scheduled", "scheduled_at": later}),
            Unchanged::Newest("/v1/sms-campaigns".into()),
        )
        .write(
            "PATCH",
            &format!("/v1/sms-campaigns/{sms}"),
            json!({"name": "S3", "body": "B2", "from_number": number, "status": "draft", "scheduled_at": null}),
            Unchanged::Item(format!("/v1/sms-campaigns/{sms}")),
        )
        .write(
            "POST",
            "/v1/voice-campaigns",
            json!({"name": "V2", "script": "Hi", "status": "scheduled", "scheduled_at": later}),
            Unchanged::Newest("/v1/voice-campaigns".into()),
        )
        .write(
            "PATCH",
            &format!("/v1/voice-campaigns/{voice}"),
            json!({"name": "V3", "script": "Hi there", "status": "draft", "scheduled_at": null}),
            Unchanged::Item(format!("/v1/voice-campaigns/{voice}")),
        )
        .write(
            "POST",
            &format!("/v1/email-campaigns/{email}/messages"),
            json!({"customer_id": customer, "to_email": "other@example.com"}),
            Unchanged::Newest("/v1/email-messages".into()),
        )
        .write(
            "POST",
            &format!("/v1/sms-campaigns/{sms}/messages"),
            json!({"customer_id": customer, "to_number": "+14155550199"}),
            Unchanged::Newest("/v1/sms-messages".into()),
        )
        .list("/v1/email-campaigns", &campaign_params)
        .list("/v1/sms-campaigns", &campaign_params)
        .list("/v1/voice-campaigns", &campaign_params)
        .list(
            "/v1/email-messages",
            &["campaign_id", "status", "customer_id", "created_after", "created_before"],
        )
        .list(
            "/v1/sms-messages",
            &["campaign_id", "direction", "status", "customer_id", "created_after", "created_before"],
        )
        .list(&format!("/v1/email-campaigns/{email}/messages"), &["status", "customer_id"])
        .list(&format!("/v1/sms-campaigns/{sms}/messages"), &["status", "customer_id"])
        .list("/v1/dashboard/stats", CREATED)
        .item(&format!("/v1/email-campaigns/{email}"))
        .item(&format!("/v1/sms-campaigns/{sms}"))
        .item(&format!("/v1/voice-campaigns/{voice}"))
        .item(&format!("/v1/email-campaigns/{email}/messages"))
        .item(&format!("/v1/email-messages/{email_message}"))
        .item(&format!("/v1/sms-messages/{sms_message}"))
        .fuzz()
        .await;
}

#[actix_web::test]
async fn calls_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let number = app.claim_number(&a, &["voice"]).await;
    let customer = id(&app.create_customer(&a, json!({"name": "Ada"})).await);
    let campaign = id(&app
        .create(
            &a,
            "/v1/voice-campaigns",
            json!({"name": "V", "script": "Hello"}),
        )
        .await);
    let call = id(&app
        .create(
            &a,
            "/v1/calls",
            json!({"direction": "inbound", "from_number": "+14155550123", "to_number": number}),
        )
        .await);
    let item = format!("/v1/calls/{call}");
    Family::new(app, &a)
        .write(
            "POST",
            "/v1/calls",
            json!({
                "direction": "outbound", "from_number": number, "to_number": "+14155550123",
                "call_sid": format!("CA{}", Uuid::new_v4().simple()), "status": "completed",
                "duration_seconds": 60, "started_at": "2024-05-01T10:00:00Z",
                "ended_at": "2024-05-01T10:01:00Z", "voice_campaign_id": campaign,
                "customer_id": customer, "notes": "called back"
            }),
            Unchanged::Newest("/v1/calls".into()),
        )
        .write(
            "PATCH",
            &item,
            json!({"notes": "n", "status": "ringing", "duration_seconds": 5, "customer_id": customer}),
            Unchanged::Item(item.clone()),
        )
        .list(
            "/v1/calls",
            &["status", "direction", "voice_campaign_id", "customer_id", "created_after", "created_before"],
        )
        .item(&item)
        .fuzz()
        .await;
}

/// A call recorded with an end and no answer time, then moved to `in_progress` and on: the
/// recorded end is kept and the start never comes after it (`CHECK (ended_at >= started_at)`
/// was a 500 here).
#[actix_web::test]
async fn a_call_ended_before_it_was_answered_never_answers_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let ended = "2024-01-01T00:00:00.000000Z";
    let call = app
        .create(
            &a,
            "/v1/calls",
            json!({"direction": "inbound", "from_number": "+14155550123",
                   "to_number": "+14155550100", "ended_at": ended}),
        )
        .await;
    assert_eq!(call["started_at"], Value::Null);
    let item = format!("/v1/calls/{}", id(&call));
    let r = app
        .patch(&a, &item, &json!({"status": "in_progress"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json["started_at"].as_str(), r.json["ended_at"].as_str()),
        (Some(ended), Some(ended)),
        "the start is the recorded end at the latest: {}",
        r.text
    );
    let r = app.patch(&a, &item, &json!({"status": "completed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.json["ended_at"].as_str(),
            r.json["duration_seconds"].as_i64()
        ),
        (Some(ended), Some(0)),
        "{}",
        r.text
    );
}

#[actix_web::test]
async fn chat_never_answers_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let customer = id(&app.create_customer(&a, json!({"name": "Ada"})).await);
    let conversation = id(&app
        .create(
            &a,
            "/v1/chat/conversations",
            json!({"customer_id": customer}),
        )
        .await);
    let item = format!("/v1/chat/conversations/{conversation}");
    let messages = format!("{item}/messages");
    Family::new(app, &a)
        .write(
            "POST",
            "/v1/chat/conversations",
            json!({"customer_id": customer, "subject": "Help"}),
            Unchanged::Newest("/v1/chat/conversations".into()),
        )
        .write(
            "PATCH",
            &item,
            json!({"status": "open", "customer_id": customer, "subject": "Re: help"}),
            Unchanged::Item(item.clone()),
        )
        .write(
            "POST",
            &messages,
            json!({"sender": "agent", "body": "Hello"}),
            Unchanged::Newest(messages.clone()),
        )
        .list(
            "/v1/chat/conversations",
            &["status", "customer_id", "created_after", "created_before"],
        )
        .list(&messages, &["sender", "created_after", "created_before"])
        .item(&item)
        .item(&messages)
        .fuzz()
        .await;
}

/// The chatbot: its settings, `ask`, and customer messages the enabled bot answers (the
/// fuzzed text reaches its full-text query).
#[actix_web::test]
async fn the_chatbot_never_answers_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    app.create(
        &a,
        "/v1/knowledge-base/articles",
        json!({"title": "Reset your password", "body": "Open Settings.", "published": true}),
    )
    .await;
    let settings = "/v1/chatbot/settings";
    let r = app
        .patch(&a, settings, &json!({"enabled": true, "greeting": "Hi"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let conversation = id(&app.create(&a, "/v1/chat/conversations", json!({})).await);
    let messages = format!("/v1/chat/conversations/{conversation}/messages");
    Family::new(app, &a)
        .write(
            "PATCH",
            settings,
            json!({"enabled": true, "greeting": "Hello", "fallback_text": "Pardon?",
                   "confidence_threshold": 0.2, "handoff_message": "An agent will answer."}),
            Unchanged::Item(settings.into()),
        )
        .write(
            "POST",
            "/v1/chatbot/ask",
            json!({"question": "How do I reset my password?"}),
            Unchanged::Nothing,
        )
        .write(
            "POST",
            &messages,
            json!({"sender": "customer", "body": "How do I reset my password?"}),
            Unchanged::Newest(messages.clone()),
        )
        .list(&messages, &["sender", "created_after", "created_before"])
        .item(&messages)
        .fuzz()
        .await;
}

#[actix_web::test]
async fn ivr_menus_and_phone_numbers_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let menu = id(&crate::engagement::menu(&app, &a, "Main", "Acme").await);
    app.claim_number(&a, &["sms", "voice"]).await;
    let numbers = app.get(&a, "/v1/phone-numbers").await;
    let number_id = id(&numbers.json["data"][0]);
    let free = unique_number();
    app.stock_numbers(&[(&free, &["sms", "voice"])]).await;
    let menu_item = format!("/v1/ivr/menus/{menu}");
    let number_item = format!("/v1/phone-numbers/{number_id}");
    Family::new(app, &a)
        .write(
            "POST",
            "/v1/ivr/menus",
            json!({"name": "Second", "tree": menu_tree("Second")}),
            Unchanged::Newest("/v1/ivr/menus".into()),
        )
        .write(
            "PATCH",
            &menu_item,
            json!({"name": "Main 2", "tree": menu_tree("Main")}),
            Unchanged::Item(menu_item.clone()),
        )
        .write(
            "POST",
            "/v1/phone-numbers",
            json!({"number": free, "label": "Support", "capabilities": ["sms", "voice"], "ivr_menu_id": menu}),
            Unchanged::Newest("/v1/phone-numbers".into()),
        )
        .write(
            "PATCH",
            &number_item,
            json!({"label": "Sales", "capabilities": ["voice"], "ivr_menu_id": menu}),
            Unchanged::Item(number_item.clone()),
        )
        .list("/v1/ivr/menus", &["name", "created_after", "created_before"])
        .list(
            "/v1/phone-numbers",
            &["number", "capability", "ivr_menu_id", "created_after", "created_before"],
        )
        .list("/v1/phone-numbers/available", &["capability"])
        .item(&menu_item)
        .item(&number_item)
        .fuzz()
        .await;
}

#[actix_web::test]
async fn knowledge_base_and_reports_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let article = id(&app
        .create(
            &a,
            "/v1/knowledge-base/articles",
            json!({"title": "Reset", "body": "Steps", "tags": ["faq"]}),
        )
        .await);
    let report = id(&app
        .create(
            &a,
            "/v1/reports",
            json!({"name": "Weekly", "kind": "call_volume", "parameters": {"group_by": "day"}}),
        )
        .await);
    let article_item = format!("/v1/knowledge-base/articles/{article}");
    let report_item = format!("/v1/reports/{report}");
    Family::new(app, &a)
        .write(
            "POST",
            "/v1/knowledge-base/articles",
            json!({"title": "Billing", "body": "How we bill", "tags": ["billing", "faq"], "published": true}),
            Unchanged::Newest("/v1/knowledge-base/articles".into()),
        )
        .write(
            "PATCH",
            &article_item,
            json!({"title": "Reset 2", "body": "More steps", "tags": ["x"], "published": false}),
            Unchanged::Item(article_item.clone()),
        )
        .write(
            "POST",
            "/v1/reports",
            json!({"name": "Daily", "kind": "customer_growth", "parameters": {"group_by": "day", "ids": ["a"], "f": {"x": 1}}, "schedule": "daily"}),
            Unchanged::Newest("/v1/reports".into()),
        )
        .write(
            "PATCH",
            &report_item,
            json!({"name": "Weekly 2", "kind": "chat_activity", "parameters": {"a": {"b": "c"}}, "schedule": "weekly"}),
            Unchanged::Item(report_item.clone()),
        )
        .list(
            "/v1/knowledge-base/articles",
            &["q", "tag", "published", "created_after", "created_before"],
        )
        .list("/v1/reports", &["kind", "schedule", "created_after", "created_before"])
        .item(&article_item)
        .item(&report_item)
        .fuzz()
        .await;
}

#[actix_web::test]
async fn analytics_and_social_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let customer = id(&app.create_customer(&a, json!({"name": "Ada"})).await);
    app.create(&a, "/v1/analytics/events", json!({"type": "page.viewed"}))
        .await;
    let account = id(&crate::social::social_account(&app, &a, "twitter", "acme").await);
    let post = id(&app
        .create(
            &a,
            "/v1/social/posts",
            json!({"account_id": account, "body": "Hi", "status": "published"}),
        )
        .await);
    let account_item = format!("/v1/social/accounts/{account}");
    let post_item = format!("/v1/social/posts/{post}");
    Family::new(app, &a)
        .write(
            "POST",
            "/v1/analytics/events",
            json!({"type": "signup.completed", "occurred_at": "2024-05-01T00:00:00Z",
                   "properties": {"path": "/pricing", "n": 1, "nested": {"k": ["v"]}}, "customer_id": customer}),
            Unchanged::Newest("/v1/analytics/events".into()),
        )
        .write(
            "POST",
            "/v1/analytics/events/batch",
            json!([{"type": "a.b", "properties": {"x": "y"}}, {"type": "c", "occurred_at": "2024-05-02T00:00:00Z"}]),
            Unchanged::Newest("/v1/analytics/events".into()),
        )
        .write(
            "POST",
            "/v1/social/accounts",
            json!({"network": "linkedin", "handle": "acme_hq", "access_token": "tok-123"}),
            Unchanged::Newest("/v1/social/accounts".into()),
        )
        .write(
            "PATCH",
            &account_item,
            json!({"handle": "acme2", "access_token": "tok-456"}),
            Unchanged::Item(account_item.clone()),
        )
        .write(
            "POST",
            "/v1/social/posts",
            json!({"account_id": account, "body": "Launch", "status": "published",
                   "published_at": "2024-05-01T00:00:00Z", "likes": 1, "shares": 2, "comments": 3, "impressions": 4}),
            Unchanged::Newest("/v1/social/posts".into()),
        )
        .write(
            "PATCH",
            &post_item,
            json!({"body": "Edited", "status": "published", "published_at": "2024-05-02T00:00:00Z",
                   "likes": 10, "shares": 20, "comments": 30, "impressions": 40}),
            Unchanged::Item(post_item.clone()),
        )
        .list(
            "/v1/analytics/events",
            &["type", "customer_id", "occurred_after", "occurred_before", "created_after", "created_before"],
        )
        .list("/v1/analytics/summary", &["from", "to", "type", "tz"])
        .list("/v1/social/accounts", &["network", "handle", "created_after", "created_before"])
        .list(
            "/v1/social/posts",
            &["account_id", "status", "created_after", "created_before"],
        )
        .list(
            "/v1/social/analytics",
            &["from", "to", "network", "account_id", "tz"],
        )
        .item(&account_item)
        .item(&post_item)
        .fuzz()
        .await;
}

#[actix_web::test]
async fn integrations_webhooks_and_api_keys_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let integration = id(&app
        .create(
            &a,
            "/v1/integrations",
            json!({"provider": "slack", "name": "Slack"}),
        )
        .await);
    let webhook = id(&app
        .create(
            &a,
            "/v1/webhooks",
            json!({"url": "https://hooks.example.com/a", "event_types": ["customer.created"]}),
        )
        .await);
    let key = id(&app
        .create(&a, "/v1/api-keys", json!({"name": "CI", "role": "member"}))
        .await);
    let integration_item = format!("/v1/integrations/{integration}");
    let webhook_item = format!("/v1/webhooks/{webhook}");
    Family::new(app, &a)
        .write(
            "POST",
            "/v1/integrations",
            json!({"provider": "zendesk", "name": "Zendesk", "config": {"subdomain": "acme", "n": [1, {"a": "b"}]},
                   "secrets": {"api_key": "k"}, "enabled": true}),
            Unchanged::Newest("/v1/integrations".into()),
        )
        .write(
            "PATCH",
            &integration_item,
            json!({"name": "Slack 2", "config": {"channel": "general"}, "secrets": {"bot": "x"}, "enabled": false}),
            Unchanged::Item(integration_item.clone()),
        )
        .write(
            "POST",
            "/v1/webhooks",
            json!({"url": "https://hooks.example.com/b", "event_types": ["customer.created", "message.received"],
                   "description": "CRM sync", "enabled": true}),
            Unchanged::Newest("/v1/webhooks".into()),
        )
        .write(
            "PATCH",
            &webhook_item,
            json!({"url": "https://hooks.example.com/c", "event_types": ["customer.updated"], "description": "d", "enabled": true}),
            Unchanged::Item(webhook_item.clone()),
        )
        .write(
            "POST",
            "/v1/api-keys",
            json!({"name": "Deploy", "role": "admin", "expires_at": "2999-01-01T00:00:00Z"}),
            Unchanged::Newest("/v1/api-keys".into()),
        )
        .list("/v1/integrations", &["provider", "enabled"])
        .list("/v1/webhooks", &["enabled", "event_type"])
        .list("/v1/api-keys", &["revoked", "expired", "created_by"])
        .list("/v1/webhook-deliveries", &["provider", "kind", "subject_id"])
        .item(&integration_item)
        .item(&webhook_item)
        .item(&format!("/v1/webhooks/{webhook}/rotate-secret"))
        .item(&format!("/v1/api-keys/{key}"))
        .fuzz()
        .await;
}

/// The Amazon Connect instances and credentials. (A well-formed ARN of a 3000-letter partition,
/// which answered 500 before the ARN had a bound, takes a structure no generated text has: that
/// case is `aws_connect::an_arn_or_a_region_over_its_bound_is_422_and_creates_nothing`.)
#[actix_web::test]
async fn amazon_connect_instances_and_credentials_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let arn = |id: Uuid| format!("arn:aws:connect:us-west-2:123456789012:instance/{id}");
    let instances = "/v1/call-center/aws-connect/instances";
    let credentials = "/v1/call-center/aws-connect/credentials";
    let instance = id(&app
        .create(
            &a,
            instances,
            json!({"instance_arn": arn(Uuid::new_v4()), "region": "us-west-2", "label": "Main"}),
        )
        .await);
    let credential = id(&app
        .create(&a, credentials, json!({"label": "EventBridge"}))
        .await);
    let instance_item = format!("{instances}/{instance}");
    let credential_item = format!("{credentials}/{credential}");
    Family::new(app, &a)
        .write(
            "POST",
            instances,
            json!({"instance_arn": arn(Uuid::new_v4()), "region": "us-west-2", "label": "Second"}),
            Unchanged::Newest(instances.into()),
        )
        .write(
            "PATCH",
            &instance_item,
            json!({"label": "Primary"}),
            Unchanged::Item(instance_item.clone()),
        )
        .write(
            "POST",
            credentials,
            json!({"label": "Another"}),
            Unchanged::Newest(credentials.into()),
        )
        .write(
            "PATCH",
            &credential_item,
            json!({"label": "Renamed"}),
            Unchanged::Item(credential_item.clone()),
        )
        .list(instances, &["region", "created_after", "created_before"])
        .list(credentials, &["revoked"])
        .item(&instance_item)
        .item(&credential_item)
        .fuzz()
        .await;
}

#[actix_web::test]
async fn members_invitations_organization_and_accounts_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let member = app.add_user(&a, Role::Member).await;
    let invitation = app.invite(&a, "invitee@example.com", "member").await;
    assert_eq!(invitation.status, 201, "{}", invitation.text);
    let invitation = id(&invitation.json);
    // The password change runs as someone else: once it succeeds, that token is done.
    let changer = app.signup("Changer").await;
    let changer_app = app.spawn_instance().await;
    let member_item = format!("/v1/members/{}", member.user_id);
    Family::new(app, &a)
        .write(
            "POST",
            "/v1/invitations",
            json!({"email": "new@example.com", "role": "admin"}),
            Unchanged::Newest("/v1/invitations".into()),
        )
        .write(
            "PATCH",
            &member_item,
            json!({"name": "Renamed", "role": "member"}),
            Unchanged::Item(member_item.clone()),
        )
        .write(
            "PATCH",
            "/v1/organization",
            json!({"name": "Fuzz 2"}),
            Unchanged::Item("/v1/organization".into()),
        )
        .anonymous_write(
            "/v1/auth/signup",
            json!({"organization_name": "Org", "name": "Owner", "email": "someone@example.com",
                   "password": "correct horse battery staple"}),
        )
        .anonymous_write(
            "/v1/auth/login",
            json!({"email": a.email, "password": a.password}),
        )
        .anonymous_write(
            "/v1/auth/accept-invitation",
            json!({"token": "not-a-real-token", "name": "Invitee", "password": "correct horse battery staple"}),
        )
        .anonymous_write(
            "/v1/auth/request-password-reset",
            json!({"email": a.email}),
        )
        .anonymous_write(
            "/v1/auth/reset-password",
            json!({"token": "not-a-real-token", "new_password": "correct horse battery staple"}),
        )
        .list("/v1/members", &["role"])
        .list("/v1/invitations", &[])
        .list("/v1/me", &[])
        .list("/v1/organization/export", &[])
        .list("/v1/billing/invoices", &["status", "created_after", "created_before"])
        .list("/v1/billing/subscription", &[])
        .item(&member_item)
        .item(&format!("/v1/invitations/{invitation}"))
        .item(&format!("/v1/billing/invoices/{}", Uuid::now_v7()))
        .fuzz()
        .await;
    Family::new(changer_app, &changer)
        .write(
            "POST",
            "/v1/me/password",
            json!({"current_password": changer.password, "new_password": "another correct horse battery"}),
            Unchanged::Nothing,
        )
        .list("/v1/me", &[])
        .fuzz()
        .await;
}

// --- provider webhooks, signed as the providers sign them ---------------------------------------

/// Replaced, in every template, by a fresh value per request: each delivery is a new one (not a
/// duplicate the route would skip before reading it).
const UNIQUE: &str = "@unique@";

fn unique(template: &str) -> String {
    template.replace(UNIQUE, &Uuid::new_v4().simple().to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A provider route and how to sign a delivery to it.
enum Route {
    /// A Twilio route: its path, with [`UNIQUE`] where our id goes in the query string.
    Twilio {
        path: String,
        our_id: Option<String>,
    },
    Sendgrid,
    Mailgun,
    Stripe,
    /// Amazon Connect's events route, with this credential in `X-Palisade-Connect-Key`.
    AwsConnect(String),
}

/// One delivery the fuzz aims at: a route, and the fields (forms) or body (JSON) it accepts.
struct Delivery {
    route: Route,
    /// Twilio: the form fields.
    form: Vec<(&'static str, String)>,
    /// JSON routes: the body (Mailgun: `event-data`) and its slots.
    body: String,
    slots: Vec<String>,
}

/// The deliveries of one provider test.
struct Deliveries {
    app: TestApp,
    deliveries: Vec<Delivery>,
}

fn twilio(path: &str, our_id: Option<String>, form: Vec<(&'static str, String)>) -> Delivery {
    Delivery {
        route: Route::Twilio {
            path: path.to_owned(),
            our_id,
        },
        form,
        body: String::new(),
        slots: Vec::new(),
    }
}

fn json_delivery(route: Route, body: Value) -> Delivery {
    Delivery {
        route,
        form: Vec::new(),
        body: body.to_string(),
        slots: slots(&body),
    }
}

/// What goes where in one delivery: a form field's value or name, an added field, our id in
/// a Twilio URL, a JSON slot, or Mailgun's signature token.
#[derive(Debug, Clone)]
enum Change {
    FormValue(usize, String),
    FormName(usize, String),
    FormAdded(String, String),
    OurId(String),
    Json(usize, String, String),
    MailgunToken(String),
}

impl Deliveries {
    /// Signs and sends delivery `d` with `change`, and checks the rules.
    async fn deliver(&self, d: usize, change: &Change) -> Result<(), TestCaseError> {
        let d = &self.deliveries[d];
        let json_body = match change {
            Change::Json(slot, key, value) => unique(&fill(&d.slots[*slot], key, value)),
            _ => unique(&d.body),
        };
        let (what, r) = match &d.route {
            Route::Twilio { path, our_id } => {
                let mut form: Vec<(String, String)> = d
                    .form
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), unique(v)))
                    .collect();
                let mut id = our_id.clone().unwrap_or_default();
                match change {
                    Change::FormValue(i, v) => form[*i].1 = v.clone(),
                    Change::FormName(i, n) => form[*i].0 = n.clone(),
                    Change::FormAdded(n, v) => form.push((n.clone(), v.clone())),
                    Change::OurId(v) => id = percent_encode(v),
                    _ => {}
                }
                let path = path.replace(UNIQUE, &id);
                let pairs: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                (
                    format!("POST {path} {form:?}"),
                    self.app.twilio(&path, &pairs).await,
                )
            }
            Route::Sendgrid => {
                let ts = unix_now().to_string();
                let signature = sendgrid_test_signer().sign(&ts, json_body.as_bytes());
                let headers = [
                    ("Content-Type", "application/json".to_owned()),
                    ("X-Twilio-Email-Event-Webhook-Signature", signature),
                    ("X-Twilio-Email-Event-Webhook-Timestamp", ts),
                ];
                let r = request(
                    &self.app.addr,
                    "POST",
                    "/webhooks/email/sendgrid",
                    &headers,
                    Some(json_body.as_bytes()),
                )
                .await;
                (format!("sendgrid {json_body}"), r)
            }
            Route::Mailgun => {
                let fresh = Uuid::new_v4().simple().to_string();
                let token = match change {
                    Change::MailgunToken(t) => format!("{t}{fresh}"),
                    _ => fresh,
                };
                let ts = unix_now().to_string();
                let mut mac =
                    Hmac::<sha2::Sha256>::new_from_slice(TEST_MAILGUN_SIGNING_KEY.as_bytes())
                        .expect("hmac key");
                mac.update(ts.as_bytes());
                mac.update(token.as_bytes());
                let signature = hex(&mac.finalize().into_bytes());
                let body = format!(
                    r#"{{"signature": {{"timestamp": "{ts}", "token": {}, "signature": "{signature}"}}, "event-data": {json_body}}}"#,
                    json_string(&token)
                );
                let r = request(
                    &self.app.addr,
                    "POST",
                    "/webhooks/email/mailgun",
                    &[("Content-Type", "application/json".to_owned())],
                    Some(body.as_bytes()),
                )
                .await;
                (format!("mailgun {body}"), r)
            }
            Route::Stripe => {
                let r = self.app.stripe_webhook(json_body.as_bytes()).await;
                (format!("stripe {json_body}"), r)
            }
            Route::AwsConnect(key) => {
                let headers = [
                    ("Content-Type", "application/json".to_owned()),
                    ("X-Palisade-Connect-Key", key.clone()),
                ];
                let r = request(
                    &self.app.addr,
                    "POST",
                    "/webhooks/aws-connect/events",
                    &headers,
                    Some(json_body.as_bytes()),
                )
                .await;
                (format!("aws-connect {json_body}"), r)
            }
        };
        answered(&what, &r)
    }

    /// The changes a sweep makes to delivery `d`.
    fn sweep_changes(&self, d: usize) -> Vec<Change> {
        let d = &self.deliveries[d];
        let mut out = Vec::new();
        for text in sweep_texts() {
            for i in 0..d.form.len() {
                out.push(Change::FormValue(i, text.clone()));
            }
            if !d.form.is_empty() {
                out.push(Change::FormAdded(text.clone(), text.clone()));
            }
            if matches!(
                d.route,
                Route::Twilio {
                    our_id: Some(_),
                    ..
                }
            ) {
                out.push(Change::OurId(text.clone()));
            }
            if matches!(d.route, Route::Mailgun) {
                out.push(Change::MailgunToken(text.clone()));
            }
        }
        for (i, slot) in d.slots.iter().enumerate() {
            out.extend(
                sweep_fills(slot)
                    .into_iter()
                    .map(|(k, v)| Change::Json(i, k, v)),
            );
        }
        out
    }

    /// Sweeps, then runs random deliveries.
    async fn fuzz(self) {
        let deliveries = Arc::new(self);
        for d in 0..deliveries.deliveries.len() {
            for change in deliveries.sweep_changes(d) {
                must(deliveries.deliver(d, &change).await);
            }
        }
        fuzz(&deliveries, 96, delivery_cases, check_delivery).await;
    }
}

type DeliveryCase = (usize, prop::sample::Index, String, String, String, String);

fn delivery_cases(d: &Deliveries) -> impl Strategy<Value = DeliveryCase> + use<> {
    (
        0..d.deliveries.len(),
        any::<prop::sample::Index>(),
        param_text(),
        param_text(),
        json_key(),
        json_value(),
    )
}

fn check_delivery(ds: &Deliveries, case: DeliveryCase) -> Outcome<'_> {
    let (d, pick, name, text, key, value) = case;
    Box::pin(async move {
        let delivery = &ds.deliveries[d];
        let change = match delivery.route {
            Route::Twilio { .. } => {
                let n = delivery.form.len();
                match pick.index(2 * n + 2) {
                    i if i < n => Change::FormValue(i, text),
                    i if i < 2 * n => Change::FormName(i - n, name),
                    i if i == 2 * n => Change::FormAdded(name, text),
                    _ => Change::OurId(text),
                }
            }
            Route::Mailgun if pick.index(delivery.slots.len() + 1) == delivery.slots.len() => {
                Change::MailgunToken(text)
            }
            _ => Change::Json(pick.index(delivery.slots.len()), key, value),
        };
        ds.deliver(d, &change).await
    })
}

#[actix_web::test]
async fn signed_twilio_deliveries_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let number = app.claim_number(&a, &["sms", "voice"]).await;
    let customer = id(&app
        .create_customer(&a, json!({"name": "Ada", "phone": "+14155550123"}))
        .await);
    let (_, sms_message) = sms_campaign_to(&app, &a, &number, &customer).await;
    let call = id(&app
        .create(
            &a,
            "/v1/calls",
            json!({"direction": "outbound", "from_number": number, "to_number": "+14155550123"}),
        )
        .await);
    let deliveries = vec![
        twilio(
            "/webhooks/twilio/sms",
            None,
            vec![
                ("MessageSid", format!("SM{UNIQUE}")),
                ("AccountSid", "AC00000000000000000000000000000000".into()),
                ("From", "+14155550123".into()),
                ("To", number.clone()),
                ("Body", "Hello there".into()),
                ("NumMedia", "0".into()),
            ],
        ),
        twilio(
            &format!("/webhooks/twilio/sms/status?message_id={UNIQUE}"),
            Some(sms_message),
            vec![
                ("MessageSid", format!("SM{UNIQUE}")),
                ("MessageStatus", "delivered".into()),
                ("ErrorCode", "30003".into()),
                ("From", number.clone()),
                ("To", "+14155550123".into()),
            ],
        ),
        twilio(
            &format!("/webhooks/twilio/voice/status?call_id={UNIQUE}"),
            Some(call),
            vec![
                ("CallSid", format!("CA{UNIQUE}")),
                ("CallStatus", "completed".into()),
                ("SequenceNumber", "3".into()),
                ("CallDuration", "42".into()),
                ("Timestamp", "Tue, 14 Jul 2020 20:07:33 +0000".into()),
                ("Direction", "outbound-api".into()),
                ("From", number.clone()),
                ("To", "+14155550123".into()),
            ],
        ),
        twilio(
            "/webhooks/twilio/voice/status",
            None,
            vec![
                ("CallSid", format!("CA{UNIQUE}")),
                ("CallStatus", "ringing".into()),
                ("Direction", "inbound".into()),
                ("From", "+14155550123".into()),
                ("To", number.clone()),
                ("Timestamp", "Tue, 14 Jul 2020 20:07:33 +0000".into()),
            ],
        ),
    ];
    Deliveries { app, deliveries }.fuzz().await;
}

#[actix_web::test]
async fn signed_email_events_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let customer = id(&app
        .create_customer(&a, json!({"name": "Ada", "email": "ada@example.com"}))
        .await);
    let email = id(&app
        .create(
            &a,
            "/v1/email-campaigns",
            json!({"name": "E", "subject": "S", "body": "B"}),
        )
        .await);
    let message = id(&app
        .create(
            &a,
            &format!("/v1/email-campaigns/{email}/messages"),
            json!({"customer_id": customer}),
        )
        .await);
    let t0 = unix_now();
    let deliveries = vec![
        json_delivery(
            Route::Sendgrid,
            json!([{
                "event": "delivered", "sg_event_id": UNIQUE, "sg_message_id": "abc.filter0001",
                "timestamp": t0, "email": "ada@example.com", "palisade_message_id": message
            }]),
        ),
        json_delivery(
            Route::Mailgun,
            json!({
                "id": UNIQUE, "event": "failed", "severity": "permanent", "reason": "bounce",
                "timestamp": t0 as f64 + 0.25, "recipient": "ada@example.com",
                "user-variables": {"palisade_message_id": message},
                "message": {"headers": {"message-id": "<20240101.1@mg.example.com>"}}
            }),
        ),
    ];
    Deliveries { app, deliveries }.fuzz().await;
}

#[actix_web::test]
async fn signed_stripe_events_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let customer = format!("cus_{}", Uuid::new_v4().simple());
    let t0 = unix_now();
    let event = |event_type: &str, object: Value| {
        json!({"id": format!("evt_{UNIQUE}"), "object": "event", "api_version": "2025-03-31.basil",
               "created": t0, "livemode": false, "type": event_type, "data": {"object": object}})
    };
    let checkout = event(
        "checkout.session.completed",
        json!({"id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
               "status": "complete", "payment_status": "paid", "client_reference_id": a.org_id,
               "metadata": {"organization_id": a.org_id}, "customer": customer, "subscription": "sub_1",
               "customer_details": {"email": "billing@acme.example", "name": "Acme"}}),
    );
    // Linked first, so that subscription and invoice events reach the organization.
    let r = app
        .stripe_webhook(unique(&checkout.to_string()).as_bytes())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let deliveries = vec![
        json_delivery(Route::Stripe, checkout),
        json_delivery(
            Route::Stripe,
            event(
                "customer.subscription.updated",
                json!({"id": "sub_1", "object": "subscription", "customer": customer, "status": "active",
                       "cancel_at_period_end": false, "canceled_at": null, "currency": "usd", "metadata": {},
                       "items": {"object": "list", "data": [{
                           "id": "si_1", "object": "subscription_item", "quantity": 3,
                           "current_period_start": t0, "current_period_end": t0 + 30 * 86_400,
                           "price": {"id": "price_1", "object": "price", "currency": "usd",
                                     "unit_amount": 2900, "lookup_key": "pro", "metadata": {},
                                     "recurring": {"interval": "month", "interval_count": 1}}}]}}),
            ),
        ),
        json_delivery(
            Route::Stripe,
            event(
                "invoice.paid",
                json!({"id": format!("in_{UNIQUE}"), "object": "invoice", "customer": customer,
                       "subscription": "sub_1", "status": "paid", "number": "ACME-0001", "currency": "usd",
                       "subtotal": 8700, "total": 8700, "amount_due": 8700, "amount_paid": 8700,
                       "period_start": t0, "period_end": t0 + 30 * 86_400, "due_date": null,
                       "status_transitions": {"paid_at": t0 + 60},
                       "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test",
                       "customer_email": "billing@acme.example"}),
            ),
        ),
    ];
    Deliveries { app, deliveries }.fuzz().await;
}

#[actix_web::test]
async fn amazon_connect_events_never_answer_5xx() {
    let (app, a) = spawn_app_with_owner("Fuzz").await;
    let arn = format!(
        "arn:aws:connect:us-west-2:123456789012:instance/{}",
        Uuid::new_v4()
    );
    app.create(
        &a,
        "/v1/call-center/aws-connect/instances",
        json!({"instance_arn": arn, "region": "us-west-2", "label": "Main"}),
    )
    .await;
    let key = app
        .create(
            &a,
            "/v1/call-center/aws-connect/credentials",
            json!({"label": "EventBridge"}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    // Shaped like AWS's samples (tests/api/aws_connect.rs): a voice contact that names every
    // field the route reads, and a chat contact.
    let event = |detail: Value| {
        json!({"version": "0", "id": UNIQUE, "detail-type": "Amazon Connect Contact Event",
               "source": "aws.connect", "account": "123456789012", "time": "2021-08-04T17:43:48Z",
               "region": "us-west-2", "resources": [arn], "detail": detail})
    };
    let deliveries = vec![
        json_delivery(
            Route::AwsConnect(key.clone()),
            event(json!({
                "eventType": "DISCONNECTED", "contactId": UNIQUE, "previousContactId": "c-0",
                "channel": "VOICE", "instanceArn": arn, "initiationMethod": "TRANSFER",
                "initiationTimestamp": "2021-08-04T17:17:53.000Z",
                "connectedToSystemTimestamp": "2021-08-04T17:17:55.000Z",
                "disconnectTimestamp": "2021-08-04T17:18:37.000Z",
                "queueInfo": {"queueType": "STANDARD", "queueArn": format!("{arn}/queue/q-1")},
                "agentInfo": {"agentArn": format!("{arn}/agent/a-1")}
            })),
        ),
        json_delivery(
            Route::AwsConnect(key),
            event(json!({
                "eventType": "INITIATED", "contactId": UNIQUE, "channel": "CHAT",
                "instanceArn": arn, "initiationMethod": "API"
            })),
        ),
    ];
    Deliveries { app, deliveries }.fuzz().await;
}
