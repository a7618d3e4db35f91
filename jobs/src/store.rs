//! The Redis storage: every queue operation is one Lua script call (or one pipeline), so each
//! step of a job's life is atomic and batched. This module knows keys and scripts, not apalis.
//!
//! Rule: any change of a job's state goes through a script in `lua/`; reads may use plain
//! commands.

use std::{collections::HashMap, sync::Arc, time::Duration};

use redis::{aio::ConnectionManager, AsyncCommands, Script};
use serde::Serialize;

use crate::config::{QueueSettings, RedisSettings};

const COMMON: &str = include_str!("lua/common.lua");

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis reply: {0}")]
    Reply(#[from] redis::ParsingError),
    #[error("payload encoding: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("invalid queue settings: {0}")]
    Config(String),
}

struct Scripts {
    enqueue: Script,
    claim: Script,
    ack: Script,
    heartbeat: Script,
    redrive: Script,
    purge_dead: Script,
    forget: Script,
    remove: Script,
    read: Script,
}

impl Scripts {
    fn load() -> Self {
        let s = |body: &str| Script::new(&format!("{COMMON}\n{body}"));
        Self {
            enqueue: s(include_str!("lua/enqueue.lua")),
            claim: s(include_str!("lua/claim.lua")),
            ack: s(include_str!("lua/ack.lua")),
            heartbeat: s(include_str!("lua/heartbeat.lua")),
            redrive: s(include_str!("lua/redrive.lua")),
            purge_dead: s(include_str!("lua/purge_dead.lua")),
            forget: s(include_str!("lua/forget.lua")),
            remove: s(include_str!("lua/remove.lua")),
            read: s(include_str!("lua/read.lua")),
        }
    }
}

/// A job to be written: the encoded payload plus its queue-level options.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub payload: String,
    pub max_attempts: u32,
    pub delay: Duration,
    pub unique_key: Option<String>,
    /// The id is deterministic (may already exist); false for a freshly generated ULID.
    pub fixed_id: bool,
}

/// The answer to an enqueue: the id that stands for the job, and whether it was created now
/// (`false`: a job with the same id or live unique key already existed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub id: String,
    pub created: bool,
}

/// A job leased to a worker by a claim.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: String,
    pub payload: String,
    pub attempt: u32,
    pub lease: u64,
    pub max_attempts: u32,
    /// Provider-requested deferrals (Retry-After) so far; no attempt was spent on them.
    pub deferrals: u32,
}

/// What one claim call returned.
#[derive(Debug, Default)]
pub struct Claim {
    pub jobs: Vec<ClaimedJob>,
    /// Time until the next delayed job, retry or lease expiry is due (None: nothing pending).
    pub next_due: Option<Duration>,
}

/// How an attempt ended, as recorded by [`Store::ack`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded,
    /// Failed; retried after the delay while attempts remain, else dead.
    Failed {
        delay: Duration,
        error: String,
    },
    /// The job asked to run again after `delay`; no attempt is spent.
    Deferred {
        delay: Duration,
        error: String,
    },
    /// Dead-lettered at once.
    Aborted {
        error: String,
    },
    /// Claimed but never started (shutdown): back to ready, no attempt spent.
    HandedBack,
    /// Started but cut short by shutdown: back to ready, the attempt counts.
    Interrupted {
        error: String,
    },
}

/// One acknowledgement: the job, the lease it was claimed under, and the outcome.
#[derive(Debug, Clone)]
pub struct AckRecord {
    pub id: String,
    pub lease: u64,
    pub outcome: Outcome,
}

/// Queue depth by state, read with one pipeline of O(1)/O(log n) commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    pub pending: u64,
    pub scheduled: u64,
    pub running: u64,
    pub retrying: u64,
    /// Dead within the dead-retention window (older records have expired).
    pub dead: u64,
    /// Succeeded within the succeeded-retention window, counted in 60 time buckets (the
    /// window's oldest edge is exact to one bucket, 1/60 of the retention).
    pub succeeded: u64,
}

/// A job's stored record, for admin views and tests.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    pub id: String,
    pub queue: String,
    pub state: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub payload: String,
    pub last_error: Option<String>,
    pub history: serde_json::Value,
    pub created_ms: u64,
    pub finished_ms: Option<u64>,
}

impl JobRecord {
    /// A record from the job's hash; None when the hash is gone (expired or purged).
    fn from_hash(id: &str, h: HashMap<String, String>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let num = |k: &str| h.get(k).and_then(|v| v.parse::<u64>().ok());
        Some(Self {
            id: id.to_string(),
            queue: h.get("queue").cloned().unwrap_or_default(),
            state: h.get("state").cloned().unwrap_or_default(),
            attempts: num("attempts").unwrap_or(0) as u32,
            max_attempts: num("max_attempts").unwrap_or(0) as u32,
            payload: h.get("payload").cloned().unwrap_or_default(),
            last_error: h.get("last_error").cloned(),
            history: h
                .get("history")
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(serde_json::Value::Array(vec![])),
            created_ms: num("created_ms").unwrap_or(0),
            finished_ms: num("finished_ms"),
        })
    }
}

/// A job record as [`Store::scan_jobs`] sees it.
#[derive(Debug, Clone)]
pub struct JobBrief {
    pub id: String,
    pub queue: String,
    /// `ready`, `scheduled`, `active`, `retrying`, `succeeded` or `dead`.
    pub state: String,
    pub payload: String,
}

impl JobBrief {
    /// Whether the job has ended for good (its record is only kept for inspection).
    pub fn is_finished(&self) -> bool {
        self.state == "succeeded" || self.state == "dead"
    }
}

/// `text` with the glob characters of Redis's `MATCH` escaped.
pub fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Handle to the queue storage; cheap to clone, shared by producers and workers.
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    client: redis::Client,
    redis: RedisSettings,
    settings: Arc<QueueSettings>,
    scripts: Arc<Scripts>,
    registered: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("redis", &self.redis)
            .field("prefix", &self.settings.prefix)
            .finish()
    }
}

impl Store {
    /// Connects (failing fast if Redis is unreachable now); later outages are survived by
    /// reconnecting.
    pub async fn connect(
        redis: RedisSettings,
        settings: QueueSettings,
    ) -> Result<Self, QueueError> {
        settings.validate().map_err(QueueError::Config)?;
        let client = match (&redis.trusted_pem, redis.url.starts_with("rediss://")) {
            (Some(pem), true) => redis::Client::build_with_tls(
                redis.url.as_str(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            )?,
            _ => redis::Client::open(redis.url.as_str())?,
        };
        let conn = manager(&client, &redis, redis.response_timeout).await?;
        Ok(Self {
            conn,
            client,
            redis,
            settings: Arc::new(settings),
            scripts: Arc::new(Scripts::load()),
            registered: Arc::default(),
        })
    }

    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// Redis's `maxmemory-policy` (from `CONFIG GET`, or `INFO memory` where managed services
    /// disable `CONFIG`). Anything but `noeviction` lets Redis drop queued jobs under memory
    /// pressure.
    pub async fn eviction_policy(&self) -> Result<String, QueueError> {
        let mut conn = self.conn.clone();
        let config: Result<Vec<String>, _> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(&mut conn)
            .await;
        if let Ok(pair) = config {
            if let Some(policy) = pair.get(1) {
                return Ok(policy.clone());
            }
        }
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await?;
        info.lines()
            .find_map(|l| l.strip_prefix("maxmemory_policy:"))
            .map(|p| p.trim().to_string())
            .ok_or_else(|| QueueError::Config("Redis reports no maxmemory_policy".into()))
    }

    /// The shared connection, for the service's own keys under [`QueueSettings::prefix`]
    /// (OAuth state, locks); never for queue keys, which only the scripts touch.
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// A second connection for blocking waits, so they never hold up other commands.
    pub(crate) async fn blocking_connection(&self) -> Result<ConnectionManager, QueueError> {
        let timeout = self.settings.idle_block + self.redis.response_timeout;
        manager(&self.client, &self.redis, timeout).await
    }

    /// Whether this handle already added `queue` to the queue registry (`P:queues`), so
    /// enqueues after the first skip that write.
    fn registered_queue(&self, queue: &str) -> bool {
        self.registered
            .lock()
            .expect("registry lock")
            .contains(queue)
    }

    fn mark_registered(&self, queue: &str) {
        self.registered
            .lock()
            .expect("registry lock")
            .insert(queue.to_string());
    }

    fn queue_key(&self, queue: &str, part: &str) -> String {
        format!("{}:q:{}:{}", self.settings.prefix, queue, part)
    }

    fn job_key(&self, id: &str) -> String {
        format!("{}:job:{}", self.settings.prefix, id)
    }

    /// Writes jobs in one script call per 500 jobs. Immediate jobs go to the ready list, delayed
    /// ones to the scheduled set; a live unique key or an existing id returns the existing job.
    pub(crate) async fn enqueue(
        &self,
        queue: &str,
        jobs: &[NewJob],
    ) -> Result<Vec<Enqueued>, QueueError> {
        let mut out = Vec::with_capacity(jobs.len());
        let mut conn = self.conn.clone();
        for chunk in jobs.chunks(500) {
            let register = !self.registered_queue(queue);
            let mut inv = self.scripts.enqueue.prepare_invoke();
            inv.arg(&self.settings.prefix)
                .arg(queue)
                .arg(if register { "1" } else { "0" })
                .arg(chunk.len());
            for j in chunk {
                inv.arg(&j.id)
                    .arg(&j.payload)
                    .arg(j.max_attempts.max(1))
                    .arg(j.delay.as_millis() as u64)
                    .arg(j.unique_key.as_deref().unwrap_or(""))
                    .arg(if j.fixed_id { "1" } else { "0" });
            }
            let flat: Vec<redis::Value> = inv.invoke_async(&mut conn).await?;
            if register {
                self.mark_registered(queue);
            }
            for pair in flat.chunks(2) {
                out.push(Enqueued {
                    id: redis::from_redis_value_ref(&pair[0])?,
                    created: redis::from_redis_value_ref::<i64>(&pair[1])? == 1,
                });
            }
        }
        Ok(out)
    }

    /// Promotes due jobs, reaps expired leases and claims up to `max` ready jobs for `worker`.
    pub async fn claim(&self, queue: &str, worker: &str, max: usize) -> Result<Claim, QueueError> {
        let s = &self.settings;
        let flat: Vec<redis::Value> = self
            .scripts
            .claim
            .prepare_invoke()
            .arg(&s.prefix)
            .arg(queue)
            .arg(worker)
            .arg(max)
            .arg(s.lease.as_millis() as u64)
            .arg(s.maintenance_batch)
            .arg(s.dead_retention.as_secs())
            .invoke_async(&mut self.conn.clone())
            .await?;
        let wait: i64 = redis::from_redis_value_ref(&flat[0])?;
        let mut jobs = Vec::with_capacity((flat.len() - 1) / 6);
        for f in flat[1..].chunks(6) {
            jobs.push(ClaimedJob {
                id: redis::from_redis_value_ref(&f[0])?,
                payload: redis::from_redis_value_ref(&f[1])?,
                attempt: redis::from_redis_value_ref(&f[2])?,
                lease: redis::from_redis_value_ref(&f[3])?,
                max_attempts: redis::from_redis_value_ref(&f[4])?,
                deferrals: redis::from_redis_value_ref(&f[5])?,
            });
        }
        Ok(Claim {
            jobs,
            next_due: (wait >= 0).then(|| Duration::from_millis(wait as u64)),
        })
    }

    /// Records outcomes in one script call per 500 records. Returns how many were applied
    /// (records under a stale lease are ignored).
    pub async fn ack(&self, queue: &str, records: &[AckRecord]) -> Result<usize, QueueError> {
        let s = &self.settings;
        let mut applied = 0;
        let mut conn = self.conn.clone();
        for chunk in records.chunks(500) {
            let mut inv = self.scripts.ack.prepare_invoke();
            inv.arg(&s.prefix)
                .arg(queue)
                .arg(s.succeeded_retention.as_secs())
                .arg(s.dead_retention.as_secs())
                .arg(s.max_deferrals)
                .arg(chunk.len());
            for r in chunk {
                let (code, delay, error) = match &r.outcome {
                    Outcome::Succeeded => ("s", Duration::ZERO, ""),
                    Outcome::Failed { delay, error } => ("r", *delay, error.as_str()),
                    Outcome::Deferred { delay, error } => ("a", *delay, error.as_str()),
                    Outcome::Aborted { error } => ("x", Duration::ZERO, error.as_str()),
                    Outcome::HandedBack => ("h", Duration::ZERO, ""),
                    Outcome::Interrupted { error } => ("i", Duration::ZERO, error.as_str()),
                };
                inv.arg(&r.id)
                    .arg(r.lease)
                    .arg(code)
                    .arg(delay.as_millis() as u64)
                    .arg(error);
            }
            let n: usize = inv.invoke_async(&mut conn).await?;
            applied += n;
        }
        Ok(applied)
    }

    /// Renews the leases of held jobs. Returns the ids whose lease is no longer ours.
    pub async fn heartbeat(
        &self,
        queue: &str,
        held: &[(String, u64)],
    ) -> Result<Vec<String>, QueueError> {
        let mut lost = Vec::new();
        let mut conn = self.conn.clone();
        for chunk in held.chunks(1000) {
            let mut inv = self.scripts.heartbeat.prepare_invoke();
            inv.arg(&self.settings.prefix)
                .arg(queue)
                .arg(self.settings.lease.as_millis() as u64);
            for (id, lease) in chunk {
                inv.arg(id).arg(*lease);
            }
            let l: Vec<String> = inv.invoke_async(&mut conn).await?;
            lost.extend(l);
        }
        Ok(lost)
    }

    /// Blocks (on `conn`) until a producer signals new ready jobs or `timeout` passes.
    pub(crate) async fn wait_for_work(
        &self,
        conn: &mut ConnectionManager,
        queue: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let secs = timeout.as_secs_f64().max(0.01);
        let _: Option<(String, String)> = conn.blpop(self.queue_key(queue, "wake"), secs).await?;
        Ok(())
    }

    /// Whether Redis answers (a PING).
    pub async fn ping(&self) -> Result<(), QueueError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Every queue that has ever received a job under this prefix.
    pub async fn queues(&self) -> Result<Vec<String>, QueueError> {
        let mut q: Vec<String> = self
            .conn
            .clone()
            .smembers(format!("{}:queues", self.settings.prefix))
            .await?;
        q.sort();
        Ok(q)
    }

    /// Depth of one queue by state. Retried once when the connection was dropped (a Redis
    /// restart), as it only reads.
    pub async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError> {
        match self.stats_once(queue).await {
            Err(QueueError::Redis(e)) if is_connection_error(&e) => self.stats_once(queue).await,
            other => other,
        }
    }

    async fn stats_once(&self, queue: &str) -> Result<QueueStats, QueueError> {
        let now = now_ms();
        let dead_since = now.saturating_sub(self.settings.dead_retention.as_millis() as u64);
        let k = |p: &str| self.queue_key(queue, p);
        let mut pipe = redis::pipe();
        pipe.llen(k("ready"))
            .zcard(k("scheduled"))
            .zcard(k("active"))
            .zcard(k("retrying"))
            .zcount(k("dead"), dead_since, "+inf");
        let buckets = succeeded_buckets(now / 1000, self.settings.succeeded_retention.as_secs());
        pipe.mget(
            buckets
                .iter()
                .map(|b| k(&format!("succeeded:{b}")))
                .collect::<Vec<_>>(),
        );
        let (pending, scheduled, running, retrying, dead, counts): (
            u64,
            u64,
            u64,
            u64,
            u64,
            Vec<Option<u64>>,
        ) = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(QueueStats {
            pending,
            scheduled,
            running,
            retrying,
            dead,
            succeeded: counts.into_iter().flatten().sum(),
        })
    }

    /// A job's stored record, if it still exists (read retried once after a dropped connection).
    /// A leased job reads `active`, with the attempt it runs as.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, QueueError> {
        let ids = [id.to_string()];
        let mut hashes = match self.read_records(&ids).await {
            Err(QueueError::Redis(e)) if is_connection_error(&e) => self.read_records(&ids).await?,
            other => other?,
        };
        Ok(JobRecord::from_hash(id, hashes.pop().unwrap_or_default()))
    }

    /// The records of `ids` as field maps (empty: no record), leases applied (`read.lua`).
    async fn read_records(
        &self,
        ids: &[String],
    ) -> Result<Vec<HashMap<String, String>>, QueueError> {
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.conn.clone();
        for chunk in ids.chunks(500) {
            let mut inv = self.scripts.read.prepare_invoke();
            inv.arg(&self.settings.prefix).arg("");
            for id in chunk {
                inv.arg(id);
            }
            let flat: Vec<Vec<String>> = inv.invoke_async(&mut conn).await?;
            // Later fields win: the lease's state and attempt follow the record's own.
            out.extend(flat.into_iter().map(|f| {
                f.chunks_exact(2)
                    .map(|kv| (kv[0].clone(), kv[1].clone()))
                    .collect::<HashMap<_, _>>()
            }));
        }
        Ok(out)
    }

    /// The state and last error of each job in `ids` (None: no record), for callers that
    /// reconcile their own records with the queue (a sync run whose job died).
    pub async fn job_states(
        &self,
        ids: &[String],
    ) -> Result<Vec<Option<(String, Option<String>)>>, QueueError> {
        Ok(self
            .read_records(ids)
            .await?
            .into_iter()
            .map(|mut h| {
                let error = h.remove("last_error");
                h.remove("state").map(|s| (s, error))
            })
            .collect())
    }

    /// The newest dead jobs of a queue (at most `limit`), with last error and history.
    pub async fn dead_jobs(&self, queue: &str, limit: usize) -> Result<Vec<JobRecord>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = self
            .conn
            .clone()
            .zrevrange(self.queue_key(queue, "dead"), 0, limit as isize - 1)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.job_key(id));
        }
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(ids
            .iter()
            .zip(hashes)
            .filter_map(|(id, h)| JobRecord::from_hash(id, h))
            .collect())
    }

    /// Moves a dead job back to ready with a fresh attempt budget. False if it is not dead.
    pub async fn redrive(&self, queue: &str, id: &str) -> Result<bool, QueueError> {
        let n: i64 = self
            .scripts
            .redrive
            .prepare_invoke()
            .arg(&self.settings.prefix)
            .arg(queue)
            .arg(id)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(n == 1)
    }

    /// Deletes every key under this store's prefix (SCAN + UNLINK in batches): teardown for
    /// benchmarks and tests that use a throw-away prefix. Returns how many keys.
    pub async fn purge_prefix(&self) -> Result<usize, QueueError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:*", self.settings.prefix);
        let mut cursor: u64 = 0;
        let mut total = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(2000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                total += keys.len();
                let _: () = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await?;
            }
            if next == 0 {
                return Ok(total);
            }
            cursor = next;
        }
    }

    /// One step of a walk over every job record under the prefix (SCAN, about `count` keys a
    /// step; start with cursor 0, done when the returned cursor is 0). Records may appear
    /// twice or, when created during the walk, not at all (SCAN's guarantees).
    pub async fn scan_jobs(
        &self,
        cursor: u64,
        count: usize,
    ) -> Result<(u64, Vec<JobBrief>), QueueError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:job:*", glob_escape(&self.settings.prefix));
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut conn)
            .await?;
        if keys.is_empty() {
            return Ok((next, Vec::new()));
        }
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("HMGET")
                .arg(k)
                .arg("queue")
                .arg("state")
                .arg("payload");
        }
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
            pipe.query_async(&mut conn).await?;
        let head = format!("{}:job:", self.settings.prefix);
        let jobs = keys
            .iter()
            .zip(rows)
            .filter_map(|(k, (queue, state, payload))| {
                Some(JobBrief {
                    id: k.strip_prefix(&head)?.to_string(),
                    queue: queue?,
                    state: state?,
                    payload: payload.unwrap_or_default(),
                })
            })
            .collect();
        Ok((next, jobs))
    }

    /// Deletes the records of these jobs of `queue` that are finished (succeeded or dead);
    /// live ones stay. Returns how many were deleted.
    pub async fn forget_finished(&self, queue: &str, ids: &[String]) -> Result<usize, QueueError> {
        self.per_id_batch(&self.scripts.forget, queue, ids).await
    }

    /// Deletes these jobs of `queue` whatever their state — queued, scheduled, retrying, held
    /// by a worker, dead or succeeded —: the record, its queue entry and its unique key, one
    /// atomic script call per 500 ids. A worker still running one of them loses its lease:
    /// its heartbeat reports it lost and its ack finds no lease and writes nothing, so the
    /// job never comes back. For erasing what a job names (a user's data); the caller decides
    /// whether running jobs may be cut loose. Returns how many records were deleted.
    pub async fn remove_jobs(&self, queue: &str, ids: &[String]) -> Result<usize, QueueError> {
        self.per_id_batch(&self.scripts.remove, queue, ids).await
    }

    /// Runs `script` (ARGV: prefix, queue, id…) over `ids`, 500 per call; sums what each
    /// call returns.
    async fn per_id_batch(
        &self,
        script: &Script,
        queue: &str,
        ids: &[String],
    ) -> Result<usize, QueueError> {
        let mut total = 0;
        for chunk in ids.chunks(500) {
            let mut inv = script.prepare_invoke();
            inv.arg(&self.settings.prefix).arg(queue);
            for id in chunk {
                inv.arg(id);
            }
            let n: usize = inv.invoke_async(&mut self.conn.clone()).await?;
            total += n;
        }
        Ok(total)
    }

    /// Deletes every dead job of a queue, in bounded batches. Returns how many.
    pub async fn purge_dead(&self, queue: &str) -> Result<usize, QueueError> {
        let mut total = 0;
        loop {
            let n: usize = self
                .scripts
                .purge_dead
                .prepare_invoke()
                .arg(&self.settings.prefix)
                .arg(queue)
                .arg(500)
                .invoke_async(&mut self.conn.clone())
                .await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }
}

async fn manager(
    client: &redis::Client,
    redis: &RedisSettings,
    response_timeout: Duration,
) -> Result<ConnectionManager, QueueError> {
    let cfg = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(redis.connect_timeout))
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(2));
    Ok(ConnectionManager::new_with_config(client.clone(), cfg).await?)
}

/// Start times (s) of the success-count buckets that overlap the retention window ending at
/// `now_s`; the bucket width is retention / 60 (at least 1 s), as in `ack.lua`.
fn succeeded_buckets(now_s: u64, retention_s: u64) -> Vec<u64> {
    let width = (retention_s / 60).max(1);
    let newest = now_s / width * width;
    let oldest = now_s.saturating_sub(retention_s);
    (0..)
        .map(|i| newest.saturating_sub(i * width))
        .take_while(|start| start + width > oldest)
        .take(62)
        .collect()
}

fn is_connection_error(e: &redis::RedisError) -> bool {
    e.is_connection_dropped() || e.is_io_error() || e.is_connection_refusal()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::succeeded_buckets;

    #[test]
    fn buckets_cover_the_retention_window() {
        // 24 h retention: 24-minute buckets, 61 of them overlap the window.
        let b = succeeded_buckets(1_000_000, 86_400);
        assert_eq!(b[0], 1_000_000 / 1440 * 1440);
        assert!(b.windows(2).all(|w| w[0] - w[1] == 1440));
        assert!(b.last().unwrap() + 1440 > 1_000_000 - 86_400);
        assert_eq!(b.len(), 61);
        // 1 s retention: the current and the previous second.
        assert_eq!(succeeded_buckets(100, 1), vec![100, 99]);
    }
}
