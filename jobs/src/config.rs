//! Queue configuration: how to reach Redis and the timings of leases, retries and retention.
//!
//! Everything has a production default; tests shorten the timings. Nothing here reads the
//! environment: the service's own configuration module builds these values.

use std::time::Duration;

use crate::retry::RetryPolicy;

/// How to reach Redis. The URL carries password and DB index (`redis://:pw@host:port/db`);
/// `rediss://` speaks TLS.
#[derive(Clone)]
pub struct RedisSettings {
    /// `redis[s]://[user][:password@]host[:port][/db]`.
    pub url: String,
    /// With `rediss://`: the complete set of trusted CA certificates (PEM) — the operating
    /// system's and the deployment's extra ones. `None`: the operating system's store alone.
    pub trusted_pem: Option<Vec<u8>>,
    /// How long one Redis command may take before it counts as failed (seconds, not 500 ms:
    /// a Redis stall pauses work instead of killing it).
    pub response_timeout: Duration,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
    /// Seed nodes of a Redis Cluster (`REDIS_CLUSTER_URLS`); non-empty selects the cluster
    /// client and `url` is ignored. `rediss://` seeds speak TLS with `trusted_pem`.
    pub cluster_urls: Vec<String>,
}

impl RedisSettings {
    /// Settings for `url` with the default timeouts (5 s response, 5 s connect).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            trusted_pem: None,
            response_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            cluster_urls: Vec::new(),
        }
    }

    /// Settings for a Redis Cluster reached through these seed nodes.
    pub fn cluster(seeds: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let cluster_urls: Vec<String> = seeds.into_iter().map(Into::into).collect();
        Self {
            cluster_urls: cluster_urls.clone(),
            ..Self::new(cluster_urls.first().cloned().unwrap_or_default())
        }
    }

    /// Builds the URL from the contract's `REDIS_HOST`/`PORT`/`PASSWORD`/`DB` parts.
    pub fn from_parts(host: &str, port: u16, password: Option<&str>, db: i64) -> Self {
        let auth = match password {
            Some(pw) if !pw.is_empty() => format!(":{}@", urlencode(pw)),
            _ => String::new(),
        };
        Self::new(format!("redis://{auth}{host}:{port}/{db}"))
    }
}

impl std::fmt::Debug for RedisSettings {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redact_url(&self.url))
            .field("trusted_pem", &self.trusted_pem.as_ref().map(Vec::len))
            .field("response_timeout", &self.response_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field(
                "cluster_urls",
                &self
                    .cluster_urls
                    .iter()
                    .map(|u| redact_url(u))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `redis://:secret@host` → `redis://:***@host`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Most jobs a worker holds unstarted (and takes in one claim call), whatever its rate.
pub const MAX_PREFETCH: usize = 1000;

/// Most shards a queue may have.
pub const MAX_SHARDS: u32 = 1024;

/// Timings and limits of the queue, shared by producers and workers.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Prefix of every key (`REDIS_KEY_PREFIX`).
    pub prefix: String,
    /// A claimed job's lease; a worker that stops renewing it loses the job to another worker
    /// after at most this long (plus one idle poll).
    pub lease: Duration,
    /// How often a worker renews the leases of the jobs it holds (well under `lease`).
    pub heartbeat: Duration,
    /// The local prefetch buffer of a worker whose jobs take time: it holds at most this many
    /// jobs it has not started (claimed once half of them started).
    pub claim_batch: usize,
    /// A worker that starts jobs faster than `claim_batch` per this time holds more: what it
    /// starts in this time at the rate it has been starting them (at most [`MAX_PREFETCH`]), so
    /// no job waits in its buffer much longer than this. Zero: `claim_batch` always.
    pub prefetch_for: Duration,
    /// Most due jobs promoted, or expired leases reaped, by one claim call.
    pub maintenance_batch: usize,
    /// Longest an idle worker blocks before it polls again (delayed jobs wake it earlier).
    pub idle_block: Duration,
    /// Longest one job may run; past it the job fails and is retried like any error.
    pub job_timeout: Duration,
    /// How long a succeeded job's data is kept.
    pub succeeded_retention: Duration,
    /// How long a dead job's data is kept.
    pub dead_retention: Duration,
    /// Most deferrals (Retry-After, throttles) before a job is dead-lettered. Each deferral
    /// waits at least what the provider asked for, and a throttle without a time waits
    /// `throttle` (≥ 1 min by default), so the default cap is days of throttling, not minutes;
    /// a handler sees its count in `JobLease` and records its own ending before the last one.
    pub max_deferrals: u32,
    /// Backoff between failed attempts.
    pub retry: RetryPolicy,
    /// Backoff after a throttle that named no time (`JobError::Throttled`), by deferral count.
    pub throttle: RetryPolicy,
    /// How often each worker logs its `jobs summary` line (INFO) when jobs ended meanwhile.
    pub summary_every: Duration,
    /// Hash-tag shards per queue (`QUEUE_SHARDS`, e.g. `sync=16`); a queue not named has one.
    pub shards: std::collections::BTreeMap<String, u32>,
}

impl QueueSettings {
    /// Production defaults under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            lease: Duration::from_secs(20),
            heartbeat: Duration::from_secs(5),
            claim_batch: 64,
            prefetch_for: Duration::from_millis(5),
            maintenance_batch: 1000,
            idle_block: Duration::from_secs(1),
            job_timeout: Duration::from_secs(30 * 60),
            succeeded_retention: Duration::from_secs(24 * 3600),
            dead_retention: Duration::from_secs(7 * 24 * 3600),
            max_deferrals: 100,
            retry: RetryPolicy::default(),
            throttle: RetryPolicy::throttle_default(),
            summary_every: Duration::from_secs(5),
            shards: std::collections::BTreeMap::new(),
        }
    }

    /// How many shards `queue` has (1 unless configured).
    pub fn shards_of(&self, queue: &str) -> u32 {
        self.shards.get(queue).copied().unwrap_or(1).max(1)
    }

    /// Parses `QUEUE_SHARDS` (`queue=n,queue=n`; blanks ignored) into [`Self::shards`].
    pub fn parse_shards(spec: &str) -> Result<std::collections::BTreeMap<String, u32>, String> {
        let mut out = std::collections::BTreeMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (q, n) = part
                .split_once('=')
                .ok_or_else(|| format!("QUEUE_SHARDS entry `{part}` is not queue=n"))?;
            let n: u32 = n
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MAX_SHARDS).contains(n))
                .ok_or_else(|| format!("QUEUE_SHARDS: `{part}` needs 1..={MAX_SHARDS} shards"))?;
            out.insert(q.trim().to_string(), n);
        }
        Ok(out)
    }

    /// Rejects settings that cannot work together.
    pub fn validate(&self) -> Result<(), String> {
        if self.prefix.is_empty()
            || self
                .prefix
                .contains(|c: char| c.is_whitespace() || c == '{' || c == '}')
        {
            return Err("key prefix must be non-empty and without spaces or braces".into());
        }
        if self.shards.values().any(|n| !(1..=MAX_SHARDS).contains(n)) {
            return Err(format!("a queue has 1..={MAX_SHARDS} shards"));
        }
        if self.heartbeat * 2 > self.lease {
            return Err("heartbeat must be at most half the lease".into());
        }
        if self.claim_batch == 0 || self.claim_batch > MAX_PREFETCH {
            return Err(format!("claim batch must be within 1..={MAX_PREFETCH}"));
        }
        if self.maintenance_batch == 0 || self.maintenance_batch > 2000 {
            return Err("maintenance batch must be within 1..=2000".into());
        }
        if self.summary_every.is_zero() {
            return Err("summary interval must be positive".into());
        }
        if self.succeeded_retention.as_secs() == 0 || self.dead_retention.as_secs() == 0 {
            return Err("retention must be at least one second".into());
        }
        Ok(())
    }
}
