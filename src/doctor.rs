//! `lifesync doctor`: what an operator runs after a deploy. It checks, with the service's own
//! configuration and clients, every configured provider's authorization, token and API hosts
//! (name resolution and a TLS handshake through the configured proxy and trust), PostgreSQL
//! (with its `sslmode`) and Redis (reachable, and `maxmemory-policy noeviction`), and prints
//! one line each: `ok` or the reason. Any failure makes the exit status 1.
//!
//! The eviction check also runs at the start of every process ([`warn_if_evicting`]): a
//! managed Redis that evicts keys silently drops queued jobs.

use std::time::Duration;

use lifesync_jobs::{QueueSettings, Store};
use url::Url;

use crate::{config::Config, providers::app::ProviderApp};

/// `lifesync doctor`: runs every check and prints one line each; an error when any failed.
pub async fn report(config: &Config) -> anyhow::Result<()> {
    let checks = run(config).await;
    for c in &checks {
        println!("{c}");
    }
    let failed = checks.iter().filter(|c| c.problem.is_some()).count();
    anyhow::ensure!(failed == 0, "doctor: {failed} check(s) failed");
    Ok(())
}

/// Why Redis's eviction policy endangers the queue, or `None` when it is `noeviction`.
pub async fn eviction_problem(store: &Store) -> Option<String> {
    match store.eviction_policy().await {
        Ok(policy) if policy == "noeviction" => None,
        Ok(policy) => Some(format!(
            "Redis maxmemory-policy is {policy}: under memory pressure Redis deletes keys, \
             queued jobs among them; set maxmemory-policy noeviction"
        )),
        Err(e) => Some(format!("cannot read Redis's maxmemory-policy: {e}")),
    }
}

/// Logs an error naming the setting when Redis may evict queued jobs.
pub async fn warn_if_evicting(store: &Store, process: &str) {
    if let Some(problem) = eviction_problem(store).await {
        tracing::error!("{process}: {problem}");
    }
}

/// One checked thing and its verdict.
pub struct Check {
    pub what: String,
    pub problem: Option<String>,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.problem {
            None => write!(f, "{}: ok", self.what),
            Some(p) => write!(f, "{}: FAILED: {p}", self.what),
        }
    }
}

/// Every check, in order: PostgreSQL, Redis, then each configured provider's hosts.
pub async fn run(config: &Config) -> Vec<Check> {
    let mut checks = vec![postgres(config).await, redis(config).await];
    let http = match config.outbound.client() {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check {
                what: "provider HTTP client".into(),
                problem: Some(e.to_string()),
            });
            return checks;
        }
    };
    for (id, c) in &config.providers {
        let app = ProviderApp::new(*id, c);
        let mut seen = Vec::new();
        for url in [&app.auth_url, &app.token_url, &app.api_base] {
            let origin = url.origin().ascii_serialization();
            if seen.contains(&origin) {
                continue;
            }
            seen.push(origin.clone());
            checks.push(Check {
                what: format!("{id} {origin}"),
                problem: handshake(&http, url).await.err(),
            });
        }
    }
    checks
}

async fn postgres(config: &Config) -> Check {
    let mode = url::Url::parse(&config.database.url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "sslmode")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| "prefer".into());
    let what = format!(
        "postgres {} (sslmode {mode})",
        lifesync_jobs::config::redact_url(&config.database.url)
    );
    let problem = async {
        let pool = crate::db::connect_with(&config.database, 1)
            .await
            .map_err(|e| e.to_string())?;
        let ssl = crate::db::connection_encrypted(&pool)
            .await
            .map_err(|e| e.to_string())?;
        pool.close().await;
        match (mode.as_str(), ssl) {
            ("require" | "verify-ca" | "verify-full", Some(false)) => {
                Err("the connection is not encrypted".to_string())
            }
            _ => Ok(()),
        }
    }
    .await
    .err();
    Check { what, problem }
}

async fn redis(config: &Config) -> Check {
    let what = format!(
        "redis {}",
        lifesync_jobs::config::redact_url(&config.redis.settings.url)
    );
    let problem = match Store::connect(
        config.redis.settings.clone(),
        QueueSettings::new(config.redis.key_prefix.clone()),
    )
    .await
    {
        Ok(store) => eviction_problem(&store).await,
        Err(e) => Some(e.to_string()),
    };
    Check { what, problem }
}

/// Resolves, connects and completes a TLS handshake with `url`'s host through the service's
/// own client (its proxy and trust). Any HTTP answer means the connection is sound.
async fn handshake(http: &reqwest::Client, url: &Url) -> Result<(), String> {
    match http
        .head(url.as_str())
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(crate::outbound::tls_failure(&e).unwrap_or_else(|| {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg = format!("{msg}: {s}");
                source = s.source();
            }
            msg
        })),
    }
}
