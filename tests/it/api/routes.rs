//! The HTTP API against real PostgreSQL and Redis: auth, ownership, the error shape, and
//! manual syncs (one per data source).

use crate::common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_metrics_and_the_openapi_document() {
    let app = TestApp::spawn().await;
    let r = app.get("/health", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
    let r = app.get("/ready", None).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["postgres"].as_str(), body["redis"].as_str()),
        (Some("ok"), Some("ok"))
    );
    assert_eq!(app.get("/metrics", None).await.status(), 200);
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["paths"]["/api/v1/data-sources/{id}/sync"]["post"].is_object());
    // The webhook routes of the contract, each in the document.
    for (path, methods) in [
        ("/api/v1/webhooks", &["post", "get"][..]),
        ("/api/v1/webhooks/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/webhooks/{id}/deliveries", &["get"][..]),
        ("/api/v1/items/changes", &["get"][..]),
    ] {
        for m in methods {
            assert!(spec["paths"][path][m].is_object(), "{m} {path}");
        }
    }
    assert_eq!(app.get("/docs", None).await.status(), 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_expired_or_forged_tokens_get_401_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let path = "/api/v1/data-sources";
    let r = app.get(path, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(error_code(r).await, "unauthorized");
    let r = app.get(path, Some(&token("alice", -10, None))).await;
    assert_eq!(r.status(), 401, "expired");
    let forged = token_with_secret("alice", 3600, None, "another-secret-another-secret-1234");
    assert_eq!(
        app.get(path, Some(&forged)).await.status(),
        401,
        "wrong signature"
    );
    assert_eq!(app.get(path, Some("not.a.jwt")).await.status(), 401);
    // No exp at all.
    let no_exp = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({ "sub": "alice" }),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.get(path, Some(&no_exp)).await.status(),
        401,
        "exp is required"
    );
    assert_eq!(
        app.get(path, Some(&token("alice", 3600, None)))
            .await
            .status(),
        200
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_see_only_their_own_data_sources() {
    let app = TestApp::spawn().await;
    let mine = app.db.data_source("alice", "twitter", "111").await;
    let theirs = app.db.data_source("bob", "twitter", "222").await;
    let alice = token("alice", 3600, None);

    let list: Value = app
        .get("/api/v1/data-sources", Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data_sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![mine.to_string()]);
    let one: Value = app
        .get(&format!("/api/v1/data-sources/{mine}"), Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["provider"], "twitter");
    assert_eq!(one["account_id"], "111");
    assert_eq!(one["item_count"], 0);
    assert_eq!(one["sync_in_progress"], false);

    // Another user's source is indistinguishable from a missing one.
    for path in [
        format!("/api/v1/data-sources/{theirs}"),
        format!("/api/v1/data-sources/{}", uuid::Uuid::new_v4()),
        format!("/api/v1/data-sources/{theirs}/sync-runs"),
    ] {
        let r = app.get(&path, Some(&alice)).await;
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(error_code(r).await, "not_found");
    }
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{theirs}/sync"),
            &alice,
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        app.store.stats("sync").await.unwrap().pending,
        0,
        "nothing enqueued"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_400_with_a_stable_code_and_unknown_routes_404_405() {
    let app = TestApp::spawn().await;
    let ds = app.db.data_source("alice", "twitter", "111").await;
    let alice = token("alice", 3600, None);
    let sync = format!("/api/v1/data-sources/{ds}/sync");

    let r = app
        .get("/api/v1/data-sources/not-a-uuid", Some(&alice))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "invalid_parameter");
    let r = app.post_json(&sync, &alice, "{not json").await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "invalid_json");
    let r = app
        .post_json(&sync, &alice, r#"{"mode":"sometimes"}"#)
        .await;
    assert_eq!(r.status(), 400, "unknown mode");
    assert_eq!(error_code(r).await, "invalid_json");
    let r = app.post_json(&sync, &alice, r#"{}"#).await;
    assert_eq!(r.status(), 400, "missing mode");

    let r = app.get("/api/v1/nothing-here", Some(&alice)).await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "not_found");
    let r = app.http.delete(app.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(r).await, "method_not_allowed");
    assert_eq!(
        app.store.stats("sync").await.unwrap().pending,
        0,
        "bad input enqueued nothing"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_sync_is_queued_once_and_a_second_request_gets_409() {
    let app = TestApp::spawn().await;
    let ds = app.db.data_source("alice", "twitter", "111").await;
    let alice = token("alice", 3600, None);
    let sync = format!("/api/v1/data-sources/{ds}/sync");

    let r = app.post_json(&sync, &alice, r#"{"mode":"full"}"#).await;
    assert_eq!(r.status(), 202);
    let started: Value = r.json().await.unwrap();
    let run_id = started["sync_run_id"].as_str().unwrap().to_string();
    let job_id = started["job_id"].as_str().unwrap().to_string();

    // The job is in the queue, typed, pointing at the run.
    let job = app.store.job(&job_id).await.unwrap().unwrap();
    let payload: Value = serde_json::from_str(&job.payload).unwrap();
    assert_eq!(payload["sync_run_id"], run_id.as_str());
    assert_eq!(
        (payload["mode"].as_str(), payload["trigger"].as_str()),
        (Some("full"), Some("manual"))
    );
    assert_eq!(app.store.stats("sync").await.unwrap().pending, 1);

    // A second request, whatever the mode: 409 with the running run's id, nothing enqueued.
    let r = app
        .post_json(&sync, &alice, r#"{"mode":"incremental"}"#)
        .await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "sync_in_progress");
    assert_eq!(body["sync_run_id"], run_id.as_str());
    assert_eq!(app.store.stats("sync").await.unwrap().pending, 1);

    let one: Value = app
        .get(&format!("/api/v1/data-sources/{ds}"), Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["sync_in_progress"], true);
    let runs: Value = app
        .get(
            &format!("/api/v1/data-sources/{ds}/sync-runs"),
            Some(&alice),
        )
        .await
        .json()
        .await
        .unwrap();
    let runs = runs["sync_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0]["status"].as_str(), runs[0]["trigger"].as_str()),
        (Some("queued"), Some("manual"))
    );
    app.shutdown().await;
}

/// A run is recorded as ended a moment before its job is acknowledged (and the job's unique key
/// released): a request in between waits for the acknowledgement instead of a 409; a job that
/// stays live past the grace (a run ended early) still gets the 409, with no run id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_requested_as_the_previous_run_ends_waits_for_its_job() {
    use lifesync_jobs::store::{AckRecord, Outcome};
    let app = TestApp::spawn().await;
    let ds = app.db.data_source("alice", "twitter", "111").await;
    let alice = token("alice", 3600, None);
    let sync = format!("/api/v1/data-sources/{ds}/sync");
    let end_run = |run: String| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query("UPDATE sync_runs SET status = 'succeeded', finished_at = now() WHERE id = $1::uuid")
                .bind(run)
                .execute(&pool)
                .await
                .unwrap();
        }
    };

    // The run has ended; its job, leased, is acknowledged 300 ms later.
    let r = app.post_json(&sync, &alice, r#"{"mode":"full"}"#).await;
    assert_eq!(r.status(), 202);
    let first: Value = r.json().await.unwrap();
    end_run(first["sync_run_id"].as_str().unwrap().to_string()).await;
    let claimed = app
        .store
        .claim("sync", "w1", 1)
        .await
        .unwrap()
        .jobs
        .remove(0);
    let store = app.store.clone();
    let ack = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let record = AckRecord {
            id: claimed.id,
            lease: claimed.lease,
            shard: claimed.shard,
            outcome: Outcome::Succeeded,
        };
        assert_eq!(store.ack("sync", &[record]).await.unwrap(), 1);
    });
    let r = app.post_json(&sync, &alice, r#"{"mode":"full"}"#).await;
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    ack.await.unwrap();
    let second: Value = r.json().await.unwrap();
    assert_ne!(second["sync_run_id"], first["sync_run_id"]);
    assert_eq!(app.store.stats("sync").await.unwrap().pending, 1);

    // This run ends but its job stays leased: after the grace, 409 and no run left behind.
    end_run(second["sync_run_id"].as_str().unwrap().to_string()).await;
    let _held = app.store.claim("sync", "w1", 1).await.unwrap();
    let r = app.post_json(&sync, &alice, r#"{"mode":"full"}"#).await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "sync_in_progress");
    assert_eq!(body["sync_run_id"], Value::Null);
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sync_runs WHERE data_source_id = $1 AND status IN ('queued', 'running')",
    )
    .bind(ds)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(live, 0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sync_requests_start_exactly_one_run() {
    let app = TestApp::spawn().await;
    let ds = app.db.data_source("alice", "twitter", "111").await;
    let alice = token("alice", 3600, None);
    let sync = format!("/api/v1/data-sources/{ds}/sync");
    let requests = (0..10).map(|_| app.post_json(&sync, &alice, r#"{"mode":"full"}"#));
    let statuses: Vec<u16> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        9,
        "{statuses:?}"
    );
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_runs")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(runs, 1);
    assert_eq!(app.store.stats("sync").await.unwrap().pending, 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_names_the_dependency_that_does_not_answer() {
    // A Redis of this test's own, stopped while the API runs.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    let mut store = None;
    for _ in 0..50 {
        if let Ok(s) = lifesync_jobs::Store::connect(
            lifesync_jobs::RedisSettings::new(url.clone()),
            lifesync_jobs::QueueSettings::new("ready-test"),
        )
        .await
        {
            store = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let db = TestDb::new().await;
    let state = lifesync::api::AppState::new(
        db.pool.clone(),
        store.expect("private redis"),
        JWT_SECRET.as_bytes(),
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(lifesync::api::serve(
        "127.0.0.1:0",
        state,
        move |a| {
            let _ = tx.send(a);
        },
        std::future::pending(),
    ));
    let base = format!("http://{}", rx.await.unwrap());
    let ready = || async { reqwest::get(format!("{base}/ready")).await.unwrap() };
    assert_eq!(ready().await.status(), 200);

    redis.kill().unwrap();
    redis.wait().unwrap();
    let r = ready().await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["postgres"].as_str(), body["redis"].as_str()),
        (Some("ok"), Some("unavailable"))
    );
    assert_eq!(
        reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .status(),
        200,
        "liveness stays up"
    );
    db.drop().await;
}
