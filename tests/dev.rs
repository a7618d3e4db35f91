//! `lifesync dev` from nothing: creates and migrates its database, connects the demo account,
//! syncs it, prints a working JWT, and stops cleanly on SIGTERM.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
fn dev_says_in_one_line_how_to_start_an_unreachable_postgres() {
    let out = Command::new(env!("CARGO_BIN_EXE_lifesync"))
        .arg("dev")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/lifesync")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("PostgreSQL is unreachable") && err.contains("pg_ctlcluster"),
        "{err}"
    );
}
