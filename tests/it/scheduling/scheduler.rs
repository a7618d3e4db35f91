//! The scheduler: two schedulers never double a tick; a fan-out enqueues one sync per active
//! data source and skips the rest, and a re-run after a crash keeps the runs whose jobs the
//! crashed attempt had enqueued.

use std::{str::FromStr, time::Duration};

use crate::common::*;
use lifesync::scheduler::{monitor, ScheduleEntry};
use lifesync_jobs::{
    payloads::{ScheduleFanout, SyncMode},
    EnqueueOptions, Producer,
};
use redis::AsyncCommands;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_enqueue_each_tick_once() {
    let app = TestApp::spawn().await;
    let every_second = ScheduleEntry {
        name: "test",
        mode: SyncMode::Full,
        cron: cron::Schedule::from_str("* * * * * *").unwrap(),
    };
    let mut stops = Vec::new();
    for _ in 0..2 {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let m = monitor(app.store.clone(), vec![every_second.clone()]);
        tokio::spawn(m.run_with_signal(async {
            let _ = rx.await;
            Ok(())
        }));
        stops.push(tx);
    }
    tokio::time::sleep(Duration::from_millis(3500)).await;
    for s in stops {
        let _ = s.send(());
    }
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let prefix = &app.store.settings().prefix;
    let ids: Vec<String> = conn
        .lrange(format!("{{{prefix}:fanout}}:ready"), 0, -1)
        .await
        .unwrap();
    let mut ticks: Vec<i64> = ids
        .iter()
        .map(|id| id.strip_prefix("fanout-test-").unwrap().parse().unwrap())
        .collect();
    ticks.sort();
    assert!(ticks.len() >= 3, "ticks {ticks:?}");
    assert!(
        ticks.windows(2).all(|w| w[1] == w[0] + 1),
        "each second exactly once, no duplicate: {ticks:?}"
    );
    app.shutdown().await;
}

/// In-process workers for the fan-out queue of `app`.
fn fanout_workers(app: &TestApp) -> tokio::sync::oneshot::Sender<()> {
    start_queue_workers(
        &app.db.pool,
        &app.store,
        "http://127.0.0.1:1",
        100,
        &["fanout"],
    )
}

/// The daily schedule's fan-out job for the tick at `tick_unix`.
fn daily_tick(tick_unix: i64) -> ScheduleFanout {
    ScheduleFanout {
        version: ScheduleFanout::VERSION,
        schedule: "daily".into(),
        mode: SyncMode::Full,
        tick_unix,
    }
}

/// Whether `n` fan-outs have succeeded within 20 s.
async fn fanouts_done(app: &TestApp, n: u64) -> bool {
    eventually(20, || async {
        app.store.stats("fanout").await.unwrap().succeeded == n
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fanout_enqueues_one_sync_per_active_source_and_skips_the_rest() {
    let app = TestApp::spawn().await;
    let mut active = Vec::new();
    for n in 0..3 {
        active.push(
            app.db
                .data_source("alice", "twitter", &format!("a{n}"))
                .await,
        );
    }
    let reauth = app.db.data_source("bob", "twitter", "b1").await;
    sqlx::query("UPDATE data_sources SET status = 'reauth_required' WHERE id = $1")
        .bind(reauth)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // One source already syncing (a manual run).
    let r = app
        .post_json(
            &format!("/api/v1/data-sources/{}/sync", active[0]),
            &token("alice", 3600, None),
            r#"{"mode":"full"}"#,
        )
        .await;
    assert_eq!(r.status(), 202);

    let stop = fanout_workers(&app);
    let tick = daily_tick(1_795_489_200);
    let producer = Producer::new(app.store.clone());
    producer.enqueue(&tick).await.unwrap();
    assert!(fanouts_done(&app, 1).await);

    let runs: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("SELECT data_source_id, trigger FROM sync_runs ORDER BY created_at")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert_eq!(runs[0], (active[0], "manual".to_string()));
    assert!(runs[1..]
        .iter()
        .all(|(ds, t)| t == "daily" && active[1..].contains(ds)));
    assert_eq!(app.store.stats("sync").await.unwrap().pending, 3);

    // The same tick again (a second scheduler) is the same job; a new tick skips queued sources.
    assert!(!producer.enqueue(&tick).await.unwrap().created);
    let next = ScheduleFanout {
        tick_unix: tick.tick_unix + 86_400,
        ..tick
    };
    producer
        .enqueue_with(&next, EnqueueOptions::default())
        .await
        .unwrap();
    assert!(fanouts_done(&app, 2).await);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_runs")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 3, "sources already queued are skipped");
    let _ = stop.send(());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fanout_rerun_keeps_a_run_whose_job_a_crashed_attempt_enqueued() {
    use lifesync::db::sync_runs::{self, Inserted};
    use lifesync_jobs::payloads::{SyncDataSource, SyncTrigger};
    let app = TestApp::spawn().await;
    let ds = app.db.data_source("alice", "twitter", "c1").await;
    // What a crashed fan-out attempt left: its run, and that run's job enqueued (delayed by
    // the spread) — but the crash came before the job's id was recorded on the run.
    let Inserted::Created(run) = sync_runs::insert_queued(&app.db.pool, ds, "full", "daily")
        .await
        .unwrap()
    else {
        panic!("the run is new");
    };
    let producer = Producer::new(app.store.clone());
    let job = SyncDataSource {
        version: SyncDataSource::VERSION,
        data_source_id: ds,
        mode: SyncMode::Full,
        trigger: SyncTrigger::Daily,
        sync_run_id: run,
        page_cursor: None,
    };
    let delayed = EnqueueOptions {
        delay: Duration::from_secs(3600),
        ..EnqueueOptions::default()
    };
    let live = producer.enqueue_with(&job, delayed).await.unwrap();
    assert!(live.created);

    // The fan-out runs again (the retry): the run is kept and gets its job's id.
    let stop = fanout_workers(&app);
    let tick = daily_tick(1_795_489_200);
    producer.enqueue(&tick).await.unwrap();
    assert!(fanouts_done(&app, 1).await);
    let runs: Vec<(uuid::Uuid, Option<String>)> =
        sqlx::query_as("SELECT id, job_id FROM sync_runs WHERE data_source_id = $1")
            .bind(ds)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(runs, vec![(run, Some(live.id))], "the run its job will run");
    let _ = stop.send(());
    app.shutdown().await;
}
