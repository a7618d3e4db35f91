//! `DeliverWebhook`: one event to one endpoint. The delivery's row says what is left to do (a
//! re-delivered job of a delivered one does nothing; a dead one is being re-driven by an admin
//! and starts a new 24-hour window). Deliveries to one endpoint go out in their order: while
//! an earlier one is pending, this one waits for it. Each attempt is signed with every secret
//! in force, POSTed through the guarded sender, and recorded with the delivery's next state in
//! one transaction; a failure comes back after the larger of an exponential, jittered backoff
//! (5 s doubling to 1 h) and the receiver's `Retry-After`, until 24 hours have passed — then
//! the delivery is dead, the endpoint `failing`, and the job dead-lettered (re-drivable with
//! `POST /api/v1/admin/jobs/{id}/retry`). The body carries the event's ids and counts only.

use std::time::Duration;

use apalis_core::task::data::Data;
use chrono::{SecondsFormat, Utc};
use lifesync_jobs::{payloads::DeliverWebhook, JobError, JobLease, RetryPolicy};
use reqwest::header::{HeaderMap, HeaderValue};

use super::SharedDeps;
use crate::{
    crypto::TokenCipher,
    db::webhooks::{self, AttemptEnd, AttemptRecord, DeliveryRow},
    metrics,
    webhooks::signing,
};

/// How long a delivery keeps being retried.
pub const RETRY_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// The wait in line per delivery ahead (so a long line is re-checked a few times, not once
/// per delivery: each re-check is a deferral, and a job's deferrals are capped).
const WAIT_PER_DELIVERY_AHEAD: Duration = Duration::from_millis(100);
/// The shortest wait in line.
const MIN_WAIT_IN_LINE: Duration = Duration::from_millis(250);

/// Backoff between failed attempts (before `Retry-After` is taken into account).
pub fn backoff() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_secs(5),
        factor: 2.0,
        max: Duration::from_secs(3600),
        jitter: 0.2,
    }
}

/// The job handler.
pub async fn handle(
    job: DeliverWebhook,
    deps: Data<SharedDeps>,
    lease: Data<JobLease>,
) -> Result<(), JobError> {
    let span = tracing::debug_span!("deliver_webhook", job_id = %lease.id,
                                    delivery_id = job.delivery_id);
    tracing::Instrument::instrument(deliver(&deps, job.delivery_id), span).await
}

fn database(e: sqlx::Error) -> JobError {
    JobError::retryable(format!("database: {e}"))
}

async fn deliver(deps: &SharedDeps, id: i64) -> Result<(), JobError> {
    let Some(mut d) = webhooks::delivery(&deps.pool, id).await.map_err(database)? else {
        return Ok(()); // its endpoint (or user) was deleted
    };
    match d.status.as_str() {
        "pending" => {}
        "dead" => {
            // Only a re-drive runs a dead delivery's job again.
            webhooks::set_status(&deps.pool, id, "pending")
                .await
                .map_err(database)?;
            d.window_start = Utc::now();
        }
        _ => return Ok(()),
    }
    if !d.enabled {
        webhooks::set_status(&deps.pool, id, "cancelled")
            .await
            .map_err(database)?;
        return Ok(());
    }
    if let Some(ahead) = webhooks::ahead(&deps.pool, d.endpoint_id, id)
        .await
        .map_err(database)?
    {
        return Err(JobError::retry_after(
            wait_in_line(&ahead),
            "waiting for earlier deliveries to the same endpoint",
        ));
    }

    let (headers, body) = signed_request(deps, &d)?;
    let attempt = deps.webhooks.send(&d.url, headers, body).await;
    let now = Utc::now();
    let (end, wait) = if attempt.delivered() {
        (AttemptEnd::Delivered, None)
    } else if (now - d.window_start).to_std().unwrap_or_default() >= RETRY_WINDOW {
        (AttemptEnd::Dead, None)
    } else {
        let backoff = backoff().delay(d.attempts as u32 + 1);
        let wait = attempt.retry_after.map_or(backoff, |r| r.max(backoff));
        let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
        (AttemptEnd::Retry(at), Some(wait))
    };
    let record = AttemptRecord {
        status_code: attempt.status,
        latency_ms: attempt.latency.as_millis().min(i32::MAX as u128) as i32,
        error: attempt.error.as_deref(),
        end,
    };
    webhooks::record_attempt(&deps.pool, &d, record)
        .await
        .map_err(database)?;
    let answer = attempt.status.map_or_else(
        || attempt.error.clone().unwrap_or_default(),
        |s| format!("the receiver answered {s}"),
    );
    match end {
        AttemptEnd::Delivered => {
            metrics::webhook_delivery("delivered", attempt.latency);
            tracing::debug!(status = attempt.status, "webhook delivered");
            Ok(())
        }
        AttemptEnd::Retry(_) => {
            metrics::webhook_delivery("retried", attempt.latency);
            Err(JobError::retry_after(wait.unwrap_or_default(), answer))
        }
        AttemptEnd::Dead => {
            metrics::webhook_delivery("failed", attempt.latency);
            tracing::warn!(endpoint_id = %d.endpoint_id, "webhook delivery gave up after 24 h");
            Err(JobError::permanent(format!(
                "retried for 24 hours; last: {answer}"
            )))
        }
    }
}

/// How long to wait before looking at the line again: the first one's next attempt if it is
/// retrying, plus a share for each delivery ahead.
fn wait_in_line(ahead: &webhooks::Ahead) -> Duration {
    let head = match ahead.head_attempts {
        0 => Duration::ZERO,
        _ => ahead
            .head_next_at
            .and_then(|n| (n - Utc::now()).to_std().ok())
            .unwrap_or_default(),
    };
    let share = WAIT_PER_DELIVERY_AHEAD * ahead.count.clamp(1, 36_000) as u32;
    (head + share).clamp(MIN_WAIT_IN_LINE, Duration::from_secs(3600))
}

/// The Standard Webhooks headers and the body of a delivery.
fn signed_request(deps: &SharedDeps, d: &DeliveryRow) -> Result<(HeaderMap, Vec<u8>), JobError> {
    let cipher = TokenCipher::new(&deps.token_key);
    let current = cipher.open_string(&d.sealed_secret).map_err(|_| {
        JobError::permanent("the endpoint's secret does not open with any configured key")
    })?;
    let previous = d
        .sealed_previous_secret
        .as_deref()
        .filter(|_| d.previous_secret_expires_at.is_some_and(|t| t > Utc::now()))
        .and_then(|s| cipher.open_string(s).ok());
    let body = serde_json::to_vec(&serde_json::json!({
        "type": d.event_type,
        "timestamp": d.event_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": d.event_data,
    }))
    .map_err(|e| JobError::permanent(format!("event: {e}")))?;
    let msg_id = format!("msg_{}", d.event_id.simple());
    let timestamp = Utc::now().timestamp();
    let secrets = std::iter::once(current.as_str()).chain(previous.as_deref());
    let signature = signing::signature_header(secrets, &msg_id, timestamp, &body);
    let mut headers = HeaderMap::new();
    let value = |v: &str| HeaderValue::from_str(v).map_err(|_| JobError::permanent("header"));
    headers.insert("webhook-id", value(&msg_id)?);
    headers.insert("webhook-timestamp", value(&timestamp.to_string())?);
    headers.insert("webhook-signature", value(&signature)?);
    Ok((headers, body))
}
