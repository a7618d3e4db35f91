//! Configuration read once from the environment into typed values, validated at start-up.
//! Names and defaults are the contract's (`../shared/spec/contract.md`); secrets never print.
//!
//! Rule: every variable is read here and nowhere else; a bad value is a [`ConfigError`] naming
//! the variable, which `main` prints as one line before exiting non-zero.

use lifesync_jobs::RedisSettings;

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
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
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = match get("REDIS_URL").filter(|v| !v.is_empty()) {
            Some(url) => {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(err("REDIS_URL", "must start with redis:// or rediss://"));
                }
                RedisSettings::new(url)
            }
            None => {
                let host = get("REDIS_HOST").unwrap_or_else(|| "localhost".into());
                let port = match get("REDIS_PORT") {
                    Some(p) => p
                        .parse::<u16>()
                        .map_err(|_| err("REDIS_PORT", "must be a port number"))?,
                    None => 6379,
                };
                let db = match get("REDIS_DB") {
                    Some(d) => d
                        .parse::<i64>()
                        .ok()
                        .filter(|d| *d >= 0)
                        .ok_or_else(|| err("REDIS_DB", "must be a non-negative integer"))?,
                    None => 0,
                };
                let password = get("REDIS_PASSWORD");
                RedisSettings::from_parts(&host, port, password.as_deref(), db)
            }
        };
        let key_prefix = get("REDIS_KEY_PREFIX").unwrap_or_else(|| "lifesync".into());
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

/// Where PostgreSQL is (`DATABASE_URL`).
#[derive(Clone)]
pub struct DatabaseConfig {
    pub url: String,
}

impl DatabaseConfig {
    pub const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432/lifesync";

    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let url = get("DATABASE_URL")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| Self::DEFAULT_URL.into());
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(err(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        if url.parse::<sqlx::postgres::PgConnectOptions>().is_err() {
            return Err(err("DATABASE_URL", "is not a valid PostgreSQL URL"));
        }
        Ok(Self { url })
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

/// Reads the process environment.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<RedisConfig, ConfigError> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RedisConfig::from_env(&|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_and_parts() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.settings.url, "redis://localhost:6379/0");
        assert_eq!(c.key_prefix, "lifesync");
        let c = cfg(&[
            ("REDIS_HOST", "r"),
            ("REDIS_PASSWORD", "p@ss"),
            ("REDIS_DB", "2"),
        ])
        .unwrap();
        assert_eq!(c.settings.url, "redis://:p%40ss@r:6379/2");
        assert!(
            !format!("{c:?}").contains("p%40ss"),
            "password never printed"
        );
    }

    #[test]
    fn database_url_default_validation_and_redaction() {
        let m: HashMap<&str, &str> = HashMap::new();
        let d = DatabaseConfig::from_env(&|k| m.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(d.url, DatabaseConfig::DEFAULT_URL);
        let bad = DatabaseConfig::from_env(&|_| Some("mysql://x".into())).unwrap_err();
        assert_eq!(bad.var, "DATABASE_URL");
        let d = DatabaseConfig::from_env(&|_| Some("postgres://u:hunter2@h/db".into())).unwrap();
        assert!(!format!("{d:?}").contains("hunter2"));
    }

    #[test]
    fn url_wins_and_bad_values_name_the_variable() {
        let c = cfg(&[("REDIS_URL", "redis://x:1/3"), ("REDIS_HOST", "ignored")]).unwrap();
        assert_eq!(c.settings.url, "redis://x:1/3");
        assert_eq!(cfg(&[("REDIS_PORT", "abc")]).unwrap_err().var, "REDIS_PORT");
        assert_eq!(cfg(&[("REDIS_DB", "-1")]).unwrap_err().var, "REDIS_DB");
        assert_eq!(
            cfg(&[("REDIS_URL", "http://x")]).unwrap_err().var,
            "REDIS_URL"
        );
        assert_eq!(
            cfg(&[("REDIS_KEY_PREFIX", "a b")]).unwrap_err().var,
            "REDIS_KEY_PREFIX"
        );
    }
}
