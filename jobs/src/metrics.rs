//! The queue's metrics (names are part of the external contract; dashboards use them):
//! - `lifesync_jobs_total{queue, outcome}` — attempts that ended `succeeded`, `retried` (a
//!   failure or deferral with attempts left) or `dead`;
//! - `lifesync_job_duration_seconds{queue}` — how long attempts ran (histogram);
//! - `lifesync_queue_depth{queue, state}` — jobs by state, refreshed by [`report_depth`].
//!
//! Labels come from closed sets only (queue names, outcomes, states).

// The one place the queue's recording macros are used (clippy.toml).
#![allow(clippy::disallowed_macros)]

use std::time::Duration;

use crate::store::Store;

pub const JOBS_TOTAL: &str = "lifesync_jobs_total";
pub const JOB_DURATION_SECONDS: &str = "lifesync_job_duration_seconds";
pub const QUEUE_DEPTH: &str = "lifesync_queue_depth";

/// Registers the descriptions (call once per process, after installing a recorder).
pub fn describe() {
    metrics::describe_counter!(
        JOBS_TOTAL,
        "Job attempts by queue and outcome (succeeded, retried, dead)"
    );
    metrics::describe_histogram!(
        JOB_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Duration of job attempts by queue"
    );
    metrics::describe_gauge!(
        QUEUE_DEPTH,
        "Jobs by queue and state (pending, scheduled, running, retrying, dead)"
    );
}

/// Attempt outcomes of `lifesync_jobs_total`.
pub const OUTCOMES: [&str; 3] = ["succeeded", "retried", "dead"];
/// States of `lifesync_queue_depth`.
pub const STATES: [&str; 5] = ["pending", "scheduled", "running", "retrying", "dead"];

/// Exports every series of `queues` at 0 (each outcome, each state, an empty duration
/// histogram), so a scrape right after start-up finds the whole contract; call once after
/// installing a recorder.
pub fn register_known(queues: &[&str]) {
    for q in queues {
        for outcome in OUTCOMES {
            metrics::counter!(JOBS_TOTAL, "queue" => q.to_string(), "outcome" => outcome)
                .increment(0);
        }
        for state in STATES {
            metrics::gauge!(QUEUE_DEPTH, "queue" => q.to_string(), "state" => state).increment(0.0);
        }
        let _ = metrics::histogram!(JOB_DURATION_SECONDS, "queue" => q.to_string());
    }
}

/// One queue's attempt series, looked up once: a `counter!` looks its series up by name and
/// labels (allocating the labels) at every call, which a worker would pay per job.
pub(crate) struct AttemptMetrics {
    /// `lifesync_jobs_total` per outcome, in [`OUTCOMES`] order.
    outcomes: [metrics::Counter; 3],
    duration: metrics::Histogram,
}

impl AttemptMetrics {
    /// The series of `queue` in the recorder installed now.
    pub(crate) fn new(queue: &str) -> Self {
        Self {
            outcomes: OUTCOMES.map(
                |o| metrics::counter!(JOBS_TOTAL, "queue" => queue.to_string(), "outcome" => o),
            ),
            duration: metrics::histogram!(JOB_DURATION_SECONDS, "queue" => queue.to_string()),
        }
    }

    /// Counts one attempt that ended as `OUTCOMES[outcome]` after `duration`.
    pub(crate) fn record(&self, outcome: usize, duration: Duration) {
        self.outcomes[outcome].increment(1);
        self.duration.record(duration.as_secs_f64());
    }
}

/// Refreshes the depth gauges of `queues` every `every` (cheap: one pipeline per queue), until
/// the task is dropped. Every process that reports reads the same Redis keys, so the gauges
/// agree however many workers run.
pub async fn report_depth(store: Store, queues: Vec<String>, every: Duration) {
    loop {
        for q in &queues {
            if let Ok(s) = store.stats(q).await {
                for (state, n) in [
                    ("pending", s.pending),
                    ("scheduled", s.scheduled),
                    ("running", s.running),
                    ("retrying", s.retrying),
                    ("dead", s.dead),
                ] {
                    metrics::gauge!(QUEUE_DEPTH, "queue" => q.clone(), "state" => state)
                        .set(n as f64);
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
