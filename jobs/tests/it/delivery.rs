//! Delivery semantics against the real Redis, with in-process apalis workers: retries and
//! backoff, dead letters, Retry-After, unique keys, stats, retention, wake-up latency, auth.

use std::time::Duration;

use crate::common::*;
use lifesync_jobs::{
    probe::{Behaviour, ProbeJob},
    store::now_ms,
    QueueStats, RedisSettings, Store,
};

fn job(n: u64, behaviour: Behaviour) -> ProbeJob {
    ProbeJob {
        n,
        behaviour,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_back_off_exponentially_with_jitter() {
    let env = Env::shared().await;
    let id = env.enqueue_with(job(1, Behaviour::FailTimes(3)), 5).await;
    let w = env.start_worker(2);
    assert!(
        env.wait_state(&id, "succeeded", Duration::from_secs(15))
            .await
    );
    w.stop().await;

    let runs = env.runs_of(1).await;
    assert_eq!(
        runs.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    // base 200 ms, factor 2, jitter ±20 %: 200, 400, 800 ms (+ scheduling slack).
    for (k, pair) in runs.windows(2).enumerate() {
        let gap = (pair[1].1 - pair[0].1) as f64;
        let nominal = 200.0 * 2f64.powi(k as i32);
        assert!(
            gap >= nominal * 0.8 - 5.0 && gap <= nominal * 1.2 + 250.0,
            "retry {} came after {gap} ms, nominal {nominal} ms",
            k + 1
        );
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_attempts_goes_dead_with_history() {
    let env = Env::shared().await;
    let id = env.enqueue_with(job(1, Behaviour::FailAlways), 3).await;
    let w = env.start_worker(2);
    assert!(env.wait_state(&id, "dead", Duration::from_secs(15)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    w.stop().await;

    assert_eq!(env.runs_of(1).await.len(), 3, "exactly max_attempts runs");
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!(rec.attempts, 3);
    assert_eq!(rec.last_error.as_deref(), Some("probe: always fails"));
    let hist = rec.history.as_array().unwrap();
    assert_eq!(hist.len(), 3);
    assert!(hist.iter().all(|h| h["kind"] == "failed"));
    let dead = env.store.dead_jobs("probe", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_goes_dead_at_once() {
    let env = Env::shared().await;
    let id = env.enqueue_with(job(1, Behaviour::Abort), 5).await;
    let w = env.start_worker(2);
    assert!(env.wait_state(&id, "dead", Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    w.stop().await;
    assert_eq!(env.runs_of(1).await.len(), 1);
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!(rec.history[0]["kind"], "aborted");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_count_as_failures_and_are_retried() {
    let env = Env::shared().await;
    let id = env.enqueue_with(job(1, Behaviour::Panic), 2).await;
    let w = env.start_worker(2);
    assert!(env.wait_state(&id, "dead", Duration::from_secs(10)).await);
    w.stop().await;
    assert_eq!(env.runs_of(1).await.len(), 2, "the panic was retried");
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert!(rec.last_error.unwrap().contains("panicked"));
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_count_as_failures_and_are_retried() {
    let env = Env::shared_with(|s| s.job_timeout = Duration::from_millis(300)).await;
    let slow = ProbeJob {
        n: 1,
        sleep_ms: 2_000,
        ..Default::default()
    };
    let id = env.enqueue_with(slow, 2).await;
    let w = env.start_worker(2);
    assert!(env.wait_state(&id, "dead", Duration::from_secs(10)).await);
    w.stop().await;
    assert_eq!(env.runs_of(1).await.len(), 2, "the timeout was retried");
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert!(rec.last_error.unwrap().contains("timed out"));
    assert!(env.done().await.is_empty());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_without_spending_an_attempt() {
    let env = Env::shared().await;
    // One attempt only: a deferral that spent it would leave the job dead.
    let id = env
        .enqueue_with(job(1, Behaviour::RetryAfterOnce(1500)), 1)
        .await;
    let w = env.start_worker(2);
    assert!(
        env.wait_state(&id, "retrying", Duration::from_secs(5))
            .await
    );
    assert_eq!(env.store.stats("probe").await.unwrap().retrying, 1);
    assert!(
        env.wait_state(&id, "succeeded", Duration::from_secs(10))
            .await
    );
    w.stop().await;
    let runs = env.runs_of(1).await;
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[0].0, runs[1].0), (1, 1), "both runs were attempt 1");
    let gap = runs[1].1 - runs[0].1;
    assert!(
        (1500..1900).contains(&gap),
        "re-run after {gap} ms, asked 1500 ms"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_key_dedupes_while_live_and_is_released_when_the_job_ends() {
    let env = Env::shared().await;
    let uniq = |n: u64, b: Behaviour| ProbeJob {
        n,
        behaviour: b,
        unique: Some("sync:42".into()),
        ..Default::default()
    };
    // Queued: a duplicate returns the first job's id.
    let a = env
        .producer
        .enqueue(&uniq(1, Behaviour::Succeed))
        .await
        .unwrap();
    let b = env
        .producer
        .enqueue(&uniq(2, Behaviour::Succeed))
        .await
        .unwrap();
    assert!(a.created && !b.created);
    assert_eq!(a.id, b.id);

    // After success the key is free.
    let w = env.start_worker(1);
    assert!(
        env.wait_state(&a.id, "succeeded", Duration::from_secs(5))
            .await
    );
    let c = env
        .producer
        .enqueue(&uniq(3, Behaviour::Abort))
        .await
        .unwrap();
    assert!(c.created, "released after success");

    // After an abort (dead at once) the key is free.
    assert!(env.wait_state(&c.id, "dead", Duration::from_secs(5)).await);
    let d = env.enqueue_with(uniq(4, Behaviour::FailAlways), 2).await;
    assert_ne!(d, c.id, "released after abort");

    // While retrying the key is held; after the last attempt (dead) it is free.
    assert!(env.wait_state(&d, "retrying", Duration::from_secs(5)).await);
    let dup = env
        .producer
        .enqueue(&uniq(5, Behaviour::Succeed))
        .await
        .unwrap();
    assert_eq!((dup.id.as_str(), dup.created), (d.as_str(), false));
    assert!(env.wait_state(&d, "dead", Duration::from_secs(5)).await);
    let e = env
        .producer
        .enqueue(&uniq(6, Behaviour::Succeed))
        .await
        .unwrap();
    assert!(e.created, "released after dead");
    assert!(
        env.wait_state(&e.id, "succeeded", Duration::from_secs(5))
            .await
    );
    w.stop().await;

    // Only jobs 1, 3, 4, 6 ever ran: the duplicates never existed.
    let mut ran: Vec<u64> = env
        .runs()
        .await
        .iter()
        .map(|r| r.split(':').next().unwrap().parse().unwrap())
        .collect();
    ran.dedup();
    assert_eq!(ran, vec![1, 3, 4, 6]);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_match_the_stored_states_after_a_mixed_workload() {
    let env = Env::shared_with(|s| {
        s.retry.base = Duration::from_secs(60);
    })
    .await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(env.enqueue(job(n, Behaviour::Succeed)).await);
    }
    for n in 10..13 {
        ids.push(env.enqueue(job(n, Behaviour::Abort)).await);
    }
    for n in 20..22 {
        ids.push(env.enqueue(job(n, Behaviour::FailAlways)).await);
    }
    let delayed = lifesync_jobs::EnqueueOptions {
        delay: Duration::from_secs(600),
        ..Default::default()
    };
    for n in 30..34 {
        ids.push(
            env.producer
                .enqueue_with(&job(n, Behaviour::Succeed), delayed.clone())
                .await
                .unwrap()
                .id,
        );
    }
    let w = env.start_worker(4);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            let s = env.store.stats("probe").await.unwrap();
            s.succeeded == 5 && s.dead == 3 && s.retrying == 2
        })
        .await
    );
    w.stop().await;
    for n in 40..43 {
        ids.push(env.enqueue(job(n, Behaviour::Succeed)).await);
    }
    // A worker that claims one job and holds it makes it "running".
    let claim = env.store.claim("probe", "manual-worker", 1).await.unwrap();
    assert_eq!(claim.jobs.len(), 1);

    let stats = env.store.stats("probe").await.unwrap();
    let mut counted = QueueStats::default();
    for id in &ids {
        match env.state(id).await.unwrap().as_str() {
            "ready" => counted.pending += 1,
            "scheduled" => counted.scheduled += 1,
            "active" => counted.running += 1,
            "retrying" => counted.retrying += 1,
            "dead" => counted.dead += 1,
            "succeeded" => counted.succeeded += 1,
            other => panic!("unexpected state {other}"),
        }
    }
    assert_eq!(stats, counted);
    assert_eq!(env.store.queues().await.unwrap(), vec!["probe".to_string()]);
    assert_eq!(
        stats,
        QueueStats {
            pending: 2,
            scheduled: 4,
            running: 1,
            retrying: 2,
            dead: 3,
            succeeded: 5
        }
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_expires_finished_jobs_and_memory_stays_flat() {
    let env = Env::shared_with(|s| {
        s.succeeded_retention = Duration::from_secs(1);
        s.dead_retention = Duration::from_secs(1);
    })
    .await;
    let w = env.start_worker(16);
    let mut key_counts = Vec::new();
    let mut first_ids = Vec::new();
    for round in 0..4u64 {
        let jobs: Vec<ProbeJob> = (0..1000)
            .map(|i| {
                job(
                    round * 1000 + i,
                    if i % 10 == 0 {
                        Behaviour::Abort
                    } else {
                        Behaviour::Succeed
                    },
                )
            })
            .collect();
        let ids = env
            .producer
            .enqueue_batch(&jobs, Default::default())
            .await
            .unwrap();
        if round == 0 {
            first_ids = ids.iter().map(|e| e.id.clone()).collect();
        }
        let want = ((round + 1) * 900) as usize;
        assert!(
            wait_until(Duration::from_secs(30), || async {
                env.done().await.len() == want
            })
            .await
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        // The recorder's own two lists are not queue data.
        key_counts.push(env.key_count().await - 2);
    }
    w.stop().await;
    // Every finished job's record expired: only the queue's fixed keys remain, each round.
    assert!(
        key_counts.iter().all(|&k| k <= 8),
        "keys per round: {key_counts:?}"
    );
    for id in first_ids.iter().take(50) {
        assert!(
            env.store.job(id).await.unwrap().is_none(),
            "job {id} kept past retention"
        );
    }
    let s = env.store.stats("probe").await.unwrap();
    assert_eq!((s.succeeded, s.dead), (0, 0), "{s:?}");
    env.cleanup().await;
}

/// An idle worker is woken by the job's push, not by the end of its blocking wait: with a
/// 20 s idle block, a worker that only polled would take 0–20 s per job (all five within 5 s
/// by chance: about 0.1 %); a woken one takes milliseconds. The bound is generous on purpose:
/// it tells the two designs apart under any machine load, it does not time the queue (that is
/// `lifesync bench queue`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_is_woken_by_a_new_job_not_by_its_poll() {
    let env = Env::shared_with(|s| s.idle_block = Duration::from_secs(20)).await;
    let w = env.start_worker(2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut worst = 0;
    for n in 0..5 {
        tokio::time::sleep(Duration::from_millis(300 + 97 * n)).await;
        let t0 = now_ms();
        env.enqueue(job(n, Behaviour::Succeed)).await;
        assert!(
            wait_until(Duration::from_secs(25), || async {
                !env.runs_of(n).await.is_empty()
            })
            .await
        );
        let started = env.runs_of(n).await[0].1;
        worst = worst.max(started.saturating_sub(t0));
    }
    w.stop().await;
    assert!(worst < 5_000, "slowest pick-up took {worst} ms");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_jobs_wait_in_the_scheduled_set_until_due() {
    let env = Env::shared().await;
    let w = env.start_worker(2);
    let t0 = now_ms();
    let opts = lifesync_jobs::EnqueueOptions {
        delay: Duration::from_millis(800),
        ..Default::default()
    };
    let id = env
        .producer
        .enqueue_with(&job(1, Behaviour::Succeed), opts)
        .await
        .unwrap()
        .id;
    assert_eq!(env.state(&id).await.as_deref(), Some("scheduled"));
    assert!(
        env.wait_state(&id, "succeeded", Duration::from_secs(5))
            .await
    );
    w.stop().await;
    let started = env.runs_of(1).await[0].1;
    let waited = started - t0;
    assert!(
        (790..1200).contains(&waited),
        "ran after {waited} ms, delay 800 ms"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_jobs_can_be_listed_redriven_and_purged() {
    let env = Env::shared().await;
    let a = env.enqueue_with(job(1, Behaviour::Abort), 3).await;
    let b = env.enqueue_with(job(2, Behaviour::Abort), 3).await;
    let w = env.start_worker(2);
    assert!(env.wait_state(&b, "dead", Duration::from_secs(5)).await);
    assert!(env.wait_state(&a, "dead", Duration::from_secs(5)).await);
    w.stop().await;
    assert_eq!(env.store.dead_jobs("probe", 10).await.unwrap().len(), 2);

    assert!(env.store.redrive("probe", &a).await.unwrap());
    assert!(
        !env.store.redrive("probe", &a).await.unwrap(),
        "not dead any more"
    );
    let rec = env.store.job(&a).await.unwrap().unwrap();
    assert_eq!((rec.state.as_str(), rec.attempts), ("ready", 0));
    assert_eq!(env.store.stats("probe").await.unwrap().dead, 1);

    assert_eq!(env.store.purge_dead("probe").await.unwrap(), 1);
    assert!(env.store.job(&b).await.unwrap().is_none());
    assert_eq!(env.store.stats("probe").await.unwrap().dead, 0);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_password_and_db_index_are_honoured() {
    let mut redis = PrivateRedis::start();
    let port = redis.port;
    std::process::Command::new("redis-cli")
        .args([
            "-p",
            &port.to_string(),
            "config",
            "set",
            "requirepass",
            "s3cr:t",
        ])
        .output()
        .unwrap();
    let prefix = fresh_prefix();
    let wrong = Store::connect(
        RedisSettings::from_parts("127.0.0.1", port, Some("nope"), 3),
        fast_settings(&prefix),
    )
    .await;
    assert!(wrong.is_err(), "a wrong password is refused");
    let settings = RedisSettings::from_parts("127.0.0.1", port, Some("s3cr:t"), 3);
    assert!(
        !format!("{settings:?}").contains("s3cr"),
        "password never printed"
    );
    let store = Store::connect(settings, fast_settings(&prefix))
        .await
        .unwrap();
    lifesync_jobs::Producer::new(store)
        .enqueue(&job(1, Behaviour::Succeed))
        .await
        .unwrap();
    let out = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &port.to_string(),
            "-a",
            "s3cr:t",
            "--no-auth-warning",
            "-n",
            "3",
        ])
        .args(["llen", &format!("{{{prefix}:probe}}:ready")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    redis.stop();
}

#[tokio::test]
async fn enqueue_by_deterministic_id_is_idempotent() {
    let env = Env::shared().await;
    use lifesync_jobs::payloads::{ScheduleFanout, SyncMode};
    let tick = ScheduleFanout {
        version: ScheduleFanout::VERSION,
        schedule: "daily".into(),
        mode: SyncMode::Full,
        tick_unix: 1_700_000_000,
    };
    let a = env.producer.enqueue(&tick).await.unwrap();
    let b = env.producer.enqueue(&tick).await.unwrap();
    assert!(a.created && !b.created);
    assert_eq!(a.id, "fanout-daily-1700000000");
    assert_eq!(env.store.stats("fanout").await.unwrap().pending, 1);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_records_can_be_found_and_forgotten_live_ones_stay() {
    use lifesync_jobs::Job;
    let env = Env::shared().await;
    let done = env.enqueue(job(1, Behaviour::Succeed)).await;
    let dead = env.enqueue_with(job(2, Behaviour::Abort), 1).await;
    let w = env.start_worker(2);
    assert!(
        env.wait_state(&done, "succeeded", Duration::from_secs(15))
            .await
    );
    assert!(env.wait_state(&dead, "dead", Duration::from_secs(15)).await);
    w.stop().await;
    let live = env.enqueue(job(3, Behaviour::Succeed)).await; // no worker: stays ready

    // The walk sees all three records, with their states and payloads.
    let mut seen = Vec::new();
    env.store
        .scan_jobs(10, |jobs| seen.extend(jobs))
        .await
        .unwrap();
    seen.sort_by(|a, b| a.id.cmp(&b.id));
    seen.dedup_by(|a, b| a.id == b.id);
    assert_eq!(seen.len(), 3);
    for j in &seen {
        assert_eq!(j.queue, ProbeJob::QUEUE);
        assert!(j.payload.contains("\"n\""), "{}", j.payload);
        assert_eq!(j.is_finished(), j.id != live, "{j:?}");
    }

    // Forgetting all three deletes the finished two only; the dead set is emptied too.
    let ids = vec![done.clone(), dead.clone(), live.clone()];
    assert_eq!(
        env.store
            .forget_finished(ProbeJob::QUEUE, &ids)
            .await
            .unwrap(),
        2
    );
    assert!(env.store.job(&done).await.unwrap().is_none());
    assert!(env.store.job(&dead).await.unwrap().is_none());
    assert_eq!(env.store.stats(ProbeJob::QUEUE).await.unwrap().dead, 0);
    assert_eq!(env.state(&live).await.as_deref(), Some("ready"));
    assert_eq!(
        env.store
            .forget_finished(ProbeJob::QUEUE, &ids)
            .await
            .unwrap(),
        0
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_jobs_are_gone_in_every_state_and_a_held_ones_ack_brings_nothing_back() {
    use lifesync_jobs::{
        store::{AckRecord, Outcome},
        Job,
    };
    let env = Env::shared().await;
    let uniq = |n: u64, b: Behaviour, key: &str| ProbeJob {
        n,
        behaviour: b,
        unique: Some(key.into()),
        ..Default::default()
    };
    // Ended and waiting, through a worker: succeeded, dead, waiting a minute for a retry.
    let succeeded = env.enqueue(uniq(1, Behaviour::Succeed, "k1")).await;
    let dead = env.enqueue_with(uniq(2, Behaviour::Abort, "k2"), 1).await;
    let retrying = env
        .enqueue(uniq(3, Behaviour::RetryAfterOnce(60_000), "k3"))
        .await;
    let w = env.start_worker(2);
    for (id, state) in [
        (&succeeded, "succeeded"),
        (&dead, "dead"),
        (&retrying, "retrying"),
    ] {
        assert!(
            env.wait_state(id, state, Duration::from_secs(10)).await,
            "{state}"
        );
    }
    w.stop().await;
    // Held: claimed by a worker (this test) that has not acknowledged it yet.
    let held = env.enqueue(uniq(4, Behaviour::Succeed, "k4")).await;
    let claim = env.store.claim(ProbeJob::QUEUE, "w-test", 1).await.unwrap();
    assert_eq!(claim.jobs.len(), 1);
    let lease = claim.jobs[0].lease;
    assert_eq!(claim.jobs[0].id, held);
    // Queued and scheduled, and two of the same kinds that stay.
    let ready = env.enqueue(uniq(5, Behaviour::Succeed, "k5")).await;
    let producer = &env.producer;
    let later = |n: u64, key: &str| {
        let job = uniq(n, Behaviour::Succeed, key);
        async move {
            producer
                .enqueue_with(
                    &job,
                    lifesync_jobs::EnqueueOptions {
                        delay: Duration::from_secs(3600),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .id
        }
    };
    let scheduled = later(6, "k6").await;
    let kept_ready = env.enqueue(job(7, Behaviour::Succeed)).await;
    let kept_scheduled = later(8, "k8").await;
    assert_eq!(
        env.store.stats(ProbeJob::QUEUE).await.unwrap(),
        QueueStats {
            pending: 2,
            scheduled: 2,
            running: 1,
            retrying: 1,
            dead: 1,
            succeeded: 1,
        }
    );

    let doomed = vec![
        succeeded.clone(),
        dead.clone(),
        retrying.clone(),
        held.clone(),
        ready.clone(),
        scheduled.clone(),
    ];
    let mut asked = doomed.clone();
    asked.push("no-such-job".into());
    // Another queue's name removes nothing.
    assert_eq!(env.store.remove_jobs("other", &asked).await.unwrap(), 0);
    assert_eq!(
        env.store
            .remove_jobs(ProbeJob::QUEUE, &asked)
            .await
            .unwrap(),
        6
    );
    assert_eq!(
        env.store
            .remove_jobs(ProbeJob::QUEUE, &asked)
            .await
            .unwrap(),
        0,
        "removing again finds nothing"
    );
    for id in &doomed {
        assert!(env.store.job(id).await.unwrap().is_none(), "{id}");
    }
    let stats = env.store.stats(ProbeJob::QUEUE).await.unwrap();
    assert_eq!(
        (
            stats.pending,
            stats.scheduled,
            stats.running,
            stats.retrying,
            stats.dead
        ),
        (1, 1, 0, 0, 0),
        "only the kept jobs are queued"
    );
    // No key names a removed job or one of its unique keys (every list, set and string read).
    let mut conn = env.store.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", env.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    for k in &keys {
        let kind: String = redis::cmd("TYPE")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut cmd = match kind.as_str() {
            "list" => redis::cmd("LRANGE"),
            "zset" => redis::cmd("ZRANGE"),
            "set" => redis::cmd("SMEMBERS"),
            "string" => redis::cmd("MGET"),
            _ => continue,
        };
        cmd.arg(k);
        if kind == "list" || kind == "zset" {
            cmd.arg(0).arg(-1);
        }
        let members: Vec<String> = cmd.query_async(&mut conn).await.unwrap();
        for id in &doomed {
            assert!(
                !k.contains(id.as_str()) && !members.contains(id),
                "{k} names {id}"
            );
        }
        for u in ["k1", "k2", "k3", "k4", "k5", "k6"] {
            assert!(!k.ends_with(&format!(":unique:{u}")), "{k}");
        }
    }

    // The holder's heartbeat finds the lease gone; its ack (any outcome) writes nothing.
    let lost = env
        .store
        .heartbeat(ProbeJob::QUEUE, &[(held.clone(), lease, 0)])
        .await
        .unwrap();
    assert_eq!(lost, vec![held.clone()]);
    for outcome in [
        Outcome::Failed {
            delay: Duration::ZERO,
            error: "late".into(),
        },
        Outcome::Succeeded,
        Outcome::Interrupted {
            error: "late".into(),
        },
    ] {
        let ack = AckRecord {
            id: held.clone(),
            lease,
            shard: 0,
            outcome,
        };
        assert_eq!(env.store.ack(ProbeJob::QUEUE, &[ack]).await.unwrap(), 0);
    }
    assert!(env.store.job(&held).await.unwrap().is_none());
    let stats = env.store.stats(ProbeJob::QUEUE).await.unwrap();
    assert_eq!((stats.running, stats.retrying, stats.dead), (0, 0, 0));

    // The unique keys are free again, and a worker runs only what was kept (and the new job).
    let again = env
        .producer
        .enqueue(&uniq(9, Behaviour::Succeed, "k4"))
        .await
        .unwrap();
    assert!(again.created && again.id != held);
    let runs_before = env.runs().await.len();
    let w = env.start_worker(2);
    assert!(
        env.wait_state(&kept_ready, "succeeded", Duration::from_secs(10))
            .await
    );
    assert!(
        env.wait_state(&again.id, "succeeded", Duration::from_secs(10))
            .await
    );
    w.stop().await;
    let mut ran: Vec<u64> = env.runs().await[runs_before..]
        .iter()
        .map(|r| r.split(':').next().unwrap().parse().unwrap())
        .collect();
    ran.sort_unstable();
    assert_eq!(ran, vec![7, 9]);
    assert_eq!(
        env.state(&kept_scheduled).await.as_deref(),
        Some("scheduled")
    );
    env.cleanup().await;
}
