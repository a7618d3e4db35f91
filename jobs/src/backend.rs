//! apalis 1.0 `Backend` over the Redis [`Store`]: a worker's fetch loop, lease heartbeat,
//! batched acknowledgements and graceful hand-back.
//!
//! Per worker (one [`RedisBackend`]) three background tasks run:
//! - the *fetcher* claims in one script call, once half of what the worker keeps ahead has
//!   started, what it keeps ahead (`claim_batch`, or what a fast worker starts in
//!   `prefetch_for`: see `Prefetch` in this module), and blocks on the queue's wake list when
//!   nothing is ready (so an idle worker starts a new job within milliseconds, and a delayed
//!   job at its due time);
//! - the *heartbeat* renews the leases of every job the worker holds (buffered, running, or
//!   finished but not yet acknowledged);
//! - the *acker* writes outcomes in batches: one script call for everything that finished while
//!   the previous call was in flight (group commit), retried until Redis takes it.
//!
//! and a fourth logs the worker's `summary` at INFO every
//! `QueueSettings::summary_every` (per-job lines are DEBUG; failures and dead letters WARN).
//!
//! [`OutcomeLayer`] is the backend's middleware: it wraps every task (outside the user's layers),
//! catches panics, enforces the job timeout, classifies the result and hands it to the acker.
//! Stopping the worker stops fetching, hands buffered jobs back at once and flushes every ack
//! before `poll_close` completes; [`WorkerHandle::hand_back_all`] returns jobs still running
//! when a shutdown grace period ends.

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    marker::PhantomData,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use apalis_core::{
    backend::{finalize::Ephemeral, queue::Queue, Backend, BackendConfig},
    error::BoxDynError,
    task::{builder::TaskBuilder, task_id::TaskId, Task},
    worker::context::WorkerContext,
};
use futures::{future::BoxFuture, FutureExt};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tower_layer::Layer;
use tower_service::Service;

use crate::{
    config::{QueueSettings, MAX_PREFETCH},
    retry::{classify, FailureClass},
    store::{AckRecord, ClaimedJob, Outcome, QueueError, Store},
    summary::{Ending, Tally},
};

/// The lease under which a task was claimed; attached to every task's data.
#[derive(Debug, Clone)]
pub struct JobLease {
    pub id: String,
    pub lease: u64,
    pub attempt: u32,
    pub max_attempts: u32,
    /// Deferrals (`JobError::RetryAfter`) before this attempt; they spend no attempt.
    pub deferrals: u32,
    /// The queue's deferral cap: a deferral past it dead-letters the job, so a handler whose
    /// `deferrals + 1 > max_deferrals` is ending for good and records that itself.
    pub max_deferrals: u32,
    /// The queue shard the job lives in.
    pub shard: u32,
}

enum AckMsg {
    Record(AckRecord),
    Flush(oneshot::Sender<()>),
}

/// State shared by one worker's backend, middleware and background tasks.
struct Lane {
    queue: String,
    worker_id: String,
    store: Store,
    /// Jobs this worker holds a lease on: id → (lease, shard).
    held: Mutex<HashMap<String, (u64, u32)>>,
    acks: mpsc::UnboundedSender<AckMsg>,
    stop: CancellationToken,
    /// Endings since the last summary line.
    tally: Tally,
    /// The queue's attempt series, looked up at the first ending (after the service installed
    /// its recorder).
    metrics: std::sync::OnceLock<crate::metrics::AttemptMetrics>,
}

impl Lane {
    fn settings(&self) -> &QueueSettings {
        self.store.settings()
    }

    fn record(&self, id: String, lease: u64, shard: u32, outcome: Outcome) {
        let rec = AckRecord {
            id,
            lease,
            shard,
            outcome,
        };
        if self.acks.send(AckMsg::Record(rec)).is_err() {
            tracing::warn!(queue = %self.queue, "acker stopped; the lease will expire and the job be re-delivered");
        }
    }

    /// The jobs held now, as (id, lease, shard).
    fn held_snapshot(&self) -> Vec<(String, u64, u32)> {
        let held = self.held.lock().expect("held lock");
        held.iter().map(|(k, v)| (k.clone(), v.0, v.1)).collect()
    }

    /// Stops tracking these jobs (no more heartbeats for them).
    fn forget<'a>(&self, ids: impl Iterator<Item = &'a String>) {
        let mut held = self.held.lock().expect("held lock");
        for id in ids {
            held.remove(id);
        }
    }

    /// Resolves once every ack recorded before this call is in Redis.
    async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.acks.send(AckMsg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// A handle on a running worker's backend, usable after the worker is gone.
#[derive(Clone)]
pub struct WorkerHandle {
    lane: Arc<Lane>,
}

impl WorkerHandle {
    /// The worker's identity (unique per process start), as stored in `lock_by`.
    pub fn worker_id(&self) -> &str {
        &self.lane.worker_id
    }

    /// Number of jobs this worker currently holds a lease on.
    pub fn held(&self) -> usize {
        self.lane.held.lock().expect("held lock").len()
    }

    /// Returns every job still held to the ready list at once (their attempt counts), so a
    /// shutdown that outlasted its grace period does not leave jobs waiting for lease expiry.
    /// Acks that arrive later for these jobs are ignored (their lease is no longer current).
    pub async fn hand_back_all(&self, reason: &str) -> Result<usize, QueueError> {
        self.lane.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.lane.flush()).await;
        let held = self.lane.held_snapshot();
        let records: Vec<AckRecord> = held
            .iter()
            .map(|(id, lease, shard)| AckRecord {
                id: id.clone(),
                lease: *lease,
                shard: *shard,
                outcome: Outcome::Interrupted {
                    error: reason.to_string(),
                },
            })
            .collect();
        let n = self.lane.store.ack(&self.lane.queue, &records).await?;
        self.lane.forget(held.iter().map(|(id, _, _)| id));
        Ok(n)
    }
}

/// A worker's view of one queue. Build one per worker (they do not share leases).
pub struct RedisBackend<Args> {
    lane: Arc<Lane>,
    ack_rx: Option<mpsc::UnboundedReceiver<AckMsg>>,
    rx: Option<mpsc::Receiver<Task<Args>>>,
    tx: Option<mpsc::Sender<Task<Args>>>,
    fetcher: Option<tokio::task::JoinHandle<()>>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    summary: Option<tokio::task::JoinHandle<()>>,
    closing: Option<BoxFuture<'static, ()>>,
    _marker: PhantomData<fn() -> Args>,
}

impl<Args> std::fmt::Debug for RedisBackend<Args> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("queue", &self.lane.queue)
            .field("worker_id", &self.lane.worker_id)
            .finish()
    }
}

/// A worker identity unique to this process start: `name:host:pid:random`.
pub fn unique_worker_id(name: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let rand: u32 = rand::random();
    format!("{name}:{host}:{}:{rand:08x}", std::process::id())
}

impl<Args> RedisBackend<Args>
where
    Args: DeserializeOwned + Send + 'static,
{
    /// A backend for `queue`; `worker_name` is made unique per process start.
    pub fn new(store: Store, queue: impl Into<String>, worker_name: &str) -> Self {
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let (tx, rx) = mpsc::channel(store.settings().claim_batch);
        let lane = Arc::new(Lane {
            queue: queue.into(),
            worker_id: unique_worker_id(worker_name),
            store,
            held: Mutex::new(HashMap::new()),
            acks: ack_tx,
            stop: CancellationToken::new(),
            tally: Tally::default(),
            metrics: std::sync::OnceLock::new(),
        });
        Self {
            lane,
            ack_rx: Some(ack_rx),
            rx: Some(rx),
            tx: Some(tx),
            fetcher: None,
            heartbeat: None,
            summary: None,
            closing: None,
            _marker: PhantomData,
        }
    }

    /// A handle for grace-period hand-back and introspection.
    pub fn handle(&self) -> WorkerHandle {
        WorkerHandle {
            lane: self.lane.clone(),
        }
    }

    fn start(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        let lane = self.lane.clone();
        self.fetcher = Some(tokio::spawn(fetch_loop(lane.clone(), tx)));
        if let Some(ack_rx) = self.ack_rx.take() {
            tokio::spawn(ack_loop(lane.clone(), ack_rx));
        }
        self.summary = Some(tokio::spawn(summary_loop(lane.clone())));
        self.heartbeat = Some(tokio::spawn(heartbeat_loop(lane)));
    }

    fn close_future(&mut self) -> BoxFuture<'static, ()> {
        let lane = self.lane.clone();
        lane.stop.cancel();
        let fetcher = self.fetcher.take();
        let rx = self.rx.take();
        let heartbeat = self.heartbeat.take();
        let summary = self.summary.take();
        async move {
            if let Some(f) = fetcher {
                let _ = f.await;
            }
            // Jobs claimed but never started go back at once, without spending an attempt.
            if let Some(mut rx) = rx {
                rx.close();
                while let Some(task) = rx.recv().await {
                    if let Some(l) = task.ctx().data().get::<JobLease>() {
                        lane.record(l.id.clone(), l.lease, l.shard, Outcome::HandedBack);
                    }
                }
            }
            lane.flush().await;
            if let Some(h) = heartbeat {
                h.abort();
            }
            if let Some(s) = summary {
                s.abort();
            }
            crate::summary::log(&lane.queue, &lane.worker_id, lane.tally.take());
        }
        .boxed()
    }
}

impl<Args> Drop for RedisBackend<Args> {
    /// Stops fetching and heartbeats. The acker is left to finish what it holds, so
    /// [`WorkerHandle::hand_back_all`] can still flush it after a worker was dropped.
    fn drop(&mut self) {
        self.lane.stop.cancel();
        for task in [&self.fetcher, &self.heartbeat, &self.summary]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

impl<Args> Backend for RedisBackend<Args>
where
    Args: DeserializeOwned + Send + 'static,
{
    type Task = Task<Args>;
    type Error = QueueError;

    fn poll_ready(
        &mut self,
        _cx: &mut Context<'_>,
        _w: &WorkerContext,
    ) -> Poll<Result<(), QueueError>> {
        self.start();
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _w: &WorkerContext,
    ) -> Poll<Option<Result<Task<Args>, QueueError>>> {
        self.start();
        match self.rx.as_mut() {
            Some(rx) => rx.poll_recv(cx).map(|t| t.map(Ok)),
            None => Poll::Ready(None),
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        _w: &WorkerContext,
    ) -> Poll<Result<(), QueueError>> {
        if self.closing.is_none() {
            self.closing = Some(self.close_future());
        }
        self.closing
            .as_mut()
            .expect("closing future")
            .poll_unpin(cx)
            .map(Ok)
    }
}

impl<Args> BackendConfig for RedisBackend<Args> {
    type Args = Args;
    type Id = String;
    type Kind = Ephemeral;
    type Config = QueueSettings;
    type Layer = OutcomeLayer;

    fn config(&self) -> &QueueSettings {
        self.lane.settings()
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> OutcomeLayer {
        OutcomeLayer {
            lane: self.lane.clone(),
        }
    }
}

async fn fetch_loop<Args>(lane: Arc<Lane>, tx: mpsc::Sender<Task<Args>>)
where
    Args: DeserializeOwned + Send + 'static,
{
    let s = lane.settings().clone();
    let mut block_conn = None;
    let mut turn: u32 = rand::random::<u32>() % 1024;
    let mut backoff = Duration::from_millis(100);
    let mut prefetch = Prefetch::new(&s);
    // Claimed jobs beyond the buffer's `claim_batch` (a fast worker's), fed into it as the
    // worker starts jobs, and handed back if it stops starting them.
    let mut spare: VecDeque<Task<Args>> = VecDeque::new();
    let stall = s.prefetch_for * 10;
    loop {
        while let Some(task) = spare.pop_front() {
            match tx.try_send(task) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(task)) => {
                    spare.push_front(task);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(task)) => {
                    spare.push_front(task);
                    hand_back(&lane, spare.drain(..));
                    return;
                }
            }
        }
        // Claim once half of what the worker keeps ahead has started: under load each call
        // then takes a batch rather than the one or two jobs that started while the previous
        // call was out.
        let target = prefetch.target();
        let buffered = spare.len() + s.claim_batch - tx.capacity();
        if buffered > target / 2 {
            // Wait for room for the next half buffer of spare jobs or, without any, until at
            // most half the target is left unstarted.
            let room = if spare.is_empty() {
                s.claim_batch - target / 2
            } else {
                spare.len().min(s.claim_batch.div_ceil(2))
            };
            tokio::select! {
                _ = lane.stop.cancelled() => {
                    hand_back(&lane, spare.drain(..));
                    return;
                }
                p = tx.reserve_many(room) => match p {
                    Ok(permits) => {
                        for p in permits {
                            match spare.pop_front() {
                                Some(task) => p.send(task),
                                None => break,
                            }
                        }
                    }
                    Err(_) => {
                        hand_back(&lane, spare.drain(..));
                        return;
                    }
                },
                _ = tokio::time::sleep(stall), if !spare.is_empty() => {
                    // The worker no longer starts jobs at the rate it claimed them at: what it
                    // holds beyond `claim_batch` goes back for other workers, no attempt spent.
                    hand_back(&lane, spare.drain(..));
                    prefetch.idle();
                }
            }
            continue;
        }
        prefetch.claiming(buffered);
        let want = target.saturating_sub(buffered).max(1);
        // A claim is never cancelled half-way: jobs Redis handed over must reach the buffer.
        let claim = lane.store.claim(&lane.queue, &lane.worker_id, want).await;
        let claim = match claim {
            Ok(c) => {
                backoff = Duration::from_millis(100);
                c
            }
            Err(e) => {
                tracing::warn!(queue = %lane.queue, error = %e, retry_in = ?backoff, "claim failed; Redis unavailable?");
                if sleep_or_stop(&lane.stop, backoff).await {
                    hand_back(&lane, spare.drain(..));
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if claim.jobs.is_empty() {
            prefetch.idle();
            if !spare.is_empty() {
                continue;
            }
            let wait = claim.next_due.unwrap_or(s.idle_block).min(s.idle_block);
            if wait.is_zero() {
                continue;
            }
            if block_conn.is_none() {
                match lane.store.blocking_connection().await {
                    Ok(c) => block_conn = Some(c),
                    Err(e) => {
                        tracing::warn!(queue = %lane.queue, error = %e, "blocking connection failed");
                        if sleep_or_stop(&lane.stop, backoff).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            let conn = block_conn.as_mut().expect("blocking connection");
            tokio::select! {
                _ = lane.stop.cancelled() => return,
                r = lane.store.wait_for_work(conn, &lane.queue, wait, turn) => {
                    turn = turn.wrapping_add(1);
                    if let Err(e) = r {
                        tracing::debug!(queue = %lane.queue, error = %e, "wait for work failed");
                        if sleep_or_stop(&lane.stop, Duration::from_millis(200)).await {
                            return;
                        }
                    }
                }
            }
            continue;
        }
        {
            let mut held = lane.held.lock().expect("held lock");
            for j in &claim.jobs {
                held.insert(j.id.clone(), (j.lease, j.shard));
            }
        }
        prefetch.filled(buffered + claim.jobs.len());
        spare.extend(
            claim
                .jobs
                .into_iter()
                .filter_map(|job| build_task::<Args>(&lane, job)),
        );
    }
}

/// Returns unstarted jobs to the ready list, no attempt spent.
fn hand_back<Args>(lane: &Lane, tasks: impl Iterator<Item = Task<Args>>) {
    for task in tasks {
        if let Some(l) = task.ctx().data().get::<JobLease>() {
            lane.record(l.id.clone(), l.lease, l.shard, Outcome::HandedBack);
        }
    }
}

/// How many unstarted jobs a worker keeps claimed: `claim_batch`, or, for a worker that starts
/// them faster, what it starts in `prefetch_for` at the rate measured between its claims (at
/// most [`MAX_PREFETCH`]). A worker whose jobs take time never holds more than `claim_batch`
/// it has not started; a fast one holds no job much longer than `prefetch_for`, so an idle
/// worker elsewhere could not have started it much sooner.
struct Prefetch {
    least: usize,
    horizon: f64,
    /// Jobs started per second, smoothed over claims.
    rate: f64,
    /// When the buffer was last filled, and how many it held then.
    filled_at: Instant,
    held: usize,
}

impl Prefetch {
    fn new(s: &QueueSettings) -> Self {
        Self {
            least: s.claim_batch,
            horizon: s.prefetch_for.as_secs_f64(),
            rate: 0.0,
            filled_at: Instant::now(),
            held: 0,
        }
    }

    /// How many jobs to hold after the next claim.
    fn target(&self) -> usize {
        ((self.rate * self.horizon) as usize).clamp(self.least, MAX_PREFETCH)
    }

    /// A claim is about to be made with `buffered` jobs unstarted: those started since the
    /// last fill give the rate.
    fn claiming(&mut self, buffered: usize) {
        let secs = self.filled_at.elapsed().as_secs_f64();
        if secs > 0.0 {
            let sample = self.held.saturating_sub(buffered) as f64 / secs;
            self.rate = (self.rate + sample) / 2.0;
        }
    }

    /// The claim found nothing: the worker waits for work, and its rate starts over.
    fn idle(&mut self) {
        self.rate = 0.0;
        self.held = 0;
        self.filled_at = Instant::now();
    }

    /// The claim's jobs are buffered: `held` unstarted now.
    fn filled(&mut self, held: usize) {
        self.held = held;
        self.filled_at = Instant::now();
    }
}

/// Decodes a claimed job into an apalis task; an undecodable payload is dead-lettered.
fn build_task<Args: DeserializeOwned>(lane: &Lane, job: ClaimedJob) -> Option<Task<Args>> {
    match serde_json::from_str::<Args>(&job.payload) {
        Ok(args) => Some(
            TaskBuilder::new(args)
                .task_id(TaskId::from_string(job.id.clone()))
                .attempt(job.attempt.saturating_sub(1) as usize) // apalis counts the start itself
                .max_attempts(job.max_attempts as usize)
                .queue(Queue::from(lane.queue.as_str()))
                .lock_by(Some(lane.worker_id.clone()))
                .data(JobLease {
                    id: job.id,
                    lease: job.lease,
                    attempt: job.attempt,
                    max_attempts: job.max_attempts,
                    deferrals: job.deferrals,
                    max_deferrals: lane.settings().max_deferrals,
                    shard: job.shard,
                })
                .build(),
        ),
        Err(e) => {
            tracing::error!(queue = %lane.queue, job_id = %job.id, error = %e, "undecodable payload: dead-lettered");
            lane.record(
                job.id,
                job.lease,
                job.shard,
                Outcome::Aborted {
                    error: format!("undecodable payload: {e}"),
                },
            );
            None
        }
    }
}

async fn sleep_or_stop(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// Records per ack script call ([`Store::ack`] splits larger batches).
const ACK_CALL_RECORDS: usize = 500;

async fn ack_loop(lane: Arc<Lane>, mut rx: mpsc::UnboundedReceiver<AckMsg>) {
    // Up to 500 records per script call: `Store::ack` makes one call per shard (and per 500), so
    // a batch of a sharded queue's records takes up to 500 per shard. A cap of 500 in all split
    // each batch into one small call per shard, and the acker fell behind a fast worker: its
    // finished jobs piled up unacknowledged (tens of thousands on three shards, BENCHMARKS.md).
    let max_batch = ACK_CALL_RECORDS * lane.settings().shards_of(&lane.queue) as usize;
    let mut records = Vec::with_capacity(ACK_CALL_RECORDS);
    let mut waiters = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                AckMsg::Record(r) => records.push(r),
                AckMsg::Flush(w) => waiters.push(w),
            }
            if records.len() < max_batch {
                next = rx.try_recv().ok();
            }
        }
        let mut backoff = Duration::from_millis(50);
        while !records.is_empty() {
            match lane.store.ack(&lane.queue, &records).await {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(queue = %lane.queue, error = %e, pending = records.len(), "ack failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        {
            let mut held = lane.held.lock().expect("held lock");
            for r in records.drain(..) {
                if held.get(&r.id).map(|h| h.0) == Some(r.lease) {
                    held.remove(&r.id);
                }
            }
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

async fn summary_loop(lane: Arc<Lane>) {
    let every = lane.settings().summary_every;
    loop {
        tokio::time::sleep(every).await;
        crate::summary::log(&lane.queue, &lane.worker_id, lane.tally.take());
    }
}

async fn heartbeat_loop(lane: Arc<Lane>) {
    let every = lane.settings().heartbeat;
    loop {
        tokio::time::sleep(every).await;
        let held = lane.held_snapshot();
        if held.is_empty() {
            continue;
        }
        match lane.store.heartbeat(&lane.queue, &held).await {
            Ok(lost) => {
                if !lost.is_empty() {
                    lane.forget(lost.iter());
                    tracing::debug!(queue = %lane.queue, lost = lost.len(), "leases no longer held");
                }
            }
            Err(e) => tracing::warn!(queue = %lane.queue, error = %e, "heartbeat failed"),
        }
    }
}

/// The backend's middleware: runs each task under panic capture and the job timeout, then
/// records its outcome. It sits outside the user's layers, so it sees the final result.
#[derive(Clone)]
pub struct OutcomeLayer {
    lane: Arc<Lane>,
}

impl<S> Layer<S> for OutcomeLayer {
    type Service = OutcomeService<S>;
    fn layer(&self, inner: S) -> OutcomeService<S> {
        OutcomeService {
            inner,
            lane: self.lane.clone(),
        }
    }
}

/// See [`OutcomeLayer`].
#[derive(Clone)]
pub struct OutcomeService<S> {
    inner: S,
    lane: Arc<Lane>,
}

impl<S, Args> Service<Task<Args>> for OutcomeService<S>
where
    S: Service<Task<Args>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxDynError>,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxDynError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxDynError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxDynError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, task: Task<Args>) -> Self::Future {
        let lease = task.ctx().data().get::<JobLease>().cloned();
        let fut = self.inner.call(task);
        let lane = self.lane.clone();
        // Every line a job logs carries its queue, id and attempt.
        let span = tracing::info_span!(
            "job",
            queue = %lane.queue,
            job_id = lease.as_ref().map_or("", |l| l.id.as_str()),
            attempt = lease.as_ref().map_or(0, |l| l.attempt),
        );
        Box::pin(tracing::Instrument::instrument(
            async move {
                let settings = lane.settings();
                let started = Instant::now();
                let run = tokio::time::timeout(
                    settings.job_timeout,
                    AssertUnwindSafe(fut).catch_unwind(),
                )
                .await;
                let (outcome, result): (Outcome, Result<S::Response, BoxDynError>) = match run {
                    Ok(Ok(Ok(resp))) => (Outcome::Succeeded, Ok(resp)),
                    Ok(Ok(Err(e))) => {
                        let e: BoxDynError = e.into();
                        (failure_outcome(settings, lease.as_ref(), &e), Err(e))
                    }
                    Ok(Err(panic)) => {
                        let msg = panic_message(&panic);
                        let e: BoxDynError = format!("job panicked: {msg}").into();
                        (failure_outcome(settings, lease.as_ref(), &e), Err(e))
                    }
                    Err(_) => {
                        let e: BoxDynError =
                            format!("job timed out after {:?}", started.elapsed()).into();
                        (failure_outcome(settings, lease.as_ref(), &e), Err(e))
                    }
                };
                if let Some(l) = lease {
                    let ending = match &outcome {
                        Outcome::Succeeded => Some(Ending::Done),
                        Outcome::Aborted { .. } => Some(Ending::Dead),
                        Outcome::Failed { .. } if l.attempt >= l.max_attempts => Some(Ending::Dead),
                        Outcome::Deferred { .. } if l.deferrals >= l.max_deferrals => {
                            Some(Ending::Dead)
                        }
                        Outcome::Failed { .. } | Outcome::Deferred { .. } => Some(Ending::Retried),
                        Outcome::HandedBack | Outcome::Interrupted { .. } => None,
                    };
                    let took = started.elapsed();
                    if let Some(ending) = ending {
                        // Index into `metrics::OUTCOMES`.
                        let outcome = match ending {
                            Ending::Done => 0,
                            Ending::Retried => 1,
                            Ending::Dead => 2,
                        };
                        lane.metrics
                            .get_or_init(|| crate::metrics::AttemptMetrics::new(&lane.queue))
                            .record(outcome, took);
                        lane.tally.record(ending, took);
                    }
                    let ms = took.as_millis() as u64;
                    // Per-job lines are DEBUG (the summary reports them at INFO); a failure
                    // names its job itself, as the span may be filtered out at WARN.
                    match &outcome {
                        Outcome::Succeeded => tracing::debug!(duration_ms = ms, "job succeeded"),
                        Outcome::Failed { error, .. }
                        | Outcome::Aborted { error }
                        | Outcome::Deferred { error, .. } => {
                            let dead = ending == Some(Ending::Dead);
                            tracing::warn!(
                                job_id = %l.id,
                                attempt = l.attempt,
                                duration_ms = ms,
                                outcome = if dead { "dead" } else { "retried" },
                                %error,
                                "job failed"
                            )
                        }
                        _ => tracing::debug!(duration_ms = ms, "job handed back"),
                    }
                    lane.record(l.id, l.lease, l.shard, outcome);
                }
                result
            },
            span,
        ))
    }
}

fn failure_outcome(settings: &QueueSettings, lease: Option<&JobLease>, e: &BoxDynError) -> Outcome {
    let error = error_chain(e.as_ref());
    match classify(e.as_ref()) {
        FailureClass::Abort => Outcome::Aborted { error },
        FailureClass::RetryAfter(delay) => Outcome::Deferred { delay, error },
        FailureClass::Throttled => Outcome::Deferred {
            delay: settings
                .throttle
                .delay(lease.map_or(0, |l| l.deferrals).saturating_add(1)),
            error,
        },
        FailureClass::Retry => Outcome::Failed {
            delay: settings.retry.delay(lease.map_or(1, |l| l.attempt)),
            error,
        },
    }
}

/// `outer: inner: innermost`, bounded to 2 KiB.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let msg = inner.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        src = inner.source();
    }
    if s.len() > 2048 {
        let mut cut = 2048;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn worker_ids_are_unique_per_start() {
        let (a, b) = (super::unique_worker_id("w"), super::unique_worker_id("w"));
        assert_ne!(a, b);
        assert!(a.starts_with("w:") && a.contains(&format!(":{}:", std::process::id())));
    }
}
