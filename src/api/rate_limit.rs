//! The per-user request rate cap of the API (`API_RATE_LIMIT_PER_MINUTE`), shared by every web
//! process through Redis: a GCRA bucket per user (one timestamp per key, as the provider
//! limiter keeps) that holds a whole minute's requests as its burst and refills evenly. Over
//! the cap a request answers 429 `rate_limited` with `Retry-After` (whole seconds) and costs
//! nothing. Only requests with a valid bearer token count (the user is its `sub`); `/health`,
//! `/ready` and `/metrics` are exempt. A Redis failure lets the request through (logged):
//! the cap protects the service, it must not take it down.
//!
//! Keys: `{prefix}:ratelimit:api:user:{sha256(sub) in hex, 32 chars}`.

use std::{sync::Arc, time::Duration};

use poem::{http::StatusCode, Endpoint, IntoResponse, Request, Response};
use redis::{aio::ConnectionManager, Script};
use sha2::{Digest, Sha256};

use super::{auth, error::error_response, AppState};

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

/// Paths never limited (probes and scrapes).
const EXEMPT: [&str; 3] = ["/health", "/ready", "/metrics"];

/// The shared per-user limiter.
#[derive(Clone)]
pub struct UserLimiter {
    conn: ConnectionManager,
    prefix: String,
    per_minute: u32,
}

impl UserLimiter {
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>, per_minute: u32) -> Self {
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

/// Answers 429 when the caller is over the cap, else runs `ep`.
pub async fn limit<E: Endpoint + 'static>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let user = req
        .data::<AppState>()
        .filter(|_| !EXEMPT.contains(&req.uri().path()))
        .and_then(|state| {
            let token = req
                .headers()
                .get(poem::http::header::AUTHORIZATION)?
                .to_str()
                .ok()?
                .strip_prefix("Bearer ")?;
            let claims = auth::verify(&state.jwt_key, token)?;
            Some((state.limiter.clone(), claims.sub))
        });
    if let Some((limiter, sub)) = user {
        match limiter.acquire(&sub).await {
            Ok(None) => {}
            Ok(Some(wait)) => return Ok(too_many(wait)),
            Err(e) => tracing::warn!(error = %e, "api rate limit unavailable; request let through"),
        }
    }
    Ok(ep.call(req).await?.into_response())
}

fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut resp = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        &format!("too many requests; retry in {secs} s"),
        None,
    );
    resp.headers_mut()
        .insert(poem::http::header::RETRY_AFTER, secs.max(1).into());
    resp
}
