//! One place that sends a provider request and classifies its reply into
//! [`ProviderError`](super::ProviderError) for the JSON APIs of Meta (Graph error bodies, where
//! throttling is a 4xx with code 4/17/32/613/80002 and an expired token is code 190), Google,
//! Microsoft Graph and LinkedIn. Every request is counted in `lifesync_provider_requests_total`.
//! Error details never include the URL (Meta puts the access token in `paging.next`).

use std::time::Duration;

use reqwest::{header::HeaderMap, RequestBuilder};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ProviderError, ProviderId};

/// Meta's throttling codes (application, user, page, custom, business use case).
const META_THROTTLE_CODES: [i64; 6] = [4, 17, 32, 613, 80001, 80002];

/// Sends `req` and decodes a 2xx JSON reply; anything else becomes a classified error.
pub async fn get_json<T: DeserializeOwned>(
    provider: ProviderId,
    req: RequestBuilder,
) -> Result<T, ProviderError> {
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
    if (200..300).contains(&status) {
        return serde_json::from_str(&body)
            .map_err(|e| ProviderError::Permanent(format!("malformed reply: {e}")));
    }
    Err(classify(status, &headers, &body))
}

/// The class of a non-2xx reply.
pub fn classify(status: u16, headers: &HeaderMap, body: &str) -> ProviderError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let err = v.get("error");
    let meta_code = err.and_then(|e| e.get("code")).and_then(Value::as_i64);
    let reason = err
        .and_then(|e| e.get("errors"))
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("reason"))
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
    let retry_after = retry_after(headers);
    if status == 429
        || meta_code.is_some_and(|c| META_THROTTLE_CODES.contains(&c))
        || (status == 403 && (reason == "userRateLimitExceeded" || reason == "rateLimitExceeded"))
    {
        return ProviderError::RateLimited {
            retry_after: retry_after.unwrap_or(Duration::from_secs(60)),
        };
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
            classify(400, &h, throttled),
            ProviderError::RateLimited { .. }
        ));
        let expired = r#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":463}}"#;
        assert!(matches!(
            classify(400, &h, expired),
            ProviderError::Unauthorized(_)
        ));
        let perm = r#"{"error":{"message":"(#200) Requires user_posts","code":200}}"#;
        assert!(matches!(
            classify(400, &h, perm),
            ProviderError::Forbidden(_)
        ));
        let google = r#"{"error":{"code":403,"message":"Rate","errors":[{"reason":"userRateLimitExceeded"}]}}"#;
        assert!(matches!(
            classify(403, &h, google),
            ProviderError::RateLimited { .. }
        ));
        let graph = r#"{"error":{"code":"InvalidAuthenticationToken","message":"expired"}}"#;
        assert!(matches!(
            classify(401, &h, graph),
            ProviderError::Unauthorized(_)
        ));
        assert!(matches!(
            classify(503, &h, "oops"),
            ProviderError::Transient(_)
        ));
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert!(matches!(
            classify(429, &h, ""),
            ProviderError::RateLimited { retry_after } if retry_after == Duration::from_secs(7)
        ));
    }
}
