//! Every metric lifesync exposes, with its description: the names are part of the external
//! contract (dashboards and alerts use them). Labels come from closed sets only (provider,
//! queue, trigger, outcome, status, kind) — never a user or account id.
//!
//! The queue's own metrics (`lifesync_jobs_total`, `lifesync_job_duration_seconds`,
//! `lifesync_queue_depth`) are declared in `lifesync_jobs::metrics` and described here too.
//! Rule: record metrics only through the functions below.

// The one place the recording macros are used (clippy.toml).
#![allow(clippy::disallowed_macros)]

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::{DataSourceStatus, ProviderId};

pub const SYNC_RUNS_TOTAL: &str = "lifesync_sync_runs_total";
pub const SYNC_ITEMS_TOTAL: &str = "lifesync_sync_items_total";
pub const PROVIDER_REQUESTS_TOTAL: &str = "lifesync_provider_requests_total";
pub const PROVIDER_RATE_LIMITED_TOTAL: &str = "lifesync_provider_rate_limited_total";
pub const DATA_SOURCES: &str = "lifesync_data_sources";
pub const OAUTH_COMPLETIONS_TOTAL: &str = "lifesync_oauth_completions_total";
pub const OAUTH_STATES_ACTIVE: &str = "lifesync_oauth_states_active";
pub const OAUTH_TOKEN_REFRESHES_TOTAL: &str = "lifesync_oauth_token_refreshes_total";
pub const LAST_SUCCESSFUL_SYNC: &str = "lifesync_last_successful_sync_timestamp_seconds";
pub const SCHEDULER_TICKS_TOTAL: &str = "lifesync_scheduler_ticks_total";
pub const WEBHOOK_DELIVERIES_TOTAL: &str = "lifesync_webhook_deliveries_total";
pub const WEBHOOK_DELIVERY_DURATION: &str = "lifesync_webhook_delivery_duration_seconds";
pub const WEBHOOK_ENDPOINTS_FAILING: &str = "lifesync_webhook_endpoints_failing";
pub const ERASE_REVOCATIONS_TOTAL: &str = "lifesync_erase_revocations_total";

/// Closed label sets, exported at 0 from start-up (`register_known`).
pub const TRIGGERS: [&str; 5] = ["oauth", "manual", "daily", "incremental", "admin"];
pub const RUN_OUTCOMES: [&str; 3] = ["succeeded", "failed", "cancelled"];
pub const ITEM_KINDS: [&str; 3] = ["post", "media", "email"];
pub const ITEM_RESULTS: [&str; 3] = ["new", "updated", "duplicate"];
pub const COMPLETION_OUTCOMES: [&str; 2] = ["connected", "failed"];
pub const REFRESH_OUTCOMES: [&str; 3] = ["renewed", "reauth_required", "failed"];
pub const WEBHOOK_OUTCOMES: [&str; 3] = ["delivered", "retried", "failed"];
pub const SCHEDULES: [&str; 2] = ["daily", "incremental"];
/// How an erase's revocation of one source ended.
pub const REVOCATION_OUTCOMES: [&str; 4] = ["revoked", "not_offered", "refused", "unreachable"];
/// Request statuses exported at 0 (others appear when first seen: the set is HTTP's).
const KNOWN_REQUEST_STATUSES: [&str; 3] = ["200", "429", "error"];

/// Buckets for job and HTTP durations: 5 ms to 10 min.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 180.0, 600.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once) and returns its handle; call at start-up.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &DURATION_BUCKETS)
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // A second recorder (another library's) would leave ours unused; ours is first.
            if metrics::set_global_recorder(recorder).is_ok() {
                describe();
                register_known();
            }
            handle
        })
        .clone()
}

/// Exports every contract metric with its known label sets at 0, so dashboards and alerts see
/// the series from process start, before any work (`lifesync_last_successful_sync_timestamp_
/// seconds` excepted: a 0 there would read as "no sync since 1970").
fn register_known() {
    lifesync_jobs::metrics::register_known(&lifesync_jobs::payloads::queues::ALL);
    for p in ProviderId::ALL.map(ProviderId::as_str) {
        metrics::counter!(PROVIDER_RATE_LIMITED_TOTAL, "provider" => p).increment(0);
        for status in KNOWN_REQUEST_STATUSES {
            metrics::counter!(PROVIDER_REQUESTS_TOTAL, "provider" => p, "status" => status)
                .increment(0);
        }
        for trigger in TRIGGERS {
            for outcome in RUN_OUTCOMES {
                metrics::counter!(SYNC_RUNS_TOTAL,
                    "provider" => p.to_string(), "trigger" => trigger, "outcome" => outcome)
                .increment(0);
            }
        }
        for kind in ITEM_KINDS {
            for result in ITEM_RESULTS {
                metrics::counter!(SYNC_ITEMS_TOTAL,
                    "provider" => p.to_string(), "kind" => kind, "result" => result)
                .increment(0);
            }
        }
        for outcome in COMPLETION_OUTCOMES {
            metrics::counter!(OAUTH_COMPLETIONS_TOTAL,
                "provider" => p.to_string(), "outcome" => outcome)
            .increment(0);
        }
        for outcome in REFRESH_OUTCOMES {
            metrics::counter!(OAUTH_TOKEN_REFRESHES_TOTAL, "provider" => p, "outcome" => outcome)
                .increment(0);
        }
        for status in DataSourceStatus::ALL.map(DataSourceStatus::as_str) {
            metrics::gauge!(DATA_SOURCES, "provider" => p, "status" => status).increment(0.0);
        }
        for outcome in REVOCATION_OUTCOMES {
            metrics::counter!(ERASE_REVOCATIONS_TOTAL, "provider" => p, "outcome" => outcome)
                .increment(0);
        }
    }
    for outcome in WEBHOOK_OUTCOMES {
        metrics::counter!(WEBHOOK_DELIVERIES_TOTAL, "outcome" => outcome).increment(0);
    }
    metrics::gauge!(WEBHOOK_ENDPOINTS_FAILING).increment(0.0);
    for schedule in SCHEDULES {
        metrics::counter!(SCHEDULER_TICKS_TOTAL, "schedule" => schedule).increment(0);
    }
    metrics::gauge!(OAUTH_STATES_ACTIVE).increment(0.0);
}

fn describe() {
    lifesync_jobs::metrics::describe();
    metrics::describe_counter!(
        ERASE_REVOCATIONS_TOTAL,
        "Token revocations of user erases by provider and outcome (revoked, not_offered, \
         refused, unreachable: given up after the retries)"
    );
    metrics::describe_counter!(
        SYNC_RUNS_TOTAL,
        "Finished sync runs by provider, trigger and outcome"
    );
    metrics::describe_counter!(
        SYNC_ITEMS_TOTAL,
        "Synced items by provider, kind and result (new, updated, duplicate)"
    );
    metrics::describe_counter!(
        PROVIDER_REQUESTS_TOTAL,
        "Provider API requests by provider and HTTP status (or error)"
    );
    metrics::describe_counter!(
        PROVIDER_RATE_LIMITED_TOTAL,
        "Provider replies that throttled us, by provider"
    );
    metrics::describe_gauge!(DATA_SOURCES, "Data sources by provider and status");
    metrics::describe_counter!(
        OAUTH_COMPLETIONS_TOTAL,
        "Finished OAuth completions by provider and outcome (connected, failed)"
    );
    metrics::describe_gauge!(
        OAUTH_STATES_ACTIVE,
        "OAuth states issued and not yet consumed or expired"
    );
    metrics::describe_gauge!(
        LAST_SUCCESSFUL_SYNC,
        "Unix time of the most recent successful sync, by provider (refreshed from PostgreSQL)"
    );
    metrics::describe_counter!(
        SCHEDULER_TICKS_TOTAL,
        "Schedule ticks turned into fan-out jobs (or caught up at start), by schedule"
    );
    metrics::describe_counter!(
        WEBHOOK_DELIVERIES_TOTAL,
        "Webhook delivery attempts by outcome (delivered, retried, failed)"
    );
    metrics::describe_histogram!(
        WEBHOOK_DELIVERY_DURATION,
        metrics::Unit::Seconds,
        "Webhook delivery attempts: from connecting to the receiver's answer (or giving up)"
    );
    metrics::describe_gauge!(
        WEBHOOK_ENDPOINTS_FAILING,
        "Enabled webhook endpoints whose attempts have failed for an hour or more without a \
         success (refreshed from PostgreSQL)"
    );
    metrics::describe_counter!(
        OAUTH_TOKEN_REFRESHES_TOTAL,
        "Access-token renewals by provider and outcome (renewed, reauth_required, failed)"
    );
}

pub fn oauth_completion(provider: &str, connected: bool) {
    metrics::counter!(OAUTH_COMPLETIONS_TOTAL,
        "provider" => provider.to_string(),
        "outcome" => if connected { "connected" } else { "failed" })
    .increment(1);
}

pub fn scheduler_tick(schedule: &'static str) {
    metrics::counter!(SCHEDULER_TICKS_TOTAL, "schedule" => schedule).increment(1);
}

pub fn oauth_states_active(n: u64) {
    metrics::gauge!(OAUTH_STATES_ACTIVE).set(n as f64);
}

pub fn token_refreshed(provider: ProviderId, outcome: &'static str) {
    metrics::counter!(OAUTH_TOKEN_REFRESHES_TOTAL,
        "provider" => provider.as_str(), "outcome" => outcome)
    .increment(1);
}

pub fn sync_run_finished(provider: &str, trigger: &'static str, succeeded: bool) {
    metrics::counter!(SYNC_RUNS_TOTAL,
        "provider" => provider.to_string(), "trigger" => trigger,
        "outcome" => if succeeded { "succeeded" } else { "failed" })
    .increment(1);
}

/// A run ended `cancelled` (its source disconnected or deleted while it was live); counted by
/// whoever ended it, the disconnect or the worker. `trigger` as stored (an unknown one is
/// not counted: labels come from closed sets).
pub fn sync_run_cancelled(provider: &str, trigger: &str) {
    if let Some(trigger) = TRIGGERS.into_iter().find(|t| *t == trigger) {
        metrics::counter!(SYNC_RUNS_TOTAL,
            "provider" => provider.to_string(), "trigger" => trigger, "outcome" => "cancelled")
        .increment(1);
    }
}

pub fn sync_items(provider: &str, kind: &'static str, new: u64, updated: u64, duplicate: u64) {
    for (result, n) in [("new", new), ("updated", updated), ("duplicate", duplicate)] {
        if n > 0 {
            metrics::counter!(SYNC_ITEMS_TOTAL,
                "provider" => provider.to_string(), "kind" => kind, "result" => result)
            .increment(n);
        }
    }
}

/// A provider throttled us (any status: 429, Meta's throttling codes, Gmail's 403 reasons,
/// X's usage cap). Called only by `providers::http::throttled`, where replies are classified.
pub fn provider_rate_limited(provider: ProviderId) {
    metrics::counter!(PROVIDER_RATE_LIMITED_TOTAL, "provider" => provider.as_str()).increment(1);
}

/// One webhook delivery attempt: `delivered`, `retried` or `failed` (out of retries), and how
/// long it took.
pub fn webhook_delivery(outcome: &'static str, took: Duration) {
    metrics::counter!(WEBHOOK_DELIVERIES_TOTAL, "outcome" => outcome).increment(1);
    metrics::histogram!(WEBHOOK_DELIVERY_DURATION).record(took.as_secs_f64());
}

/// `lifesync_webhook_endpoints_failing` set to `n`.
pub fn webhook_endpoints_failing(n: u64) {
    metrics::gauge!(WEBHOOK_ENDPOINTS_FAILING).set(n as f64);
}

/// One provider request: its HTTP status, or `error` when no reply came.
pub fn provider_request(provider: &'static str, status: Option<u16>) {
    let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
    metrics::counter!(PROVIDER_REQUESTS_TOTAL, "provider" => provider, "status" => status)
        .increment(1);
}

/// `lifesync_data_sources{provider,status}` set to `n`.
pub fn data_sources(provider: ProviderId, status: DataSourceStatus, n: u64) {
    metrics::gauge!(DATA_SOURCES, "provider" => provider.as_str(), "status" => status.as_str())
        .set(n as f64);
}

/// `lifesync_last_successful_sync_timestamp_seconds{provider}` set to `unix_seconds`.
pub fn last_successful_sync(provider: ProviderId, unix_seconds: f64) {
    metrics::gauge!(LAST_SUCCESSFUL_SYNC, "provider" => provider.as_str()).set(unix_seconds);
}

/// Serves `GET /metrics` on `addr` (worker and scheduler processes, `METRICS_ADDR`) until
/// `shutdown`.
pub async fn serve(
    addr: &str,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    use poem::{get, handler, Route};
    #[handler]
    fn render() -> String {
        handle().render()
    }
    crate::http::serve(
        addr,
        Route::new().at("/metrics", get(render)),
        |a| tracing::info!("metrics on http://{a}/metrics"),
        shutdown,
        Duration::from_secs(2),
    )
    .await
}

/// One source's revocation during a user erase ended with `outcome` (one of
/// [`REVOCATION_OUTCOMES`]).
pub fn erase_revocation(provider: &str, outcome: &'static str) {
    metrics::counter!(ERASE_REVOCATIONS_TOTAL, "provider" => provider.to_string(), "outcome" => outcome)
        .increment(1);
}

#[cfg(test)]
mod tests {
    #[test]
    fn recorded_metrics_render() {
        let h = super::handle();
        super::provider_request("twitter", Some(200));
        let text = h.render();
        assert!(
            text.contains(r#"lifesync_provider_requests_total{provider="twitter",status="200"} 1"#),
            "{text}"
        );
    }
}
