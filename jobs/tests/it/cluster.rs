//! The queue on a real Redis Cluster of its own (3 masters, 3 replicas, `redis-server
//! --cluster-enabled yes` on free ports, temporary directories): a sharded queue keeps every
//! job through a worker killed with SIGKILL, a `CLUSTER FAILOVER` and a master killed with
//! SIGKILL, and its unique keys still dedupe across shards.

use std::{
    collections::HashSet,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::*;
use lifesync_jobs::{probe::ProbeJob, EnqueueOptions, RedisSettings};
use redis::AsyncCommands;

/// One node of the local cluster.
struct Node {
    port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

/// Six `redis-server --cluster-enabled yes` nodes joined by `redis-cli --cluster create`.
struct LocalCluster {
    nodes: Vec<Node>,
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_cluster_port(taken: &[u16]) -> u16 {
    loop {
        let p = free_port();
        if p < 55_000
            && !taken.contains(&p)
            && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok()
        {
            return p;
        }
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli is installed");
    String::from_utf8_lossy(&out.stdout).to_string()
}

impl LocalCluster {
    fn start() -> Self {
        let mut nodes: Vec<Node> = Vec::new();
        for _ in 0..6 {
            let taken: Vec<u16> = nodes.iter().map(|n| n.port).collect();
            let port = free_cluster_port(&taken);
            let dir = tempfile::tempdir().unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                .args(["--cluster-config-file", "nodes.conf"])
                .args(["--appendonly", "yes", "--save", ""])
                .args(["--maxmemory-policy", "noeviction"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed");
            nodes.push(Node {
                port,
                child: Some(child),
                _dir: dir,
            });
        }
        let c = Self { nodes };
        for n in &c.nodes {
            assert!(
                wait_sync(Duration::from_secs(10), || cli(n.port, &["ping"])
                    .contains("PONG")),
                "node {} did not start",
                n.port
            );
        }
        let addrs: Vec<String> = c
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        c.wait_ok();
        c
    }

    fn alive(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.child.is_some())
    }

    /// Until every live node reports `cluster_state:ok` and 3 masters serve the slots.
    fn wait_ok(&self) {
        assert!(
            wait_sync(Duration::from_secs(60), || {
                self.alive()
                    .all(|n| cli(n.port, &["cluster", "info"]).contains("cluster_state:ok"))
                    && self.masters().len() == 3
            }),
            "the cluster did not settle"
        );
    }

    fn seeds(&self) -> Vec<String> {
        self.alive()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    /// Live masters' ports.
    fn masters(&self) -> Vec<u16> {
        self.alive()
            .filter(|n| cli(n.port, &["role"]).starts_with("master"))
            .map(|n| n.port)
            .collect()
    }

    /// A live replica of `master`.
    fn replica_of(&self, master: u16) -> u16 {
        self.alive()
            .find(|n| {
                let role = cli(n.port, &["role"]);
                let mut l = role.lines();
                l.next() == Some("slave") && l.nth(1) == Some(&master.to_string())
            })
            .map(|n| n.port)
            .expect("every master has a replica")
    }

    /// `CLUSTER FAILOVER` on a replica of `master`: a coordinated promotion.
    fn failover(&self, master: u16) -> u16 {
        let replica = self.replica_of(master);
        assert!(cli(replica, &["cluster", "failover"]).contains("OK"));
        assert!(
            wait_sync(Duration::from_secs(30), || cli(replica, &["role"])
                .starts_with("master")),
            "replica {replica} was not promoted"
        );
        self.wait_ok();
        replica
    }

    /// SIGKILL of `master`; its replica takes over once the others mark it failed.
    fn kill(&mut self, master: u16) -> u16 {
        let replica = self.replica_of(master);
        let node = self.nodes.iter_mut().find(|n| n.port == master).unwrap();
        let mut child = node.child.take().unwrap();
        unsafe_kill(child.id(), "KILL");
        let _ = child.wait();
        assert!(
            wait_sync(Duration::from_secs(60), || cli(replica, &["role"])
                .starts_with("master")),
            "replica {replica} did not take over"
        );
        self.wait_ok();
        replica
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn wait_sync(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

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
        let leases: usize = conn
            .hlen(env.store.queue_key("probe", s, "leases"))
            .await
            .unwrap();
        assert_eq!(leases, 0, "shard {s} still holds leases");
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
