//! The Redis storage: every queue operation is one Lua script call (or one pipeline), so each
//! step of a job's life is atomic and batched. This module knows keys and scripts, not apalis.
//!
//! Rule: any change of a job's state goes through a script in `lua/`; reads may use plain
//! commands.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use redis::{AsyncCommands, Script};
use serde::Serialize;

use crate::{
    config::{QueueSettings, RedisSettings},
    conn::{by_slot, Connector, RedisConn},
};

const PRELUDE: &str = include_str!("lua/prelude.lua");
const COMMON: &str = include_str!("lua/common.lua");

/// A queue shard's fixed keys, in the order the scripts read them from `KEYS`
/// (`lua/prelude.lua`); enqueue passes the first [`ENQUEUE_KEYS`].
const SHARD_KEYS: [&str; 10] = [
    "ready",
    "fresh",
    "scheduled",
    "wake",
    "retrying",
    "active",
    "leases",
    "lease_seq",
    "dead",
    "claims",
];
const ENQUEUE_KEYS: usize = 4;

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
    running: Script,
}

/// The hash tag of one shard of `queue` under key prefix `prefix`: `{P:Q}` for shard 0,
/// `{P:Q:s}` for the others. Every key of the shard carries it.
pub fn shard_tag(prefix: &str, queue: &str, shard: u32) -> String {
    if shard == 0 {
        format!("{{{prefix}:{queue}}}")
    } else {
        format!("{{{prefix}:{queue}:{shard}}}")
    }
}

/// The ack records of one lease, as `ack.lua` takes them: the ids of its successes, then the
/// other outcomes as (id, code, delay, error).
#[derive(Default)]
struct LeaseGroup<'a> {
    succeeded: Vec<&'a str>,
    others: Vec<(&'a str, &'static str, Duration, &'a str)>,
}

/// An outcome's code, delay and error for `ack.lua`; `None` for a success (a bare id).
fn ack_code(outcome: &Outcome) -> Option<(&'static str, Duration, &str)> {
    Some(match outcome {
        Outcome::Succeeded => return None,
        Outcome::Failed { delay, error } => ("r", *delay, error.as_str()),
        Outcome::Deferred { delay, error } => ("a", *delay, error.as_str()),
        Outcome::Aborted { error } => ("x", Duration::ZERO, error.as_str()),
        Outcome::HandedBack => ("h", Duration::ZERO, ""),
        Outcome::Interrupted { error } => ("i", Duration::ZERO, error.as_str()),
    })
}

impl Scripts {
    fn load() -> Self {
        let s = |body: &str| Script::new(&format!("{PRELUDE}\n{COMMON}\n{body}"));
        Self {
            // Enqueue, run per call by producers, needs none of `common.lua`'s helpers (each
            // `local function` of a script is a closure made anew at every call).
            enqueue: Script::new(&format!("{PRELUDE}\n{}", include_str!("lua/enqueue.lua"))),
            claim: s(include_str!("lua/claim.lua")),
            ack: s(include_str!("lua/ack.lua")),
            heartbeat: s(include_str!("lua/heartbeat.lua")),
            redrive: s(include_str!("lua/redrive.lua")),
            purge_dead: s(include_str!("lua/purge_dead.lua")),
            forget: s(include_str!("lua/forget.lua")),
            remove: s(include_str!("lua/remove.lua")),
            read: s(include_str!("lua/read.lua")),
            running: s(include_str!("lua/running.lua")),
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
    /// The queue shard it lives in (0 for an unsharded queue).
    pub shard: u32,
}

impl ClaimedJob {
    /// A job as `claim.lua` returns it: a fresh job's
    /// `<id length> <lease> f\n<id><max_attempts>\n<unique>\n<created_ms>\n<payload>` (its
    /// `fresh` entry, first attempt), another's
    /// `<id length> <lease> <attempt> <max_attempts> <deferrals>\n<id><payload>`.
    fn parse(mut entry: Vec<u8>, shard: u32) -> Option<Self> {
        let nl = entry.iter().position(|&b| b == b'\n')?;
        let head = std::str::from_utf8(&entry[..nl]).ok()?;
        let mut num = head.split(' ');
        let id_len: usize = num.next()?.parse().ok()?;
        let lease = num.next()?.parse().ok()?;
        let id_end = nl + 1 + id_len;
        let id = std::str::from_utf8(entry.get(nl + 1..id_end)?)
            .ok()?
            .to_string();
        let (attempt, max_attempts, deferrals, payload_start) = match num.next()? {
            "f" => {
                // The fresh entry: max_attempts, unique key and created_ms lines, then the payload.
                let rest = entry.get(id_end..)?;
                let mut lines = rest.splitn(4, |&b| b == b'\n');
                let max_attempts = std::str::from_utf8(lines.next()?).ok()?.parse().ok()?;
                let header = rest.len() - lines.nth(2)?.len();
                (1, max_attempts, 0, id_end + header)
            }
            attempt => (
                attempt.parse().ok()?,
                num.next()?.parse().ok()?,
                num.next()?.parse().ok()?,
                id_end,
            ),
        };
        // The payload keeps the reply's buffer.
        entry.drain(..payload_start);
        Some(Self {
            id,
            payload: String::from_utf8(entry).ok()?,
            attempt,
            lease,
            max_attempts,
            deferrals,
            shard,
        })
    }
}

fn malformed_claim() -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Parse, "malformed job in a claim reply"))
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
    /// The queue shard of the job ([`ClaimedJob::shard`]).
    pub shard: u32,
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

/// One queue shard's fixed keys (in [`SHARD_KEYS`] order) and key base `{P:Q…}:`: every script
/// call on the shard sends them, so they are built once, not per call.
struct ShardKeys {
    keys: [String; SHARD_KEYS.len()],
    base: String,
}

impl ShardKeys {
    fn new(store: &Store, queue: &str, shard: u32) -> Self {
        Self {
            keys: SHARD_KEYS.map(|part| store.queue_key(queue, shard, part)),
            base: format!("{}:", store.shard_tag(queue, shard)),
        }
    }
}

/// One script call being built: `EVALSHA` of the script, the shard's keys and the arguments,
/// written into one command buffer as they are added (a `redis::ScriptInvocation` keeps each
/// argument in a buffer of its own and copies them all into a command at the call).
pub(crate) struct ScriptCall<'a> {
    script: &'a Script,
    cmd: redis::Cmd,
}

impl ScriptCall<'_> {
    /// Adds an argument (`ARGV[i]`).
    pub(crate) fn arg<T: redis::ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Runs the script; a server that does not know it yet (restarted, flushed, another node)
    /// is sent it once and the call repeated.
    pub(crate) async fn invoke_async<T: redis::FromRedisValue>(
        &self,
        conn: &mut RedisConn,
    ) -> redis::RedisResult<T> {
        match self.cmd.query_async(conn).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                self.script.load_async(conn).await?;
                self.cmd.query_async(conn).await
            }
            r => r,
        }
    }
}

/// Handle to the queue storage; cheap to clone, shared by producers and workers.
#[derive(Clone)]
pub struct Store {
    conn: RedisConn,
    connector: Connector,
    redis: RedisSettings,
    settings: Arc<QueueSettings>,
    scripts: Arc<Scripts>,
    registered: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Per queue, each shard's fixed keys and key base, built on first use.
    shard_keys: Arc<std::sync::RwLock<HashMap<String, Arc<[ShardKeys]>>>>,
    /// Where the next claim starts among a sharded queue's shards (round robin).
    turn: Arc<AtomicU32>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("redis", &self.redis)
            .field("prefix", &self.settings.prefix)
            .finish()
    }
}

/// FNV-1a (64 bit): a stable hash, so a key maps to the same shard in every process.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Store {
    /// Connects (failing fast if Redis is unreachable now); later outages are survived by
    /// reconnecting. A non-empty [`RedisSettings::cluster_urls`] connects to a Redis Cluster.
    pub async fn connect(
        redis: RedisSettings,
        settings: QueueSettings,
    ) -> Result<Self, QueueError> {
        settings.validate().map_err(QueueError::Config)?;
        let connector = Connector::new(&redis)?;
        let conn = connector.connect(&redis, redis.response_timeout).await?;
        Ok(Self {
            conn,
            connector,
            redis,
            settings: Arc::new(settings),
            scripts: Arc::new(Scripts::load()),
            registered: Arc::default(),
            shard_keys: Arc::default(),
            turn: Arc::new(AtomicU32::new(rand::random::<u32>() % 1024)),
        })
    }

    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// Whether this store speaks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// Redis's `maxmemory-policy` (from `CONFIG GET`, or `INFO memory` where managed services
    /// disable `CONFIG`). Anything but `noeviction` lets Redis drop queued jobs under memory
    /// pressure. In a cluster, every master is asked and the first that is not `noeviction`
    /// is reported.
    pub async fn eviction_policy(&self) -> Result<String, QueueError> {
        let mut conn = self.conn.clone();
        let masters = conn.masters().await?;
        if masters.is_empty() {
            return self.eviction_policy_of(None).await;
        }
        let mut policy = String::new();
        for m in masters {
            policy = self.eviction_policy_of(Some(m)).await?;
            if policy != "noeviction" {
                break;
            }
        }
        Ok(policy)
    }

    async fn eviction_policy_of(&self, node: Option<(String, u16)>) -> Result<String, QueueError> {
        let mut conn = self.conn.clone();
        let config: Result<Vec<String>, _> = conn
            .query_node(
                redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy"),
                node.clone(),
            )
            .await;
        if let Ok(pair) = config {
            if let Some(policy) = pair.get(1) {
                return Ok(policy.clone());
            }
        }
        let info: String = conn
            .query_node(redis::cmd("INFO").arg("memory"), node)
            .await?;
        info.lines()
            .find_map(|l| l.strip_prefix("maxmemory_policy:"))
            .map(|p| p.trim().to_string())
            .ok_or_else(|| QueueError::Config("Redis reports no maxmemory_policy".into()))
    }

    /// The shared connection, for the service's own keys under [`QueueSettings::prefix`]
    /// (OAuth state, locks); never for queue keys, which only the scripts touch. A script or
    /// multi-key command on it must keep its keys under one hash tag (Redis Cluster).
    pub fn connection(&self) -> RedisConn {
        self.conn.clone()
    }

    /// A second connection for blocking waits, so they never hold up other commands.
    pub(crate) async fn blocking_connection(&self) -> Result<RedisConn, QueueError> {
        let timeout = self.settings.idle_block + self.redis.response_timeout;
        Ok(self.connector.connect(&self.redis, timeout).await?)
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

    /// The hash tag of one shard of a queue: `{P:Q}` for shard 0, `{P:Q:s}` for the others
    /// (so a queue that grows from one shard to several keeps its jobs in shard 0).
    pub fn shard_tag(&self, queue: &str, shard: u32) -> String {
        shard_tag(&self.settings.prefix, queue, shard)
    }

    /// A key of one queue shard: `{P:Q…}:part`.
    pub fn queue_key(&self, queue: &str, shard: u32, part: &str) -> String {
        format!("{}:{part}", self.shard_tag(queue, shard))
    }

    /// The record key of job `id` in one shard of `queue`.
    pub fn job_key(&self, queue: &str, shard: u32, id: &str) -> String {
        self.queue_key(queue, shard, &format!("job:{id}"))
    }

    /// The shard of `queue` a job lives in: chosen from its unique key when it has one (so a
    /// unique key always meets its holder), else from its id.
    pub fn shard_of(&self, queue: &str, unique_key: Option<&str>, id: &str) -> u32 {
        let n = self.settings.shards_of(queue);
        if n == 1 {
            return 0;
        }
        (fnv1a(unique_key.filter(|u| !u.is_empty()).unwrap_or(id)) % u64::from(n)) as u32
    }

    /// The fixed keys of `queue`'s shards, built once per queue and store.
    fn keys_of(&self, queue: &str) -> Arc<[ShardKeys]> {
        if let Some(k) = self.shard_keys.read().expect("keys lock").get(queue) {
            return k.clone();
        }
        let keys: Arc<[ShardKeys]> = (0..self.settings.shards_of(queue))
            .map(|shard| ShardKeys::new(self, queue, shard))
            .collect();
        self.shard_keys
            .write()
            .expect("keys lock")
            .insert(queue.to_string(), keys.clone());
        keys
    }

    /// A script call on one queue shard: its fixed keys in KEYS (see `lua/prelude.lua`), then
    /// ARGV key base and queue.
    fn invocation<'a>(&self, script: &'a Script, queue: &str, shard: u32) -> ScriptCall<'a> {
        self.invocation_with(script, queue, shard, SHARD_KEYS.len())
    }

    /// [`Self::invocation`] passing the first `nkeys` fixed keys.
    fn invocation_with<'a>(
        &self,
        script: &'a Script,
        queue: &str,
        shard: u32,
        nkeys: usize,
    ) -> ScriptCall<'a> {
        let keys = self.keys_of(queue);
        let built;
        let k = match keys.get(shard as usize) {
            Some(k) => k,
            None => {
                built = ShardKeys::new(self, queue, shard);
                &built
            }
        };
        let mut cmd = redis::Cmd::with_capacity(16, 512);
        cmd.arg("EVALSHA").arg(script.get_hash()).arg(nkeys);
        for key in &k.keys[..nkeys] {
            cmd.arg(key.as_str());
        }
        cmd.arg(k.base.as_str()).arg(queue);
        ScriptCall { script, cmd }
    }

    /// Writes jobs in one script call per 500 jobs of a shard. Immediate jobs go to the ready
    /// list, delayed ones to the scheduled set; a live unique key or an existing id returns
    /// the existing job.
    pub(crate) async fn enqueue(
        &self,
        queue: &str,
        jobs: &[NewJob],
    ) -> Result<Vec<Enqueued>, QueueError> {
        let mut conn = self.conn.clone();
        if !self.registered_queue(queue) {
            let _: () = conn
                .sadd(format!("{}:queues", self.settings.prefix), queue)
                .await?;
            self.mark_registered(queue);
        }
        let mut out: Vec<Option<Enqueued>> = vec![None; jobs.len()];
        if self.settings.shards_of(queue) == 1 {
            let all: Vec<usize> = (0..jobs.len()).collect();
            self.enqueue_shard(&mut conn, queue, 0, jobs, &all, &mut out)
                .await?;
        } else {
            let mut by_shard: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
            for (i, j) in jobs.iter().enumerate() {
                let shard = self.shard_of(queue, j.unique_key.as_deref(), &j.id);
                by_shard.entry(shard).or_default().push(i);
            }
            for (shard, idx) in by_shard {
                self.enqueue_shard(&mut conn, queue, shard, jobs, &idx, &mut out)
                    .await?;
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Writes `jobs[i]` for each i of `idx` (all of one shard), 500 per script call, into
    /// `out[i]`.
    async fn enqueue_shard(
        &self,
        conn: &mut RedisConn,
        queue: &str,
        shard: u32,
        jobs: &[NewJob],
        idx: &[usize],
        out: &mut [Option<Enqueued>],
    ) -> Result<(), QueueError> {
        for chunk in idx.chunks(500) {
            let mut inv = self.invocation_with(&self.scripts.enqueue, queue, shard, ENQUEUE_KEYS);
            inv.arg("0").arg(chunk.len());
            for &i in chunk {
                let j = &jobs[i];
                inv.arg(&j.id)
                    .arg(&j.payload)
                    .arg(j.max_attempts.max(1))
                    .arg(j.delay.as_millis() as u64)
                    .arg(j.unique_key.as_deref().unwrap_or(""))
                    .arg(if j.fixed_id { "1" } else { "0" });
            }
            let flat: Vec<redis::Value> = inv.invoke_async(conn).await?;
            for (pair, &i) in flat.chunks(2).zip(chunk) {
                out[i] = Some(Enqueued {
                    id: redis::from_redis_value_ref(&pair[0])?,
                    created: redis::from_redis_value_ref::<i64>(&pair[1])? == 1,
                });
            }
        }
        Ok(())
    }

    /// Promotes due jobs, reaps expired leases and claims up to `max` ready jobs for `worker`.
    /// A sharded queue is claimed from round robin: each call starts at the next shard and
    /// moves on while a shard has nothing ready, so every shard is served in turn.
    pub async fn claim(&self, queue: &str, worker: &str, max: usize) -> Result<Claim, QueueError> {
        let n = self.settings.shards_of(queue);
        let start = if n == 1 {
            0
        } else {
            self.turn.fetch_add(1, Ordering::Relaxed) % n
        };
        let mut next_due: Option<Duration> = None;
        for k in 0..n {
            let shard = (start + k) % n;
            let c = self.claim_shard(queue, shard, worker, max).await?;
            next_due = match (next_due, c.next_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if !c.jobs.is_empty() {
                return Ok(Claim {
                    jobs: c.jobs,
                    next_due,
                });
            }
        }
        Ok(Claim {
            jobs: Vec::new(),
            next_due,
        })
    }

    async fn claim_shard(
        &self,
        queue: &str,
        shard: u32,
        worker: &str,
        max: usize,
    ) -> Result<Claim, QueueError> {
        let s = &self.settings;
        let flat: Vec<redis::Value> = self
            .invocation(&self.scripts.claim, queue, shard)
            .arg(worker)
            .arg(max)
            .arg(s.lease.as_millis() as u64)
            .arg(s.maintenance_batch)
            .arg(s.dead_retention.as_secs())
            .invoke_async(&mut self.conn.clone())
            .await?;
        let mut flat = flat.into_iter();
        let wait: i64 = redis::from_redis_value(flat.next().unwrap_or(redis::Value::Nil))?;
        let mut jobs = Vec::with_capacity(flat.len());
        for entry in flat {
            let redis::Value::BulkString(entry) = entry else {
                return Err(malformed_claim().into());
            };
            jobs.push(ClaimedJob::parse(entry, shard).ok_or_else(malformed_claim)?);
        }
        Ok(Claim {
            jobs,
            next_due: (wait >= 0).then(|| Duration::from_millis(wait as u64)),
        })
    }

    /// Records outcomes in one script call per 500 records of a shard, grouped by lease (one
    /// claim's jobs share it): a group is its lease and counts, then the ids of its successes
    /// (one argument each), then its other records (id, outcome, delay, error). The shards'
    /// calls run concurrently (each shard's in order), so a batch spanning several shards takes
    /// the time of its slowest shard, not their sum. Returns how many were applied (records
    /// under a stale lease are ignored; on an error some shards may have applied theirs, and a
    /// retry of the whole batch applies only the rest).
    pub async fn ack(&self, queue: &str, records: &[AckRecord]) -> Result<usize, QueueError> {
        let mut by_shard: std::collections::BTreeMap<u32, Vec<&AckRecord>> = Default::default();
        for r in records {
            by_shard.entry(r.shard).or_default().push(r);
        }
        let applied = futures::future::try_join_all(
            by_shard
                .into_iter()
                .map(|(shard, recs)| self.ack_shard(queue, shard, recs)),
        )
        .await?;
        Ok(applied.into_iter().sum())
    }

    async fn ack_shard(
        &self,
        queue: &str,
        shard: u32,
        recs: Vec<&AckRecord>,
    ) -> Result<usize, QueueError> {
        let s = &self.settings;
        let mut applied = 0;
        let mut conn = self.conn.clone();
        for chunk in recs.chunks(500) {
            let mut inv = self.invocation(&self.scripts.ack, queue, shard);
            inv.arg(s.succeeded_retention.as_secs())
                .arg(s.dead_retention.as_secs())
                .arg(s.max_deferrals);
            let mut groups: std::collections::BTreeMap<u64, LeaseGroup> = Default::default();
            for r in chunk {
                let g = groups.entry(r.lease).or_default();
                match ack_code(&r.outcome) {
                    None => g.succeeded.push(&r.id),
                    Some((code, delay, error)) => g.others.push((&r.id, code, delay, error)),
                }
            }
            for (lease, g) in &groups {
                inv.arg(*lease).arg(g.succeeded.len()).arg(g.others.len());
                for id in &g.succeeded {
                    inv.arg(*id);
                }
                for (id, code, delay, error) in &g.others {
                    inv.arg(*id)
                        .arg(*code)
                        .arg(delay.as_millis() as u64)
                        .arg(*error);
                }
            }
            let n: usize = inv.invoke_async(&mut conn).await?;
            applied += n;
        }
        Ok(applied)
    }

    /// Renews the leases of held jobs (id, lease, shard). Returns the ids whose lease is no
    /// longer ours.
    pub async fn heartbeat(
        &self,
        queue: &str,
        held: &[(String, u64, u32)],
    ) -> Result<Vec<String>, QueueError> {
        let mut lost = Vec::new();
        let mut conn = self.conn.clone();
        let mut by_shard: std::collections::BTreeMap<u32, Vec<(&String, u64)>> = Default::default();
        for (id, lease, shard) in held {
            by_shard.entry(*shard).or_default().push((id, *lease));
        }
        for (shard, held) in by_shard {
            for chunk in held.chunks(1000) {
                let mut inv = self.invocation(&self.scripts.heartbeat, queue, shard);
                inv.arg(self.settings.lease.as_millis() as u64);
                for (id, lease) in chunk {
                    inv.arg(*id).arg(*lease);
                }
                let l: Vec<String> = inv.invoke_async(&mut conn).await?;
                lost.extend(l);
            }
        }
        Ok(lost)
    }

    /// Blocks (on `conn`) until a producer signals new ready jobs or `timeout` passes. On
    /// single-node Redis one BLPOP waits on every shard's wake list; in a cluster (one key per
    /// BLPOP) on one shard's, the next one each wait (`turn`), so an idle worker polls every
    /// shard at least once per `timeout` × shards.
    pub(crate) async fn wait_for_work(
        &self,
        conn: &mut RedisConn,
        queue: &str,
        timeout: Duration,
        turn: u32,
    ) -> Result<(), QueueError> {
        let secs = timeout.as_secs_f64().max(0.01);
        let n = self.settings.shards_of(queue);
        let keys: Vec<String> = if conn.is_cluster() {
            vec![self.queue_key(queue, turn % n, "wake")]
        } else {
            (0..n).map(|s| self.queue_key(queue, s, "wake")).collect()
        };
        let _: Option<(String, String)> = conn.blpop(keys, secs).await?;
        Ok(())
    }

    /// Whether Redis answers (a PING; every master of a cluster).
    pub async fn ping(&self) -> Result<(), QueueError> {
        let _: redis::Value = redis::cmd("PING")
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

    /// Depth of one queue by state, summed over its shards. Retried once when the connection
    /// was dropped (a Redis restart), as it only reads.
    pub async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError> {
        let mut total = QueueStats::default();
        for shard in 0..self.settings.shards_of(queue) {
            let s = match self.stats_once(queue, shard).await {
                Err(QueueError::Redis(e)) if is_connection_error(&e) => {
                    self.stats_once(queue, shard).await
                }
                other => other,
            }?;
            total.pending += s.pending;
            total.scheduled += s.scheduled;
            total.running += s.running;
            total.retrying += s.retrying;
            total.dead += s.dead;
            total.succeeded += s.succeeded;
        }
        Ok(total)
    }

    async fn stats_once(&self, queue: &str, shard: u32) -> Result<QueueStats, QueueError> {
        let now = now_ms();
        let dead_since = now.saturating_sub(self.settings.dead_retention.as_millis() as u64);
        let k = |p: &str| self.queue_key(queue, shard, p);
        let mut pipe = redis::pipe();
        pipe.llen(k("ready"))
            .zcard(k("scheduled"))
            .zcard(k("retrying"))
            .zcount(k("dead"), dead_since, "+inf");
        let buckets = succeeded_buckets(now / 1000, self.settings.succeeded_retention.as_secs());
        pipe.mget(
            buckets
                .iter()
                .map(|b| k(&format!("succeeded:{b}")))
                .collect::<Vec<_>>(),
        );
        let (pending, scheduled, retrying, dead, counts): (u64, u64, u64, u64, Vec<Option<u64>>) =
            pipe.query_async(&mut self.conn.clone()).await?;
        // Leases are the ids in each claim's set (`running.lua`), not one key's size.
        let running: u64 = self
            .invocation(&self.scripts.running, queue, shard)
            .invoke_async(&mut self.conn.clone())
            .await?;
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

    /// The records of `ids` as field maps (empty: no record), leases applied (`read.lua`). A
    /// record lives in one shard of its queue; the queue and shard are not known from the id,
    /// so every shard of every registered queue is asked for the ids not found yet.
    async fn read_records(
        &self,
        ids: &[String],
    ) -> Result<Vec<HashMap<String, String>>, QueueError> {
        let mut out: Vec<HashMap<String, String>> = vec![HashMap::new(); ids.len()];
        let mut conn = self.conn.clone();
        for queue in self.queues().await? {
            for shard in 0..self.settings.shards_of(&queue) {
                let missing: Vec<usize> = (0..ids.len()).filter(|&i| out[i].is_empty()).collect();
                if missing.is_empty() {
                    return Ok(out);
                }
                for chunk in missing.chunks(500) {
                    let mut inv = self.invocation(&self.scripts.read, &queue, shard);
                    inv.arg(self.settings.succeeded_retention.as_secs());
                    for &i in chunk {
                        inv.arg(&ids[i]);
                    }
                    let flat: Vec<Vec<String>> = inv.invoke_async(&mut conn).await?;
                    // Later fields win: the lease's state and attempt follow the record's own.
                    for (f, &i) in flat.into_iter().zip(chunk) {
                        out[i] = f
                            .chunks_exact(2)
                            .map(|kv| (kv[0].clone(), kv[1].clone()))
                            .collect();
                    }
                }
            }
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

    /// The newest dead jobs of a queue (at most `limit`, newest first over all its shards),
    /// with last error and history.
    pub async fn dead_jobs(&self, queue: &str, limit: usize) -> Result<Vec<JobRecord>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mut newest: Vec<(f64, u32, String)> = Vec::new();
        for shard in 0..self.settings.shards_of(queue) {
            let ids: Vec<(String, f64)> = conn
                .zrevrange_withscores(self.queue_key(queue, shard, "dead"), 0, limit as isize - 1)
                .await?;
            newest.extend(ids.into_iter().map(|(id, at)| (at, shard, id)));
        }
        newest.sort_by(|a, b| b.0.total_cmp(&a.0));
        newest.truncate(limit);
        let mut out = Vec::with_capacity(newest.len());
        for (_, shard, id) in newest {
            let h: HashMap<String, String> = conn.hgetall(self.job_key(queue, shard, &id)).await?;
            out.extend(JobRecord::from_hash(&id, h));
        }
        Ok(out)
    }

    /// Moves a dead job back to ready with a fresh attempt budget. False if it is not dead.
    pub async fn redrive(&self, queue: &str, id: &str) -> Result<bool, QueueError> {
        for shard in 0..self.settings.shards_of(queue) {
            let n: i64 = self
                .invocation(&self.scripts.redrive, queue, shard)
                .arg(id)
                .invoke_async(&mut self.conn.clone())
                .await?;
            if n == 1 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Deletes every key under this store's prefix (`P:*` and `{P:*`; SCAN + UNLINK in
    /// batches, on every master of a cluster): teardown for benchmarks and tests that use a
    /// throw-away prefix. Returns how many keys.
    pub async fn purge_prefix(&self) -> Result<usize, QueueError> {
        let mut conn = self.conn.clone();
        let unlink = self.conn.clone();
        let p = glob_escape(&self.settings.prefix);
        let total = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for pattern in [format!("{p}:*"), format!("{{{p}:*")] {
            conn.scan_match(&pattern, 2000, |keys| {
                let mut unlink = unlink.clone();
                let total = total.clone();
                async move {
                    total.fetch_add(keys.len(), Ordering::Relaxed);
                    for group in by_slot(&keys) {
                        let _: () = redis::cmd("UNLINK")
                            .arg(&group)
                            .query_async(&mut unlink)
                            .await?;
                    }
                    Ok(())
                }
            })
            .await?;
        }
        Ok(total.load(Ordering::Relaxed))
    }

    /// Walks every job record under the prefix (SCAN, about `count` keys a step, on every
    /// master of a cluster), then hands each step's records to `visit`; then the jobs that have
    /// no record (a fresh job, ready or on its first lease, and a fresh job's success), read
    /// with HSCAN from each registered queue shard's `fresh` hash and `done:<t>` buckets. Jobs
    /// may appear twice or, when created or changed during the walk, not at all (SCAN's
    /// guarantees).
    pub async fn scan_jobs<F>(&self, count: usize, mut visit: F) -> Result<(), QueueError>
    where
        F: FnMut(Vec<JobBrief>),
    {
        let mut conn = self.conn.clone();
        let reader = self.conn.clone();
        let pattern = format!("{{{}:*}}:job:*", glob_escape(&self.settings.prefix));
        let found = Arc::new(std::sync::Mutex::new(Vec::new()));
        conn.scan_match(&pattern, count, |keys| {
            let mut reader = reader.clone();
            let found = found.clone();
            async move {
                let mut pipe = redis::pipe();
                for k in &keys {
                    pipe.cmd("HMGET")
                        .arg(k)
                        .arg("queue")
                        .arg("state")
                        .arg("payload");
                }
                let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
                    pipe.query_async(&mut reader).await?;
                found.lock().expect("scan lock").push((keys, rows));
                Ok(())
            }
        })
        .await?;
        let steps = std::mem::take(&mut *found.lock().expect("scan lock"));
        for (keys, rows) in steps {
            let jobs = keys
                .iter()
                .zip(rows)
                .filter_map(|(k, (queue, state, payload))| {
                    Some(JobBrief {
                        id: k.split_once("}:job:")?.1.to_string(),
                        queue: queue?,
                        state: state?,
                        payload: payload.unwrap_or_default(),
                    })
                })
                .collect();
            visit(jobs);
        }
        // Jobs without a record: fresh ones (ready or on their first lease) and fresh ones'
        // successes, fields of each queue shard's `fresh` hash and `done:<t>` buckets.
        let now_s = now_ms() / 1000;
        let retention = self.settings.succeeded_retention.as_secs();
        for queue in self.queues().await? {
            for shard in 0..self.settings.shards_of(&queue) {
                let mut hashes = vec![(self.queue_key(&queue, shard, "fresh"), "ready")];
                for b in succeeded_buckets(now_s, retention) {
                    hashes.push((
                        self.queue_key(&queue, shard, &format!("done:{b}")),
                        "succeeded",
                    ));
                }
                for (key, state) in hashes {
                    let mut cursor = 0u64;
                    loop {
                        let (next, flat): (u64, Vec<String>) = redis::cmd("HSCAN")
                            .arg(&key)
                            .arg(cursor)
                            .arg("COUNT")
                            .arg(count)
                            .query_async(&mut conn)
                            .await?;
                        let jobs = flat
                            .chunks_exact(2)
                            .filter_map(|kv| {
                                Some(JobBrief {
                                    id: kv[0].clone(),
                                    queue: queue.clone(),
                                    state: state.to_string(),
                                    payload: entry_payload(&kv[1], state == "succeeded")?,
                                })
                            })
                            .collect::<Vec<_>>();
                        if !jobs.is_empty() {
                            visit(jobs);
                        }
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                }
            }
        }
        Ok(())
    }

    /// Deletes the records of these jobs of `queue` that are finished (succeeded or dead);
    /// live ones stay. Returns how many were deleted.
    pub async fn forget_finished(&self, queue: &str, ids: &[String]) -> Result<usize, QueueError> {
        self.per_id_batch(&self.scripts.forget, queue, ids).await
    }

    /// Deletes these jobs of `queue` whatever their state — queued, scheduled, retrying, held
    /// by a worker, dead or succeeded —: the record, its queue entry and its unique key, one
    /// atomic script call per 500 ids and shard. A worker still running one of them loses its
    /// lease: its heartbeat reports it lost and its ack finds no lease and writes nothing, so
    /// the job never comes back. For erasing what a job names (a user's data); the caller
    /// decides whether running jobs may be cut loose. Returns how many records were deleted.
    pub async fn remove_jobs(&self, queue: &str, ids: &[String]) -> Result<usize, QueueError> {
        self.per_id_batch(&self.scripts.remove, queue, ids).await
    }

    /// Runs `script` (ARGV: key base, queue, succeeded retention in s, id…) over `ids` on every
    /// shard of `queue` (the shard of an id is not known from it), 500 per call; sums what each
    /// call returns.
    async fn per_id_batch(
        &self,
        script: &Script,
        queue: &str,
        ids: &[String],
    ) -> Result<usize, QueueError> {
        let mut total = 0;
        for shard in 0..self.settings.shards_of(queue) {
            for chunk in ids.chunks(500) {
                let mut inv = self.invocation(script, queue, shard);
                inv.arg(self.settings.succeeded_retention.as_secs());
                for id in chunk {
                    inv.arg(id);
                }
                let n: usize = inv.invoke_async(&mut self.conn.clone()).await?;
                total += n;
            }
        }
        Ok(total)
    }

    /// Deletes every dead job of a queue, in bounded batches. Returns how many.
    pub async fn purge_dead(&self, queue: &str) -> Result<usize, QueueError> {
        let mut total = 0;
        for shard in 0..self.settings.shards_of(queue) {
            loop {
                let n: usize = self
                    .invocation(&self.scripts.purge_dead, queue, shard)
                    .arg(500)
                    .invoke_async(&mut self.conn.clone())
                    .await?;
                total += n;
                if n == 0 {
                    break;
                }
            }
        }
        Ok(total)
    }
}

/// The payload of a `fresh` entry (`max_attempts⏎unique⏎created_ms⏎payload`) or, `done`, of a
/// `done:<t>` field (`d⏎attempts⏎finished_ms⏎` and the job's `fresh` entry, or the previous
/// layout `attempts⏎finished_ms⏎created_ms⏎max_attempts⏎unique⏎payload`); None for a `fresh`
/// entry of the previous layout (its job has a record).
fn entry_payload(entry: &str, done: bool) -> Option<String> {
    let numeric = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if done {
        if let Some(rest) = entry.strip_prefix("d\n") {
            let parts: Vec<&str> = rest.splitn(3, '\n').collect();
            let ok = parts.len() == 3 && numeric(parts[0]) && numeric(parts[1]);
            return if ok {
                entry_payload(parts[2], false)
            } else {
                None
            };
        }
    }
    let parts: Vec<&str> = entry.splitn(if done { 6 } else { 4 }, '\n').collect();
    let ok = if done {
        parts.len() == 6 && parts[..4].iter().all(|p| numeric(p))
    } else {
        parts.len() == 4 && numeric(parts[0]) && numeric(parts[2])
    };
    ok.then(|| parts[parts.len() - 1].to_string())
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
    use super::{entry_payload, succeeded_buckets, ClaimedJob};

    #[test]
    fn claimed_jobs_parse_in_both_shapes() {
        let fresh = ClaimedJob::parse(
            b"3 1700000000000 f\nabc5\nuk\n1765000000000\n{\"n\":1}".to_vec(),
            2,
        )
        .expect("fresh job");
        assert_eq!(
            (
                fresh.id.as_str(),
                fresh.payload.as_str(),
                fresh.lease,
                fresh.attempt
            ),
            ("abc", "{\"n\":1}", 1_700_000_000_000, 1)
        );
        assert_eq!(
            (fresh.max_attempts, fresh.deferrals, fresh.shard),
            (5, 0, 2)
        );
        let again = ClaimedJob::parse(b"3 1700000000001 4 6 2\nabc{\"n\":1}".to_vec(), 0)
            .expect("job with a record");
        assert_eq!(
            (
                again.payload.as_str(),
                again.attempt,
                again.max_attempts,
                again.deferrals
            ),
            ("{\"n\":1}", 4, 6, 2)
        );
        assert!(ClaimedJob::parse(b"3 1700000000000 f\nabc5\n".to_vec(), 0).is_none());
    }

    #[test]
    fn done_entries_of_both_layouts_give_their_payload() {
        let p = |e: &str| entry_payload(e, true);
        assert_eq!(
            p("d\n1\n1765000000001\n5\n\n1765000000000\n{}").as_deref(),
            Some("{}")
        );
        assert_eq!(
            p("1\n1765000000001\n1765000000000\n5\n\n{}").as_deref(),
            Some("{}")
        );
        assert_eq!(p("d\n1\nx\n5\n\n1\n{}"), None);
        assert_eq!(
            entry_payload("5\nuk\n{}", false),
            None,
            "a previous-layout fresh entry"
        );
    }

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
