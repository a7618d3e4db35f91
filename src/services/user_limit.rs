//! The per-user request buckets of the API (`API_RATE_LIMIT_PER_MINUTE`), shared by every web
//! process through Redis: a GCRA bucket per user (one timestamp per key, as the provider
//! limiter keeps) that holds a whole minute's requests as its burst and refills evenly. The
//! API's middleware (`api::rate_limit`) asks it; a user's erase deletes the user's bucket.
//!
//! Keys: `{prefix}:ratelimit:api:user:{sha256(sub) in hex, 32 chars}`.

use std::time::Duration;

use lifesync_jobs::RedisConn;
use redis::Script;
use sha2::{Digest, Sha256};

const GCRA: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst
if allow_at > now then return math.ceil(allow_at - now) end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
return 0";

/// The shared per-user limiter.
#[derive(Clone)]
pub struct UserLimiter {
    conn: RedisConn,
    prefix: String,
    per_minute: u32,
}

impl UserLimiter {
    pub fn new(conn: RedisConn, prefix: impl Into<String>, per_minute: u32) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            per_minute: per_minute.max(1),
        }
    }

    /// Takes one request from `user`'s bucket, or says how long to wait.
    pub async fn acquire(&self, user: &str) -> redis::RedisResult<Option<Duration>> {
        let interval_ms = 60_000.0 / self.per_minute as f64;
        let burst_ms = interval_ms * self.per_minute as f64;
        let key = user_key(&self.prefix, user);
        let wait_ms: i64 = Script::new(GCRA)
            .key(key)
            .arg(lifesync_jobs::store::now_ms())
            .arg(interval_ms)
            .arg(burst_ms)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms as u64)))
    }
}

/// The key of `user`'s bucket (the erase deletes it).
pub fn user_key(prefix: &str, user: &str) -> String {
    let digest = Sha256::digest(user.as_bytes());
    format!(
        "{prefix}:ratelimit:api:user:{}",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}
