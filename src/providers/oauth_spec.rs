//! What each provider's OAuth looks like (as its documentation says): default endpoints, the
//! scopes the data we sync needs, extra authorization parameters, PKCE, how the client
//! authenticates at the token endpoint, long-lived token exchange, refresh and revocation. One
//! table entry per provider; the flows in `oauth` read only this table, so a seventh provider
//! is one entry.

use crate::domain::{ClientAuth, ProviderId};

/// Whether the provider takes a PKCE challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkce {
    /// The token request fails without it (Twitter).
    Required,
    /// Accepted and used (Google, Microsoft).
    Supported,
    /// Not offered for web apps (Meta, LinkedIn): state + client secret only.
    Unsupported,
}

/// Turning the code's token into a long-lived one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongLived {
    None,
    /// `GET {api}/access_token?grant_type=ig_exchange_token&client_secret&access_token`.
    Instagram,
    /// `GET {token_url}?grant_type=fb_exchange_token&client_id&client_secret&fb_exchange_token`.
    Facebook,
}

/// How an access token is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// `grant_type=refresh_token` (rotation when the reply carries a new refresh token).
    RefreshToken,
    /// Instagram: the long-lived token refreshes itself (`ig_refresh_token`), ≥ 24 h after
    /// issue and before expiry.
    Instagram,
    /// Facebook: an unexpired long-lived token is exchanged again (`fb_exchange_token`).
    Facebook,
}

/// Revocation at disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoke {
    None,
    /// `POST` to the token URL's sibling `revoke` with `token` (+ client authentication):
    /// Twitter (`/2/oauth2/revoke`), Google (`/revoke`), LinkedIn (`/oauth/v2/revoke`).
    SiblingOfTokenUrl,
    /// Facebook: `DELETE {api}/v18.0/me/permissions`.
    FacebookPermissions,
}

/// One provider's OAuth facts.
#[derive(Debug)]
pub struct OAuthSpec {
    pub auth_url: &'static str,
    pub token_url: &'static str,
    pub api_base_url: &'static str,
    pub scopes: &'static [&'static str],
    pub extra_authorize_params: &'static [(&'static str, &'static str)],
    pub pkce: Pkce,
    pub client_auth: ClientAuth,
    pub long_lived: LongLived,
    pub refresh: Refresh,
    pub revoke: Revoke,
    /// Renew this long before expiry (short-lived tokens: minutes; 60-day tokens: days).
    pub refresh_margin_secs: i64,
}

/// The table.
pub fn spec(p: ProviderId) -> &'static OAuthSpec {
    match p {
        ProviderId::Instagram => &INSTAGRAM,
        ProviderId::Twitter => &TWITTER,
        ProviderId::Google => &GOOGLE,
        ProviderId::Facebook => &FACEBOOK,
        ProviderId::Linkedin => &LINKEDIN,
        ProviderId::Microsoft => &MICROSOFT,
    }
}

const DAY: i64 = 86_400;

static INSTAGRAM: OAuthSpec = OAuthSpec {
    auth_url: "https://www.instagram.com/oauth/authorize",
    token_url: "https://api.instagram.com/oauth/access_token",
    api_base_url: "https://graph.instagram.com",
    scopes: &["instagram_business_basic"],
    extra_authorize_params: &[],
    pkce: Pkce::Unsupported,
    client_auth: ClientAuth::Post,
    long_lived: LongLived::Instagram,
    refresh: Refresh::Instagram,
    revoke: Revoke::None,
    refresh_margin_secs: 7 * DAY,
};

static TWITTER: OAuthSpec = OAuthSpec {
    auth_url: "https://x.com/i/oauth2/authorize",
    token_url: "https://api.x.com/2/oauth2/token",
    api_base_url: "https://api.x.com",
    scopes: &["tweet.read", "users.read", "offline.access"],
    extra_authorize_params: &[],
    pkce: Pkce::Required,
    client_auth: ClientAuth::Basic,
    long_lived: LongLived::None,
    refresh: Refresh::RefreshToken,
    revoke: Revoke::SiblingOfTokenUrl,
    refresh_margin_secs: 300,
};

static GOOGLE: OAuthSpec = OAuthSpec {
    auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
    token_url: "https://oauth2.googleapis.com/token",
    api_base_url: "https://gmail.googleapis.com",
    scopes: &[
        "https://www.googleapis.com/auth/gmail.readonly",
        "openid",
        "email",
    ],
    extra_authorize_params: &[
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
    ],
    pkce: Pkce::Supported,
    client_auth: ClientAuth::Post,
    long_lived: LongLived::None,
    refresh: Refresh::RefreshToken,
    revoke: Revoke::SiblingOfTokenUrl,
    refresh_margin_secs: 300,
};

static FACEBOOK: OAuthSpec = OAuthSpec {
    auth_url: "https://www.facebook.com/v18.0/dialog/oauth",
    token_url: "https://graph.facebook.com/v18.0/oauth/access_token",
    api_base_url: "https://graph.facebook.com",
    scopes: &["public_profile", "email", "user_posts"],
    extra_authorize_params: &[],
    pkce: Pkce::Unsupported,
    client_auth: ClientAuth::Query,
    long_lived: LongLived::Facebook,
    refresh: Refresh::Facebook,
    revoke: Revoke::FacebookPermissions,
    refresh_margin_secs: 7 * DAY,
};

static LINKEDIN: OAuthSpec = OAuthSpec {
    auth_url: "https://www.linkedin.com/oauth/v2/authorization",
    token_url: "https://www.linkedin.com/oauth/v2/accessToken",
    api_base_url: "https://api.linkedin.com",
    // What an app without partner approval is granted: OpenID sign-in only. Posts need the
    // restricted `r_member_social` (add it with `LINKEDIN_SCOPES` once LinkedIn approves the
    // app); without it the posts sync is skipped (0 posts, no `/rest/posts` call).
    scopes: &["openid", "profile", "email"],
    extra_authorize_params: &[],
    pkce: Pkce::Unsupported,
    client_auth: ClientAuth::Post,
    long_lived: LongLived::None,
    refresh: Refresh::RefreshToken,
    revoke: Revoke::SiblingOfTokenUrl,
    refresh_margin_secs: DAY,
};

static MICROSOFT: OAuthSpec = OAuthSpec {
    auth_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    api_base_url: "https://graph.microsoft.com",
    scopes: &[
        "offline_access",
        "User.Read",
        "Mail.Read",
        "openid",
        "profile",
        "email",
    ],
    extra_authorize_params: &[("response_mode", "query")],
    pkce: Pkce::Supported,
    client_auth: ClientAuth::Post,
    long_lived: LongLived::None,
    refresh: Refresh::RefreshToken,
    revoke: Revoke::None,
    refresh_margin_secs: 300,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_parseable_endpoints_and_scopes() {
        for p in ProviderId::ALL {
            let s = spec(p);
            for u in [s.auth_url, s.token_url, s.api_base_url] {
                url::Url::parse(u).unwrap_or_else(|e| panic!("{p}: {u}: {e}"));
            }
            assert!(!s.scopes.is_empty(), "{p}");
        }
        assert_eq!(spec(ProviderId::Twitter).pkce, Pkce::Required);
        assert!(spec(ProviderId::Twitter).scopes.contains(&"offline.access"));
        assert!(spec(ProviderId::Microsoft)
            .scopes
            .contains(&"offline_access"));
    }
}
