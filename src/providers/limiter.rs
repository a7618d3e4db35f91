//! The request-rate cap per provider app and per account, shared by every worker process
//! through Redis, so a fleet of workers never sends a provider more than configured
//! (`{P}_APP_RATE_LIMIT`, `{P}_ACCOUNT_RATE_LIMIT`, requests per minute).
//!
//! The algorithm is GCRA (a leaky bucket as one timestamp per key): each key holds the
//! theoretical arrival time of the next request; a request is allowed when that time is at
//! most `burst` ahead of now. One Lua script checks the app's and the account's buckets and
//! spends from both only when both allow, so a refused request costs nothing. A refusal says
//! how long to wait; the worker sleeps waits below half a second and otherwise reschedules
//! its job for that moment.
//!
//! Keys: `{prefix}:ratelimit:{provider}:app` and `{prefix}:ratelimit:{provider}:account:{id}`.

use std::time::Duration;

use lifesync_jobs::RedisConn;
use redis::Script;

use super::ProviderId;

const GCRA: &str = r"
local now = tonumber(ARGV[1])
local wait = 0
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst
  if allow_at > now and allow_at - now > wait then wait = allow_at - now end
  tats[i] = new_tat
end
if wait > 0 then return math.ceil(wait) end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], tats[i], 'PX', math.ceil(tats[i] - now) + 1000)
end
return 0";

/// Requests per minute allowed for one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMinute(pub u32);

impl PerMinute {
    fn interval_ms(self) -> f64 {
        60_000.0 / self.0.max(1) as f64
    }
    /// Up to a tenth of a minute's requests may go at once.
    fn burst_ms(self) -> f64 {
        self.interval_ms() * (self.0 / 10).max(1) as f64
    }
}

/// The shared limiter.
#[derive(Clone)]
pub struct Limiter {
    conn: RedisConn,
    prefix: String,
}

impl Limiter {
    pub fn new(conn: RedisConn, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
        }
    }

    /// Takes one request from the app's and the account's buckets (those configured), or
    /// says how long to wait before trying again.
    pub async fn acquire(
        &self,
        provider: ProviderId,
        account: &str,
        app_limit: Option<PerMinute>,
        account_limit: Option<PerMinute>,
    ) -> redis::RedisResult<Option<Duration>> {
        let gcra = Script::new(GCRA);
        let mut script = gcra.prepare_invoke();
        let mut args: Vec<f64> = Vec::new();
        if let Some(l) = app_limit {
            script.key(format!("{{{}:ratelimit:{provider}}}:app", self.prefix));
            args.extend([l.interval_ms(), l.burst_ms()]);
        }
        if let Some(l) = account_limit {
            script.key(account_key(&self.prefix, provider, account));
            args.extend([l.interval_ms(), l.burst_ms()]);
        }
        if args.is_empty() {
            return Ok(None);
        }
        script.arg(lifesync_jobs::store::now_ms());
        for a in args {
            script.arg(a);
        }
        let wait_ms: i64 = script.invoke_async(&mut self.conn.clone()).await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms as u64)))
    }
}

/// The key of one account's bucket at `provider` (the erase deletes it). A provider's buckets
/// share one hash tag, `{P:ratelimit:<provider>}`, since one script takes from the app's
/// bucket and the account's together (one slot of a Redis Cluster).
pub fn account_key(prefix: &str, provider: impl std::fmt::Display, account: &str) -> String {
    format!("{{{prefix}:ratelimit:{provider}}}:account:{account}")
}
