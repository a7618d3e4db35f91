//! A Redis Cluster of a test's own: 3 masters and 3 replicas (`redis-server --cluster-enabled
//! yes` on free ports, each in a fresh directory under the system's temporary directory, AOF
//! on), joined by `redis-cli --cluster create … --cluster-replicas 1`; coordinated failover
//! (`CLUSTER FAILOVER` on a replica) and SIGKILL of a master; every node killed and its
//! directory removed on drop. Needs `redis-server` and `redis-cli` on `PATH`.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// One node of the local cluster; `child` is `None` once killed.
struct Node {
    port: u16,
    child: Option<Child>,
    dir: PathBuf,
}

/// Six `redis-server --cluster-enabled yes` nodes joined into 3 masters with a replica each.
pub struct LocalCluster {
    nodes: Vec<Node>,
}

/// A free port whose cluster bus port (+10000) is free too, not in `taken`.
fn free_cluster_port(taken: &[u16]) -> u16 {
    loop {
        let p = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        if p < 55_000 && !taken.contains(&p) && TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok()
        {
            return p;
        }
    }
}

/// `redis-cli -p PORT ARGS`'s standard output.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli is installed");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Polls `f` every 100 ms until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

impl LocalCluster {
    /// Starts the six nodes, creates the cluster and waits until it serves every slot.
    pub fn start() -> Self {
        let mut nodes: Vec<Node> = Vec::new();
        for n in 0..6 {
            let taken: Vec<u16> = nodes.iter().map(|n| n.port).collect();
            let port = free_cluster_port(&taken);
            let dir = std::env::temp_dir().join(format!(
                "lifesync-cluster-{}-{port}-{n}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("a temporary directory");
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                .args(["--cluster-config-file", "nodes.conf"])
                .args(["--appendonly", "yes", "--save", ""])
                .args(["--maxmemory-policy", "noeviction"])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed");
            nodes.push(Node {
                port,
                child: Some(child),
                dir,
            });
        }
        let c = Self { nodes };
        for n in &c.nodes {
            assert!(
                wait_until(Duration::from_secs(10), || cli(n.port, &["ping"])
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
            .expect("redis-cli is installed");
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
    pub fn wait_ok(&self) {
        assert!(
            wait_until(Duration::from_secs(60), || {
                self.alive()
                    .all(|n| cli(n.port, &["cluster", "info"]).contains("cluster_state:ok"))
                    && self.masters().len() == 3
            }),
            "the cluster did not settle"
        );
    }

    /// `redis://127.0.0.1:PORT` of every live node: the seeds a client is given.
    pub fn seeds(&self) -> Vec<String> {
        self.alive()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    /// Live masters' ports.
    pub fn masters(&self) -> Vec<u16> {
        self.alive()
            .filter(|n| cli(n.port, &["role"]).starts_with("master"))
            .map(|n| n.port)
            .collect()
    }

    /// A live replica of `master`.
    pub fn replica_of(&self, master: u16) -> u16 {
        self.alive()
            .find(|n| {
                let role = cli(n.port, &["role"]);
                let mut l = role.lines();
                l.next() == Some("slave") && l.nth(1) == Some(&master.to_string())
            })
            .map(|n| n.port)
            .expect("every master has a replica")
    }

    /// `CLUSTER FAILOVER` on a replica of `master`: a coordinated promotion. Returns the new
    /// master's port once the cluster settled.
    pub fn failover(&self, master: u16) -> u16 {
        let replica = self.replica_of(master);
        assert!(cli(replica, &["cluster", "failover"]).contains("OK"));
        assert!(
            wait_until(Duration::from_secs(30), || cli(replica, &["role"])
                .starts_with("master")),
            "replica {replica} was not promoted"
        );
        self.wait_ok();
        replica
    }

    /// SIGKILL of `master`; its replica takes over once the others mark it failed. Returns the
    /// new master's port once the cluster settled.
    pub fn kill(&mut self, master: u16) -> u16 {
        let replica = self.replica_of(master);
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == master)
            .expect("a node of this cluster");
        let mut child = node.child.take().expect("a live node");
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            wait_until(Duration::from_secs(60), || cli(replica, &["role"])
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
            let _ = std::fs::remove_dir_all(&n.dir);
        }
    }
}
