//! lifesync's durable job queue: a Redis storage of our own behind apalis-core 1.0's
//! [`Backend`](apalis_core::backend::Backend) trait, so workers, layers and the monitor stay
//! apalis while leases, retries, dead letters, dedup and retention are ours.
//!
//! Map of the crate:
//! - [`config`]: Redis and queue settings (leases, batches, retention, backoff, shards);
//! - [`conn`]: one connection type for single-node Redis and Redis Cluster;
//! - [`store`]: the Redis key layout and Lua scripts (`src/lua/`), one atomic call per step;
//! - [`backend`]: the apalis `Backend` (fetcher, heartbeat, acker) and its outcome middleware;
//! - [`retry`]: backoff policy and the error kinds handlers return;
//! - [`payloads`]: the typed job payloads; [`producer`]: typed enqueue, the only way in;
//! - [`runner`]: running workers until SIGTERM with a grace period;
//! - [`bench`](mod@bench): the queue benchmark (`lifesync bench queue`);
//! - [`metrics`]: the queue's metrics (attempts, durations, depth);
//! - `summary`: the per-queue `jobs summary` log line (per-job lines are DEBUG).
//!
//! This crate knows nothing of providers, HTTP or PostgreSQL. See `jobs/README.md` for the
//! key layout, the job state machine and the delivery guarantee.

pub mod backend;
pub mod bench;
pub mod config;
pub mod conn;
pub mod metrics;
pub mod payloads;
pub mod probe;
pub mod producer;
pub mod retry;
pub mod runner;
pub mod store;
mod summary;

pub use backend::{JobLease, RedisBackend, WorkerHandle};
pub use config::{QueueSettings, RedisSettings};
pub use conn::RedisConn;
pub use payloads::Job;
pub use producer::{EnqueueOptions, Producer};
pub use retry::{JobError, RetryPolicy};
pub use store::{Enqueued, JobBrief, JobRecord, QueueError, QueueStats, Store};
