//! dev's own Redis: `redis-server` as a child on a free loopback port, with its config (the
//! password from the data directory's `secret`, so it is never on a command line), append-only
//! file and pid file in `<data dir>/redis`. Stopped by SIGTERM (Redis flushes the AOF and
//! removes its pid file); one left running by a dev that was killed is stopped first.

use std::{
    fs::File,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;

use super::process::{self, Daemon};

pub struct Redis {
    daemon: Daemon,
    pub port: u16,
    pub url: String,
}

/// A value as redis.conf reads it: quoted, with `\` and `"` escaped.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn stop_orphan(data: &Path) {
    let pidfile = &data.join("redis.pid");
    let Some(pid) = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return;
    };
    let ours = process::command_name(pid).is_none_or(|n| n.starts_with("redis"));
    if process::alive(pid) && ours {
        eprintln!("dev: stopping the Redis (pid {pid}) that an earlier dev left running");
        if !process::stop_pid(pid, process::SIGTERM, Duration::from_secs(30)) {
            process::stop_pid(pid, process::SIGKILL, Duration::from_secs(5));
        }
    }
    let _ = std::fs::remove_file(pidfile);
}

pub async fn start(server: &Path, dir: &Path, secret: &str) -> anyhow::Result<Redis> {
    let data = dir.join("redis");
    super::datadir::private_dir(&data)?;
    let pidfile = data.join("redis.pid");
    stop_orphan(&data);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let conf = data.join("redis.conf");
    let mut f = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&conf)
        .with_context(|| format!("dev: cannot write {}", conf.display()))?;
    writeln!(
        f,
        "bind 127.0.0.1\nport {port}\nprotected-mode yes\ndaemonize no\n\
         dir {}\npidfile {}\nappendonly yes\nsave \"\"\nlogfile \"\"\nrequirepass {}",
        quoted(&data.to_string_lossy()),
        quoted(&pidfile.to_string_lossy()),
        quoted(secret)
    )?;
    drop(f);
    let log_path = dir.join("redis.log");
    let log = File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("dev: cannot write {}", log_path.display()))?;
    let mut cmd = Command::new(server);
    cmd.arg(&conf)
        .current_dir(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log));
    let mut daemon = Daemon::spawn(&mut cmd).context("dev: cannot start redis-server")?;

    let url = format!("redis://:{secret}@127.0.0.1:{port}/0");
    let deadline = Instant::now() + Duration::from_secs(30);
    while super::probe::redis(&url).await != super::probe::Probe::Usable {
        if daemon.exited() || Instant::now() > deadline {
            daemon.stop(process::SIGKILL, Duration::from_secs(1));
            anyhow::bail!(
                "dev: Redis did not start (log {}): {}",
                log_path.display(),
                std::fs::read_to_string(&log_path)
                    .unwrap_or_default()
                    .lines()
                    .last()
                    .unwrap_or("no output")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Redis { daemon, port, url })
}

impl Redis {
    pub fn pid(&self) -> u32 {
        self.daemon.id()
    }

    /// SIGTERM: Redis writes what it has and exits, removing its pid file.
    pub fn stop(&mut self) {
        if !self.daemon.stop(process::SIGTERM, Duration::from_secs(30)) {
            eprintln!("dev: Redis did not stop within 30 s; killed it");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_values_are_quoted() {
        assert_eq!(super::quoted(r#"/a b/"c"\d"#), r#""/a b/\"c\"\\d""#);
    }
}
