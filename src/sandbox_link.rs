//! The product's one link to the provider sandbox (the `lifesync-sandbox` crate, which knows
//! nothing of lifesync): its provider names from ours, and its client configuration as a
//! [`ProviderConfig`]. `lifesync sandbox`, `lifesync dev`, the benches and the tests point
//! providers at a sandbox through [`provider_config`].

use secrecy::SecretString;
use url::Url;

use crate::{config::ProviderConfig, domain::ProviderId};

impl From<ProviderId> for lifesync_sandbox::Provider {
    fn from(p: ProviderId) -> Self {
        use lifesync_sandbox::Provider as P;
        match p {
            ProviderId::Instagram => P::Instagram,
            ProviderId::Twitter => P::Twitter,
            ProviderId::Google => P::Google,
            ProviderId::Facebook => P::Facebook,
            ProviderId::Linkedin => P::Linkedin,
            ProviderId::Microsoft => P::Microsoft,
        }
    }
}

/// A sandbox provider is its product namesake (tests compare the tokens the sandbox issued
/// with the product's sources).
impl PartialEq<ProviderId> for lifesync_sandbox::Provider {
    fn eq(&self, other: &ProviderId) -> bool {
        *self == Self::from(*other)
    }
}

/// The configuration that points provider `p` at a sandbox served at `base`, with the app's
/// callback at `redirect_uri`.
pub fn provider_config(p: ProviderId, base: &Url, redirect_uri: Url) -> ProviderConfig {
    let c = lifesync_sandbox::provider_config(p, base);
    ProviderConfig {
        client_id: c.client_id,
        client_secret: SecretString::from(c.client_secret),
        redirect_uri,
        auth_url: Some(c.auth_url),
        token_url: Some(c.token_url),
        api_base_url: Some(c.api_base_url),
        token_auth: None,
        app_rate_limit: None,
        account_rate_limit: None,
        scopes: c.scopes,
        api_version: None,
        excluded_folders: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_its_sandbox_namesake() {
        for p in ProviderId::ALL {
            assert_eq!(lifesync_sandbox::Provider::from(p).as_str(), p.as_str());
        }
    }

    #[test]
    fn the_sandbox_linkedin_app_asks_for_the_posts_scope() {
        let base = Url::parse("https://127.0.0.1:9/").unwrap();
        let c = provider_config(ProviderId::Linkedin, &base, base.join("/cb").unwrap());
        assert!(c.scopes.is_some_and(|s| s
            .iter()
            .any(|s| s == crate::providers::linkedin::POSTS_SCOPE)));
    }
}
