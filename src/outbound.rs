//! The HTTP client of every call to a provider (OAuth token endpoints, data APIs, revocation):
//! TLS by rustls trusting [`TrustConfig`] (the OS store plus `SSL_CERT_FILE`/`SSL_CERT_DIR`),
//! HTTP/2 when the server offers it, gzip and brotli replies, the `HTTPS_PROXY` /
//! `HTTP_PROXY` / `NO_PROXY` proxies, `User-Agent: lifesync/<version>`, and a connect and
//! request timeout (`PROVIDER_HTTP_TIMEOUT_SECONDS`).
//!
//! A certificate that does not verify is a configuration problem, never a passing fault:
//! [`tls_failure`] words it (`tls: certificate for api.x.com not trusted: …`) so callers end the
//! run or the OAuth completion with it instead of retrying, and nothing ever falls back to
//! plain HTTP.

use std::time::Duration;

use crate::tls::TrustConfig;

/// `User-Agent` of every provider request.
pub const USER_AGENT: &str = concat!("lifesync/", env!("CARGO_PKG_VERSION"));

/// The outbound proxies, as the conventional variables name them (upper or lower case).
#[derive(Debug, Clone, Default)]
pub struct ProxyConfig {
    pub https: Option<String>,
    pub http: Option<String>,
    pub no_proxy: Option<String>,
}

/// How provider calls connect.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    pub trust: TrustConfig,
    pub proxy: ProxyConfig,
    /// Connect timeout, and the whole request's.
    pub timeout: Duration,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            trust: TrustConfig::default(),
            proxy: ProxyConfig::default(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl OutboundConfig {
    /// Trusting the extra anchors of `trust` (tests: the sandbox's CA).
    pub fn trusting(trust: TrustConfig) -> Self {
        Self {
            trust,
            ..Self::default()
        }
    }

    /// The client. Proxies come from this configuration only (never read behind its back).
    pub fn client(&self) -> std::io::Result<reqwest::Client> {
        self.builder()?.build().map_err(std::io::Error::other)
    }

    /// The client's builder, for the rare caller that changes one more thing (`dev`'s
    /// stand-in browser does not follow redirects).
    pub fn builder(&self) -> std::io::Result<reqwest::ClientBuilder> {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(self.trust.client_config()?)
            .user_agent(USER_AGENT)
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .gzip(true)
            .brotli(true)
            .no_proxy();
        let no_proxy = self
            .proxy
            .no_proxy
            .as_deref()
            .and_then(reqwest::NoProxy::from_string);
        for (url, scheme) in [(&self.proxy.https, "https"), (&self.proxy.http, "http")] {
            let Some(url) = url else { continue };
            let proxy = match scheme {
                "https" => reqwest::Proxy::https(url.as_str()),
                _ => reqwest::Proxy::http(url.as_str()),
            }
            .map_err(std::io::Error::other)?;
            builder = builder.proxy(proxy.no_proxy(no_proxy.clone()));
        }
        Ok(builder)
    }
}

/// When `e` failed because the server's certificate (or its TLS handshake) is not acceptable:
/// the clearly worded, permanent reason. `None` for every other failure.
pub fn tls_failure(e: &reqwest::Error) -> Option<String> {
    let host = e
        .url()
        .and_then(|u| u.host_str())
        .unwrap_or("the server")
        .to_string();
    // Walk the causes; an `io::Error` hides what it wraps from `source()`, so open it too.
    let mut pending: Vec<&(dyn std::error::Error + 'static)> = vec![e];
    while let Some(err) = pending.pop() {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(match tls {
                rustls::Error::InvalidCertificate(why) => {
                    format!("tls: certificate for {host} not trusted: {why}")
                }
                other => format!("tls: handshake with {host} failed: {other}"),
            });
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            pending.push(inner);
        }
        if let Some(next) = err.source() {
            pending.push(next);
        }
    }
    None
}
