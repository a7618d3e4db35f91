//! Operator routes (`role: "admin"` in the JWT): syncs for chosen users, queue statistics,
//! the dead-letter list and re-drive, OAuth statistics.

use lifesync_jobs::payloads::{queues, SyncMode};
use poem::web::Data;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi,
};

use super::{
    auth::{valid_sub, User},
    data_sources::Mode,
    error::{excerpt, ApiError},
    strict::StoredId,
    users::{erase, EraseResponse},
    AppState, Tags,
};
use crate::{
    domain::ProviderId,
    services::admin::{retry_dead_job, sync_users, RetryError},
};

#[derive(Object)]
struct AdminSyncRequest {
    /// Users whose active data sources to sync (1–1000 ids of 1–255 bytes, no NUL).
    #[oai(validator(min_items = 1, max_items = 1000))]
    user_ids: Vec<StoredId>,
    /// Only this provider's sources.
    #[oai(validator(pattern = "^(instagram|twitter|google|facebook|linkedin|microsoft)$"))]
    provider: Option<String>,
    mode: Mode,
}

#[derive(Object)]
struct AdminSyncStarted {
    /// Jobs enqueued (sources already syncing are skipped).
    jobs_enqueued: u64,
}

#[derive(ApiResponse)]
enum AdminSyncResponse {
    #[oai(status = 202)]
    Accepted(Json<AdminSyncStarted>),
}

#[derive(Object)]
struct QueueView {
    queue: String,
    pending: u64,
    scheduled: u64,
    running: u64,
    retrying: u64,
    dead: u64,
    /// Succeeded within the retention window.
    succeeded: u64,
}

/// Every queue's counts, as a list and keyed by queue name (`oauth_completion`, `sync`,
/// `fanout`, `erase`), so clients can read either.
#[derive(Object)]
struct QueueList {
    queues: Vec<QueueView>,
    oauth_completion: QueueCounts,
    sync: QueueCounts,
    fanout: QueueCounts,
    erase: QueueCounts,
}

#[derive(Object, Clone, Copy)]
struct QueueCounts {
    pending: u64,
    scheduled: u64,
    running: u64,
    retrying: u64,
    dead: u64,
    succeeded: u64,
}

impl From<&QueueView> for QueueCounts {
    fn from(q: &QueueView) -> Self {
        Self {
            pending: q.pending,
            scheduled: q.scheduled,
            running: q.running,
            retrying: q.retrying,
            dead: q.dead,
            succeeded: q.succeeded,
        }
    }
}

#[derive(Object)]
struct DeadJob {
    id: String,
    queue: String,
    attempts: u32,
    max_attempts: u32,
    last_error: Option<String>,
    /// The job's payload (secrets in it are sealed).
    payload: serde_json::Value,
    created_at_ms: u64,
    died_at_ms: Option<u64>,
}

#[derive(Object)]
struct DeadJobList {
    jobs: Vec<DeadJob>,
}

#[derive(ApiResponse)]
enum RetryResponse {
    /// Back in its queue with a fresh attempt budget.
    #[oai(status = 202)]
    Accepted(Json<serde_json::Value>),
}

#[derive(Object)]
struct OAuthStats {
    /// States issued and neither consumed nor expired.
    active_states: u64,
    /// PKCE verifiers held with those states.
    active_pkce_verifiers: u64,
}

pub struct AdminApi;

fn require_admin(user: &User) -> Result<(), ApiError> {
    if user.0.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "Tags::Admin")]
impl AdminApi {
    /// Queues syncs (trigger `admin`) for these users' active data sources.
    #[oai(path = "/sync", method = "post")]
    async fn sync(
        &self,
        user: User,
        state: Data<&AppState>,
        body: Json<AdminSyncRequest>,
    ) -> poem::Result<AdminSyncResponse> {
        require_admin(&user)?;
        let user_ids: Vec<String> = body.0.user_ids.into_iter().map(|u| u.0).collect();
        let n = user_ids.len();
        if n == 0
            || n > 1000
            || user_ids
                .iter()
                .any(|u| u.is_empty() || u.len() > 255 || u.contains('\0'))
        {
            return Err(ApiError::BadRequest(
                "invalid_user_ids",
                "user_ids must hold 1 to 1000 non-empty ids".into(),
            )
            .into());
        }
        if let Some(p) = &body.0.provider {
            if ProviderId::parse(p).is_none() {
                return Err(ApiError::BadRequest(
                    "invalid_provider",
                    format!("unknown provider {:?}", excerpt(p)),
                )
                .into());
            }
        }
        let mode = SyncMode::from(body.0.mode);
        let jobs_enqueued = sync_users(
            &state.pool,
            &state.producer,
            &user_ids,
            body.0.provider.as_deref(),
            mode,
        )
        .await
        .map_err(ApiError::internal)?;
        Ok(AdminSyncResponse::Accepted(Json(AdminSyncStarted {
            jobs_enqueued,
        })))
    }

    /// Jobs per queue and state.
    #[oai(path = "/queues", method = "get")]
    async fn queues(&self, user: User, state: Data<&AppState>) -> poem::Result<Json<QueueList>> {
        require_admin(&user)?;
        let mut out = Vec::new();
        for q in queues::ALL {
            let s = state
                .store
                .stats(q)
                .await
                .map_err(|_| ApiError::Unavailable("redis"))?;
            out.push(QueueView {
                queue: q.to_string(),
                pending: s.pending,
                scheduled: s.scheduled,
                running: s.running,
                retrying: s.retrying,
                dead: s.dead,
                succeeded: s.succeeded,
            });
        }
        let by_name = |name: &str| {
            out.iter()
                .find(|q| q.queue == name)
                .map(QueueCounts::from)
                .expect("every queue is listed")
        };
        Ok(Json(QueueList {
            oauth_completion: by_name(queues::OAUTH_COMPLETION),
            sync: by_name(queues::SYNC),
            fanout: by_name(queues::FANOUT),
            erase: by_name(queues::ERASE),
            queues: out,
        }))
    }

    /// Dead jobs (newest first) with their last error and attempts.
    #[oai(path = "/jobs/dead", method = "get")]
    async fn dead_jobs(
        &self,
        user: User,
        state: Data<&AppState>,
        #[oai(validator(pattern = "^(oauth_completion|sync|fanout|erase|webhooks|timeline)$"))]
        queue: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<Option<u32>>,
    ) -> poem::Result<Json<DeadJobList>> {
        require_admin(&user)?;
        let limit = limit.0.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(
                ApiError::BadRequest("invalid_parameter", "limit must be 1..=1000".into()).into(),
            );
        }
        let wanted: Vec<&str> = match queue.0.as_deref() {
            None => queues::ALL.to_vec(),
            Some(q) => match queues::ALL.iter().find(|k| **k == q) {
                Some(k) => vec![*k],
                None => {
                    return Err(ApiError::BadRequest(
                        "invalid_parameter",
                        format!("unknown queue {:?}", excerpt(q)),
                    )
                    .into())
                }
            },
        };
        let mut jobs = Vec::new();
        for q in wanted {
            let dead = state
                .store
                .dead_jobs(q, limit as usize)
                .await
                .map_err(|_| ApiError::Unavailable("redis"))?;
            jobs.extend(dead.into_iter().map(|j| DeadJob {
                payload: serde_json::from_str(&j.payload).unwrap_or(serde_json::Value::Null),
                id: j.id,
                queue: j.queue,
                attempts: j.attempts,
                max_attempts: j.max_attempts,
                last_error: j.last_error,
                created_at_ms: j.created_ms,
                died_at_ms: j.finished_ms,
            }));
        }
        jobs.truncate(limit as usize);
        Ok(Json(DeadJobList { jobs }))
    }

    /// Re-drives a dead job (a dead sync resumes its run at the last stored page).
    #[oai(path = "/jobs/:id/retry", method = "post")]
    async fn retry(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> poem::Result<RetryResponse> {
        require_admin(&user)?;
        match retry_dead_job(&state.store, &state.pool, &id.0).await {
            Ok(()) => Ok(RetryResponse::Accepted(Json(
                serde_json::json!({ "id": id.0, "state": "pending" }),
            ))),
            Err(RetryError::NotFound) => Err(ApiError::NotFound.into()),
            Err(e @ (RetryError::NotDead(_) | RetryError::SourceBusy)) => Err(ApiError::Conflict {
                code: "not_retryable",
                message: e.to_string(),
                details: serde_json::json!({}),
            }
            .into()),
            Err(RetryError::Queue(_)) => Err(ApiError::Unavailable("redis").into()),
            Err(e @ RetryError::Database(_)) => Err(ApiError::internal(e).into()),
        }
    }

    /// Erases any user, as `DELETE /api/v1/users/me` does for the caller: 202 with the erase
    /// job's id, also for a user with nothing stored (already erased, never seen); an id no
    /// user can have (blank, control characters) is 404.
    #[oai(path = "/users/:id", method = "delete")]
    async fn erase_user(
        &self,
        user: User,
        state: Data<&AppState>,
        #[oai(validator(min_length = 1, max_length = 255))] id: Path<String>,
    ) -> poem::Result<EraseResponse> {
        require_admin(&user)?;
        if !valid_sub(&id.0) {
            return Err(ApiError::NotFound.into());
        }
        erase(&state, &id.0).await
    }

    /// Active OAuth states and PKCE verifiers.
    #[oai(path = "/oauth/stats", method = "get")]
    async fn oauth_stats(
        &self,
        user: User,
        state: Data<&AppState>,
    ) -> poem::Result<Json<OAuthStats>> {
        require_admin(&user)?;
        let s = state
            .states
            .stats()
            .await
            .map_err(|_| ApiError::Unavailable("redis"))?;
        crate::metrics::oauth_states_active(s.active_states);
        Ok(Json(OAuthStats {
            active_states: s.active_states,
            active_pkce_verifiers: s.active_pkce_verifiers,
        }))
    }
}
