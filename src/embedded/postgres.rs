//! dev's own PostgreSQL: one cluster in `<data dir>/postgres`, made by `initdb` on first use
//! (superuser `postgres`, SCRAM password from the data directory's `secret`, C locale, UTF-8)
//! and started as a child on a free loopback port with no Unix socket. Run as root, the
//! cluster belongs to the `postgres` user (else `nobody`), which runs the server: PostgreSQL
//! refuses root. Stopped by a fast shutdown (SIGINT), which removes `postmaster.pid`; a server
//! left running by a dev that was killed is stopped the same way before a new one starts.

use std::{
    fs::File,
    io::Write,
    os::unix::{fs::OpenOptionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection};

use super::process::{self, Daemon};

/// The unprivileged account the server runs as when dev is root.
#[derive(Debug, Clone)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// `postgres`, else `nobody`.
    pub fn find() -> anyhow::Result<Self> {
        for name in ["postgres", "nobody"] {
            let id = |flag: &str| -> Option<u32> {
                let out = Command::new("id").args([flag, name]).output().ok()?;
                if !out.status.success() {
                    return None;
                }
                String::from_utf8_lossy(&out.stdout).trim().parse().ok()
            };
            if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
                return Ok(Self {
                    name: name.into(),
                    uid,
                    gid,
                });
            }
        }
        anyhow::bail!("dev: running as root, and there is no `postgres` or `nobody` user to run PostgreSQL as (it refuses root)")
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.uid(self.uid).gid(self.gid);
    }
}

/// A running server.
pub struct Postgres {
    daemon: Daemon,
    pub port: u16,
    pub version: String,
    pub url: String,
}

/// The server binaries of one installation.
pub struct Binaries {
    pub dir: PathBuf,
    pub version: String,
}

/// `postgres --version` → its major version (`"15"`).
fn major_version(dir: &Path) -> Option<String> {
    let out = Command::new(dir.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let number = text.split(')').nth(1)?.split_whitespace().next()?;
    Some(number.split('.').next()?.to_string())
}

/// Of the installations found, the one that can open the existing cluster (its `PG_VERSION`),
/// else the newest.
pub fn choose(dirs: &[PathBuf], data: &Path) -> anyhow::Result<Binaries> {
    let installed: Vec<Binaries> = dirs
        .iter()
        .filter_map(|d| {
            Some(Binaries {
                dir: d.clone(),
                version: major_version(d)?,
            })
        })
        .collect();
    let existing = std::fs::read_to_string(data.join("PG_VERSION")).ok();
    let Some(existing) = existing.map(|v| v.trim().to_string()) else {
        return installed
            .into_iter()
            .next()
            .context("dev: no working PostgreSQL server program was found");
    };
    let found: Vec<String> = installed.iter().map(|b| b.version.clone()).collect();
    installed
        .into_iter()
        .find(|b| b.version == existing)
        .with_context(|| {
            format!(
                "dev: the data in {} is PostgreSQL {existing}'s, and PostgreSQL {} is installed: install {existing}, or run `lifesync dev --dev-reset` to start over",
                data.display(),
                found.join(", ")
            )
        })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A root-run server must be able to enter every directory above its data.
fn check_reachable(data: &Path, as_user: &RunAs) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    for dir in data.ancestors().skip(1) {
        let Ok(m) = std::fs::metadata(dir) else {
            continue;
        };
        let enter = m.mode() & 0o001 != 0
            || (m.uid() == as_user.uid && m.mode() & 0o100 != 0)
            || (m.gid() == as_user.gid && m.mode() & 0o010 != 0);
        if !enter {
            anyhow::bail!(
                "dev: PostgreSQL runs as user `{}` (it refuses root), which cannot enter {}: set XDG_DATA_HOME to a directory it can reach (e.g. /var/lib)",
                as_user.name,
                dir.display()
            );
        }
    }
    Ok(())
}

/// Stops a server that a killed dev left running on this cluster (we hold the data lock, so
/// no live dev owns it).
pub fn stop_orphan(data: &Path) {
    let Ok(text) = std::fs::read_to_string(data.join("postmaster.pid")) else {
        return;
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok())
    else {
        return;
    };
    let ours = process::command_name(pid).is_none_or(|n| n.starts_with("postgres"));
    if process::alive(pid) && ours {
        eprintln!("dev: stopping the PostgreSQL (pid {pid}) that an earlier dev left running");
        if !process::stop_pid(pid, process::SIGINT, Duration::from_secs(30)) {
            process::stop_pid(pid, process::SIGQUIT, Duration::from_secs(10));
        }
    }
}

/// `initdb` on first use, then the server; returns once it accepts connections.
pub async fn start(
    bins: &Binaries,
    dir: &Path,
    secret: &str,
    run_as: Option<&RunAs>,
) -> anyhow::Result<Postgres> {
    let data = dir.join("postgres");
    super::datadir::private_dir(&data)?;
    if let Some(user) = run_as {
        check_reachable(&data, user)?;
        std::os::unix::fs::chown(&data, Some(user.uid), Some(user.gid))?;
    }
    let log_path = dir.join("postgres.log");
    let log = || -> anyhow::Result<Stdio> {
        Ok(Stdio::from(
            File::options()
                .create(true)
                .append(true)
                .open(&log_path)
                .with_context(|| format!("dev: cannot write {}", log_path.display()))?,
        ))
    };
    if !data.join("PG_VERSION").exists() {
        // The password reaches initdb in a file only the server's user can read, removed after.
        let pwfile = dir.join("postgres.pw");
        let mut f = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&pwfile)?;
        f.write_all(secret.as_bytes())?;
        drop(f);
        if let Some(user) = run_as {
            std::os::unix::fs::chown(&pwfile, Some(user.uid), Some(user.gid))?;
        }
        let mut initdb = Command::new(bins.dir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=scram-sha-256", "--no-locale"])
            .args(["-E", "UTF8"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log()?)
            .stderr(log()?);
        if let Some(user) = run_as {
            user.apply(&mut initdb);
        }
        let status = initdb.status();
        let _ = std::fs::remove_file(&pwfile);
        if !matches!(status, Ok(s) if s.success()) {
            anyhow::bail!(
                "dev: initdb failed in {}: {}",
                data.display(),
                last_line(&log_path)
            );
        }
    }
    stop_orphan(&data);

    let port = free_port()?;
    let mut server = Command::new(bins.dir.join("postgres"));
    server
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1", "-k", ""])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log()?)
        .stderr(log()?);
    if let Some(user) = run_as {
        user.apply(&mut server);
    }
    let mut daemon = Daemon::spawn(&mut server).context("dev: cannot start postgres")?;

    let url = format!("postgres://postgres:{secret}@127.0.0.1:{port}/lifesync");
    let options = url.parse::<PgConnectOptions>()?.database("postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(conn) = options.connect().await {
            let _ = conn.close().await;
            break;
        }
        if daemon.exited() || Instant::now() > deadline {
            daemon.stop(process::SIGQUIT, Duration::from_secs(5));
            anyhow::bail!(
                "dev: PostgreSQL did not start (log {}): {}",
                log_path.display(),
                last_line(&log_path)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Postgres {
        daemon,
        port,
        version: bins.version.clone(),
        url,
    })
}

impl Postgres {
    pub fn pid(&self) -> u32 {
        self.daemon.id()
    }

    /// Fast shutdown: sessions end, a checkpoint is written, `postmaster.pid` goes.
    pub fn stop(&mut self) {
        if !self.daemon.stop(process::SIGINT, Duration::from_secs(30)) {
            eprintln!("dev: PostgreSQL did not stop within 30 s; killed it");
        }
    }
}

fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .to_string()
}
