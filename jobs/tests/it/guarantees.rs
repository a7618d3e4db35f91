//! Guarantees of `jobs/README.md` that no other test pinned down: the deferral cap, the trim of
//! the dead index to its retention, the dead-lettering of an undecodable payload, a bare
//! `Monitor` (no `runner::run_until`) returning only once its acks are in Redis, a success
//! kept for the retention and then expiring (a fresh job's bucket, a retried job's record), and
//! a fast worker handing back what it claimed ahead once its jobs turn slow.

use std::time::Duration;

use crate::common::*;
use lifesync_jobs::{
    probe::{probe_monitor, ProbeJob},
    runner::Handles,
    store::{AckRecord, Outcome},
};
use redis::AsyncCommands;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferrals_spend_no_attempt_and_the_one_past_the_cap_buries_the_job() {
    let env = Env::shared_with(|s| s.max_deferrals = 1).await;
    let id = env.enqueue_with(ProbeJob::default(), 1).await;
    let defer = |lease| {
        vec![AckRecord {
            id: id.clone(),
            lease,
            shard: 0,
            outcome: Outcome::Deferred {
                delay: Duration::ZERO,
                error: "rate limited".into(),
            },
        }]
    };
    let first = env.store.claim("probe", "w", 1).await.unwrap();
    assert_eq!(
        env.store
            .ack("probe", &defer(first.jobs[0].lease))
            .await
            .unwrap(),
        1
    );
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!((rec.state.as_str(), rec.attempts), ("retrying", 0));

    // Due at once: the next claim promotes and takes it, still as attempt 1.
    let second = env.store.claim("probe", "w", 1).await.unwrap();
    assert_eq!(second.jobs.len(), 1);
    assert_eq!((second.jobs[0].attempt, second.jobs[0].deferrals), (1, 1));
    assert_eq!(
        env.store
            .ack("probe", &defer(second.jobs[0].lease))
            .await
            .unwrap(),
        1
    );
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!(
        rec.state, "dead",
        "the second deferral is past the cap of 1"
    );
    let kinds: Vec<_> = rec
        .history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].clone())
        .collect();
    assert_eq!(kinds, vec!["retry_after", "retry_after"]);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dead_index_is_trimmed_to_the_dead_retention() {
    let env = Env::shared_with(|s| s.dead_retention = Duration::from_secs(1)).await;
    let id = env.enqueue_with(ProbeJob::default(), 1).await;
    let c = env.store.claim("probe", "w", 1).await.unwrap();
    let abort = AckRecord {
        id: id.clone(),
        lease: c.jobs[0].lease,
        shard: 0,
        outcome: Outcome::Aborted {
            error: "bug".into(),
        },
    };
    assert_eq!(env.store.ack("probe", &[abort]).await.unwrap(), 1);
    let dead_key = format!("{{{}:probe}}:dead", env.prefix);
    let mut conn = env.recorder.conn.clone();
    assert_eq!(conn.zcard::<_, u64>(&dead_key).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Any claim trims what is older than the retention.
    env.store.claim("probe", "w", 1).await.unwrap();
    assert_eq!(
        conn.zcard::<_, u64>(&dead_key).await.unwrap(),
        0,
        "an expired dead record stayed indexed"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_payload_is_dead_lettered_not_retried() {
    let env = Env::shared().await;
    // A job no `ProbeJob` decodes from, as an older or foreign producer could have queued it:
    // a record and its bare id on the ready list (its queue registered, as every enqueue does).
    let id = "foreign-1".to_string();
    let mut conn = env.recorder.conn.clone();
    let _: () = conn
        .hset_multiple(
            format!("{{{}:probe}}:job:{id}", env.prefix),
            &[
                ("queue", "probe"),
                ("payload", "{\"n\":\"x\"}"),
                ("state", "ready"),
                ("max_attempts", "3"),
                ("created_ms", "0"),
            ],
        )
        .await
        .unwrap();
    let _: () = conn
        .lpush(format!("{{{}:probe}}:ready", env.prefix), &id)
        .await
        .unwrap();
    let _: () = conn
        .sadd(format!("{}:queues", env.prefix), "probe")
        .await
        .unwrap();
    let w = env.start_worker(2);
    assert!(env.wait_state(&id, "dead", Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.stop().await;
    assert!(env.runs().await.is_empty(), "the handler never ran");
    let rec = env.store.job(&id).await.unwrap().unwrap();
    assert_eq!(rec.attempts, 1);
    assert!(rec.last_error.unwrap().contains("undecodable payload"));
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_jobs_unique_key_and_success_count_leave_no_lasting_keys() {
    let env = Env::shared().await;
    let mut conn = env.recorder.conn.clone();
    let uniq = |n: u64, key: &str| ProbeJob {
        n,
        unique: Some(key.into()),
        ..Default::default()
    };
    let ok = env.enqueue(uniq(1, "sync:1")).await;
    let bad = env.enqueue(uniq(2, "sync:2")).await;
    let claim = env.store.claim("probe", "w", 2).await.unwrap();
    let lease = |id: &str| claim.jobs.iter().find(|j| j.id == id).unwrap().lease;
    let records = vec![
        AckRecord {
            id: ok.clone(),
            lease: lease(&ok),
            shard: 0,
            outcome: Outcome::Succeeded,
        },
        AckRecord {
            id: bad.clone(),
            lease: lease(&bad),
            shard: 0,
            outcome: Outcome::Aborted {
                error: "bug".into(),
            },
        },
    ];
    assert_eq!(env.store.ack("probe", &records).await.unwrap(), 2);
    for key in ["sync:1", "sync:2"] {
        let k = format!("{{{}:probe}}:unique:{key}", env.prefix);
        assert!(
            !conn.exists::<_, bool>(&k).await.unwrap(),
            "{k} outlived its job"
        );
    }
    // The success count expires with the retention (24 h, in buckets of 24 min).
    let buckets: Vec<String> = conn
        .keys(format!("{{{}:probe}}:succeeded:*", env.prefix))
        .await
        .unwrap();
    assert_eq!(buckets.len(), 1);
    let ttl: i64 = conn.ttl(&buckets[0]).await.unwrap();
    assert!((86_400..=86_400 + 1_440).contains(&ttl), "bucket ttl {ttl}");
    env.cleanup().await;
}

/// Sets which script commands the private server's default user may run (plain commands stay).
async fn scripts_allowed(url: &str, allowed: bool) {
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (eval, evalsha) = if allowed {
        ("+eval", "+evalsha")
    } else {
        ("-eval", "-evalsha")
    };
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg(eval)
        .arg(evalsha)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_monitor_returns_only_once_its_acks_are_in_redis() {
    // A server of its own: the test takes the scripts away from its default user for a while,
    // so the acks of jobs that finish during the shutdown fail and are retried.
    let redis = PrivateRedis::start();
    let env = Env::new(&redis.url(), fast_settings(&fresh_prefix())).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let job = ProbeJob {
            n,
            sleep_ms: 600,
            ..Default::default()
        };
        ids.push(env.enqueue(job).await);
    }
    // No `runner::run_until`: its grace-period hand-back would flush the acker itself.
    let monitor = probe_monitor(
        env.store.clone(),
        env.recorder.clone(),
        4,
        Handles::default(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(monitor.run_with_signal(async move {
        let _ = stopped.await;
        Ok(())
    }));
    assert!(
        wait_until(Duration::from_secs(10), || async {
            env.runs().await.len() == 4
        })
        .await,
        "the four jobs started"
    );
    scripts_allowed(&redis.url(), false).await;
    stop.send(()).unwrap();
    // The jobs end at 600 ms; their acks cannot reach Redis yet.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !run.is_finished(),
        "the monitor returned while its acks were not in Redis"
    );
    scripts_allowed(&redis.url(), true).await;
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .expect("the monitor returns once the acks are in")
        .unwrap()
        .unwrap();
    for id in &ids {
        assert_eq!(env.state(id).await.as_deref(), Some("succeeded"), "{id}");
    }
}

/// A success is kept for the retention and then expires: a fresh job's (no record: its
/// `fresh` entry moves to the `done:<t>` bucket of the moment) in that bucket, which expires
/// with the retention plus one bucket width; a retried job's in its record, which expires with
/// the retention. Both read back as succeeded meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_is_kept_for_the_retention_then_expires() {
    let env = Env::shared().await;
    let mut conn = env.recorder.conn.clone();
    let fresh = env
        .enqueue(ProbeJob {
            n: 1,
            ..Default::default()
        })
        .await;
    let retried = env
        .enqueue(ProbeJob {
            n: 2,
            ..Default::default()
        })
        .await;
    let ack = |id: &str, lease: u64, outcome: Outcome| {
        vec![AckRecord {
            id: id.to_string(),
            lease,
            shard: 0,
            outcome,
        }]
    };
    let first = env.store.claim("probe", "w", 2).await.unwrap();
    let lease = |id: &str| first.jobs.iter().find(|j| j.id == id).unwrap().lease;
    assert_eq!(
        env.store
            .ack("probe", &ack(&fresh, lease(&fresh), Outcome::Succeeded))
            .await
            .unwrap(),
        1
    );
    let failed = Outcome::Failed {
        delay: Duration::ZERO,
        error: "once".into(),
    };
    assert_eq!(
        env.store
            .ack("probe", &ack(&retried, lease(&retried), failed))
            .await
            .unwrap(),
        1
    );
    let second = env.store.claim("probe", "w", 1).await.unwrap();
    assert_eq!(second.jobs.len(), 1);
    assert_eq!(
        (second.jobs[0].id.as_str(), second.jobs[0].attempt),
        (retried.as_str(), 2)
    );
    assert_eq!(
        env.store
            .ack(
                "probe",
                &ack(&retried, second.jobs[0].lease, Outcome::Succeeded)
            )
            .await
            .unwrap(),
        1
    );

    let rec = env.store.job(&fresh).await.unwrap().unwrap();
    assert_eq!((rec.state.as_str(), rec.attempts), ("succeeded", 1));
    assert!(rec.payload.contains("\"n\":1"), "{}", rec.payload);
    assert!(rec.finished_ms.is_some());
    let buckets: Vec<String> = conn
        .keys(format!("{{{}:probe}}:done:*", env.prefix))
        .await
        .unwrap();
    assert_eq!(buckets.len(), 1, "{buckets:?}");
    let ttl: i64 = conn.ttl(&buckets[0]).await.unwrap();
    assert!(
        (86_400..=86_400 + 1_440).contains(&ttl),
        "done bucket ttl {ttl}"
    );

    let rec = env.store.job(&retried).await.unwrap().unwrap();
    assert_eq!((rec.state.as_str(), rec.attempts), ("succeeded", 2));
    let ttl: i64 = conn
        .ttl(format!("{{{}:probe}}:job:{retried}", env.prefix))
        .await
        .unwrap();
    assert!((86_390..=86_400).contains(&ttl), "record ttl {ttl}");
    env.cleanup().await;
}

/// A worker that starts jobs fast claims ahead what it starts in `prefetch_for`; when its jobs
/// turn slow, what it holds beyond `claim_batch` goes back to the queue for other workers
/// instead of waiting behind its running jobs (`jobs/README.md`, how many jobs a worker holds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_worker_hands_back_what_it_claimed_ahead_once_its_jobs_turn_slow() {
    let env = Env::shared_with(|s| {
        s.claim_batch = 8;
        s.prefetch_for = Duration::from_millis(50);
    })
    .await;
    let (fast, slow) = (2000u64, 40u64);
    let jobs: Vec<ProbeJob> = (0..fast + slow)
        .map(|n| ProbeJob {
            n,
            sleep_ms: if n < fast { 0 } else { 1500 },
            ..Default::default()
        })
        .collect();
    env.producer
        .enqueue_batch(&jobs, lifesync_jobs::EnqueueOptions::default())
        .await
        .unwrap();
    let w = env.start_worker(4);
    assert!(
        wait_until(Duration::from_secs(60), || async {
            env.runs().await.len() as u64 > fast
        })
        .await,
        "the slow jobs started"
    );
    // The first slow ones run for 1.5 s: no room frees meanwhile, so the fetcher's stall
    // (10 × prefetch_for) passes and it hands back what it holds beyond its buffer.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let s = env.store.stats("probe").await.unwrap();
    // Leased: 4 running, 8 in the buffer, and up to 4 finished fast ones whose ack is in flight.
    assert!(
        s.running <= 16,
        "the worker holds {} leases ({} ready)",
        s.running,
        s.pending
    );
    assert!(s.pending >= slow - 16, "{} slow jobs ready", s.pending);
    w.stop().await;
    let s = env.store.stats("probe").await.unwrap();
    assert_eq!(s.running, 0);
    assert_eq!(s.pending + s.succeeded, fast + slow, "no job lost");
    env.cleanup().await;
}
