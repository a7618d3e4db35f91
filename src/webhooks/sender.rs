//! The one POST of a delivery attempt, guarded: the target is checked again ([`check_url`]),
//! names resolve through [`GuardedResolver`], redirects are not followed (a 3xx is a failed
//! attempt), no proxy is used, the whole attempt is bounded by [`TIMEOUT`], and at most
//! [`MAX_RESPONSE_BYTES`] of the receiver's answer is read (and then dropped: nothing of it is
//! stored or logged).

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};

use super::target::{check_url, GuardedResolver};
use crate::outbound::{OutboundConfig, USER_AGENT};

/// Connect-and-answer limit of one attempt.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most of a receiver's answer that is read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest `Retry-After` honoured (longer ones wait this long).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How one attempt went.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The receiver's status; None when no answer came (refused target, timeout, TLS).
    pub status: Option<u16>,
    pub latency: Duration,
    /// The receiver's `Retry-After` (seconds or an HTTP date), capped at [`MAX_RETRY_AFTER`].
    pub retry_after: Option<Duration>,
    /// Our words for an attempt without an answer.
    pub error: Option<String>,
}

impl Attempt {
    /// A 2xx answer.
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends signed deliveries.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    /// A sender trusting what provider calls trust (`SSL_CERT_FILE`, `SSL_CERT_DIR`).
    pub fn new(outbound: &OutboundConfig, allow_private: bool) -> std::io::Result<Self> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(outbound.trust.client_config()?)
            .user_agent(USER_AGENT)
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(GuardedResolver { allow_private }))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// Whether loopback and private targets (and `http`) are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// POSTs `body` (JSON) to `url` with `headers`.
    pub async fn send(&self, url: &str, headers: HeaderMap, body: Vec<u8>) -> Attempt {
        let started = Instant::now();
        let failed = |error: String| Attempt {
            status: None,
            latency: started.elapsed(),
            retry_after: None,
            error: Some(error),
        };
        let url = match check_url(url, self.allow_private) {
            Ok(u) => u,
            Err(e) => return failed(format!("refused target: {e}")),
        };
        let request = self
            .client
            .post(url)
            .headers(headers)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(describe(&e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
            .map(|d| d.min(MAX_RETRY_AFTER));
        // Read (and drop) at most MAX_RESPONSE_BYTES; a longer answer is cut off there.
        let mut read = 0usize;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        Attempt {
            status: Some(status),
            latency: started.elapsed(),
            retry_after,
            error: None,
        }
    }
}

/// A transport failure in our words (never the URL's query, never the body).
fn describe(e: &reqwest::Error) -> String {
    if let Some(tls) = crate::outbound::tls_failure(e) {
        return tls;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<super::target::TargetError>().is_some() {
            return "refused target: the name resolves only to forbidden addresses".into();
        }
        source = err.source();
    }
    if e.is_timeout() {
        format!("timed out after {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.signed_duration_since(chrono::Utc::now()).num_seconds();
    Some(Duration::from_secs(wait.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::parse_retry_after;
    use std::time::Duration;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
