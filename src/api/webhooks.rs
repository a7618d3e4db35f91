//! The caller's webhook endpoints: register (`POST`, the signing secret shown once), list,
//! read, change (`PATCH`: URL, events, description, enable/disable, secret rotation), delete,
//! and the last delivery attempts. An admin sees and manages everyone's; anyone else sees only
//! their own, and another user's endpoint is 404 as if it did not exist. Rules live in
//! `services::webhooks`; targets are checked there (and again at every delivery).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Enum, Object, OpenApi,
};
use uuid::Uuid;

use super::{auth::User, error::ApiError, AppState, Tags};
use crate::{
    db::webhooks::{self as rows, AttemptRow, EndpointRow},
    services::webhooks::{self as hooks, Change, EndpointError, Registration},
    webhooks::{events::EventType, target::TargetError},
};

/// An event an endpoint can receive.
#[derive(Enum, Clone, Copy)]
enum EventName {
    #[oai(rename = "connection.created")]
    ConnectionCreated,
    #[oai(rename = "connection.failed")]
    ConnectionFailed,
    #[oai(rename = "data_source.status_changed")]
    DataSourceStatusChanged,
    #[oai(rename = "sync.succeeded")]
    SyncSucceeded,
    #[oai(rename = "sync.failed")]
    SyncFailed,
    #[oai(rename = "items.changed")]
    ItemsChanged,
}

impl From<EventName> for EventType {
    fn from(e: EventName) -> Self {
        match e {
            EventName::ConnectionCreated => Self::ConnectionCreated,
            EventName::ConnectionFailed => Self::ConnectionFailed,
            EventName::DataSourceStatusChanged => Self::DataSourceStatusChanged,
            EventName::SyncSucceeded => Self::SyncSucceeded,
            EventName::SyncFailed => Self::SyncFailed,
            EventName::ItemsChanged => Self::ItemsChanged,
        }
    }
}

fn event_names(events: &[EventName]) -> Vec<String> {
    events
        .iter()
        .map(|&e| EventType::from(e).as_str().to_string())
        .collect()
}

#[derive(Object)]
struct NewWebhook {
    /// The receiver: `https`, not on a loopback or private address.
    #[oai(validator(min_length = 1, max_length = 2048))]
    url: String,
    /// Events to receive: `connection.created`, `connection.failed`,
    /// `data_source.status_changed`, `sync.succeeded`, `sync.failed`, `items.changed`.
    #[oai(validator(min_items = 1, max_items = 6))]
    events: Vec<EventName>,
    #[oai(validator(max_length = 500))]
    description: Option<String>,
}

#[derive(Object)]
struct WebhookChange {
    #[oai(validator(min_length = 1, max_length = 2048))]
    url: Option<String>,
    #[oai(validator(min_items = 1, max_items = 6))]
    events: Option<Vec<EventName>>,
    #[oai(validator(max_length = 500))]
    description: Option<String>,
    /// False stops deliveries (pending ones are cancelled); true resumes them.
    enabled: Option<bool>,
    /// True issues a new secret (answered once); the previous one keeps signing for 24 hours.
    rotate_secret: Option<bool>,
}

/// An endpoint (its secret is never shown again).
#[derive(Object)]
struct Webhook {
    id: Uuid,
    url: String,
    events: Vec<String>,
    description: Option<String>,
    enabled: bool,
    /// `active`, or `failing` once a delivery ran out of its 24 hours of retries (until the
    /// next success).
    status: String,
    /// Since when attempts have failed without a success (none: the last attempt worked).
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The signing secret, only in the answer that created or rotated it.
    #[oai(skip_serializing_if_is_none)]
    secret: Option<String>,
}

impl Webhook {
    fn new(r: EndpointRow, secret: Option<String>) -> Self {
        Self {
            id: r.id,
            url: r.url,
            events: r.events,
            description: r.description,
            enabled: r.enabled,
            status: r.status,
            failing_since: r.failing_since,
            created_at: r.created_at,
            updated_at: r.updated_at,
            secret,
        }
    }
}

#[derive(Object)]
struct WebhookList {
    webhooks: Vec<Webhook>,
}

/// One delivery attempt.
#[derive(Object)]
struct DeliveryAttempt {
    id: i64,
    delivery_id: i64,
    /// The event's id, as `webhook-id` carries it (`msg_` + this without dashes).
    event_id: Uuid,
    event_type: String,
    attempted_at: DateTime<Utc>,
    /// `delivered`, `retried` (another attempt follows) or `failed` (out of retries).
    outcome: String,
    /// The receiver's HTTP status; none when it did not answer.
    status_code: Option<i32>,
    latency_ms: i32,
    /// Why there was no answer (timeout, refused target, TLS), in our words.
    error: Option<String>,
    /// The delivery's state now: `pending`, `delivered`, `dead` or `cancelled`.
    delivery_status: String,
}

impl From<AttemptRow> for DeliveryAttempt {
    fn from(a: AttemptRow) -> Self {
        Self {
            id: a.id,
            delivery_id: a.delivery_id,
            event_id: a.event_id,
            event_type: a.event_type,
            attempted_at: a.attempted_at,
            outcome: a.outcome,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error,
            delivery_status: a.delivery_status,
        }
    }
}

#[derive(Object)]
struct DeliveryList {
    deliveries: Vec<DeliveryAttempt>,
}

#[derive(ApiResponse)]
enum Created {
    /// Registered; `secret` is shown this once.
    #[oai(status = 201)]
    Created(Json<Webhook>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted, with its deliveries.
    #[oai(status = 204)]
    NoContent,
}

/// Most endpoints an admin's list shows.
const ADMIN_LIST_LIMIT: i64 = 1000;

fn refused(e: EndpointError) -> poem::Error {
    let bad = |code, e: &dyn std::fmt::Display| ApiError::BadRequest(code, e.to_string()).into();
    match e {
        EndpointError::Target(t @ TargetError::Forbidden) => bad("webhook_target_forbidden", &t),
        EndpointError::Target(t) => bad("invalid_webhook_url", &t),
        e @ EndpointError::Events => bad("invalid_event_type", &e),
        e @ EndpointError::Description => bad("invalid_parameter", &e),
        e @ EndpointError::TooMany => ApiError::Conflict {
            code: "too_many_webhooks",
            message: e.to_string(),
            details: serde_json::json!({ "max": hooks::MAX_ENDPOINTS_PER_USER }),
        }
        .into(),
        EndpointError::Database(e) => ApiError::internal(e).into(),
    }
}

/// The endpoint if the caller may see it (theirs, or any for an admin); else 404.
async fn visible(state: &AppState, user: &User, id: Uuid) -> poem::Result<EndpointRow> {
    match rows::get(&state.pool, id)
        .await
        .map_err(ApiError::internal)?
    {
        Some(r) if r.user_id == user.0.sub || user.0.is_admin() => Ok(r),
        _ => Err(ApiError::NotFound.into()),
    }
}

fn token_key(state: &AppState) -> poem::Result<&crate::crypto::TokenKey> {
    state
        .token_key
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("webhooks").into())
}

pub struct WebhooksApi;

#[OpenApi(prefix_path = "/api/v1/webhooks", tag = "Tags::Webhooks")]
impl WebhooksApi {
    /// Registers an endpoint for the caller's events. The answer holds the signing secret
    /// (`whsec_…`), shown this once; deliveries are signed per the Standard Webhooks
    /// specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        user: User,
        state: Data<&AppState>,
        body: Json<NewWebhook>,
    ) -> poem::Result<Created> {
        let key = token_key(&state)?;
        let events = event_names(&body.events);
        let registration = Registration {
            user_id: &user.0.sub,
            url: &body.url,
            events: &events,
            description: body.description.as_deref(),
        };
        let (row, secret) = hooks::register(
            &state.pool,
            key,
            state.webhook_allow_private_targets,
            registration,
        )
        .await
        .map_err(refused)?;
        Ok(Created::Created(Json(Webhook::new(row, Some(secret)))))
    }

    /// The caller's endpoints (an admin: everyone's, the first 1000), oldest first.
    #[oai(path = "/", method = "get")]
    async fn list(&self, user: User, state: Data<&AppState>) -> poem::Result<Json<WebhookList>> {
        let owner = (!user.0.is_admin()).then_some(user.0.sub.as_str());
        let rows = rows::list(&state.pool, owner, ADMIN_LIST_LIMIT)
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(WebhookList {
            webhooks: rows.into_iter().map(|r| Webhook::new(r, None)).collect(),
        }))
    }

    /// One endpoint.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> poem::Result<Json<Webhook>> {
        Ok(Json(Webhook::new(
            visible(&state, &user, id.0).await?,
            None,
        )))
    }

    /// Changes an endpoint: any of `url`, `events`, `description`, `enabled`, and
    /// `rotate_secret: true` for a new secret (answered once; the previous one keeps signing
    /// for 24 hours).
    #[oai(path = "/:id", method = "patch")]
    async fn change(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
        body: Json<WebhookChange>,
    ) -> poem::Result<Json<Webhook>> {
        visible(&state, &user, id.0).await?;
        let key = token_key(&state)?;
        let events = body.events.as_deref().map(event_names);
        let change = Change {
            url: body.url.as_deref(),
            events: events.as_deref(),
            description: body.description.as_deref(),
            enabled: body.enabled,
            rotate_secret: body.rotate_secret == Some(true),
        };
        match hooks::change(
            &state.pool,
            key,
            state.webhook_allow_private_targets,
            id.0,
            change,
        )
        .await
        .map_err(refused)?
        {
            Some((row, secret)) => Ok(Json(Webhook::new(row, secret))),
            None => Err(ApiError::NotFound.into()),
        }
    }

    /// Deletes an endpoint with its pending deliveries and their history.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> poem::Result<Deleted> {
        visible(&state, &user, id.0).await?;
        rows::delete(&state.pool, id.0)
            .await
            .map_err(ApiError::internal)?;
        Ok(Deleted::NoContent)
    }

    /// The endpoint's last delivery attempts, newest first (`limit` ≤ 200, default 50): status,
    /// latency and the receiver's status code.
    #[oai(path = "/:id/deliveries", method = "get")]
    async fn deliveries(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<i64>>,
    ) -> poem::Result<Json<DeliveryList>> {
        visible(&state, &user, id.0).await?;
        let rows = rows::attempts(&state.pool, id.0, limit.0.unwrap_or(50))
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(DeliveryList {
            deliveries: rows.into_iter().map(Into::into).collect(),
        }))
    }
}
