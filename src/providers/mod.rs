//! The providers lifesync syncs from: the [`Provider`] trait every provider module
//! implements, each provider's OAuth facts (`oauth_spec`), the dispatch table from a [`ProviderId`] to its implementation, the
//! provider-neutral item a client returns, and the error classes that alone decide retry,
//! refresh or abort. One module per provider, each with the same inner shape: a unit struct
//! implementing [`Provider`] (its profile, its pages, its quirks as trait items), private serde
//! wire types, conversion to [`RawItem`]; base URLs come from configuration ([`ProviderApp`]).
//! Shared pieces, each written once: `http` (the one sender, which counts every request, and
//! the classification of replies), `meta` (Graph conventions of Instagram and Facebook), `walk`
//! (the newest-first walk down to a watermark), `limiter`, `pause`, `reset`, `media`.
//!
//! **Adding a provider** = a [`ProviderId`] variant (`domain`), its entry in `oauth_spec`, its
//! file here (registered in the `dispatch!` table, one line) and its sandbox file, with their
//! tests; the compiler refuses a variant without a spec entry or a table line, and
//! `tests/it/providers/complete.rs` fails for one that cannot connect and sync against the
//! sandbox.
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

pub mod app;
pub mod facebook;
pub mod gmail;
pub mod http;
pub mod instagram;
pub mod limiter;
pub mod linkedin;
pub mod media;
pub mod meta;
pub mod oauth_spec;
pub mod outlook;
pub mod pause;
pub mod reset;
pub mod twitter;
pub mod walk;

use std::{future::Future, ops::RangeInclusive, time::Duration};

use chrono::{DateTime, Utc};
use lifesync_jobs::payloads::SyncMode;
use serde_json::Value;

pub use crate::domain::{ItemKind, Location, ProviderId, Reconcile};
use app::ProviderApp;

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

/// Who connected: the account behind a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProfile {
    /// The provider's stable id of the account (the data source's `account_id`), always a
    /// string, exact beyond 2^53.
    pub account_id: String,
    pub account_name: Option<String>,
    /// A value the provider changes whenever the account's content does (an item added,
    /// changed or deleted), read with the profile at no extra request: Gmail's `historyId`,
    /// X's post count with its newest post id. None: the provider offers none (then every run
    /// reads the listing). A run that finds the version its items last matched completely has
    /// nothing to fetch (`data_sources.synced_version`).
    pub content_version: Option<String>,
}

/// A provider's API.
pub trait Provider {
    const ID: ProviderId;
    /// Page sizes the API accepts.
    const PAGE_SIZE: RangeInclusive<u32>;
    /// The provider lists ids before it fetches bodies, so a run is given the source's known
    /// ids ([`PageRequest::known`]; Gmail).
    const LISTS_IDS_FIRST: bool = false;
    /// An incremental run reports every change, deletions included (Gmail's history), so its
    /// end leaves the source matching the provider as a complete full run does.
    const CHANGES_COMPLETE: bool = false;
    /// The profile of the account `token` belongs to.
    fn fetch_profile(
        app: &ProviderApp,
        http: &reqwest::Client,
        token: &str,
    ) -> impl Future<Output = Result<AccountProfile, ProviderError>> + Send;
    /// One page of the account's items.
    fn fetch_page(
        s: &Session<'_>,
        req: PageRequest<'_>,
    ) -> impl Future<Output = Result<Page, ProviderError>> + Send;
    /// How a synced source shows the profile's account name (Twitter: `@handle`).
    fn display_name(name: String) -> String {
        name
    }
}

/// The dispatch table: the one place that maps a [`ProviderId`] to its [`Provider`]. Runs
/// `$body` with `$P` naming provider `$p`'s implementation; a new provider is one line here.
macro_rules! dispatch {
    ($p:expr, $P:ident => $body:expr) => {
        match $p {
            ProviderId::Instagram => {
                type $P = instagram::Instagram;
                $body
            }
            ProviderId::Twitter => {
                type $P = twitter::Twitter;
                $body
            }
            ProviderId::Google => {
                type $P = gmail::Gmail;
                $body
            }
            ProviderId::Facebook => {
                type $P = facebook::Facebook;
                $body
            }
            ProviderId::Linkedin => {
                type $P = linkedin::Linkedin;
                $body
            }
            ProviderId::Microsoft => {
                type $P = outlook::Outlook;
                $body
            }
        }
    };
}

/// [`Provider::fetch_page`] of provider `p`.
pub async fn fetch_page(
    p: ProviderId,
    s: &Session<'_>,
    req: PageRequest<'_>,
) -> Result<Page, ProviderError> {
    dispatch!(p, P => P::fetch_page(s, req).await)
}

/// [`Provider::fetch_profile`] of `app`'s provider.
pub async fn fetch_profile(
    app: &ProviderApp,
    http: &reqwest::Client,
    token: &str,
) -> Result<AccountProfile, ProviderError> {
    dispatch!(app.id, P => P::fetch_profile(app, http, token).await)
}

/// [`Provider::PAGE_SIZE`] of provider `p` applied to `requested`.
pub fn page_size(p: ProviderId, requested: u32) -> u32 {
    let r = dispatch!(p, P => P::PAGE_SIZE);
    requested.clamp(*r.start(), *r.end())
}

/// [`Provider::LISTS_IDS_FIRST`] of provider `p`.
pub fn lists_ids_first(p: ProviderId) -> bool {
    dispatch!(p, P => P::LISTS_IDS_FIRST)
}

/// [`Provider::CHANGES_COMPLETE`] of provider `p`.
pub fn changes_complete(p: ProviderId) -> bool {
    dispatch!(p, P => P::CHANGES_COMPLETE)
}

/// [`Provider::display_name`] of provider `p`.
pub fn display_name(p: ProviderId, name: String) -> String {
    dispatch!(p, P => P::display_name(name))
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
