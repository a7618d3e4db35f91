//! `lifesync dev` from nothing: creates and migrates its database, connects the demo account,
//! syncs it, prints a working JWT, and stops cleanly on SIGTERM. With no PostgreSQL or Redis
//! configured or running it starts its own, keeps their data between runs, refuses a second
//! dev on the same data, stops them on SIGTERM, and says what to install when it cannot.

use crate::common::{self, servers::free_port};

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_shows_a_synced_twitter_account_within_60_seconds() {
    let db = format!(
        "lifesync_dev_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let port = free_port().to_string();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifesync"))
        .arg("dev")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{db}"),
        )
        .env("REDIS_KEY_PREFIX", &prefix)
        .env("PORT", &port)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut jwt, mut synced) = (None, None);
    while started.elapsed() < Duration::from_secs(60) && synced.is_none() {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(t) = line.strip_prefix("demo user JWT (24 h): ") {
                jwt = Some(t.to_string());
            }
            if line.starts_with("dev: first sync succeeded") {
                synced = Some(line);
            }
        }
    }
    let synced = synced.expect("the first sync succeeded within 60 s");
    assert!(synced.contains("230 tweets"), "{synced}");
    // dev's own receiver hears the demo user's events, each signature verified.
    let mut hook = None;
    while started.elapsed() < Duration::from_secs(90) && hook.is_none() {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.starts_with("dev: webhook sync.succeeded (signature verified)")
                && line.contains("\"provider\":\"twitter\"")
            {
                hook = Some(line);
            }
        }
    }
    let hook = hook.expect("dev's receiver printed the first sync's verified event");
    assert!(hook.contains("\"provider\":\"twitter\""), "{hook}");

    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/data-sources"))
        .bearer_auth(jwt.expect("a JWT was printed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data_sources"][0]["item_count"], 230);
    assert_eq!(body["data_sources"][0]["last_sync_status"], "succeeded");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "dev did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));

    common::drop_db(&db).await;
    let store = lifesync_jobs::Store::connect(
        lifesync_jobs::RedisSettings::new("redis://127.0.0.1:6379"),
        lifesync_jobs::QueueSettings::new(prefix),
    )
    .await
    .unwrap();
    store.purge_prefix().await.unwrap();
}

#[test]
fn dev_says_in_one_line_that_a_configured_postgres_is_unreachable() {
    let out = Command::new(env!("CARGO_BIN_EXE_lifesync"))
        .arg("dev")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/lifesync")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("PostgreSQL is unreachable at postgres://***@127.0.0.1:1/lifesync")
            && err.contains("with DATABASE_URL unset, dev starts its own"),
        "{err}"
    );
}

/// `lifesync dev` as a user with nothing configured and nothing running would start it: the
/// defaults it looks at are closed ports (test-only `LIFESYNC_DEV_PROBE_*`, since this
/// machine's 5432 and 6379 are taken), its data goes under `xdg`.
fn bare_dev(xdg: &Path, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lifesync"));
    c.arg("dev")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("XDG_DATA_HOME", xdg)
        .env(
            "LIFESYNC_DEV_PROBE_DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{}/lifesync", free_port()),
        )
        .env(
            "LIFESYNC_DEV_PROBE_REDIS_URL",
            format!("redis://127.0.0.1:{}", free_port()),
        )
        .env("PORT", port.to_string());
    c
}

/// A running `lifesync dev`: its stdout line by line; SIGTERM on drop so a failing test
/// leaves nothing running.
struct Dev {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    port: u16,
}

impl Dev {
    fn start(mut cmd: Command, port: u16) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            port,
        }
    }

    /// The first line starting with `prefix`, within `limit`.
    fn wait_for(&mut self, prefix: &str, limit: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return l.clone();
        }
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                self.seen.push(line.clone());
                if line.starts_with(prefix) {
                    return line;
                }
            }
        }
        panic!(
            "no line {prefix:?} within {limit:?}; dev printed:\n{}",
            self.seen.join("\n")
        );
    }

    fn jwt(&mut self) -> String {
        self.wait_for("demo user JWT (24 h): ", Duration::from_secs(120))
            .trim_start_matches("demo user JWT (24 h): ")
            .to_string()
    }

    async fn data_sources(&mut self) -> Vec<serde_json::Value> {
        let jwt = self.jwt();
        let r = reqwest::Client::new()
            .get(format!(
                "http://127.0.0.1:{}/api/v1/data-sources",
                self.port
            ))
            .bearer_auth(jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        body["data_sources"].as_array().unwrap().clone()
    }

    /// SIGTERM, then its exit code (within 60 s).
    fn terminate(&mut self) -> Option<i32> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            assert!(Instant::now() < deadline, "dev did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.terminate();
        }
    }
}

fn pid_in(file: &Path) -> u32 {
    std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn twitter_id(sources: &[serde_json::Value]) -> String {
    sources
        .iter()
        .find(|s| s["provider"] == "twitter")
        .expect("the demo Twitter source")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_brings_its_own_postgres_and_redis_keeps_their_data_and_leaves_nothing_behind() {
    let xdg = std::env::temp_dir().join(format!("lifesync-dev-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&xdg).unwrap();
    let data = xdg.join("lifesync/dev");

    // 1. Nothing configured, nothing on the defaults: it starts both and syncs the demo.
    let port = free_port();
    let mut dev = Dev::start(bare_dev(&xdg, port), port);
    let started = dev.wait_for("dev: no PostgreSQL on", Duration::from_secs(120));
    assert!(
        started.contains("started PostgreSQL")
            && started.contains("Redis on 127.0.0.1:")
            && started.contains(&data.display().to_string()),
        "{started}"
    );
    let synced = dev.wait_for("dev: first sync succeeded", Duration::from_secs(120));
    assert!(synced.contains("230 tweets"), "{synced}");
    let sources = dev.data_sources().await;
    let first = sources.iter().find(|s| s["provider"] == "twitter").unwrap();
    assert_eq!(first["item_count"], 230);
    let ids: Vec<String> = sources
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let pg = pid_in(&data.join("postgres/postmaster.pid"));
    let redis = pid_in(&data.join("redis/redis.pid"));
    assert!(running(pg) && running(redis));
    assert_eq!(pid_in(&data.join("lock")), dev.child.id());

    // 2. A second dev on the same data refuses in one line, naming the first.
    let other = bare_dev(&xdg, free_port()).output().unwrap();
    assert_eq!(other.status.code(), Some(1));
    let err = String::from_utf8_lossy(&other.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("another lifesync dev (pid {})", dev.child.id())),
        "{err}"
    );
    assert!(
        running(pg) && running(redis),
        "the refused dev touched nothing"
    );

    // 3. SIGTERM: its servers stop with it; no process, pid file or lock is left.
    assert_eq!(dev.terminate(), Some(0));
    assert!(!running(pg), "postgres {pg} still running");
    assert!(!running(redis), "redis-server {redis} still running");
    assert!(!data.join("postgres/postmaster.pid").exists());
    assert!(!data.join("redis/redis.pid").exists());
    assert!(!data.join("lock").exists());

    // 4. A restart reuses the data: the demo user's sources are the same rows.
    let port = free_port();
    let mut again = Dev::start(bare_dev(&xdg, port), port);
    let sources = again.data_sources().await;
    let now: Vec<String> = sources
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        assert!(
            now.contains(id),
            "source {id} of the first run is gone: {now:?}"
        );
    }
    assert_eq!(again.terminate(), Some(0));
    assert!(!data.join("postgres/postmaster.pid").exists());

    // 5. --dev-reset starts from an empty cluster: a new demo source.
    let port = free_port();
    let mut cmd = bare_dev(&xdg, port);
    cmd.arg("--dev-reset");
    let mut reset = Dev::start(cmd, port);
    reset.wait_for("dev: --dev-reset: wiped", Duration::from_secs(30));
    let sources = reset.data_sources().await;
    assert!(
        !ids.contains(&twitter_id(&sources)),
        "the data survived --dev-reset"
    );
    assert_eq!(reset.terminate(), Some(0));
    assert!(!data.join("lock").exists());
    let _ = std::fs::remove_dir_all(&xdg);
}

#[test]
fn dev_without_the_server_programs_says_what_to_install_and_exits_1() {
    let xdg = std::env::temp_dir().join(format!("lifesync-dev-{}", ulid::Ulid::new()));
    let empty = xdg.join("bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = bare_dev(&xdg, free_port())
        .env("PATH", &empty)
        .env("LIFESYNC_DEV_SEARCH_ROOTS", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    if release.contains("ID=debian") || release.contains("ID=ubuntu") {
        assert!(
            err.contains("apt-get install -y postgresql redis-server"),
            "{err}"
        );
    } else {
        assert!(err.contains("install"), "{err}");
    }
    assert!(!xdg.join("lifesync/dev/lock").exists());
    let _ = std::fs::remove_dir_all(&xdg);
}
