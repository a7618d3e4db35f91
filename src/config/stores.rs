//! Where PostgreSQL and Redis are: `DATABASE_URL` (and `DATABASE_REPLICA_URL`, a read replica
//! for GET routes), `REDIS_URL` or its parts, the key prefix.

use lifesync_jobs::RedisSettings;

use super::{err, get, parse_or, ConfigError, Lookup};

/// Where PostgreSQL is (`DATABASE_URL`).
#[derive(Clone)]
pub struct DatabaseConfig {
    pub url: String,
    /// The deployment's extra CA certificates (PEM), trusted besides the public roots.
    pub extra_root_pem: Option<Vec<u8>>,
    /// `DATABASE_REPLICA_URL`: a read replica for GET routes (None: they read the primary).
    pub replica_url: Option<String>,
}

impl DatabaseConfig {
    pub const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432/lifesync";

    /// `url` with no extra trust anchors.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            extra_root_pem: None,
            replica_url: None,
        }
    }

    /// The same server and trust, another URL (a throw-away database of a benchmark).
    pub fn with_url(&self, url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            extra_root_pem: self.extra_root_pem.clone(),
            replica_url: None,
        }
    }

    pub fn from_env(env: Lookup) -> Result<Self, ConfigError> {
        let url = get(env, "DATABASE_URL").unwrap_or_else(|| Self::DEFAULT_URL.into());
        check_url("DATABASE_URL", &url)?;
        let replica_url = get(env, "DATABASE_REPLICA_URL");
        if let Some(replica) = &replica_url {
            check_url("DATABASE_REPLICA_URL", replica)?;
        }
        Ok(Self {
            replica_url,
            ..Self::new(url)
        })
    }

    /// The replica's connection settings (the primary's TLS trust), if one is configured.
    pub fn replica(&self) -> Option<Self> {
        self.replica_url.as_ref().map(|u| self.with_url(u.clone()))
    }
}

fn check_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(err(name, "must start with postgres:// or postgresql://"));
    }
    if url.parse::<sqlx::postgres::PgConnectOptions>().is_err() {
        return Err(err(name, "is not a valid PostgreSQL URL"));
    }
    Ok(())
}

impl std::fmt::Debug for DatabaseConfig {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &lifesync_jobs::config::redact_url(&self.url))
            .field(
                "replica_url",
                &self
                    .replica_url
                    .as_deref()
                    .map(lifesync_jobs::config::redact_url),
            )
            .finish()
    }
}

/// Where Redis is and which key prefix this deployment owns.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub settings: RedisSettings,
    pub key_prefix: String,
    /// `QUEUE_SHARDS`: hash-tag shards per queue (a queue not named has one).
    pub queue_shards: std::collections::BTreeMap<String, u32>,
}

impl RedisConfig {
    /// `REDIS_CLUSTER_URLS` (comma-separated seed nodes of a Redis Cluster) wins over
    /// `REDIS_URL`, which wins over `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD`/`REDIS_DB`.
    pub fn from_env(env: Lookup) -> Result<Self, ConfigError> {
        let cluster: Vec<String> = get(env, "REDIS_CLUSTER_URLS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if cluster
            .iter()
            .any(|u| !(u.starts_with("redis://") || u.starts_with("rediss://")))
        {
            return Err(err(
                "REDIS_CLUSTER_URLS",
                "every seed must start with redis:// or rediss://",
            ));
        }
        let queue_shards = lifesync_jobs::QueueSettings::parse_shards(
            &get(env, "QUEUE_SHARDS").unwrap_or_default(),
        )
        .map_err(|e| err("QUEUE_SHARDS", e))?;
        let settings = match get(env, "REDIS_URL") {
            _ if !cluster.is_empty() => RedisSettings::cluster(cluster),
            Some(url) => {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(err("REDIS_URL", "must start with redis:// or rediss://"));
                }
                RedisSettings::new(url)
            }
            None => {
                let host = get(env, "REDIS_HOST").unwrap_or_else(|| "localhost".into());
                let port = parse_or(env, "REDIS_PORT", 6379u16, "must be a port number")?;
                let db = parse_or(env, "REDIS_DB", 0u32, "must be a non-negative integer")?;
                let password = get(env, "REDIS_PASSWORD");
                RedisSettings::from_parts(&host, port, password.as_deref(), i64::from(db))
            }
        };
        let key_prefix = env("REDIS_KEY_PREFIX").unwrap_or_else(|| "lifesync".into());
        if key_prefix.is_empty()
            || key_prefix.contains(|c: char| c.is_whitespace() || c == '{' || c == '}')
        {
            return Err(err(
                "REDIS_KEY_PREFIX",
                "must be non-empty and without spaces or braces",
            ));
        }
        Ok(Self {
            settings,
            key_prefix,
            queue_shards,
        })
    }
}
