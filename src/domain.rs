//! The ground floor: the vocabulary every layer shares, depending on nothing of the product —
//! which providers exist, the kinds of item, a place, an item ready to store, the states of a
//! data source, how much of a source a listing covered, how an OAuth client authenticates at a
//! token endpoint, and the sync mode
//! and trigger names (which live with the job payloads in `lifesync-jobs` and are re-exported
//! here). Strings for these appear only at the edges (the database, JSON, metric labels),
//! through `as_str`/`parse`.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

pub use lifesync_jobs::payloads::{SyncMode, SyncTrigger};

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

/// The kinds of item the contract knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Post,
    Media,
    Email,
}

impl ItemKind {
    pub const ALL: [ItemKind; 3] = [Self::Post, Self::Media, Self::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "post",
            Self::Media => "media",
            Self::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a data source stands (`data_sources.status`; the API's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataSourceStatus {
    /// Connected and synced on schedule.
    Active,
    /// The provider refused the tokens and renewal failed: the user must connect again.
    ReauthRequired,
    /// The user disconnected it; left only by a new connect.
    Disconnected,
    /// The account or app may not read its data (missing scope, restricted account).
    Error,
}

impl DataSourceStatus {
    pub const ALL: [DataSourceStatus; 4] = [
        Self::Active,
        Self::ReauthRequired,
        Self::Disconnected,
        Self::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::ReauthRequired => "reauth_required",
            Self::Disconnected => "disconnected",
            Self::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for DataSourceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of a source a complete full run's listing covered: the run's unseen items in that
/// scope are gone at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconcile {
    /// Everything the provider has: unseen items are gone.
    All,
    /// The provider lists only items from this time on (Twitter's 3,200 most recent posts,
    /// Instagram's 10,000 most recent media): unseen items from then on are gone.
    Since(DateTime<Utc>),
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)` (RFC 6749 `client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
    /// Facebook: a GET with `client_id`, `client_secret`, `code` in the query.
    Query,
}

impl ClientAuth {
    /// `{P}_TOKEN_AUTH` values.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client_secret_basic" => Some(Self::Basic),
            "client_secret_post" => Some(Self::Post),
            _ => None,
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

/// An item ready to store: what the normalizer makes of a provider's item.
#[derive(Debug, Clone)]
pub struct NormalizedItem {
    pub external_id: String,
    pub kind: ItemKind,
    pub occurred_at: DateTime<Utc>,
    pub text: String,
    pub category: Option<&'static str>,
    pub is_event: bool,
    pub event: Option<serde_json::Value>,
    pub mentions: Vec<String>,
    pub hashtags: Vec<String>,
    pub dates: Vec<NaiveDate>,
    pub location: Option<Location>,
    pub media_url: Option<String>,
    pub permalink: Option<String>,
    pub metrics: serde_json::Value,
    pub content_hash: [u8; 32],
    /// The cross-post link key; `None`: the item never links (too little real content).
    pub link_key: Option<[u8; 32]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in ProviderId::ALL {
            assert_eq!(ProviderId::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        for k in ItemKind::ALL {
            assert_eq!(ItemKind::parse(k.as_str()), Some(k));
        }
        for s in DataSourceStatus::ALL {
            assert_eq!(DataSourceStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ProviderId::parse("Twitter"), None);
    }
}
