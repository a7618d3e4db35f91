//! Configuration read once from the environment into typed values, validated at start-up,
//! cross-field rules included. Names and defaults are the contract's
//! (`../shared/spec/contract.md`); secrets are wrapped so they never print.
//!
//! Rule: every variable is read here and nowhere else; a bad value is a [`ConfigError`] naming
//! the variable, which `main` prints as one line before exiting non-zero. Values a process
//! needs but others do not (`JWT_SECRET` for `web`) are checked by that process with
//! [`Config::require_web`] and friends.

use std::{collections::BTreeMap, str::FromStr};

use base64::Engine;
use lifesync_jobs::RedisSettings;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use url::Url;

use crate::providers::ProviderId;

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

/// Where PostgreSQL is (`DATABASE_URL`).
#[derive(Clone)]
pub struct DatabaseConfig {
    pub url: String,
    /// The deployment's extra CA certificates (PEM), trusted besides the public roots.
    pub extra_root_pem: Option<Vec<u8>>,
}

impl DatabaseConfig {
    pub const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432/lifesync";

    /// `url` with no extra trust anchors.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            extra_root_pem: None,
        }
    }

    /// The same server and trust, another URL (a throw-away database of a benchmark).
    pub fn with_url(&self, url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            extra_root_pem: self.extra_root_pem.clone(),
        }
    }

    pub fn from_env(env: Lookup) -> Result<Self, ConfigError> {
        let url = get(env, "DATABASE_URL").unwrap_or_else(|| Self::DEFAULT_URL.into());
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(err(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        if url.parse::<sqlx::postgres::PgConnectOptions>().is_err() {
            return Err(err("DATABASE_URL", "is not a valid PostgreSQL URL"));
        }
        Ok(Self::new(url))
    }
}

impl std::fmt::Debug for DatabaseConfig {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &lifesync_jobs::config::redact_url(&self.url))
            .finish()
    }
}

/// Where Redis is and which key prefix this deployment owns.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub settings: RedisSettings,
    pub key_prefix: String,
}

impl RedisConfig {
    /// `REDIS_URL` wins over `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD`/`REDIS_DB`.
    pub fn from_env(env: Lookup) -> Result<Self, ConfigError> {
        let settings = match get(env, "REDIS_URL") {
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
        if key_prefix.is_empty() || key_prefix.contains(char::is_whitespace) {
            return Err(err(
                "REDIS_KEY_PREFIX",
                "must be non-empty and without spaces",
            ));
        }
        Ok(Self {
            settings,
            key_prefix,
        })
    }
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

/// The AES-256-GCM key for provider tokens at rest, with a key id derived from it (the first
/// 8 bytes of its SHA-256, hex) so stored ciphertexts name the key that sealed them.
///
/// Rotation: a new key goes into `TOKEN_ENCRYPTION_KEY` and the old one into
/// `TOKEN_ENCRYPTION_KEY_PREVIOUS` (comma-separated, newest first). Values sealed under a
/// previous key still open; every write seals under the current key, so a token moves to the
/// new key the next time it is refreshed or stored. A previous key can be dropped once no row
/// names its key id (`SELECT DISTINCT key_id FROM oauth_tokens`).
pub struct TokenKey {
    pub key_id: String,
    key: SecretBox<[u8; 32]>,
    /// Keys that only open (never seal), from `TOKEN_ENCRYPTION_KEY_PREVIOUS`.
    pub previous: Vec<TokenKey>,
}

impl TokenKey {
    pub fn from_base64(var: &str, b64: &str) -> Result<Self, ConfigError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| err(var, "must be base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| err(var, "must decode to exactly 32 bytes"))?;
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key);
        let key_id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            key_id,
            key: SecretBox::new(Box::new(key)),
            previous: Vec::new(),
        })
    }

    /// This key with `previous` keys that still open old values.
    pub fn with_previous(mut self, previous: Vec<TokenKey>) -> Self {
        self.previous = previous;
        self
    }

    pub fn bytes(&self) -> &[u8; 32] {
        self.key.expose_secret()
    }
}

impl Clone for TokenKey {
    fn clone(&self) -> Self {
        Self {
            key_id: self.key_id.clone(),
            key: SecretBox::new(Box::new(*self.bytes())),
            previous: self.previous.clone(),
        }
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKey({}, ***)", self.key_id)
    }
}

/// One provider's OAuth client and endpoint overrides.
#[derive(Debug)]
pub struct ProviderConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: Url,
    pub auth_url: Option<Url>,
    pub token_url: Option<Url>,
    pub api_base_url: Option<Url>,
    /// `{P}_TOKEN_AUTH`: `client_secret_basic` or `client_secret_post` (None: the provider's
    /// documented method), for standards-conformant servers behind the endpoint overrides.
    pub token_auth: Option<crate::oauth::spec::ClientAuth>,
    /// `{P}_APP_RATE_LIMIT`: requests per minute for the whole app, across all workers.
    pub app_rate_limit: Option<u32>,
    /// `{P}_ACCOUNT_RATE_LIMIT`: requests per minute per connected account.
    pub account_rate_limit: Option<u32>,
    /// `{P}_SCOPES` (space-separated): the scopes requested (None: the provider's documented
    /// default in `oauth::spec`).
    pub scopes: Option<Vec<String>>,
    /// `LINKEDIN_API_VERSION` (`YYYYMM`, LinkedIn only; None: the client's default).
    pub api_version: Option<String>,
    /// `MICROSOFT_EXCLUDED_FOLDERS` (Outlook only): mail folders not synced, by Graph
    /// well-known name or folder id (None: the client's default, Junk Email and Deleted Items).
    pub excluded_folders: Option<Vec<String>>,
}

impl ProviderConfig {
    /// None when the provider is disabled (no credentials); an error when only some are set.
    fn from_env(env: Lookup, p: ProviderId) -> Result<Option<Self>, ConfigError> {
        let (id_var, secret_var) = match p {
            ProviderId::Facebook => (
                "FACEBOOK_APP_ID".to_string(),
                "FACEBOOK_APP_SECRET".to_string(),
            ),
            _ => (
                format!("{}_CLIENT_ID", p.env_prefix()),
                format!("{}_CLIENT_SECRET", p.env_prefix()),
            ),
        };
        let redirect_var = format!("{}_REDIRECT_URI", p.env_prefix());
        let id = get(env, &id_var);
        let secret = get(env, &secret_var);
        let redirect = parse_url(env, &redirect_var)?;
        let overrides = |suffix: &str| parse_url(env, &format!("{}_{suffix}", p.env_prefix()));
        let (auth_url, token_url, api_base_url) = (
            overrides("AUTH_URL")?,
            overrides("TOKEN_URL")?,
            overrides("API_BASE_URL")?,
        );
        let auth_var = format!("{}_TOKEN_AUTH", p.env_prefix());
        let token_auth = get(env, &auth_var)
            .map(|v| {
                crate::oauth::spec::ClientAuth::parse(&v).ok_or_else(|| {
                    err(
                        &auth_var,
                        "must be client_secret_basic or client_secret_post",
                    )
                })
            })
            .transpose()?;
        let rate = |suffix: &str| -> Result<Option<u32>, ConfigError> {
            let var = format!("{}_{suffix}", p.env_prefix());
            get(env, &var)
                .map(|v| match v.trim().parse::<u32>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(err(
                        &var,
                        "must be a positive number of requests per minute",
                    )),
                })
                .transpose()
        };
        let (app_rate_limit, account_rate_limit) =
            (rate("APP_RATE_LIMIT")?, rate("ACCOUNT_RATE_LIMIT")?);
        let scopes_var = format!("{}_SCOPES", p.env_prefix());
        let scopes = get(env, &scopes_var)
            .map(|v| {
                let s: Vec<String> = v.split_whitespace().map(String::from).collect();
                if s.is_empty() {
                    Err(err(
                        &scopes_var,
                        "must name at least one scope (space-separated)",
                    ))
                } else {
                    Ok(s)
                }
            })
            .transpose()?;
        let api_version = match p {
            ProviderId::Linkedin => get(env, "LINKEDIN_API_VERSION")
                .map(|v| {
                    let v = v.trim().to_string();
                    let month = v.get(4..6).and_then(|m| m.parse::<u32>().ok());
                    if v.len() == 6
                        && v.bytes().all(|b| b.is_ascii_digit())
                        && month.is_some_and(|m| (1..=12).contains(&m))
                    {
                        Ok(v)
                    } else {
                        Err(err(
                            "LINKEDIN_API_VERSION",
                            "must be a month as YYYYMM, e.g. 202611",
                        ))
                    }
                })
                .transpose()?,
            _ => None,
        };
        let excluded_folders = match p {
            ProviderId::Microsoft => get(env, "MICROSOFT_EXCLUDED_FOLDERS").map(|v| {
                v.split([',', ' '])
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(String::from)
                    .collect()
            }),
            _ => None,
        };
        match (id, secret, redirect) {
            (None, None, None) => Ok(None),
            (Some(client_id), Some(secret), Some(redirect_uri)) => Ok(Some(Self {
                client_id,
                client_secret: SecretString::from(secret),
                redirect_uri,
                auth_url,
                token_url,
                api_base_url,
                token_auth,
                app_rate_limit,
                account_rate_limit,
                scopes,
                api_version,
                excluded_folders,
            })),
            (id, secret, redirect) => {
                let missing = [
                    (id.is_none(), id_var),
                    (secret.is_none(), secret_var),
                    (redirect.is_none(), redirect_var),
                ]
                .into_iter()
                .find(|(m, _)| *m)
                .map(|(_, v)| v)
                .expect("one is missing");
                Err(err(
                    missing,
                    format!("must be set when any of {}'s OAuth credentials is set", p),
                ))
            }
        }
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
    pub outbound: crate::outbound::OutboundConfig,
    /// `API_MAX_BODY_BYTES`: the largest request body the API reads (larger: 413).
    pub api_max_body_bytes: usize,
    /// `API_RATE_LIMIT_PER_MINUTE`: requests per user per minute across all web processes.
    pub api_rate_limit_per_minute: u32,
}

impl Config {
    /// The queue's settings: production timings under `REDIS_KEY_PREFIX`, with the throttle
    /// backoff of `SYNC_THROTTLE_BACKOFF_SECONDS`.
    pub fn queue_settings(&self) -> lifesync_jobs::QueueSettings {
        let mut q = lifesync_jobs::QueueSettings::new(self.redis.key_prefix.clone());
        q.throttle.base = self.throttle_backoff;
        q.throttle.max = q.throttle.max.max(self.throttle_backoff);
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
                    .map(|k| TokenKey::from_base64("TOKEN_ENCRYPTION_KEY_PREVIOUS", k))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let token_key = get(env, "TOKEN_ENCRYPTION_KEY")
            .map(|v| TokenKey::from_base64("TOKEN_ENCRYPTION_KEY", &v))
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
        let outbound = crate::outbound::OutboundConfig::from_env(env)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(&|k| m.get(k).cloned())
    }

    fn var_of(vars: &[(&str, &str)]) -> String {
        load(vars).unwrap_err().var
    }

    #[test]
    fn scopes_and_the_linkedin_version_are_read_and_checked() {
        let li = [
            ("LINKEDIN_CLIENT_ID", "id"),
            ("LINKEDIN_CLIENT_SECRET", "s"),
            ("LINKEDIN_REDIRECT_URI", "https://x.example/cb"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = li.to_vec();
            v.extend_from_slice(extra);
            v
        };
        let c = load(&li).unwrap();
        let l = &c.providers[&ProviderId::Linkedin];
        assert_eq!((l.scopes.as_ref(), l.api_version.as_ref()), (None, None));
        let c = load(&with(&[
            ("LINKEDIN_SCOPES", " openid  profile email r_member_social "),
            ("LINKEDIN_API_VERSION", "202611"),
        ]))
        .unwrap();
        let l = &c.providers[&ProviderId::Linkedin];
        assert_eq!(
            l.scopes.as_deref().unwrap(),
            ["openid", "profile", "email", "r_member_social"]
        );
        assert_eq!(l.api_version.as_deref(), Some("202611"));
        for bad in ["2026-11", "202613", "20261", "v202611"] {
            let v = with(&[("LINKEDIN_API_VERSION", bad)]);
            assert_eq!(var_of(&v), "LINKEDIN_API_VERSION", "{bad}");
        }
        // Every provider reads its own {P}_SCOPES.
        let c = load(&[
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", "s"),
            ("GOOGLE_REDIRECT_URI", "https://x.example/cb"),
            ("GOOGLE_SCOPES", "openid email"),
        ])
        .unwrap();
        assert_eq!(
            c.providers[&ProviderId::Google].scopes.as_deref().unwrap(),
            ["openid", "email"]
        );
        assert_eq!(
            var_of(&[("SYNC_THROTTLE_BACKOFF_SECONDS", "0")]),
            "SYNC_THROTTLE_BACKOFF_SECONDS"
        );
        let q = load(&[("SYNC_THROTTLE_BACKOFF_SECONDS", "5")])
            .unwrap()
            .queue_settings();
        assert_eq!(q.throttle.base, std::time::Duration::from_secs(5));
    }

    #[test]
    fn defaults_are_the_contracts() {
        let c = load(&[]).unwrap();
        assert_eq!(c.database.url, DatabaseConfig::DEFAULT_URL);
        assert_eq!(c.redis.settings.url, "redis://localhost:6379/0");
        assert_eq!(c.redis.key_prefix, "lifesync");
        assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 8080));
        assert_eq!(c.daily_schedule.expression, "0 3 * * *");
        assert_eq!(c.incremental_schedule.expression, "0 */6 * * *");
        assert_eq!(c.sync_batch_size, 100);
        assert!(c.providers.is_empty(), "providers are disabled when unset");
        assert_eq!(c.require_web().unwrap_err().var, "JWT_SECRET");
    }

    #[test]
    fn api_limits() {
        let c = load(&[]).unwrap();
        assert_eq!(
            (c.api_max_body_bytes, c.api_rate_limit_per_minute),
            (65_536, 600)
        );
        let c = load(&[
            ("API_MAX_BODY_BYTES", "1024"),
            ("API_RATE_LIMIT_PER_MINUTE", "5"),
        ])
        .unwrap();
        assert_eq!(
            (c.api_max_body_bytes, c.api_rate_limit_per_minute),
            (1024, 5)
        );
        for (var, value) in [
            ("API_MAX_BODY_BYTES", "0"),
            ("API_MAX_BODY_BYTES", "64k"),
            ("API_RATE_LIMIT_PER_MINUTE", "0"),
            ("API_RATE_LIMIT_PER_MINUTE", "-1"),
        ] {
            assert_eq!(var_of(&[(var, value)]), var, "{var}={value}");
        }
    }

    #[test]
    fn redis_parts_and_url() {
        let c = load(&[
            ("REDIS_HOST", "r"),
            ("REDIS_PASSWORD", "p@ss"),
            ("REDIS_DB", "2"),
        ])
        .unwrap();
        assert_eq!(c.redis.settings.url, "redis://:p%40ss@r:6379/2");
        let c = load(&[("REDIS_URL", "redis://x:1/3"), ("REDIS_HOST", "ignored")]).unwrap();
        assert_eq!(c.redis.settings.url, "redis://x:1/3");
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(var_of(&[("REDIS_PORT", "abc")]), "REDIS_PORT");
        assert_eq!(var_of(&[("REDIS_DB", "-1")]), "REDIS_DB");
        assert_eq!(var_of(&[("REDIS_URL", "http://x")]), "REDIS_URL");
        assert_eq!(var_of(&[("REDIS_KEY_PREFIX", "a b")]), "REDIS_KEY_PREFIX");
        assert_eq!(var_of(&[("DATABASE_URL", "mysql://x")]), "DATABASE_URL");
        assert_eq!(var_of(&[("PORT", "99999")]), "PORT");
        assert_eq!(var_of(&[("JWT_SECRET", "short")]), "JWT_SECRET");
        assert_eq!(
            var_of(&[("TOKEN_ENCRYPTION_KEY", "not base64!")]),
            "TOKEN_ENCRYPTION_KEY"
        );
        assert_eq!(
            var_of(&[("TOKEN_ENCRYPTION_KEY", "c2hvcnQ=")]),
            "TOKEN_ENCRYPTION_KEY"
        );
        assert_eq!(
            var_of(&[("SYNC_CRON_SCHEDULE", "0 0 3 * * * 2026")]),
            "SYNC_CRON_SCHEDULE"
        );
        assert_eq!(
            var_of(&[("SYNC_INCREMENTAL_CRON", "61 * * * *")]),
            "SYNC_INCREMENTAL_CRON"
        );
        assert_eq!(var_of(&[("SYNC_BATCH_SIZE", "0")]), "SYNC_BATCH_SIZE");
        assert_eq!(
            var_of(&[("OAUTH_SUCCESS_REDIRECT_URL", "nope")]),
            "OAUTH_SUCCESS_REDIRECT_URL"
        );
    }

    #[test]
    fn provider_credentials_are_all_or_nothing() {
        let twitter = [
            ("TWITTER_CLIENT_ID", "id"),
            ("TWITTER_CLIENT_SECRET", "s3cret"),
            (
                "TWITTER_REDIRECT_URI",
                "http://127.0.0.1:8080/api/v1/oauth/twitter/callback",
            ),
            ("TWITTER_API_BASE_URL", "http://127.0.0.1:9000/twitter"),
        ];
        let c = load(&twitter).unwrap();
        let t = &c.providers[&ProviderId::Twitter];
        assert_eq!(t.api_base_url.as_ref().unwrap().path(), "/twitter");
        assert_eq!(var_of(&twitter[..1]), "TWITTER_CLIENT_SECRET");
        assert_eq!(var_of(&[twitter[0], twitter[1]]), "TWITTER_REDIRECT_URI");
        // Facebook's names differ.
        assert_eq!(
            var_of(&[
                ("FACEBOOK_CLIENT_ID", "x"),
                ("FACEBOOK_REDIRECT_URI", "http://h/cb")
            ]),
            "FACEBOOK_APP_ID"
        );
        assert_eq!(var_of(&[("FACEBOOK_APP_ID", "x")]), "FACEBOOK_APP_SECRET");
        // The token endpoint's client authentication can be chosen.
        let mut basic = twitter.to_vec();
        basic.push(("TWITTER_TOKEN_AUTH", "client_secret_post"));
        let c = load(&basic).unwrap();
        assert_eq!(
            c.providers[&ProviderId::Twitter].token_auth,
            Some(crate::oauth::spec::ClientAuth::Post)
        );
        basic.pop();
        basic.push(("TWITTER_TOKEN_AUTH", "private_key_jwt"));
        assert_eq!(var_of(&basic), "TWITTER_TOKEN_AUTH");
    }

    #[test]
    fn previous_token_keys_are_read_for_rotation() {
        let k1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let k2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
        let c = load(&[
            ("TOKEN_ENCRYPTION_KEY", k2),
            ("TOKEN_ENCRYPTION_KEY_PREVIOUS", k1),
        ])
        .unwrap();
        let key = c.token_key.unwrap();
        assert_eq!(key.previous.len(), 1);
        assert_ne!(key.previous[0].key_id, key.key_id);
        assert_eq!(
            var_of(&[
                ("TOKEN_ENCRYPTION_KEY", k2),
                ("TOKEN_ENCRYPTION_KEY_PREVIOUS", "short")
            ]),
            "TOKEN_ENCRYPTION_KEY_PREVIOUS"
        );
    }

    #[test]
    fn secrets_never_print() {
        let c = load(&[
            ("JWT_SECRET", "jwt-secret-jwt-secret-jwt-secret-1"),
            ("TOKEN_ENCRYPTION_KEY", KEY),
            ("REDIS_PASSWORD", "redis-pw"),
            ("DATABASE_URL", "postgres://u:db-pw@h/db"),
            ("GOOGLE_CLIENT_ID", "gid"),
            ("GOOGLE_CLIENT_SECRET", "google-client-secret"),
            ("GOOGLE_REDIRECT_URI", "http://h/cb"),
        ])
        .unwrap();
        c.require_web().unwrap();
        let printed = format!("{c:?}");
        for secret in [
            "jwt-secret",
            "redis-pw",
            "db-pw",
            "google-client-secret",
            KEY,
            "0123456789abcdef",
        ] {
            assert!(!printed.contains(secret), "{secret} printed");
        }
        assert_eq!(c.token_key.unwrap().key_id.len(), 16);
    }
}
