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
        let root = process::is_root();
        let dir = datadir::location(env, root)?;
        let mut lock = None;
        if reset {
            let held = datadir::Lock::acquire(&dir)?;
            postgres::stop_orphan(&dir.join("postgres"));
            redis::stop_orphan(&dir.join("redis"));
            datadir::wipe(&dir)?;
            println!("dev: --dev-reset: wiped {}", dir.display());
            lock = Some(held);
        }

        let wanted = Wanted::probe(env)?.await;
        let mut me = Self {
            database_url: (wanted.pg == Some(Probe::Usable)).then(|| wanted.pg_url.clone()),
            redis_url: (wanted.redis == Some(Probe::Usable)).then(|| wanted.redis_url.clone()),
            postgres: None,
            redis: None,
            lock: None,
        };
        let (need_pg, need_redis) = (wanted.needs_postgres(), wanted.needs_redis());
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
            anyhow::bail!(install_line(
                pg_missing,
                redis_missing,
                env("LIFESYNC_DEV_SEARCH_ROOTS").is_some(),
                root
            ));
        }

        me.lock = Some(match lock.take() {
            Some(l) => l,
            None => datadir::Lock::acquire(&dir)?,
        });
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
        println!(
            "dev: {}: started {}, data in {} (kept between runs; --dev-reset wipes it)",
            wanted.why(),
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

/// What the probes found for each server dev was not told about (`None`: configured).
struct Wanted {
    pg: Option<Probe>,
    pg_url: String,
    redis: Option<Probe>,
    redis_url: String,
}

impl Wanted {
    /// Probes the defaults (or their test-only replacements) of what is not configured.
    fn probe(
        env: Lookup<'_>,
    ) -> anyhow::Result<impl std::future::Future<Output = Self> + Send + 'static> {
        let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
        let pg_url = env("LIFESYNC_DEV_PROBE_DATABASE_URL")
            .unwrap_or_else(|| DatabaseConfig::DEFAULT_URL.to_string());
        let redis_url = match env("LIFESYNC_DEV_PROBE_REDIS_URL") {
            Some(url) => url,
            None => {
                RedisConfig::from_env(&|_| None)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .settings
                    .url
            }
        };
        let pg_configured = set("DATABASE_URL");
        let redis_configured = REDIS_VARS.iter().any(|v| set(v));
        Ok(Self::probe_urls(
            pg_configured,
            pg_url,
            redis_configured,
            redis_url,
        ))
    }

    async fn probe_urls(
        pg_configured: bool,
        pg_url: String,
        redis_configured: bool,
        redis_url: String,
    ) -> Self {
        let (pg, redis) = tokio::join!(
            async {
                match pg_configured {
                    true => None,
                    false => Some(probe::postgres(&pg_url).await),
                }
            },
            async {
                match redis_configured {
                    true => None,
                    false => Some(probe::redis(&redis_url).await),
                }
            }
        );
        Self {
            pg,
            pg_url,
            redis,
            redis_url,
        }
    }

    fn needs_postgres(&self) -> bool {
        matches!(self.pg, Some(Probe::Absent | Probe::Refused(_)))
    }

    fn needs_redis(&self) -> bool {
        matches!(self.redis, Some(Probe::Absent | Probe::Refused(_)))
    }

    /// Why dev starts its own: "no Redis on localhost:6379", "the PostgreSQL on … refused dev: …".
    fn why(&self) -> String {
        [
            (&self.pg, "PostgreSQL", probe::endpoint(&self.pg_url, 5432)),
            (&self.redis, "Redis", probe::endpoint(&self.redis_url, 6379)),
        ]
        .into_iter()
        .filter_map(|(p, name, at)| match p {
            Some(Probe::Absent) => Some(format!("no {name} on {at}")),
            Some(Probe::Refused(e)) => Some(format!("the {name} on {at} refused dev: {e}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
    }
}

/// The one line when the server programs are missing: what, where dev looked, the command.
fn install_line(postgres: bool, redis: bool, roots_overridden: bool, root: bool) -> String {
    let names = [
        (postgres, "PostgreSQL (initdb, postgres)"),
        (redis, "Redis (redis-server)"),
    ]
    .iter()
    .filter(|(m, _)| *m)
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join(" and ");
    format!(
        "dev: no usable server on the defaults and {names} not installed (looked on PATH and in {}): install with `{}`, or run ./dev, or set DATABASE_URL and REDIS_URL",
        if roots_overridden {
            "LIFESYNC_DEV_SEARCH_ROOTS"
        } else {
            "/usr/lib/postgresql/*/bin and Homebrew's prefixes"
        },
        binaries::Installer::here().command(postgres, redis, root)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_line_is_one_line_naming_only_what_is_missing() {
        let line = install_line(false, true, false, true);
        assert_eq!(line.lines().count(), 1);
        assert!(
            line.contains("Redis (redis-server) not installed"),
            "{line}"
        );
        assert!(!line.contains("PostgreSQL (initdb"), "{line}");
    }

    #[test]
    fn the_reason_names_each_default_and_what_it_did() {
        let w = Wanted {
            pg: Some(Probe::Refused("password authentication failed".into())),
            pg_url: DatabaseConfig::DEFAULT_URL.into(),
            redis: Some(Probe::Absent),
            redis_url: "redis://localhost:6379/0".into(),
        };
        assert_eq!(
            w.why(),
            "the PostgreSQL on 127.0.0.1:5432 refused dev: password authentication failed; \
             no Redis on localhost:6379"
        );
        assert!(w.needs_postgres() && w.needs_redis());
        let configured = Wanted {
            pg: None,
            redis: Some(Probe::Usable),
            ..w
        };
        assert!(!configured.needs_postgres() && !configured.needs_redis());
        assert_eq!(configured.why(), "");
    }
}
