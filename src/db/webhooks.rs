//! Webhook endpoints, events, deliveries and attempts (migration `20261207120000_webhooks`).
//! Events are written by [`emit`] (and by the migration's triggers, in the transactions that
//! end runs or change a source's status); the dispatcher takes undispatched deliveries
//! ([`take_undispatched`]); the delivery job reads one ([`delivery`]) and records each attempt
//! with its consequences in one transaction ([`record_attempt`]).

use super::pinned::pinned;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// An endpoint as the API shows it (never its secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub user_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub status: String,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ENDPOINT_COLUMNS: &str = "id, user_id, url, events, description, enabled, status, \
                                failing_since, created_at, updated_at";

/// A new endpoint.
pub struct NewEndpoint<'a> {
    pub user_id: &'a str,
    pub url: &'a str,
    pub events: &'a [String],
    pub description: Option<&'a str>,
    pub sealed_secret: &'a str,
}

/// Creates an endpoint (and the user row, for a user with no source yet) unless the user has
/// `max` already: None then.
pub async fn insert_endpoint(
    pool: &PgPool,
    new: NewEndpoint<'_>,
    max: i64,
) -> sqlx::Result<Option<EndpointRow>> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(new.user_id)
        .execute(&mut *tx)
        .await?;
    // The user row, locked: concurrent registrations of one user count in turn.
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(new.user_id)
        .execute(&mut *tx)
        .await?;
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints WHERE user_id = $1")
        .bind(new.user_id)
        .fetch_one(&mut *tx)
        .await?;
    if have >= max {
        return Ok(None);
    }
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO webhook_endpoints (id, user_id, url, events, description, sealed_secret)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ENDPOINT_COLUMNS}"
    )))
    .bind(Uuid::new_v4())
    .bind(new.user_id)
    .bind(new.url)
    .bind(new.events)
    .bind(new.description)
    .bind(new.sealed_secret)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(row))
}

/// The endpoints of `user_id` (None: everyone's, for an admin), oldest first, at most `limit`.
pub async fn list(
    pool: &PgPool,
    user_id: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<EndpointRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
          WHERE $1::text IS NULL OR user_id = $1
          ORDER BY created_at, id LIMIT $2"
    )))
    .bind(user_id)
    .bind(limit)
    .fetch_all(pinned(pool))
    .await
}

pub async fn get(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pinned(pool))
    .await
}

/// What a PATCH changes (None: unchanged).
#[derive(Default)]
pub struct EndpointChange<'a> {
    pub url: Option<&'a str>,
    pub events: Option<&'a [String]>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
    /// A new sealed secret: the current one becomes the previous one until `previous_until`.
    pub rotate: Option<(&'a str, DateTime<Utc>)>,
}

/// Applies a change; None when the endpoint does not exist. Disabling cancels its pending
/// deliveries (re-enabling does not bring them back).
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    change: EndpointChange<'_>,
) -> sqlx::Result<Option<EndpointRow>> {
    let mut tx = pool.begin().await?;
    let row: Option<EndpointRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_endpoints SET
                url = COALESCE($2, url),
                events = COALESCE($3, events),
                description = COALESCE($4, description),
                enabled = COALESCE($5, enabled),
                sealed_previous_secret = CASE WHEN $6::text IS NULL THEN sealed_previous_secret
                                              ELSE sealed_secret END,
                previous_secret_expires_at = CASE WHEN $6::text IS NULL
                                                  THEN previous_secret_expires_at ELSE $7 END,
                sealed_secret = COALESCE($6, sealed_secret),
                updated_at = now()
          WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}"
    )))
    .bind(id)
    .bind(change.url)
    .bind(change.events)
    .bind(change.description)
    .bind(change.enabled)
    .bind(change.rotate.map(|r| r.0))
    .bind(change.rotate.map(|r| r.1))
    .fetch_optional(&mut *tx)
    .await?;
    if change.enabled == Some(false) {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'cancelled', finished_at = now()
              WHERE endpoint_id = $1 AND status = 'pending'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Deletes an endpoint with its deliveries and attempts; false when there was none.
pub async fn delete(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(pinned(pool))
        .await?
        .rows_affected()
        > 0)
}

/// One attempt, as `GET /api/v1/webhooks/{id}/deliveries` shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: i64,
    pub delivery_id: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub attempted_at: DateTime<Utc>,
    pub outcome: String,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub delivery_status: String,
}

/// The endpoint's last `limit` attempts, newest first.
pub async fn attempts(
    pool: &PgPool,
    endpoint_id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<AttemptRow>> {
    sqlx::query_as(
        "SELECT a.id, a.delivery_id, d.event_id, e.type AS event_type, a.attempted_at, a.outcome,
                a.status_code, a.latency_ms, a.error, d.status AS delivery_status
           FROM webhook_attempts a
           JOIN webhook_deliveries d ON d.id = a.delivery_id
           JOIN webhook_events e ON e.id = d.event_id
          WHERE a.endpoint_id = $1
          ORDER BY a.id DESC LIMIT $2",
    )
    .bind(endpoint_id)
    .bind(limit)
    .fetch_all(pinned(pool))
    .await
}

/// Records event `kind` for `user_id` in the caller's transaction, with a delivery to each of
/// their enabled endpoints that wants it; returns how many deliveries were made. The event's
/// id is `event_id`: emitting it again (a retried job) records nothing.
pub async fn emit(
    conn: &mut PgConnection,
    user_id: &str,
    kind: &str,
    data: &serde_json::Value,
    event_id: Uuid,
) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT lifesync_webhook_emit($1, $2, $3, $4)")
        .bind(user_id)
        .bind(kind)
        .bind(data)
        .bind(event_id)
        .fetch_one(conn)
        .await
}

/// Up to `limit` undispatched deliveries, oldest first, locked for this transaction (others
/// skip them); the caller enqueues them and then calls [`mark_dispatched`] before committing.
pub async fn take_undispatched(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM webhook_deliveries WHERE NOT dispatched
          ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

pub async fn mark_dispatched(tx: &mut Transaction<'_, Postgres>, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query("UPDATE webhook_deliveries SET dispatched = true WHERE id = ANY($1)")
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A delivery with what sending it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub status: String,
    pub attempts: i32,
    pub window_start: DateTime<Utc>,
    pub endpoint_id: Uuid,
    pub url: String,
    pub enabled: bool,
    pub sealed_secret: String,
    pub sealed_previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub event_id: Uuid,
    pub event_type: String,
    pub event_data: serde_json::Value,
    pub event_at: DateTime<Utc>,
}

pub async fn delivery(pool: &PgPool, id: i64) -> sqlx::Result<Option<DeliveryRow>> {
    sqlx::query_as(
        "SELECT d.id, d.status, d.attempts, d.window_start, d.endpoint_id, p.url, p.enabled,
                p.sealed_secret, p.sealed_previous_secret, p.previous_secret_expires_at,
                e.id AS event_id, e.type AS event_type, e.data AS event_data,
                e.created_at AS event_at
           FROM webhook_deliveries d
           JOIN webhook_endpoints p ON p.id = d.endpoint_id
           JOIN webhook_events e ON e.id = d.event_id
          WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(pinned(pool))
    .await
}

/// The deliveries of the same endpoint before `id` still pending, if any.
pub struct Ahead {
    /// How many.
    pub count: i64,
    /// The first one's attempts so far, and when its next attempt is due.
    pub head_attempts: i32,
    pub head_next_at: Option<DateTime<Utc>>,
}

/// What is ahead of delivery `id` in its endpoint's line (deliveries to one endpoint go out
/// in order).
pub async fn ahead(pool: &PgPool, endpoint_id: Uuid, id: i64) -> sqlx::Result<Option<Ahead>> {
    let row: (i64, Option<i32>, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*), (array_agg(attempts ORDER BY id))[1],
                (array_agg(next_attempt_at ORDER BY id))[1]
           FROM webhook_deliveries
          WHERE endpoint_id = $1 AND status = 'pending' AND id < $2",
    )
    .bind(endpoint_id)
    .bind(id)
    .fetch_one(pinned(pool))
    .await?;
    Ok((row.0 > 0).then(|| Ahead {
        count: row.0,
        head_attempts: row.1.unwrap_or(0),
        head_next_at: row.2,
    }))
}

/// Sets a delivery's status (`cancelled`; `pending` again for a re-driven dead one, with a new
/// retry window).
pub async fn set_status(pool: &PgPool, id: i64, status: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2,
                window_start = CASE WHEN $2 = 'pending' THEN now() ELSE window_start END,
                finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END
          WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .execute(pinned(pool))
    .await?;
    Ok(())
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    Delivered,
    /// Another attempt at this time.
    Retry(DateTime<Utc>),
    /// Out of retries: the delivery is dead and the endpoint `failing`.
    Dead,
}

/// One attempt as recorded.
pub struct AttemptRecord<'a> {
    pub status_code: Option<u16>,
    pub latency_ms: i32,
    pub error: Option<&'a str>,
    pub end: AttemptEnd,
}

/// Records an attempt, the delivery's new state and the endpoint's health in one transaction.
pub async fn record_attempt(
    pool: &PgPool,
    delivery: &DeliveryRow,
    attempt: AttemptRecord<'_>,
) -> sqlx::Result<()> {
    let (outcome, status, next) = match attempt.end {
        AttemptEnd::Delivered => ("delivered", "delivered", None),
        AttemptEnd::Retry(at) => ("retried", "pending", Some(at)),
        AttemptEnd::Dead => ("failed", "dead", None),
    };
    let health = match attempt.end {
        AttemptEnd::Delivered => {
            "UPDATE webhook_endpoints SET failing_since = NULL, status = 'active' WHERE id = $1"
        }
        AttemptEnd::Retry(_) => {
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now())
              WHERE id = $1"
        }
        AttemptEnd::Dead => {
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now()),
                    status = 'failing' WHERE id = $1"
        }
    };
    let mut tx = pool.begin().await?;
    // The endpoint's row first, as an erase or a delete locks it (then its deliveries by
    // cascade): the same order, so a delivery racing an erase waits instead of deadlocking.
    let endpoint = sqlx::query(health)
        .bind(delivery.endpoint_id)
        .execute(&mut *tx)
        .await?;
    if endpoint.rows_affected() == 0 {
        return Ok(()); // the endpoint was deleted meanwhile: nothing to record
    }
    sqlx::query(
        "INSERT INTO webhook_attempts
            (delivery_id, endpoint_id, outcome, status_code, latency_ms, error)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(delivery.id)
    .bind(delivery.endpoint_id)
    .bind(outcome)
    .bind(attempt.status_code.map(i32::from))
    .bind(attempt.latency_ms)
    .bind(attempt.error)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = $3,
                finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END
          WHERE id = $1",
    )
    .bind(delivery.id)
    .bind(status)
    .bind(next)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Enabled endpoints whose attempts have failed without a success for at least `for_at_least`
/// (the `lifesync_webhook_endpoints_failing` gauge).
pub async fn count_failing(pool: &PgPool, for_at_least: std::time::Duration) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM webhook_endpoints
          WHERE enabled AND failing_since <= now() - make_interval(secs => $1)",
    )
    .bind(for_at_least.as_secs_f64())
    .fetch_one(pinned(pool))
    .await
}

/// Deletes finished deliveries' events, and attempts, older than `age` (retention).
pub async fn prune(pool: &PgPool, age: std::time::Duration) -> sqlx::Result<u64> {
    let secs = age.as_secs_f64();
    let attempts = sqlx::query(
        "DELETE FROM webhook_attempts WHERE attempted_at < now() - make_interval(secs => $1)",
    )
    .bind(secs)
    .execute(pinned(pool))
    .await?
    .rows_affected();
    let events = sqlx::query(
        "DELETE FROM webhook_events e WHERE created_at < now() - make_interval(secs => $1)
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                             WHERE d.event_id = e.id AND d.status = 'pending')",
    )
    .bind(secs)
    .execute(pinned(pool))
    .await?
    .rows_affected();
    Ok(attempts + events)
}

/// A connection listening for `NOTIFY lifesync_webhooks` (an event was committed).
pub async fn listen(pool: &PgPool) -> sqlx::Result<sqlx::postgres::PgListener> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen("lifesync_webhooks").await?;
    Ok(listener)
}
