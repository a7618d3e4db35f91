//! `lifesync dev` brings its own PostgreSQL and Redis when it has to: when `DATABASE_URL` (or
//! `REDIS_URL` and every `REDIS_*` part) is unset and no usable server answers on the default,
//! it starts one as a child process on a free loopback port, with its data kept between runs
//! in the user's data directory, and stops it on exit. A configured server is always used as
//! it is, and so is a usable one on the default.
//!
//! Layout: `probe` (is the default usable), `binaries` (where the programs are, what to
//! install), `datadir` (where the data lives, one dev at a time), `process` (children and
//! signals), `postgres` and `redis` (one server each). Rule: only `dev` uses this; the service
//! processes (`web`, `worker`, …) never start servers.
//!
//! Test-only variables (never needed by a user): `LIFESYNC_DEV_PROBE_DATABASE_URL` and
//! `LIFESYNC_DEV_PROBE_REDIS_URL` replace the defaults dev looks at (and uses when usable), so a
//! test can point them at closed ports on a machine whose 5432 and 6379 are taken;
//! `LIFESYNC_DEV_SEARCH_ROOTS` (see `binaries`).

mod binaries;
mod datadir;
mod postgres;
mod probe;
mod process;
mod redis;

use std::collections::HashMap;

use probe::Probe;

use crate::config::{DatabaseConfig, Lookup, RedisConfig};

/// Every variable this module reads.
const READS: [&str; 12] = [
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "REDIS_DB",
    "LIFESYNC_DEV_PROBE_DATABASE_URL",
    "LIFESYNC_DEV_PROBE_REDIS_URL",
    "LIFESYNC_DEV_SEARCH_ROOTS",
    "XDG_DATA_HOME",
    "HOME",
    "PATH",
];

const REDIS_VARS: [&str; 5] = [
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "REDIS_DB",
];

/// Where dev's PostgreSQL and Redis are, and the servers it started (stopped on drop).
pub struct LocalServices {
    database_url: Option<String>,
    redis_url: Option<String>,
    postgres: Option<postgres::Postgres>,
    redis: Option<redis::Redis>,
    lock: Option<datadir::Lock>,
}

impl LocalServices {
    /// Decides where dev's PostgreSQL and Redis are, starting what is missing; `reset` wipes
    /// dev's own data first. Prints one line when it started something.
    pub fn provide(
        env: Lookup<'_>,
        reset: bool,
    ) -> impl std::future::Future<Output = anyhow::Result<Self>> + Send + 'static {
        let vars: HashMap<&'static str, String> = READS
            .iter()
            .filter_map(|name| env(name).map(|v| (*name, v)))
            .collect();
        Self::start(vars, reset)
    }

    async fn start(vars: HashMap<&'static str, String>, reset: bool) -> anyhow::Result<Self> {
        let env = |name: &str| vars.get(name).cloned();
        let env = &env;
        let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
        let root = process::is_root();
        let dir = datadir::location(env, root)?;
        let mut lock = None;
        if reset {
            let held = datadir::Lock::acquire(&dir)?;
            datadir::wipe(&dir)?;
            println!("dev: --dev-reset: wiped {}", dir.display());
            lock = Some(held);
        }

        let pg_default = env("LIFESYNC_DEV_PROBE_DATABASE_URL")
            .unwrap_or_else(|| DatabaseConfig::DEFAULT_URL.to_string());
        let redis_default = match env("LIFESYNC_DEV_PROBE_REDIS_URL") {
            Some(url) => url,
            None => RedisConfig::from_env(&|_| None)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .settings
                .url
                .clone(),
        };
        let (pg, rd) = tokio::join!(
            async {
                if set("DATABASE_URL") {
                    None
                } else {
                    Some(probe::postgres(&pg_default).await)
                }
            },
            async {
                if REDIS_VARS.iter().any(|v| set(v)) {
                    None
                } else {
                    Some(probe::redis(&redis_default).await)
                }
            }
        );
        let mut me = Self {
            database_url: (pg == Some(Probe::Usable)).then(|| pg_default.clone()),
            redis_url: (rd == Some(Probe::Usable)).then(|| redis_default.clone()),
            postgres: None,
            redis: None,
            lock: None,
        };
        let need_pg = matches!(pg, Some(Probe::Absent | Probe::Refused(_)));
        let need_redis = matches!(rd, Some(Probe::Absent | Probe::Refused(_)));
        if !need_pg && !need_redis {
            return Ok(me);
        }

        let dirs = binaries::search_dirs(env);
        let pg_dirs = binaries::dirs_with(&dirs, &["initdb", "postgres"]);
        let redis_server = binaries::dirs_with(&dirs, &["redis-server"])
            .first()
            .map(|d| d.join("redis-server"));
        let (pg_missing, redis_missing) = (
            need_pg && pg_dirs.is_empty(),
            need_redis && redis_server.is_none(),
        );
        if pg_missing || redis_missing {
            let names = [
                (pg_missing, "PostgreSQL (initdb, postgres)"),
                (redis_missing, "Redis (redis-server)"),
            ]
            .iter()
            .filter(|(m, _)| *m)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(" and ");
            anyhow::bail!(
                "dev: no usable server on the defaults and {names} not installed (looked on PATH and in {}): install with `{}`, or run ./dev, or set DATABASE_URL and REDIS_URL",
                if env("LIFESYNC_DEV_SEARCH_ROOTS").is_some() { "LIFESYNC_DEV_SEARCH_ROOTS".to_string() } else { "/usr/lib/postgresql/*/bin, Homebrew".to_string() },
                binaries::Installer::here().command(pg_missing, redis_missing, root)
            );
        }

        let lock = match lock.take() {
            Some(l) => l,
            None => datadir::Lock::acquire(&dir)?,
        };
        me.lock = Some(lock);
        let secret = datadir::secret(&dir)?;
        let mut started = Vec::new();
        if need_pg {
            let bins = postgres::choose(&pg_dirs, &dir.join("postgres"))?;
            let run_as = if root {
                Some(postgres::RunAs::find()?)
            } else {
                None
            };
            let server = postgres::start(&bins, &dir, &secret, run_as.as_ref()).await?;
            started.push(format!(
                "PostgreSQL {} on 127.0.0.1:{} (pid {}{})",
                server.version,
                server.port,
                server.pid(),
                run_as
                    .map(|u| format!(", as {}", u.name))
                    .unwrap_or_default()
            ));
            me.database_url = Some(server.url.clone());
            me.postgres = Some(server);
        }
        if let Some(server) = redis_server.filter(|_| need_redis) {
            let server = redis::start(&server, &dir, &secret).await?;
            started.push(format!(
                "Redis on 127.0.0.1:{} (pid {})",
                server.port,
                server.pid()
            ));
            me.redis_url = Some(server.url.clone());
            me.redis = Some(server);
        }
        let why = [
            (pg, "PostgreSQL", probe::endpoint(&pg_default, 5432)),
            (rd, "Redis", probe::endpoint(&redis_default, 6379)),
        ]
        .into_iter()
        .filter_map(|(p, name, at)| match p {
            Some(Probe::Absent) => Some(format!("no {name} on {at}")),
            Some(Probe::Refused(e)) => Some(format!("the {name} on {at} refused dev: {e}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ");
        println!(
            "dev: {why}: started {}, data in {} (kept between runs; --dev-reset wipes it)",
            started.join(" and "),
            dir.display()
        );
        Ok(me)
    }

    /// The value dev uses for `DATABASE_URL` or `REDIS_URL` when this decided it.
    pub fn var(&self, name: &str) -> Option<String> {
        match name {
            "DATABASE_URL" => self.database_url.clone(),
            "REDIS_URL" => self.redis_url.clone(),
            _ => None,
        }
    }

    /// Stops what it started: Redis, then PostgreSQL, then frees the data directory.
    pub fn stop(&mut self) {
        if let Some(mut r) = self.redis.take() {
            r.stop();
        }
        if let Some(mut p) = self.postgres.take() {
            p.stop();
        }
        self.lock.take();
    }
}

impl Drop for LocalServices {
    fn drop(&mut self) {
        self.stop();
    }
}
