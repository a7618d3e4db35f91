//! The throw-away services of one bench run: a fresh database (migrated by the bench when it
//! needs the schema) and a fresh Redis key prefix, both removed by [`Scratch::remove`] whatever
//! the bench's outcome.

use lifesync_jobs::{QueueSettings, Store};

use crate::{
    config::{env_var, Config, DatabaseConfig},
    db,
};

/// The benches' token key (their tokens are throw-away sandbox tokens).
const BENCH_TOKEN_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A bench run's own database and key prefix.
pub struct Scratch {
    /// The database's name (`lifesync_bench_<ulid>`).
    pub name: String,
    /// The configured database with the scratch database's name.
    pub database: DatabaseConfig,
    /// The Redis key prefix (`<REDIS_KEY_PREFIX>:bench:<ulid>`).
    pub prefix: String,
    /// The queue store under the scratch prefix.
    pub store: Store,
}

impl Scratch {
    /// Creates the database (empty) and connects the store under a new prefix.
    pub async fn create(config: &Config) -> anyhow::Result<Self> {
        let name = format!(
            "lifesync_bench_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let mut url = url::Url::parse(&config.database.url)?;
        url.set_path(&format!("/{name}"));
        let database = config.database.with_url(url.as_str());
        db::ensure_database(&database).await?;
        let prefix = format!("{}:bench:{}", config.redis.key_prefix, ulid::Ulid::new());
        let store = Store::connect(
            config.redis.settings.clone(),
            QueueSettings::new(prefix.clone()),
        )
        .await?;
        Ok(Self {
            name,
            database,
            prefix,
            store,
        })
    }

    /// The process's configuration pointed at this scratch database and key prefix, with a
    /// fixed token key; `overrides` set more variables.
    pub fn config(&self, overrides: &[(&str, &str)]) -> anyhow::Result<Config> {
        let scratch = [
            ("DATABASE_URL", self.database.url.as_str()),
            ("REDIS_KEY_PREFIX", self.prefix.as_str()),
            ("TOKEN_ENCRYPTION_KEY", BENCH_TOKEN_KEY),
        ];
        let lookup = |name: &str| {
            overrides
                .iter()
                .chain(&scratch)
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| env_var(name))
        };
        Config::from_env(&lookup).map_err(|e| anyhow::anyhow!("bench configuration: {e}"))
    }

    /// Deletes every key under the prefix and drops the database; says so on stderr as
    /// `bench <what>: removed …`.
    pub async fn remove(self, config: &Config, what: &str) -> anyhow::Result<()> {
        let removed = self.store.purge_prefix().await?;
        // From the server's `postgres` database: the configured one may not exist (a bench
        // needs only the server), and a failed drop is said, not swallowed.
        let mut url = url::Url::parse(&config.database.url)?;
        url.set_path("/postgres");
        let admin = db::connect_with(&config.database.with_url(url.as_str()), 1).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await?;
        admin.close().await;
        eprintln!(
            "bench {what}: removed {removed} keys and database {}",
            self.name
        );
        Ok(())
    }
}
