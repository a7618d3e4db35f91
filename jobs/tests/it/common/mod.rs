//! Test harness: isolated prefixes on the shared Redis, private Redis servers for tests that
//! stop or restart Redis, in-process workers and probe worker processes.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use lifesync_jobs::{
    probe::{probe_monitor, ProbeJob, ProbeRecorder},
    runner::{self, Handles},
    Producer, QueueSettings, RedisSettings, RetryPolicy, Store,
};
use redis::AsyncCommands;

pub fn shared_redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn fresh_prefix() -> String {
    format!("t{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Short timings so tests observe leases, retries and retention in seconds.
pub fn fast_settings(prefix: &str) -> QueueSettings {
    let mut s = QueueSettings::new(prefix);
    s.lease = Duration::from_secs(2);
    s.heartbeat = Duration::from_millis(400);
    s.idle_block = Duration::from_millis(200);
    s.retry = RetryPolicy {
        base: Duration::from_millis(200),
        factor: 2.0,
        max: Duration::from_secs(30),
        jitter: 0.2,
    };
    s
}

pub struct Env {
    pub url: String,
    pub prefix: String,
    pub store: Store,
    pub producer: Producer,
    pub recorder: ProbeRecorder,
}

impl Env {
    pub async fn new(url: &str, settings: QueueSettings) -> Self {
        Self::on(RedisSettings::new(url), settings).await
    }

    /// An environment on any Redis (a cluster's seeds included).
    pub async fn on(redis: RedisSettings, settings: QueueSettings) -> Self {
        let url = redis.url.clone();
        let prefix = settings.prefix.clone();
        let store = Store::connect(redis, settings)
            .await
            .expect("connect to redis");
        let conn = store.connection();
        Self {
            url,
            prefix: prefix.clone(),
            producer: Producer::new(store.clone()),
            store,
            recorder: ProbeRecorder { conn, prefix },
        }
    }

    pub async fn shared() -> Self {
        Self::new(&shared_redis_url(), fast_settings(&fresh_prefix())).await
    }

    /// An environment on the shared Redis with adjusted settings.
    pub async fn shared_with(f: impl FnOnce(&mut QueueSettings)) -> Self {
        let mut s = fast_settings(&fresh_prefix());
        f(&mut s);
        Self::new(&shared_redis_url(), s).await
    }

    pub async fn enqueue_with(&self, job: ProbeJob, max_attempts: u32) -> String {
        let opts = lifesync_jobs::EnqueueOptions {
            max_attempts: Some(max_attempts),
            ..Default::default()
        };
        self.producer
            .enqueue_with(&job, opts)
            .await
            .expect("enqueue")
            .id
    }

    /// Runs of job `n` as (attempt, start unix ms), in order.
    pub async fn runs_of(&self, n: u64) -> Vec<(u32, u64)> {
        self.runs()
            .await
            .iter()
            .filter_map(|r| {
                let mut p = r.split(':');
                let (jn, a, t) = (p.next()?, p.next()?, p.next()?);
                (jn.parse::<u64>().ok()? == n).then(|| (a.parse().unwrap(), t.parse().unwrap()))
            })
            .collect()
    }

    pub async fn state(&self, id: &str) -> Option<String> {
        self.store.job(id).await.unwrap().map(|j| j.state)
    }

    /// Waits until job `id` is in `state`.
    pub async fn wait_state(&self, id: &str, state: &str, timeout: Duration) -> bool {
        wait_until(timeout, || async {
            self.state(id).await.as_deref() == Some(state)
        })
        .await
    }

    /// Number of keys under this test's prefix.
    pub async fn key_count(&self) -> usize {
        let mut conn = self.recorder.conn.clone();
        let keys: Vec<String> = conn
            .keys(format!("{}:*", self.prefix))
            .await
            .unwrap_or_default();
        keys.len()
    }

    pub async fn enqueue(&self, job: ProbeJob) -> String {
        self.producer.enqueue(&job).await.expect("enqueue").id
    }

    /// Run starts recorded so far, as `n:attempt`.
    pub async fn runs(&self) -> Vec<String> {
        self.list(&self.recorder.runs_key()).await
    }

    /// Reads a list, riding out a Redis restart (tests restart private servers).
    async fn list<T: redis::FromRedisValue>(&self, key: &str) -> Vec<T> {
        for _ in 0..100 {
            match self.recorder.conn.clone().lrange(key, 0, -1).await {
                Ok(v) => return v,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("redis did not answer for 10 s");
    }

    /// Completed effects recorded so far (one entry per completion, duplicates included).
    pub async fn done(&self) -> Vec<u64> {
        self.list(&self.recorder.done_key()).await
    }

    /// Starts an in-process worker on the probe queue; returns a stopper.
    pub fn start_worker(&self, concurrency: usize) -> InProcessWorker {
        let handles = Handles::default();
        let monitor = probe_monitor(
            self.store.clone(),
            self.recorder.clone(),
            concurrency,
            handles.clone(),
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let signal = async move {
                let _ = rx.await;
                Ok(())
            };
            let _ = runner::run_until(monitor, handles, signal, Duration::from_secs(5)).await;
        });
        InProcessWorker {
            stop: Some(tx),
            task,
        }
    }

    /// Deletes every key under this test's prefix.
    pub async fn cleanup(&self) {
        self.store.purge_prefix().await.expect("purge test keys");
    }
}

pub struct InProcessWorker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl InProcessWorker {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut self.task).await;
    }
}

/// Polls `f` every 50 ms until it returns true or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server of this test's own (AOF on, fsync always), on a free port.
pub struct PrivateRedis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Self {
            port: free_port(),
            dir,
            child: None,
        };
        r.spawn();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--maxmemory-policy", "noeviction"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let ok = Command::new("redis-cli")
                    .args(["-p", &self.port.to_string(), "ping"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
                    .unwrap_or(false);
                if ok {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("private redis did not start on {}", self.port);
    }

    /// Stops the server gracefully (SIGTERM: AOF flushed), as a restart would.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_kill(c.id(), "TERM");
            let _ = c.wait();
        }
    }

    /// Kills the server (SIGKILL): only what AOF already fsynced survives (fsync always).
    pub fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_kill(c.id(), "KILL");
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and data directory (AOF replayed).
    pub fn start_again(&mut self) {
        self.spawn();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn unsafe_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

/// A `jobs-probe` worker process.
pub struct ProbeProcess {
    pub child: Child,
}

impl ProbeProcess {
    pub fn spawn(url: &str, prefix: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jobs-probe"))
            .args(["--redis", url, "--prefix", prefix])
            .args(["--lease-ms", "2000", "--heartbeat-ms", "400"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn jobs-probe");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ready"), "probe said {line:?}");
        Self { child }
    }

    pub fn kill9(&mut self) {
        unsafe_kill(self.child.id(), "KILL");
        let _ = self.child.wait();
    }

    pub fn sigterm(&mut self) {
        unsafe_kill(self.child.id(), "TERM");
    }

    /// Waits for exit; returns the exit code (None if killed by a signal or still running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for ProbeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
