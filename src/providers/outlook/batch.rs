//! Graph's JSON batching (`POST /v1.0/$batch`) for the Outlook client: several GETs in one
//! request, each answered with its own status, headers and body. The requests are chained by
//! `dependsOn`, so Graph runs them one after the other (Outlook allows 4 concurrent requests per
//! mailbox; a batch run in parallel would be throttled past that); one whose predecessor failed
//! answers 424 and was not run. Every reply is matched by id, in whatever order it comes.

use std::collections::HashMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::providers::{
    http::{self, Reply},
    ProviderError, ProviderId, Session,
};

/// Graph's limit of requests in one batch.
pub(super) const MAX_CALLS: usize = 20;

/// One GET of a batch: `url` is absolute and of the configured API (its path below `/v1.0`
/// becomes the inner request's relative URL).
pub(super) struct Call {
    pub id: String,
    pub url: url::Url,
    /// `Prefer: odata.maxpagesize` (delta rounds).
    pub page_size: Option<u32>,
}

#[derive(Deserialize)]
struct Replies {
    responses: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    id: String,
    status: u16,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Value,
}

/// Sends `calls` (1 to [`MAX_CALLS`]) as one batch; returns each call's reply by id. A batch
/// that fails as a whole (its own 401, 429, 5xx) is that error.
pub(super) async fn send(
    s: &Session<'_>,
    calls: &[Call],
) -> Result<HashMap<String, Reply>, ProviderError> {
    let base = s.app.api_url("/v1.0");
    let mut requests = Vec::with_capacity(calls.len());
    for (n, c) in calls.iter().enumerate() {
        let url = c
            .url
            .as_str()
            .strip_prefix(base.as_str())
            .filter(|rest| rest.starts_with('/'))
            .ok_or_else(|| malformed("a batch call outside the configured API"))?;
        let mut prefer = String::from("IdType=\"ImmutableId\"");
        if let Some(size) = c.page_size {
            prefer.push_str(&format!(", odata.maxpagesize={size}"));
        }
        let mut request = json!({"id": c.id, "method": "GET", "url": url,
                                 "headers": {"Prefer": prefer}});
        if n > 0 {
            request["dependsOn"] = json!([calls[n - 1].id]);
        }
        requests.push(request);
    }
    let request = s
        .http
        .post(s.app.api_url("/v1.0/$batch"))
        .bearer_auth(s.token)
        .json(&json!({ "requests": requests }));
    let reply = http::send(ProviderId::Microsoft, request).await?;
    if !reply.ok() {
        return Err(reply.error(ProviderId::Microsoft));
    }
    let replies: Replies = reply.json()?;
    let mut by_id = HashMap::with_capacity(replies.responses.len());
    for part in replies.responses {
        let mut headers = HeaderMap::new();
        for (k, v) in &part.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
                headers.insert(k, v);
            }
        }
        let body = match part.body {
            Value::String(text) => text,
            other => other.to_string(),
        };
        let status = part.status;
        by_id.insert(
            part.id,
            Reply {
                status,
                headers,
                body,
            },
        );
    }
    if calls.iter().any(|c| !by_id.contains_key(&c.id)) {
        return Err(malformed("a batch reply without one of its requests"));
    }
    Ok(by_id)
}

fn malformed(e: &str) -> ProviderError {
    ProviderError::Permanent(format!("malformed reply: {e}"))
}
