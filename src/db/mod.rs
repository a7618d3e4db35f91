//! PostgreSQL: connecting (TLS as `DATABASE_URL`'s `sslmode` says), creating the database
//! when missing, and the embedded migrations.
//!
//! Rule: SQL lives in this module tree only (one file per table group as queries arrive);
//! handlers and jobs call functions here.

// The one place SQL is written (clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod changes;
pub mod data_sources;
pub mod duplicates;
pub mod items;
mod pinned;
pub mod reconcile;
pub mod sync_runs;
pub mod timeline;
pub mod tokens;
pub mod users;
pub mod webhooks;

use std::time::Duration;

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    ConnectOptions, PgPool,
};

use crate::config::DatabaseConfig;
pub use pinned::{pinned, Pinned};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How to connect: the URL (with libpq's `sslmode` and `sslrootcert`) and, unless the URL
/// names its own `sslrootcert`, the deployment's extra CA certificates (`SSL_CERT_FILE`,
/// `SSL_CERT_DIR`) besides the bundled public roots.
pub fn connect_options(db: &DatabaseConfig) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = db.url.parse()?;
    let names_root = url::Url::parse(&db.url)
        .map(|u| u.query_pairs().any(|(k, _)| k == "sslrootcert"))
        .unwrap_or(false);
    Ok(match &db.extra_root_pem {
        Some(pem) if !names_root => options.ssl_root_cert_from_pem(pem.clone()),
        _ => options,
    })
}

/// Creates the database named in `url` if it does not exist yet.
pub async fn create_database_if_missing(url: &str) -> Result<bool, sqlx::Error> {
    ensure_database(&DatabaseConfig::new(url)).await
}

/// Creates the configured database if it does not exist yet (connecting to the server's
/// `postgres` database with the same TLS settings).
pub async fn ensure_database(db: &DatabaseConfig) -> Result<bool, sqlx::Error> {
    let options = connect_options(db)?;
    let name = options.get_database().unwrap_or("postgres").to_string();
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_some() {
        return Ok(false);
    }
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
        .execute(&mut admin)
        .await
    {
        Ok(_) => Ok(true),
        // Another process created it meanwhile.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(false),
        Err(e) => Err(e),
    }
}

/// A connection pool; fails fast (5 s) when PostgreSQL is unreachable.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    connect_with(&DatabaseConfig::new(url), max_connections).await
}

/// [`connect`] with the configured TLS trust.
pub async fn connect_with(
    db: &DatabaseConfig,
    max_connections: u32,
) -> Result<PgPool, sqlx::Error> {
    let options = connect_options(db)?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
}

/// A pool that connects on first use (the API's read replica: the web process starts whatever
/// the replica's state, and its GET routes fail, not the process, while it is unreachable).
pub fn connect_lazy_with(db: &DatabaseConfig, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = connect_options(db)?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options))
}

/// Applies every pending migration (idempotent; safe to run from several processes at once:
/// sqlx takes an advisory lock).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// A round trip to the server (readiness).
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1")
        .execute(pinned(pool))
        .await
        .map(|_| ())
}

/// Whether this pool's connection is encrypted (None: the server does not say).
pub async fn connection_encrypted(pool: &PgPool) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_optional(pinned(pool))
        .await
}
