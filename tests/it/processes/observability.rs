//! The observability proof: the dashboards in `dashboards/` and the alerting rules in
//! `dashboards/alerts.yml` are checked against a real Prometheus scraping real `lifesync web`,
//! `lifesync worker` and `lifesync scheduler` processes while they sync from a real
//! `lifesync sandbox` process (OAuth connections, faults, throttling, a refused account, an
//! expired token).
//!
//! Every panel query must succeed and return data; every alert query must succeed (and the
//! rule file must load into Prometheus and pass `promtool check rules`); every metric name a
//! panel or rule mentions must be one the processes expose.
//!
//! Needs `prometheus` and `promtool` on PATH (installed by `.ci/run`), Redis and PostgreSQL.

use crate::common::{self, servers::free_ports};

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use lifesync::providers::ProviderId;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

const DASHBOARDS: [&str; 3] = ["sync-overview.json", "queues.json", "providers.json"];

/// Panels that may legitimately stay empty in this run, with the reason (none so far).
const MAY_BE_EMPTY: &[(&str, &str)] = &[];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn require_tool(tool: &str, ci_line: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{tool}` is not on PATH: install it as .ci/run does ({ci_line})"
    );
}

/// Child processes of this test, stopped with SIGTERM (then SIGKILL after 20 s) when dropped.
struct Procs {
    dir: PathBuf,
    children: Vec<(String, Child)>,
}

impl Procs {
    fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            children: Vec::new(),
        }
    }

    fn spawn(&mut self, name: &str, mut cmd: Command) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.children.push((name.to_string(), child));
    }

    /// Panics (with the logs) when a process has exited.
    fn assert_running(&mut self) {
        let mut exited = None;
        for (name, c) in &mut self.children {
            if let Some(status) = c.try_wait().unwrap() {
                exited = Some(format!("{name} exited early ({status})"));
            }
        }
        if let Some(e) = exited {
            panic!("{e}:\n{}", self.logs());
        }
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.children {
            let text =
                std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out.push_str(&format!("--- {name} (last lines)\n"));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// SIGTERM to all, then waits; returns each process's exit status.
    fn stop(&mut self) -> Vec<(String, std::process::ExitStatus)> {
        for (_, c) in &self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut out = Vec::new();
        for (name, mut c) in self.children.drain(..) {
            let status = loop {
                if let Some(s) = c.try_wait().unwrap() {
                    break s;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    break c.wait().unwrap();
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            out.push((name, status));
        }
        out
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The environment every lifesync process of this test gets.
fn service_env(db_url: &str, prefix: &str, web_port: u16, sandbox: &str) -> Vec<(String, String)> {
    let mut env = common::sandbox_service_env(
        db_url,
        prefix,
        sandbox,
        &format!("http://127.0.0.1:{web_port}"),
    );
    env.extend(
        [
            ("HOST", "127.0.0.1".to_string()),
            ("PORT", web_port.to_string()),
            ("SYNC_FANOUT_SPREAD_SECONDS", "0".to_string()),
            // Throttles without a time (Meta code 4) wait 1 s, not the production minute.
            ("SYNC_THROTTLE_BACKOFF_SECONDS", "1".to_string()),
            ("RUST_LOG", "warn".to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    env
}

fn lifesync(args: &[&str], env: &[(String, String)], extra: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lifesync"));
    cmd.args(args).env_clear();
    for k in ["PATH", "HOME", "TMPDIR"] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd.envs(extra.iter().map(|(k, v)| (*k, v.as_str())));
    cmd
}

async fn wait_http(http: &reqwest::Client, url: &str, procs: &mut Procs) {
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        procs.assert_running();
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{url} did not answer in 30 s\n{}",
            procs.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The service's HTTP side, as a client sees it.
struct Client {
    http: reqwest::Client,
    /// Stands in for the user's browser: trusts the sandbox's CA, follows no redirect.
    browser: reqwest::Client,
    web: String,
    sandbox: String,
    pool: PgPool,
}

impl Client {
    /// Connects `account` through authorize → sandbox → callback → completion; returns the
    /// data source and its first (oauth) sync run.
    async fn connect(&self, p: ProviderId, user: &str, account: &str) -> (Uuid, Uuid) {
        let token = common::token(user, 3600, None);
        let r = self
            .http
            .get(format!("{}/api/v1/oauth/{p}/authorize", self.web))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{p} authorize");
        let body: Value = r.json().await.unwrap();
        let mut url = url::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap();
        assert!(
            url.as_str().starts_with(&self.sandbox),
            "{p}: authorization URL {url} is not the sandbox's"
        );
        url.query_pairs_mut()
            .append_pair("sandbox_account", account);
        let r = self.browser.get(url).send().await.unwrap();
        let back = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let r = self
            .http
            .get(format!(
                "{}/api/v1/oauth/{p}/callback?{}",
                self.web,
                back.query().unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{p} callback");
        let body: Value = r.json().await.unwrap();
        let id = body["completion_id"].as_str().unwrap().to_string();
        assert_eq!(
            common::confirm(&self.http, &self.web, &id, &token).await,
            202
        );
        let start = Instant::now();
        let ds: Uuid = loop {
            let c: Value = self
                .http
                .get(format!("{}/api/v1/oauth/completions/{id}", self.web))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            match c["status"].as_str() {
                Some("connected") => break c["data_source_id"].as_str().unwrap().parse().unwrap(),
                Some("failed") => panic!("{p}: connection failed: {c}"),
                _ => {}
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{p}: completion");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let run: Uuid = sqlx::query_scalar(
            "SELECT id FROM sync_runs WHERE data_source_id = $1 AND trigger = 'oauth'",
        )
        .bind(ds)
        .fetch_one(&self.pool)
        .await
        .unwrap();
        (ds, run)
    }

    async fn sync(&self, ds: Uuid, user: &str) -> Uuid {
        let r = self
            .http
            .post(format!("{}/api/v1/data-sources/{ds}/sync", self.web))
            .bearer_auth(common::token(user, 3600, None))
            .json(&json!({ "mode": "full" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        body["sync_run_id"].as_str().unwrap().parse().unwrap()
    }

    /// Waits for a run's end; returns its status.
    async fn wait(&self, run: Uuid) -> String {
        let start = Instant::now();
        loop {
            let s: String = sqlx::query_scalar("SELECT status FROM sync_runs WHERE id = $1")
                .bind(run)
                .fetch_one(&self.pool)
                .await
                .unwrap();
            if s == "succeeded" || s == "failed" {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "run {run} still {s}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn sandbox_post(&self, path: &str, body: Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.sandbox))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "sandbox {path}: {}", r.status());
    }
}

/// Metric names in a Prometheus text exposition.
fn exposed_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

/// `lifesync_*` metric names an expression mentions.
fn referenced_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("lifesync_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// A panel query with Grafana's variables replaced as Grafana would for "All".
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "5m")
        .replace("${provider}", ".*")
        .replace("$provider", ".*")
        .replace("${queue}", ".*")
        .replace("$queue", ".*")
}

/// (dashboard, panel title, expr) for every target of every panel; checks the model's shape.
fn dashboard_targets() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut uids = BTreeSet::new();
    for file in DASHBOARDS {
        let path = repo().join("dashboards").join(file);
        let d: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")),
        )
        .unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
        assert!(d["schemaVersion"].as_u64().unwrap() >= 39, "{file}");
        let uid = d["uid"].as_str().expect("uid");
        assert!(uids.insert(uid.to_string()), "{file}: duplicate uid {uid}");
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{file}: no datasource variable"
        );
        let panels = d["panels"].as_array().unwrap();
        let mut ids = BTreeSet::new();
        for p in panels {
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{file}: panel ids");
            if p["type"] == "row" {
                continue;
            }
            let title = p["title"].as_str().unwrap().to_string();
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file}: {title}");
            assert!(
                p["fieldConfig"]["defaults"]["unit"].is_string(),
                "{file}: {title}: no unit"
            );
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}: {title}: no targets");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{file}: {title}");
                out.push((
                    file.to_string(),
                    title.clone(),
                    t["expr"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

struct Prom {
    http: reqwest::Client,
    base: String,
}

impl Prom {
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// (status, result count, error) of an instant query.
    async fn query(&self, expr: &str) -> (String, usize, String) {
        let v = self.get("/api/v1/query", &[("query", expr)]).await;
        (
            v["status"].as_str().unwrap_or("?").to_string(),
            v["data"]["result"].as_array().map_or(0, |r| r.len()),
            v["error"].as_str().unwrap_or("").to_string(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_alerts_work_against_real_processes() {
    require_tool(
        "prometheus",
        "the `command -v promtool ... || need_apt+=(prometheus)` line: apt-get install -y prometheus",
    );
    require_tool(
        "promtool",
        "the `command -v promtool ... || need_apt+=(prometheus)` line: apt-get install -y prometheus",
    );
    let started = Instant::now();
    let alerts = repo().join("dashboards/alerts.yml");

    // promtool first: cheap, and the rest is pointless without a valid rule file.
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&alerts)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let targets = dashboard_targets();

    let dir = std::env::temp_dir().join(format!(
        "lifesync-obs-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = common::TestDb::new().await;
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let [sandbox_port, web_port, worker_port, scheduler_port, prom_port] = free_ports();
    let sandbox = format!("https://127.0.0.1:{sandbox_port}");
    let web = format!("http://127.0.0.1:{web_port}");
    let worker_metrics = format!("127.0.0.1:{worker_port}");
    let scheduler_metrics = format!("127.0.0.1:{scheduler_port}");
    let ca_file = dir.join("sandbox-ca.pem");
    let mut env = service_env(&db.url, &prefix, web_port, &sandbox);
    env.push((
        "SSL_CERT_FILE".into(),
        ca_file.to_string_lossy().to_string(),
    ));
    // The webhook receiver below listens on loopback.
    env.push(("WEBHOOK_ALLOW_PRIVATE_TARGETS".into(), "true".into()));
    let mut procs = Procs::new(dir.clone());

    procs.spawn(
        "sandbox",
        lifesync(
            &[
                "sandbox",
                "--port",
                &sandbox_port.to_string(),
                "--tls",
                "--ca-file",
                ca_file.to_str().unwrap(),
            ],
            &env,
            &[],
        ),
    );
    let outbound = common::trust_ca_file(&ca_file).await;
    let http = outbound.client().unwrap();
    procs.spawn("web", lifesync(&["web"], &env, &[]));
    procs.spawn(
        "worker",
        lifesync(
            &["worker"],
            &env,
            &[("METRICS_ADDR", worker_metrics.clone())],
        ),
    );

    // Prometheus: 1 s scrapes of the three processes, the rule file loaded.
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
         rule_files:\n  - {alerts}\n\
         scrape_configs:\n\
         \x20 - job_name: lifesync-web\n    static_configs: [{{targets: ['127.0.0.1:{web_port}']}}]\n\
         \x20 - job_name: lifesync-worker\n    static_configs: [{{targets: ['{worker_metrics}']}}]\n\
         \x20 - job_name: lifesync-scheduler\n    static_configs: [{{targets: ['{scheduler_metrics}']}}]\n",
        alerts = alerts.display()
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let mut prom_cmd = Command::new("prometheus");
    prom_cmd
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    procs.spawn("prometheus", prom_cmd);

    wait_http(&http, &format!("{sandbox}/_sandbox/requests"), &mut procs).await;
    wait_http(&http, &format!("{web}/health"), &mut procs).await;
    wait_http(
        &http,
        &format!("http://{worker_metrics}/metrics"),
        &mut procs,
    )
    .await;
    let prom = Prom {
        http: http.clone(),
        base: format!("http://127.0.0.1:{prom_port}"),
    };
    wait_http(&http, &format!("{}/-/ready", prom.base), &mut procs).await;

    let client = Client {
        http: http.clone(),
        browser: outbound
            .builder()
            .unwrap()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        web: web.clone(),
        sandbox: sandbox.clone(),
        pool: db.pool.clone(),
    };

    // A webhook endpoint of alice's: her syncs' events are delivered (the Webhooks panels).
    let receiver = crate::webhooks::receiver::Receiver::start_plain(vec![]).await;
    let r = http
        .post(format!("{web}/api/v1/webhooks"))
        .bearer_auth(common::token("alice", 3600, None))
        .json(&json!({ "url": receiver.url, "events": ["sync.succeeded", "items.changed"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);

    // Connections through the real OAuth flow; each enqueues its first full sync.
    let accounts = [
        (ProviderId::Twitter, "alice", "obs-twitter"),
        (ProviderId::Google, "alice", "obs-gmail"),
        (ProviderId::Microsoft, "bob", "obs-outlook"),
        (ProviderId::Instagram, "bob", "obs-instagram"),
        (ProviderId::Facebook, "carol", "obs-facebook"),
        (ProviderId::Linkedin, "carol", "obs-linkedin"),
    ];
    let mut sources = BTreeMap::new();
    for (p, user, account) in accounts {
        let (ds, run) = client.connect(p, user, account).await;
        assert_eq!(client.wait(run).await, "succeeded", "{p}: first sync");
        sources.insert(p, (ds, user));
    }
    // A member without r_member_social: 403, a failed run, a source in `error` (the job
    // completes: an expected ending is not a dead letter; the malformed page below is one).
    let (_, refused) = client
        .connect(ProviderId::Linkedin, "dave", "restricted-obs")
        .await;
    assert_eq!(client.wait(refused).await, "failed", "restricted LinkedIn");
    procs.assert_running();

    // Faults: 30 % 5xx and throttling every 3rd request (retries, deferrals, 429s).
    client
        .sandbox_post(
            "/_sandbox/faults",
            json!({ "fail_ratio": 0.3, "throttle_every": 3 }),
        )
        .await;
    let mut runs = Vec::new();
    for p in [
        ProviderId::Twitter,
        ProviderId::Google,
        ProviderId::Facebook,
    ] {
        let (ds, user) = sources[&p];
        runs.push((p, client.sync(ds, user).await));
    }
    for (p, run) in runs {
        let s = client.wait(run).await;
        eprintln!("faulty {p} sync: {s}");
    }
    // Gmail's quota reply: a throttle for sure (a deferral, counted `retried` and rate-limited,
    // whatever the interleaving of the faulty syncs above), then the same run succeeds.
    client
        .sandbox_post(
            "/_sandbox/faults",
            json!({ "quota": "userRateLimitExceeded" }),
        )
        .await;
    let (ds, user) = sources[&ProviderId::Google];
    let throttled = client.sync(ds, user).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    client.sandbox_post("/_sandbox/faults", json!({})).await;
    assert_eq!(client.wait(throttled).await, "succeeded", "after the quota");
    // A malformed page fails a run.
    client
        .sandbox_post("/_sandbox/faults", json!({ "malformed_pages": 1 }))
        .await;
    let (ds, user) = sources[&ProviderId::Microsoft];
    let broken = client.sync(ds, user).await;
    assert_eq!(client.wait(broken).await, "failed", "malformed page");
    client.sandbox_post("/_sandbox/faults", json!({})).await;

    // Tokens expire (the sandbox clock moves 3 h): the next syncs renew them.
    client
        .sandbox_post("/_sandbox/clock", json!({ "advance_secs": 3 * 3600 }))
        .await;
    for p in [ProviderId::Twitter, ProviderId::Google] {
        let (ds, user) = sources[&p];
        let run = client.sync(ds, user).await;
        assert_eq!(client.wait(run).await, "succeeded", "{p} after expiry");
    }
    procs.assert_running();

    // The scheduler, ticking every second (its fan-outs sync every active source again).
    procs.spawn(
        "scheduler",
        lifesync(
            &["scheduler"],
            &env,
            &[
                ("METRICS_ADDR", scheduler_metrics.clone()),
                ("SYNC_INCREMENTAL_CRON", "* * * * * *".to_string()),
            ],
        ),
    );
    wait_http(
        &http,
        &format!("http://{scheduler_metrics}/metrics"),
        &mut procs,
    )
    .await;

    // Every metric a panel or rule names must be exposed by one of the processes.
    let rules_file = std::fs::read_to_string(&alerts).unwrap();
    let mut referenced = BTreeSet::new();
    for (_, _, e) in &targets {
        referenced.extend(referenced_names(e));
    }
    referenced.extend(referenced_names(&rules_file));
    let deadline = Instant::now() + Duration::from_secs(40);
    let exposed = loop {
        let mut exposed = BTreeSet::new();
        for url in [
            format!("{web}/metrics"),
            format!("http://{worker_metrics}/metrics"),
            format!("http://{scheduler_metrics}/metrics"),
        ] {
            let text = http.get(&url).send().await.unwrap().text().await.unwrap();
            exposed.extend(exposed_names(&text));
        }
        let missing: Vec<_> = referenced.difference(&exposed).cloned().collect();
        if missing.is_empty() {
            break exposed;
        }
        assert!(
            Instant::now() < deadline,
            "metrics referenced by dashboards/alerts but not exposed: {missing:?}\nexposed: {exposed:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!(
        "exposed lifesync metrics: {:?}",
        exposed
            .iter()
            .filter(|n| n.starts_with("lifesync_"))
            .collect::<Vec<_>>()
    );

    // Every panel query succeeds with data (retrying while scrapes and the 15 s refreshes
    // catch up); every rule query succeeds.
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut pending: Vec<(String, String, String)> = targets.clone();
    loop {
        let mut still = Vec::new();
        for (file, title, expr) in pending {
            let q = substitute(&expr);
            let (status, n, error) = prom.query(&q).await;
            assert_eq!(status, "success", "{file} / {title}: {q}: {error}");
            let exempt = MAY_BE_EMPTY.iter().any(|(t, _)| *t == title);
            if n == 0 && !exempt {
                still.push((file, title, expr));
            }
        }
        if still.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let list: Vec<String> = still
                .iter()
                .map(|(f, t, e)| format!("{f} / {t}: {}", substitute(e)))
                .collect();
            panic!(
                "panels without data:\n{}\n{}",
                list.join("\n"),
                procs.logs()
            );
        }
        pending = still;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for (file, title, expr) in &targets {
        eprintln!("panel ok: {file} / {title}: {}", substitute(expr));
    }

    // The rule file as Prometheus loaded it: one group, every rule evaluated without error.
    let deadline = Instant::now() + Duration::from_secs(20);
    let rules = loop {
        let v = prom.get("/api/v1/rules", &[]).await;
        let groups = v["data"]["groups"].as_array().cloned().unwrap_or_default();
        let rules: Vec<Value> = groups
            .iter()
            .filter(|g| g["name"] == "lifesync")
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        if !rules.is_empty() && rules.iter().all(|r| r["health"] == "ok") {
            assert_eq!(groups.len(), 1, "one rule group: {v}");
            break rules;
        }
        assert!(Instant::now() < deadline, "rules not healthy: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        rules.len(),
        rules_file.matches("- alert:").count(),
        "every rule loaded"
    );
    for r in &rules {
        let name = r["name"].as_str().unwrap();
        assert_eq!(r["type"], "alerting", "{name}");
        assert!(r["duration"].as_f64().unwrap() > 0.0, "{name}: no `for`");
        assert!(
            r["labels"]["severity"].is_string(),
            "{name}: no severity label"
        );
        for a in ["summary", "description"] {
            assert!(r["annotations"][a].is_string(), "{name}: no {a}");
        }
        let expr = r["query"].as_str().unwrap();
        let (status, n, error) = prom.query(expr).await;
        assert_eq!(status, "success", "alert {name}: {expr}: {error}");
        eprintln!("alert ok: {name} ({n} series now): {expr}");
    }

    // The run produced what the panels are meant to show, not only empty or zero series.
    for (what, q) in [
        (
            "a rate-limit hit",
            "sum(lifesync_provider_rate_limited_total)",
        ),
        (
            "a non-2xx provider reply",
            r#"sum(lifesync_provider_requests_total{status!~"2.."})"#,
        ),
        ("a dead job", r#"sum(lifesync_jobs_total{outcome="dead"})"#),
        (
            "a retried attempt",
            r#"sum(lifesync_jobs_total{outcome="retried"})"#,
        ),
        (
            "a failed sync run",
            r#"sum(lifesync_sync_runs_total{outcome="failed"})"#,
        ),
        (
            "a sync run of the incremental schedule",
            r#"sum(lifesync_sync_runs_total{trigger="incremental"})"#,
        ),
        (
            "a renewed token",
            r#"sum(lifesync_oauth_token_refreshes_total{outcome="renewed"})"#,
        ),
        (
            "a source in error",
            r#"max(lifesync_data_sources{status="error"})"#,
        ),
        ("a scheduler tick", "sum(lifesync_scheduler_ticks_total)"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (_, n, _) = prom.query(&format!("{q} > 0")).await;
            if n == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "no {what} recorded: {q}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    let statuses = procs.stop();
    for (name, status) in &statuses {
        eprintln!("{name}: {status}");
        assert!(
            status.success(),
            "{name} did not stop cleanly on SIGTERM: {status}"
        );
    }
    drop(procs);
    let store = lifesync_jobs::Store::connect(
        lifesync_jobs::RedisSettings::new(common::redis_url()),
        lifesync_jobs::QueueSettings::new(prefix),
    )
    .await
    .unwrap();
    store.purge_prefix().await.unwrap();
    db.drop().await;
    let _ = std::fs::remove_dir_all(Path::new(&dir));
    eprintln!("observability proof took {:?}", started.elapsed());
}
