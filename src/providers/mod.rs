//! The providers lifesync syncs from: their ids, the provider-neutral item a client returns,
//! and the error classes that alone decide retry, refresh or abort. One module per provider,
//! each owning its private serde wire types; base URLs come from configuration.
//!
//! Today: Twitter (`twitter.rs`). The other five join with the sync issue.

pub mod http;
pub mod profile;
pub mod twitter;

use std::{fmt, time::Duration};

use chrono::{DateTime, Utc};

/// An error from a provider, classified once.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The access token is invalid or expired: refresh once, then ask the user to reconnect.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The account or app may not read this (missing scope, restricted): a data-source status.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// Throttled: come back after this long (from Retry-After or the reset header).
    #[error("rate limited for {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 5xx, timeouts, connection failures: retry with backoff.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help (bad request, malformed reply).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<reqwest::Error> for ProviderError {
    fn from(e: reqwest::Error) -> Self {
        // Never include the URL: some providers embed tokens in it.
        let e = e.without_url();
        if e.is_decode() {
            Self::Permanent(format!("malformed reply: {e}"))
        } else {
            Self::Transient(e.to_string())
        }
    }
}

/// The kinds of item the contract knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Post,
    Media,
    Email,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "post",
            Self::Media => "media",
            Self::Email => "email",
        }
    }
}

/// A place, from provider place data or coordinates.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Location {
    pub name: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// One item as a provider returned it, in provider-neutral terms, before normalization.
#[derive(Debug, Clone)]
pub struct RawItem {
    pub external_id: String,
    pub kind: ItemKind,
    pub occurred_at: DateTime<Utc>,
    pub text: String,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    pub location: Option<Location>,
    pub media_url: Option<String>,
    pub permalink: Option<String>,
    /// Provider counters (likes, replies, …).
    pub metrics: serde_json::Value,
}

/// A provider, spelled as in URLs, JSON and the database (`twitter`, `google`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderId {
    Instagram,
    Twitter,
    Google,
    Facebook,
    Linkedin,
    Microsoft,
}

impl ProviderId {
    pub const ALL: [ProviderId; 6] = [
        Self::Instagram,
        Self::Twitter,
        Self::Google,
        Self::Facebook,
        Self::Linkedin,
        Self::Microsoft,
    ];

    /// The lower-case id used in URLs, JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instagram => "instagram",
            Self::Twitter => "twitter",
            Self::Google => "google",
            Self::Facebook => "facebook",
            Self::Linkedin => "linkedin",
            Self::Microsoft => "microsoft",
        }
    }

    /// The `{P}` of the contract's environment variables (`TWITTER_CLIENT_ID`, …).
    pub fn env_prefix(self) -> &'static str {
        match self {
            Self::Instagram => "INSTAGRAM",
            Self::Twitter => "TWITTER",
            Self::Google => "GOOGLE",
            Self::Facebook => "FACEBOOK",
            Self::Linkedin => "LINKEDIN",
            Self::Microsoft => "MICROSOFT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
