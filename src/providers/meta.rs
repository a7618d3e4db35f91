//! What Instagram and Facebook share, Meta's Graph conventions, written once: the throttling
//! codes and the usage headers that say how long a throttled app waits (read by
//! [`http::classify`](super::http::classify), which also reads Meta's error shape
//! `{"error":{"code","message","is_transient"}}`), `paging.next` links made safe to store and
//! checked again before the token goes with them, the `{data, paging}` list envelope, Meta's
//! timestamps (`2024-03-09T14:22:31+0000`) and ids sent as strings or numbers.
//!
//! Rule: a Graph convention used by more than one Meta provider lives here; a provider file
//! keeps only its own edge, fields and wire types.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use super::ProviderError;

/// Meta's throttling codes: application (4), user (17), page (32), custom (613) and the
/// business use case range (80000–80014).
pub fn is_throttle(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613 | 80_000..=80_014)
}

/// How long a throttled Meta client waits, from the usage headers: the largest
/// `estimated_time_to_regain_access` (minutes) of `X-Business-Use-Case-Usage`. None when Meta
/// gives no time (no usage headers, 0, or only `X-App-Usage`): the job is then rescheduled by
/// the queue's exponential throttle backoff (1 min doubling to 1 h), never spun.
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    match usage(h)?.regain_minutes {
        Some(m) if m > 0 => Some(Duration::from_secs(m * 60)),
        _ => None,
    }
}

/// What Meta's usage headers say.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// The highest percentage (call count, CPU time, total time) over every header and entry.
    pub max_percent: f64,
    /// The largest `estimated_time_to_regain_access` (minutes), if any entry has one.
    pub regain_minutes: Option<u64>,
}

/// Parses `X-Business-Use-Case-Usage` (`{"<id>":[{"call_count":…,
/// "estimated_time_to_regain_access":…}]}`) and `X-App-Usage` (`{"call_count":…}`); None when
/// neither is present or parses.
pub fn usage(h: &HeaderMap) -> Option<Usage> {
    let header =
        |name: &str| -> Option<Value> { serde_json::from_str(h.get(name)?.to_str().ok()?).ok() };
    let buc = header("x-business-use-case-usage");
    let app = header("x-app-usage");
    if buc.is_none() && app.is_none() {
        return None;
    }
    let mut usage = Usage::default();
    let mut add = |o: &serde_json::Map<String, Value>| {
        for k in ["call_count", "total_cputime", "total_time"] {
            if let Some(p) = o.get(k).and_then(Value::as_f64) {
                usage.max_percent = usage.max_percent.max(p);
            }
        }
        if let Some(m) = o
            .get("estimated_time_to_regain_access")
            .and_then(Value::as_u64)
        {
            usage.regain_minutes = Some(usage.regain_minutes.unwrap_or(0).max(m));
        }
    };
    if let Some(Value::Object(ids)) = &buc {
        for entries in ids.values() {
            for e in entries.as_array().into_iter().flatten() {
                if let Value::Object(o) = e {
                    add(o);
                }
            }
        }
    }
    if let Some(Value::Object(o)) = &app {
        add(o);
    }
    Some(usage)
}

/// A Meta `paging.next` URL made safe to store as page state: on the API's own origin (the
/// access token is never sent elsewhere) and without its `access_token` parameter (tokens are
/// sealed at rest, page state is not; the request sends the token as a bearer header). Errors
/// never quote the URL.
pub fn next_to_store(api_base: &url::Url, next: &str) -> Result<String, ProviderError> {
    let mut u = url::Url::parse(next).map_err(|_| {
        ProviderError::Permanent("malformed reply: paging.next is not a URL".into())
    })?;
    if u.origin() != api_base.origin() {
        return Err(ProviderError::Permanent(
            "paging.next points outside the API's origin".into(),
        ));
    }
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "access_token")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut().clear().extend_pairs(kept);
    Ok(u.to_string())
}

/// A stored next URL, checked again before the token goes with it.
pub fn stored_next(api_base: &url::Url, next: &str) -> Result<url::Url, ProviderError> {
    let u = url::Url::parse(next)
        .map_err(|_| ProviderError::Permanent("corrupt page state: next is not a URL".into()))?;
    if u.origin() != api_base.origin() {
        return Err(ProviderError::Permanent(
            "corrupt page state: next points outside the API's origin".into(),
        ));
    }
    Ok(u)
}

/// The page to request: the run's stored `next` link (checked), else the edge's first page
/// `first()`.
pub fn page_url(
    api_base: &url::Url,
    page: Option<&Value>,
    first: impl FnOnce() -> url::Url,
) -> Result<url::Url, ProviderError> {
    match page.and_then(|p| p.get("next")).and_then(Value::as_str) {
        Some(n) => stored_next(api_base, n),
        None => Ok(first()),
    }
}

/// A Graph list: `{"data": […], "paging": {"next": …}}`.
#[derive(Deserialize)]
#[serde(default)]
pub struct List<T> {
    pub data: Vec<T>,
    pub paging: Paging,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            paging: Paging::default(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Paging {
    pub next: Option<String>,
}

/// Meta's `2024-03-09T14:22:31+0000` (offset without a colon, not RFC 3339).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// [`parse_time`] of an entry's time field; a missing or bad one is a malformed reply naming
/// the entry (`what` and `id`) and the field.
pub fn entry_time(
    s: &str,
    what: &str,
    id: &str,
    field: &str,
) -> Result<DateTime<Utc>, ProviderError> {
    parse_time(s).ok_or_else(|| {
        ProviderError::Permanent(format!("malformed reply: {what} {id} has no valid {field}"))
    })
}

/// An id sent as a JSON string or number, kept exact as a string (beyond 2^53).
pub struct IdValue(pub String);

impl<'de> Deserialize<'de> for IdValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self(s)),
            Value::Number(n) => Ok(Self(n.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected an id, got {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_timestamps_without_a_colon_parse() {
        let t = parse_time("2024-03-09T14:22:31+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-09T14:22:31+00:00");
        assert!(parse_time("2024-03-09T14:22:31+0100").is_some());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn meta_next_urls_lose_their_token_and_stay_home() {
        let base = url::Url::parse("https://graph.instagram.com").unwrap();
        let next = next_to_store(
            &base,
            "https://graph.instagram.com/v21.0/1/media?access_token=IGAAsecret&limit=25&after=QVF",
        )
        .unwrap();
        assert_eq!(
            next,
            "https://graph.instagram.com/v21.0/1/media?limit=25&after=QVF"
        );
        let e = next_to_store(&base, "https://evil.example/x?access_token=IGAAsecret").unwrap_err();
        assert!(!e.to_string().contains("IGAA"), "{e}");
    }
}
