//! What differs between the providers' OAuth servers: a [`Flavor`] (PKCE, client
//! authentication, lifetimes, refresh-token rules, error style, demo account, the token
//! reply's shape, revocation), which each provider's file sets in its
//! [`ProviderSpec`](crate::provider::ProviderSpec) and the one engine in [`super`] reads.

use std::time::Duration;

use crate::Provider;

/// What differs between providers' OAuth servers.
pub struct Flavor {
    pub pkce: PkceRule,
    pub client_auth: AuthRule,
    pub code_lifetime: Duration,
    pub access_ttl_secs: i64,
    pub refresh: RefreshRule,
    pub errors: ErrorStyle,
    pub default_account: &'static str,
    /// A denied authorization also carries `error_reason=user_denied` (Meta).
    pub error_reason: bool,
    /// Appended to the authorization redirect (Instagram: `#_`).
    pub redirect_fragment: &'static str,
    /// The token endpoint also takes Facebook's `fb_exchange_token` grant.
    pub exchange_grant: bool,
    /// The token reply's shape.
    pub reply: TokenReply,
    /// Who may call the revocation endpoint.
    pub revoke_auth: RevokeAuth,
    /// Revoking either token revokes the whole grant, and an unknown token is 400
    /// `invalid_token` (Google).
    pub revoke_grant: bool,
    /// The revocation reply's JSON body (None: an empty body, no content type).
    pub revoke_body: Option<&'static str>,
}

/// The token reply's shape.
#[derive(Clone, Copy)]
pub enum TokenReply {
    /// RFC 6749 JSON with this spelling of `token_type` (`Bearer`; X: `bearer`).
    Rfc { token_type: &'static str },
    /// LinkedIn's: the granted scopes joined with commas, no refresh token unless the flavor
    /// issues one.
    CommaScope,
    /// A body of the provider's own, from (access token, account), never a refresh token
    /// (Instagram's flat short-lived reply).
    Flat(fn(&str, &str) -> String),
}

/// Who may call the revocation endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RevokeAuth {
    /// Anyone (Google).
    Anyone,
    /// `Authorization: Basic` only; else 401 `unauthorized_client` (X).
    Basic,
    /// Basic, or `client_id` and `client_secret` in the body; else 401 `invalid_client`
    /// (LinkedIn).
    BasicOrPost,
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

/// Provider `p`'s flavor, as its [`ProviderSpec`](crate::provider::ProviderSpec) sets it.
pub fn flavor(p: Provider) -> &'static Flavor {
    &p.spec().flavor
}
