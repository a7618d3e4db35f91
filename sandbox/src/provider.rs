//! The providers the sandbox stands in for, spelled as in its paths (`/twitter`, `/google`, …),
//! the one table of what the sandbox knows of each ([`SPECS`]: a [`ProviderSpec`] that each
//! provider's own file defines as its `SPEC`), and the client configuration that points a client
//! at a sandbox.

use std::fmt;

use poem::{Response, Route};
use url::Url;

use crate::{faults::DataFault, oauth::Flavor, SandboxState};

/// Everything the sandbox's shared parts need of one provider, defined in the provider's own
/// file as `pub const SPEC` and listed once in [`SPECS`]: the app ([`crate::app`]) mounts its
/// routes, the preamble ([`crate::preamble`]) answers its 401 and faults, the OAuth engine
/// ([`crate::oauth`]) reads its flavor, [`provider_config`] its endpoints.
pub struct ProviderSpec {
    pub provider: Provider,
    /// The lower-case name: the path prefix of its routes (`/{name}`, `/_sandbox/{name}`).
    pub name: &'static str,
    /// The authorization endpoint, below `/{name}`.
    pub auth_path: &'static str,
    /// The token endpoint, below `/{name}`.
    pub token_path: &'static str,
    /// The scopes a client asks for when they differ from the provider's documented default.
    pub scopes: Option<&'static [&'static str]>,
    /// Its OAuth server.
    pub flavor: Flavor,
    /// The access token may also come as the `access_token` query parameter (Meta).
    pub token_in_query: bool,
    /// The token is checked as the request arrives, not when the reply is due (X).
    pub token_on_arrival: bool,
    /// Its reply to a missing, expired or revoked access token.
    pub unauthorized: fn() -> Response,
    /// A 5xx or throttling fault in its shape, for (state, account, fault).
    pub fault_reply: fn(&SandboxState, &str, DataFault) -> Response,
    /// Its reply to the quota fault of this kind, if it has one.
    pub quota_reply: fn(&str) -> Option<Response>,
    /// Its profile, data and OAuth endpoints, mounted at `/{name}`.
    pub routes: fn() -> Route,
    /// Its sandbox-only control endpoints, mounted at `/_sandbox/{name}`.
    pub control_routes: Option<fn() -> Route>,
}

/// Every provider's spec, in [`Provider`] order (a test checks it): the one list a new provider
/// joins.
pub const SPECS: &[&ProviderSpec] = &[
    &crate::instagram::SPEC,
    &crate::twitter::SPEC,
    &crate::google::SPEC,
    &crate::facebook::SPEC,
    &crate::linkedin::SPEC,
    &crate::microsoft::SPEC,
];

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
    /// Every provider, in [`SPECS`] order.
    pub const ALL: [Provider; SPECS.len()] = {
        let mut all = [Provider::Instagram; SPECS.len()];
        let mut i = 0;
        while i < SPECS.len() {
            all[i] = SPECS[i].provider;
            i += 1;
        }
        all
    };

    /// The lower-case name: the path prefix of its routes.
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// What the sandbox knows of it.
    pub fn spec(self) -> &'static ProviderSpec {
        SPECS[self.index()]
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
    let spec = p.spec();
    ClientConfig {
        client_id: format!("lifesync-{}", p.as_str()),
        client_secret: format!("sandbox-secret-{}", p.as_str()),
        auth_url: join(base, &format!("/{}{}", spec.name, spec.auth_path)),
        token_url: join(base, &format!("/{}{}", spec.name, spec.token_path)),
        api_base_url: join(base, &format!("/{}", spec.name)),
        scopes: spec
            .scopes
            .map(|s| s.iter().map(|x| x.to_string()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::SPECS;

    /// [`SPECS`] is in [`Provider`] order and spells each name as the enum serializes.
    #[test]
    fn specs_follow_the_enum() {
        for (i, spec) in SPECS.iter().enumerate() {
            assert_eq!(spec.provider.index(), i);
            assert_eq!(
                serde_json::to_value(spec.provider).unwrap(),
                serde_json::json!(spec.name)
            );
        }
    }
}
