//! What differs between the six providers' OAuth servers: one [`Flavor`] each (PKCE, client
//! authentication, lifetimes, refresh-token rules, error style, demo account), read by the one
//! engine in [`super`].

use std::time::Duration;

use crate::Provider;

/// What differs between providers' OAuth servers.
pub struct Flavor {
    pub provider: Provider,
    pub pkce: PkceRule,
    pub client_auth: AuthRule,
    pub code_lifetime: Duration,
    pub access_ttl_secs: i64,
    pub refresh: RefreshRule,
    pub errors: ErrorStyle,
    pub default_account: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PkceRule {
    /// No challenge, no code (Twitter).
    Required,
    /// Checked when the authorization carried a challenge (Google, Microsoft).
    Optional,
    /// Not part of the flow; a challenge is ignored (Meta, LinkedIn).
    Ignored,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AuthRule {
    /// `Authorization: Basic` mandatory (Twitter confidential clients).
    Basic,
    /// `client_secret_basic` or `client_secret_post`.
    BasicOrPost,
    /// Facebook: GET with the credentials in the query.
    Query,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RefreshRule {
    /// No refresh tokens (Meta, LinkedIn by default).
    None,
    /// Only when this scope was granted; each refresh token works once and the reply carries
    /// a new one (Twitter: `offline.access`).
    SingleUse(&'static str),
    /// Only with this scope; every refresh returns a new one, old ones keep working
    /// (Microsoft: `offline_access`).
    RotateKeepOld(&'static str),
    /// Always issued, never rotated (Google with `access_type=offline`).
    Fixed,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    Rfc,
    Twitter,
    Microsoft,
    LinkedIn,
    Instagram,
    Graph,
}

pub fn flavor(p: Provider) -> &'static Flavor {
    match p {
        Provider::Instagram => &INSTAGRAM,
        Provider::Twitter => &TWITTER,
        Provider::Google => &GOOGLE,
        Provider::Facebook => &FACEBOOK,
        Provider::Linkedin => &LINKEDIN,
        Provider::Microsoft => &MICROSOFT,
    }
}

static INSTAGRAM: Flavor = Flavor {
    provider: Provider::Instagram,
    pkce: PkceRule::Ignored,
    client_auth: AuthRule::BasicOrPost,
    code_lifetime: Duration::from_secs(3600),
    access_ttl_secs: 3600,
    refresh: RefreshRule::None,
    errors: ErrorStyle::Instagram,
    default_account: crate::instagram::ACCOUNT,
};
static TWITTER: Flavor = Flavor {
    provider: Provider::Twitter,
    pkce: PkceRule::Required,
    client_auth: AuthRule::Basic,
    code_lifetime: Duration::from_secs(30),
    access_ttl_secs: 7200,
    refresh: RefreshRule::SingleUse("offline.access"),
    errors: ErrorStyle::Twitter,
    default_account: "1001",
};
static GOOGLE: Flavor = Flavor {
    provider: Provider::Google,
    pkce: PkceRule::Optional,
    client_auth: AuthRule::BasicOrPost,
    code_lifetime: Duration::from_secs(600),
    access_ttl_secs: 3599,
    refresh: RefreshRule::Fixed,
    errors: ErrorStyle::Rfc,
    default_account: crate::google::ACCOUNT,
};
static FACEBOOK: Flavor = Flavor {
    provider: Provider::Facebook,
    pkce: PkceRule::Ignored,
    client_auth: AuthRule::Query,
    code_lifetime: Duration::from_secs(600),
    access_ttl_secs: 5_183_944,
    refresh: RefreshRule::None,
    errors: ErrorStyle::Graph,
    default_account: crate::facebook::ACCOUNT,
};
static LINKEDIN: Flavor = Flavor {
    provider: Provider::Linkedin,
    pkce: PkceRule::Ignored,
    client_auth: AuthRule::BasicOrPost,
    code_lifetime: Duration::from_secs(1800),
    access_ttl_secs: 5_183_999,
    refresh: RefreshRule::None,
    errors: ErrorStyle::LinkedIn,
    default_account: crate::linkedin::ACCOUNT,
};
static MICROSOFT: Flavor = Flavor {
    provider: Provider::Microsoft,
    pkce: PkceRule::Optional,
    client_auth: AuthRule::BasicOrPost,
    code_lifetime: Duration::from_secs(600),
    access_ttl_secs: 4425,
    refresh: RefreshRule::RotateKeepOld("offline_access"),
    errors: ErrorStyle::Microsoft,
    default_account: crate::microsoft::ACCOUNT,
};
