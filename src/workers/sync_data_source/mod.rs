//! `SyncDataSource`, for every provider: at a run's start, the profile (account check, name and,
//! where the provider offers one, its content version: a scheduled run that finds the version
//! the source's items last matched completely ends there, having read nothing more); then fetch
//! pages in order (`providers::fetch_page`) while earlier ones are stored: normalize → store
//! the pages' items, their deletions, counters and the run's next page state in one
//! transaction. The pages fetched while a transaction was storing go together into the next
//! one (at most [`STORE_GROUP_PAGES`] / [`STORE_GROUP_ITEMS`]; pages of at least
//! [`STORE_GROUP_MIN_PAGE`] items), each transaction recording the
//! resume point after its last page. A crash resumes at the first page not yet stored; a
//! re-delivered page is an upsert, so nothing is duplicated. The source's incremental cursor
//! moves only in the transaction of the last page. In code: `run` = `Run::begin` (load and
//! check the source, open its token) → `Run::refresh_profile` (a run's start) → `Run::pages`
//! (`Run::fetch` feeding `Run::store` over a bounded channel). A 401 gets one token renewal per run
//! (`Access::renewing`, the only place it is done); throttles reschedule the job at the provider's
//! reset (or, when it names none, by the queue's exponential throttle backoff), spending no
//! attempt.
//!
//! How a job ends, by the failure's `Ending` (`failure.rs`):
//! - `Retry` (5xx, database): retried with backoff; the last attempt ends the run `failed`.
//! - `Defer` (throttles): rescheduled without spending an attempt; the run's deadline moves
//!   with it; the deferral past the queue's cap ends the run `failed` (and the job is dead).
//! - `Expected` (the user's or the provider's doing: reauthorization needed, access refused or
//!   withdrawn, a restricted member, the app's usage cap): the run ends `failed` with the
//!   reason, the source's status says what to do, and the job completes — the dead-letter set
//!   is for exhausted retries and bugs.
//! - `Cancelled` (the source was disconnected or deleted): the run ends `cancelled`, nothing is
//!   written on the source, and the job completes — never retried, never a dead letter. Any
//!   failure of a run whose source is by then disconnected or gone ends this way too (a 401
//!   after the disconnect revoked the token is not a reason to ask for reauthorization).
//! - `Bug` (a malformed reply, an unknown provider): the run ends `failed`, the job is dead.
//!
//! **The disconnect fence.** Every page is stored in a transaction that first locks the
//! source's row ([`data_sources::lock_for_page`]); a disconnect takes the same row first. So a
//! page commits before the disconnect (which then deletes it with the rest) or sees the source
//! disconnected and stores nothing: once `DELETE /api/v1/data-sources/{id}` has answered,
//! nothing more is written for the source.

use std::collections::HashSet;

use apalis_core::task::data::Data;
use lifesync_jobs::{
    payloads::{SyncDataSource, SyncMode, SyncTrigger},
    JobError, JobLease,
};
use serde_json::{json, Value};

mod failure;

use failure::{ended_elsewhere, failed, Failure};

use super::SharedDeps;
use crate::{
    db::{data_sources, duplicates, items, reconcile, sync_runs},
    domain::{DataSourceStatus, NormalizedItem, ProviderId},
    metrics,
    normalizer::{normalize, LinkSecret},
    oauth::tokens::TokenManager,
    providers::{
        self, app::ProviderApp, limiter::Limiter, pause, PageRequest, ProviderError, Session,
    },
};

/// The job handler.
pub async fn handle(
    job: SyncDataSource,
    deps: Data<SharedDeps>,
    lease: Data<JobLease>,
) -> Result<(), JobError> {
    let span = tracing::info_span!(
        "sync",
        data_source_id = %job.data_source_id,
        sync_run_id = %job.sync_run_id,
        provider = tracing::field::Empty,
    );
    match tracing::Instrument::instrument(run(&job, &deps), span).await {
        Ok(()) => Ok(()),
        Err(f) => failed(&deps, &job, &lease, f).await,
    }
}

async fn run(job: &SyncDataSource, deps: &SharedDeps) -> Result<(), Failure> {
    let Some((mut run, mut access, page_state)) = Run::begin(job, deps).await? else {
        return Ok(()); // the run already ended: a duplicate delivery
    };
    if page_state.is_none() {
        let version = run.refresh_profile(&mut access).await?;
        if run.may_skip(version.as_deref()) {
            tracing::info!("the account's content is as last synced: nothing to fetch");
            return run.store(vec![providers::Page::default()]).await;
        }
        if let Some(v) = &version {
            sync_runs::set_start_version(&run.deps.pool, job.sync_run_id, v).await?;
        }
        run.start_version = version;
    }
    run.pages(&mut access, page_state).await
}

/// The source's access token over one run: an expired or revoked token gets one renewal per
/// run ([`Access::renewing`]).
struct Access<'a> {
    tokens: TokenManager<'a>,
    source: uuid::Uuid,
    provider: ProviderId,
    token: String,
    renewed: bool,
}

impl<'a> Access<'a> {
    /// The source's access token (renewed first when it is due).
    async fn open(
        deps: &'a SharedDeps,
        source: uuid::Uuid,
        provider: ProviderId,
    ) -> Result<Access<'a>, Failure> {
        let tokens = TokenManager {
            pool: &deps.pool,
            apps: &deps.apps,
            key: &deps.token_key,
            states: &deps.states,
        };
        let token = tokens.access_token(source, provider).await?;
        Ok(Self {
            tokens,
            source,
            provider,
            token,
            renewed: false,
        })
    }

    /// Makes a provider call with the current token (`call` gets a copy); on a 401, renews the
    /// token once per run and calls again. `call`'s outer error is not the provider's (the rate
    /// limiter's); its inner result is the provider's answer.
    async fn renewing<T, F, Fut>(&mut self, mut call: F) -> Result<T, Failure>
    where
        F: FnMut(String) -> Fut,
        Fut: std::future::Future<Output = Result<Result<T, ProviderError>, Failure>>,
    {
        loop {
            match call(self.token.clone()).await? {
                Err(ProviderError::Unauthorized(_)) if !self.renewed => {
                    self.renewed = true;
                    self.token = self
                        .tokens
                        .after_unauthorized(self.source, self.provider, &self.token)
                        .await?;
                }
                other => return Ok(other?),
            }
        }
    }
}

/// A sync run in progress: its job, source, provider app and what every page request shares.
struct Run<'a> {
    job: &'a SyncDataSource,
    deps: &'a SharedDeps,
    source: data_sources::SyncSource,
    provider: ProviderId,
    app: &'a ProviderApp,
    /// The source's incremental cursor.
    cursor: Option<Value>,
    page_size: u32,
    /// The source's live item ids, for providers that list ids before they fetch bodies.
    known: Option<HashSet<String>>,
    limiter: Limiter,
    links: LinkSecret,
    /// The provider's content version at this run's start (kept with the run: a resumed run
    /// knows it too).
    start_version: Option<String>,
}

impl<'a> Run<'a> {
    /// Starts (or resumes) the run: the run, the source's token and where the run is (None at
    /// its start); None when the run already ended; a failure when its source is gone,
    /// disconnected, awaiting reauthorization, unconfigured or paused.
    async fn begin(
        job: &'a SyncDataSource,
        deps: &'a SharedDeps,
    ) -> Result<Option<(Self, Access<'a>, Option<Value>)>, Failure> {
        let pool = &deps.pool;
        let Some(progress) = sync_runs::start(pool, job.sync_run_id).await? else {
            return Ok(None);
        };
        let Some(source) = data_sources::load_for_sync(pool, job.data_source_id).await? else {
            return Err(Failure::cancelled("the data source no longer exists"));
        };
        if source.status == DataSourceStatus::Disconnected {
            return Err(Failure::cancelled("disconnected"));
        }
        if source.status == DataSourceStatus::ReauthRequired {
            return Err(Failure::expected(
                format!("the data source is {}", source.status),
                None,
            ));
        }
        let provider = ProviderId::parse(&source.provider)
            .ok_or_else(|| Failure::bug(format!("unknown provider {}", source.provider)))?;
        tracing::Span::current().record("provider", provider.as_str());
        let app = deps
            .apps
            .get(provider)
            .ok_or_else(|| Failure::bug(format!("{provider} is not configured")))?;
        if let Ok(Some(until)) = deps.pauses().paused_until(provider, &app.client_id).await {
            return Err(Failure::expected(
                pause::reason(until, "reported by an earlier sync; no request sent"),
                None,
            ));
        }
        let access = Access::open(deps, source.id, provider).await?;
        let page_state = resume_point(progress.page_cursor.as_deref(), job);
        // What a provider that lists ids first need not fetch again.
        let known = match providers::lists_ids_first(provider) {
            true => Some(reconcile::known_ids(pool, source.id).await?),
            false => None,
        };
        let run = Self {
            job,
            deps,
            provider,
            app,
            cursor: source.cursor_state.get(provider.as_str()).cloned(),
            page_size: providers::page_size(provider, deps.batch_size),
            known,
            limiter: deps.limiter(),
            links: LinkSecret::derive(deps.token_key.bytes()),
            source,
            start_version: progress.start_version,
        };
        Ok(Some((run, access, page_state)))
    }

    /// A run's start: checks the token's account and refreshes the source's display name;
    /// returns the provider's content version, when it offers one.
    async fn refresh_profile(&self, access: &mut Access<'_>) -> Result<Option<String>, Failure> {
        let (app, http) = (self.app, &self.deps.apps.http);
        let profile = access
            .renewing(|token| async move {
                Ok(patiently(|| providers::fetch_profile(app, http, &token)).await)
            })
            .await?;
        if profile.account_id != self.source.account_id {
            return Err(Failure::expected(
                "the token belongs to another account".into(),
                Some(DataSourceStatus::ReauthRequired),
            ));
        }
        let name = profile
            .account_name
            .map(|n| providers::display_name(self.provider, n));
        data_sources::set_account_name(&self.deps.pool, self.source.id, name.as_deref()).await?;
        Ok(profile.content_version)
    }

    /// Whether this run may end without reading anything: a scheduled run (daily or
    /// incremental) that finds the provider's content at the version the source's items last
    /// matched completely. A run someone asked for (connect, manual, admin) always reads the
    /// provider, which also refreshes what no version covers (like counts).
    fn may_skip(&self, version: Option<&str>) -> bool {
        matches!(
            self.job.trigger,
            SyncTrigger::Daily | SyncTrigger::Incremental
        ) && version.is_some()
            && version == self.source.synced_version.as_deref()
    }

    /// The content version the source's items match once this run's last page is stored: the
    /// run's starting version, when the run saw everything (a full run that reconciled, or an
    /// incremental run of a provider whose changes include deletions).
    fn synced_version(&self, reconciled: bool) -> Option<&str> {
        let complete = reconciled
            || (self.job.mode == SyncMode::Incremental
                && providers::changes_complete(self.provider));
        self.start_version.as_deref().filter(|_| complete)
    }

    /// What a page request of this run says, at page state `page`.
    fn request<'r>(&'r self, page: Option<&'r Value>) -> PageRequest<'r> {
        PageRequest {
            mode: self.job.mode,
            cursor: self.cursor.as_ref(),
            page,
            known: self.known.as_ref(),
        }
    }

    fn session<'r>(&'r self, token: &'r str) -> Session<'r> {
        Session {
            http: &self.deps.apps.http,
            app: self.app,
            token,
            account_id: &self.source.account_id,
            page_size: self.page_size,
        }
    }

    /// The run's pages from `page_state`, to the last: fetched in order while earlier ones are
    /// stored. The pages fetched while a transaction was storing are stored together in the
    /// next one ([`STORE_GROUP_PAGES`], [`STORE_GROUP_ITEMS`]), which records the resume point
    /// after its last page: a crash resumes at the first page not stored, and a re-fetched page
    /// is an upsert. A fetch that fails ends the run once the pages before it are stored; a
    /// store that fails stops the fetching.
    async fn pages(
        &self,
        access: &mut Access<'_>,
        page_state: Option<Value>,
    ) -> Result<(), Failure> {
        // Read-ahead: a group's worth of pages; small pages are stored one a transaction, so
        // their run reads one page ahead, as before groups existed.
        let ahead = match (self.page_size as usize) < STORE_GROUP_MIN_PAGE {
            true => 1,
            false => STORE_GROUP_PAGES,
        };
        let (fetched, mut ready) = tokio::sync::mpsc::channel::<providers::Page>(ahead);
        let fetching = async move {
            let mut state = page_state;
            loop {
                let page = self.fetch(access, state.as_ref()).await?;
                let next = page.next.clone();
                if fetched.send(page).await.is_err() {
                    return Ok(()); // the store failed: its error ends the run
                }
                match next {
                    Some(n) => state = Some(n),
                    None => return Ok(()),
                }
            }
        };
        let storing = async move {
            while let Some(first) = ready.recv().await {
                let mut items = first.items.len();
                let mut group = vec![first];
                while group.len() < STORE_GROUP_PAGES
                    && (STORE_GROUP_MIN_PAGE..STORE_GROUP_ITEMS).contains(&items)
                    && group.last().is_some_and(|p| p.next.is_some())
                {
                    match ready.try_recv() {
                        Ok(p) => {
                            items += p.items.len();
                            group.push(p);
                        }
                        Err(_) => break,
                    }
                }
                self.store(group).await?;
            }
            Ok::<(), Failure>(())
        };
        let (fetched, stored) = tokio::join!(fetching, storing);
        stored?;
        fetched
    }

    /// The page at `page`: paced, patient with transient failures, renewing the token once.
    async fn fetch(
        &self,
        access: &mut Access<'_>,
        page: Option<&Value>,
    ) -> Result<providers::Page, Failure> {
        access
            .renewing(|token| async move {
                pace(&self.limiter, self.app, &self.source.account_id).await?;
                let session = self.session(&token);
                let request = self.request(page);
                Ok(patiently(|| providers::fetch_page(self.provider, &session, request)).await)
            })
            .await
    }

    /// Stores consecutive pages of the run in one transaction: their items, deletions, counters
    /// and what they saw, with the resume point after the last of them; when that is the run's
    /// last page, the run ends and the source's cursor moves in the same transaction.
    async fn store(&self, group: Vec<providers::Page>) -> Result<(), Failure> {
        let (job, source) = (self.job, &self.source);
        let Some(last) = group.last() else {
            return Ok(());
        };
        let next = last.next.clone();
        let next = next.as_ref();
        let merged = merge_pages(group);
        let page = merged.last;
        let seen = merged.seen;
        let fetched = merged.fetched;
        let normalized: Vec<_> = merged
            .items
            .into_iter()
            .map(|i| normalize(i, &self.links))
            .collect();
        let kind = normalized.first().map_or("post", |i| i.kind.as_str());
        let state = next.map(Value::to_string);
        let mut tx = self.deps.pool.begin().await?;
        if !data_sources::lock_for_page(&mut tx, source.id).await? {
            return Err(Failure::cancelled("disconnected"));
        }
        let window = self.deps.duplicate_window;
        let counts = store_items(&mut tx, source, &normalized, &merged.deleted, window).await?;
        let run = job.sync_run_id;
        if !sync_runs::record_page(&mut tx, run, fetched, counts, state.as_deref()).await? {
            return Err(ended_elsewhere()); // the transaction rolls back
        }
        reconcile::record(&mut tx, run, source.id, &seen).await?;
        if next.is_none() {
            let synced_version = self.synced_version(page.reconcile.is_some());
            reconcile::finish(&mut tx, run, source.id, page.reconcile).await?;
            sync_runs::finish(&mut tx, run, true, None).await?;
            let patch = page.cursor.map(|c| json!({ self.provider.as_str(): c }));
            let end = data_sources::SyncEnd {
                succeeded: true,
                cursor_patch: patch.as_ref(),
                synced_version,
                ..Default::default()
            };
            data_sources::finish_sync(&mut tx, source.id, end).await?;
        }
        tx.commit().await?;
        record_items(&source.provider, kind, counts);
        if next.is_none() {
            metrics::sync_run_finished(&source.provider, job.trigger.as_str(), true);
            tracing::info!(mode = ?job.mode, trigger = job.trigger.as_str(), "sync run succeeded");
            self.queue_timeline().await;
        }
        Ok(())
    }
}

impl Run<'_> {
    /// After a run that changed the user's items, their timeline build (one per user at a
    /// time). A failure here only delays the timeline to the workers' sweep: logged, not
    /// fatal.
    async fn queue_timeline(&self) {
        let (pool, producer) = (&self.deps.pool, &self.deps.producer);
        if let Err(e) =
            crate::services::timeline::request_build_if_needed(pool, producer, &self.source.user_id)
                .await
        {
            tracing::warn!(error = %e, "could not queue the timeline build");
        }
    }
}

/// Where the run resumes: the last stored page's state, else the job's starting page (provider
/// page state, or, for version 1 jobs, a bare token); None at a run's start.
fn resume_point(stored: Option<&str>, job: &SyncDataSource) -> Option<Value> {
    stored
        .and_then(|c| serde_json::from_str(c).ok())
        .or_else(|| {
            job.page_cursor.as_deref().map(|c| {
                serde_json::from_str(c).unwrap_or_else(|_| json!({ "pagination_token": c }))
            })
        })
}

/// Pages stored in one transaction at most, and items: the pages fetched while the previous
/// transaction was storing, so a store that keeps up with the provider stores page by page.
pub const STORE_GROUP_PAGES: usize = 10;
pub const STORE_GROUP_ITEMS: usize = 1000;
/// Pages smaller than this are stored one a transaction, as before groups existed: a small
/// `SYNC_BATCH_SIZE` keeps a run's pace page by page (the fault-injection tests rely on a
/// run of 5-item pages not outrunning them).
pub const STORE_GROUP_MIN_PAGE: usize = 50;

/// Consecutive pages of a run as one store.
struct Merged {
    /// Each external id once, at its latest version (a later page's copy wins, as it would
    /// have when stored after the earlier page).
    items: Vec<providers::RawItem>,
    /// Reported deletions, without those a later page of the group shows again (stored page
    /// by page, that page would have restored them).
    deleted: Vec<String>,
    seen: reconcile::PageSeen,
    fetched: i32,
    /// The last page, its items and lists taken (its `next`, `reconcile` and `cursor` kept).
    last: providers::Page,
}

fn merge_pages(group: Vec<providers::Page>) -> Merged {
    let mut m = Merged {
        items: Vec::new(),
        deleted: Vec::new(),
        seen: reconcile::PageSeen::default(),
        fetched: 0,
        last: providers::Page::default(),
    };
    let mut at = std::collections::HashMap::<String, usize>::new();
    for mut page in group {
        let seen = reconcile::PageSeen::of(
            page.items.iter().map(|i| i.external_id.as_str()),
            &page.listed,
            &page.removed,
        );
        m.seen.present.extend(seen.present);
        m.seen.removed.extend(seen.removed);
        m.fetched += page.items.len() as i32;
        let items = std::mem::take(&mut page.items);
        if !m.deleted.is_empty() {
            let again: HashSet<&str> = items.iter().map(|i| i.external_id.as_str()).collect();
            m.deleted.retain(|d| !again.contains(d.as_str()));
        }
        for item in items {
            match at.get(&item.external_id) {
                Some(&k) => m.items[k] = item,
                None => {
                    at.insert(item.external_id.clone(), m.items.len());
                    m.items.push(item);
                }
            }
        }
        m.deleted.append(&mut page.deleted);
        page.listed.clear();
        page.removed.clear();
        m.last = page;
    }
    m
}

/// A page's items and reported deletions, in the page's transaction, then the `duplicate_of`
/// links they touch (see [`duplicates`]).
async fn store_items(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    source: &data_sources::SyncSource,
    normalized: &[NormalizedItem],
    deleted: &[String],
    duplicate_window: std::time::Duration,
) -> sqlx::Result<items::PageCounts> {
    duplicates::lock_user(tx, &source.user_id).await?;
    let mut page =
        items::upsert_page(tx, &source.user_id, source.id, &source.provider, normalized).await?;
    let gone = items::mark_deleted(tx, source.id, deleted).await?;
    let mut touched = page.written;
    touched.extend(gone);
    page.counts.duplicate = duplicates::relink(
        tx,
        &source.user_id,
        &touched,
        &page.inserted,
        duplicate_window,
    )
    .await?;
    Ok(page.counts)
}

/// Waits for the shared rate limiter: a short wait is slept, a long one reschedules the job
/// (no attempt spent) for the moment the limiter allows the next request.
async fn pace(limiter: &Limiter, app: &ProviderApp, account: &str) -> Result<(), Failure> {
    loop {
        let wait = limiter
            .acquire(app.id, account, app.app_rate_limit, app.account_rate_limit)
            .await
            .map_err(|e| Failure::retryable(format!("rate limiter: {e}")))?;
        match wait {
            None => return Ok(()),
            Some(w) if w <= std::time::Duration::from_millis(500) => tokio::time::sleep(w).await,
            Some(w) => {
                return Err(ProviderError::RateLimited {
                    retry_after: Some(w),
                }
                .into());
            }
        }
    }
}

/// Retries a provider call that failed transiently (5xx, timeout, connection) up to three more
/// times, 200 ms → 2 s apart with jitter, before the job itself is retried (with the queue's
/// longer backoff, resuming at the same page). Throttling is never retried here: it
/// reschedules the job for the provider's reset.
async fn patiently<T, F, Fut>(call: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    use backon::Retryable;
    call.retry(
        backon::ExponentialBuilder::default()
            .with_min_delay(std::time::Duration::from_millis(200))
            .with_max_delay(std::time::Duration::from_secs(2))
            .with_max_times(3)
            .with_jitter(),
    )
    .sleep(tokio::time::sleep)
    .when(|e| matches!(e, ProviderError::Transient(_)))
    .await
}

fn record_items(provider: &str, kind: &'static str, c: items::PageCounts) {
    metrics::sync_items(
        provider,
        kind,
        c.new as u64,
        c.updated as u64,
        c.duplicate as u64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ItemKind;

    fn item(id: &str, text: &str) -> providers::RawItem {
        providers::RawItem {
            external_id: id.into(),
            kind: ItemKind::Post,
            occurred_at: chrono::Utc::now(),
            text: text.into(),
            hashtags: vec![],
            mentions: vec![],
            location: None,
            media_url: None,
            permalink: None,
            metrics: Value::Null,
            subject: None,
            sender: None,
            html: None,
            mail: Default::default(),
        }
    }

    fn page(items: Vec<providers::RawItem>, deleted: &[&str], next: bool) -> providers::Page {
        providers::Page {
            items,
            deleted: deleted.iter().map(|d| d.to_string()).collect(),
            listed: vec!["listed".into()],
            next: next.then(|| json!({ "p": 1 })),
            cursor: (!next).then(|| json!("c")),
            ..Default::default()
        }
    }

    #[test]
    fn merged_pages_store_as_they_would_have_page_by_page() {
        let m = merge_pages(vec![
            page(vec![item("a", "old"), item("b", "b")], &["x", "y"], true),
            // `b` deleted after it was written; `x` written again after its deletion.
            page(vec![item("a", "new"), item("x", "back")], &["b"], true),
            page(vec![item("c", "c")], &[], false),
        ]);
        let texts: Vec<_> = m
            .items
            .iter()
            .map(|i| (i.external_id.as_str(), i.text.as_str()))
            .collect();
        assert_eq!(texts, [("a", "new"), ("b", "b"), ("x", "back"), ("c", "c")]);
        assert_eq!(m.deleted, ["y", "b"]);
        assert_eq!(m.fetched, 5);
        assert_eq!(m.seen.present.iter().filter(|p| *p == "listed").count(), 3);
        assert!(m.last.next.is_none() && m.last.cursor.is_some() && m.last.items.is_empty());
    }
}
