//! In-flight effects fenced off, with real PostgreSQL, Redis, workers and the HTTPS sandbox:
//! - a disconnect during a sync: the page being committed goes with the rest, the run ends
//!   `cancelled`, nothing more is written for the source, and its status stays `disconnected`
//!   through the worker's 401 until a new connect;
//! - token refresh: two processes behind a token endpoint slower than the lock's lease send
//!   one refresh request; a renewal that outlives its lock is still stored and its successor
//!   sends nothing; a renewal never overwrites tokens it did not renew;
//! - a holder stalled past its lease after its request reached the provider: its successor is
//!   refused (the refresh token is spent) and marks the source `reauth_required`; the stalled
//!   holder's rotated tokens are stored all the same and the source is `active` again.

use std::time::Duration;

use crate::common::*;
use lifesync::{
    oauth::{refresh_lock::LockTiming, state::StateStore, tokens::TokenManager},
    providers::ProviderId,
};
use lifesync_sandbox::Faults;
use uuid::Uuid;

async fn disconnect(h: &SyncHarness, ds: Uuid, user: &str) {
    let r = h
        .app
        .http
        .delete(h.app.url(&format!("/api/v1/data-sources/{ds}")))
        .bearer_auth(token(user, 3600, None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

async fn item_count(h: &SyncHarness, ds: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM items WHERE data_source_id = $1")
        .bind(ds)
        .fetch_one(&h.app.db.pool)
        .await
        .unwrap()
}

/// Everything a sync may write on its source, as text.
async fn source_row(h: &SyncHarness, ds: Uuid) -> String {
    sqlx::query_scalar(
        "SELECT concat_ws('|', status, account_name, last_sync_at, last_sync_status,
                          last_sync_error, cursor_state, updated_at)
           FROM data_sources WHERE id = $1",
    )
    .bind(ds)
    .fetch_one(&h.app.db.pool)
    .await
    .unwrap()
}

async fn run_status(h: &SyncHarness, run: Uuid) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, error FROM sync_runs WHERE id = $1")
        .bind(run)
        .fetch_one(&h.app.db.pool)
        .await
        .unwrap()
}

/// Waits until the job completed (not retrying, not dead).
async fn job_succeeded(h: &SyncHarness, job: &str) {
    assert_eq!(h.app.wait_job(job).await, "succeeded", "job {job}");
    assert!(h.app.store.dead_jobs("sync", 10).await.unwrap().is_empty());
}

/// Every page a worker stores sleeps `ms` inside its transaction, after its items and before
/// its commit (a trigger on the run's counters): a disconnect can be made to land there.
async fn slow_page_commits(pool: &sqlx::PgPool, ms: u64) {
    let sleep = format!(
        "CREATE FUNCTION test_slow_page() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_sleep({}); RETURN NEW; END $$",
        ms as f64 / 1000.0
    );
    sqlx::query(sqlx::AssertSqlSafe(sleep))
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER test_slow_page BEFORE UPDATE ON sync_runs FOR EACH ROW
           WHEN (NEW.items_fetched > OLD.items_fetched) EXECUTE FUNCTION test_slow_page()",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// Whether a page transaction is open, sleeping before its commit.
async fn page_commit_pending(pool: &sqlx::PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                         WHERE datname = current_database() AND wait_event = 'PgSleep')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_while_a_page_commits_takes_that_page_too_and_cancels_the_run() {
    let h = SyncHarness::new(71, 25).await;
    let Connected {
        source: ds,
        run: first,
    } = h.connect(ProviderId::Twitter, "dora", "2002").await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    // New tweets: the next sync's first pages insert rows, not only update them.
    h.sandbox.state.twitter.add_tweets("2002", 100);
    slow_page_commits(&h.app.db.pool, 1500).await;
    h.set_faults(Faults {
        slow_ms: 200,
        ..Faults::default()
    });
    let StartedSync { run, job } = h.start_sync(ds, "dora", "full").await;
    assert!(
        eventually(30, || page_commit_pending(&h.app.db.pool)).await,
        "a page transaction in its commit"
    );
    disconnect(&h, ds, "dora").await;
    // Once DELETE has answered: no item of the source, and nothing written on it from now on.
    assert_eq!(item_count(&h, ds).await, 0, "the page in flight went too");
    let at_delete = source_row(&h, ds).await;
    assert!(at_delete.starts_with("disconnected|"), "{at_delete}");
    job_succeeded(&h, &job).await;
    assert_eq!(
        run_status(&h, run).await,
        ("cancelled".into(), Some("disconnected".into()))
    );
    assert_eq!(item_count(&h, ds).await, 0, "no page stored after DELETE");
    assert_eq!(source_row(&h, ds).await, at_delete, "the source untouched");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_source_stays_disconnected_through_the_workers_401_until_a_new_connect() {
    let h = SyncHarness::new(72, 25).await;
    let Connected {
        source: ds,
        run: first,
    } = h.connect(ProviderId::Twitter, "eve", "2003").await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let profile_calls = || {
        h.sandbox
            .state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains("/2/users/me"))
            .count()
    };
    let before = profile_calls();
    // Every data reply takes 1.5 s: the run's profile call is admitted with the token, then
    // the disconnect revokes it, so the run's next request is refused with a 401.
    h.set_faults(Faults {
        slow_ms: 1500,
        ..Faults::default()
    });
    let StartedSync { run, job } = h.start_sync(ds, "eve", "full").await;
    assert!(eventually(30, || async { profile_calls() > before }).await);
    let requests_before_delete = h.sandbox.state.requests.lock().unwrap().len();
    disconnect(&h, ds, "eve").await;
    let at_delete = source_row(&h, ds).await;
    assert!(at_delete.starts_with("disconnected|"), "{at_delete}");
    job_succeeded(&h, &job).await;
    // The worker did go on to the timeline, with a revoked token (a 401), after the profile.
    let later: Vec<String> =
        h.sandbox.state.requests.lock().unwrap()[requests_before_delete..].to_vec();
    assert!(
        later.iter().any(|r| r.contains("/tweets")),
        "a timeline request after DELETE: {later:?}"
    );
    assert_eq!(
        run_status(&h, run).await,
        ("cancelled".into(), Some("disconnected".into()))
    );
    assert_eq!(source_row(&h, ds).await, at_delete, "still disconnected");
    assert_eq!(item_count(&h, ds).await, 0);
    // Neither the scheduler's nor the user's sync reopens it…
    let r = h
        .app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token("eve", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 409);
    // …a new connect does: the same source, active, synced again.
    h.set_faults(Faults::default());
    let Connected { source: again, run } = h.connect(ProviderId::Twitter, "eve", "2003").await;
    assert_eq!(again, ds);
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert!(source_row(&h, ds).await.starts_with("active|"));
    assert_eq!(item_count(&h, ds).await, 230);
    h.shutdown().await;
}

/// One "process" of the refresh race: its own runtime, PostgreSQL pool, Redis connection,
/// HTTP client and token manager, on a thread of its own.
struct Process {
    db_url: String,
    prefix: String,
    sandbox_base: String,
    lease: Duration,
}

/// Freezes a [`Process`] whole, as a stop-the-world pause or a `SIGSTOP` would: its one thread
/// blocks, so nothing of it runs (not its lock's keep-alive, not its HTTP client) until thawed.
struct Stall {
    freeze: Option<tokio::sync::oneshot::Sender<()>>,
    frozen: std::sync::mpsc::Receiver<()>,
    thaw: std::sync::mpsc::Sender<()>,
}

/// The process's side of a [`Stall`].
struct StallPoint {
    freeze: tokio::sync::oneshot::Receiver<()>,
    frozen: std::sync::mpsc::Sender<()>,
    thaw: std::sync::mpsc::Receiver<()>,
}

impl Stall {
    fn new() -> (Self, StallPoint) {
        let (freeze_tx, freeze_rx) = tokio::sync::oneshot::channel();
        let (frozen_tx, frozen_rx) = std::sync::mpsc::channel();
        let (thaw_tx, thaw_rx) = std::sync::mpsc::channel();
        (
            Self {
                freeze: Some(freeze_tx),
                frozen: frozen_rx,
                thaw: thaw_tx,
            },
            StallPoint {
                freeze: freeze_rx,
                frozen: frozen_tx,
                thaw: thaw_rx,
            },
        )
    }

    /// Returns once the process is frozen.
    fn freeze(&mut self) {
        let _ = self.freeze.take().expect("frozen once").send(());
        self.frozen
            .recv_timeout(Duration::from_secs(10))
            .expect("the process froze");
    }

    fn thaw(&self) {
        self.thaw.send(()).unwrap();
    }
}

impl Process {
    /// Renews the token of `ds` after `failed_access` was refused, once `go` opens.
    fn renew(
        &self,
        ds: Uuid,
        failed_access: String,
        go: std::sync::Arc<std::sync::Barrier>,
    ) -> std::thread::JoinHandle<Result<String, String>> {
        self.spawn(ds, failed_access, go, None)
    }

    /// [`Process::renew`] at once, in a process that the returned [`Stall`] can freeze.
    fn renew_stallable(
        &self,
        ds: Uuid,
        failed_access: String,
    ) -> (Stall, std::thread::JoinHandle<Result<String, String>>) {
        let (stall, point) = Stall::new();
        let go = std::sync::Arc::new(std::sync::Barrier::new(1));
        (stall, self.spawn(ds, failed_access, go, Some(point)))
    }

    fn spawn(
        &self,
        ds: Uuid,
        failed_access: String,
        go: std::sync::Arc<std::sync::Barrier>,
        stall: Option<StallPoint>,
    ) -> std::thread::JoinHandle<Result<String, String>> {
        let (db_url, prefix, base, lease) = (
            self.db_url.clone(),
            self.prefix.clone(),
            self.sandbox_base.clone(),
            self.lease,
        );
        std::thread::spawn(move || {
            // One thread runs everything of this process (current-thread runtime), so a task
            // that blocks it freezes the whole process.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            if let Some(point) = stall {
                rt.spawn(async move {
                    if point.freeze.await.is_ok() {
                        point.frozen.send(()).unwrap();
                        let _ = point.thaw.recv(); // blocks the process's only thread
                    }
                });
            }
            rt.block_on(async move {
                let pool = lifesync::db::connect(&db_url, 2).await.unwrap();
                let redis = redis_url();
                let store = lifesync_jobs::Store::connect(
                    lifesync_jobs::RedisSettings::new(redis),
                    lifesync_jobs::QueueSettings::new(prefix.clone()),
                )
                .await
                .unwrap();
                let states =
                    StateStore::new(store.connection(), prefix).with_refresh_timing(LockTiming {
                        lease,
                        wait: Duration::from_secs(20),
                    });
                let apps = sandbox_apps(&base);
                let key = token_key();
                let m = TokenManager {
                    pool: &pool,
                    apps: &apps,
                    key: &key,
                    states: &states,
                };
                go.wait();
                m.after_unauthorized(ds, ProviderId::Twitter, &failed_access)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
    }
}

/// A source's stored tokens, opened, and the fence of their last renewal.
#[derive(Debug, PartialEq)]
struct Tokens {
    access: String,
    refresh: String,
    fence: i64,
}

/// The source's stored tokens, opened.
async fn stored(pool: &sqlx::PgPool, ds: Uuid) -> Tokens {
    let t = lifesync::db::tokens::load(pool, ds).await.unwrap().unwrap();
    let key = token_key();
    let c = lifesync::crypto::TokenCipher::new(&key);
    let open = |s: &lifesync::crypto::Sealed| String::from_utf8(c.open(s).unwrap()).unwrap();
    Tokens {
        access: open(&t.access),
        refresh: open(t.refresh.as_ref().unwrap()),
        fence: t.fence,
    }
}

fn refresh_requests(h: &SyncHarness) -> usize {
    h.sandbox
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| *r == "twitter token grant_type=refresh_token")
        .count()
}

fn process(h: &SyncHarness, lease: Duration) -> Process {
    Process {
        db_url: h.app.db.url.clone(),
        prefix: h.app.store.settings().prefix.clone(),
        sandbox_base: h.sandbox.base.clone(),
        lease,
    }
}

/// After a race: the stored tokens are the rotated ones every caller got, the rotated refresh
/// token is the only one the sandbox still honours, and the source is active.
async fn rotated_and_stored(h: &SyncHarness, ds: Uuid, old: &Tokens, got: &str) {
    let now = stored(&h.app.db.pool, ds).await;
    assert_eq!(
        now.access, got,
        "the access token every caller uses is the stored one"
    );
    assert_ne!(now.refresh, old.refresh, "the refresh token rotated");
    let live = h.sandbox.state.oauth.refresh_tokens();
    assert!(
        live.contains(&now.refresh),
        "the stored refresh token is live"
    );
    assert!(!live.contains(&old.refresh), "the spent one is not");
    assert!(
        now.fence > old.fence,
        "stored with a newer fence: {} > {}",
        now.fence,
        old.fence
    );
    let status: String = sqlx::query_scalar("SELECT status FROM data_sources WHERE id = $1")
        .bind(ds)
        .fetch_one(&h.app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_behind_a_token_endpoint_slower_than_the_lease_send_one_refresh() {
    let h = SyncHarness::new(73, 100).await;
    let Connected {
        source: ds,
        run: first,
    } = h.connect(ProviderId::Twitter, "finn", "2004").await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let old = stored(&h.app.db.pool, ds).await;
    // The token endpoint answers after 1.5 s; the lock's lease is 300 ms.
    h.set_faults(Faults {
        token_slow_ms: 1500,
        ..Faults::default()
    });
    let before = refresh_requests(&h);
    let go = std::sync::Arc::new(std::sync::Barrier::new(2));
    let p = process(&h, Duration::from_millis(300));
    let a = p.renew(ds, old.access.clone(), go.clone());
    let b = p.renew(ds, old.access.clone(), go);
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    let (a, b) = (a.expect("process a"), b.expect("process b"));
    assert_eq!(a, b, "both use the one renewed token");
    assert_eq!(
        refresh_requests(&h) - before,
        1,
        "exactly one refresh request"
    );
    rotated_and_stored(&h, ds, &old, &a).await;

    // It works afterwards: a sync with the stored access token…
    h.set_faults(Faults::default());
    let run = h.sync(ds, "finn", "incremental").await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    // …and a renewal with the rotated refresh token, even after Redis lost the fence counter
    // (the next fence is still above the stored one).
    let mut redis = h.app.store.connection();
    let fence_key = format!(
        "{{{}:oauth}}:refresh-fence:{ds}",
        h.app.store.settings().prefix
    );
    redis::cmd("DEL")
        .arg(&fence_key)
        .query_async::<i64>(&mut redis)
        .await
        .unwrap();
    let renewed = stored(&h.app.db.pool, ds).await;
    let go = std::sync::Arc::new(std::sync::Barrier::new(1));
    let again = p
        .renew(ds, renewed.access.clone(), go)
        .join()
        .unwrap()
        .expect("renewal with the rotated token");
    assert_ne!(again, renewed.access);
    rotated_and_stored(&h, ds, &renewed, &again).await;
    assert_eq!(refresh_requests(&h) - before, 2);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_that_lost_its_lock_is_still_stored_and_its_successor_sends_nothing() {
    let h = SyncHarness::new(74, 100).await;
    let Connected {
        source: ds,
        run: first,
    } = h.connect(ProviderId::Twitter, "gus", "2005").await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let old = stored(&h.app.db.pool, ds).await;
    h.set_faults(Faults {
        token_slow_ms: 2000,
        ..Faults::default()
    });
    let before = refresh_requests(&h);
    let p = process(&h, Duration::from_secs(10));
    let a = p.renew(
        ds,
        old.access.clone(),
        std::sync::Arc::new(std::sync::Barrier::new(1)),
    );
    // A's request is at the provider (which has spent the old refresh token); now A's lock
    // vanishes, as in a fail-over or an eviction, and B comes for the same renewal.
    assert!(eventually(10, || async { refresh_requests(&h) > before }).await);
    let mut redis = h.app.store.connection();
    let lock_key = format!("{{{}:oauth}}:refresh:{ds}", h.app.store.settings().prefix);
    let deleted: i64 = redis::cmd("DEL")
        .arg(&lock_key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(deleted, 1, "A held the lock");
    let b = p.renew(
        ds,
        old.access.clone(),
        std::sync::Arc::new(std::sync::Barrier::new(1)),
    );
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    let (a, b) = (a.expect("process a"), b.expect("process b"));
    assert_eq!(a, b, "B picked up what A renewed");
    assert_eq!(
        refresh_requests(&h) - before,
        1,
        "B sent no refresh of its own"
    );
    rotated_and_stored(&h, ds, &old, &a).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_never_overwrites_tokens_it_did_not_renew_nor_revives_deleted_ones() {
    use lifesync::{crypto::TokenCipher, db::tokens};
    let app = TestApp::spawn().await;
    let pool = &app.db.pool;
    let ds = app.db.data_source("hal", "twitter", "2006").await;
    let key = token_key();
    let c = TokenCipher::new(&key);
    let sealed = |s: &str| c.seal(s.as_bytes());
    let access_of =
        |t: &tokens::StoredTokens| String::from_utf8(c.open(&t.access).unwrap()).unwrap();
    tokens::store(
        &mut pool.acquire().await.unwrap(),
        ds,
        &sealed("at-0"),
        Some(&sealed("rt-0")),
        None,
        &[],
    )
    .await
    .unwrap();
    let t0 = tokens::load(pool, ds).await.unwrap().unwrap();
    assert_eq!(t0.fence, 0);
    let renew = |base: Vec<u8>, fence: i64, at: &'static str| {
        let (access, refresh) = (sealed(at), sealed(&at.replace("at", "rt")));
        async move {
            tokens::store_renewed(pool, ds, &base, fence, &access, Some(&refresh), None, &[])
                .await
                .unwrap()
                != tokens::Renewed::NotStored
        }
    };
    // The renewal of the stored tokens is stored, with its fence.
    assert!(renew(t0.access.bytes.clone(), 5, "at-1").await);
    let t1 = tokens::load(pool, ds).await.unwrap().unwrap();
    assert_eq!((access_of(&t1), t1.fence), ("at-1".into(), 5));
    // A renewal of tokens since replaced is not, whatever its fence…
    assert!(!renew(t0.access.bytes.clone(), 9, "at-x").await);
    // …nor one whose fence is older than the stored one.
    assert!(!renew(t1.access.bytes.clone(), 4, "at-y").await);
    let still = tokens::load(pool, ds).await.unwrap().unwrap();
    assert_eq!((access_of(&still), still.fence), ("at-1".into(), 5));
    // Disconnected (tokens deleted): a late renewal creates nothing.
    lifesync::db::data_sources::disconnect(pool, ds, false, Duration::from_secs(72 * 3600))
        .await
        .unwrap();
    assert!(!renew(t1.access.bytes.clone(), 6, "at-2").await);
    assert!(tokens::load(pool, ds).await.unwrap().is_none());
    // A refusal of tokens that are gone marks nothing either.
    assert!(!lifesync::db::data_sources::mark_reauth_required(
        pool,
        ds,
        "refused",
        &t1.access.bytes,
        7
    )
    .await
    .unwrap());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_stalled_past_its_lease_after_the_provider_answered_still_wins_over_the_refusal_it_caused(
) {
    let h = SyncHarness::new(75, 100).await;
    let Connected {
        source: ds,
        run: first,
    } = h.connect(ProviderId::Twitter, "ida", "2007").await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let old = stored(&h.app.db.pool, ds).await;
    let status = || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM data_sources WHERE id = $1")
            .bind(ds)
            .fetch_one(&h.app.db.pool)
            .await
            .unwrap()
    };
    // The token endpoint is slow for A: it spends the single-use refresh token at once and
    // answers 1.5 s later.
    h.set_faults(Faults {
        token_slow_ms: 1500,
        ..Faults::default()
    });
    let before = refresh_requests(&h);
    let p = process(&h, Duration::from_millis(300));
    let (mut stall, a) = p.renew_stallable(ds, old.access.clone());
    assert!(eventually(10, || async { refresh_requests(&h) > before }).await);
    // A stalls, whole, before the answer reaches it, for longer than its 300 ms lease: its lock
    // and its flight run out with nobody to renew them. The endpoint answers B at once.
    h.set_faults(Faults::default());
    stall.freeze();
    let b = p
        .renew(
            ds,
            old.access.clone(),
            std::sync::Arc::new(std::sync::Barrier::new(1)),
        )
        .join()
        .unwrap();
    // B took the lock, found no renewal in flight, presented the spent refresh token and was
    // refused: the source is marked, the tokens untouched.
    let refused = b.expect_err("B is refused: A's request spent the refresh token");
    assert!(refused.contains("reconnect required"), "{refused}");
    assert_eq!(refresh_requests(&h) - before, 2, "A's request and B's");
    assert_eq!(status().await, "reauth_required");
    assert_eq!(stored(&h.app.db.pool, ds).await, old);
    let b_fence: i64 = {
        let mut redis = h.app.store.connection();
        let fence_key = format!(
            "{{{}:oauth}}:refresh-fence:{ds}",
            h.app.store.settings().prefix
        );
        redis::cmd("GET")
            .arg(&fence_key)
            .query_async(&mut redis)
            .await
            .unwrap()
    };
    // A wakes with the rotated tokens, the only ones the provider still honours: stored, and
    // the refusal they caused undone, although B's fence is the newer one.
    stall.thaw();
    let a = a.join().unwrap().expect("process a");
    rotated_and_stored(&h, ds, &old, &a).await;
    let a_fence = stored(&h.app.db.pool, ds).await.fence;
    assert!(a_fence < b_fence, "A {a_fence}, B {b_fence}");
    let refused_fence: Option<i64> =
        sqlx::query_scalar("SELECT refused_fence FROM oauth_tokens WHERE data_source_id = $1")
            .bind(ds)
            .fetch_one(&h.app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        refused_fence, None,
        "the refusal mark went with the refused tokens"
    );
    assert_eq!(refresh_requests(&h) - before, 2);
    // And the source works: a sync, then a renewal with the rotated refresh token.
    let run = h.sync(ds, "ida", "incremental").await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    let renewed = stored(&h.app.db.pool, ds).await;
    let again = p
        .renew(
            ds,
            renewed.access.clone(),
            std::sync::Arc::new(std::sync::Barrier::new(1)),
        )
        .join()
        .unwrap()
        .expect("renewal with the rotated token");
    rotated_and_stored(&h, ds, &renewed, &again).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_undoes_only_a_refusal_of_the_tokens_it_renewed_whatever_the_fences_order() {
    use lifesync::{
        crypto::TokenCipher,
        db::{data_sources, tokens, tokens::Renewed},
    };
    let app = TestApp::spawn().await;
    let pool = &app.db.pool;
    let ds = app.db.data_source("jo", "twitter", "2008").await;
    let key = token_key();
    let c = TokenCipher::new(&key);
    let sealed = |s: &str| c.seal(s.as_bytes());
    let status = || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM data_sources WHERE id = $1")
            .bind(ds)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    let current = || async { tokens::load(pool, ds).await.unwrap().unwrap().access.bytes };
    let renew = |base: Vec<u8>, fence: i64| {
        let (access, refresh) = (sealed("at"), sealed("rt"));
        async move {
            tokens::store_renewed(pool, ds, &base, fence, &access, Some(&refresh), None, &[])
                .await
                .unwrap()
        }
    };
    tokens::store(
        &mut pool.acquire().await.unwrap(),
        ds,
        &sealed("at-0"),
        Some(&sealed("rt-0")),
        None,
        &[],
    )
    .await
    .unwrap();
    // A refusal under a newer fence (7) than the success (6) of the same tokens: undone.
    let t0 = current().await;
    assert!(
        data_sources::mark_reauth_required(pool, ds, "refused", &t0, 7)
            .await
            .unwrap()
    );
    assert_eq!(status().await, "reauth_required");
    assert_eq!(renew(t0, 6).await, Renewed::Reopened { refused_fence: 7 });
    assert_eq!(status().await, "active");
    // Under an older fence (8) than the success (9): undone too.
    let t1 = current().await;
    assert!(
        data_sources::mark_reauth_required(pool, ds, "refused", &t1, 8)
            .await
            .unwrap()
    );
    assert_eq!(
        renew(t1.clone(), 9).await,
        Renewed::Reopened { refused_fence: 8 }
    );
    assert_eq!(status().await, "active");
    // A refusal of tokens since replaced marks nothing.
    assert!(
        !data_sources::mark_reauth_required(pool, ds, "refused", &t1, 10)
            .await
            .unwrap()
    );
    assert_eq!(status().await, "active");
    // `reauth_required` for another reason (say the token is another account's): a renewal
    // stores its tokens but does not reopen the source.
    let t2 = current().await;
    data_sources::set_status(
        &mut pool.acquire().await.unwrap(),
        ds,
        lifesync::domain::DataSourceStatus::ReauthRequired,
    )
    .await
    .unwrap();
    assert_eq!(renew(t2, 11).await, Renewed::Stored);
    assert_eq!(status().await, "reauth_required");
    // A refusal mark belongs to the tokens it refused: a connect's new tokens clear it, and a
    // renewal of those does not reopen what the refusal of the old ones closed.
    let t3 = current().await;
    data_sources::set_status(
        &mut pool.acquire().await.unwrap(),
        ds,
        lifesync::domain::DataSourceStatus::Active,
    )
    .await
    .unwrap();
    assert!(
        data_sources::mark_reauth_required(pool, ds, "refused", &t3, 12)
            .await
            .unwrap()
    );
    tokens::store(
        &mut pool.acquire().await.unwrap(),
        ds,
        &sealed("at-4"),
        Some(&sealed("rt-4")),
        None,
        &[],
    )
    .await
    .unwrap();
    assert_eq!(renew(current().await, 13).await, Renewed::Stored);
    assert_eq!(status().await, "reauth_required");
    // A disconnected source: neither a refusal nor a success touches it.
    let t4 = current().await;
    sqlx::query("UPDATE data_sources SET status = 'disconnected' WHERE id = $1")
        .bind(ds)
        .execute(pool)
        .await
        .unwrap();
    assert!(
        !data_sources::mark_reauth_required(pool, ds, "refused", &t4, 14)
            .await
            .unwrap()
    );
    assert_eq!(status().await, "disconnected");
    app.shutdown().await;
}
