//! Job handlers, one file per job, and [`register`], which builds every worker of a process.
//! A handler loads what it needs, calls providers and the normalizer, and writes through `db`;
//! it returns a [`JobError`](lifesync_jobs::JobError) whose kind decides retry, delay or abort.

pub mod build_timeline;
pub mod deliver_webhook;
pub mod erase_user;
pub mod fanout;
pub mod oauth_completion;
pub mod sync_data_source;

use std::sync::Arc;

use apalis_core::{monitor::Monitor, worker::builder::WorkerBuilder};
use lifesync_jobs::{
    payloads::{
        BuildTimeline, DeliverWebhook, EraseUser, OAuthCompletion, ScheduleFanout, SyncDataSource,
    },
    runner::Handles,
    Job, Producer, RedisBackend, Store,
};
use sqlx::PgPool;
use tower::limit::ConcurrencyLimitLayer;

use crate::{
    crypto::TokenKey,
    oauth::{apps::ProviderApps, state::StateStore},
};

/// What handlers share.
pub struct Deps {
    pub pool: PgPool,
    pub producer: Producer,
    pub token_key: TokenKey,
    /// The configured provider apps and their HTTP client.
    pub apps: Arc<ProviderApps>,
    /// OAuth completion records, token checkpoints and refresh locks.
    pub states: StateStore,
    pub batch_size: u32,
    /// Scheduled syncs are spread over this window (`SYNC_FANOUT_SPREAD_SECONDS`).
    pub fanout_spread: std::time::Duration,
    /// `SYNC_DUPLICATE_WINDOW_HOURS`: the cross-post window of `duplicate_of`.
    pub duplicate_window: std::time::Duration,
    /// Sends webhook deliveries (guarded against private targets unless allowed).
    pub webhooks: crate::webhooks::sender::Sender,
}

impl Deps {
    /// The shared provider request limiter (Redis, under the same prefix as the states).
    pub fn limiter(&self) -> crate::providers::limiter::Limiter {
        crate::providers::limiter::Limiter::new(self.states.conn(), self.states.prefix())
    }

    /// The provider-app pause markers (Redis, under the same prefix as the states).
    pub fn pauses(&self) -> crate::providers::pause::Pauses {
        crate::providers::pause::Pauses::new(self.states.conn(), self.states.prefix())
    }
}

/// Cheap to clone into every task.
#[derive(Clone)]
pub struct SharedDeps(pub Arc<Deps>);

impl std::ops::Deref for SharedDeps {
    type Target = Deps;
    fn deref(&self) -> &Deps {
        &self.0
    }
}

/// A monitor with one worker per requested queue, each at `concurrency` (the fan-out queue at
/// one: a tick's fan-out is one job); backend handles go to `handles` for shutdown hand-back.
pub fn register(
    store: &Store,
    deps: SharedDeps,
    queues: &[String],
    concurrency: usize,
    handles: &Handles,
) -> Monitor {
    let mut monitor = Monitor::new();
    // One line per job type: its queue (the job type's `QUEUE`) if requested, on a Redis
    // backend, with the shared deps, at most `$concurrency` jobs at once.
    macro_rules! job {
        ($job:ty, $concurrency:expr, $handler:path) => {
            if queues.iter().any(|q| q == <$job>::QUEUE) {
                let (store, handles, deps) = (store.clone(), handles.clone(), deps.clone());
                let concurrency = $concurrency;
                monitor = monitor.register(move |_| {
                    let backend =
                        RedisBackend::<$job>::new(store.clone(), <$job>::QUEUE, <$job>::QUEUE);
                    handles.add(backend.handle());
                    WorkerBuilder::new(backend.handle().worker_id().to_string())
                        .backend(backend)
                        .data(deps.clone())
                        .layer(ConcurrencyLimitLayer::new(concurrency))
                        .build($handler)
                });
            }
        };
    }
    job!(OAuthCompletion, concurrency, oauth_completion::handle);
    job!(SyncDataSource, concurrency, sync_data_source::handle);
    job!(ScheduleFanout, 1, fanout::handle);
    job!(EraseUser, concurrency, erase_user::handle);
    job!(DeliverWebhook, concurrency, deliver_webhook::handle);
    job!(BuildTimeline, concurrency, build_timeline::handle);
    monitor
}
