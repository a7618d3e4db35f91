//! The caller's connected accounts, their sync history, and manual syncs.

use chrono::{DateTime, Utc};
use lifesync_jobs::payloads::{SyncMode, SyncTrigger};
use poem::web::Data;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Enum, Object, OpenApi,
};
use serde_json::json;
use uuid::Uuid;

use super::{auth::User, error::ApiError, AppState, Tags};
use crate::{
    db::{data_sources as ds, sync_runs},
    domain::DataSourceStatus,
    services::{
        disconnect::disconnect,
        sync::{request_sync, RequestSyncError},
    },
};

/// A connected account with its sync status.
#[derive(Object)]
struct DataSource {
    id: Uuid,
    provider: String,
    account_id: String,
    account_name: Option<String>,
    status: String,
    connected_at: DateTime<Utc>,
    last_sync_at: Option<DateTime<Utc>>,
    last_sync_status: Option<String>,
    last_sync_error: Option<String>,
    item_count: i64,
    sync_in_progress: bool,
}

impl From<ds::DataSourceRow> for DataSource {
    fn from(r: ds::DataSourceRow) -> Self {
        Self {
            id: r.id,
            provider: r.provider,
            account_id: r.account_id,
            account_name: r.account_name,
            status: r.status.as_str().to_string(),
            connected_at: r.connected_at,
            last_sync_at: r.last_sync_at,
            last_sync_status: r.last_sync_status,
            last_sync_error: r.last_sync_error,
            item_count: r.item_count,
            sync_in_progress: r.sync_in_progress,
        }
    }
}

#[derive(Object)]
struct DataSourceList {
    data_sources: Vec<DataSource>,
}

/// `full` or `incremental`.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
pub(super) enum Mode {
    Full,
    Incremental,
}

impl From<Mode> for SyncMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Full => SyncMode::Full,
            Mode::Incremental => SyncMode::Incremental,
        }
    }
}

#[derive(Object)]
struct SyncRequest {
    mode: Mode,
}

#[derive(Object)]
struct SyncStarted {
    sync_run_id: Uuid,
    job_id: String,
}

#[derive(ApiResponse)]
enum Disconnected {
    /// Disconnected.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
enum SyncResponse {
    /// The sync is queued.
    #[oai(status = 202)]
    Accepted(Json<SyncStarted>),
}

#[derive(Object)]
struct SyncRun {
    id: Uuid,
    mode: String,
    trigger: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled` (the source was disconnected
    /// or deleted while the run was live).
    status: String,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    items_fetched: i32,
    items_new: i32,
    items_updated: i32,
    items_duplicate: i32,
    error: Option<String>,
}

#[derive(Object)]
struct SyncRunList {
    sync_runs: Vec<SyncRun>,
}

pub struct DataSourcesApi;

#[OpenApi(prefix_path = "/api/v1/data-sources", tag = "Tags::DataSources")]
impl DataSourcesApi {
    /// The caller's connected accounts with their sync status.
    #[oai(path = "/", method = "get")]
    async fn list(&self, user: User, state: Data<&AppState>) -> poem::Result<Json<DataSourceList>> {
        let rows = ds::list_for_user(&state.pool, &user.0.sub)
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(DataSourceList {
            data_sources: rows.into_iter().map(Into::into).collect(),
        }))
    }

    /// One of the caller's accounts (another user's id answers 404, like a missing one).
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> poem::Result<Json<DataSource>> {
        Ok(Json(owned(&state, &user, id.0).await?.into()))
    }

    /// Disconnects an account: its token is revoked at the provider where possible, its tokens
    /// are deleted and so are its items unless
    /// `keep_data=true`; the source stays listed as `disconnected`.
    #[oai(path = "/:id", method = "delete")]
    async fn disconnect(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
        keep_data: Query<Option<bool>>,
    ) -> poem::Result<Disconnected> {
        let source = owned(&state, &user, id.0).await?;
        disconnect(
            &state.pool,
            &state.apps,
            state.token_key.as_ref(),
            id.0,
            &source.provider,
            keep_data.0.unwrap_or(false),
            state.duplicate_window,
        )
        .await
        .map_err(ApiError::internal)?;
        // The source's items leave the timeline now (the API shows only live items); the
        // rebuild fixes the entries' dates, places and titles.
        if let Err(e) = crate::services::timeline::request_build(&state.producer, &user.0.sub).await
        {
            tracing::warn!(error = %e, "could not queue the timeline build");
        }
        Ok(Disconnected::NoContent)
    }

    /// Queues a sync; 409 `sync_in_progress` with the active run's id when one is queued or
    /// running.
    #[oai(path = "/:id/sync", method = "post")]
    async fn sync(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
        body: Json<SyncRequest>,
    ) -> poem::Result<SyncResponse> {
        let source = owned(&state, &user, id.0).await?;
        if source.status == DataSourceStatus::Disconnected {
            return Err(ApiError::Conflict {
                code: "disconnected",
                message: "the data source is disconnected".into(),
                details: json!({}),
            }
            .into());
        }
        let mode = match body.0.mode {
            Mode::Full => SyncMode::Full,
            Mode::Incremental => SyncMode::Incremental,
        };
        match request_sync(
            &state.pool,
            &state.producer,
            id.0,
            mode,
            SyncTrigger::Manual,
        )
        .await
        {
            Ok(s) => Ok(SyncResponse::Accepted(Json(SyncStarted {
                sync_run_id: s.sync_run_id,
                job_id: s.job_id,
            }))),
            Err(RequestSyncError::InProgress { sync_run_id }) => Err(ApiError::Conflict {
                code: "sync_in_progress",
                message: "a sync of this data source is already queued or running".into(),
                details: json!({ "sync_run_id": sync_run_id }),
            }
            .into()),
            Err(RequestSyncError::Queue(e)) => {
                tracing::error!(error = %e, "enqueue failed");
                Err(ApiError::Unavailable("the job queue").into())
            }
            Err(RequestSyncError::Db(e)) => Err(ApiError::internal(e).into()),
        }
    }

    /// The data source's sync history, newest first (at most 100 runs).
    #[oai(path = "/:id/sync-runs", method = "get")]
    async fn sync_runs(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> poem::Result<Json<SyncRunList>> {
        owned(&state, &user, id.0).await?;
        let rows = sync_runs::history(&state.pool, id.0, 100)
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(SyncRunList {
            sync_runs: rows
                .into_iter()
                .map(|r| SyncRun {
                    id: r.id,
                    mode: r.mode,
                    trigger: r.trigger,
                    status: r.status,
                    started_at: r.started_at,
                    finished_at: r.finished_at,
                    items_fetched: r.items_fetched,
                    items_new: r.items_new,
                    items_updated: r.items_updated,
                    items_duplicate: r.items_duplicate,
                    error: r.error,
                })
                .collect(),
        }))
    }
}

async fn owned(state: &AppState, user: &User, id: Uuid) -> Result<ds::DataSourceRow, ApiError> {
    ds::get_for_user(&state.pool, &user.0.sub, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound)
}
