//! Webhook endpoints and the dispatcher. Registration checks the target ([`check_target`]:
//! scheme, credentials, forbidden addresses, and the name's addresses now), generates the
//! signing secret (shown once; stored sealed with the token key) and keeps a user to
//! [`MAX_ENDPOINTS_PER_USER`]; rotation keeps the previous secret signing for
//! [`PREVIOUS_SECRET_VALID`].
//!
//! The dispatcher ([`run_dispatcher`], in every worker process) turns undispatched deliveries
//! into `DeliverWebhook` jobs: woken by `NOTIFY lifesync_webhooks` when an event is committed,
//! and sweeping every few seconds whatever happened to the notification (a worker that was
//! down, a lost connection). Several dispatchers never offer one delivery twice at once (row
//! locks, `SKIP LOCKED`), and a delivery offered twice is one job (its id is the delivery's).

use std::time::Duration;

use chrono::Utc;
use lifesync_jobs::{payloads::DeliverWebhook, EnqueueOptions, Producer};
use sqlx::PgPool;

use crate::{
    crypto::{TokenCipher, TokenKey},
    db::webhooks::{self as rows, EndpointChange, EndpointRow, NewEndpoint},
    webhooks::{
        events::EventType,
        signing,
        target::{self, TargetError},
    },
};

/// Endpoints one user may have.
pub const MAX_ENDPOINTS_PER_USER: i64 = 20;
/// How long a rotated-out secret keeps signing.
pub const PREVIOUS_SECRET_VALID: Duration = Duration::from_secs(24 * 3600);
/// Longest description kept.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Deliveries dispatched per transaction.
const DISPATCH_BATCH: i64 = 500;

/// Why a registration or change is refused (each a 4xx with a stable code in the API).
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("events must name at least one of: {}", known_events())]
    Events,
    #[error("description is longer than {MAX_DESCRIPTION_CHARS} characters")]
    Description,
    #[error("at most {MAX_ENDPOINTS_PER_USER} webhook endpoints per user")]
    TooMany,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn known_events() -> String {
    EventType::ALL.map(EventType::as_str).join(", ")
}

/// The events as stored: known names only, each once, at least one.
pub fn check_events(events: &[String]) -> Result<Vec<String>, EndpointError> {
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let kind = EventType::parse(e).ok_or(EndpointError::Events)?;
        if !out.iter().any(|o| o == kind.as_str()) {
            out.push(kind.as_str().to_string());
        }
    }
    if out.is_empty() {
        return Err(EndpointError::Events);
    }
    Ok(out)
}

/// The URL checked, its name resolved now (a name on a forbidden address is refused).
pub async fn check_target(url: &str, allow_private: bool) -> Result<String, EndpointError> {
    let parsed = target::check_url(url, allow_private)?;
    target::check_resolved(&parsed, allow_private).await?;
    Ok(parsed.to_string())
}

fn check_description(d: Option<&str>) -> Result<(), EndpointError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => Err(EndpointError::Description),
        _ => Ok(()),
    }
}

/// A new endpoint: what to register.
pub struct Registration<'a> {
    pub user_id: &'a str,
    pub url: &'a str,
    pub events: &'a [String],
    pub description: Option<&'a str>,
}

/// Registers an endpoint; returns it with its secret (the only time the secret is shown).
pub async fn register(
    pool: &PgPool,
    key: &TokenKey,
    allow_private: bool,
    r: Registration<'_>,
) -> Result<(EndpointRow, String), EndpointError> {
    let events = check_events(r.events)?;
    check_description(r.description)?;
    let url = check_target(r.url, allow_private).await?;
    let secret = signing::new_secret();
    let sealed = TokenCipher::new(key).seal_to_string(&secret);
    let new = NewEndpoint {
        user_id: r.user_id,
        url: &url,
        events: &events,
        description: r.description,
        sealed_secret: &sealed,
    };
    let row = rows::insert_endpoint(pool, new, MAX_ENDPOINTS_PER_USER)
        .await?
        .ok_or(EndpointError::TooMany)?;
    Ok((row, secret))
}

/// What a change asks for.
#[derive(Default)]
pub struct Change<'a> {
    pub url: Option<&'a str>,
    pub events: Option<&'a [String]>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
    pub rotate_secret: bool,
}

/// Changes an endpoint; returns it (None: no such endpoint) with the new secret if rotated.
pub async fn change(
    pool: &PgPool,
    key: &TokenKey,
    allow_private: bool,
    id: uuid::Uuid,
    c: Change<'_>,
) -> Result<Option<(EndpointRow, Option<String>)>, EndpointError> {
    let events = c.events.map(check_events).transpose()?;
    check_description(c.description)?;
    let url = match c.url {
        Some(u) => Some(check_target(u, allow_private).await?),
        None => None,
    };
    let secret = c.rotate_secret.then(signing::new_secret);
    let sealed = secret
        .as_deref()
        .map(|s| TokenCipher::new(key).seal_to_string(s));
    let until = Utc::now() + chrono::Duration::from_std(PREVIOUS_SECRET_VALID).unwrap_or_default();
    let change = EndpointChange {
        url: url.as_deref(),
        events: events.as_deref(),
        description: c.description,
        enabled: c.enabled,
        rotate: sealed.as_deref().map(|s| (s, until)),
    };
    Ok(rows::update(pool, id, change)
        .await?
        .map(|row| (row, secret)))
}

/// Enqueues every undispatched delivery; returns how many.
pub async fn dispatch_pending(pool: &PgPool, producer: &Producer) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let ids = rows::take_undispatched(&mut tx, DISPATCH_BATCH).await?;
        if ids.is_empty() {
            return Ok(total);
        }
        let jobs: Vec<DeliverWebhook> = ids
            .iter()
            .map(|&delivery_id| DeliverWebhook {
                version: DeliverWebhook::VERSION,
                delivery_id,
            })
            .collect();
        producer
            .enqueue_batch(&jobs, EnqueueOptions::default())
            .await?;
        rows::mark_dispatched(&mut tx, &ids).await?;
        tx.commit().await?;
        total += ids.len();
    }
}

/// Dispatches on every notification and every `sweep` until dropped; prunes attempts and
/// events older than `retention` once an hour.
pub async fn run_dispatcher(
    pool: PgPool,
    producer: Producer,
    sweep: Duration,
    retention: Duration,
) {
    let mut listener = None;
    let mut last_prune = std::time::Instant::now() - Duration::from_secs(3600);
    loop {
        if listener.is_none() {
            listener = rows::listen(&pool).await.ok();
        }
        if let Err(e) = dispatch_pending(&pool, &producer).await {
            tracing::warn!(error = %e, "webhook dispatch failed");
        }
        if last_prune.elapsed() >= Duration::from_secs(3600) {
            last_prune = std::time::Instant::now();
            if let Err(e) = rows::prune(&pool, retention).await {
                tracing::warn!(error = %e, "webhook retention prune failed");
            }
        }
        match listener.as_mut() {
            Some(l) => match tokio::time::timeout(sweep, l.recv()).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(_)) => listener = None,
            },
            None => tokio::time::sleep(sweep).await,
        }
    }
}
