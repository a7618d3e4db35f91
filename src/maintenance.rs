//! Background upkeep that runs in every worker process (idempotent, so several may run it):
//! ending sync runs that have made no progress for the run deadline
//! (`SYNC_RUN_DEADLINE_SECONDS`), so a lost job can never block its data source for good.

use std::time::Duration;

use sqlx::PgPool;

/// Sweeps stuck runs every `every` until dropped.
pub async fn sweep_stuck_runs(pool: PgPool, deadline: Duration, every: Duration) {
    loop {
        match crate::db::sync_runs::fail_stuck(&pool, deadline).await {
            Ok(ended) if !ended.is_empty() => {
                for (run, source) in &ended {
                    tracing::warn!(sync_run_id = %run, data_source_id = %source,
                                   "sync run ended by the deadline");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "stuck-run sweep failed"),
        }
        tokio::time::sleep(every).await;
    }
}
