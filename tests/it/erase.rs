//! Erase and export (issue #15, item 4): a user's accounts connected through the real OAuth
//! flow against the HTTPS sandbox and synced, another user's beside them; after the erase,
//! every table of the schema and every Redis key under the test's prefix is scanned for
//! anything that names the erased user, the other user's data is intact, and the sandbox
//! recorded the revocations. Also: idempotency (a second request, re-runs after a cut at each
//! step), the fence while the erase is pending, a revocation outage, the JSON Lines export,
//! and hostile requests; and the user's jobs in every state — a sync held by its worker at a
//! slow provider during the erase, one scheduled for an hour later, finished ones — leave no
//! record, queue entry or unique key behind, and the held one's late acknowledgement brings
//! nothing back.

use std::collections::HashSet;

use crate::common::*;
use lifesync::providers::ProviderId;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

const A: &str = "erase-user-alpha-5d1f0c9e";
const B: &str = "erase-user-bravo-83b2aa41";

/// A's accounts: one per provider. B's: other accounts at two of them.
const A_ACCOUNTS: [(ProviderId, &str); 6] = [
    (ProviderId::Twitter, "1001"),
    (ProviderId::Google, "alpha.erase@gmail.com"),
    (ProviderId::Facebook, "10223456789012345"),
    (ProviderId::Linkedin, "782bbtaQ"),
    (ProviderId::Instagram, "17841405793187218"),
    (
        ProviderId::Microsoft,
        "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
    ),
];
const B_ACCOUNTS: [(ProviderId, &str); 2] = [
    (ProviderId::Twitter, "2002"),
    (ProviderId::Google, "bravo.keep@gmail.com"),
];

fn erase_worker(h: &SyncHarness) -> tokio::sync::oneshot::Sender<()> {
    start_queue_workers(
        &h.app.db.pool,
        &h.app.store,
        &h.sandbox.twitter_base(),
        100,
        &["erase"],
    )
}

async fn delete(h: &SyncHarness, path: &str, jwt: Option<&str>) -> reqwest::Response {
    let mut r = h.app.http.delete(h.app.url(path));
    if let Some(t) = jwt {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

/// `DELETE /api/v1/users/me` as `user`: the job id of the 202.
async fn erase_me(h: &SyncHarness, user: &str) -> String {
    let r = delete(h, "/api/v1/users/me", Some(&token(user, 3600, None))).await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    body["job_id"].as_str().expect("job_id").to_string()
}

/// Waits until no connection or sync job is queued or running (their records end finished:
/// a job still in flight when an erase runs keeps its record, ids only, for the retention).
async fn quiet(h: &SyncHarness) {
    assert!(
        h.app.drained(&["oauth_completion", "sync"], 60).await,
        "the queues never settled"
    );
}

async fn ids(pool: &PgPool, sql: &str, user: &str) -> Vec<Uuid> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(user)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Everything that identifies `user` in PostgreSQL: the id, and the ids of their sources,
/// runs and items.
async fn needles(pool: &PgPool, user: &str) -> Vec<String> {
    let mut out = vec![user.to_string()];
    for sql in [
        "SELECT id FROM data_sources WHERE user_id = $1",
        "SELECT r.id FROM sync_runs r JOIN data_sources d ON d.id = r.data_source_id
          WHERE d.user_id = $1",
        "SELECT id FROM items WHERE user_id = $1",
    ] {
        out.extend(
            ids(pool, sql, user)
                .await
                .into_iter()
                .map(|u| u.to_string()),
        );
    }
    out
}

/// Every base table of the schema (whatever tables a later migration adds) with the number of
/// its rows whose text form contains one of `needles`.
async fn rows_naming(pool: &PgPool, needles: &[String]) -> Vec<(String, i64)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
          ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(tables.len() >= 5, "{tables:?}");
    let patterns: Vec<String> = needles.iter().map(|n| format!("%{n}%")).collect();
    let mut out = Vec::new();
    for t in tables {
        // The name comes from the catalogue, quoted as an identifier.
        let sql = format!(
            "SELECT count(*) FROM \"{}\" AS r WHERE r::text LIKE ANY($1)",
            t.replace('"', "\"\"")
        );
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&patterns)
            .fetch_one(pool)
            .await
            .unwrap();
        out.push((t, n));
    }
    out
}

/// Every key under the test's prefix with its whole content as text (name, then values).
async fn redis_dump(h: &SyncHarness) -> Vec<(String, String)> {
    let mut conn = h.app.store.connection();
    let prefix = &h.app.store.settings().prefix;
    let mut cursor = 0u64;
    let mut out = Vec::new();
    // `P:*` and the hash-tagged `{P:…}:*` keys.
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("*{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        for k in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .unwrap();
            let values: Vec<String> = match kind.as_str() {
                "string" => vec![redis::cmd("GET")
                    .arg(&k)
                    .query_async::<Option<String>>(&mut conn)
                    .await
                    .unwrap()
                    .unwrap_or_default()],
                "hash" => redis::cmd("HGETALL")
                    .arg(&k)
                    .query_async(&mut conn)
                    .await
                    .unwrap(),
                "list" => redis::cmd("LRANGE")
                    .arg(&k)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .unwrap(),
                "set" => redis::cmd("SMEMBERS")
                    .arg(&k)
                    .query_async(&mut conn)
                    .await
                    .unwrap(),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&k)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .unwrap(),
                "none" => continue, // expired meanwhile
                other => panic!("{k}: unexpected type {other}"),
            };
            out.push((k.clone(), format!("{k} {}", values.join(" "))));
        }
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

/// Keys (with the needle) whose name or content names one of `needles`.
fn keys_naming(dump: &[(String, String)], needles: &[String]) -> Vec<(String, String)> {
    dump.iter()
        .filter_map(|(k, text)| {
            needles
                .iter()
                .find(|n| text.contains(n.as_str()))
                .map(|n| (k.clone(), n.clone()))
        })
        .collect()
}

async fn revocations(h: &SyncHarness) -> Vec<lifesync_sandbox::Revocation> {
    sandbox_client()
        .get(format!("{}/_sandbox/revocations", h.sandbox.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Completion ids of `user` found in Redis (the records the callback and the job wrote).
fn completion_ids(dump: &[(String, String)], user: &str) -> Vec<String> {
    dump.iter()
        .filter(|(k, text)| k.contains(":oauth}:tmp:completion:") && text.contains(user))
        .map(|(k, _)| k.rsplit(':').next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erase_leaves_nothing_of_the_user_anywhere_and_revokes_at_the_providers() {
    let h = SyncHarness::new(1501, 100).await;
    let pool = h.app.db.pool.clone();
    for (p, account) in A_ACCOUNTS {
        let Connected { run, .. } = h.connect(p, A, account).await;
        assert_eq!(run.status, "succeeded", "{p}: {run:?}");
    }
    let mut b_sources = Vec::new();
    for (p, account) in B_ACCOUNTS {
        let Connected { source: ds, run } = h.connect(p, B, account).await;
        assert_eq!(run.status, "succeeded", "{p}: {run:?}");
        b_sources.push(ds);
    }
    // A second run of A's Twitter source.
    let a_twitter: Uuid = sqlx::query_scalar(
        "SELECT id FROM data_sources WHERE user_id = $1 AND provider = 'twitter'",
    )
    .bind(A)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        h.sync(a_twitter, A, "incremental").await.status,
        "succeeded"
    );
    quiet(&h).await;

    let a_needles = needles(&pool, A).await;
    let b_needles = needles(&pool, B).await;
    assert!(a_needles.len() > 300, "A has items: {}", a_needles.len());
    let dump = redis_dump(&h).await;
    let a_completions = completion_ids(&dump, A);
    let b_completions = completion_ids(&dump, B);
    assert_eq!((a_completions.len(), b_completions.len()), (6, 2));
    let a_all: Vec<String> = a_needles.iter().chain(&a_completions).cloned().collect();
    assert!(
        !keys_naming(&dump, &a_all).is_empty(),
        "before the erase, Redis holds A's records (the scan can see them)"
    );
    let b_rows_before = rows_naming(&pool, &b_needles).await;
    let a_tokens: Vec<(String, String)> = {
        let issued = h.sandbox.state.issued_tokens();
        A_ACCOUNTS
            .iter()
            .flat_map(|(p, acc)| {
                issued
                    .iter()
                    .filter(move |t| t.provider == *p && t.account == *acc)
                    .map(|t| (t.provider.as_str().to_string(), t.access_token.clone()))
            })
            .collect()
    };
    assert!(a_tokens.len() >= 6);

    // The erase: 202 with a job id; a second request while it is queued joins it.
    let job = erase_me(&h, A).await;
    assert_eq!(erase_me(&h, A).await, job, "one erase per user is queued");
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT status FROM data_sources WHERE user_id = $1")
            .bind(A)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(statuses, ["disconnected"], "fenced before the job runs");
    let stop = erase_worker(&h);
    assert_eq!(h.app.wait_job(&job).await, "succeeded");

    // PostgreSQL: no row of any table names A, A's sources, runs or items.
    let left: Vec<(String, i64)> = rows_naming(&pool, &a_needles)
        .await
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(left.is_empty(), "rows of A remain: {left:?}");
    // Redis: no key names them or A's completions, and A's API bucket is gone.
    let dump = redis_dump(&h).await;
    let left = keys_naming(&dump, &a_all);
    assert!(left.is_empty(), "keys of A remain: {left:?}");
    let bucket = lifesync::services::user_limit::user_key(&h.app.store.settings().prefix, A);
    assert!(
        dump.iter().all(|(k, _)| *k != bucket),
        "A's rate-limit bucket"
    );
    // B is untouched: same rows, completions still there.
    assert_eq!(rows_naming(&pool, &b_needles).await, b_rows_before);
    assert_eq!(completion_ids(&dump, B).len(), 2);
    let b_active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM data_sources WHERE user_id = $1 AND status = 'active'",
    )
    .bind(B)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(b_active, 2);

    // The providers: every revocable grant of A revoked, none of B's.
    let revoked = revocations(&h).await;
    let by = |p: ProviderId| -> HashSet<(String, String)> {
        revoked
            .iter()
            .filter(|r| r.provider == p.as_str())
            .map(|r| (r.account.clone(), r.token_type.clone()))
            .collect()
    };
    let acc = |p: ProviderId| {
        A_ACCOUNTS
            .iter()
            .find(|(q, _)| *q == p)
            .unwrap()
            .1
            .to_string()
    };
    assert_eq!(
        by(ProviderId::Twitter),
        HashSet::from([
            (acc(ProviderId::Twitter), "refresh_token".into()),
            (acc(ProviderId::Twitter), "access_token".into()),
        ])
    );
    assert_eq!(
        by(ProviderId::Google),
        HashSet::from([(acc(ProviderId::Google), "grant".into())])
    );
    assert_eq!(
        by(ProviderId::Facebook),
        HashSet::from([(acc(ProviderId::Facebook), "grant".into())])
    );
    assert_eq!(
        by(ProviderId::Linkedin),
        HashSet::from([(acc(ProviderId::Linkedin), "access_token".into())])
    );
    assert!(by(ProviderId::Instagram).is_empty() && by(ProviderId::Microsoft).is_empty());
    for (p, t) in &a_tokens {
        let p = ProviderId::parse(p).unwrap();
        let revocable = !matches!(p, ProviderId::Instagram | ProviderId::Microsoft);
        if revocable {
            assert!(
                h.sandbox.state.token_info(p, t).is_none(),
                "{p}: A's token still works"
            );
        }
    }
    for (_, account) in B_ACCOUNTS {
        assert!(revoked.iter().all(|r| r.account != account), "B revoked");
    }

    // Again, after the erase: 202, a new job that finds nothing and changes nothing.
    let again = erase_me(&h, A).await;
    assert_ne!(again, job);
    assert_eq!(h.app.wait_job(&again).await, "succeeded");
    assert_eq!(rows_naming(&pool, &b_needles).await, b_rows_before);
    let left: i64 = rows_naming(&pool, &a_needles)
        .await
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(left, 0);
    let _ = stop.send(());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rerun_after_a_cut_at_any_step_completes_the_erase() {
    let h = SyncHarness::new(1502, 100).await;
    let pool = h.app.db.pool.clone();
    let store = h.app.store.clone();
    let states = lifesync::oauth::state::StateStore::new(
        store.connection(),
        store.settings().prefix.clone(),
    );
    for (cut, user) in [
        ("after the Redis step", "cut-after-redis-0b1c"),
        ("after the database step", "cut-after-db-7e4f"),
    ] {
        h.connect(ProviderId::Twitter, user, "3003").await;
        h.connect(ProviderId::Google, user, "cut.user@gmail.com")
            .await;
        quiet(&h).await;
        let a_needles = needles(&pool, user).await;
        // A worker that died part-way: some steps done, the job not acknowledged.
        let sources = lifesync::db::users::sources_to_revoke(&pool, user)
            .await
            .unwrap();
        lifesync::services::erase::redis_keys::purge(&store, &states, user, &sources)
            .await
            .unwrap();
        if cut == "after the database step" {
            lifesync::db::users::delete_user(&pool, user).await.unwrap();
        }
        // The job runs (again) and completes the erase.
        let job = erase_me(&h, user).await;
        let stop = erase_worker(&h);
        assert_eq!(h.app.wait_job(&job).await, "succeeded", "{cut}");
        let _ = stop.send(());
        let left: Vec<(String, i64)> = rows_naming(&pool, &a_needles)
            .await
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        assert!(left.is_empty(), "{cut}: {left:?}");
        let dump = redis_dump(&h).await;
        assert!(keys_naming(&dump, &a_needles).is_empty(), "{cut}");
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_outage_delays_the_erase_a_few_attempts_then_it_proceeds() {
    let h = SyncHarness::with_queue(1503, 100, |q| {
        q.retry.base = std::time::Duration::from_millis(200);
        q.retry.max = std::time::Duration::from_millis(400);
    })
    .await;
    let pool = h.app.db.pool.clone();
    h.connect(ProviderId::Twitter, A, "1001").await;
    h.connect(ProviderId::Google, A, "alpha.erase@gmail.com")
        .await;
    let a_needles = needles(&pool, A).await;
    h.set_faults(lifesync_sandbox::Faults {
        revoke_unavailable: true,
        ..Default::default()
    });
    let job = erase_me(&h, A).await;
    let stop = erase_worker(&h);
    assert_eq!(h.app.wait_job(&job).await, "succeeded");
    let record = h.app.store.job(&job).await.unwrap().unwrap();
    assert_eq!(
        record.attempts,
        lifesync::services::erase::REVOKE_ATTEMPTS,
        "retried, then went on"
    );
    let log = h.sandbox.state.requests.lock().unwrap().clone();
    for p in ["twitter", "google"] {
        let tries = log.iter().filter(|r| **r == format!("{p} revoke")).count();
        // Refresh and access token per attempt at Twitter; the refresh token (the grant)
        // and the access token at Google.
        assert_eq!(
            tries,
            2 * lifesync::services::erase::REVOKE_ATTEMPTS as usize,
            "{p}"
        );
    }
    assert!(revocations(&h).await.is_empty(), "nothing could be revoked");
    let left: i64 = rows_naming(&pool, &a_needles)
        .await
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(left, 0, "erased locally all the same");
    let _ = stop.send(());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_the_erase_is_pending_nothing_syncs_for_the_user() {
    let h = SyncHarness::new(1504, 100).await;
    let Connected { source: ds, .. } = h.connect(ProviderId::Twitter, A, "1001").await;
    let before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sync_runs WHERE data_source_id = $1")
            .bind(ds)
            .fetch_one(&h.app.db.pool)
            .await
            .unwrap();
    erase_me(&h, A).await; // no erase worker: the job waits
    let r = h
        .app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token(A, 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(r).await, "disconnected");
    // The admin's sync and the schedules take active sources only.
    let r = h
        .app
        .post_json(
            "/api/v1/admin/sync",
            &token("ops", 3600, Some("admin")),
            &format!(r#"{{"user_ids":["{A}"],"mode":"full"}}"#),
        )
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["jobs_enqueued"], 0);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_runs WHERE data_source_id = $1")
        .bind(ds)
        .fetch_one(&h.app.db.pool)
        .await
        .unwrap();
    assert_eq!(after, before);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn export_streams_the_users_data_as_json_lines_without_secrets() {
    let h = SyncHarness::new(1505, 100).await;
    let pool = h.app.db.pool.clone();
    h.connect(ProviderId::Twitter, A, "1001").await;
    h.connect(ProviderId::Google, A, "alpha.erase@gmail.com")
        .await;
    h.connect(ProviderId::Twitter, B, "2002").await;
    let r = h
        .app
        .get("/api/v1/users/me/export", Some(&token(A, 3600, None)))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let body = r.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines[0]["type"], "export");
    assert_eq!(lines[0]["user_id"], A);
    let end = lines.last().unwrap();
    assert_eq!(end["type"], "end");
    let of = |t: &str| -> Vec<&Value> { lines.iter().filter(|l| l["type"] == t).collect() };
    let count = |sql: &str| {
        let pool = pool.clone();
        let sql = sql.to_string();
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .bind(A)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let sources = count("SELECT count(*) FROM data_sources WHERE user_id = $1").await;
    let runs = count(
        "SELECT count(*) FROM sync_runs r JOIN data_sources d ON d.id = r.data_source_id
          WHERE d.user_id = $1",
    )
    .await;
    let items = count("SELECT count(*) FROM items WHERE user_id = $1").await;
    assert_eq!(
        (
            of("data_source").len() as i64,
            of("sync_run").len() as i64,
            of("item").len() as i64
        ),
        (sources, runs, items)
    );
    assert_eq!(
        (
            end["data_sources"].as_i64(),
            end["sync_runs"].as_i64(),
            end["items"].as_i64()
        ),
        (Some(sources), Some(runs), Some(items))
    );
    assert!(items > 300);
    assert_eq!(
        lines.len() as i64,
        2 + sources + runs + items,
        "typed lines only"
    );
    // Only A's: every item's source is one of A's.
    let a_sources: HashSet<String> =
        ids(&pool, "SELECT id FROM data_sources WHERE user_id = $1", A)
            .await
            .into_iter()
            .map(|u| u.to_string())
            .collect();
    for l in of("item").into_iter().chain(of("sync_run")) {
        assert!(
            a_sources.contains(l["data_source_id"].as_str().unwrap()),
            "{l}"
        );
    }
    let item = of("item")[0];
    for field in [
        "id",
        "kind",
        "external_id",
        "occurred_at",
        "text",
        "provider",
    ] {
        assert!(!item[field].is_null(), "item.{field}");
    }
    // No token or secret: none the sandbox issued, no sealed bytes, no token fields.
    for t in h.sandbox.state.issued_tokens() {
        assert!(
            !body.contains(&t.access_token),
            "an access token was exported"
        );
    }
    for t in h.sandbox.state.oauth.refresh_tokens() {
        assert!(!body.contains(&t), "a refresh token was exported");
    }
    for word in [
        "access_token",
        "refresh_token",
        "token_enc",
        "key_id",
        "cursor_state",
    ] {
        assert!(!body.contains(word), "{word} in the export");
    }
    // A user with nothing: the header and an end of zeros.
    let r = h
        .app
        .get(
            "/api/v1/users/me/export",
            Some(&token("nobody-here", 3600, None)),
        )
        .await;
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["items"], 0);
    // Without a token: 401.
    let r = h.app.get("/api/v1/users/me/export", None).await;
    assert_eq!(r.status(), 401);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_and_admin_erase_requests() {
    let h = SyncHarness::new(1506, 100).await;
    let pool = h.app.db.pool.clone();
    h.connect(ProviderId::Twitter, A, "1001").await;
    let Connected { source: b_ds, .. } = h.connect(ProviderId::Twitter, B, "2002").await;
    let b_path = format!("/api/v1/admin/users/{B}");
    // No token, a user's token, an expired admin token: refused, nothing fenced.
    let r = delete(&h, &b_path, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(error_code(r).await, "unauthorized");
    let r = delete(&h, &b_path, Some(&token(A, 3600, None))).await;
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "forbidden");
    let r = delete(&h, &b_path, Some(&token("ops", -10, Some("admin")))).await;
    assert_eq!(r.status(), 401);
    let r = delete(&h, "/api/v1/users/me", None).await;
    assert_eq!(r.status(), 401);
    let status: String = sqlx::query_scalar("SELECT status FROM data_sources WHERE id = $1")
        .bind(b_ds)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "active", "nothing happened to B");
    // Ids no user can have: 404 (blank) or 400 (NUL, refused at the edge).
    let admin = token("ops", 3600, Some("admin"));
    let r = delete(&h, "/api/v1/admin/users/%20%20", Some(&admin)).await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "not_found");
    let r = delete(&h, "/api/v1/admin/users/a%00b", Some(&admin)).await;
    assert_eq!(r.status(), 400);
    let r = delete(
        &h,
        &format!("/api/v1/admin/users/{}", "x".repeat(300)),
        Some(&admin),
    )
    .await;
    assert_eq!(r.status(), 400);
    // A user never seen: 202 all the same (nothing to erase).
    let r = delete(&h, "/api/v1/admin/users/never-seen", Some(&admin)).await;
    assert_eq!(r.status(), 202);
    // The admin erases B; A is untouched.
    let a_needles = needles(&pool, A).await;
    let a_before = rows_naming(&pool, &a_needles).await;
    let r = delete(&h, &b_path, Some(&admin)).await;
    assert_eq!(r.status(), 202);
    let job = r.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let stop = erase_worker(&h);
    assert_eq!(h.app.wait_job(&job).await, "succeeded");
    let _ = stop.send(());
    let b_left: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1")
        .bind(B)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(b_left, 0);
    assert_eq!(rows_naming(&pool, &a_needles).await, a_before);
    // The erase queue is in the admin's queue view.
    let q: Value = h
        .app
        .get("/api/v1/admin/queues", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(q["erase"]["succeeded"].as_u64().unwrap() >= 2, "{q}");
    h.shutdown().await;
}

/// A sync of `ds` enqueued to run an hour from now (as a spread fan-out or a deferral would
/// leave it).
async fn sync_later(h: &SyncHarness, ds: Uuid) -> StartedSync {
    use lifesync_jobs::payloads::{SyncDataSource, SyncMode, SyncTrigger};
    let run = match lifesync::db::sync_runs::insert_queued(&h.app.db.pool, ds, "full", "daily")
        .await
        .unwrap()
    {
        lifesync::db::sync_runs::Inserted::Created(id) => id,
        _ => panic!("a run of the source is already active"),
    };
    let job = lifesync_jobs::Producer::new(h.app.store.clone())
        .enqueue_with(
            &SyncDataSource {
                version: SyncDataSource::VERSION,
                data_source_id: ds,
                mode: SyncMode::Full,
                trigger: SyncTrigger::Daily,
                sync_run_id: run,
                page_cursor: None,
            },
            lifesync_jobs::EnqueueOptions {
                delay: std::time::Duration::from_secs(3600),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(job.created);
    StartedSync { run, job: job.id }
}

async fn job_state(h: &SyncHarness, id: &str) -> Option<String> {
    h.app.store.job(id).await.unwrap().map(|j| j.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_job_of_the_users_sources_goes_even_one_in_flight_or_scheduled_for_later() {
    let h = SyncHarness::new(1507, 25).await;
    let mut h = h;
    let pool = h.app.db.pool.clone();
    let Connected {
        source: a_twitter, ..
    } = h.connect(ProviderId::Twitter, A, "1001").await;
    let Connected {
        source: a_google, ..
    } = h
        .connect(ProviderId::Google, A, "alpha.erase@gmail.com")
        .await;
    let Connected {
        source: b_twitter, ..
    } = h.connect(ProviderId::Twitter, B, "2002").await;
    quiet(&h).await;
    // Scheduled an hour ahead: a sync of A's Google source, and one of B's.
    let StartedSync {
        run: a_later_run,
        job: a_later,
    } = sync_later(&h, a_google).await;
    let StartedSync { job: b_later, .. } = sync_later(&h, b_twitter).await;
    // In flight: a full sync of A's Twitter source (25 items a page), its worker held at the
    // provider mid-run — 200 pages more than the seed's, so the run cannot end between its
    // first stored page and the hold (on a quiet machine it once did).
    h.sandbox.state.twitter.add_tweets("1001", 5_000);
    let r = h
        .app
        .post_json(
            &format!("/api/v1/data-sources/{a_twitter}/sync"),
            &token(A, 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let run: Uuid = body["sync_run_id"].as_str().unwrap().parse().unwrap();
    let job = body["job_id"].as_str().unwrap().to_string();
    assert!(
        eventually(30, || async { run_row(&pool, run).await.fetched > 0 }).await,
        "a first page stored"
    );
    h.set_faults(lifesync_sandbox::Faults {
        hold_data: true,
        ..Default::default()
    });
    let requests = || h.sandbox.state.requests.lock().unwrap().len();
    let seen = requests();
    assert!(
        eventually(30, || async { requests() > seen }).await,
        "a data request held at the provider"
    );
    assert_eq!(job_state(&h, &job).await.as_deref(), Some("active"));
    assert_eq!(run_row(&pool, run).await.status, "running");
    assert_eq!(job_state(&h, &a_later).await.as_deref(), Some("scheduled"));

    let mut a_needles = needles(&pool, A).await;
    assert!(a_needles.contains(&run.to_string()) && a_needles.contains(&a_later_run.to_string()));
    let dump = redis_dump(&h).await;
    a_needles.extend(completion_ids(&dump, A));
    for (what, id) in [
        ("in flight", run),
        ("later", a_later_run),
        ("source", a_twitter),
    ] {
        assert!(
            !keys_naming(&dump, &[id.to_string()]).is_empty(),
            "before the erase, Redis holds the {what} job's record"
        );
    }

    let erase = erase_me(&h, A).await;
    let (stop, erase_workers) = start_queue_workers_joinable(
        &h.app.db.pool,
        &h.app.store,
        &h.sandbox.twitter_base(),
        100,
        &["erase"],
    );
    assert_eq!(h.app.wait_job(&erase).await, "succeeded");
    // Every job of A's sources is gone, the held one and the scheduled one included, with
    // its queue entries and unique key; B's scheduled job stays.
    assert_eq!(job_state(&h, &job).await, None, "the job in flight");
    assert_eq!(
        job_state(&h, &a_later).await,
        None,
        "the job scheduled for later"
    );
    assert_eq!(job_state(&h, &b_later).await.as_deref(), Some("scheduled"));
    let stats = h.app.store.stats("sync").await.unwrap();
    assert_eq!(
        (
            stats.pending,
            stats.scheduled,
            stats.running,
            stats.retrying,
            stats.dead
        ),
        (0, 1, 0, 0, 0),
        "{stats:?}"
    );
    let left = keys_naming(&redis_dump(&h).await, &a_needles);
    assert!(left.is_empty(), "keys of A remain: {left:?}");

    // The held worker goes on: the provider answers, the run finds its source gone, and its
    // acknowledgement finds no record to write to.
    h.set_faults(lifesync_sandbox::Faults::default());
    h.stop_workers().await;
    assert_eq!(
        job_state(&h, &job).await,
        None,
        "the late ack brought nothing back"
    );
    let left = keys_naming(&redis_dump(&h).await, &a_needles);
    assert!(
        left.is_empty(),
        "keys of A after the worker ended: {left:?}"
    );
    let stats = h.app.store.stats("sync").await.unwrap();
    assert_eq!(
        (stats.running, stats.retrying, stats.dead),
        (0, 0, 0),
        "{stats:?}"
    );
    let rows: i64 = rows_naming(&pool, &a_needles)
        .await
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(rows, 0);
    let _ = stop.send(());
    erase_workers.await.unwrap();
    h.shutdown().await;
}
