//! The providers lifesync syncs from. Today: their ids; the `Provider` trait, error classes and
//! one module per provider arrive with the sync issues.

use std::fmt;

/// A provider, spelled as in URLs, JSON and the database (`twitter`, `google`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
