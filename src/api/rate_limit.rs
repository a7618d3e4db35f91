//! The per-user request rate cap of the API (`API_RATE_LIMIT_PER_MINUTE`), shared by every web
//! process through Redis: a GCRA bucket per user (one timestamp per key, as the provider
//! limiter keeps) that holds a whole minute's requests as its burst and refills evenly. Over
//! the cap a request answers 429 `rate_limited` with `Retry-After` (whole seconds) and costs
//! nothing. Only requests with a valid bearer token count (the user is its `sub`); `/health`,
//! `/ready` and `/metrics` are exempt. A Redis failure lets the request through (logged):
//! the cap protects the service, it must not take it down. The buckets themselves are
//! `services::user_limit`'s.

use std::{sync::Arc, time::Duration};

use super::{auth, error::error_response, AppState};
use poem::{http::StatusCode, Endpoint, IntoResponse, Request, Response};

/// Paths never limited (probes and scrapes).
const EXEMPT: [&str; 3] = ["/health", "/ready", "/metrics"];

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
