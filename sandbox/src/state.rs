//! [`SandboxState`], the shared state of one sandbox: the tokens it issued, its clock (which
//! tests move), the request and revocation logs, the faults in force, per-provider hit counts,
//! and every provider's data set.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicI64, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use crate::{
    facebook, faults::DataFault, google, instagram, linkedin, microsoft, oauth, twitter, Faults,
    Provider,
};

/// An access token the sandbox issued.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    pub provider: Provider,
    pub account: String,
    pub access_token: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
}

/// A revocation the sandbox carried out (sandbox-only log: tests check what was revoked).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revocation {
    pub provider: String,
    pub account: String,
    /// `access_token`, `refresh_token`, or `grant` (every token of the account: Google's
    /// revoke, Meta's `DELETE /me/permissions`).
    pub token_type: String,
}

/// Shared state of one sandbox.
pub struct SandboxState {
    pub seed: u64,
    pub faults: Mutex<Faults>,
    /// access token → what it grants.
    tokens: Mutex<HashMap<String, TokenInfo>>,
    /// Every data request, as `provider path?query`, for tests that check what was fetched.
    pub requests: Mutex<Vec<String>>,
    /// Every revocation carried out, in order.
    pub revocations: Mutex<Vec<Revocation>>,
    /// Seconds added to the wall clock (`/_sandbox/clock`): expiry without waiting.
    clock_offset_ms: AtomicI64,
    /// Every request that reached a provider's routes (OAuth, profile and data), per provider,
    /// in [`Provider::ALL`] order: what a provider would bill or count against its limits.
    hits: [AtomicU64; crate::provider::SPECS.len()],
    pub twitter: twitter::TwitterData,
    pub instagram: instagram::InstagramData,
    pub google: google::GoogleData,
    pub facebook: facebook::FacebookData,
    pub linkedin: linkedin::LinkedinData,
    pub microsoft: microsoft::MicrosoftData,
    pub oauth: oauth::OAuthServer,
}

impl SandboxState {
    pub fn new(seed: u64) -> Arc<Self> {
        Arc::new(Self {
            seed,
            faults: Mutex::new(Faults::default()),
            tokens: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            revocations: Mutex::new(Vec::new()),
            clock_offset_ms: Default::default(),
            hits: Default::default(),
            twitter: twitter::TwitterData::new(seed),
            instagram: instagram::InstagramData::new(seed),
            google: google::GoogleData::new(seed),
            facebook: facebook::FacebookData::new(seed),
            linkedin: linkedin::LinkedinData::new(seed),
            microsoft: microsoft::MicrosoftData::new(seed),
            oauth: oauth::OAuthServer::default(),
        })
    }

    /// The sandbox's time (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        wall + self.clock_offset_ms.load(Ordering::SeqCst)
    }

    pub fn advance_clock(&self, by: Duration) {
        self.clock_offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// Requests that reached provider `p`'s routes since the sandbox started.
    pub fn hits(&self, p: impl Into<Provider>) -> u64 {
        self.hits[p.into().index()].load(Ordering::SeqCst)
    }

    /// The ids of the items `account` holds at provider `p` (live ones: mail in every folder).
    pub fn item_ids(&self, p: impl Into<Provider>, account: &str) -> Vec<String> {
        match p.into() {
            Provider::Twitter => self.twitter.ids(account),
            Provider::Instagram => self.instagram.ids(account),
            Provider::Google => self.google.ids(account),
            Provider::Facebook => self.facebook.ids(account),
            Provider::Linkedin => self.linkedin.ids(account),
            Provider::Microsoft => self.microsoft.ids(account),
        }
    }

    /// Adds `n` new items to `account` at provider `p`; returns their ids.
    pub fn add_items(&self, p: impl Into<Provider>, account: &str, n: usize) -> Vec<String> {
        match p.into() {
            Provider::Twitter => self.twitter.add_tweets(account, n),
            Provider::Instagram => self.instagram.add(account, n),
            Provider::Google => self.google.add(account, n),
            Provider::Facebook => self.facebook.add(account, n),
            Provider::Linkedin => self.linkedin.add(account, n),
            Provider::Microsoft => self.microsoft.add(account, n),
        }
    }

    pub(crate) fn hit(&self, p: Provider) {
        self.hits[p.index()].fetch_add(1, Ordering::SeqCst);
    }

    /// Issues a Twitter access token for an account (tests and the dev demo).
    pub fn issue_token(&self, account_id: &str) -> String {
        self.issue_token_for(Provider::Twitter, account_id, 7200)
    }

    /// Issues an access token valid `ttl_secs` on the sandbox clock.
    pub fn issue_token_for(
        &self,
        provider: impl Into<Provider>,
        account: &str,
        ttl_secs: i64,
    ) -> String {
        let provider = provider.into();
        let token = format!("{}-at-{:032x}", provider.as_str(), rand::random::<u128>());
        let now = self.now_ms();
        self.tokens.lock().expect("tokens").insert(
            token.clone(),
            TokenInfo {
                provider,
                account: account.to_string(),
                access_token: token.clone(),
                issued_ms: now,
                expires_ms: now + ttl_secs * 1000,
            },
        );
        token
    }

    /// What a valid (issued by this provider, unexpired, unrevoked) token grants.
    pub fn token_info(&self, provider: impl Into<Provider>, token: &str) -> Option<TokenInfo> {
        let provider = provider.into();
        let info = self.tokens.lock().expect("tokens").get(token).cloned()?;
        (info.provider == provider && info.expires_ms > self.now_ms()).then_some(info)
    }

    /// The Twitter account of a valid token.
    pub fn account_of(&self, token: &str) -> Option<String> {
        self.token_info(Provider::Twitter, token).map(|i| i.account)
    }

    /// Every access token issued, for tests that compare what lifesync stored.
    pub fn issued_tokens(&self) -> Vec<TokenInfo> {
        self.tokens
            .lock()
            .expect("tokens")
            .values()
            .cloned()
            .collect()
    }

    /// Revokes one access or refresh token of `provider` and logs it; the account it belonged
    /// to, None when it was unknown (or already revoked).
    pub fn revoke_token(&self, provider: Provider, token: &str) -> Option<String> {
        let access = {
            let mut tokens = self.tokens.lock().expect("tokens");
            match tokens.get(token) {
                Some(i) if i.provider == provider => tokens.remove(token).map(|i| i.account),
                _ => None,
            }
        };
        let (account, token_type) = match access {
            Some(a) => (a, "access_token"),
            None => (self.oauth.revoke_refresh(provider, token)?, "refresh_token"),
        };
        self.log_revocation(provider, &account, token_type);
        Some(account)
    }

    /// Revokes the whole grant behind `token` (every access and refresh token of its account
    /// at `provider`), as Google's revoke and Meta's `DELETE /me/permissions` do; the account,
    /// None when the token was unknown.
    pub fn revoke_grant(&self, provider: Provider, token: &str) -> Option<String> {
        let account = self
            .token_info(provider, token)
            .map(|i| i.account)
            .or_else(|| self.oauth.refresh_account(provider, token))?;
        self.tokens
            .lock()
            .expect("tokens")
            .retain(|_, i| !(i.provider == provider && i.account == account));
        self.oauth.revoke_account(provider, &account);
        self.log_revocation(provider, &account, "grant");
        Some(account)
    }

    fn log_revocation(&self, provider: Provider, account: &str, token_type: &str) {
        self.revocations
            .lock()
            .expect("revocations")
            .push(Revocation {
                provider: provider.as_str().to_string(),
                account: account.to_string(),
                token_type: token_type.to_string(),
            });
    }

    /// Whether revocation endpoints are down (`Faults::revoke_unavailable`).
    pub fn revoke_unavailable(&self) -> bool {
        self.faults.lock().expect("faults").revoke_unavailable
    }

    /// Consumes one `token_fail_after_redeem` fault, if any is left.
    pub(crate) fn take_token_fault(&self) -> bool {
        let mut f = self.faults.lock().expect("faults");
        if f.token_fail_after_redeem > 0 {
            f.token_fail_after_redeem -= 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn record(&self, what: String) -> usize {
        let mut r = self.requests.lock().expect("requests");
        r.push(what);
        r.len()
    }

    /// Records a data request, applies the slow-reply fault and says which fault (if any) this
    /// request gets; [`crate::preamble`] calls it for every data handler.
    /// `page` says whether this request returns a page of items (only those get malformed).
    pub async fn before_reply(&self, what: String, page: bool) -> Option<DataFault> {
        let n = self.record(what);
        let f = self.faults.lock().expect("faults").clone();
        if f.slow_ms > 0 {
            tokio::time::sleep(Duration::from_millis(f.slow_ms)).await;
        }
        while self.faults.lock().expect("faults").hold_data {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if f.fail_every > 0 && n.is_multiple_of(f.fail_every as usize) {
            return Some(DataFault::Unavailable);
        }
        if f.fail_ratio > 0.0 {
            // A deterministic coin per (seed, request number).
            let h = (self.seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_mul(0xBF58_476D_1CE4_E5B9);
            if ((h >> 11) as f64 / (1u64 << 53) as f64) < f.fail_ratio {
                return Some(DataFault::Unavailable);
            }
        }
        if f.throttle_every > 0 && n.is_multiple_of(f.throttle_every as usize) {
            return Some(DataFault::Throttled { reset_secs: 1 });
        }
        if page && f.malformed_pages > 0 {
            self.faults.lock().expect("faults").malformed_pages -= 1;
            return Some(DataFault::Malformed);
        }
        None
    }

    /// The quota fault in force (`Faults::quota`), if any.
    pub fn quota_fault(&self) -> Option<String> {
        self.faults.lock().expect("faults").quota.clone()
    }

    /// Whether incremental cursors are to be answered as expired.
    pub fn cursors_expired(&self) -> bool {
        self.faults.lock().expect("faults").expire_cursors
    }

    /// The per-account request limit a test set (`Faults::rate_limit`), if any.
    pub fn rate_limit(&self) -> Option<u32> {
        self.faults.lock().expect("faults").rate_limit
    }
}
