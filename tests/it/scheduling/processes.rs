//! Scheduling and operations with real processes: three schedulers enqueue each tick once and
//! stop cleanly on SIGTERM; a missed tick is caught up once at start-up, even by three
//! schedulers starting together; the incremental schedule takes recent sources only; a run
//! stuck past the deadline is ended and frees its source.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::*;
use lifesync_jobs::payloads::{ScheduleFanout, SyncMode};
use redis::AsyncCommands;

fn scheduler(prefix: &str, daily: &str, incremental: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lifesync"))
        .arg("scheduler")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("REDIS_URL", redis_url())
        .env("REDIS_KEY_PREFIX", prefix)
        .env("SYNC_CRON_SCHEDULE", daily)
        .env("SYNC_INCREMENTAL_CRON", incremental)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn terminate(children: Vec<Child>) {
    for c in &children {
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
    }
    for mut c in children {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = c.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "clean exit: {status:?}");
    }
}

async fn fanout_ids(app: &TestApp) -> Vec<String> {
    let mut conn = app.store.connection();
    let prefix = &app.store.settings().prefix;
    let mut ids: Vec<String> = conn
        .lrange(format!("{{{prefix}:fanout}}:ready"), 0, -1)
        .await
        .unwrap();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_scheduler_processes_enqueue_each_tick_exactly_once() {
    let app = TestApp::spawn().await;
    let prefix = app.store.settings().prefix.clone();
    // Every second (6-field cron) for the daily schedule; the incremental one never fires.
    let children: Vec<Child> = (0..3)
        .map(|_| scheduler(&prefix, "* * * * * *", "0 0 1 1 *"))
        .collect();
    // Wait for seven ticks (process start-up can be slow on a loaded machine).
    assert!(
        eventually(60, || async {
            fanout_ids(&app)
                .await
                .iter()
                .filter(|id| id.starts_with("fanout-daily-"))
                .count()
                >= 7
        })
        .await,
        "ticks arrive"
    );
    terminate(children);
    let ids = fanout_ids(&app).await;
    let mut ticks: Vec<i64> = ids
        .iter()
        .filter_map(|id| id.strip_prefix("fanout-daily-"))
        .map(|t| t.parse().unwrap())
        .collect();
    ticks.sort();
    assert!(ticks.len() >= 7, "{ids:?}");
    // Never twice (a duplicate id would stand twice in the ready list)...
    assert!(
        ticks.windows(2).all(|w| w[1] > w[0]),
        "a tick enqueued twice: {ticks:?}"
    );
    // ...and, once all three run, every second. Before that, the one process up may tick alone
    // and stall on a loaded machine (a cron worker skips the ticks it was too busy to take;
    // the catch-up at start-up enqueues only the latest one missed).
    let settled = &ticks[ticks.len() - 5..];
    assert!(
        settled.windows(2).all(|w| w[1] == w[0] + 1),
        "each second exactly once: {ticks:?}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_tick_is_caught_up_once_by_three_schedulers_starting_together() {
    let app = TestApp::spawn().await;
    let prefix = app.store.settings().prefix.clone();
    let now = chrono::Utc::now();
    let daily = cron::Schedule::from_str_5("0 3 * * *");
    let incremental = cron::Schedule::from_str_5("0 */6 * * *");
    let last_daily = lifesync::scheduler::last_tick(&daily, now)
        .unwrap()
        .timestamp();
    let last_inc = lifesync::scheduler::last_tick(&incremental, now)
        .unwrap()
        .timestamp();
    // The schedulers last ran three days ago: several ticks were missed.
    let mut conn = app.store.connection();
    for name in ["daily", "incremental"] {
        let _: () = conn
            .set(
                format!("{prefix}:scheduler:last-tick:{name}"),
                last_daily - 3 * 86_400,
            )
            .await
            .unwrap();
    }
    let children: Vec<Child> = (0..3)
        .map(|_| scheduler(&prefix, "0 3 * * *", "0 */6 * * *"))
        .collect();
    assert!(
        eventually(60, || async { fanout_ids(&app).await.len() >= 2 }).await,
        "caught up"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    terminate(children);
    assert_eq!(
        fanout_ids(&app).await,
        vec![
            format!("fanout-daily-{last_daily}"),
            format!("fanout-incremental-{last_inc}")
        ],
        "the latest missed tick of each schedule, once"
    );
    // Starting again catches nothing up.
    let again = lifesync::scheduler::catch_up(
        &app.store,
        &[lifesync::scheduler::ScheduleEntry {
            name: "daily",
            mode: SyncMode::Full,
            cron: daily,
        }],
        now,
    )
    .await
    .unwrap();
    assert!(again.is_empty());
    app.shutdown().await;
}

trait FromStr5 {
    fn from_str_5(s: &str) -> Self;
}

impl FromStr5 for cron::Schedule {
    fn from_str_5(s: &str) -> Self {
        std::str::FromStr::from_str(&format!("0 {s}")).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incremental_schedule_takes_recent_sources_only() {
    let app = TestApp::spawn().await;
    let recent = app.db.data_source("alice", "twitter", "r").await;
    let stale = app.db.data_source("alice", "twitter", "s").await;
    let never = app.db.data_source("alice", "twitter", "n").await;
    for (ds, days) in [(recent, 1.0f64), (stale, 30.0)] {
        sqlx::query(
            "UPDATE data_sources SET last_sync_status = 'succeeded',
                    last_sync_at = now() - make_interval(days => $2::int) WHERE id = $1",
        )
        .bind(ds)
        .bind(days as i32)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    let _ = never;
    let stop = start_queue_workers(
        &app.db.pool,
        &app.store,
        "http://127.0.0.1:1",
        100,
        &["fanout"],
    );
    let producer = lifesync_jobs::Producer::new(app.store.clone());
    producer
        .enqueue(&ScheduleFanout {
            version: ScheduleFanout::VERSION,
            schedule: "incremental".into(),
            mode: SyncMode::Incremental,
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
    let runs: Vec<(uuid::Uuid, String, String)> =
        sqlx::query_as("SELECT data_source_id, mode, trigger FROM sync_runs")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        runs,
        vec![(recent, "incremental".to_string(), "incremental".to_string())]
    );
    let _ = stop.send(());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stuck_past_the_deadline_is_failed_and_frees_its_source() {
    let app = TestApp::spawn().await;
    let ds = app.db.data_source("alice", "twitter", "1").await;
    // A run whose job was lost: queued, no progress for two hours.
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token("alice", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 202);
    app.store.purge_prefix().await.unwrap();
    sqlx::query("UPDATE sync_runs SET updated_at = now() - interval '2 hours'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token("alice", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 409, "blocked while the run counts as active");
    let ended = lifesync::db::sync_runs::fail_stuck(&app.db.pool, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(ended.len(), 1);
    let (status, error): (String, String) =
        sqlx::query_as("SELECT last_sync_status, last_sync_error FROM data_sources WHERE id = $1")
            .bind(ds)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(error.contains("deadline"));
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{ds}/sync"),
            &token("alice", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 202, "the source is free again");
    // A fresh run is not touched.
    assert!(
        lifesync::db::sync_runs::fail_stuck(&app.db.pool, Duration::from_secs(3600))
            .await
            .unwrap()
            .is_empty()
    );
    app.shutdown().await;
}
