//! What the built `palisade` binary's tests share: running a command off the async runtime and
//! reading the audit's violations.

use std::process::Command;

use tokio_postgres::Client;

/// What a command printed and returned.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `cmd` (without `RUST_LOG`, so that its output is only what it prints itself) on a
/// blocking thread and waits for it.
pub async fn run(mut cmd: Command) -> Run {
    cmd.env_remove("RUST_LOG");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the command's thread")
        .expect("the command runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `palisade_audit.violations` as (kind, object_type, object).
pub async fn audit_violations(c: &Client) -> Vec<(String, String, String)> {
    c.query(
        "SELECT kind, object_type, object FROM palisade_audit.violations",
        &[],
    )
    .await
    .expect("read palisade_audit.violations")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}
