//! Configuration read once from the environment into typed values, validated at start-up,
//! cross-field rules included. Names and defaults are the contract's
//! (README.md, "Configuration"); secrets are wrapped so they never print.
//!
//! Rule: every variable is read here and nowhere else (the logging variables `RUST_LOG` and
//! `LOG_FORMAT` excepted: `logging` reads them before there is a configuration); a bad value is a [`ConfigError`] naming
//! the variable, which `main` prints as one line before exiting non-zero. Values a process
//! needs but others do not (`JWT_SECRET` for `web`) are checked by that process with
//! [`Config::require_web`] and friends.

use std::{collections::BTreeMap, str::FromStr};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

mod outbound;
mod providers;
mod stores;
#[cfg(test)]
mod tests;

pub use outbound::from_env as outbound_from_env;
pub use providers::ProviderConfig;
pub use stores::{DatabaseConfig, RedisConfig};

use crate::{crypto::TokenKey, domain::ProviderId, outbound::OutboundConfig};

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub reason: String,
}

fn err(var: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var: var.into(),
        reason: reason.into(),
    }
}

/// Looks a variable up; empty values count as unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn get(env: Lookup, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// Reads the process environment.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn parse_or<T: FromStr>(
    env: Lookup,
    var: &str,
    default: T,
    reason: &str,
) -> Result<T, ConfigError> {
    match get(env, var) {
        Some(v) => v.trim().parse().map_err(|_| err(var, reason)),
        None => Ok(default),
    }
}

fn parse_url(env: Lookup, var: &str) -> Result<Option<Url>, ConfigError> {
    match get(env, var) {
        None => Ok(None),
        Some(v) => {
            let u = Url::parse(v.trim()).map_err(|e| err(var, format!("is not a URL: {e}")))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(err(var, "must be an http or https URL"));
            }
            Ok(Some(u))
        }
    }
}

/// A 5-field UTC cron schedule (minute hour day-of-month month day-of-week).
#[derive(Debug, Clone)]
pub struct CronSchedule {
    pub expression: String,
    pub schedule: cron::Schedule,
}

impl CronSchedule {
    pub fn parse(var: &str, expression: &str) -> Result<Self, ConfigError> {
        // 5 fields (minute first), as the contract says; 6 fields (seconds first) are accepted
        // too, for tests and demos that cannot wait a minute per tick.
        let fields = expression.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {expression}"),
            6 => expression.to_string(),
            _ => {
                return Err(err(
                    var,
                    format!("must be a 5-field cron expression (got {fields} fields)"),
                ))
            }
        };
        let schedule = cron::Schedule::from_str(&full)
            .map_err(|e| err(var, format!("is not a valid cron expression: {e}")))?;
        Ok(Self {
            expression: expression.to_string(),
            schedule,
        })
    }
}

/// The whole configuration of a lifesync process.
#[derive(Debug)]
pub struct Config {
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub host: String,
    pub port: u16,
    pub jwt_secret: Option<SecretString>,
    pub token_key: Option<TokenKey>,
    pub daily_schedule: CronSchedule,
    pub incremental_schedule: CronSchedule,
    pub sync_batch_size: u32,
    /// `SYNC_FANOUT_SPREAD_SECONDS`: scheduled syncs start spread over this window.
    pub fanout_spread: std::time::Duration,
    /// `SYNC_DUPLICATE_WINDOW_HOURS`: how far apart in time a cross-post may be to be linked
    /// by `duplicate_of`.
    pub duplicate_window: std::time::Duration,
    /// `STARTUP_WAIT_SECONDS`: how long `worker` keeps retrying an unreachable PostgreSQL at
    /// start-up before it gives up (exit 1); 0 fails at once.
    pub startup_wait: std::time::Duration,
    /// `METRICS_ADDR`: where `worker` and `scheduler` serve `/metrics` (web serves it on its
    /// own port). Unset: not served.
    pub metrics_addr: Option<String>,
    /// `SYNC_RUN_DEADLINE_SECONDS`: a run without progress this long is ended as failed.
    pub run_deadline: std::time::Duration,
    /// `SYNC_THROTTLE_BACKOFF_SECONDS`: the first wait after a provider throttle that names no
    /// time (doubling per deferral to an hour, or to this if longer).
    pub throttle_backoff: std::time::Duration,
    pub oauth_success_redirect_url: Option<Url>,
    pub providers: BTreeMap<ProviderId, ProviderConfig>,
    /// How provider calls connect: trust anchors, proxies, timeout.
    pub outbound: OutboundConfig,
    /// `API_MAX_BODY_BYTES`: the largest request body the API reads (larger: 413).
    pub api_max_body_bytes: usize,
    /// `API_RATE_LIMIT_PER_MINUTE`: requests per user per minute across all web processes.
    pub api_rate_limit_per_minute: u32,
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS`: webhook URLs may name loopback and private addresses
    /// and use `http` (dev and tests only).
    pub webhook_allow_private_targets: bool,
}

/// A boolean variable: `true`/`false` (or `1`/`0`), unset is false.
fn parse_flag(env: Lookup, var: &str) -> Result<bool, ConfigError> {
    match get(env, var)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("false") | Some("0") | Some("") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(err(var, "must be true or false")),
    }
}

impl Config {
    /// The queue's settings: production timings under `REDIS_KEY_PREFIX`, with the throttle
    /// backoff of `SYNC_THROTTLE_BACKOFF_SECONDS`.
    pub fn queue_settings(&self) -> lifesync_jobs::QueueSettings {
        let mut q = lifesync_jobs::QueueSettings::new(self.redis.key_prefix.clone());
        q.throttle.base = self.throttle_backoff;
        q.throttle.max = q.throttle.max.max(self.throttle_backoff);
        q.shards = self.redis.queue_shards.clone();
        q
    }

    pub fn from_env(env: Lookup) -> Result<Self, ConfigError> {
        let jwt_secret = get(env, "JWT_SECRET").map(SecretString::from);
        if let Some(s) = &jwt_secret {
            if s.expose_secret().len() < 32 {
                return Err(err("JWT_SECRET", "must be at least 32 bytes"));
            }
        }
        let previous_keys = get(env, "TOKEN_ENCRYPTION_KEY_PREVIOUS")
            .map(|v| {
                v.split(',')
                    .filter(|k| !k.trim().is_empty())
                    .map(|k| {
                        TokenKey::from_base64(k)
                            .map_err(|e| err("TOKEN_ENCRYPTION_KEY_PREVIOUS", e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let token_key = get(env, "TOKEN_ENCRYPTION_KEY")
            .map(|v| {
                TokenKey::from_base64(&v).map_err(|e| err("TOKEN_ENCRYPTION_KEY", e.to_string()))
            })
            .transpose()?
            .map(|k| k.with_previous(previous_keys));
        let sync_batch_size = parse_or(env, "SYNC_BATCH_SIZE", 100u32, "must be a whole number")?;
        if !(1..=1000).contains(&sync_batch_size) {
            return Err(err("SYNC_BATCH_SIZE", "must be within 1..=1000"));
        }
        let cron = |var: &str, default: &str| {
            CronSchedule::parse(var, &get(env, var).unwrap_or_else(|| default.into()))
        };
        let mut providers = BTreeMap::new();
        for p in ProviderId::ALL {
            if let Some(c) = ProviderConfig::from_env(env, p)? {
                providers.insert(p, c);
            }
        }
        let api_max_body_bytes = parse_or(
            env,
            "API_MAX_BODY_BYTES",
            65_536usize,
            "must be a whole number",
        )?;
        if api_max_body_bytes == 0 {
            return Err(err("API_MAX_BODY_BYTES", "must be at least 1"));
        }
        let api_rate_limit_per_minute = parse_or(
            env,
            "API_RATE_LIMIT_PER_MINUTE",
            600u32,
            "must be a whole number",
        )?;
        if api_rate_limit_per_minute == 0 {
            return Err(err("API_RATE_LIMIT_PER_MINUTE", "must be at least 1"));
        }
        let outbound = outbound::from_env(env)?;
        let trust_error = |e: std::io::Error| err("SSL_CERT_FILE", e.to_string());
        let mut database = DatabaseConfig::from_env(env)?;
        database.extra_root_pem = outbound.trust.extra_pem().map_err(trust_error)?;
        let mut redis = RedisConfig::from_env(env)?;
        if database.extra_root_pem.is_some() && redis.settings.url.starts_with("rediss://") {
            // The Redis client takes one complete store: the OS's roots plus the extra ones.
            redis.settings.trusted_pem = Some(
                outbound
                    .trust
                    .all_anchors_pem()
                    .map_err(trust_error)?
                    .into_bytes(),
            );
        }
        Ok(Self {
            database,
            redis,
            host: get(env, "HOST").unwrap_or_else(|| "0.0.0.0".into()),
            port: parse_or(env, "PORT", 8080u16, "must be a port number")?,
            jwt_secret,
            token_key,
            daily_schedule: cron("SYNC_CRON_SCHEDULE", "0 3 * * *")?,
            incremental_schedule: cron("SYNC_INCREMENTAL_CRON", "0 */6 * * *")?,
            sync_batch_size,
            throttle_backoff: std::time::Duration::from_secs(
                match parse_or(
                    env,
                    "SYNC_THROTTLE_BACKOFF_SECONDS",
                    60u64,
                    "must be a whole number of seconds",
                )? {
                    0 => return Err(err("SYNC_THROTTLE_BACKOFF_SECONDS", "must be at least 1")),
                    n => n,
                },
            ),
            fanout_spread: std::time::Duration::from_secs(parse_or(
                env,
                "SYNC_FANOUT_SPREAD_SECONDS",
                600u64,
                "must be a whole number of seconds",
            )?),
            duplicate_window: std::time::Duration::from_secs(
                3600 * parse_or(
                    env,
                    "SYNC_DUPLICATE_WINDOW_HOURS",
                    72u64,
                    "must be a whole number of hours",
                )?
                .min(24 * 366 * 100),
            ),
            metrics_addr: get(env, "METRICS_ADDR"),
            startup_wait: std::time::Duration::from_secs(parse_or(
                env,
                "STARTUP_WAIT_SECONDS",
                60u64,
                "must be a whole number of seconds",
            )?),
            run_deadline: std::time::Duration::from_secs(parse_or(
                env,
                "SYNC_RUN_DEADLINE_SECONDS",
                21_600u64,
                "must be a whole number of seconds",
            )?),
            oauth_success_redirect_url: parse_url(env, "OAUTH_SUCCESS_REDIRECT_URL")?,
            providers,
            outbound,
            api_max_body_bytes,
            api_rate_limit_per_minute,
            webhook_allow_private_targets: parse_flag(env, "WEBHOOK_ALLOW_PRIVATE_TARGETS")?,
        })
    }

    /// What `web` needs beyond the common settings.
    pub fn require_web(&self) -> Result<(), ConfigError> {
        if self.jwt_secret.is_none() {
            return Err(err("JWT_SECRET", "is required for the web process"));
        }
        self.require_token_key()
    }

    /// Every process that reads or writes provider tokens needs the key.
    pub fn require_token_key(&self) -> Result<(), ConfigError> {
        match self.token_key {
            Some(_) => Ok(()),
            None => Err(err(
                "TOKEN_ENCRYPTION_KEY",
                "is required (base64 of 32 random bytes)",
            )),
        }
    }
}
