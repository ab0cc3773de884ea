//! A deliberately tiny HTTP/1.1 client for tests (one request per connection), so the test
//! suite exercises the real server over TCP without pulling in an HTTP client stack.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response as tests inspect it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub text: String,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub json: serde_json::Value,
    /// A chunked body's chunks, by size, the last (empty) one left out; `None` for a body that
    /// was not chunked (sent with its length).
    pub chunks: Option<Vec<usize>>,
}

impl TestResponse {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the answer is `status` with the error code `code`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        self.assert_error_at(status, code, "");
    }

    /// A 409 `code` for a value another record already has, naming `field` as the one that holds
    /// it (`fields: [{"field": field, "code": "taken", "reason": ...}]`).
    #[track_caller]
    pub fn assert_taken(&self, code: &str, field: &str) {
        self.assert_error(409, code);
        let fields = self.json["fields"].as_array();
        assert_eq!(fields.map(Vec::len), Some(1), "{}", self.text);
        let only = &self.json["fields"][0];
        assert_eq!(
            (only["field"].as_str(), only["code"].as_str()),
            (Some(field), Some("taken")),
            "{}",
            self.text
        );
        assert!(
            only["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{}",
            self.text
        );
    }

    /// [`TestResponse::assert_error`], naming the case (`context`) in the failure message.
    #[track_caller]
    pub fn assert_error_at(&self, status: u16, code: &str, context: impl std::fmt::Display) {
        assert_eq!(
            (self.status, self.json["error"].as_str()),
            (status, Some(code)),
            "{context}: {}",
            self.text
        );
    }
}

/// Every answer of `answers` (the same request sent several times) is 200 (the failure lists
/// each status and body).
#[track_caller]
pub fn assert_all_ok(answers: &[TestResponse]) {
    let all: Vec<_> = answers.iter().map(|r| (r.status, &r.text)).collect();
    assert!(all.iter().all(|(status, _)| *status == 200), "{all:?}");
}

/// An id of another organization's row (`foreign`) is answered exactly like an id no one holds
/// (`missing`): 422, `field` `not_found`.
#[track_caller]
pub fn assert_foreign_like_missing(foreign: &TestResponse, missing: &TestResponse, field: &str) {
    assert_eq!(
        (foreign.status, &foreign.json),
        (missing.status, &missing.json),
        "another organization's {field} answered unlike a missing one"
    );
    let not_found = serde_json::json!([
        {"field": field, "code": "not_found", "reason": "does not exist in this organization"}
    ]);
    assert_eq!(
        (foreign.status, &foreign.json["fields"]),
        (422, &not_found),
        "{}",
        foreign.text
    );
}

/// Sends one request and reads the whole response (`Connection: close`).
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
) -> TestResponse {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to the test app");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream
        .write_all(head.as_bytes())
        .await
        .expect("write request");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");
    parse(&raw)
}

fn parse(raw: &[u8]) -> TestResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let mut chunks = None;
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        let (whole, sizes) = dechunk(&body);
        body = whole;
        chunks = Some(sizes);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    TestResponse {
        status,
        headers,
        text,
        json,
        chunks,
    }
}

/// A chunked body's data, and the sizes of the chunks that held it.
fn dechunk(mut data: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut chunks = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        chunks.push(size);
        let start = pos + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    (out, chunks)
}
