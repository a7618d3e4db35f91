//! Outages of the real dependencies, on private instances started by the tests (never the
//! shared ones): a worker started while PostgreSQL is down waits, then works; syncs whose
//! PostgreSQL writes fail during a 30-second outage complete afterwards with exact counters;
//! Redis killed and restarted (AOF) during a busy fan-out → every source synced exactly once.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{servers::*, *};
use lifesync_jobs::{
    payloads::{ScheduleFanout, SyncMode},
    Producer, QueueSettings, RedisSettings, Store,
};
use sqlx::PgPool;
use uuid::Uuid;

async fn migrated(url: &str) -> PgPool {
    lifesync::db::create_database_if_missing(url).await.unwrap();
    let pool = lifesync::db::connect(url, 8).await.unwrap();
    lifesync::db::migrate(&pool).await.unwrap();
    pool
}

/// A connected Twitter source holding a sandbox token.
async fn twitter_source(pool: &PgPool, sandbox: &TestSandbox, account: &str) -> Uuid {
    let mut conn = pool.acquire().await.unwrap();
    let ds =
        lifesync::db::data_sources::upsert_connected(&mut conn, "alice", "twitter", account, None)
            .await
            .unwrap();
    drop(conn);
    let key = token_key();
    let token = sandbox.state.issue_token(account);
    lifesync::db::tokens::store(
        &mut pool.acquire().await.unwrap(),
        ds,
        &lifesync::crypto::TokenCipher::new(&key).seal(token.as_bytes()),
        None,
        None,
        &[],
    )
    .await
    .unwrap();
    ds
}

async fn runs(pool: &PgPool) -> Vec<(Uuid, String, i32, i32)> {
    sqlx::query_as(
        "SELECT data_source_id, status, items_fetched, items_new FROM sync_runs ORDER BY data_source_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_while_postgres_is_down_waits_then_syncs() {
    let pg = PrivatePostgres::start();
    let url = pg.url("lifesync");
    let pool = migrated(&url).await;
    let sandbox = TestSandbox::spawn(3).await;
    let ds = twitter_source(&pool, &sandbox, "1001").await;
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let store = Store::connect(
        RedisSettings::new("redis://127.0.0.1:6379"),
        QueueSettings::new(prefix.clone()),
    )
    .await
    .unwrap();
    let started = lifesync::services::sync::request_sync(
        &pool,
        &Producer::new(store.clone()),
        ds,
        SyncMode::Full,
        lifesync_jobs::payloads::SyncTrigger::Manual,
    )
    .await
    .unwrap();
    pool.close().await;
    pg.down();

    let mut env = sandbox.service_env(&url, &prefix, "http://127.0.0.1:9");
    env.push(("STARTUP_WAIT_SECONDS".into(), "60".into()));
    let mut worker = lifesync_command(&["worker", "--queues", "sync"], &env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker waits for PostgreSQL instead of exiting"
    );
    pg.up();
    let pool = lifesync::db::connect(&url, 2).await.unwrap();
    let start = Instant::now();
    loop {
        let (status,): (String,) = sqlx::query_as("SELECT status FROM sync_runs WHERE id = $1")
            .bind(started.sync_run_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        if status == "succeeded" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "run {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(runs(&pool).await[0].2, 230);
    Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = worker.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    store.purge_prefix().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_whose_writes_fail_during_a_30_second_postgres_outage_complete_afterwards() {
    let pg = PrivatePostgres::start();
    let url = pg.url("lifesync");
    let pool = migrated(&url).await;
    let sandbox = TestSandbox::spawn(4).await;
    sandbox.state.faults.lock().unwrap().slow_ms = 150;
    let mut sources = Vec::new();
    for n in 0..4 {
        sources.push(twitter_source(&pool, &sandbox, &format!("30{n}")).await);
    }
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let store = Store::connect(
        RedisSettings::new("redis://127.0.0.1:6379"),
        QueueSettings::new(prefix),
    )
    .await
    .unwrap();
    // Pages of 23: ten pages per source, so the outage lands mid-run.
    let stop = start_queue_workers(&pool, &store, &sandbox.twitter_base(), 23, &["sync"]);
    for ds in &sources {
        lifesync::services::sync::request_sync(
            &pool,
            &Producer::new(store.clone()),
            *ds,
            SyncMode::Full,
            lifesync_jobs::payloads::SyncTrigger::Manual,
        )
        .await
        .unwrap();
    }
    assert!(
        eventually(30, || async {
            runs(&pool).await.iter().map(|r| r.2).sum::<i32>() >= 46
        })
        .await,
        "some pages stored before the outage"
    );
    pg.down();
    tokio::time::sleep(Duration::from_secs(30)).await;
    pg.up();
    let start = Instant::now();
    loop {
        if let Ok(r) = sqlx::query_as::<_, (Uuid, String, i32, i32)>(
            "SELECT data_source_id, status, items_fetched, items_new FROM sync_runs",
        )
        .fetch_all(&pool)
        .await
        {
            if r.iter().all(|r| r.1 == "succeeded") {
                break;
            }
            assert!(r.iter().all(|r| r.1 != "failed"), "a run failed: {r:?}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "runs did not finish"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for (ds, status, fetched, new) in runs(&pool).await {
        assert_eq!(
            (status.as_str(), fetched, new),
            ("succeeded", 230, 230),
            "{ds}"
        );
    }
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(items, 4 * 230);
    let _ = stop.send(());
    store.purge_prefix().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_during_a_busy_fan_out_syncs_every_source_exactly_once() {
    let db = TestDb::new().await;
    let mut redis = PrivateRedis::start();
    let sandbox = TestSandbox::spawn(5).await;
    sandbox.state.faults.lock().unwrap().slow_ms = 20;
    let mut sources = Vec::new();
    for n in 0..120 {
        sources.push(twitter_source(&db.pool, &sandbox, &format!("5{n:03}")).await);
    }
    let store = Store::connect(
        RedisSettings::new(redis.url()),
        QueueSettings::new("outage"),
    )
    .await
    .unwrap();
    let stop = start_queue_workers(
        &db.pool,
        &store,
        &sandbox.twitter_base(),
        100,
        &["fanout", "sync"],
    );
    Producer::new(store.clone())
        .enqueue(&ScheduleFanout {
            version: ScheduleFanout::VERSION,
            schedule: "daily".into(),
            mode: SyncMode::Full,
            tick_unix: 1_795_489_200,
        })
        .await
        .unwrap();
    // Kill Redis while syncs run, keep it down two seconds, bring it back from its AOF.
    assert!(
        eventually(30, || async {
            runs(&db.pool)
                .await
                .iter()
                .filter(|r| r.1 == "succeeded")
                .count()
                >= 5
        })
        .await
    );
    redis.crash();
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.up();
    assert!(
        eventually(180, || async {
            let r = runs(&db.pool).await;
            r.len() == sources.len() && r.iter().all(|r| r.1 == "succeeded")
        })
        .await,
        "every source synced: {:?}",
        runs(&db.pool)
            .await
            .iter()
            .filter(|r| r.1 != "succeeded")
            .count()
    );
    let all = runs(&db.pool).await;
    assert_eq!(all.len(), sources.len(), "one run per source for the tick");
    assert!(
        all.iter().all(|r| r.2 == 230 && r.3 == 230),
        "each run counted its pages once"
    );
    let items: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(items, 230 * sources.len() as i64);
    let _ = stop.send(());
    db.drop().await;
}
