//! Running workers until a signal, with a grace period: on SIGTERM (or SIGINT) workers stop
//! fetching, in-flight jobs get `grace` to finish, and whatever still runs after that is handed
//! back to the queue at once instead of waiting for its lease to expire.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use apalis_core::monitor::Monitor;

use crate::backend::WorkerHandle;

/// The handles of every backend a monitor's worker factories built, for hand-back at shutdown.
#[derive(Clone, Default)]
pub struct Handles(Arc<Mutex<Vec<WorkerHandle>>>);

impl Handles {
    /// Remembers a backend's handle; call it in the worker factory.
    pub fn add(&self, h: WorkerHandle) {
        self.0.lock().expect("handles lock").push(h);
    }

    fn all(&self) -> Vec<WorkerHandle> {
        self.0.lock().expect("handles lock").clone()
    }
}

/// Resolves on SIGTERM or SIGINT.
///
/// The handlers are installed when this is called (not when the future is first polled), so
/// a SIGTERM that arrives while the process is still starting is not lost. Call it inside the
/// runtime, early.
pub fn termination_signal() -> impl std::future::Future<Output = std::io::Result<()>> + Send {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        let (mut term, mut int) = (term?, int?);
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        Ok(())
    }
}

/// Runs `monitor` until `signal` resolves, then shuts down within `grace`.
pub async fn run_until<S>(
    monitor: Monitor,
    handles: Handles,
    signal: S,
    grace: Duration,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    S: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let result = monitor
        .shutdown_timeout(grace)
        .run_with_signal(signal)
        .await;
    for h in handles.all() {
        if h.held() > 0 {
            let n = h
                .hand_back_all("interrupted: shutdown grace period ended")
                .await?;
            tracing::warn!(
                worker = h.worker_id(),
                handed_back = n,
                "jobs still running after the grace period were handed back"
            );
        }
    }
    result.map_err(Into::into)
}
