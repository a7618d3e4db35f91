//! The configured provider apps ([`ProviderApp`], one per configured provider), with the HTTP
//! client they share. Built once from configuration; shared by the API (authorize, revoke) and
//! the workers (code exchange, refresh, provider calls).

use std::collections::BTreeMap;

use crate::{config::ProviderConfig, domain::ProviderId, providers::app::ProviderApp};

/// Every configured provider app, with the HTTP client they share.
#[derive(Debug)]
pub struct ProviderApps {
    apps: BTreeMap<ProviderId, ProviderApp>,
    pub http: reqwest::Client,
}

impl ProviderApps {
    pub fn new(config: &BTreeMap<ProviderId, ProviderConfig>, http: reqwest::Client) -> Self {
        Self {
            apps: config
                .iter()
                .map(|(p, c)| (*p, ProviderApp::new(*p, c)))
                .collect(),
            http,
        }
    }

    pub fn get(&self, p: ProviderId) -> Option<&ProviderApp> {
        self.apps.get(&p)
    }

    pub fn configured(&self) -> impl Iterator<Item = ProviderId> + '_ {
        self.apps.keys().copied()
    }
}
