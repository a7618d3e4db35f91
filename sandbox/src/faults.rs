//! The faults a sandbox injects ([`Faults`], switchable at run time through
//! `POST /_sandbox/faults`) and the one a data request gets ([`DataFault`]). Each provider
//! renders a fault in its own shape ([`crate::preamble`]).

/// Faults the sandbox injects, switchable at run time through `POST /_sandbox/faults`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Faults {
    /// Delay before every data reply (ms).
    #[serde(default)]
    pub slow_ms: u64,
    /// While set, every data reply waits (after `slow_ms`) until it is cleared: a worker held
    /// mid-request at the provider for as long as a test needs.
    #[serde(default)]
    pub hold_data: bool,
    /// Requests allowed per 15-minute window per account before 429 (None: the provider's).
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// Every n-th data request fails with a 503 (0: never).
    #[serde(default)]
    pub fail_every: u32,
    /// This fraction of data requests fails with a 5xx (0.0–1.0; deterministic per seed).
    #[serde(default)]
    pub fail_ratio: f64,
    /// Every n-th data request is throttled the provider's way, with a reset 1 s ahead.
    #[serde(default)]
    pub throttle_every: u32,
    /// The next n data pages are malformed (a reply cut in the middle of its JSON).
    #[serde(default)]
    pub malformed_pages: u32,
    /// While set, incremental cursors are answered as expired (Gmail history 404, Graph 410).
    #[serde(default)]
    pub expire_cursors: bool,
    /// The next n successful code exchanges redeem the code, then answer 503: the ambiguous
    /// failure after which a client must not loop.
    #[serde(default)]
    pub token_fail_after_redeem: u32,
    /// Delay before every token endpoint reply (ms), after the grant was decided; the value
    /// at a request's arrival applies to it.
    #[serde(default)]
    pub token_slow_ms: u64,
    /// While set, every data request of the named provider gets its quota reply: Gmail
    /// `userRateLimitExceeded`, `rateLimitExceeded` or `dailyLimitExceeded` (403, `usageLimits`)
    /// or `rateLimitExceeded429` (429 `RESOURCE_EXHAUSTED`); X `UsageCapExceeded` (429, the
    /// app's monthly cap).
    #[serde(default)]
    pub quota: Option<String>,
    /// While set, every revocation endpoint (`/revoke`, Meta's `DELETE /me/permissions`)
    /// answers 503 in its provider's shape: a provider outage during an erase or disconnect.
    #[serde(default)]
    pub revoke_unavailable: bool,
}

/// A fault injected into one data request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFault {
    /// A 5xx.
    Unavailable,
    /// The provider's throttling reply, resetting this many seconds ahead.
    Throttled { reset_secs: u64 },
    /// A page whose JSON is cut off.
    Malformed,
}

/// Cuts a JSON body in the middle (the malformed-page fault).
pub fn truncated(body: &str) -> String {
    body.chars().take(body.chars().count() / 2).collect()
}
