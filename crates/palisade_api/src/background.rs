//! Work a request leaves to run after its answer (a password reset's lookup, link and mail:
//! `routes::accounts::request_password_reset`; a signup's verification mail:
//! `routes::auth::signup`), and that a graceful stop lets finish.
//!
//! Spawned on an HTTP worker, such work would die with the worker: a graceful stop ends each
//! worker, and every task on its runtime, as soon as it has no client connection left, so a reset
//! asked for just before a stop was answered 202 ("a link is on its way") and never mailed.
//! [`Background::spawn`] runs it on the actix system's own thread instead (the server's main
//! thread, which outlives the workers), and `palisade serve` waits for it
//! ([`Background::finished`]) once the HTTP server has stopped, before it closes the pool.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The server's background work. Cheap to clone: clones share it.
#[derive(Clone, Default)]
pub struct Background {
    running: Arc<AtomicUsize>,
}

/// One piece of background work, counted until dropped (finished, or dropped with its runtime).
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Background {
    /// Runs `work` on the actix system's thread (the server's main thread), or on the current
    /// tokio runtime outside an actix system.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.running.fetch_add(1, Ordering::SeqCst);
        let running = Running(self.running.clone());
        let work = async move {
            work.await;
            drop(running);
        };
        match actix_web::rt::System::try_current() {
            Some(system) => {
                // Sent to the system's thread; dropped (and so no longer counted) if that
                // thread's runtime has ended.
                system.arbiter().spawn(work);
            }
            None => {
                tokio::spawn(work);
            }
        }
    }

    /// How many pieces of work are running or waiting to run.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Waits until no work is left, at most `within`: returns whether none is.
    pub async fn finished(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while self.running() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}
