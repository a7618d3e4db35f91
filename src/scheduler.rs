//! The scheduler process: apalis-cron turns each schedule of [`table`] into durable
//! `ScheduleFanout` jobs. A tick's job id is `fanout-<schedule>-<tick unix time>`, so any
//! number of schedulers enqueue each tick exactly once.
//!
//! Rule: every schedule lives in [`table`]; its cron comes from configuration (5-field, UTC).
//! Catching up ticks missed while no scheduler ran is issue #7.

use apalis_core::{
    error::BoxDynError, monitor::Monitor, task::data::Data, worker::builder::WorkerBuilder,
};
use apalis_cron::{CronScheduler, Tick};
use lifesync_jobs::{
    payloads::{ScheduleFanout, SyncMode},
    Producer,
};

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

#[derive(Clone)]
struct TickContext {
    producer: Producer,
    name: &'static str,
    mode: SyncMode,
}

async fn on_tick(tick: Tick, ctx: Data<TickContext>) -> Result<(), BoxDynError> {
    let job = ScheduleFanout {
        version: ScheduleFanout::VERSION,
        schedule: ctx.name.to_string(),
        mode: ctx.mode,
        tick_unix: tick.get_timestamp() as i64,
    };
    let e = ctx.producer.enqueue(&job).await?;
    tracing::info!(schedule = ctx.name, tick = job.tick_unix, created = e.created, job_id = %e.id, "tick");
    Ok(())
}

/// A monitor with one cron worker per schedule.
pub fn monitor(producer: Producer, table: Vec<ScheduleEntry>) -> Monitor {
    let mut monitor = Monitor::new();
    for entry in table {
        let producer = producer.clone();
        monitor = monitor.register(move |_| {
            let ctx = TickContext {
                producer: producer.clone(),
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
