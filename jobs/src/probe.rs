//! Probe jobs: payloads that succeed, fail, panic, hang or ask for a delay on request and record
//! every run in Redis. The durability tests drive real worker processes with them and the queue
//! benchmark uses the no-op [`NoopJob`]. Nothing in the service enqueues them.

use std::time::Duration;

use apalis_core::{
    monitor::Monitor,
    task::{attempt::Attempt, data::Data},
    worker::builder::WorkerBuilder,
};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tower::limit::ConcurrencyLimitLayer;

use crate::{payloads::Job, retry::JobError, runner::Handles, RedisBackend, RedisConn, Store};

/// What a probe job does when it runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "arg")]
pub enum Behaviour {
    #[default]
    Succeed,
    /// Fails (retryable) on every attempt.
    FailAlways,
    /// Fails (retryable) on the first n attempts, then succeeds.
    FailTimes(u32),
    /// Panics on every attempt.
    Panic,
    /// Fails permanently.
    Abort,
    /// Asks to be retried after this many ms on its first run, then succeeds.
    RetryAfterOnce(u64),
    /// Exits the whole worker process, as a crash would, on every attempt.
    Crash,
}

/// A probe job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeJob {
    pub n: u64,
    #[serde(default)]
    pub sleep_ms: u64,
    #[serde(default)]
    pub behaviour: Behaviour,
    /// Optional dedup key (for unique-key tests).
    #[serde(default)]
    pub unique: Option<String>,
}

impl Job for ProbeJob {
    const QUEUE: &'static str = "probe";
    const MAX_ATTEMPTS: u32 = 3;
    fn unique_key(&self) -> Option<String> {
        self.unique.clone()
    }
}

/// Where probe runs are recorded: `<prefix>:probe:runs` (a list of `n:attempt:unix_ms` per run
/// start)
/// and `<prefix>:probe:done` (a list of `n` per completed run: its length minus its distinct
/// members counts duplicate effects).
#[derive(Clone)]
pub struct ProbeRecorder {
    pub conn: RedisConn,
    pub prefix: String,
}

impl ProbeRecorder {
    pub fn runs_key(&self) -> String {
        format!("{}:probe:runs", self.prefix)
    }
    pub fn done_key(&self) -> String {
        format!("{}:probe:done", self.prefix)
    }
}

/// The probe handler.
pub async fn run_probe(
    job: ProbeJob,
    attempt: Attempt,
    rec: Data<ProbeRecorder>,
) -> Result<(), JobError> {
    let attempt = attempt.current() as u32;
    let mut conn = rec.conn.clone();
    let _: () = conn
        .rpush(
            rec.runs_key(),
            format!("{}:{}:{}", job.n, attempt, crate::store::now_ms()),
        )
        .await
        .map_err(JobError::retryable)?;
    if job.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
    }
    match job.behaviour {
        Behaviour::Succeed => {}
        Behaviour::FailAlways => return Err(JobError::retryable("probe: always fails")),
        Behaviour::FailTimes(k) if attempt <= k => {
            return Err(JobError::retryable(format!(
                "probe: failure {attempt} of {k}"
            )))
        }
        Behaviour::FailTimes(_) => {}
        Behaviour::Panic => panic!("probe: panics on purpose"),
        Behaviour::Abort => return Err(JobError::permanent("probe: permanent failure")),
        Behaviour::RetryAfterOnce(ms) => {
            let runs: Vec<String> = conn.lrange(rec.runs_key(), 0, -1).await.unwrap_or_default();
            let mine = runs
                .iter()
                .filter(|r| r.split(':').next() == Some(&job.n.to_string()))
                .count();
            if mine <= 1 {
                return Err(JobError::retry_after(
                    Duration::from_millis(ms),
                    "probe: rate limited",
                ));
            }
        }
        Behaviour::Crash => std::process::exit(17),
    }
    let _: () = conn
        .rpush(rec.done_key(), job.n)
        .await
        .map_err(JobError::retryable)?;
    Ok(())
}

/// A monitor running one probe worker at `concurrency`; its backend handle goes to `handles`.
pub fn probe_monitor(
    store: Store,
    recorder: ProbeRecorder,
    concurrency: usize,
    handles: Handles,
) -> Monitor {
    Monitor::new().register(move |_| {
        let backend = RedisBackend::new(store.clone(), ProbeJob::QUEUE, "probe");
        handles.add(backend.handle());
        WorkerBuilder::new(backend.handle().worker_id().to_string())
            .backend(backend)
            .data(recorder.clone())
            .layer(ConcurrencyLimitLayer::new(concurrency))
            .build(run_probe)
    })
}

/// The benchmark's no-op job.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NoopJob {
    pub n: u64,
}

impl Job for NoopJob {
    const QUEUE: &'static str = "bench";
    const MAX_ATTEMPTS: u32 = 3;
}
