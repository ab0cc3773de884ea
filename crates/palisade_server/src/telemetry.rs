//! Log output, as [`LogSettings`] say: `RUST_LOG` filters (default `info`; `warn` for `audit`
//! and `numbers`), `PALISADE_LOG_FORMAT=json` switches to one JSON object per line for log
//! shippers. Both are read by [`crate::configuration`], like every other variable.
//!
//! The server's lines (those on stdout) do not block the thread that logs them: each line is
//! formatted where it is logged and handed to a writer thread through a bounded queue of
//! [`QUEUE_LINES`] lines, which writes them in batches every [`WRITE_EVERY`] (one `write` per
//! batch, not per line, and no thread woken per line).
//! A request never waits for a slow pipe, a paused terminal or a stalled log shipper; when the
//! queue is full a line is dropped and counted, and the writer logs how many were dropped once it
//! has caught up. [`LogGuard`] flushes the queue when the command ends.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::configuration::LogSettings;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, with the fields of the spans it is in (`span`, `spans`).
    Json,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The server's logs, and those of `migrate`, `bootstrap`, `install-definers`.
    Stdout,
    /// Commands whose stdout is their result (`palisade audit`, `palisade numbers`).
    Stderr,
}

/// Lines the queue to the writer thread holds; beyond this, lines are dropped and counted.
pub const QUEUE_LINES: usize = 16_384;

/// Drops actix-http's ERROR line for a request it could not read: it logs every connection it
/// closes for a malformed header, a head too large or a bad `Content-Length` (answered 400 or
/// 431 before Palisade sees the request) as `stream error: request parse error: ...`, with no
/// request id: a client's doing, not the server's, and any client could fill the error log with
/// it. Its other lines (an internal error of its own, a failed write) are kept. Not installed when
/// `RUST_LOG` names `actix_http` (e.g. `info,actix_http=debug`).
struct QuietParseErrors;

/// The target of actix-http's connection handling.
const DISPATCHER: &str = "actix_http::h1::dispatcher";

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for QuietParseErrors {
    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        let meta = event.metadata();
        if meta.target() != DISPATCHER || *meta.level() != tracing::Level::ERROR {
            return true;
        }
        let mut parse_error = IsParseError(false);
        event.record(&mut parse_error);
        !parse_error.0
    }
}

/// Whether an event's message is actix-http's line for a request it could not read.
struct IsParseError(bool);

impl tracing::field::Visit for IsParseError {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}").starts_with("stream error: request parse error");
        }
    }
}

/// The filter of `settings`: `RUST_LOG`, or the command's default when it is unset or does not
/// parse; and whether [`QuietParseErrors`] applies (unless `RUST_LOG` names `actix_http`).
fn filter(settings: &LogSettings) -> (EnvFilter, bool) {
    match settings
        .filter
        .as_deref()
        .and_then(|f| EnvFilter::try_new(f).ok().map(|parsed| (f, parsed)))
    {
        Some((text, parsed)) => (parsed, !text.contains("actix_http")),
        None => (EnvFilter::new(settings.default_filter), true),
    }
}

/// Installs the global subscriber writing to `output`, and the panic hook that logs a panic
/// through it ([`palisade_api::catch_panic::log_panic`]: its location and thread, in the span it
/// happened in, never its message) instead of printing the message to stderr. Call once, first
/// thing in `main`, and keep the guard until the command ends. A `RUST_LOG` that does not parse
/// counts as unset.
pub fn init(settings: &LogSettings, output: Output) -> LogGuard {
    std::panic::set_hook(Box::new(palisade_api::catch_panic::log_panic));
    let (filter, quiet) = filter(settings);
    let ansi = match output {
        Output::Stdout => std::io::stdout().is_terminal(),
        Output::Stderr => std::io::stderr().is_terminal(),
    };
    match output {
        // The server's logs: through the queue.
        Output::Stdout => {
            let queue = Queue::start();
            install(filter, quiet, settings.format, ansi, queue.clone());
            LogGuard(Some(queue))
        }
        // A command whose result is on stdout logs little, and its lines must be out before it
        // prints: straight to stderr.
        Output::Stderr => {
            install(filter, quiet, settings.format, ansi, std::io::stderr);
            LogGuard(None)
        }
    }
}

fn install<W>(filter: EnvFilter, quiet: bool, format: LogFormat, ansi: bool, writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    // A second init (tests) is harmless: try_init's error is ignored on purpose.
    let _ = subscriber(filter, quiet, format, ansi, writer).try_init();
}

/// The subscriber [`init`] installs: [`format_layer`] behind the filter.
fn subscriber<W>(
    filter: EnvFilter,
    quiet: bool,
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    Box::new(
        tracing_subscriber::registry()
            .with(filter)
            .with(quiet.then_some(QuietParseErrors))
            .with(format_layer(format, ansi, writer)),
    )
}

/// The layer that formats the server's lines in `format` and writes them to `writer`: the one
/// [`init`] installs, and the one the test harness captures a test server's lines with (so a
/// test reads them exactly as an operator would). In JSON, a line has the fields of the span it
/// was logged in (`span`) and of every span it is in, outermost first (`spans`): a line logged
/// inside a handler's own span (`login`, `signup`, ...) has the request's id, method and route
/// only in `spans`.
///
/// In text, span fields are kept (formatted) in the span's extensions under the type of the
/// layer's field formatter, `DefaultFields`: another text layer beside this one on the same
/// subscriber must format its fields with a type of its own, or each layer appends each recorded
/// field to the same text and every line prints it twice.
pub fn format_layer<S, W>(
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    match format {
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(writer)
                // Colours only on a terminal, so files and journald get plain text.
                .with_ansi(ansi),
        ),
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(writer)
                .with_current_span(true)
                .with_span_list(true),
        ),
    }
}

/// Flushes the queued log lines when dropped (at the end of `main`'s command).
#[must_use = "log lines still queued are lost unless the guard is dropped at the end"]
pub struct LogGuard(Option<Queue>);

impl Drop for LogGuard {
    fn drop(&mut self) {
        let Some(queue) = &self.0 else { return };
        // Bounded: a stuck stdout (the queue full, the writer blocked in write) must not keep
        // the process from exiting, so neither the request nor the wait blocks past 5 s.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let (ack, done) = std::sync::mpsc::sync_channel(1);
        let mut flush = Message::Flush(ack);
        loop {
            match queue.tx.try_send(flush) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if std::time::Instant::now() < deadline => {
                    flush = m;
                    std::thread::sleep(WRITE_EVERY);
                }
                Err(_) => return,
            }
        }
        let _ = done.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()));
    }
}

enum Message {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// The sending side of the queue to the writer thread: the fmt layer's writer.
#[derive(Clone)]
struct Queue {
    tx: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
}

impl Queue {
    /// Starts the writer thread (stdout).
    fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_LINES);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        let spawned = std::thread::Builder::new()
            .name("palisade-log".into())
            .spawn(move || write_lines(&rx, &counter));
        if let Err(e) = spawned {
            // Without a writer every line would be dropped: say so once, where it can be seen.
            eprintln!("palisade: cannot start the log writer thread ({e}); logs are lost");
        }
        Self { tx, dropped }
    }
}

/// How often the writer thread looks at the queue. It never waits *on* the queue: a receiver
/// blocked in `recv` would be woken by every line, a thread switch per request; instead it sleeps
/// this long and takes whatever has come meanwhile, so a busy server pays one wake-up and one
/// `write` per tick for all its lines. Lines reach stdout at most this late.
pub const WRITE_EVERY: Duration = Duration::from_millis(20);

/// The writer thread: every [`WRITE_EVERY`], takes whatever lines are queued and writes them as
/// one batch. Ends when every sender is gone.
fn write_lines(rx: &Receiver<Message>, dropped: &AtomicU64) {
    let mut batch = Vec::with_capacity(64 * 1024);
    let mut acks = Vec::new();
    loop {
        std::thread::sleep(WRITE_EVERY);
        let mut open = true;
        loop {
            match rx.try_recv() {
                Ok(Message::Line(line)) => batch.extend_from_slice(&line),
                Ok(Message::Flush(ack)) => acks.push(ack),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
            if batch.len() >= 1 << 20 {
                break;
            }
        }
        if !batch.is_empty() {
            let mut out = std::io::stdout().lock();
            // Nowhere to report a failed write to: the log is that place.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            drop(out);
            batch.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            // Queued like any line (this thread empties the queue next).
            tracing::warn!(
                lines = lost,
                "log lines dropped: the log output did not keep up"
            );
        }
        if !open {
            return;
        }
    }
}

/// One log line, sent to the queue when the fmt layer is done writing it.
struct QueuedLine<'a> {
    queue: &'a Queue,
    line: Vec<u8>,
}

impl Write for QueuedLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for QueuedLine<'_> {
    fn drop(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.line);
        match self.queue.tx.try_send(Message::Line(line)) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.queue.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Queue {
    type Writer = QueuedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        QueuedLine {
            queue: self,
            line: Vec::with_capacity(256),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The lines a subscriber with [`filter`] of `rust_log` writes for a client's malformed
    /// request as actix-http logs it, and for a request's failure as Palisade logs it.
    fn logged(rust_log: Option<&str>) -> String {
        logged_with(rust_log, LogFormat::Text, || {
            tracing::error!(
                target: "actix_http::h1::dispatcher",
                "stream error: request parse error: invalid Header provided"
            );
            tracing::error!(
                target: "actix_http::h1::dispatcher",
                "Internal server error: unexpected eof"
            );
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: internal error");
            tracing::error!(target: "palisade_api::error", "request failed");
        })
    }

    /// What `log` writes through the server's subscriber in `format` with `RUST_LOG=rust_log`.
    fn logged_with(rust_log: Option<&str>, format: LogFormat, log: impl FnOnce()) -> String {
        let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
        let writer = lines.clone();
        let settings = LogSettings {
            format,
            filter: rust_log.map(str::to_owned),
            default_filter: "info",
        };
        let (filter, quiet) = filter(&settings);
        let subscriber = subscriber(filter, quiet, format, false, move || Writer(writer.clone()));
        tracing::subscriber::with_default(subscriber, log);
        String::from_utf8(lines.lock().unwrap().clone()).unwrap()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// By default, and under any `RUST_LOG` that does not name actix_http (one that does not
    /// parse included), a client's malformed request leaves no ERROR line; the server's own
    /// errors, and actix-http's other errors, still do. Naming actix_http brings its line back.
    #[test]
    fn a_clients_malformed_request_is_not_an_error_line_unless_asked_for() {
        for rust_log in [
            None,
            Some("warn"),
            Some("debug"),
            Some("palisade_api=debug,info"),
            Some("[bad"),
        ] {
            let logged = logged(rust_log);
            assert!(logged.contains("request failed"), "{rust_log:?}: {logged}");
            assert!(logged.contains("unexpected eof"), "{rust_log:?}: {logged}");
            assert!(
                logged.contains("stream error: internal error"),
                "{rust_log:?}: {logged}"
            );
            assert!(!logged.contains("parse error"), "{rust_log:?}: {logged}");
        }
        for rust_log in ["info,actix_http=error", "actix_http::h1=debug,info"] {
            let logged = logged(Some(rust_log));
            assert!(logged.contains("request failed"), "{rust_log}: {logged}");
            assert!(logged.contains("parse error"), "{rust_log}: {logged}");
        }
    }

    /// A line logged inside a handler's own span (as `#[tracing::instrument]` makes, without
    /// fields) still carries the request's id, method and route, in text and in JSON, at the
    /// default level.
    #[test]
    fn a_line_inside_a_handlers_span_carries_the_requests_fields() {
        let log = || {
            let request = tracing::error_span!(
                "request",
                request_id = %"0b6e0d9e-request",
                http.route = %"/v1/auth/login"
            );
            let _request = request.enter();
            let handler = tracing::info_span!("login");
            let _handler = handler.enter();
            tracing::warn!("inside the handler");
        };
        let text = logged_with(None, LogFormat::Text, log);
        assert!(text.contains("request_id=0b6e0d9e-request"), "{text}");
        let json = logged_with(None, LogFormat::Json, log);
        let line: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(line["span"]["name"], "login", "{json}");
        assert_eq!(line["spans"][0]["name"], "request", "{json}");
        assert_eq!(line["spans"][0]["request_id"], "0b6e0d9e-request", "{json}");
        assert_eq!(line["spans"][0]["http.route"], "/v1/auth/login", "{json}");
        assert_eq!(line["fields"]["message"], "inside the handler", "{json}");
    }
}
