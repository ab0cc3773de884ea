//! Log output. `RUST_LOG` filters (default `info`); `PALISADE_LOG_FORMAT=json` switches to one
//! JSON object per line for log shippers.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, with the request span's fields.
    Json,
}

/// Installs the global subscriber, logging to stdout. Call once, first thing in `main`.
pub fn init(format: LogFormat) {
    init_with(format, Output::Stdout, "info");
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The server's logs.
    Stdout,
    /// Commands whose stdout is their result (`palisade audit`).
    Stderr,
}

/// Installs the global subscriber writing to `output`, with `default_filter` when `RUST_LOG` is
/// unset.
pub fn init_with(format: LogFormat, output: Output, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
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
    let _ = match format {
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
