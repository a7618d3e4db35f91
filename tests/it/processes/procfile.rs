//! The Procfile as a process manager runs it: `honcho start` with the real Procfile, the
//! `lifesync` binary first on PATH, providers pointed at a separate `lifesync sandbox`
//! process. An account is connected through OAuth, its first sync succeeds, then SIGTERM to
//! honcho stops every process cleanly with nothing lost.
//!
//! Needs `honcho` on PATH or in `.ci/.venv/bin` (where `.ci/run` installs it), Redis and
//! PostgreSQL.

use crate::common::{self, servers::free_ports};

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use uuid::Uuid;

/// The environment of every process of this test (web's port in `PORT`).
fn service_env(db_url: &str, prefix: &str, web_port: u16, sandbox: &str) -> Vec<(String, String)> {
    let mut env = common::sandbox_service_env(
        db_url,
        prefix,
        sandbox,
        &format!("http://127.0.0.1:{web_port}"),
    );
    env.extend([
        ("HOST".to_string(), "127.0.0.1".to_string()),
        ("PORT".to_string(), web_port.to_string()),
        ("RUST_LOG".to_string(), "warn".to_string()),
    ]);
    env
}

/// PATH with the directory of the `lifesync` under test first, and the virtual environment
/// `.ci/run` installs honcho into last.
fn path_with_binary() -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_lifesync"));
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/.venv/bin");
    format!(
        "{}:{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default(),
        venv.display()
    )
}

fn command(program: &str, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env("PATH", path_with_binary());
    for k in ["HOME", "TMPDIR", "LANG"] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

/// Pids of live `lifesync web|worker|scheduler` processes started with our key prefix.
fn our_service_pids(prefix: &str) -> Vec<(u32, String)> {
    let marker = format!("REDIS_KEY_PREFIX={prefix}");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_service = args.first().is_some_and(|a| a.ends_with("lifesync"))
            && args
                .get(1)
                .is_some_and(|a| ["web", "worker", "scheduler"].contains(&a.as_str()));
        if !is_service {
            continue;
        }
        let Ok(environ) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()) {
            // A zombie (exited, not yet reaped) does not count as running.
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            if !stat.contains(") Z ") {
                out.push((pid, args[1].clone()));
            }
        }
    }
    out
}

/// Children still running at the end are stopped (SIGTERM, then SIGKILL) and reaped.
struct Guard(Vec<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.0 {
            if c.try_wait().ok().flatten().is_none() {
                let _ = Command::new("kill")
                    .args(["-TERM", &c.id().to_string()])
                    .status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn read_log(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honcho_runs_the_procfile_and_stops_cleanly() {
    let honcho = command("honcho", &[])
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        honcho,
        "`honcho` is not on PATH nor in .ci/.venv/bin: `bash .ci/run` installs it there (a \
         virtual environment: python3 -m venv .ci/.venv && .ci/.venv/bin/pip install honcho)"
    );
    let started = Instant::now();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!(
        "lifesync-procfile-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    ));
    std::fs::create_dir_all(&dir).unwrap();

    let common::FreshDb {
        url: db_url,
        name: db_name,
    } = common::fresh_db();
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let [sandbox_port, web_port] = free_ports();
    let sandbox = format!("https://127.0.0.1:{sandbox_port}");
    let web = format!("http://127.0.0.1:{web_port}");
    let ca_file = dir.join("sandbox-ca.pem");
    let mut env = service_env(&db_url, &prefix, web_port, &sandbox);
    env.push((
        "SSL_CERT_FILE".into(),
        ca_file.to_string_lossy().to_string(),
    ));
    let mut guard = Guard(Vec::new());

    let sandbox_log = dir.join("sandbox.log");
    let log = std::fs::File::create(&sandbox_log).unwrap();
    guard.0.push(
        command(env!("CARGO_BIN_EXE_lifesync"), &env)
            .args([
                "sandbox",
                "--port",
                &sandbox_port.to_string(),
                "--tls",
                "--ca-file",
                ca_file.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // The service's processes read SSL_CERT_FILE at start-up: the CA must be there first.
    let outbound = common::trust_ca_file(&ca_file).await;

    // The Procfile's `release: lifesync migrate` is Heroku's release phase: it runs once and
    // exits, and honcho stops every process as soon as one exits. So, as a platform would, the
    // release command runs first (through PATH, as the Procfile names it), then honcho starts
    // the long-running process types. (Listing them also gives `web` honcho's base port, which
    // is PORT; with `release` first, web would get PORT + 100.)
    let procfile = std::fs::read_to_string(repo.join("Procfile")).unwrap();
    let release = procfile
        .lines()
        .find_map(|l| l.strip_prefix("release:"))
        .expect("Procfile has a release process")
        .trim()
        .to_string();
    let out = command("sh", &env).args(["-c", &release]).output().unwrap();
    assert!(
        out.status.success(),
        "{release}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pool = lifesync::db::connect(&db_url, 2).await.unwrap();

    let honcho_log = dir.join("honcho.log");
    let log = std::fs::File::create(&honcho_log).unwrap();
    let honcho = command("honcho", &env)
        .args(["--no-colour", "start", "web", "worker", "scheduler"])
        .current_dir(&repo)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let honcho_pid = honcho.id();
    // In the guard: a failing test still stops honcho (and so its processes).
    guard.0.push(honcho);

    let http = outbound.client().unwrap();
    let logs = || {
        format!(
            "--- honcho\n{}\n--- sandbox\n{}",
            read_log(&honcho_log),
            read_log(&sandbox_log)
        )
    };
    let wait_up = Instant::now();
    loop {
        let ok = http
            .get(format!("{web}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let sandbox_ok = http
            .get(format!("{sandbox}/_sandbox/requests"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok && sandbox_ok {
            break;
        }
        assert!(
            guard.0[1].try_wait().unwrap().is_none(),
            "honcho exited early\n{}",
            logs()
        );
        assert!(
            wait_up.elapsed() < Duration::from_secs(30),
            "web did not answer /health\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let running = our_service_pids(&prefix);
    let mut kinds: Vec<&str> = running.iter().map(|(_, k)| k.as_str()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["scheduler", "web", "worker"],
        "honcho started {running:?}\n{}",
        logs()
    );

    // Connect an account through OAuth; the connection enqueues the first full sync.
    let user = "procfile-user";
    let token = common::token(user, 3600, None);
    let r = http
        .get(format!("{web}/api/v1/oauth/twitter/authorize"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let mut url = url::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap();
    url.query_pairs_mut()
        .append_pair("sandbox_account", "procfile-account");
    let r = outbound
        .builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let r = http
        .get(format!(
            "{web}/api/v1/oauth/twitter/callback?{}",
            back.query().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let completion = body["completion_id"].as_str().unwrap().to_string();
    assert_eq!(common::confirm(&http, &web, &completion, &token).await, 202);
    let wait = Instant::now();
    let ds: Uuid = loop {
        let c: Value = http
            .get(format!("{web}/api/v1/oauth/completions/{completion}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match c["status"].as_str() {
            Some("connected") => break c["data_source_id"].as_str().unwrap().parse().unwrap(),
            Some("failed") => panic!("connection failed: {c}"),
            _ => {}
        }
        assert!(
            wait.elapsed() < Duration::from_secs(30),
            "completion {c}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let run: Uuid = sqlx::query_scalar(
        "SELECT id FROM sync_runs WHERE data_source_id = $1 AND trigger = 'oauth'",
    )
    .bind(ds)
    .fetch_one(&pool)
    .await
    .unwrap();
    let wait = Instant::now();
    let (status, items_new): (String, i32) = loop {
        let row: (String, i32) =
            sqlx::query_as("SELECT status, items_new FROM sync_runs WHERE id = $1")
                .bind(run)
                .fetch_one(&pool)
                .await
                .unwrap();
        if row.0 == "succeeded" || row.0 == "failed" {
            break row;
        }
        assert!(
            wait.elapsed() < Duration::from_secs(60),
            "first sync still {}\n{}",
            row.0,
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, "succeeded", "first sync\n{}", logs());
    assert!(items_new > 0, "the first sync stored nothing");

    // Before shutdown: no job left running or waiting (admin view of the queues).
    let admin = common::token("procfile-admin", 3600, Some("admin"));
    let wait = Instant::now();
    loop {
        let q: Value = http
            .get(format!("{web}/api/v1/admin/queues"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let busy: Vec<&Value> = q["queues"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|q| {
                ["pending", "running", "retrying", "dead"]
                    .iter()
                    .any(|s| q[*s].as_u64() != Some(0))
            })
            .collect();
        if busy.is_empty() {
            break;
        }
        assert!(
            wait.elapsed() < Duration::from_secs(20),
            "jobs still in flight or dead: {busy:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // SIGTERM to honcho: it passes it on and every process stops by itself (honcho would
    // SIGKILL what is still running 5 s after the first process stops).
    let stop = Instant::now();
    Command::new("kill")
        .args(["-TERM", &honcho_pid.to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(s) = guard.0[1].try_wait().unwrap() {
            break s;
        }
        assert!(
            stop.elapsed() < Duration::from_secs(30),
            "honcho still running 30 s after SIGTERM\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let out = read_log(&honcho_log);
    // honcho exits 143 (128 + SIGTERM) when it was told to stop, 0 if all ended by themselves.
    assert!(
        matches!(status.code(), Some(0) | Some(143)),
        "honcho: {status}\n{out}"
    );
    // honcho runs each command as `/bin/sh -c 'lifesync web'`; dash does not exec, so what
    // honcho reports is the shell, which the process-group SIGTERM ends at once (rc=-15),
    // while `lifesync` in the same group gets the same SIGTERM and shuts down by itself. Both
    // reports are fine; a SIGKILL (rc=-9, honcho's 5 s escalation) or an error code is not.
    for p in ["web.1", "worker.1", "scheduler.1"] {
        assert!(
            out.contains(&format!("{p} stopped (rc=0)"))
                || out.contains(&format!("{p} stopped (rc=-15)")),
            "{p} did not stop on SIGTERM\n{out}"
        );
    }
    // The lifesync processes themselves must be gone soon (the worker's grace is 30 s; idle,
    // it needs far less).
    let left = loop {
        let left = our_service_pids(&prefix);
        if left.is_empty() || stop.elapsed() > Duration::from_secs(35) {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(left.is_empty(), "processes left behind: {left:?}\n{out}");
    eprintln!("honcho stopped in {:?}: {status}", stop.elapsed());

    // Nothing lost: the run is still succeeded, its items stored, no job stuck in Redis.
    let (status, items): (String, i64) = sqlx::query_as(
        "SELECT r.status, (SELECT count(*) FROM items i WHERE i.data_source_id = r.data_source_id)
           FROM sync_runs r WHERE r.id = $1",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, "succeeded");
    assert_eq!(items, i64::from(items_new), "stored items");
    let store = lifesync_jobs::Store::connect(
        lifesync_jobs::RedisSettings::new(common::redis_url()),
        lifesync_jobs::QueueSettings::new(prefix.clone()),
    )
    .await
    .unwrap();
    for q in lifesync_jobs::payloads::queues::ALL {
        let s = store.stats(q).await.unwrap();
        assert_eq!((s.running, s.retrying, s.dead), (0, 0, 0), "queue {q}");
    }

    drop(guard);
    store.purge_prefix().await.unwrap();
    pool.close().await;
    common::drop_db(&db_name).await;
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("procfile test took {:?}", started.elapsed());
}
