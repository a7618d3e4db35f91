//! The queue on a real Redis Cluster of its own (3 masters, 3 replicas, `redis-server
//! --cluster-enabled yes` on free ports, temporary directories): a sharded queue keeps every
//! job through a worker killed with SIGKILL, a `CLUSTER FAILOVER` and a master killed with
//! SIGKILL, and its unique keys still dedupe across shards.

use std::{collections::HashSet, time::Duration};

use crate::common::*;
use lifesync_jobs::{probe::ProbeJob, EnqueueOptions, RedisSettings};
use lifesync_testkit::redis_cluster::{cli, LocalCluster};
use redis::AsyncCommands;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_queue_on_a_cluster_survives_a_killed_worker_and_master_failovers() {
    let mut cluster = LocalCluster::start();
    let prefix = fresh_prefix();
    const SHARDS: u32 = 8;
    let mut settings = fast_settings(&prefix);
    settings.shards.insert("probe".into(), SHARDS);
    let env = Env::on(RedisSettings::cluster(cluster.seeds()), settings).await;
    assert!(env.store.is_cluster());

    // The shards' hash tags fall in distinct slots, spread over the masters.
    let slots: HashSet<u16> = (0..SHARDS)
        .map(|s| lifesync_jobs::conn::slot(&env.store.queue_key("probe", s, "ready")))
        .collect();
    assert_eq!(slots.len(), SHARDS as usize);

    // Every job has a unique key; enqueueing them again creates nothing (each key meets its
    // holder in the shard it hashes to).
    const N: u64 = 300;
    let jobs: Vec<ProbeJob> = (0..N)
        .map(|n| ProbeJob {
            n,
            sleep_ms: 30,
            unique: Some(format!("u{n}")),
            ..Default::default()
        })
        .collect();
    let first = env
        .producer
        .enqueue_batch(&jobs, EnqueueOptions::default())
        .await
        .unwrap();
    assert!(first.iter().all(|e| e.created));
    let again = env
        .producer
        .enqueue_batch(&jobs, EnqueueOptions::default())
        .await
        .unwrap();
    assert!(again.iter().all(|e| !e.created));
    assert_eq!(
        first.iter().map(|e| &e.id).collect::<Vec<_>>(),
        again.iter().map(|e| &e.id).collect::<Vec<_>>()
    );
    let ids: Vec<String> = first.iter().map(|e| e.id.clone()).collect();
    // The enqueues reached a replica (asynchronous replication: see jobs/README.md).
    for m in cluster.masters() {
        assert!(cli(m, &["wait", "1", "5000"]).trim() != "0", "master {m}");
    }
    assert_eq!(env.store.stats("probe").await.unwrap().pending, N);

    let seeds = cluster.seeds().join(",");
    let shards = SHARDS.to_string();
    let extra = [
        "--cluster",
        seeds.as_str(),
        "--shards",
        shards.as_str(),
        "--concurrency",
        "4",
    ];
    let url = cluster.seeds()[0].clone();
    let mut workers: Vec<ProbeProcess> = (0..3)
        .map(|_| ProbeProcess::spawn(&url, &prefix, &extra))
        .collect();

    let done_at_least = |k: usize| {
        let env = &env;
        async move {
            wait_until(Duration::from_secs(120), || async {
                env.done().await.into_iter().collect::<HashSet<_>>().len() >= k
            })
            .await
        }
    };
    assert!(done_at_least(N as usize / 5).await);
    workers[0].kill9();
    assert!(done_at_least(2 * N as usize / 5).await);
    let masters = cluster.masters();
    cluster.failover(masters[0]);
    assert!(done_at_least(3 * N as usize / 5).await);
    cluster.kill(masters[1]);

    // Every job ends succeeded (its own record says so: the probe's `done` list may lose an
    // entry with the killed master, the job's record is what counts).
    assert!(
        wait_until(Duration::from_secs(180), || async {
            match env.store.job_states(&ids).await {
                Ok(states) => states
                    .iter()
                    .all(|s| s.as_ref().is_some_and(|(st, _)| st == "succeeded")),
                Err(_) => false,
            }
        })
        .await,
        "every job completes"
    );
    // Nothing is left leased, queued or dead.
    let stats = env.store.stats("probe").await.unwrap();
    assert_eq!(
        (
            stats.pending,
            stats.running,
            stats.retrying,
            stats.scheduled,
            stats.dead
        ),
        (0, 0, 0, 0, 0),
        "{stats:?}"
    );
    let mut conn = env.store.connection();
    for s in 0..SHARDS {
        // Leases are claims (each a member of `claims` and a set of ids), the layouts before's
        // members of the active set and entries of the `leases` hash.
        let claims: usize = conn
            .zcard(env.store.queue_key("probe", s, "claims"))
            .await
            .unwrap();
        let active: usize = conn
            .zcard(env.store.queue_key("probe", s, "active"))
            .await
            .unwrap();
        let old: usize = conn
            .hlen(env.store.queue_key("probe", s, "leases"))
            .await
            .unwrap();
        assert_eq!(
            (claims, active, old),
            (0, 0, 0),
            "shard {s} still holds leases"
        );
    }
    // The finished jobs released their unique keys: the same keys enqueue anew.
    let third = env
        .producer
        .enqueue_batch(&jobs[..10], EnqueueOptions::default())
        .await
        .unwrap();
    assert!(third.iter().all(|e| e.created));
    for w in &mut workers {
        w.sigterm();
    }
    for w in &mut workers[1..] {
        w.wait_exit(Duration::from_secs(30));
    }
    let runs = env.runs().await.len();
    eprintln!(
        "cluster test: {N} jobs, {runs} runs recorded (re-runs after the kills: at least once)"
    );
}
