//! Graceful shutdown (docs/operations.md, "Shutdown"): on SIGTERM or SIGINT, `/readyz` answers
//! 503, the listeners stop accepting, requests in flight get `ROSTER_SHUTDOWN_TIMEOUT` to
//! finish, then event delivery stops after the attempt it is making, and the process exits 0.
//! A second signal ends the process at once (exit status 1).
//!
//! The SQLite writer needs no step of its own: a write is answered only after its batch has
//! committed, so every write a client was told about is in the database before its answer left;
//! a write whose request was still running when the timeout passed was never acknowledged, and
//! its batch is rolled back as a whole if the process ends before the commit.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use actix_web::dev::ServerHandle;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Whether this process is shutting down; `/readyz` reads it.
#[derive(Debug, Default)]
pub struct Draining(AtomicBool);

impl Draining {
    /// Whether shutdown has started.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Starts the shutdown of a running [`crate::startup::Application`].
#[derive(Clone)]
pub struct Shutdown {
    pub(crate) servers: Vec<ServerHandle>,
    pub(crate) draining: Arc<Draining>,
}

impl Shutdown {
    /// Starts a graceful shutdown, once (later calls do nothing): `/readyz` answers 503 from
    /// now on and the listeners stop accepting; requests in flight may finish. Returns at once;
    /// `run_until_stopped` returns when the shutdown is complete.
    pub fn begin(&self) {
        if self.draining.0.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::info!("shutting down: no new connections; finishing the requests in flight");
        for server in &self.servers {
            // The command is sent now; its completion is what `run_until_stopped` awaits.
            drop(server.stop(true));
        }
    }
}

/// Waits for SIGTERM or SIGINT and begins the shutdown; on a second signal, ends the process
/// at once with exit status 1.
pub async fn on_signals(shutdown: Shutdown) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let first = next(&mut term, &mut int).await;
    tracing::info!(
        signal = first,
        "shutdown requested; a second signal stops at once"
    );
    shutdown.begin();
    let second = next(&mut term, &mut int).await;
    tracing::warn!(
        signal = second,
        "second signal: exiting now, without waiting for requests in flight"
    );
    std::process::exit(1)
}

/// The next SIGTERM or SIGINT, by name.
async fn next(term: &mut Signal, int: &mut Signal) -> &'static str {
    poll_fn(|cx| {
        if term.poll_recv(cx).is_ready() {
            Poll::Ready("SIGTERM")
        } else if int.poll_recv(cx).is_ready() {
            Poll::Ready("SIGINT")
        } else {
            Poll::Pending
        }
    })
    .await
}
