//! One provider's app as configured: client credentials, redirect URI and the endpoints in
//! force (the OAuth spec's defaults or the `{P}_AUTH_URL` / `{P}_TOKEN_URL` /
//! `{P}_API_BASE_URL` overrides), rate caps, scopes and the provider's own settings (LinkedIn's
//! API version, Outlook's excluded folders). Built once from configuration; read by the OAuth
//! flows (authorize, exchange, refresh, revoke) and by every provider request.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::oauth_spec::{spec, OAuthSpec};
use super::{limiter::PerMinute, ProviderId};
use crate::{config::ProviderConfig, domain::ClientAuth};

/// One provider's app as configured.
pub struct ProviderApp {
    pub id: ProviderId,
    pub client_id: String,
    client_secret: SecretString,
    pub redirect_uri: Url,
    pub auth_url: Url,
    pub token_url: Url,
    /// The API base; the provider's documented paths are appended to it.
    pub api_base: Url,
    pub client_auth: ClientAuth,
    pub spec: &'static OAuthSpec,
    /// Request-rate caps shared by all workers (None: uncapped).
    pub app_rate_limit: Option<PerMinute>,
    pub account_rate_limit: Option<PerMinute>,
    /// The scopes requested at authorization (`{P}_SCOPES`, else the spec's default).
    pub scopes: Vec<String>,
    /// The API version sent (LinkedIn: `LINKEDIN_API_VERSION`, else the client's default).
    pub api_version: Option<String>,
    /// Outlook: mail folders not synced (`MICROSOFT_EXCLUDED_FOLDERS`; None: the client's
    /// default, Junk Email and Deleted Items), by well-known name or id.
    pub excluded_folders: Option<Vec<String>>,
}

impl std::fmt::Debug for ProviderApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProviderApp({}, {}, ***)", self.id, self.client_id)
    }
}

impl ProviderApp {
    pub fn new(id: ProviderId, c: &ProviderConfig) -> Self {
        let spec = spec(id);
        let default = |u: &str| Url::parse(u).expect("spec URLs parse (tested)");
        Self {
            id,
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.clone(),
            redirect_uri: c.redirect_uri.clone(),
            auth_url: c.auth_url.clone().unwrap_or_else(|| default(spec.auth_url)),
            token_url: c
                .token_url
                .clone()
                .unwrap_or_else(|| default(spec.token_url)),
            api_base: c
                .api_base_url
                .clone()
                .unwrap_or_else(|| default(spec.api_base_url)),
            client_auth: c.token_auth.unwrap_or(spec.client_auth),
            spec,
            app_rate_limit: c.app_rate_limit.map(PerMinute),
            account_rate_limit: c.account_rate_limit.map(PerMinute),
            scopes: c
                .scopes
                .clone()
                .unwrap_or_else(|| spec.scopes.iter().map(|s| s.to_string()).collect()),
            api_version: c.api_version.clone(),
            excluded_folders: c.excluded_folders.clone(),
        }
    }

    /// Whether the configured scopes include `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    pub fn client_secret(&self) -> &str {
        self.client_secret.expose_secret()
    }

    /// `{api_base}{path}`, keeping any path prefix of the base (`path` starts with `/`).
    pub fn api_url(&self, path: &str) -> Url {
        join(&self.api_base, path)
    }

    /// The token URL's sibling endpoint (`…/token` → `…/revoke`).
    pub fn token_sibling(&self, name: &str) -> Url {
        let mut u = self.token_url.clone();
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop().push(name);
        }
        u
    }
}

/// `base` + `path`, keeping the base's path prefix.
pub fn join(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    let prefix = u.path().trim_end_matches('/').to_string();
    u.set_path(&format!("{prefix}{path}"));
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_append_to_prefixed_bases_and_siblings_replace_the_last_segment() {
        let base = Url::parse("http://127.0.0.1:9090/google").unwrap();
        assert_eq!(
            join(&base, "/gmail/v1/users/me/profile").as_str(),
            "http://127.0.0.1:9090/google/gmail/v1/users/me/profile"
        );
        let c = ProviderConfig {
            client_id: "id".into(),
            client_secret: SecretString::from("s"),
            redirect_uri: Url::parse("http://x/cb").unwrap(),
            auth_url: None,
            token_url: Some(Url::parse("http://sbx/twitter/2/oauth2/token").unwrap()),
            api_base_url: None,
            token_auth: None,
            app_rate_limit: None,
            account_rate_limit: None,
            scopes: None,
            api_version: None,
            excluded_folders: None,
        };
        let app = ProviderApp::new(ProviderId::Twitter, &c);
        assert_eq!(
            app.token_sibling("revoke").as_str(),
            "http://sbx/twitter/2/oauth2/revoke"
        );
        assert_eq!(app.auth_url.as_str(), "https://x.com/i/oauth2/authorize");
        assert_eq!(app.client_auth, ClientAuth::Basic);
    }
}
