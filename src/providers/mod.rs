//! The providers lifesync syncs from: their ids, the [`Provider`] trait every provider module
//! implements, the provider-neutral item a client returns, and the error classes that alone
//! decide retry, refresh or abort. One module per provider, each with the same inner shape
//! (a unit struct implementing [`Provider`], private serde wire types, conversion to
//! [`RawItem`]); base URLs come from configuration ([`ProviderApp`]).
//!
//! A sync run is a sequence of [`Provider::fetch_page`] calls. The provider alone knows its
//! paging and its incremental cursor, so both are opaque JSON to the worker: `page` is where
//! the run is (stored with each page's items, so a crash resumes at the next page), `cursor`
//! is the source's incremental cursor (stored in `data_sources.cursor_state[provider]`, moved
//! only in the transaction of a run's last page).
//!
//! A full run is a reconciliation: besides the items it returns, a page names the ids it saw
//! without fetching their bodies ([`Page::listed`]: known and unchanged), and a run's last page
//! says whether the run's listing covered everything the provider has ([`Page::reconcile`]);
//! the worker then marks the source's items the run did not see deleted (`db::reconcile`).
//! A provider sets it only when it walked its listing to the true end.

pub mod facebook;
pub mod gmail;
pub mod http;
pub mod instagram;
pub mod limiter;
pub mod linkedin;
pub mod media;
pub mod outlook;
pub mod pause;
pub mod profile;
pub mod reset;
pub mod twitter;

use std::{future::Future, ops::RangeInclusive, time::Duration};

use chrono::{DateTime, Utc};
use lifesync_jobs::payloads::SyncMode;
use serde_json::Value;

pub use crate::domain::{ItemKind, Location, ProviderId, Reconcile};
use crate::oauth::apps::ProviderApp;

/// What one provider request needs.
pub struct Session<'a> {
    pub http: &'a reqwest::Client,
    pub app: &'a ProviderApp,
    pub token: &'a str,
    /// The source's account id (the provider's user id).
    pub account_id: &'a str,
    /// Items per page, already clamped to the provider's [`Provider::PAGE_SIZE`].
    pub page_size: u32,
}

/// Which page to fetch.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub mode: SyncMode,
    /// The source's stored incremental cursor (this provider's part of `cursor_state`).
    pub cursor: Option<&'a Value>,
    /// Where this run is: None at its start, then the previous page's [`Page::next`].
    pub page: Option<&'a Value>,
    /// The external ids of the source's live items, for providers that list ids before they
    /// fetch bodies (Gmail); None: unknown, fetch everything listed.
    pub known: Option<&'a std::collections::HashSet<String>>,
}

/// One page of a run.
#[derive(Debug, Default)]
pub struct Page {
    pub items: Vec<RawItem>,
    /// External ids the provider reports deleted (Gmail history).
    pub deleted: Vec<String>,
    /// External ids at the provider that this page did not fetch (known and unchanged).
    pub listed: Vec<String>,
    /// External ids reported gone from one folder (Graph `@removed`): deleted at the run's end
    /// unless the run saw them in another synced folder (a move).
    pub removed: Vec<String>,
    /// On the last page: the run listed everything the provider has (within this scope).
    pub reconcile: Option<Reconcile>,
    /// The run's next page (None: this was the last).
    pub next: Option<Value>,
    /// On the last page: the incremental cursor to store (None: keep the stored one).
    pub cursor: Option<Value>,
}

/// A provider's data API.
pub trait Provider {
    const ID: ProviderId;
    /// Page sizes the API accepts.
    const PAGE_SIZE: RangeInclusive<u32>;
    /// One page of the account's items.
    fn fetch_page(
        s: &Session<'_>,
        req: PageRequest<'_>,
    ) -> impl Future<Output = Result<Page, ProviderError>> + Send;
}

/// [`Provider::fetch_page`] of provider `p`.
pub async fn fetch_page(
    p: ProviderId,
    s: &Session<'_>,
    req: PageRequest<'_>,
) -> Result<Page, ProviderError> {
    match p {
        ProviderId::Instagram => instagram::Instagram::fetch_page(s, req).await,
        ProviderId::Twitter => twitter::Twitter::fetch_page(s, req).await,
        ProviderId::Google => gmail::Gmail::fetch_page(s, req).await,
        ProviderId::Facebook => facebook::Facebook::fetch_page(s, req).await,
        ProviderId::Linkedin => linkedin::Linkedin::fetch_page(s, req).await,
        ProviderId::Microsoft => outlook::Outlook::fetch_page(s, req).await,
    }
}

/// [`Provider::PAGE_SIZE`] of provider `p` applied to `requested`.
pub fn page_size(p: ProviderId, requested: u32) -> u32 {
    let r = match p {
        ProviderId::Instagram => instagram::Instagram::PAGE_SIZE,
        ProviderId::Twitter => twitter::Twitter::PAGE_SIZE,
        ProviderId::Google => gmail::Gmail::PAGE_SIZE,
        ProviderId::Facebook => facebook::Facebook::PAGE_SIZE,
        ProviderId::Linkedin => linkedin::Linkedin::PAGE_SIZE,
        ProviderId::Microsoft => outlook::Outlook::PAGE_SIZE,
    };
    requested.clamp(*r.start(), *r.end())
}

/// An error from a provider, classified once.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The access token is invalid or expired: refresh once, then ask the user to reconnect.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The account or app may not read this (missing scope, restricted): a data-source status.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// Throttled: come back after this long (from Retry-After or the reset header); None when
    /// the provider named no time (the queue then backs off exponentially).
    #[error("rate limited{}", retry_after.map(|d| format!(" for {d:?}")).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// The provider app's usage cap for the period is spent (X's monthly read cap): every
    /// account of this app waits until `resets_at`; retrying before then only burns requests.
    #[error("usage cap exceeded until {resets_at}: {detail}")]
    UsageCapped {
        resets_at: DateTime<Utc>,
        detail: String,
    },
    /// 5xx, timeouts, connection failures: retry with backoff.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help (bad request, malformed reply).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<reqwest::Error> for ProviderError {
    fn from(e: reqwest::Error) -> Self {
        if let Some(why) = crate::outbound::tls_failure(&e) {
            return Self::Permanent(why);
        }
        // Never include the URL: some providers embed tokens in it.
        let e = e.without_url();
        if e.is_decode() {
            Self::Permanent(format!("malformed reply: {e}"))
        } else {
            Self::Transient(e.to_string())
        }
    }
}

/// One item as a provider returned it, in provider-neutral terms, before normalization.
#[derive(Debug, Clone)]
pub struct RawItem {
    pub external_id: String,
    pub kind: ItemKind,
    pub occurred_at: DateTime<Utc>,
    pub text: String,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    pub location: Option<Location>,
    pub media_url: Option<String>,
    pub permalink: Option<String>,
    /// Provider counters (likes, replies, …).
    pub metrics: serde_json::Value,
    /// Emails: the subject line.
    pub subject: Option<String>,
    /// Emails: the sender (`Name <addr>`); the normalizer keeps only its domain.
    pub sender: Option<String>,
    /// Emails: the HTML body, where schema.org markup lives (read, never stored).
    pub html: Option<String>,
    /// Emails: the mailbox's own signals (Gmail labels and bulk-mail headers, Outlook's
    /// Focused Inbox classification), read by the categorizer, never stored.
    pub mail: lifesync_normalizer::OwnedMailSignals,
}
