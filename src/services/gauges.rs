//! The gauges a process refreshes from the stores on a period (web and `dev`): data sources by
//! provider and status, each provider's last successful sync and the webhook endpoints failing
//! for an hour from PostgreSQL, active OAuth states from Redis. Counters are recorded where their events happen; these are states.

use std::time::Duration;

use sqlx::PgPool;

use crate::{
    db::data_sources,
    domain::{DataSourceStatus, ProviderId},
    metrics,
    oauth::state::StateStore,
};

/// Refreshes `lifesync_data_sources` and `lifesync_last_successful_sync_timestamp_seconds`
/// from PostgreSQL every `every`, until dropped.
pub async fn report_data_sources(pool: PgPool, every: Duration) {
    loop {
        if let Ok(rows) = data_sources::count_by_provider_and_status(&pool).await {
            for p in ProviderId::ALL {
                for s in DataSourceStatus::ALL {
                    let n = rows
                        .iter()
                        .find(|(rp, rs, _)| rp == p.as_str() && rs == s.as_str())
                        .map_or(0, |r| r.2);
                    metrics::data_sources(p, s, n.max(0) as u64);
                }
            }
        }
        if let Ok(rows) = data_sources::last_success_by_provider(&pool).await {
            for (p, t) in rows {
                if let Some(p) = ProviderId::parse(&p) {
                    metrics::last_successful_sync(p, t);
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// Refreshes `lifesync_webhook_endpoints_failing` (failing for an hour or more) from
/// PostgreSQL every `every`, until dropped.
pub async fn report_webhooks(pool: PgPool, every: Duration) {
    loop {
        if let Ok(n) = crate::db::webhooks::count_failing(&pool, Duration::from_secs(3600)).await {
            metrics::webhook_endpoints_failing(n.max(0) as u64);
        }
        tokio::time::sleep(every).await;
    }
}

/// Refreshes `lifesync_oauth_states_active` from Redis every `every`, until dropped.
pub async fn report_oauth_states(states: StateStore, every: Duration) {
    loop {
        if let Ok(s) = states.stats().await {
            metrics::oauth_states_active(s.active_states);
        }
        tokio::time::sleep(every).await;
    }
}
