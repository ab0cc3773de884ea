//! A `palisade serve` in embedded mode, run as its own process, for the tests that need the real
//! binary (its signals, its own cluster). Included by path by each test file that uses it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// A `palisade serve` in embedded mode over `data_dir`, until dropped (SIGTERM, then wait).
pub struct EmbeddedServer {
    pub child: std::process::Child,
    pub addr: String,
    /// Its log lines (stdout), those before it listened included.
    lines: Arc<Mutex<Vec<String>>>,
}

impl EmbeddedServer {
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// [`EmbeddedServer::start`] with more environment variables.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .env_remove("DATABASE_URL")
            .env_remove("DATABASE_URL_FILE")
            // A developer's own secrets and mail server would replace the generated ones (and
            // send real mail from the outbox tests).
            .env_remove("PALISADE_SMTP_URL")
            .env_remove("PALISADE_SMTP_URL_FILE")
            .env_remove("STRIPE_WEBHOOK_SECRET")
            .env_remove("STRIPE_WEBHOOK_SECRET_FILE")
            .env_remove("TWILIO_AUTH_TOKEN")
            .env_remove("TWILIO_AUTH_TOKEN_FILE")
            .env_remove("TWILIO_SECONDARY_AUTH_TOKEN")
            .env_remove("TWILIO_SECONDARY_AUTH_TOKEN_FILE")
            .env_remove("MAILGUN_WEBHOOK_SIGNING_KEY")
            .env_remove("MAILGUN_WEBHOOK_SIGNING_KEY_FILE")
            .env_remove("PALISADE_PG_PORT")
            .env("PALISADE_DATA_DIR", data_dir)
            .env("PALISADE_HTTP_ADDR", &addr)
            .env("PALISADE_HTTP_WORKERS", "2")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut before = Vec::new();
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| {
                    panic!("the server exited before listening\n{}", before.join("\n"))
                })
                .unwrap();
            let listening = line.contains("listening on");
            before.push(line);
            if listening {
                break;
            }
        }
        // Keep reading its output, so that it never blocks on a full pipe, and keep it.
        let kept = Arc::new(Mutex::new(before));
        let sink = Arc::clone(&kept);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            addr,
            lines: kept,
        }
    }

    /// Sends it `signal` (`INT`, `TERM`).
    #[allow(dead_code)]
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// Its log lines so far (all of them once it has exited and its output has been read).
    #[allow(dead_code)]
    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
