//! Twitter end to end through the sandbox, on real PostgreSQL and Redis: API → job → worker →
//! stored items; re-syncs create no duplicates; incremental syncs fetch only what is new; a
//! worker killed mid-sync resumes at the next unstored page; tokens are never stored in clear.

use crate::common::*;
use serde_json::Value;

async fn item_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_full_then_incremental() {
    let app = TestApp::spawn().await;
    let sandbox = TestSandbox::spawn(7).await;
    let TwitterSource { ds, .. } = app.db.twitter_source("alice", "1001", &sandbox).await;
    let stop = start_workers(&app.db.pool, &app.store, &sandbox.twitter_base(), 100);

    // First full sync: every tweet, paged 100 at a time.
    let run = app.start_sync(ds, "alice", "full").await.run;
    let RunOutcome {
        status,
        fetched,
        new,
        updated,
        ..
    } = app.wait_run(run).await;
    assert_eq!(
        (status.as_str(), fetched, new, updated),
        ("succeeded", 230, 230, 0)
    );
    assert_eq!(item_count(&app).await, 230);
    assert_eq!(
        sandbox.timeline_requests().len(),
        3,
        "230 tweets = 3 pages of ≤ 100"
    );

    // Stored as the contract's item: entities, place, metrics, permalink.
    let (text, hashtags, location, permalink): (
        String,
        Vec<String>,
        Option<Value>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT text, hashtags, location, permalink FROM items
              WHERE location IS NOT NULL ORDER BY occurred_at DESC LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(
        !text.is_empty() && !hashtags.is_empty(),
        "{text} {hashtags:?}"
    );
    let location = location.unwrap();
    assert!(
        location["name"].is_string() && location["lat"].is_number(),
        "{location}"
    );
    assert!(permalink
        .unwrap()
        .starts_with("https://x.com/i/web/status/"));
    let source: Value = app
        .get(
            &format!("/api/v1/data-sources/{ds}"),
            Some(&token("alice", 3600, None)),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            source["item_count"].as_i64(),
            source["last_sync_status"].as_str()
        ),
        (Some(230), Some("succeeded"))
    );

    // A second full sync changes nothing: no duplicate rows, nothing counted new or updated.
    let run = app.start_sync(ds, "alice", "full").await.run;
    let RunOutcome {
        status,
        fetched,
        new,
        updated,
        ..
    } = app.wait_run(run).await;
    assert_eq!(
        (status.as_str(), fetched, new, updated),
        ("succeeded", 230, 0, 0)
    );
    assert_eq!(item_count(&app).await, 230);

    // Incremental: only the tweets added since, fetched with since_id.
    let added = sandbox_client()
        .post(format!(
            "{}/_sandbox/twitter/accounts/1001/tweets",
            sandbox.base
        ))
        .json(&serde_json::json!({ "count": 7 }))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success());
    let before = sandbox.timeline_requests().len();
    let run = app.start_sync(ds, "alice", "incremental").await.run;
    let RunOutcome {
        status,
        fetched,
        new,
        ..
    } = app.wait_run(run).await;
    assert_eq!((status.as_str(), fetched, new), ("succeeded", 7, 7));
    assert_eq!(item_count(&app).await, 237);
    let requests = sandbox.timeline_requests();
    assert_eq!(requests.len() - before, 1);
    assert!(
        requests.last().unwrap().contains("since_id="),
        "{requests:?}"
    );

    // Nothing new: an incremental sync fetches nothing and keeps the watermark.
    let run = app.start_sync(ds, "alice", "incremental").await.run;
    let RunOutcome {
        status, fetched, ..
    } = app.wait_run(run).await;
    assert_eq!((status.as_str(), fetched), ("succeeded", 0));
    let run = app.start_sync(ds, "alice", "incremental").await.run;
    assert_eq!(app.wait_run(run).await.fetched, 0, "watermark kept");

    // The contract's metrics saw it (the recorder is per process: other tests add to it).
    let text = app.get("/metrics", None).await.text().await.unwrap();
    for needle in [
        r#"lifesync_sync_runs_total{provider="twitter",trigger="manual",outcome="succeeded"}"#,
        r#"lifesync_sync_items_total{provider="twitter",kind="post",result="new"}"#,
        r#"lifesync_provider_requests_total{provider="twitter",status="200"}"#,
        r#"lifesync_jobs_total{queue="sync",outcome="succeeded"}"#,
        r#"lifesync_job_duration_seconds_bucket{queue="sync",le="0.005"}"#,
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from /metrics:\n{text}"
        );
    }
    let _ = stop.send(());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_columns_hold_no_plaintext_token() {
    let app = TestApp::spawn().await;
    let sandbox = TestSandbox::spawn(7).await;
    let TwitterSource { ds, token } = app.db.twitter_source("alice", "1001", &sandbox).await;
    let (access, refresh): (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "SELECT access_token_enc, refresh_token_enc FROM oauth_tokens WHERE data_source_id = $1",
    )
    .bind(ds)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    for (raw, secret) in [
        (&access, token.as_bytes()),
        (&refresh, b"refresh-token-value".as_slice()),
    ] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret),
            "plaintext token in the row"
        );
        assert!(
            !raw.windows(8).any(|w| w == &secret[..8]),
            "token prefix in the row"
        );
    }
    // The whole row, as text, holds neither.
    let row: String =
        sqlx::query_scalar("SELECT t::text FROM oauth_tokens t WHERE data_source_id = $1")
            .bind(ds)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(!row.contains(&token) && !row.contains("refresh-token-value"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_sync_waits_for_the_reset_instead_of_failing() {
    let app = TestApp::spawn().await;
    let sandbox = TestSandbox::spawn(7).await;
    let TwitterSource { ds, .. } = app.db.twitter_source("alice", "1001", &sandbox).await;
    // Two requests per window: the third page is throttled until the window resets.
    sandbox.state.faults.lock().unwrap().rate_limit = Some(2);
    let stop = start_workers(&app.db.pool, &app.store, &sandbox.twitter_base(), 100);
    let run = app.start_sync(ds, "alice", "full").await.run;
    assert!(
        eventually(30, || async {
            app.store.stats("sync").await.unwrap().retrying == 1
        })
        .await,
        "the job waits in the retry set"
    );
    let RunOutcome {
        status, fetched, ..
    } = run_row(&app.db.pool, &run).await;
    assert_eq!(
        (status.as_str(), fetched),
        ("running", 200),
        "two pages stored, progress kept"
    );
    let job = app.store.dead_jobs("sync", 10).await.unwrap();
    assert!(job.is_empty(), "not dead");
    let _ = stop.send(());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_page_two_of_five_resumes_at_page_three() {
    let feed = SlowFeed::new("alice").await;
    let (app, ds) = (&feed.app, feed.ds);
    let sandbox = &feed.sandbox;
    let spawn_worker = || feed.spawn_worker();
    let mut first = spawn_worker();
    let run = app.start_sync(ds, "alice", "full").await.run;
    assert!(
        eventually(30, || async {
            run_row(&app.db.pool, &run).await.fetched == 92
        })
        .await,
        "two pages stored"
    );
    // Page 3 is being fetched (1.5 s per reply): kill the worker mid-page.
    first.kill().unwrap();
    first.wait().unwrap();
    let before = sandbox.timeline_requests().len();
    assert_eq!(before, 3, "pages 1-3 requested before the kill");
    assert_eq!(
        run_row(&app.db.pool, &run).await.fetched,
        92,
        "page 3 was never stored"
    );

    // A new worker takes the job once its lease expires and continues from page 3.
    let mut second = spawn_worker();
    let RunOutcome {
        status,
        fetched,
        new,
        updated,
        ..
    } = app.wait_run(run).await;
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(
        (status.as_str(), fetched, new, updated),
        ("succeeded", 230, 230, 0)
    );
    assert_eq!(item_count(app).await, 230);
    let after: Vec<String> = sandbox.timeline_requests().split_off(before);
    assert_eq!(after.len(), 3, "pages 3-5 only: {after:?}");
    assert!(
        after[0].contains("pagination_token=pt2k"),
        "resumed at page 3 (offset 92): {after:?}"
    );
    assert!(
        after.iter().all(|r| r.contains("pagination_token=")),
        "page 1 never re-fetched"
    );
    // The version read at the run's start was kept with the run: the resumed run, which did
    // not read the profile, records it (230 posts, the newest id 1001's first).
    let version: Option<String> =
        sqlx::query_scalar("SELECT synced_version FROM data_sources WHERE id = $1")
            .bind(ds)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(version.is_some_and(|v| v.starts_with("230:")));
    feed.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_are_paged_newest_first_filtered_and_scoped_to_their_user() {
    let app = TestApp::spawn().await;
    let sandbox = TestSandbox::spawn(7).await;
    let TwitterSource { ds, .. } = app.db.twitter_source("alice", "1001", &sandbox).await;
    app.db.twitter_source("bob", "2002", &sandbox).await;
    let stop = start_workers(&app.db.pool, &app.store, &sandbox.twitter_base(), 100);
    let run = app.start_sync(ds, "alice", "full").await.run;
    assert_eq!(app.wait_run(run).await.status, "succeeded");
    let alice = token("alice", 3600, None);

    let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let path = match &cursor {
            None => "/api/v1/items?limit=100".to_string(),
            Some(c) => format!("/api/v1/items?limit=100&cursor={c}"),
        };
        let r = app.get(&path, Some(&alice)).await;
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        pages += 1;
        for i in page["items"].as_array().unwrap() {
            seen.push((
                i["occurred_at"].as_str().unwrap().to_string(),
                i["id"].as_str().unwrap().to_string(),
            ));
            assert_eq!(i["provider"], "twitter");
            assert_eq!(i["kind"], "post");
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 230));
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    seen.dedup();
    assert_eq!(seen.len(), 230, "no item twice across pages");

    let count = |q: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let page: Value = app
                .get(&format!("/api/v1/items?limit=500&{q}"), Some(&alice))
                .await
                .json()
                .await
                .unwrap();
            page["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("kind=email").await, 0);
    assert_eq!(count("provider=twitter").await, 230);
    assert_eq!(
        count("since=2026-01-20T00:00:00Z&until=2026-01-21T00:00:00Z").await,
        8,
        "3-hourly tweets in a day"
    );
    let theirs: Value = app
        .get("/api/v1/items", Some(&token("bob", 3600, None)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        theirs["items"].as_array().unwrap().len(),
        0,
        "bob never synced: sees nothing of alice's"
    );

    for (q, code) in [
        ("limit=501", "invalid_parameter"),
        ("limit=0", "invalid_parameter"),
        ("kind=tweet", "invalid_parameter"),
        ("category=SPAM", "invalid_parameter"),
        ("cursor=%%%", "invalid_cursor"),
        ("data_source_id=nope", "invalid_parameter"),
        ("since=yesterday", "invalid_parameter"),
    ] {
        let r = app.get(&format!("/api/v1/items?{q}"), Some(&alice)).await;
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(error_code(r).await, code, "{q}");
    }
    let _ = stop.send(());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_revokes_and_deletes_tokens_and_items_unless_kept() {
    let sandbox = TestSandbox::spawn(7).await;
    let app = TestApp::spawn_with(Some(sandbox_oauth(&sandbox.base))).await;
    let TwitterSource {
        ds: drop_all,
        token: provider_token,
    } = app.db.twitter_source("alice", "1001", &sandbox).await;
    let TwitterSource { ds: keep, .. } = app.db.twitter_source("alice", "1002", &sandbox).await;
    let stop = start_workers(&app.db.pool, &app.store, &sandbox.twitter_base(), 100);
    for ds in [drop_all, keep] {
        let run = app.start_sync(ds, "alice", "full").await.run;
        assert_eq!(app.wait_run(run).await.status, "succeeded");
    }
    let alice = token("alice", 3600, None);
    let bob = token("bob", 3600, None);
    let del = |ds: uuid::Uuid, q: &'static str, t: String| {
        let app = &app;
        async move {
            app.http
                .delete(app.url(&format!("/api/v1/data-sources/{ds}{q}")))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(del(drop_all, "", bob.clone()).await, 404, "not bob's");
    assert_eq!(del(drop_all, "", alice.clone()).await, 204);
    let me = sandbox_client()
        .get(format!("{}/2/users/me", sandbox.twitter_base()))
        .bearer_auth(&provider_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "the token was revoked at the provider");
    assert_eq!(del(keep, "?keep_data=true", alice.clone()).await, 204);
    let counts: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        "SELECT ds.id, (SELECT count(*) FROM items i WHERE i.data_source_id = ds.id)
           FROM data_sources ds ORDER BY ds.account_id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(counts, vec![(drop_all, 0), (keep, 230)]);
    let tokens: i64 = sqlx::query_scalar("SELECT count(*) FROM oauth_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(tokens, 0);
    let one: Value = app
        .get(&format!("/api/v1/data-sources/{keep}"), Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["status"], "disconnected");
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{keep}/sync"),
            &alice,
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 409, "a disconnected source does not sync");
    let _ = stop.send(());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_worker_finish_its_sync_and_progress_shows_meanwhile() {
    let app = TestApp::spawn().await;
    let sandbox = TestSandbox::spawn(7).await;
    let TwitterSource { ds, .. } = app.db.twitter_source("alice", "1001", &sandbox).await;
    sandbox.state.faults.lock().unwrap().slow_ms = 800;
    let prefix = app.store.settings().prefix.clone();
    let mut env = sandbox.service_env(&app.db.url, &prefix, "http://127.0.0.1:1");
    env.push(("SYNC_BATCH_SIZE".into(), "46".into()));
    let mut worker = lifesync_command(&["worker", "--queues", "sync"], &env)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = app.start_sync(ds, "alice", "full").await.run;
    assert!(
        eventually(30, || async {
            run_row(&app.db.pool, &run).await.fetched >= 46
        })
        .await,
        "a page stored"
    );
    // Progress is visible through the API while the run is in progress.
    let runs: Value = app
        .get(
            &format!("/api/v1/data-sources/{ds}/sync-runs"),
            Some(&token("alice", 3600, None)),
        )
        .await
        .json()
        .await
        .unwrap();
    let current = &runs["sync_runs"][0];
    assert_eq!(current["status"], "running", "{runs}");
    assert!(current["items_fetched"].as_i64().unwrap() >= 46);
    assert!(current["items_fetched"].as_i64().unwrap() < 230);
    // SIGTERM mid-run: the in-flight sync finishes within the grace period, then a clean exit.
    std::process::Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = worker.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(40),
            "no exit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    let RunOutcome {
        status,
        fetched,
        new,
        ..
    } = run_row(&app.db.pool, &run).await;
    assert_eq!((status.as_str(), fetched, new), ("succeeded", 230, 230));
    assert_eq!(item_count(&app).await, 230);
    assert_eq!(sandbox.timeline_requests().len(), 5, "each page once");
    let stats = app.store.stats("sync").await.unwrap();
    assert_eq!((stats.running, stats.pending, stats.retrying), (0, 0, 0));
    app.shutdown().await;
}
