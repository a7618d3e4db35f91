//! The scheduler process: apalis-cron turns each schedule of [`table`] into durable
//! `ScheduleFanout` jobs. A tick's job id is `fanout-<schedule>-<tick unix time>`, so any
//! number of schedulers enqueue each tick exactly once.
//!
//! **Catch-up.** Each schedule's last enqueued tick is kept in Redis
//! (`{prefix}:scheduler:last-tick:<schedule>`, only ever moved forward). At start-up, a
//! scheduler compares it with the schedule's latest tick at or before now: if that tick was
//! missed (no scheduler ran at that moment), it is enqueued — once, however many ticks were
//! missed and however many schedulers start (the marker moves in one script, and the job id is
//! the tick's). A first start ever (no marker) catches nothing up.
//!
//! Rule: every schedule lives in [`table`]; its cron comes from configuration (UTC).

use apalis_core::{
    error::BoxDynError, monitor::Monitor, task::data::Data, worker::builder::WorkerBuilder,
};
use apalis_cron::{CronScheduler, Tick};
use chrono::{DateTime, Utc};
use lifesync_jobs::{
    payloads::{ScheduleFanout, SyncMode},
    Producer, Store,
};
use redis::Script;

use crate::config::Config;

/// One schedule: its name (in job ids and triggers), sync mode and cron.
#[derive(Clone)]
pub struct ScheduleEntry {
    pub name: &'static str,
    pub mode: SyncMode,
    pub cron: cron::Schedule,
}

/// The schedules, from configuration.
pub fn table(config: &Config) -> Vec<ScheduleEntry> {
    vec![
        ScheduleEntry {
            name: "daily",
            mode: SyncMode::Full,
            cron: config.daily_schedule.schedule.clone(),
        },
        ScheduleEntry {
            name: "incremental",
            mode: SyncMode::Incremental,
            cron: config.incremental_schedule.schedule.clone(),
        },
    ]
}

/// Moves the marker forward; returns 1 when it moved from an earlier tick (a missed tick to
/// catch up), 0 when it was absent (first start) or already there.
const ADVANCE: &str = r"
local m = redis.call('GET', KEYS[1])
if not m then redis.call('SET', KEYS[1], ARGV[1]) return 0 end
if tonumber(m) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0";

fn marker_key(store: &Store, name: &str) -> String {
    format!("{}:scheduler:last-tick:{name}", store.settings().prefix)
}

async fn advance_marker(store: &Store, name: &str, tick: i64) -> redis::RedisResult<bool> {
    let moved: i64 = Script::new(ADVANCE)
        .key(marker_key(store, name))
        .arg(tick)
        .invoke_async(&mut store.connection())
        .await?;
    Ok(moved == 1)
}

fn fanout_job(entry_name: &str, mode: SyncMode, tick_unix: i64) -> ScheduleFanout {
    ScheduleFanout {
        version: ScheduleFanout::VERSION,
        schedule: entry_name.to_string(),
        mode,
        tick_unix,
    }
}

/// The schedule's latest tick at or before `now` (looking back at most 8 days).
pub fn last_tick(cron: &cron::Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.after(&(now - chrono::Duration::days(8)))
        .take_while(|t| *t <= now)
        .last()
}

/// Enqueues each schedule's latest tick if no scheduler enqueued it (see the module doc).
/// Returns the ticks caught up.
pub async fn catch_up(
    store: &Store,
    table: &[ScheduleEntry],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<ScheduleFanout>> {
    let producer = Producer::new(store.clone());
    let mut caught = Vec::new();
    for entry in table {
        let Some(tick) = last_tick(&entry.cron, now) else {
            continue;
        };
        if advance_marker(store, entry.name, tick.timestamp()).await? {
            let job = fanout_job(entry.name, entry.mode, tick.timestamp());
            let e = producer.enqueue(&job).await?;
            crate::metrics::scheduler_tick(entry.name);
            tracing::info!(
                schedule = entry.name,
                tick = job.tick_unix,
                created = e.created,
                "caught up a missed tick"
            );
            caught.push(job);
        }
    }
    Ok(caught)
}

#[derive(Clone)]
struct TickContext {
    store: Store,
    name: &'static str,
    mode: SyncMode,
}

async fn on_tick(tick: Tick, ctx: Data<TickContext>) -> Result<(), BoxDynError> {
    let job = fanout_job(ctx.name, ctx.mode, tick.get_timestamp() as i64);
    let e = Producer::new(ctx.store.clone()).enqueue(&job).await?;
    advance_marker(&ctx.store, ctx.name, job.tick_unix).await?;
    crate::metrics::scheduler_tick(ctx.name);
    tracing::info!(schedule = ctx.name, tick = job.tick_unix, created = e.created, job_id = %e.id, "tick");
    Ok(())
}

/// A monitor with one cron worker per schedule.
pub fn monitor(store: Store, table: Vec<ScheduleEntry>) -> Monitor {
    let mut monitor = Monitor::new();
    for entry in table {
        let store = store.clone();
        monitor = monitor.register(move |_| {
            let ctx = TickContext {
                store: store.clone(),
                name: entry.name,
                mode: entry.mode,
            };
            WorkerBuilder::new(lifesync_jobs::backend::unique_worker_id(&format!(
                "scheduler-{}",
                entry.name
            )))
            .backend(CronScheduler::new(entry.cron.clone()))
            .data(ctx)
            .build(on_tick)
        });
    }
    monitor
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn the_last_tick_is_the_latest_at_or_before_now() {
        let daily = cron::Schedule::from_str("0 0 3 * * *").unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-24T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            last_tick(&daily, now).unwrap().to_rfc3339(),
            "2026-11-24T03:00:00+00:00"
        );
        let early = DateTime::parse_from_rfc3339("2026-11-24T02:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            last_tick(&daily, early).unwrap().to_rfc3339(),
            "2026-11-23T03:00:00+00:00"
        );
    }
}
