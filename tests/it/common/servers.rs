//! Private PostgreSQL and Redis servers for tests that stop, break or reconfigure them (TLS):
//! started on free ports in directories of their own, never the shared ones.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// `n` distinct free ports (all listeners are held until every port is chosen).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// A port free now (nothing holds it: another process may take it before the test does).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn pg_bin(tool: &str) -> String {
    // Debian's layout; any major version.
    let dir = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .unwrap_or_else(|| PathBuf::from(PG_BIN));
    dir.join(tool).to_string_lossy().into_owned()
}

/// A PostgreSQL server of this test's own (initdb + pg_ctl as the `postgres` user).
pub struct PrivatePostgres {
    pub dir: PathBuf,
    pub port: u16,
    /// Extra `-c name=value` settings for every start.
    settings: Vec<String>,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        Self::start_with(|_| Vec::new())
    }

    /// Started with the `-c` settings that `setup` returns; `setup` gets the server's own
    /// directory first (owned by `postgres` afterwards), where it may write files (certificates).
    pub fn start_with(setup: impl FnOnce(&std::path::Path) -> Vec<String>) -> Self {
        let dir = std::env::temp_dir().join(format!("lifesync-pg-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let settings = setup(&dir);
        as_postgres(&["chown", "-R", "postgres", &dir.to_string_lossy()], true);
        let data = dir.join("data");
        let ok = as_postgres(
            &[
                &pg_bin("initdb"),
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
            false,
        );
        assert!(ok, "initdb");
        let pg = Self {
            dir,
            port: free_port(),
            settings,
        };
        pg.up();
        pg
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A streaming replica of `primary` (`pg_basebackup -R` from it, as the `postgres` user),
    /// started on a port of its own with the primary's settings: read-only, a few milliseconds
    /// behind.
    pub fn replica_of(primary: &PrivatePostgres) -> Self {
        let dir = std::env::temp_dir().join(format!("lifesync-pg-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        as_postgres(&["chown", "-R", "postgres", &dir.to_string_lossy()], true);
        let ok = as_postgres(
            &[
                &pg_bin("pg_basebackup"),
                "-D",
                &dir.join("data").to_string_lossy(),
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
            ],
            false,
        );
        assert!(ok, "pg_basebackup");
        let pg = Self {
            dir,
            port: free_port(),
            settings: primary.settings.clone(),
        };
        pg.up();
        pg
    }

    pub fn up(&self) {
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.to_string_lossy()
        );
        for s in &self.settings {
            opts.push_str(" -c ");
            opts.push_str(s);
        }
        let ok = as_postgres(
            &[
                &pg_bin("pg_ctl"),
                "-D",
                &self.dir.join("data").to_string_lossy(),
                "-o",
                &opts,
                "-l",
                &self.dir.join("log").to_string_lossy(),
                "-w",
                "start",
            ],
            false,
        );
        assert!(ok, "pg_ctl start");
    }

    /// Stops at once, like a crash (`-m immediate`).
    pub fn down(&self) {
        as_postgres(
            &[
                &pg_bin("pg_ctl"),
                "-D",
                &self.dir.join("data").to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            false,
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command as the `postgres` user when we are root (PostgreSQL refuses root).
pub fn as_postgres(args: &[&str], root_only: bool) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut c = if root && !root_only {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).args(args);
        c
    } else if root_only && !root {
        return true;
    } else {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        c
    };
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A Redis server of this test's own, with AOF fsync on every write.
pub struct PrivateRedis {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    /// Arguments of every start besides port, bind, persistence and dir.
    args: Vec<String>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        Self::start_with(|_, _| Vec::new())
    }

    /// Started with the extra arguments that `setup` returns, given the server's directory
    /// and a free port (for `--tls-port`: the plain port is then closed with `--port 0`).
    pub fn start_with(setup: impl FnOnce(&std::path::Path, u16) -> Vec<String>) -> Self {
        let dir = std::env::temp_dir().join(format!("lifesync-redis-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let args = setup(&dir, port);
        let mut r = Self {
            dir,
            port,
            child: None,
            args,
        };
        r.up();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn up(&mut self) {
        let tls = self.args.iter().any(|a| a == "--tls-port");
        let plain_port = if tls {
            "0".into()
        } else {
            self.port.to_string()
        };
        let child = Command::new("redis-server")
            .args(["--port", &plain_port, "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "redis up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.crash();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
