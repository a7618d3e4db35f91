//! The one sender of provider requests, and the classification of their replies into
//! `ProviderError`. Every provider request goes through `send`, which
//! counts it in `lifesync_provider_requests_total` (with its status, or `error` when no reply
//! came) and hands back a [`Reply`] of any status; [`get_json`] and [`get_json_with`] add the
//! decoding of a 2xx reply and the classification of any other, by [`classify`] or by a
//! provider's own classifier (Twitter's, LinkedIn's, which fall back to [`classify`] or
//! [`throttled`]).
//!
//! [`classify`] knows the JSON APIs of Meta (Graph error bodies, where throttling is code
//! 4/17/32/613/80000–80014 whatever the HTTP status and an expired token is code 190; the codes
//! and usage headers are in `meta`), Google (403 or 429 with reason
//! `userRateLimitExceeded`, `rateLimitExceeded` or `dailyLimitExceeded`, or status
//! `RESOURCE_EXHAUSTED`: all throttles, never `Forbidden`), Microsoft Graph and LinkedIn. Every
//! throttle of every provider becomes a [`ProviderError::RateLimited`] through [`throttled`],
//! the only place `lifesync_provider_rate_limited_total` is counted. Error details never
//! include the URL (Meta puts the access token in `paging.next`).
//!
//! Rule: a provider file never calls `RequestBuilder::send` nor a metric itself.

use std::time::Duration;

use reqwest::{header::HeaderMap, RequestBuilder};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{meta, ProviderError, ProviderId};

/// Google's throttle reasons (`error.errors[0].reason`).
const GOOGLE_THROTTLE_REASONS: [&str; 3] = [
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "dailyLimitExceeded",
];

/// A provider throttled us: counted in `lifesync_provider_rate_limited_total` (here only) and
/// returned as [`ProviderError::RateLimited`]; `retry_after` None when the reply named no time.
pub fn throttled(provider: ProviderId, retry_after: Option<Duration>) -> ProviderError {
    crate::metrics::provider_rate_limited(provider);
    ProviderError::RateLimited { retry_after }
}

/// A provider's reply, of any status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// A 2xx reply.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body decoded as JSON (a body that does not parse is a malformed reply).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        decode(&self.body)
    }

    /// [`classify`] of this (non-2xx) reply.
    pub fn error(&self, provider: ProviderId) -> ProviderError {
        classify(provider, self.status, &self.headers, &self.body)
    }
}

/// Sends `req` and returns its reply, whatever the status; only a request that got no reply is
/// an error. Counted in the request metric either way: the one place a provider request is
/// sent.
pub async fn send(provider: ProviderId, req: RequestBuilder) -> Result<Reply, ProviderError> {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            crate::metrics::provider_request(provider.as_str(), None);
            return Err(e.into());
        }
    };
    let status = resp.status().as_u16();
    crate::metrics::provider_request(provider.as_str(), Some(status));
    let headers = resp.headers().clone();
    let body = resp.text().await.map_err(ProviderError::from)?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Sends `req` and decodes a 2xx JSON reply; anything else becomes a [`classify`]d error.
pub async fn get_json<T: DeserializeOwned>(
    provider: ProviderId,
    req: RequestBuilder,
) -> Result<T, ProviderError> {
    get_json_with(provider, req, |r| r.error(provider)).await
}

/// [`get_json`] with the provider's own classifier of non-2xx replies.
pub async fn get_json_with<T: DeserializeOwned>(
    provider: ProviderId,
    req: RequestBuilder,
    error: impl FnOnce(&Reply) -> ProviderError,
) -> Result<T, ProviderError> {
    let r = send(provider, req).await?;
    if r.ok() {
        r.json()
    } else {
        Err(error(&r))
    }
}

/// Decodes a 2xx JSON body; a body that does not parse is a malformed reply (permanent).
pub fn decode<T: DeserializeOwned>(body: &str) -> Result<T, ProviderError> {
    serde_json::from_str(body)
        .map_err(|e| ProviderError::Permanent(format!("malformed reply: {e}")))
}

/// The class of a non-2xx reply of `provider` (throttles are counted, see [`throttled`]).
pub fn classify(
    provider: ProviderId,
    status: u16,
    headers: &HeaderMap,
    body: &str,
) -> ProviderError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let err = v.get("error");
    let meta_code = err.and_then(|e| e.get("code")).and_then(Value::as_i64);
    let reason = err
        .and_then(|e| e.get("errors"))
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let google_status = err
        .and_then(|e| e.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let detail: String = match err {
        Some(Value::Object(o)) => o
            .get("message")
            .and_then(Value::as_str)
            .map(|m| match o.get("code") {
                Some(c) => format!(
                    "{} {m}",
                    c.as_str().map_or_else(|| c.to_string(), String::from)
                ),
                None => m.to_string(),
            })
            .unwrap_or_default(),
        Some(Value::String(s)) => s.clone(),
        _ => v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
    .chars()
    .take(300)
    .collect();
    let detail = format!("{status} {detail}");
    if meta_code.is_some_and(meta::is_throttle) {
        return throttled(
            provider,
            meta::retry_after(headers).or_else(|| retry_after(headers)),
        );
    }
    if reason == "dailyLimitExceeded" {
        // Gmail's daily quota resets at midnight US Pacific time.
        let now = chrono::Utc::now();
        return throttled(
            provider,
            Some(super::reset::wait_until(
                now,
                super::reset::next_pacific_midnight(now),
            )),
        );
    }
    let google_throttle = status == 403 && GOOGLE_THROTTLE_REASONS.contains(&reason);
    if status == 429 || google_throttle || google_status == "RESOURCE_EXHAUSTED" {
        return throttled(provider, retry_after(headers));
    }
    if meta_code == Some(190) {
        return ProviderError::Unauthorized(detail);
    }
    if matches!(meta_code, Some(10) | Some(200..=299)) {
        return ProviderError::Forbidden(detail);
    }
    match status {
        401 => ProviderError::Unauthorized(detail),
        403 => ProviderError::Forbidden(detail),
        404 | 410 => ProviderError::NotFound(detail),
        s if s >= 500 => ProviderError::Transient(detail),
        _ if meta_code.is_some_and(|c| c == 1 || c == 2)
            || err
                .and_then(|e| e.get("is_transient"))
                .and_then(Value::as_bool)
                == Some(true) =>
        {
            ProviderError::Transient(detail)
        }
        _ => ProviderError::Permanent(detail),
    }
}

/// `Retry-After` in seconds, at least one second.
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let s: u64 = h.get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(s.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_meta_google_and_graph_errors() {
        let h = HeaderMap::new();
        let throttled = r#"{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","is_transient":true,"code":4}}"#;
        assert!(matches!(
            classify(ProviderId::Facebook, 400, &h, throttled),
            ProviderError::RateLimited { .. }
        ));
        let expired = r#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":463}}"#;
        assert!(matches!(
            classify(ProviderId::Facebook, 400, &h, expired),
            ProviderError::Unauthorized(_)
        ));
        let perm = r#"{"error":{"message":"(#200) Requires user_posts","code":200}}"#;
        assert!(matches!(
            classify(ProviderId::Facebook, 400, &h, perm),
            ProviderError::Forbidden(_)
        ));
        let google = r#"{"error":{"code":403,"message":"Rate","errors":[{"reason":"userRateLimitExceeded"}]}}"#;
        assert!(matches!(
            classify(ProviderId::Google, 403, &h, google),
            ProviderError::RateLimited { .. }
        ));
        let graph = r#"{"error":{"code":"InvalidAuthenticationToken","message":"expired"}}"#;
        assert!(matches!(
            classify(ProviderId::Microsoft, 401, &h, graph),
            ProviderError::Unauthorized(_)
        ));
        assert!(matches!(
            classify(ProviderId::Microsoft, 503, &h, "oops"),
            ProviderError::Transient(_)
        ));
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert!(matches!(
            classify(ProviderId::Microsoft, 429, &h, ""),
            ProviderError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(7)
        ));
    }

    /// Gmail's real throttle bodies: every one a throttle, none a `Forbidden`.
    #[test]
    fn gmail_throttles_are_never_forbidden() {
        let body = |status: u16, reason: &str, st: &str| {
            format!(
                r#"{{"error":{{"code":{status},"message":"Quota","errors":[{{"message":"Quota","domain":"usageLimits","reason":"{reason}"}}],"status":"{st}"}}}}"#
            )
        };
        let h = HeaderMap::new();
        for reason in ["userRateLimitExceeded", "rateLimitExceeded"] {
            let e = classify(
                ProviderId::Google,
                403,
                &h,
                &body(403, reason, "PERMISSION_DENIED"),
            );
            assert!(
                matches!(e, ProviderError::RateLimited { retry_after: None }),
                "{reason}: {e}"
            );
        }
        let e = classify(
            ProviderId::Google,
            429,
            &h,
            &body(429, "rateLimitExceeded", "RESOURCE_EXHAUSTED"),
        );
        assert!(matches!(e, ProviderError::RateLimited { .. }), "{e}");
        // The daily quota: until the next midnight in California (at most 25 h away).
        let e = classify(
            ProviderId::Google,
            403,
            &h,
            &body(403, "dailyLimitExceeded", "PERMISSION_DENIED"),
        );
        let now = chrono::Utc::now();
        let expected = crate::providers::reset::next_pacific_midnight(now) - now;
        match e {
            ProviderError::RateLimited {
                retry_after: Some(d),
            } => {
                let diff = d.as_secs() as i64 - expected.num_seconds();
                assert!(diff.abs() <= 2, "{d:?} vs {expected:?}");
                assert!(d <= Duration::from_secs(25 * 3600));
            }
            e => panic!("dailyLimitExceeded: {e}"),
        }
        // A genuine permission error stays Forbidden.
        let e = classify(
            ProviderId::Google,
            403,
            &h,
            &body(403, "insufficientPermissions", "PERMISSION_DENIED"),
        );
        assert!(matches!(e, ProviderError::Forbidden(_)), "{e}");
    }

    #[test]
    fn meta_throttles_wait_for_the_usage_headers() {
        let body =
            r#"{"error":{"message":"(#80002) Too many calls","is_transient":true,"code":80002}}"#;
        let mut h = HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            r#"{"17841405793187218":[{"type":"instagram","call_count":100,"total_cputime":10,"total_time":12,"estimated_time_to_regain_access":3}]}"#
                .parse()
                .unwrap(),
        );
        assert!(matches!(
            classify(ProviderId::Instagram, 403, &h, body),
            ProviderError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(180)
        ));
        let usage = meta::usage(&h).unwrap();
        assert_eq!((usage.max_percent, usage.regain_minutes), (100.0, Some(3)));
        let mut h = HeaderMap::new();
        h.insert(
            "x-app-usage",
            r#"{"call_count":100,"total_cputime":25,"total_time":25}"#
                .parse()
                .unwrap(),
        );
        let throttled = r#"{"error":{"message":"(#4) Application request limit reached","is_transient":true,"code":4}}"#;
        assert!(matches!(
            classify(ProviderId::Facebook, 400, &h, throttled),
            ProviderError::RateLimited { retry_after: None }
        ));
        // Without usage headers: no time either; the queue backs off exponentially.
        assert!(matches!(
            classify(ProviderId::Facebook, 400, &HeaderMap::new(), throttled),
            ProviderError::RateLimited { retry_after: None }
        ));
        // Every throttling code, whatever the HTTP status; not the permission codes.
        for code in [4, 17, 32, 613, 80000, 80001, 80004, 80014] {
            let body = format!(r#"{{"error":{{"message":"(#{code}) limit","code":{code}}}}}"#);
            for status in [400, 403, 500] {
                assert!(
                    matches!(
                        classify(ProviderId::Facebook, status, &HeaderMap::new(), &body),
                        ProviderError::RateLimited { retry_after: None }
                    ),
                    "{code} {status}"
                );
            }
        }
        for code in [10, 200, 80015, 190] {
            let body = format!(r#"{{"error":{{"message":"(#{code}) x","code":{code}}}}}"#);
            assert!(!matches!(
                classify(ProviderId::Facebook, 400, &HeaderMap::new(), &body),
                ProviderError::RateLimited { .. }
            ));
        }
    }
}
