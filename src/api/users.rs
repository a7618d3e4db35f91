//! The caller as a whole: erase (`DELETE /api/v1/users/me`) and export
//! (`GET /api/v1/users/me/export`). The admin's erase of any user lives in `admin.rs`; both
//! go through `services::erase`.

use poem::{web::Data, Body};
use poem_openapi::{
    payload::{Binary, Json},
    ApiResponse, Object, OpenApi,
};

use super::{auth::User, error::ApiError, AppState, Tags};
use crate::services::{
    erase::{request_erase, RequestEraseError},
    export::export,
};

/// The erase is queued (or was already: its id).
#[derive(Object)]
pub(super) struct EraseStarted {
    /// The erase job's id.
    job_id: String,
}

#[derive(ApiResponse)]
pub(super) enum EraseResponse {
    /// Queued: the user's sources are already fenced (`disconnected`); revocation and
    /// deletion follow in the background.
    #[oai(status = 202)]
    Accepted(Json<EraseStarted>),
}

#[derive(ApiResponse)]
enum ExportResponse {
    /// JSON Lines: an `export` header line, then `data_source`, `sync_run` and `item` lines,
    /// and an `end` line with the counts (absent when the export was cut short).
    #[oai(status = 200, content_type = "application/x-ndjson")]
    Lines(Binary<Body>),
}

/// Erases `user_id`: fence, then the queued job.
pub(super) async fn erase(state: &AppState, user_id: &str) -> poem::Result<EraseResponse> {
    let Some(key) = state.token_key.as_ref() else {
        return Err(ApiError::Unavailable("the token encryption key").into());
    };
    match request_erase(&state.pool, &state.producer, key, user_id).await {
        Ok(q) => Ok(EraseResponse::Accepted(Json(EraseStarted {
            job_id: q.job_id,
        }))),
        Err(RequestEraseError::Queue(e)) => {
            tracing::error!(error = %e, "enqueue failed");
            Err(ApiError::Unavailable("the job queue").into())
        }
        Err(RequestEraseError::Db(e)) => Err(ApiError::internal(e).into()),
    }
}

pub struct UsersApi;

#[OpenApi(prefix_path = "/api/v1/users", tag = "Tags::Users")]
impl UsersApi {
    /// Erases the caller: every token is revoked at its provider and every source, token,
    /// item, sync run, OAuth completion and Redis key of theirs is deleted, by a durable job.
    /// The caller's sources are `disconnected` before this answers. Idempotent: while an erase
    /// is queued or running another request returns its job id; later, a new (empty) one.
    #[oai(path = "/me", method = "delete")]
    async fn erase_me(&self, user: User, state: Data<&AppState>) -> poem::Result<EraseResponse> {
        erase(&state, &user.0.sub).await
    }

    /// The caller's data sources, sync runs and items as JSON Lines, streamed from one
    /// consistent snapshot; never a token or secret.
    #[oai(path = "/me/export", method = "get")]
    async fn export_me(&self, user: User, state: Data<&AppState>) -> poem::Result<ExportResponse> {
        let body = export(&state.read_pool, &user.0.sub)
            .await
            .map_err(ApiError::internal)?;
        Ok(ExportResponse::Lines(Binary(body)))
    }
}
