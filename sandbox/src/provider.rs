//! The providers the sandbox stands in for, spelled as in its paths (`/twitter`, `/google`, …),
//! and the client configuration that points a client at a sandbox.

use std::fmt;

use url::Url;

/// A provider the sandbox stands in for, spelled as in its paths and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Instagram,
    Twitter,
    Google,
    Facebook,
    Linkedin,
    Microsoft,
}

impl Provider {
    pub const ALL: [Provider; 6] = [
        Self::Instagram,
        Self::Twitter,
        Self::Google,
        Self::Facebook,
        Self::Linkedin,
        Self::Microsoft,
    ];

    /// The lower-case name: the path prefix of its routes.
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

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Its position in [`Provider::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// LinkedIn's restricted scope for a member's posts, which LinkedIn grants only to approved
/// apps (the sandbox's app is approved).
pub const LINKEDIN_POSTS_SCOPE: &str = "r_member_social";

/// What a client needs to use a sandbox as provider `p`: the app's credentials, as the
/// sandbox's OAuth servers accept them, and the endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub client_id: String,
    pub client_secret: String,
    pub auth_url: Url,
    pub token_url: Url,
    /// Where the provider's data API lives; the client appends the documented paths.
    pub api_base_url: Url,
    /// The scopes to ask for when they differ from the provider's documented default (LinkedIn:
    /// the sandbox's app is approved for the member posts scope).
    pub scopes: Option<Vec<String>>,
}

/// `base` with `path` appended to its own path (a base may carry a prefix).
fn join(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    let prefix = u.path().trim_end_matches('/').to_string();
    u.set_path(&format!("{prefix}{path}"));
    u
}

/// The client configuration that points provider `p` at a sandbox served at `base`.
pub fn provider_config(p: impl Into<Provider>, base: &Url) -> ClientConfig {
    let p = p.into();
    let (auth, token) = match p {
        Provider::Instagram => (
            "/instagram/oauth/authorize",
            "/instagram/oauth/access_token",
        ),
        Provider::Twitter => ("/twitter/i/oauth2/authorize", "/twitter/2/oauth2/token"),
        Provider::Google => ("/google/o/oauth2/v2/auth", "/google/token"),
        Provider::Facebook => (
            "/facebook/v18.0/dialog/oauth",
            "/facebook/v18.0/oauth/access_token",
        ),
        Provider::Linkedin => (
            "/linkedin/oauth/v2/authorization",
            "/linkedin/oauth/v2/accessToken",
        ),
        Provider::Microsoft => (
            "/microsoft/common/oauth2/v2.0/authorize",
            "/microsoft/common/oauth2/v2.0/token",
        ),
    };
    ClientConfig {
        client_id: format!("lifesync-{}", p.as_str()),
        client_secret: format!("sandbox-secret-{}", p.as_str()),
        auth_url: join(base, auth),
        token_url: join(base, token),
        api_base_url: join(base, &format!("/{}", p.as_str())),
        scopes: (p == Provider::Linkedin).then(|| {
            ["openid", "profile", "email", LINKEDIN_POSTS_SCOPE]
                .map(String::from)
                .to_vec()
        }),
    }
}
