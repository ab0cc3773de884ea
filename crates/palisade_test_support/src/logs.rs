//! What test servers log, two ways, from one global subscriber installed once per test process
//! (by the first app a test starts):
//!
//! - For the humans: every line the `RUST_LOG` filter lets through (warnings and errors when it
//!   is unset) goes to the output of the test that logged it, which the test harness shows only
//!   when that test fails: a failing status then comes with the server's reason (e.g. `request
//!   failed` and the error), not just the response's generic body.
//! - For the tests: every line at debug and above from Palisade's crates (info and above from
//!   the others), whatever `RUST_LOG` says, formatted by the server's own layer
//!   ([`palisade_server::telemetry::format_layer`], text, as `palisade serve` prints it) and
//!   kept in memory by the request it was logged in. [`of`] gives a response's lines, which a
//!   test reads to check what the server logged about that request (its ids, a warning, that no
//!   secret is in it). Tests run in parallel in one process; the request id (a UUID, in every
//!   line logged inside the request's span and in the response's `X-Request-Id`) keeps each
//!   test's lines apart.
//!
//! Memory is bounded: the lines of the last [`REQUESTS_KEPT`] requests are kept, at most
//! [`LINES_PER_REQUEST`] each (a request's later lines are replaced by one saying how many were
//! dropped). Lines logged outside any request (startup, a background task not in a request's
//! span) are not kept. A request's lines are all logged by the time its response's head is
//! sent (its closing line is logged then), except what a streamed body logs while it is sent,
//! and what work the request left running after its answer logs in its span (signup's and a
//! password reset request's mail, and a reset request's lookup): a test of those waits for them.
//!
//! A panic is logged by the server's hook ([`palisade_api::catch_panic::log_panic`]) into both,
//! and then printed by the test harness's own hook as before.
//!
//! A test that installs its own subscriber for its thread (`tracing::subscriber::set_default`)
//! still sees its own; what is logged on that thread then goes to neither output here.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{LazyLock, Mutex, OnceLock};

use palisade_server::telemetry::{LogFormat, format_layer};
use tracing_subscriber::Layer as _;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::TestResponse;

/// How many requests' lines are kept; past it, the oldest request's are forgotten.
pub const REQUESTS_KEPT: usize = 20_000;
/// How many lines of one request are kept; past it, they are counted, not kept.
pub const LINES_PER_REQUEST: usize = 500;

/// The captured lines, by request id, and the ids in the order their first line came.
#[derive(Default)]
struct Captured {
    by_request: HashMap<String, Lines>,
    order: VecDeque<String>,
}

#[derive(Default)]
struct Lines {
    kept: Vec<String>,
    dropped: usize,
}

static CAPTURED: LazyLock<Mutex<Captured>> = LazyLock::new(Mutex::default);

/// Whether this module's subscriber is the process's (set once, by [`install`]).
static CAPTURING: OnceLock<bool> = OnceLock::new();

/// Installs the global subscriber described in the module doc, once per process. When another
/// global subscriber was installed first, that one logs and [`of`] refuses to answer.
pub(crate) fn install() {
    CAPTURING.get_or_init(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let for_humans = tracing_subscriber::fmt::layer()
            .fmt_fields(HumanFields::default())
            .with_test_writer()
            .with_ansi(false)
            .with_filter(filter);
        // Per layer, so that RUST_LOG=error (or a filter naming other modules) leaves the
        // capture as it is.
        let captured_levels = Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("palisade", LevelFilter::DEBUG);
        let for_tests = format_layer(LogFormat::Text, false, || LineWriter(Vec::new()))
            .with_filter(captured_levels);
        // The server's panic hook, as `palisade serve` installs it, then the test harness's
        // (which prints the message of a failing test's assertion).
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            palisade_api::catch_panic::log_panic(info);
            previous(info);
        }));
        tracing_subscriber::registry()
            .with(for_humans)
            .with(for_tests)
            .try_init()
            .is_ok()
    });
}

/// The lines the server logged while answering `response` (found by its `X-Request-Id`), as
/// `palisade serve` prints them (text), in the order they were logged.
pub fn of(response: &TestResponse) -> Vec<String> {
    let id = response
        .header("x-request-id")
        .unwrap_or_else(|| panic!("a response without X-Request-Id: {response:?}"));
    of_request(id)
}

/// The lines the server logged inside the request whose id is `request_id`.
pub fn of_request(request_id: &str) -> Vec<String> {
    assert!(
        CAPTURING.get().copied().unwrap_or(false),
        "no log capture: no app was started in this process, or another global subscriber was \
         installed before the first one was"
    );
    let captured = CAPTURED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lines) = captured.by_request.get(request_id) else {
        return Vec::new();
    };
    let mut kept = lines.kept.clone();
    if lines.dropped > 0 {
        kept.push(format!(
            "(the log capture dropped {} more lines of this request)",
            lines.dropped
        ));
    }
    kept
}

/// The request id a captured line was logged under: the `request_id` of the request's span,
/// which the text format prints before the event's own fields.
fn request_id_of(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("request_id=")?;
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '}')
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|id| !id.is_empty())
}

fn keep(line: String) {
    let Some(id) = request_id_of(&line).map(str::to_owned) else {
        return;
    };
    let mut captured = CAPTURED.lock().unwrap_or_else(|e| e.into_inner());
    let Captured { by_request, order } = &mut *captured;
    let lines = by_request.entry(id.clone()).or_insert_with(|| {
        order.push_back(id);
        Lines::default()
    });
    if lines.kept.len() < LINES_PER_REQUEST {
        lines.kept.push(line);
    } else {
        lines.dropped += 1;
    }
    while order.len() > REQUESTS_KEPT {
        if let Some(oldest) = order.pop_front() {
            by_request.remove(&oldest);
        }
    }
}

/// One line, as the format layer writes it (one writer per event), kept when dropped.
struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.0);
        keep(text.trim_end_matches('\n').to_owned());
    }
}

/// The human output's field formatter: `DefaultFields` under a type of its own, so that its
/// span fields are kept apart from the captured layer's (see
/// [`palisade_server::telemetry::format_layer`]: two layers formatting with the same type append
/// every recorded field twice).
#[derive(Default)]
struct HumanFields(DefaultFields);

impl<'writer> FormatFields<'writer> for HumanFields {
    fn format_fields<R: RecordFields>(
        &self,
        writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        self.0.format_fields(writer, fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lines_request_id_is_its_spans() {
        let line = "2026-01-01T00:00:00.000000Z  INFO request{request_id=0192-ab http.method=GET \
                    http.route=/v1/x}: request finished status=200";
        assert_eq!(request_id_of(line), Some("0192-ab"));
        let inside = "2026-01-01T00:00:00.000000Z  WARN request{request_id=7f http.method=GET}:\
                      login: refused request_id=other";
        assert_eq!(request_id_of(inside), Some("7f"));
        assert_eq!(request_id_of("2026 INFO starting 1 workers"), None);
        assert_eq!(
            request_id_of("request{request_id= http.method=GET}: x"),
            None
        );
    }
}
