//! The `lifesync` binary as a process: start-up failures are one line and a non-zero exit;
//! `web` serves and stops cleanly on SIGTERM.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::*;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn lifesync(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lifesync"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn one_line_failure(out: std::process::Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got: {err}");
    assert!(lines[0].contains(needle), "{err}");
}

#[test]
fn invalid_configuration_names_the_variable() {
    let out = lifesync(&["web"], &[("TOKEN_ENCRYPTION_KEY", KEY)])
        .output()
        .unwrap();
    one_line_failure(out, 2, "JWT_SECRET");
    let out = lifesync(&["web"], &[("JWT_SECRET", JWT_SECRET)])
        .output()
        .unwrap();
    one_line_failure(out, 2, "TOKEN_ENCRYPTION_KEY");
    let out = lifesync(&["migrate"], &[("SYNC_CRON_SCHEDULE", "every day")])
        .output()
        .unwrap();
    one_line_failure(out, 2, "SYNC_CRON_SCHEDULE");
    let secret_out = lifesync(
        &["web"],
        &[("JWT_SECRET", JWT_SECRET), ("TOKEN_ENCRYPTION_KEY", "x")],
    )
    .output()
    .unwrap();
    assert!(!String::from_utf8_lossy(&secret_out.stderr).contains(JWT_SECRET));
}

#[test]
fn unreachable_dependencies_are_one_line() {
    let env = [
        ("JWT_SECRET", JWT_SECRET),
        ("TOKEN_ENCRYPTION_KEY", KEY),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
    ];
    one_line_failure(
        lifesync(&["web"], &env).output().unwrap(),
        1,
        "PostgreSQL is unreachable",
    );
    one_line_failure(
        lifesync(&["migrate"], &env).output().unwrap(),
        1,
        "PostgreSQL is unreachable",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_serves_and_stops_on_sigterm() {
    let db = TestDb::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut child = lifesync(
        &["web"],
        &[
            ("JWT_SECRET", JWT_SECRET),
            ("TOKEN_ENCRYPTION_KEY", KEY),
            ("DATABASE_URL", &db.url),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("REDIS_KEY_PREFIX", &prefix),
            ("HOST", "127.0.0.1"),
            ("PORT", &port),
        ],
    )
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let http = sandbox_client();
    let url = format!("http://127.0.0.1:{port}/health");
    let start = Instant::now();
    let mut up = false;
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(r) = http.get(&url).send().await {
            up = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "web answered /health");
    let r = http
        .get(format!("http://127.0.0.1:{port}/api/v1/data-sources"))
        .bearer_auth(token("alice", 3600, None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "web did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    db.drop().await;
}
