//! Operator routes: admin syncs for chosen users, queue statistics, dead letters and re-drive.

use crate::common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_need_the_admin_role() {
    let app = TestApp::spawn().await;
    let alice = token("alice", 3600, None);
    for (method, path) in [
        ("POST", "/api/v1/admin/sync"),
        ("GET", "/api/v1/admin/queues"),
        ("GET", "/api/v1/admin/jobs/dead"),
        ("POST", "/api/v1/admin/jobs/x/retry"),
        ("GET", "/api/v1/admin/oauth/stats"),
    ] {
        let r = match method {
            "GET" => app.get(path, Some(&alice)).await,
            _ => {
                app.post_json(path, &alice, r#"{"user_ids":["a"],"mode":"full"}"#)
                    .await
            }
        };
        assert_eq!(r.status(), 403, "{path}");
        assert_eq!(error_code(r).await, "forbidden");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sync_enqueues_one_sync_per_active_source_of_the_chosen_users() {
    let app = TestApp::spawn().await;
    let admin = token("op", 3600, Some("admin"));
    for (user, account) in [("alice", "1"), ("alice", "2"), ("bob", "3"), ("carol", "4")] {
        app.db.data_source(user, "twitter", account).await;
    }
    let gone = app.db.data_source("bob", "twitter", "5").await;
    sqlx::query("UPDATE data_sources SET status = 'reauth_required' WHERE id = $1")
        .bind(gone)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let body = r#"{"user_ids":["alice","bob"],"mode":"incremental"}"#;
    let r = app.post_json("/api/v1/admin/sync", &admin, body).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["jobs_enqueued"], 3);
    // Again while they are queued: nothing new.
    let v: Value = app
        .post_json("/api/v1/admin/sync", &admin, body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["jobs_enqueued"], 0);
    let v: Value = app
        .post_json(
            "/api/v1/admin/sync",
            &admin,
            r#"{"user_ids":["carol"],"provider":"google","mode":"full"}"#,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["jobs_enqueued"], 0);
    let triggers: Vec<String> = sqlx::query_scalar("SELECT DISTINCT trigger FROM sync_runs")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(triggers, ["admin"]);
    // Queue statistics.
    let q: Value = app
        .get("/api/v1/admin/queues", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let sync = q["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "sync")
        .unwrap();
    assert_eq!(sync["pending"], 3);
    assert_eq!(q["sync"]["pending"], 3, "also keyed by queue name");
    assert_eq!(q["fanout"]["dead"], 0);
    for bad in [
        r#"{"user_ids":[],"mode":"full"}"#,
        r#"{"user_ids":["a"],"mode":"sometimes"}"#,
        r#"{"user_ids":["a"],"provider":"myspace","mode":"full"}"#,
    ] {
        let r = app.post_json("/api/v1/admin/sync", &admin, bad).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_sync_is_listed_with_its_error_and_redriven_to_completion() {
    let sandbox = TestSandbox::spawn(5).await;
    let app = TestApp::spawn().await;
    let admin = token("op", 3600, Some("admin"));
    // A source whose provider answers a malformed page: a bug-class failure, so a genuine dead
    // letter (a refused token is the user's doing and no longer dead-letters: tests/it/sync/throttles.rs).
    let ds = app.db.data_source("alice", "twitter", "1001").await;
    let key = token_key();
    let cipher = lifesync::crypto::TokenCipher::new(&key);
    let good = sandbox.state.issue_token("1001");
    lifesync::db::tokens::store(
        &mut app.db.pool.acquire().await.unwrap(),
        ds,
        &cipher.seal(good.as_bytes()),
        None,
        None,
        &[],
    )
    .await
    .unwrap();
    sandbox.state.faults.lock().unwrap().malformed_pages = 1;
    let stop = start_workers(&app.db.pool, &app.store, &sandbox.twitter_base(), 100);
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token("alice", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    let run: Value = r.json().await.unwrap();
    let run_id = run["sync_run_id"].as_str().unwrap().to_string();
    let job_id = run["job_id"].as_str().unwrap().to_string();
    assert!(
        eventually(30, || async {
            let v: Value = app
                .get("/api/v1/admin/jobs/dead?queue=sync", Some(&admin))
                .await
                .json()
                .await
                .unwrap();
            v["jobs"].as_array().is_some_and(|j| !j.is_empty())
        })
        .await
    );
    let v: Value = app
        .get("/api/v1/admin/jobs/dead", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let dead = &v["jobs"][0];
    assert_eq!(dead["id"], job_id.as_str());
    assert_eq!(dead["attempts"], 1);
    assert!(dead["last_error"].as_str().unwrap().contains("malformed"));
    assert_eq!(dead["payload"]["data_source_id"], ds.to_string());
    assert_eq!(run_row(&app.db.pool, &run_id).await.status, "failed");
    // The provider answers well again (the fault was one page); the operator re-drives.
    let r = app
        .http
        .post(app.url(&format!("/api/v1/admin/jobs/{job_id}/retry")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        eventually(30, || async {
            run_row(&app.db.pool, &run_id).await.status == "succeeded"
        })
        .await
    );
    assert_eq!(run_row(&app.db.pool, &run_id).await.fetched, 230);
    // Not dead any more: a second re-drive is refused; an unknown job is 404.
    let r = app
        .http
        .post(app.url(&format!("/api/v1/admin/jobs/{job_id}/retry")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = app
        .http
        .post(app.url("/api/v1/admin/jobs/nope/retry"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let _ = stop.send(());
    app.shutdown().await;
}
