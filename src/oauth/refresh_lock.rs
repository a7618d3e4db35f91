//! The per-source refresh lock (Redis): a lease that outlives the request it guards, a fencing
//! token per grant, and a register of renewals in flight. [`super::tokens`] explains how token
//! writes use the fence; this module only hands out and keeps the lock.
//!
//! Keys, per data source: `{prefix}:oauth:refresh:{source}` (the lock: its owner's random id,
//! `PX` the lease), `{prefix}:oauth:refresh-fence:{source}` (the fence counter, `INCR`, kept a
//! day after its last use) and `{prefix}:oauth:refresh-flights:{source}` (a sorted set: the
//! fences of renewals in flight, scored by when their keep-alive runs out).
//!
//! - **Acquire**: `SET NX PX lease`, and in the same script the next fence (`INCR`, raised above
//!   the fence stored with the tokens should Redis have lost the counter) and its flight entry.
//!   A caller that finds the lock taken polls until `wait` runs out (then a transient error).
//! - **Keep**: while the holder works, a task renews every lease/3: the flight entry always,
//!   the lock only while it is still the holder's (compare-and-`PEXPIRE`). A lock found gone
//!   (expired while the process stalled, evicted, lost in a fail-over) is only reported: the
//!   request may already be at the provider, and what it brings back is still written under the
//!   rules of [`super::tokens`].
//! - **Older flights**: after acquiring, the holder waits until no renewal with an older fence
//!   is still in flight (a holder that lost its lock but still runs keeps its entry alive; a
//!   crashed one's entry runs out after one lease). Only then does it read the tokens, so it
//!   sees what that renewal stored instead of presenting a refresh token already spent.
//! - **Release**: the flight entry is removed and the lock deleted if still the holder's
//!   (compare-and-delete). Dropped without release (a cancelled future), the keep-alive stops
//!   and both run out after one lease.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use lifesync_jobs::RedisConn;
use redis::Script;
use uuid::Uuid;

use super::state::StateStore;

/// How long the fence counter outlives its last use (it is rebuilt from the stored fence).
const FENCE_KEY_TTL: Duration = Duration::from_secs(86_400);

/// `SET NX PX`, then the next fence (above ARGV[3], the stored one) and its flight entry.
const ACQUIRE: &str = r"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local f = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if f <= floor then
  f = floor + 1
  redis.call('SET', KEYS[2], f)
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), f)
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[2]) * 2)
return f";

/// Keeps the flight entry alive; extends the lock only while it is still the owner's.
const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) * 2)
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0";

/// How many live flights hold an older fence than ARGV[1] (run-out entries are dropped).
const OLDER_FLIGHTS: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if tonumber(m) < tonumber(ARGV[1]) then n = n + 1 end
end
return n";

const RELEASE: &str = r"
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Why the lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("refresh lock: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("refresh lock busy")]
    Busy,
    #[error("an earlier token renewal is still in flight")]
    EarlierInFlight,
}

pub use super::state::LockTiming;

struct Keys {
    lock: String,
    fence: String,
    flights: String,
}

/// A held refresh lock; [`RefreshLock::release`] it when done.
pub struct RefreshLock {
    conn: RedisConn,
    keys: Arc<Keys>,
    owner: String,
    fence: i64,
    lost: Arc<AtomicBool>,
    keeper: tokio::task::JoinHandle<()>,
}

impl RefreshLock {
    /// Takes the lock of `source` (waiting for it and then for older renewals in flight).
    /// `stored_fence`: the fence stored with the source's tokens; the new fence is above it.
    pub async fn acquire(
        states: &StateStore,
        source: Uuid,
        stored_fence: i64,
        timing: LockTiming,
    ) -> Result<Self, LockError> {
        let keys = Arc::new(Keys {
            lock: states.prefixed(&format!("refresh:{source}")),
            fence: states.prefixed(&format!("refresh-fence:{source}")),
            flights: states.prefixed(&format!("refresh-flights:{source}")),
        });
        let mut conn = states.conn();
        let owner = format!("{:032x}", rand::random::<u128>());
        let lease_ms = timing.lease.as_millis().max(3) as u64;
        let deadline = tokio::time::Instant::now() + timing.wait;
        let fence = loop {
            let fence: i64 = Script::new(ACQUIRE)
                .key(&keys.lock)
                .key(&keys.fence)
                .key(&keys.flights)
                .arg(&owner)
                .arg(lease_ms)
                .arg(stored_fence)
                .arg(FENCE_KEY_TTL.as_millis() as u64)
                .invoke_async(&mut conn)
                .await?;
            if fence > 0 {
                break fence;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(LockError::Busy);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let lost = Arc::new(AtomicBool::new(false));
        let keeper = tokio::spawn(keep(
            conn.clone(),
            keys.clone(),
            owner.clone(),
            fence,
            Duration::from_millis(lease_ms),
            lost.clone(),
        ));
        let lock = Self {
            conn,
            keys,
            owner,
            fence,
            lost,
            keeper,
        };
        // A renewal with an older fence may still be in flight (its holder lost the lock but
        // runs on): whatever it brings back must be stored before this one reads the tokens.
        loop {
            let older: i64 = Script::new(OLDER_FLIGHTS)
                .key(&lock.keys.flights)
                .arg(fence)
                .invoke_async(&mut lock.conn.clone())
                .await?;
            if older == 0 {
                return Ok(lock);
            }
            if tokio::time::Instant::now() > deadline {
                lock.release().await;
                return Err(LockError::EarlierInFlight);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// This grant's fencing token: larger than every earlier grant's of the same source.
    pub fn fence(&self) -> i64 {
        self.fence
    }

    /// Whether the lease was found taken or gone while held (the holder carried on).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Ends the flight and frees the lock if it is still ours (best effort: both run out
    /// after one lease anyway).
    pub async fn release(self) {
        self.keeper.abort();
        let _ = Script::new(RELEASE)
            .key(&self.keys.lock)
            .key(&self.keys.flights)
            .arg(&self.owner)
            .arg(self.fence)
            .invoke_async::<i64>(&mut self.conn.clone())
            .await;
    }
}

impl Drop for RefreshLock {
    fn drop(&mut self) {
        // Released or not (a cancelled future), the keep-alive stops with the holder.
        self.keeper.abort();
    }
}

/// The keep-alive: every lease/3, the flight entry and (while it is ours) the lock.
async fn keep(
    mut conn: RedisConn,
    keys: Arc<Keys>,
    owner: String,
    fence: i64,
    lease: Duration,
    lost: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(lease / 3);
    tick.tick().await; // the first tick is immediate: the lease is fresh
    loop {
        tick.tick().await;
        let held: redis::RedisResult<i64> = Script::new(RENEW)
            .key(&keys.lock)
            .key(&keys.flights)
            .arg(&owner)
            .arg(lease.as_millis() as u64)
            .arg(fence)
            .invoke_async(&mut conn)
            .await;
        match held {
            Ok(1) => {}
            Ok(_) => {
                if !lost.swap(true, Ordering::SeqCst) {
                    tracing::warn!(
                        fence,
                        "refresh lock lost while its renewal is in flight; the result is still \
                         stored if the tokens it renews are still the stored ones"
                    );
                }
            }
            // Redis unreachable for now: try again next tick (the lease may run out).
            Err(e) => tracing::warn!(fence, error = %e, "could not renew the refresh lock"),
        }
    }
}
