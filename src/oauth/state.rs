//! OAuth state in Redis, so any web instance can finish a flow another one started.
//!
//! * A **state** is 256 random bits (base64url), bound to the user, provider and redirect URI,
//!   valid for [`STATE_TTL`]. Redis holds it under the SHA-256 of the state (never the state
//!   itself) with the PKCE verifier **sealed** with the token key. [`StateStore::consume`]
//!   reads and deletes it in one script: a state is consumed exactly once, whatever happens
//!   after; an unknown, expired, reused or altered state is simply not found.
//! * Expiry is checked against a [`Clock`] (tests move it); Redis's own key expiry (TTL plus a
//!   minute) removes what nobody consumes.
//! * **Temporary data** (`put_temporary` / `get_temporary`) holds short-lived records with a
//!   caller-chosen TTL: OAuth completion status and the completion job's token checkpoint.
//! * **Statistics**: two sorted sets (member = state hash, score = expiry) count active states
//!   and active PKCE verifiers; expired members are trimmed when counted.
//!
//! * The token **refresh lock** (`refresh_lock`) lives under the same prefix; the store
//!   carries its timing ([`StateStore::with_refresh_timing`]).
//!
//! Keys: `{P:oauth}:state:{sha256(state)}`, `{P:oauth}:states`, `{P:oauth}:verifiers`,
//! `{P:oauth}:tmp:{name}` (P = the prefix): one hash tag, so every script here touches one
//! slot of a Redis Cluster (the refresh lock's keys share the tag).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use base64::Engine;
use lifesync_jobs::RedisConn;
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::ProviderId;

/// How long an authorization may take (the contract's 10 minutes).
pub const STATE_TTL: Duration = Duration::from_secs(600);

/// Milliseconds since the epoch, replaceable in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        lifesync_jobs::store::now_ms()
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn starting_now() -> Self {
        Self(Arc::new(AtomicU64::new(lifesync_jobs::store::now_ms())))
    }
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a state is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateRecord {
    pub user_id: String,
    pub provider: String,
    pub redirect_uri: String,
    pub expires_at_ms: u64,
    /// The PKCE verifier, sealed with the token key (`v1.<key id>.<b64>`).
    #[serde(default)]
    pub sealed_verifier: Option<String>,
}

/// Active states and verifiers (the admin route and the `lifesync_oauth_states_active` gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StateStats {
    pub active_states: u64,
    pub active_pkce_verifiers: u64,
}

/// OAuth state and temporary data in Redis.
#[derive(Clone, Debug)]
pub struct StateStore {
    conn: RedisConn,
    prefix: String,
    clock: Arc<dyn Clock>,
    refresh_timing: LockTiming,
}

const CONSUME: &str = r"
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return v";

const STATS: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}";

const CREATE: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4]) end
return 1";

fn hash_hex(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl StateStore {
    pub fn new(conn: RedisConn, prefix: impl Into<String>) -> Self {
        Self::with_clock(conn, prefix, Arc::new(SystemClock))
    }

    pub fn with_clock(conn: RedisConn, prefix: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            clock,
            refresh_timing: Default::default(),
        }
    }

    /// With another lease and wait for the token refresh lock (tests: a lease shorter than
    /// a slow token endpoint).
    pub fn with_refresh_timing(mut self, timing: LockTiming) -> Self {
        self.refresh_timing = timing;
        self
    }

    pub(crate) fn refresh_timing(&self) -> LockTiming {
        self.refresh_timing
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn key(&self, rest: &str) -> String {
        format!("{{{}:oauth}}:{rest}", self.prefix)
    }

    /// A fresh state: 256 random bits, base64url.
    pub fn random_state() -> String {
        let raw: [u8; 32] = rand::random();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Stores `state` for `user`, `provider`, `redirect_uri` (and a sealed verifier) for
    /// [`STATE_TTL`].
    pub async fn save(
        &self,
        state: &str,
        user_id: &str,
        provider: ProviderId,
        redirect_uri: &str,
        sealed_verifier: Option<String>,
    ) -> redis::RedisResult<()> {
        let expires_at_ms = self.now_ms() + STATE_TTL.as_millis() as u64;
        let record = StateRecord {
            user_id: user_id.to_string(),
            provider: provider.as_str().to_string(),
            redirect_uri: redirect_uri.to_string(),
            expires_at_ms,
            sealed_verifier,
        };
        let hash = hash_hex(state);
        let has_verifier = record.sealed_verifier.is_some();
        let json = serde_json::to_string(&record).expect("serializable");
        let ttl_ms = STATE_TTL.as_millis() as u64 + 60_000;
        Script::new(CREATE)
            .key(self.key(&format!("state:{hash}")))
            .key(self.key("states"))
            .key(self.key("verifiers"))
            .arg(json)
            .arg(ttl_ms)
            .arg(expires_at_ms)
            .arg(&hash)
            .arg(if has_verifier { "1" } else { "0" })
            .invoke_async::<i64>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Reads and deletes a state in one step. None: unknown, already used, altered or expired.
    pub async fn consume(&self, state: &str) -> redis::RedisResult<Option<StateRecord>> {
        if state.is_empty() || state.len() > 512 {
            return Ok(None);
        }
        let hash = hash_hex(state);
        let json: Option<String> = Script::new(CONSUME)
            .key(self.key(&format!("state:{hash}")))
            .key(self.key("states"))
            .key(self.key("verifiers"))
            .arg(&hash)
            .invoke_async(&mut self.conn.clone())
            .await?;
        let record = json.and_then(|j| serde_json::from_str::<StateRecord>(&j).ok());
        Ok(record.filter(|r| r.expires_at_ms > self.now_ms()))
    }

    /// Deletes the state stored under this SHA-256 (hex), whoever it belongs to (the erase of
    /// its user); a missing one is fine.
    pub async fn discard_hashed(&self, hash: &str) -> redis::RedisResult<()> {
        Script::new(CONSUME)
            .key(self.key(&format!("state:{hash}")))
            .key(self.key("states"))
            .key(self.key("verifiers"))
            .arg(hash)
            .invoke_async::<Option<String>>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub async fn stats(&self) -> redis::RedisResult<StateStats> {
        let (states, verifiers): (u64, u64) = Script::new(STATS)
            .key(self.key("states"))
            .key(self.key("verifiers"))
            .arg(self.now_ms())
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(StateStats {
            active_states: states,
            active_pkce_verifiers: verifiers,
        })
    }

    /// Stores `value` under `name` for `ttl`.
    pub async fn put_temporary(
        &self,
        name: &str,
        value: &str,
        ttl: Duration,
    ) -> redis::RedisResult<()> {
        self.conn
            .clone()
            .pset_ex::<_, _, ()>(
                self.key(&format!("tmp:{name}")),
                value,
                ttl.as_millis() as u64,
            )
            .await
    }

    pub async fn get_temporary(&self, name: &str) -> redis::RedisResult<Option<String>> {
        self.conn
            .clone()
            .get(self.key(&format!("tmp:{name}")))
            .await
    }

    pub async fn delete_temporary(&self, name: &str) -> redis::RedisResult<()> {
        self.conn
            .clone()
            .del::<_, ()>(self.key(&format!("tmp:{name}")))
            .await
    }

    /// The connection and prefix, for the refresh lock.
    pub(crate) fn conn(&self) -> RedisConn {
        self.conn.clone()
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn prefixed(&self, rest: &str) -> String {
        self.key(rest)
    }
}
/// How long the lock lives without renewal, and how long a caller waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockTiming {
    /// The lease (renewed every third of it while the holder works).
    pub lease: Duration,
    /// How long a caller waits for the lock and for older renewals in flight.
    pub wait: Duration,
}

impl Default for LockTiming {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(10),
            // Longer than a provider request may take by default (PROVIDER_HTTP_TIMEOUT_SECONDS).
            wait: Duration::from_secs(35),
        }
    }
}
