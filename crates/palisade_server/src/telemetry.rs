//! Log output, as [`LogSettings`] say: `RUST_LOG` filters (default `info`; `warn` for `audit`
//! and `numbers`), `PALISADE_LOG_FORMAT=json` switches to one JSON object per line for log
//! shippers. Both are read by [`crate::configuration`], like every other variable.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::configuration::LogSettings;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, with the request span's fields.
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

/// Installs the global subscriber writing to `output`. Call once, first thing in `main`. A
/// `RUST_LOG` that does not parse counts as unset.
pub fn init(settings: &LogSettings, output: Output) {
    let filter = settings
        .filter
        .as_deref()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(settings.default_filter));
    let writer = move || -> Box<dyn std::io::Write> {
        match output {
            Output::Stdout => Box::new(std::io::stdout()),
            Output::Stderr => Box::new(std::io::stderr()),
        }
    };
    let ansi = match output {
        Output::Stdout => std::io::stdout().is_terminal(),
        Output::Stderr => std::io::stderr().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests) is harmless: try_init's error is ignored on purpose.
    let _ = match settings.format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(writer)
                    // Colours only on a terminal, so files and journald get plain text.
                    .with_ansi(ansi),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(writer)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
}
