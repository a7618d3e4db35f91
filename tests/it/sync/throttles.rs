//! The provider answers the sandbox never gave before, and how a sync job ends: Gmail's 403/429
//! quota bodies are throttles (deferred, no attempt spent, the daily quota until midnight in
//! California); Meta throttles without a time back off from one minute; X's monthly usage cap
//! pauses the provider's syncs; a job that ends for good (deferral cap, attempts exhausted)
//! leaves its run `failed` with the reason; expected endings (a restricted member) are not
//! dead letters. Real PostgreSQL, Redis, the sandbox and the OAuth flow.

use std::collections::HashMap;

use crate::common::*;
use lifesync::providers::ProviderId;
use lifesync_sandbox::Faults;
use redis::AsyncCommands;
use serde_json::Value;
use uuid::Uuid;

/// The job's raw record in Redis (state, attempts, deferrals, run_at_ms, …).
async fn job_hash(h: &SyncHarness, id: &str) -> HashMap<String, String> {
    let key = h.app.store.job_key("sync", 0, id);
    h.app.store.connection().hgetall(key).await.unwrap()
}

fn num(j: &HashMap<String, String>, k: &str) -> i64 {
    j.get(k).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Waits until the job has been deferred at least `n` times and waits in the retry set.
async fn deferred(h: &SyncHarness, job: &str, n: i64) -> HashMap<String, String> {
    let mut last = HashMap::new();
    for _ in 0..300 {
        last = job_hash(h, job).await;
        if num(&last, "deferrals") >= n && last.get("state").map(String::as_str) == Some("retrying")
        {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("job {job} not deferred {n} times: {last:?}");
}

fn rate_limited(provider: &str) -> u64 {
    let series = format!(r#"lifesync_provider_rate_limited_total{{provider="{provider}"}}"#);
    lifesync::metrics::handle()
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn source_row(h: &SyncHarness, ds: Uuid) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, last_sync_error FROM data_sources WHERE id = $1")
        .bind(ds)
        .fetch_one(&h.app.db.pool)
        .await
        .unwrap()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_quota_replies_are_throttles_never_forbidden() {
    let h = SyncHarness::new(61, 100).await;
    let Connected {
        source: ds,
        run: first,
    } = h
        .connect(ProviderId::Google, "gina", "jane.doe@gmail.com")
        .await;
    assert_eq!(first.status, "succeeded", "{first:?}");

    for kind in [
        "userRateLimitExceeded",
        "rateLimitExceeded",
        "rateLimitExceeded429",
    ] {
        let counted = rate_limited("google");
        h.set_faults(Faults {
            quota: Some(kind.into()),
            ..Faults::default()
        });
        let StartedSync { run, job } = h.start_sync(ds, "gina", "incremental").await;
        let j = deferred(&h, &job, 1).await;
        assert_eq!(num(&j, "attempts"), 0, "{kind}: no attempt spent: {j:?}");
        assert_eq!(run_row(&h.app.db.pool, run).await.status, "running");
        assert_eq!(
            source_row(&h, ds).await.0,
            "active",
            "{kind}: not forbidden"
        );
        assert!(rate_limited("google") > counted, "{kind}: counted");
        // The quota comes back: the same run finishes.
        h.set_faults(Faults::default());
        let done = h.wait(run).await;
        assert_eq!(done.status, "succeeded", "{kind}: {done:?}");
    }

    // The daily quota: rescheduled for the next midnight in California, the run kept alive.
    h.set_faults(Faults {
        quota: Some("dailyLimitExceeded".into()),
        ..Faults::default()
    });
    let StartedSync { run, job } = h.start_sync(ds, "gina", "incremental").await;
    let j = deferred(&h, &job, 1).await;
    let now = chrono::Utc::now();
    let midnight = lifesync::providers::reset::next_pacific_midnight(now).timestamp_millis();
    let due = num(&j, "run_at_ms");
    assert!(
        (due - midnight).abs() < 10_000,
        "due {due} vs Pacific midnight {midnight}: {j:?}"
    );
    assert_eq!(num(&j, "attempts"), 0);
    assert_eq!(source_row(&h, ds).await.0, "active");
    let (status, deadline_from): (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT status, updated_at FROM sync_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&h.app.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "running");
    assert!(
        deadline_from > now + chrono::Duration::minutes(30),
        "the run deadline waits with the job: {deadline_from}"
    );
    assert!(h.app.store.dead_jobs("sync", 10).await.unwrap().is_empty());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meta_throttle_without_a_time_waits_a_minute_not_two_seconds() {
    // Production throttle backoff: 1 min doubling to 1 h.
    let h = SyncHarness::with_queue(62, 25, |q| {
        q.throttle = lifesync_jobs::retry::RetryPolicy::throttle_default();
    })
    .await;
    let Connected {
        source: ds,
        run: first,
    } = h
        .connect(ProviderId::Facebook, "fred", "10223456789012345")
        .await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let counted = rate_limited("facebook");
    // Every request: code 4 with X-App-Usage and no time to regain access (HTTP 400).
    h.set_faults(Faults {
        throttle_every: 1,
        ..Faults::default()
    });
    let StartedSync { job, .. } = h.start_sync(ds, "fred", "full").await;
    let j = deferred(&h, &job, 1).await;
    let wait_ms = num(&j, "run_at_ms") - now_ms();
    assert!(
        (40_000..=75_000).contains(&wait_ms),
        "first wait ≈ 60 s ± 20 %: {wait_ms} ms"
    );
    assert_eq!(num(&j, "attempts"), 0);
    assert!(
        rate_limited("facebook") > counted,
        "a code-4 throttle on HTTP 400 is counted"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deferral_cap_ends_the_run_failed_with_the_reason() {
    let h = SyncHarness::with_queue(63, 25, |q| {
        q.max_deferrals = 2;
        q.throttle.base = std::time::Duration::from_millis(200);
        q.throttle.max = std::time::Duration::from_millis(400);
    })
    .await;
    let Connected {
        source: ds,
        run: first,
    } = h
        .connect(ProviderId::Facebook, "fay", "10223456789012345")
        .await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    h.set_faults(Faults {
        throttle_every: 1,
        ..Faults::default()
    });
    let StartedSync { run, job } = h.start_sync(ds, "fay", "full").await;
    let end = h.wait(run).await;
    assert_eq!(end.status, "failed", "{end:?}");
    let error = end.error.unwrap();
    assert!(
        error.contains("gave up after 2 deferrals") && error.contains("rate limited"),
        "{error}"
    );
    let (_, last) = source_row(&h, ds).await;
    assert!(last.unwrap().contains("gave up after 2 deferrals"));
    // Out of deferrals is a genuine dead letter.
    assert_eq!(h.app.wait_job(&job).await, "dead");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_out_of_attempts_leaves_its_run_failed_with_the_error() {
    let h = SyncHarness::with_queue(64, 100, |q| {
        q.retry.base = std::time::Duration::from_millis(100);
        q.retry.max = std::time::Duration::from_millis(200);
    })
    .await;
    let Connected {
        source: ds,
        run: first,
    } = h
        .connect(ProviderId::Google, "gus", "jane.doe@gmail.com")
        .await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    // Every data request: 503.
    h.set_faults(Faults {
        fail_every: 1,
        ..Faults::default()
    });
    let StartedSync { run, job } = h.start_sync(ds, "gus", "full").await;
    let end = h.wait(run).await;
    assert_eq!(end.status, "failed", "{end:?}");
    let error = end.error.unwrap();
    assert!(
        error.contains("gave up after 8 attempts") && error.contains("transient"),
        "{error}"
    );
    assert_eq!(
        h.app.wait_job(&job).await,
        "dead",
        "exhausted retries are a dead letter"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_x_usage_cap_pauses_twitter_syncs_until_next_month() {
    let h = SyncHarness::new(65, 100).await;
    let Connected {
        source: ds,
        run: first,
    } = h.connect(ProviderId::Twitter, "xena", "2002").await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let counted = rate_limited("twitter");
    h.set_faults(Faults {
        quota: Some("UsageCapExceeded".into()),
        ..Faults::default()
    });
    let StartedSync { run, job } = h.start_sync(ds, "xena", "incremental").await;
    let end = h.wait(run).await;
    let until = lifesync::providers::reset::next_month_utc(chrono::Utc::now())
        .format("%Y-%m-%d 00:00 UTC")
        .to_string();
    assert_eq!(end.status, "failed", "{end:?}");
    let error = end.error.unwrap();
    assert!(
        error.contains("usage cap") && error.contains(&until),
        "{error} (want {until})"
    );
    let (status, last) = source_row(&h, ds).await;
    assert_eq!(status, "active", "the account itself is fine");
    assert!(last.unwrap().contains("paused until"));
    assert!(rate_limited("twitter") > counted);
    // Not retried like a 15-minute window, and not a dead letter: the job is done.
    assert_eq!(h.app.wait_job(&job).await, "succeeded");
    assert!(h.app.store.dead_jobs("sync", 10).await.unwrap().is_empty());

    // Another account of the same app: paused too, without a single timeline request, even
    // though the sandbox would answer again.
    h.set_faults(Faults::default());
    let timeline = |h: &SyncHarness| {
        h.sandbox
            .state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with("twitter /2/users/") && r.contains("/tweets"))
            .count()
    };
    let before = timeline(&h);
    let Connected {
        source: ds2,
        run: run2,
    } = h.connect(ProviderId::Twitter, "yuri", "2003").await;
    assert_eq!(run2.status, "failed", "{run2:?}");
    assert!(run2.error.unwrap().contains("paused until"));
    assert_eq!(timeline(&h), before, "no request while paused");
    assert_eq!(source_row(&h, ds2).await.0, "active");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_linkedin_member_ends_the_run_without_a_dead_letter() {
    let h = SyncHarness::new(66, 100).await;
    let Connected { source: ds, run } = h
        .connect(ProviderId::Linkedin, "lena", "restricted-member")
        .await;
    assert_eq!(run.status, "failed", "{run:?}");
    assert!(run.error.unwrap().contains("r_member_social"));
    let (status, _) = source_row(&h, ds).await;
    assert_eq!(status, "error");
    let job: Option<String> =
        sqlx::query_scalar("SELECT job_id FROM sync_runs WHERE data_source_id = $1")
            .bind(ds)
            .fetch_one(&h.app.db.pool)
            .await
            .unwrap();
    let job = job.unwrap();
    assert_eq!(
        h.app.wait_job(&job).await,
        "succeeded",
        "{:?}",
        job_hash(&h, &job).await
    );
    assert!(h.app.store.dead_jobs("sync", 10).await.unwrap().is_empty());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_asks_for_reauthorization_without_a_dead_letter() {
    let sandbox = TestSandbox::spawn(67).await;
    let app = TestApp::spawn().await;
    // A token the provider no longer accepts, and no refresh token to renew it.
    let ds = app.db.data_source("rita", "twitter", "1001").await;
    let key = token_key();
    let cipher = lifesync::crypto::TokenCipher::new(&key);
    lifesync::db::tokens::store(
        &mut app.db.pool.acquire().await.unwrap(),
        ds,
        &cipher.seal(b"twitter-at-unknown"),
        None,
        None,
        &[],
    )
    .await
    .unwrap();
    let stop = start_workers(&app.db.pool, &app.store, &sandbox.twitter_base(), 100);
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token("rita", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    let v: Value = r.json().await.unwrap();
    let run = v["sync_run_id"].as_str().unwrap().to_string();
    let job = v["job_id"].as_str().unwrap().to_string();
    assert_eq!(app.wait_run(&run).await.status, "failed");
    let status: String = sqlx::query_scalar("SELECT status FROM data_sources WHERE id = $1")
        .bind(ds)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "reauth_required");
    assert_eq!(app.wait_job(&job).await, "succeeded");
    assert!(app.store.dead_jobs("sync", 10).await.unwrap().is_empty());
    let _ = stop.send(());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_disconnected_mid_run_ends_it_and_stores_nothing_more() {
    let h = SyncHarness::new(68, 25).await;
    let Connected {
        source: ds,
        run: first,
    } = h.connect(ProviderId::Twitter, "dora", "2002").await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    h.set_faults(Faults {
        slow_ms: 400,
        ..Faults::default()
    });
    let StartedSync { run, job } = h.start_sync(ds, "dora", "full").await;
    assert!(
        eventually(30, || async {
            run_row(&h.app.db.pool, run).await.fetched > 0
        })
        .await
    );
    let r = h
        .app
        .http
        .delete(h.app.url(&format!("/api/v1/data-sources/{ds}")))
        .bearer_auth(token("dora", 3600, None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        h.app.wait_job(&job).await,
        "succeeded",
        "the job completes: {:?}",
        job_hash(&h, &job).await
    );
    let end = h.wait(run).await;
    assert_eq!(end.status, "cancelled");
    assert_eq!(end.error.as_deref(), Some("disconnected"));
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items WHERE data_source_id = $1")
        .bind(ds)
        .fetch_one(&h.app.db.pool)
        .await
        .unwrap();
    assert_eq!(items, 0, "no page stored after the disconnection");
    assert!(h.app.store.dead_jobs("sync", 10).await.unwrap().is_empty());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fan_out_skips_a_paused_provider() {
    use lifesync_jobs::payloads::{ScheduleFanout, SyncMode};
    let app = TestApp::spawn().await;
    let x = app.db.data_source("pia", "twitter", "1001").await;
    let mail = app.db.data_source("pia", "google", "pia@gmail.com").await;
    let pauses = lifesync::providers::pause::Pauses::new(
        app.store.connection(),
        app.store.settings().prefix.clone(),
    );
    pauses
        .pause(
            ProviderId::Twitter,
            "lifesync-twitter",
            lifesync::providers::reset::next_month_utc(chrono::Utc::now()),
        )
        .await
        .unwrap();
    let stop = start_queue_workers(
        &app.db.pool,
        &app.store,
        "http://127.0.0.1:1/twitter",
        100,
        &["fanout"],
    );
    lifesync_jobs::Producer::new(app.store.clone())
        .enqueue(&ScheduleFanout {
            version: ScheduleFanout::VERSION,
            schedule: "daily".into(),
            mode: SyncMode::Full,
            tick_unix: chrono::Utc::now().timestamp(),
        })
        .await
        .unwrap();
    assert!(
        eventually(20, || async {
            app.store.stats("fanout").await.unwrap().succeeded == 1
        })
        .await
    );
    let runs: Vec<Uuid> = sqlx::query_scalar("SELECT data_source_id FROM sync_runs")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(runs, vec![mail], "twitter ({x}) is paused");
    let _ = stop.send(());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_job_died_unseen_is_ended_with_the_jobs_error() {
    // Every attempt times out (the handler is dropped and cannot end the run itself).
    let app = TestApp::spawn_with_queue(None, |q| {
        q.job_timeout = std::time::Duration::from_millis(700);
        q.retry.base = std::time::Duration::from_millis(50);
        q.retry.max = std::time::Duration::from_millis(100);
    })
    .await;
    let sandbox = TestSandbox::spawn(69).await;
    let TwitterSource { ds, .. } = app.db.twitter_source("tess", "1001", &sandbox).await;
    sandbox.state.faults.lock().unwrap().slow_ms = 2000;
    let stop = start_workers(&app.db.pool, &app.store, &sandbox.twitter_base(), 100);
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token("tess", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    let v: Value = r.json().await.unwrap();
    let run = v["sync_run_id"].as_str().unwrap().to_string();
    let job = v["job_id"].as_str().unwrap().to_string();
    assert_eq!(app.wait_job(&job).await, "dead");
    assert_eq!(
        run_row(&app.db.pool, &run).await.status,
        "running",
        "unseen"
    );
    let ended = lifesync::maintenance::end_dead_job_runs(
        &app.db.pool,
        &app.store,
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(ended.len(), 1);
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status, error FROM sync_runs WHERE id = $1::uuid")
            .bind(&run)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("timed out"));
    let last: Option<String> =
        sqlx::query_scalar("SELECT last_sync_error FROM data_sources WHERE id = $1")
            .bind(ds)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(last.unwrap().contains("the sync job died"));
    let _ = stop.send(());
    app.shutdown().await;
}
