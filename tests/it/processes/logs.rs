//! Logs of a whole multi-provider run, from real processes (sandbox, web, worker) with
//! `LOG_FORMAT=json`: every line is JSON, job lines carry queue, job id and attempt, sync lines
//! the data source and provider — and no line holds a token, refresh token, authorization
//! code, client secret, key, JWT secret or raw PII (the sandbox's emails and captions are full
//! of it).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{servers::free_port, *};
use lifesync::providers::ProviderId;
use serde_json::Value;

struct Proc {
    child: Child,
    log: PathBuf,
}

fn spawn(name: &str, dir: &std::path::Path, args: &[&str], env: &[(String, String)]) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_lifesync"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file));
    for (k, v) in env {
        c.env(k, v);
    }
    Proc {
        child: c.spawn().unwrap(),
        log,
    }
}

fn stop(mut p: Proc) -> String {
    Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap();
    let start = Instant::now();
    while p.child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "no exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(&p.log).unwrap()
}

async fn up(http: &reqwest::Client, url: &str) {
    let start = Instant::now();
    while !http
        .get(url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{url} never came up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_provider_run_logs_json_with_job_fields_and_no_secret_or_pii() {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("lifesync-logs-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let (sandbox_port, web_port) = (free_port(), free_port());
    let sandbox_base = format!("https://127.0.0.1:{sandbox_port}");
    let web = format!("http://127.0.0.1:{web_port}");
    let ca_file = dir.join("sandbox-ca.pem");
    let sandbox = spawn(
        "sandbox",
        &dir,
        &[
            "sandbox",
            "--port",
            &sandbox_port.to_string(),
            "--seed",
            "9",
            "--tls",
            "--ca-file",
            ca_file.to_str().unwrap(),
        ],
        &[("LOG_FORMAT".into(), "json".into())],
    );
    let outbound = trust_ca_file(&ca_file).await;
    let client = outbound.client().unwrap();
    up(&client, &format!("{sandbox_base}/_sandbox/requests")).await;

    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut env = sandbox_service_env(&db.url, &prefix, &sandbox_base, &web);
    env.extend([
        ("LOG_FORMAT".into(), "json".into()),
        (
            "RUST_LOG".into(),
            "info,lifesync=debug,lifesync_jobs=debug".into(),
        ),
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), web_port.to_string()),
        ("SYNC_BATCH_SIZE".into(), "40".into()),
        (
            "SSL_CERT_FILE".into(),
            ca_file.to_string_lossy().to_string(),
        ),
    ]);
    let web_proc = spawn("web", &dir, &["web"], &env);
    let worker = spawn("worker", &dir, &["worker"], &env);
    up(&client, &format!("{web}/health")).await;

    let http = outbound
        .builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let alice = token("alice", 3600, None);
    let mut sources = Vec::new();
    for p in ProviderId::ALL {
        let body: Value = http
            .get(format!("{web}/api/v1/oauth/{p}/authorize"))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = body["authorization_url"].as_str().unwrap();
        let r = http.get(url).send().await.unwrap();
        let back = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let body: Value = http
            .get(format!(
                "{web}/api/v1/oauth/{p}/callback?{}",
                back.query().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let completion = body["completion_id"].as_str().unwrap();
        assert_eq!(confirm(&http, &web, completion, &alice).await, 202);
        let status_url = format!("{web}{}", body["status_url"].as_str().unwrap());
        let start = Instant::now();
        let ds = loop {
            let c: Value = http
                .get(&status_url)
                .bearer_auth(&alice)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if c["status"] == "connected" {
                break c["data_source_id"].as_str().unwrap().to_string();
            }
            assert_ne!(c["status"], "failed", "{p}: {c}");
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{p} not connected"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        sources.push((p, ds));
    }
    // Every first sync ends; then an incremental round for all.
    let finished = |ds: String| {
        let (http, web, alice) = (http.clone(), web.clone(), alice.clone());
        async move {
            let start = Instant::now();
            loop {
                let v: Value = http
                    .get(format!("{web}/api/v1/data-sources/{ds}"))
                    .bearer_auth(&alice)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if v["last_sync_status"].is_string() && v["sync_in_progress"] == false {
                    return v;
                }
                assert!(start.elapsed() < Duration::from_secs(120), "{v}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    for (p, ds) in &sources {
        let v = finished(ds.clone()).await;
        assert_eq!(v["last_sync_status"], "succeeded", "{p}: {v}");
    }
    for (_, ds) in &sources {
        let r = http
            .post(format!("{web}/api/v1/data-sources/{ds}/sync"))
            .bearer_auth(&alice)
            .json(&serde_json::json!({ "mode": "incremental" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    for (_, ds) in &sources {
        finished(ds.clone()).await;
    }

    // What must never appear.
    let issued: Vec<Value> = client
        .get(format!("{sandbox_base}/_sandbox/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh: Vec<String> = client
        .get(format!("{sandbox_base}/_sandbox/refresh-tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut secrets: Vec<String> = issued
        .iter()
        .map(|t| t["access_token"].as_str().unwrap().to_string())
        .chain(refresh)
        .collect();
    assert!(secrets.len() >= 6);
    secrets.push(JWT_SECRET.into());
    secrets.push(TOKEN_KEY_B64.into());
    secrets.push("sandbox-secret-".into());

    let logs = [stop(worker), stop(web_proc), stop(sandbox)];
    let _ = std::fs::remove_dir_all(&dir);
    let code = regex_lite_code();
    let mut job_lines = 0;
    let mut sync_lines = 0;
    for (i, text) in logs.iter().enumerate() {
        for line in text.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("process {i}: not a JSON line: {line}"));
            for s in &secrets {
                assert!(!line.contains(s.as_str()), "a secret in the logs: {line}");
            }
            assert!(!code(line), "an authorization code in the logs: {line}");
            let pii = lifesync_normalizer::sanitize::find_pii(line);
            assert!(pii.is_empty(), "PII in the logs ({pii:?}): {line}");
            let spans = v["spans"].as_array().cloned().unwrap_or_default();
            if let Some(job) = spans.iter().find(|s| s["name"] == "job") {
                assert!(
                    job["queue"].is_string()
                        && job["job_id"].is_string()
                        && job["attempt"].is_number(),
                    "{line}"
                );
                job_lines += 1;
            }
            if let Some(sync) = spans.iter().find(|s| s["name"] == "sync") {
                if v["message"] == "sync run succeeded" {
                    assert!(sync["provider"].is_string(), "{line}");
                    assert!(sync["data_source_id"].is_string(), "{line}");
                    sync_lines += 1;
                }
            }
        }
    }
    assert!(job_lines >= 18, "job lines: {job_lines}");
    assert_eq!(
        sync_lines, 12,
        "two runs per provider logged with their source"
    );
    db.drop().await;
}

/// Whether a line holds something shaped like a sandbox authorization code.
fn regex_lite_code() -> impl Fn(&str) -> bool {
    |line: &str| {
        line.match_indices("-code-").any(|(i, _)| {
            line[i + 6..]
                .chars()
                .take(32)
                .filter(|c| c.is_ascii_hexdigit())
                .count()
                == 32
        })
    }
}
