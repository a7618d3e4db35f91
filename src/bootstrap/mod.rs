//! One bootstrap for every process: from a `&Config` it connects the stores, builds what the
//! handlers share — the provider apps, the workers' [`Deps`], the API's [`AppState`] — and runs
//! each process (`web`, `worker`, `scheduler`) until its shutdown signal. `main`, `dev`, the
//! benches and the tests call these instead of assembling the parts by hand, so every process
//! is built the one way production builds it.

mod processes;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use lifesync_jobs::{Producer, Store};
use secrecy::ExposeSecret;
use sqlx::PgPool;

pub use processes::{
    run_scheduler, run_web, run_worker, spawn_metrics_server, CatchUp, WorkerOptions,
};

use crate::{
    api::{ApiLimits, AppState, OAuthSetup},
    config::Config,
    oauth::{apps::ProviderApps, state::StateStore},
    workers::{Deps, SharedDeps},
};

/// Connects to PostgreSQL with up to `max_connections`; `process` names the caller in the error.
pub async fn connect_postgres(
    config: &Config,
    process: &str,
    max_connections: u32,
) -> anyhow::Result<PgPool> {
    crate::db::connect_with(&config.database, max_connections)
        .await
        .with_context(|| {
            format!("{process}: PostgreSQL is unreachable (start it, or set DATABASE_URL)")
        })
}

/// [`connect_postgres`], trying again every second for `STARTUP_WAIT_SECONDS` (PostgreSQL may
/// still be starting, or be briefly down).
pub async fn connect_postgres_waiting(
    config: &Config,
    process: &str,
    max_connections: u32,
) -> anyhow::Result<PgPool> {
    let deadline = std::time::Instant::now() + config.startup_wait;
    loop {
        match connect_postgres(config, process, max_connections).await {
            Ok(p) => return Ok(p),
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(1)).await
            }
            Err(e) if config.startup_wait.is_zero() => return Err(e),
            Err(e) => {
                return Err(e.context(format!(
                    "{process}: gave up after {} s (STARTUP_WAIT_SECONDS)",
                    config.startup_wait.as_secs()
                )))
            }
        }
    }
}

/// Connects the queue's store to Redis and warns when Redis may evict keys.
pub async fn connect_redis(config: &Config, process: &str) -> anyhow::Result<Store> {
    let store = Store::connect(config.redis.settings.clone(), config.queue_settings())
        .await
        .with_context(|| format!("{process}: Redis is unreachable (start it, or set REDIS_URL)"))?;
    crate::doctor::warn_if_evicting(&store, process).await;
    Ok(store)
}

/// The configured provider apps with the one outbound HTTP client.
pub fn provider_apps(config: &Config) -> anyhow::Result<Arc<ProviderApps>> {
    Ok(Arc::new(ProviderApps::new(
        &config.providers,
        config.outbound.client()?,
    )))
}

/// What the job handlers share. The configuration must hold the token key
/// ([`Config::require_token_key`]).
pub fn worker_deps(
    config: &Config,
    pool: PgPool,
    store: &Store,
    apps: Arc<ProviderApps>,
) -> anyhow::Result<SharedDeps> {
    let token_key = config
        .token_key
        .clone()
        .context("TOKEN_ENCRYPTION_KEY is required")?;
    Ok(SharedDeps(Arc::new(Deps {
        pool,
        producer: Producer::new(store.clone()),
        token_key,
        apps,
        states: StateStore::new(store.connection(), config.redis.key_prefix.clone()),
        batch_size: config.sync_batch_size,
        fanout_spread: config.fanout_spread,
        duplicate_window: config.duplicate_window,
        webhooks: crate::webhooks::sender::Sender::new(
            &config.outbound,
            config.webhook_allow_private_targets,
        )?,
    })))
}

/// The API's state. The configuration must hold what `web` needs ([`Config::require_web`]).
pub fn api_state(
    config: &Config,
    pool: PgPool,
    store: Store,
    apps: Arc<ProviderApps>,
) -> anyhow::Result<AppState> {
    let secret = config
        .jwt_secret
        .as_ref()
        .context("JWT_SECRET is required")?;
    let token_key = config
        .token_key
        .clone()
        .context("TOKEN_ENCRYPTION_KEY is required")?;
    let oauth = OAuthSetup {
        apps,
        token_key,
        success_redirect: config.oauth_success_redirect_url.clone(),
        clock: None,
    };
    let state = AppState::with_oauth(pool, store, secret.expose_secret().as_bytes(), Some(oauth))
        .with_limits(ApiLimits {
            max_body_bytes: config.api_max_body_bytes,
            rate_limit_per_minute: config.api_rate_limit_per_minute,
        })
        .with_duplicate_window(config.duplicate_window)
        .with_webhook_private_targets(config.webhook_allow_private_targets);
    Ok(match config.database.replica() {
        // Lazy: the web process starts whatever the replica's state.
        Some(replica) => state.with_read_pool(
            crate::db::connect_lazy_with(&replica, 10).context("DATABASE_REPLICA_URL")?,
        ),
        None => state,
    })
}

/// `lifesync migrate`: creates the database if missing and applies the migrations.
pub async fn migrate(db: &crate::config::DatabaseConfig) -> anyhow::Result<()> {
    let created = crate::db::ensure_database(db)
        .await
        .context("migrate: PostgreSQL is unreachable (start it, or set DATABASE_URL)")?;
    if created {
        tracing::info!("migrate: created the database");
    }
    let pool = crate::db::connect_with(db, 2).await?;
    crate::db::migrate(&pool).await?;
    tracing::info!("migrate: schema is up to date");
    Ok(())
}
