//! Connecting accounts: start an authorization, receive the provider's redirect, confirm, and
//! follow the completion.
//!
//! The browser callback is the one `/api/v1` route without a bearer token (the provider's
//! redirect carries none). Whoever finishes an authorization is not proven to be whoever
//! started it (an attacker can send their own authorization link to a victim; RFC 9700
//! §4.7), so the callback only parks the sealed code as a completion `awaiting_confirmation`
//! under a fresh random id that reaches this browser alone; the client application then
//! confirms it with the JWT of the user who started the flow, and only then is the code
//! exchanged. Any other user's confirmation discards it. Native clients post `{code, state}`
//! with that JWT instead, which proves both at once.

use poem::{web::Data, Request};
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi,
};
use uuid::Uuid;

use super::{
    auth::User,
    error::{excerpt, ApiError},
    AppState, Tags,
};
use crate::{
    crypto::TokenCipher,
    domain::ProviderId,
    oauth::{
        authorize::authorization_url,
        completions::{Completion, CompletionStatus, Completions},
        state::{StateStore, STATE_TTL},
    },
};
use lifesync_jobs::payloads::OAuthCompletion;

#[derive(Object)]
struct AuthorizationUrl {
    /// Send the user's browser here.
    authorization_url: String,
    /// Seconds the authorization stays valid.
    expires_in: u64,
}

#[derive(Object)]
struct CallbackAccepted {
    completion_id: Uuid,
    /// Where to follow the completion.
    status_url: String,
}

/// A native client's callback: what the provider's redirect carried.
#[derive(Object)]
struct CallbackBody {
    code: String,
    state: String,
}

#[derive(ApiResponse)]
enum CallbackResponse {
    /// The code is parked: the client application confirms it (`.../confirm`) with the JWT
    /// of the user who started the flow.
    #[oai(status = 202)]
    Accepted(Json<CallbackAccepted>),
    /// Back to the application (`OAUTH_SUCCESS_REDIRECT_URL?completion_id=`).
    #[oai(status = 302)]
    Redirect(#[oai(header = "location")] String),
}

#[derive(ApiResponse)]
enum ExchangeQueued {
    /// The code exchange is queued: follow `status_url`.
    #[oai(status = 202)]
    Accepted(Json<CallbackAccepted>),
}

#[derive(Object)]
struct CompletionView {
    /// `awaiting_confirmation`, `pending`, `connected` or `failed`.
    status: String,
    data_source_id: Option<Uuid>,
    /// The provider's error (or ours) when `failed`.
    error: Option<String>,
}

pub struct OAuthApi;

fn provider_of(name: &str) -> Result<ProviderId, ApiError> {
    ProviderId::parse(name).ok_or_else(|| {
        ApiError::Missing(
            "unknown_provider",
            format!("no provider named {:?}", excerpt(name)),
        )
    })
}

fn invalid_state() -> ApiError {
    ApiError::BadRequest(
        "invalid_state",
        "the state is unknown, expired, already used or not yours; start the connection again"
            .into(),
    )
}

fn status_url(id: Uuid) -> String {
    format!("/api/v1/oauth/completions/{id}")
}

/// A state's record checked against the provider of the route; `None` (and the state spent)
/// when unknown, expired, used or another provider's.
async fn take_state(
    state: &AppState,
    p: ProviderId,
    raw: Option<&str>,
) -> Result<Option<crate::oauth::state::StateRecord>, ApiError> {
    let record = match raw {
        Some(s) => state.states.consume(s).await.map_err(redis_down)?,
        None => None,
    };
    Ok(record.filter(|r| r.provider == p.as_str()))
}

/// The code-exchange job for a consumed state (the code sealed).
fn exchange_job(
    state: &AppState,
    completion_id: Uuid,
    record: crate::oauth::state::StateRecord,
    code: Option<String>,
) -> Result<OAuthCompletion, ApiError> {
    let Some(code) = code.filter(|c| !c.is_empty() && c.len() <= 4096) else {
        return Err(ApiError::BadRequest(
            "invalid_request",
            "the callback carries no authorization code".into(),
        ));
    };
    let Some(key) = state.token_key.as_ref() else {
        return Err(ApiError::Unavailable("token encryption"));
    };
    // Meta appends `#_` to the redirect; a fragment never reaches us, but a pasted code might.
    let code = code.trim_end_matches("#_");
    Ok(OAuthCompletion {
        version: OAuthCompletion::VERSION,
        completion_id,
        user_id: record.user_id,
        provider: record.provider,
        redirect_uri: record.redirect_uri,
        sealed_code: TokenCipher::new(key).seal_to_string(code),
        sealed_pkce_verifier: record.sealed_verifier,
    })
}

/// Marks the completion `pending` and queues its job (idempotent: the job id is the
/// completion's).
async fn start_exchange(state: &AppState, job: &OAuthCompletion) -> Result<(), ApiError> {
    Completions(&state.states)
        .put(
            job.completion_id,
            &Completion {
                user_id: job.user_id.clone(),
                provider: job.provider.clone(),
                status: CompletionStatus::Pending,
                data_source_id: None,
                error: None,
            },
        )
        .await
        .map_err(redis_down)?;
    state.producer.enqueue(job).await.map_err(|e| {
        tracing::warn!(error = %e, "enqueue oauth completion");
        ApiError::Unavailable("redis")
    })?;
    Ok(())
}

fn redis_down(e: redis::RedisError) -> ApiError {
    tracing::warn!(error = %e, "redis unavailable for oauth");
    ApiError::Unavailable("redis")
}

#[OpenApi(prefix_path = "/api/v1/oauth", tag = "Tags::OAuth")]
impl OAuthApi {
    /// Starts connecting an account: stores a state (and PKCE verifier) for 10 minutes and
    /// answers the provider's authorization URL.
    #[oai(path = "/:provider/authorize", method = "get")]
    async fn authorize(
        &self,
        user: User,
        state: Data<&AppState>,
        provider: Path<String>,
    ) -> poem::Result<Json<AuthorizationUrl>> {
        let p = provider_of(&provider.0)?;
        let (Some(app), Some(key)) = (state.apps.get(p), state.token_key.as_ref()) else {
            return Err(ApiError::Conflict {
                code: "provider_not_configured",
                message: format!("{p} is not configured on this server"),
                details: serde_json::json!({}),
            }
            .into());
        };
        let oauth_state = StateStore::random_state();
        let auth = authorization_url(app, &oauth_state);
        let sealed_verifier = auth
            .pkce_verifier
            .as_deref()
            .map(|v| TokenCipher::new(key).seal_to_string(v));
        state
            .states
            .save(
                &oauth_state,
                &user.0.sub,
                p,
                app.redirect_uri.as_str(),
                sealed_verifier,
            )
            .await
            .map_err(redis_down)?;
        Ok(Json(AuthorizationUrl {
            authorization_url: auth.url.to_string(),
            expires_in: STATE_TTL.as_secs(),
        }))
    }

    /// The provider's redirect (the user's browser): consumes the state once and parks the
    /// sealed code as a completion `awaiting_confirmation` whose id only this browser gets.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/:provider/callback", method = "get")]
    async fn callback(
        &self,
        req: &Request,
        state: Data<&AppState>,
        provider: Path<String>,
        code: Query<Option<String>>,
        #[oai(name = "state")] oauth_state: Query<Option<String>>,
        error: Query<Option<String>>,
        error_description: Query<Option<String>>,
    ) -> poem::Result<CallbackResponse> {
        let p = provider_of(&provider.0)?;
        // Consumed first, whatever follows: a state works once.
        let record = take_state(&state, p, oauth_state.0.as_deref()).await?;
        if let Some(error) = error.0 {
            let error = excerpt(&error);
            let detail = excerpt(&error_description.0.unwrap_or_default());
            return Err(ApiError::BadRequest(
                "oauth_denied",
                format!("{p} did not authorize the connection: {error} {detail}")
                    .trim_end()
                    .to_string(),
            )
            .into());
        }
        let Some(record) = record else {
            return Err(invalid_state().into());
        };
        // A signed-in caller must be the user who started the flow.
        if let Some(claims) = bearer_claims(req, &state) {
            if claims.sub != record.user_id {
                return Err(invalid_state().into());
            }
        }
        let completion_id = Uuid::new_v4();
        let (user_id, provider_name) = (record.user_id.clone(), record.provider.clone());
        let job = exchange_job(&state, completion_id, record, code.0)?;
        let completions = Completions(&state.states);
        completions
            .hold_job(completion_id, &job)
            .await
            .map_err(redis_down)?;
        completions
            .put(
                completion_id,
                &Completion {
                    user_id,
                    provider: provider_name,
                    status: CompletionStatus::AwaitingConfirmation,
                    data_source_id: None,
                    error: None,
                },
            )
            .await
            .map_err(redis_down)?;
        Ok(match &state.success_redirect {
            Some(url) => {
                let mut url = url.clone();
                url.query_pairs_mut()
                    .append_pair("completion_id", &completion_id.to_string());
                CallbackResponse::Redirect(url.to_string())
            }
            None => CallbackResponse::Accepted(Json(CallbackAccepted {
                completion_id,
                status_url: status_url(completion_id),
            })),
        })
    }

    /// A native client's callback: `{code, state}` with the JWT of the user who started the
    /// flow; the code exchange is queued at once.
    #[oai(path = "/:provider/callback", method = "post")]
    async fn native_callback(
        &self,
        user: User,
        state: Data<&AppState>,
        provider: Path<String>,
        body: Json<CallbackBody>,
    ) -> poem::Result<ExchangeQueued> {
        let p = provider_of(&provider.0)?;
        let body = body.0;
        let record = take_state(&state, p, Some(&body.state))
            .await?
            .filter(|r| r.user_id == user.0.sub)
            .ok_or_else(invalid_state)?;
        let completion_id = Uuid::new_v4();
        let job = exchange_job(&state, completion_id, record, Some(body.code))?;
        start_exchange(&state, &job).await?;
        Ok(ExchangeQueued::Accepted(Json(CallbackAccepted {
            completion_id,
            status_url: status_url(completion_id),
        })))
    }

    /// The client application confirms a completion whose id reached it through the browser
    /// redirect, with the JWT of the user who started the flow; the code exchange is then
    /// queued. Any other user gets 404, and an unconfirmed completion is discarded.
    #[oai(path = "/completions/:id/confirm", method = "post")]
    async fn confirm(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> poem::Result<ExchangeQueued> {
        let completions = Completions(&state.states);
        let Some(c) = completions.get(id.0).await.map_err(redis_down)? else {
            return Err(ApiError::NotFound.into());
        };
        if c.user_id != user.0.sub {
            if c.status == CompletionStatus::AwaitingConfirmation {
                completions.discard(id.0).await.map_err(redis_down)?;
                tracing::warn!(
                    completion_id = %id.0,
                    provider = %c.provider,
                    "oauth completion confirmed by another user than the one who started it: discarded"
                );
            }
            return Err(ApiError::NotFound.into());
        }
        // Pending with the job still held: an earlier confirmation stopped half-way; the job
        // id is the completion's, so queueing it again is harmless.
        if matches!(
            c.status,
            CompletionStatus::AwaitingConfirmation | CompletionStatus::Pending
        ) {
            if let Some(job) = completions.held_job(id.0).await.map_err(redis_down)? {
                start_exchange(&state, &job).await?;
                completions
                    .release_held_job(id.0)
                    .await
                    .map_err(redis_down)?;
            }
        }
        Ok(ExchangeQueued::Accepted(Json(CallbackAccepted {
            completion_id: id.0,
            status_url: status_url(id.0),
        })))
    }

    /// How a connection went: `awaiting_confirmation`, `pending`, `connected` (with the data
    /// source) or `failed`.
    #[oai(path = "/completions/:id", method = "get")]
    async fn completion(
        &self,
        user: User,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> poem::Result<Json<CompletionView>> {
        let c = Completions(&state.states)
            .get(id.0)
            .await
            .map_err(redis_down)?
            .filter(|c| c.user_id == user.0.sub)
            .ok_or(ApiError::NotFound)?;
        Ok(Json(CompletionView {
            status: match c.status {
                CompletionStatus::AwaitingConfirmation => "awaiting_confirmation",
                CompletionStatus::Pending => "pending",
                CompletionStatus::Connected => "connected",
                CompletionStatus::Failed => "failed",
            }
            .into(),
            data_source_id: c.data_source_id,
            error: c.error,
        }))
    }
}

/// The claims of a valid bearer token on the request, if it has one.
fn bearer_claims(req: &Request, state: &AppState) -> Option<super::auth::Claims> {
    let token = req
        .headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    super::auth::verify(&state.jwt_key, token)
}
