//! The loop that runs jobs: inside `serve` as a task, or alone as
//! `server worker`. It wakes when `enqueue` notifies (so mail leaves within
//! moments of the request), and polls as well, for retries falling due and
//! for notifications lost with a dropped connection.
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::runner::Runner;
use super::CHANNEL;

const POLL: Duration = Duration::from_secs(2);

/// A running worker; `stop` lets the job under way finish, then ends it.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    pub fn start(runner: Runner) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(work(runner, stopped));
        Self { stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the job worker ended abnormally");
        }
    }
}

async fn work(runner: Runner, mut stopped: watch::Receiver<bool>) {
    let mut listener = listen(&runner).await;
    tracing::info!(listening = listener.is_some(), "job worker started");
    loop {
        if *stopped.borrow() {
            break;
        }
        if let Err(e) = runner.run_due(chrono::Utc::now()).await {
            tracing::error!(error = ?e, "running jobs failed");
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = woken(&mut listener) => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    tracing::info!("job worker stopped");
}

async fn listen(runner: &Runner) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(runner.pool()).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "job worker cannot listen; polling only");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "job worker cannot listen; polling only");
            None
        }
    }
}

/// Returns on a notification; never without a listener (the poll wakes
/// the loop then). A failed receive waits for the poll too: the listener
/// reconnects on the next one.
async fn woken(listener: &mut Option<PgListener>) {
    match listener {
        Some(listener) => {
            if listener.recv().await.is_err() {
                tokio::time::sleep(POLL).await;
            }
        }
        None => std::future::pending().await,
    }
}
