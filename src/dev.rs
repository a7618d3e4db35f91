//! `lifesync dev`: the one-command demo. One process runs the sandbox, the API, the workers and
//! the scheduler on the local PostgreSQL and Redis (creating the database and migrating),
//! connects a demo user's sandbox Twitter account, runs its first sync, and prints a ready JWT
//! and curl lines.
//!
//! PostgreSQL and Redis: configured ones are used, else usable ones on the defaults, else dev
//! starts its own (`embedded`) and stops them when it stops. Every configuration variable that
//! is set is honoured; otherwise dev picks safe development defaults (listen on 127.0.0.1, a
//! random JWT secret and token key for this run). Providers without credentials in the
//! environment point at the built-in sandbox (all six: OAuth connects against it; data sync
//! covers what the sandbox serves). A webhook receiver of dev's own (on loopback) is registered
//! for the demo user's events and prints each one it verified, as a client application would.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use lifesync_jobs::{
    payloads::{SyncMode, SyncTrigger},
    Producer, Store,
};
use secrecy::ExposeSecret;
use tokio::sync::watch;

use crate::{
    bootstrap::{self, CatchUp},
    config::{env_var, Config},
    crypto::TokenCipher,
    db,
    domain::ProviderId,
    embedded::LocalServices,
    sandbox_link,
    services::sync::request_sync,
};

const DEMO_USER: &str = "demo";
const DEMO_ACCOUNT: &str = "1001";

/// authorize → the sandbox's auto-approval → callback, over HTTP against dev's own API.
/// `browser` stands in for the user's browser (it trusts the sandbox's CA and does not
/// follow redirects).
async fn connect_via_oauth(
    browser: &reqwest::Client,
    base: &str,
    jwt: &str,
    p: ProviderId,
) -> anyhow::Result<()> {
    let http = browser;
    let body: serde_json::Value = http
        .get(format!("{base}/api/v1/oauth/{p}/authorize"))
        .bearer_auth(jwt)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let url = body["authorization_url"]
        .as_str()
        .context("no authorization_url")?;
    let approved = http.get(url).send().await?;
    let location = approved
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .context("the sandbox did not redirect")?;
    let back = url::Url::parse(location)?;
    let reply = http
        .get(format!(
            "{base}/api/v1/oauth/{p}/callback?{}",
            back.query().unwrap_or_default()
        ))
        .send()
        .await?
        .error_for_status()?;
    // The completion id reaches the browser (a JSON reply, or the redirect to
    // OAUTH_SUCCESS_REDIRECT_URL); dev's built-in client confirms it for the demo user.
    let completion_id = match reply.headers().get("location") {
        Some(l) => url::Url::parse(l.to_str()?)?
            .query_pairs()
            .find(|(k, _)| k == "completion_id")
            .map(|(_, v)| v.into_owned()),
        None => reply.json::<serde_json::Value>().await?["completion_id"]
            .as_str()
            .map(String::from),
    }
    .context("the callback named no completion")?;
    http.post(format!(
        "{base}/api/v1/oauth/completions/{completion_id}/confirm"
    ))
    .bearer_auth(jwt)
    .send()
    .await?
    .error_for_status()?;
    Ok(())
}

/// A live progress line per running sync, whenever its count moves.
async fn show_progress(pool: sqlx::PgPool) {
    let mut last: std::collections::HashMap<uuid::Uuid, (String, i32)> = Default::default();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let runs = db::sync_runs::live(&pool, Duration::from_secs(2))
            .await
            .unwrap_or_default();
        for r in runs {
            let now = (r.status.clone(), r.items_fetched);
            if last.get(&r.id) != Some(&now) {
                println!(
                    "dev: sync {} {}: {} items fetched, {} new ({})",
                    r.provider,
                    r.account_name.unwrap_or_default(),
                    r.items_fetched,
                    r.items_new,
                    r.status
                );
                last.insert(r.id, now);
            }
        }
    }
}

/// Serves a webhook receiver on a free loopback port (plain HTTP: dev allows private targets),
/// registers it for every event of the demo user, and prints each delivery it verified with
/// the secret the registration answered (a delivery that does not verify is refused, 401).
async fn start_webhook_receiver(
    pool: &sqlx::PgPool,
    key: &crate::crypto::TokenKey,
    config: &Config,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use crate::webhooks::{events::EventType, signing};
    let secret: Arc<std::sync::OnceLock<String>> = Arc::default();
    let known = secret.clone();
    let endpoint = poem::endpoint::make(move |req: poem::Request| {
        let secret = known.clone();
        async move {
            let header = |name: &str| req.header(name).unwrap_or_default().to_string();
            let (id, ts, sig) = (
                header("webhook-id"),
                header("webhook-timestamp"),
                header("webhook-signature"),
            );
            let body = req.into_body().into_vec().await.unwrap_or_default();
            let now = chrono::Utc::now().timestamp();
            let verified = secret
                .get()
                .is_some_and(|s| signing::verify(s, &id, &ts, &sig, &body, now));
            if !verified {
                println!("dev: webhook {id}: signature did not verify, refused");
                return poem::http::StatusCode::UNAUTHORIZED;
            }
            let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            println!(
                "dev: webhook {} (signature verified): {}",
                event["type"].as_str().unwrap_or("?"),
                event["data"]
            );
            poem::http::StatusCode::NO_CONTENT
        }
    });
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(crate::http::serve(
        "127.0.0.1:0",
        endpoint,
        move |a| {
            let _ = addr_tx.send(a);
        },
        stopped,
        Duration::from_secs(1),
    ));
    let addr = addr_rx.await.context("the receiver did not start")?;
    let url = format!("http://{addr}/webhooks");
    let events: Vec<String> = EventType::ALL.map(|e| e.as_str().to_string()).to_vec();
    let registration = crate::services::webhooks::Registration {
        user_id: DEMO_USER,
        url: &url,
        events: &events,
        description: Some("lifesync dev's receiver"),
    };
    let (_, s) = crate::services::webhooks::register(
        pool,
        key,
        config.webhook_allow_private_targets,
        registration,
    )
    .await?;
    let _ = secret.set(s);
    println!("dev: webhook receiver {url} registered for the demo user's events");
    Ok(())
}

/// The demo user's trips and events, printed whenever a timeline build (after each sync that
/// changed their items) changed them.
async fn show_timeline(pool: sqlx::PgPool, base: String, jwt: String) {
    let mut last_seq = None;
    let mut last_shown = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let seq = db::timeline::built_seq(&pool, DEMO_USER)
            .await
            .ok()
            .flatten();
        if seq.is_none() || seq == last_seq {
            continue;
        }
        last_seq = seq;
        let mut shown = Vec::new();
        for kind in ["trip", "event"] {
            let filter = db::timeline::EntryFilter {
                entry_type: Some(kind.into()),
                ..Default::default()
            };
            let rows = db::timeline::list_for_user(&pool, DEMO_USER, &filter, 200)
                .await
                .unwrap_or_default();
            shown.push(format!("dev: timeline: {} {kind}s", rows.len()));
            // The latest five of each.
            for r in rows.iter().take(5).rev() {
                shown.push(format!(
                    "dev: timeline {kind}: {} ({} – {})",
                    r.title,
                    r.start_at.format("%Y-%m-%d %H:%M UTC"),
                    r.end_at.format("%Y-%m-%d %H:%M UTC")
                ));
            }
        }
        if shown != last_shown {
            for line in &shown {
                println!("{line}");
            }
            println!(
                "dev: timeline: curl -s -H 'Authorization: Bearer {jwt}' {base}/api/v1/timeline"
            );
            last_shown = shown;
        }
    }
}

/// Development defaults for what dev must have and the environment did not set.
fn with_dev_defaults(name: &str) -> Option<String> {
    env_var(name).or_else(|| match name {
        "HOST" => Some("127.0.0.1".into()),
        // dev's own webhook receiver listens on loopback.
        "WEBHOOK_ALLOW_PRIVATE_TARGETS" => Some("true".into()),
        "JWT_SECRET" => Some(format!("dev-{:032x}", rand::random::<u128>())),
        "TOKEN_ENCRYPTION_KEY" => {
            Some(base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>()))
        }
        _ => None,
    })
}

pub async fn run(sandbox_port: u16, seed: u64, reset: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let terminated = lifesync_jobs::runner::termination_signal();
    // Configured or usable on the defaults: used as is; otherwise dev starts its own.
    let mut local = LocalServices::provide(&env_var, reset).await?;
    let env = |name: &str| local.var(name).or_else(|| with_dev_defaults(name));
    let mut config =
        Config::from_env(&env).map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;

    db::ensure_database(&config.database)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "dev: PostgreSQL is unreachable at {} (start that server; with DATABASE_URL unset, dev starts its own)",
                lifesync_jobs::config::redact_url(&config.database.url)
            )
        })?;
    let pool = db::connect_with(&config.database, 20).await?;
    db::migrate(&pool).await.context("dev: migrations")?;
    let store = Store::connect(
        config.redis.settings.clone(),
        config.queue_settings(),
    )
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "dev: Redis is unreachable at {} (start that server; with REDIS_URL and REDIS_* unset, dev starts its own)",
            lifesync_jobs::config::redact_url(&config.redis.settings.url)
        )
    })?;

    crate::doctor::warn_if_evicting(&store, "dev").await;

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    // The sandbox, over HTTPS with a private CA that this process alone trusts: the demo
    // takes the same TLS path as production.
    let sandbox_state = lifesync_sandbox::SandboxState::new(seed);
    let sandbox_tls = lifesync_sandbox::tls::SandboxTls::generate()?;
    config.outbound.trust =
        std::mem::take(&mut config.outbound.trust).adding_pem(&sandbox_tls.ca.cert_pem())?;
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let sb = sandbox_state.clone();
    let sb_stop = stopped();
    let server_cert = sandbox_tls.server.clone();
    let sandbox_task = tokio::spawn(async move {
        lifesync_sandbox::serve_with(
            &format!("127.0.0.1:{sandbox_port}"),
            sb,
            Some(&server_cert),
            |a| {
                let _ = addr_tx.send(a);
            },
            sb_stop,
        )
        .await
    });
    let sandbox_addr = addr_rx.await.context("dev: the sandbox did not start")?;
    let sandbox_base = url::Url::parse(&format!("https://{sandbox_addr}"))?;
    // Every provider the environment does not configure points at the sandbox.
    for p in ProviderId::ALL {
        if !config.providers.contains_key(&p) {
            let redirect = url::Url::parse(&format!(
                "http://{}:{}/api/v1/oauth/{p}/callback",
                if config.host == "0.0.0.0" {
                    "127.0.0.1"
                } else {
                    &config.host
                },
                config.port
            ))?;
            config
                .providers
                .insert(p, sandbox_link::provider_config(p, &sandbox_base, redirect));
        }
    }
    // The API serves `/metrics`; the in-process worker and scheduler must not try to bind
    // `METRICS_ADDR` as their own processes do.
    config.metrics_addr = None;
    let config = Arc::new(config);

    // The API, the workers and the scheduler, each built as its own process builds it.
    let (web_tx, web_rx) = tokio::sync::oneshot::channel();
    let web_task = tokio::spawn({
        let (config, stop) = (config.clone(), stopped());
        async move {
            bootstrap::run_web(
                &config,
                |a| {
                    let _ = web_tx.send(a);
                },
                stop,
            )
            .await
        }
    });
    let web_addr = web_rx
        .await
        .context("dev: the API did not start (is PORT free?)")?;
    let worker_task = tokio::spawn({
        let (config, stop) = (config.clone(), stopped());
        let options = bootstrap::WorkerOptions {
            queues: Vec::new(),
            concurrency: 8,
            shutdown_timeout: Duration::from_secs(10),
        };
        async move { bootstrap::run_worker(&config, &options, stop).await }
    });
    let scheduler_task = tokio::spawn({
        let (config, stop) = (config.clone(), stopped());
        async move { bootstrap::run_scheduler(&config, CatchUp::No, stop).await }
    });
    let jwt_secret = config
        .jwt_secret
        .as_ref()
        .expect("dev default")
        .expose_secret()
        .to_string();
    let token_key = config.token_key.as_ref().expect("dev default");
    let demo_token = sandbox_state.issue_token(DEMO_ACCOUNT);
    let sealed = TokenCipher::new(token_key).seal(demo_token.as_bytes());
    let producer = Producer::new(store.clone());

    // A webhook receiver of dev's own, registered for every event of the demo user.
    if let Err(e) = start_webhook_receiver(&pool, token_key, &config, stopped()).await {
        eprintln!("dev: no webhook receiver: {e:#}");
    }

    // The demo account and its first sync.
    let mut tx = pool.begin().await?;
    let ds = db::data_sources::upsert_connected(
        &mut tx,
        DEMO_USER,
        "twitter",
        DEMO_ACCOUNT,
        Some("Sandbox demo"),
    )
    .await?;
    db::tokens::store(
        &mut tx,
        ds,
        &sealed,
        None,
        None,
        &[
            "tweet.read".into(),
            "users.read".into(),
            "offline.access".into(),
        ],
    )
    .await?;
    tx.commit().await?;
    let run_id = match request_sync(&pool, &producer, ds, SyncMode::Full, SyncTrigger::Oauth).await
    {
        Ok(s) => Some(s.sync_run_id),
        Err(e) => {
            eprintln!("dev: first sync not started: {e}");
            None
        }
    };

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let jwt = jsonwebtoken::encode(
        &Header::default(),
        &serde_json::json!({ "sub": DEMO_USER, "exp": now + 86_400 }),
        &EncodingKey::from_secret(jwt_secret.as_bytes()),
    )?;
    let base = format!("http://{web_addr}");
    println!(
        "lifesync dev is running: API {base} (docs {base}/docs), sandbox https://{sandbox_addr}"
    );
    println!("demo user JWT (24 h): {jwt}");
    println!("try:");
    println!("  curl -s -H 'Authorization: Bearer {jwt}' {base}/api/v1/data-sources");
    println!(
        "  curl -s -H 'Authorization: Bearer {jwt}' {base}/api/v1/data-sources/{ds}/sync-runs"
    );
    println!("  curl -s -X POST -H 'Authorization: Bearer {jwt}' -H 'Content-Type: application/json' -d '{{\"mode\":\"incremental\"}}' {base}/api/v1/data-sources/{ds}/sync");

    if let Some(run_id) = run_id {
        let pool = pool.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let row = db::sync_runs::status_and_fetched(&pool, run_id)
                    .await
                    .ok()
                    .flatten();
                match row {
                    Some((status, n))
                        if ["succeeded", "failed", "cancelled"].contains(&status.as_str()) =>
                    {
                        println!(
                            "dev: first sync {status}: {n} tweets in {:.1} s since start-up",
                            started.elapsed().as_secs_f64()
                        );
                        break;
                    }
                    None => break,
                    _ => {}
                }
            }
        });
    }

    // The other five providers connect through the real OAuth flow, as a browser would.
    {
        let (base, jwt) = (base.clone(), jwt.clone());
        let browser = config
            .outbound
            .builder()?
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        tokio::spawn(async move {
            for p in ProviderId::ALL {
                if p == ProviderId::Twitter {
                    continue;
                }
                match connect_via_oauth(&browser, &base, &jwt, p).await {
                    Ok(()) => println!("dev: connecting {p} through OAuth (sandbox)"),
                    Err(e) => println!("dev: could not connect {p}: {e:#}"),
                }
            }
        });
    }
    tokio::spawn(show_progress(pool.clone()));
    tokio::spawn(show_timeline(pool.clone(), base.clone(), jwt.clone()));

    let _ = terminated.await;
    eprintln!("dev: shutting down");
    let _ = stop_tx.send(true);
    let _ = worker_task.await;
    let _ = scheduler_task.await;
    let _ = web_task.await;
    let _ = sandbox_task.await;
    pool.close().await;
    local.stop();
    Ok(())
}
