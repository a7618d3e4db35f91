//! The authorization URL, built with the `oauth2` crate: the app's client id and redirect URI,
//! the provider's scopes and extra parameters, our state, and a PKCE S256 challenge where the
//! provider takes one.

use oauth2::{
    basic::BasicClient, AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope,
};

use crate::providers::app::ProviderApp;
use crate::providers::oauth_spec::Pkce;

/// A URL to send the browser to, and the PKCE verifier to keep (sealed) with the state.
pub struct Authorization {
    pub url: url::Url,
    pub pkce_verifier: Option<String>,
}

/// Whether this provider gets a PKCE challenge from us.
pub fn uses_pkce(app: &ProviderApp) -> bool {
    app.spec.pkce != Pkce::Unsupported
}

pub fn authorization_url(app: &ProviderApp, state: &str) -> Authorization {
    let client = BasicClient::new(ClientId::new(app.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(app.auth_url.clone()))
        .set_redirect_uri(RedirectUrl::from_url(app.redirect_uri.clone()));
    let state = state.to_string();
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(app.scopes.iter().map(|s| Scope::new(s.clone())));
    for (k, v) in app.spec.extra_authorize_params {
        request = request.add_extra_param(*k, *v);
    }
    let mut pkce_verifier = None;
    if uses_pkce(app) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        pkce_verifier = Some(verifier.secret().clone());
    }
    let (url, _) = request.url();
    Authorization { url, pkce_verifier }
}
