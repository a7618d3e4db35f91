//! The six-provider sync on a Redis Cluster of the test's own (issue 18): 3 masters and 3
//! replicas ([`LocalCluster`]), the sync queue sharded over 4 hash tags, syncs run by three
//! `lifesync worker` processes. While every source's first sync is held mid-request at the
//! sandbox, the worker running them all is killed with SIGKILL (two others take them over once
//! their leases lapse), then a master is failed over by `CLUSTER FAILOVER` and another killed
//! with SIGKILL while the survivors hold the jobs: every run still succeeds with exactly the
//! provider's items, the unique key of a source's sync still dedupes across shards, nothing is
//! left leased or queued, and the cluster serves the next round of syncs.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;
use lifesync::providers::ProviderId;
use lifesync_jobs::payloads::{SyncDataSource, SyncMode, SyncTrigger};
use lifesync_jobs::{Producer, RedisSettings};
use lifesync_sandbox::SandboxState;
use lifesync_testkit::redis_cluster::LocalCluster;
use uuid::Uuid;

const SHARDS: u32 = 4;

/// An account the sandbox knows, per provider.
fn account(p: ProviderId) -> &'static str {
    match p {
        ProviderId::Twitter => "1001",
        ProviderId::Google => "alpha.erase@gmail.com",
        ProviderId::Facebook => lifesync_sandbox::facebook::ACCOUNT,
        ProviderId::Linkedin => lifesync_sandbox::linkedin::ACCOUNT,
        ProviderId::Instagram => lifesync_sandbox::instagram::ACCOUNT,
        ProviderId::Microsoft => lifesync_sandbox::microsoft::ACCOUNT,
    }
}

/// The ids the sandbox holds for `p`'s account, sorted.
fn provider_ids(state: &SandboxState, p: ProviderId) -> Vec<String> {
    let mut ids = state.item_ids(p, account(p));
    ids.sort();
    ids
}

/// A `lifesync worker --queues sync` process on the cluster; SIGKILLed on drop if still
/// running.
struct Worker(Child);

impl Worker {
    fn spawn(env: &[(String, String)], concurrency: usize) -> Self {
        let concurrency = concurrency.to_string();
        Self(
            lifesync_command(
                &["worker", "--queues", "sync", "--concurrency", &concurrency],
                env,
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the lifesync binary"),
        )
    }

    fn signal(&self, sig: &str) {
        std::process::Command::new("kill")
            .args([format!("-{sig}"), self.0.id().to_string()])
            .status()
            .unwrap();
    }

    /// SIGTERM, then the exit status within 40 s.
    async fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        for _ in 0..400 {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("a worker did not exit after SIGTERM");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Each source's stored items: (all rows, distinct external ids, live ids sorted).
async fn stored(h: &SyncHarness, ds: Uuid) -> (i64, i64, Vec<String>) {
    let (rows, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT external_id) FROM items WHERE data_source_id = $1",
    )
    .bind(ds)
    .fetch_one(&h.app.db.pool)
    .await
    .unwrap();
    (rows, distinct, h.live_ids(ds).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_providers_sync_on_a_redis_cluster_through_a_killed_worker_and_failovers() {
    let mut cluster = LocalCluster::start();
    let redis = RedisSettings::cluster(cluster.seeds());
    // The API and the OAuth completions in this process; syncs in worker processes.
    let h = SyncHarness::with_workers_for(
        1801,
        10,
        redis,
        |q| {
            q.shards.insert("sync".into(), SHARDS);
        },
        &["oauth_completion"],
    )
    .await;
    assert!(h.app.store.is_cluster());
    let prefix = h.app.store.settings().prefix.clone();
    let mut env = h
        .sandbox
        .service_env(&h.app.db.url, &prefix, "http://127.0.0.1:1");
    env.extend([
        ("REDIS_CLUSTER_URLS".to_string(), cluster.seeds().join(",")),
        ("QUEUE_SHARDS".to_string(), format!("sync={SHARDS}")),
        ("SYNC_BATCH_SIZE".to_string(), "10".to_string()),
    ]);
    // The first worker alone takes all six first syncs.
    let first = Worker::spawn(&env, 8);

    // Connect the six sources; their first syncs start on that worker, slowed at the sandbox
    // and then held mid-request, so every job is in flight through what follows.
    h.sandbox.state.faults.lock().unwrap().slow_ms = 2000;
    let mut completions = Vec::new();
    for p in ProviderId::ALL {
        completions.push((p, h.begin_connect(p, "clu", account(p)).await));
    }
    let mut sources = Vec::new();
    for (p, completion) in &completions {
        let ds = h.connected_source(completion, "clu").await;
        sources.push((*p, ds, h.first_run(ds).await));
    }
    h.sandbox.state.faults.lock().unwrap().hold_data = true;
    let mut jobs = Vec::new();
    for (p, _, run) in &sources {
        let status = run_row(&h.app.db.pool, run).await.status;
        assert!(
            status == "queued" || status == "running",
            "{p}: the first run ended before the faults ({status}): slow the sandbox more"
        );
        let job_id: String = sqlx::query_scalar("SELECT job_id FROM sync_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&h.app.db.pool)
            .await
            .unwrap();
        jobs.push(job_id);
    }
    let attempts_all = |n: u32| {
        let (h, jobs) = (&h, &jobs);
        async move {
            eventually(60, || async {
                let mut all = true;
                for id in jobs {
                    let j = h.app.store.job(id).await.ok().flatten();
                    all &= j.is_some_and(|j| j.state == "active" && j.attempts == n);
                }
                all
            })
            .await
        }
    };
    if !attempts_all(1).await {
        for id in &jobs {
            eprintln!("{id}: {:?}", h.app.store.job(id).await);
        }
        panic!("the first worker holds all six jobs");
    }

    // The unique key of each source's sync dedupes across the shards: the same job again
    // meets the live one in the shard its key hashes to.
    let producer = Producer::new(h.app.store.clone());
    for ((p, ds, _), job_id) in sources.iter().zip(&jobs) {
        let again = producer
            .enqueue(&SyncDataSource {
                version: SyncDataSource::VERSION,
                data_source_id: *ds,
                mode: SyncMode::Full,
                trigger: SyncTrigger::Manual,
                sync_run_id: Uuid::new_v4(),
                page_cursor: None,
            })
            .await
            .unwrap();
        assert!(!again.created, "{p}: a second sync job was created");
        assert_eq!(&again.id, job_id, "{p}");
    }
    let slots: std::collections::HashSet<u16> = sources
        .iter()
        .zip(&jobs)
        .map(|((_, ds, _), job_id)| {
            let key = format!("sync:{ds}");
            let shard = h.app.store.shard_of("sync", Some(&key), job_id);
            lifesync_jobs::conn::slot(&h.app.store.queue_key("sync", shard, "ready"))
        })
        .collect();
    assert!(slots.len() > 1, "the sources' jobs share one shard");

    // SIGKILL of the worker mid-job: two others take the six jobs over once their leases
    // lapse, and resume them (still held at the sandbox).
    let mut workers: Vec<Worker> = (0..2).map(|_| Worker::spawn(&env, 4)).collect();
    first.signal("KILL");
    drop(first);
    assert!(
        attempts_all(2).await,
        "the jobs of the killed worker run again"
    );

    // A coordinated failover and a master killed while those jobs are in flight.
    let masters = cluster.masters();
    cluster.failover(masters[0]);
    cluster.kill(masters[1]);
    {
        let mut f = h.sandbox.state.faults.lock().unwrap();
        f.hold_data = false;
        f.slow_ms = 20;
    }

    // Every run succeeds with exactly the provider's items, each stored once.
    for (p, ds, run) in &sources {
        let outcome = h.wait(*run).await;
        assert_eq!(outcome.status, "succeeded", "{p}: {outcome:?}");
        let want = provider_ids(&h.sandbox.state, *p);
        let (rows, distinct, live) = stored(&h, *ds).await;
        assert_eq!(live, want, "{p}: the stored items are the provider's");
        assert_eq!(
            (rows, distinct),
            (want.len() as i64, want.len() as i64),
            "{p}"
        );
        assert_eq!(outcome.new as usize, want.len(), "{p}: counted once");
    }

    // Nothing is left leased (running), queued, retrying or dead in any shard.
    assert!(
        eventually(30, || async {
            let s = h.app.store.stats("sync").await.unwrap();
            (s.pending, s.running, s.retrying, s.scheduled, s.dead) == (0, 0, 0, 0, 0)
        })
        .await,
        "{:?}",
        h.app.store.stats("sync").await
    );

    // The cluster, failed over twice, serves the next round: new items at every provider, a
    // full sync of every source through the API.
    for (p, _, _) in &sources {
        h.sandbox.state.add_items(*p, account(*p), 3);
    }
    let mut runs = Vec::new();
    for (p, ds, _) in &sources {
        runs.push((*p, *ds, h.start_sync(*ds, "clu", "full").await.run));
    }
    for (p, ds, run) in runs {
        let outcome = h.wait(run).await;
        assert_eq!(outcome.status, "succeeded", "{p}: {outcome:?}");
        assert_eq!(outcome.new, 3, "{p}: {outcome:?}");
        assert_eq!(
            h.live_ids(ds).await,
            provider_ids(&h.sandbox.state, p),
            "{p}"
        );
    }

    for w in workers.drain(..) {
        assert!(w.stop().await.success(), "a worker's exit after SIGTERM");
    }
    h.shutdown().await;
    drop(cluster);
}
