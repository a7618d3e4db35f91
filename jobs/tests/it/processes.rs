//! Durability with real worker processes (`jobs-probe`): kill -9, crash loops, SIGTERM with and
//! without enough grace, and a Redis crash (SIGKILL of a private redis-server with AOF, fsync
//! always) followed by a 5 s outage, mid-run.

use std::{collections::HashSet, time::Duration};

use crate::common::*;
use lifesync_jobs::probe::{Behaviour, ProbeJob};

fn sleeper(n: u64, sleep_ms: u64) -> ProbeJob {
    ProbeJob {
        n,
        sleep_ms,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_job_is_redelivered_with_the_next_attempt() {
    let env = Env::shared().await;
    let id = env.enqueue(sleeper(1, 4_000)).await;
    let mut a = ProbeProcess::spawn(&env.url, &env.prefix, &[]);
    assert!(
        wait_until(Duration::from_secs(5), || async {
            !env.runs_of(1).await.is_empty()
        })
        .await
    );
    a.kill9();
    let killed_at = lifesync_jobs::store::now_ms();

    let _b = ProbeProcess::spawn(&env.url, &env.prefix, &[]);
    assert!(
        env.wait_state(&id, "succeeded", Duration::from_secs(15))
            .await
    );
    let runs = env.runs_of(1).await;
    assert_eq!(runs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2]);
    // Lease 2 s: re-delivered well within the configured time.
    assert!(
        runs[1].1 - killed_at < 3_000,
        "re-delivered {} ms after the kill",
        runs[1].1 - killed_at
    );
    assert_eq!(env.done().await, vec![1]);
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!(rec.history[0]["kind"], "lease_expired");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_crashes_its_process_ends_dead_and_frees_its_unique_key() {
    let env = Env::shared().await;
    let crasher = ProbeJob {
        n: 1,
        behaviour: Behaviour::Crash,
        unique: Some("sync:7".into()),
        ..Default::default()
    };
    let id = env.enqueue_with(crasher.clone(), 2).await;
    for attempt in 1..=2 {
        let mut p = ProbeProcess::spawn(&env.url, &env.prefix, &[]);
        assert_eq!(
            p.wait_exit(Duration::from_secs(10)),
            Some(17),
            "attempt {attempt} crashed"
        );
        if attempt == 1 {
            // Still live (waiting for re-delivery): the key is held.
            let dup = env.producer.enqueue(&crasher).await.unwrap();
            assert_eq!((dup.id.as_str(), dup.created), (id.as_str(), false));
        }
    }
    // A third worker reaps the expired lease: attempts are used up, so the job is dead.
    let _p = ProbeProcess::spawn(&env.url, &env.prefix, &[]);
    assert!(env.wait_state(&id, "dead", Duration::from_secs(10)).await);
    assert_eq!(env.runs_of(1).await.len(), 2, "no third run");
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert!(rec.last_error.unwrap().contains("lease expired"));
    // The worker's death released the key.
    let again = env
        .producer
        .enqueue(&ProbeJob {
            n: 2,
            unique: Some("sync:7".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(again.created);
    assert!(
        env.wait_state(&again.id, "succeeded", Duration::from_secs(10))
            .await
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_jobs_finish_and_hands_back_the_rest() {
    let env = Env::shared().await;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(env.enqueue(sleeper(n, 1_000)).await);
    }
    let mut p = ProbeProcess::spawn(
        &env.url,
        &env.prefix,
        &["--concurrency", "2", "--grace-ms", "10000"],
    );
    assert!(
        wait_until(Duration::from_secs(5), || async {
            env.runs().await.len() >= 2
        })
        .await
    );
    p.sigterm();
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0), "clean exit");
    let started: HashSet<String> = env
        .runs()
        .await
        .iter()
        .map(|r| r.split(':').next().unwrap().to_string())
        .collect();
    let done = env.done().await;
    assert_eq!(
        done.len(),
        started.len(),
        "every started job finished before exit"
    );
    // Nothing is left leased: the rest is back in the ready list at once, no attempt spent.
    let s = env.store.stats("probe").await.unwrap();
    assert_eq!(
        (s.running, s.pending as usize),
        (0, 12 - done.len()),
        "{s:?}"
    );
    for id in &ids {
        let rec = env.store.job(id).await.unwrap().unwrap();
        if rec.state == "ready" {
            assert_eq!(rec.attempts, 0, "a handed-back job spent no attempt");
        }
    }
    // A new worker finishes the rest: every job exactly once.
    let _q = ProbeProcess::spawn(&env.url, &env.prefix, &["--concurrency", "4"]);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            env.done().await.len() >= 12
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut done = env.done().await;
    done.sort();
    assert_eq!(done, (0..12).collect::<Vec<_>>());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_period_running_jobs_are_handed_back_at_once() {
    let env = Env::shared().await;
    let id = env.enqueue(sleeper(1, 30_000)).await;
    let mut p = ProbeProcess::spawn(
        &env.url,
        &env.prefix,
        &[
            "--grace-ms",
            "300",
            "--lease-ms",
            "20000",
            "--heartbeat-ms",
            "5000",
        ],
    );
    assert!(
        wait_until(Duration::from_secs(5), || async {
            !env.runs_of(1).await.is_empty()
        })
        .await
    );
    p.sigterm();
    assert_eq!(p.wait_exit(Duration::from_secs(5)), Some(0));
    // Lease is 20 s: only an explicit hand-back makes it ready now.
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!(rec.state, "ready");
    assert_eq!(rec.history[0]["kind"], "interrupted");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_crash_and_outage_pause_workers_and_lose_nothing() {
    let mut redis = PrivateRedis::start();
    let env = Env::new(&redis.url(), fast_settings(&fresh_prefix())).await;
    let jobs: Vec<ProbeJob> = (0..3000).map(|n| sleeper(n, 20)).collect();
    env.producer
        .enqueue_batch(&jobs, Default::default())
        .await
        .unwrap();
    let mut p = ProbeProcess::spawn(&env.url, &env.prefix, &["--concurrency", "8"]);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            env.done().await.len() >= 500
        })
        .await
    );

    // Crashed and down for 5 s: longer than the client's own reconnect retries.
    redis.crash();
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "the worker survived the outage"
    );
    redis.start_again();

    assert!(
        wait_until(Duration::from_secs(60), || async {
            let done = env.done().await;
            done.iter().collect::<HashSet<_>>().len() == 3000
        })
        .await,
        "every job completed after the restart"
    );
    let s = env.store.stats("probe").await.unwrap();
    assert_eq!(
        (s.pending, s.running, s.retrying, s.dead, s.succeeded),
        (0, 0, 0, 0, 3000),
        "{s:?}"
    );
    let done = env.done().await;
    println!(
        "completions {} for 3000 jobs (duplicates from acks lost in the restart: {})",
        done.len(),
        done.len() - 3000
    );
    p.sigterm();
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));
}
