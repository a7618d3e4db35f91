//! `lifesync bench fanout --sources N`: one scheduler tick (the daily full sync) over N active
//! data sources, in a throw-away database and key prefix: the time from the fan-out job's start
//! to the last sync job enqueued and its run recorded, and the process's peak resident memory
//! (`VmHWM`, which includes set-up: an upper bound for the fan-out itself).

use std::time::Instant;

use lifesync_jobs::payloads::{ScheduleFanout, SyncMode};

use crate::{bootstrap, config::Config, db, workers::fanout};

/// The figures of one run.
pub struct FanoutBench {
    pub sources: u64,
    pub seconds: f64,
    pub peak_rss_mb: f64,
    pub enqueued: u64,
}

pub async fn run(config: &Config, sources: u64) -> anyhow::Result<FanoutBench> {
    let scratch = super::scratch::Scratch::create(config).await?;
    let (bench_db, _prefix, store) = (
        scratch.database.clone(),
        scratch.prefix.clone(),
        scratch.store.clone(),
    );
    let result = async {
        let pool = db::connect_with(&bench_db, 8).await?;
        db::migrate(&pool).await?;
        eprintln!("bench fanout: creating {sources} data sources");
        sqlx::query(
            "INSERT INTO users (id) SELECT 'user-' || g FROM generate_series(0, 9999) g",
        )
        .execute(&pool)
        .await?;
        sqlx::query(
            "INSERT INTO data_sources (id, user_id, provider, account_id)
             SELECT gen_random_uuid(), 'user-' || (g % 10000),
                    (ARRAY['instagram','twitter','google','facebook','linkedin','microsoft'])[1 + g % 6],
                    'account-' || g
               FROM generate_series(1, $1) g",
        )
        .bind(sources as i64)
        .execute(&pool)
        .await?;
        let config = scratch.config(&[])?;
        let deps = bootstrap::worker_deps(
            &config,
            pool.clone(),
            &store,
            bootstrap::provider_apps(&config)?,
        )?;
        let tick = ScheduleFanout {
            version: ScheduleFanout::VERSION,
            schedule: "daily".into(),
            mode: SyncMode::Full,
            tick_unix: chrono::Utc::now().timestamp(),
        };
        eprintln!("bench fanout: one daily tick");
        let t = Instant::now();
        let totals = fanout::fan_out(&deps, &tick).await?;
        let seconds = t.elapsed().as_secs_f64();
        let queued = store.stats("sync").await?;
        eprintln!(
            "bench fanout: {} enqueued, {} skipped in {seconds:.2} s; queue: {} pending, {} scheduled",
            totals.enqueued, totals.skipped, queued.pending, queued.scheduled
        );
        pool.close().await;
        anyhow::Ok(FanoutBench {
            sources,
            seconds,
            peak_rss_mb: peak_rss_mb(),
            enqueued: totals.enqueued,
        })
    }
    .await;
    scratch.remove(config, "fanout").await?;
    result
}

/// Peak resident set size of this process (Linux `VmHWM`), in MB.
pub(super) fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
