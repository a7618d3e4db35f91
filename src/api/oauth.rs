//! Connecting accounts: start an authorization, receive the provider's redirect, and follow
//! the completion. The callback is the one `/api/v1` route without a bearer token (the
//! provider's redirect carries none); it trusts only the state it finds in Redis.

use poem::{web::Data, Request};
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    auth::User,
    error::{excerpt, ApiError},
    AppState, Tags,
};
use crate::{
    crypto::TokenCipher,
    oauth::{
        authorize::authorization_url,
        completions::{Completion, CompletionStatus, Completions},
        state::{StateStore, STATE_TTL},
    },
    providers::ProviderId,
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

#[derive(ApiResponse)]
enum CallbackResponse {
    /// The code was accepted; the account is being connected.
    #[oai(status = 202)]
    Accepted(Json<CallbackAccepted>),
    /// Back to the application (`OAUTH_SUCCESS_REDIRECT_URL?completion_id=`).
    #[oai(status = 302)]
    Redirect(#[oai(header = "location")] String),
}

#[derive(Object)]
struct CompletionView {
    /// `pending`, `connected` or `failed`.
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

/// One completion id per state: replays of one callback name the same completion.
fn completion_id_of(state: &str) -> Uuid {
    let digest = Sha256::digest(format!("completion:{state}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
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

    /// The provider's redirect: consumes the state once and queues the code exchange.
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
        let record = match oauth_state.0.as_deref() {
            Some(s) => state.states.consume(s).await.map_err(redis_down)?,
            None => None,
        };
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
        let (Some(record), Some(raw_state)) = (record, oauth_state.0) else {
            return Err(invalid_state().into());
        };
        if record.provider != p.as_str() {
            return Err(invalid_state().into());
        }
        // A signed-in caller must be the user who started the flow.
        if let Some(claims) = bearer_claims(req, &state) {
            if claims.sub != record.user_id {
                return Err(invalid_state().into());
            }
        }
        let Some(code) = code.0.filter(|c| !c.is_empty() && c.len() <= 4096) else {
            return Err(ApiError::BadRequest(
                "invalid_request",
                "the callback carries no authorization code".into(),
            )
            .into());
        };
        let Some(key) = state.token_key.as_ref() else {
            return Err(ApiError::Unavailable("token encryption").into());
        };
        // Meta appends `#_` to the redirect; a fragment never reaches us, but a pasted code might.
        let code = code.trim_end_matches("#_");
        let completion_id = completion_id_of(&raw_state);
        Completions(&state.states)
            .put(
                completion_id,
                &Completion {
                    user_id: record.user_id.clone(),
                    provider: record.provider.clone(),
                    status: CompletionStatus::Pending,
                    data_source_id: None,
                    error: None,
                },
            )
            .await
            .map_err(redis_down)?;
        let job = OAuthCompletion {
            version: OAuthCompletion::VERSION,
            completion_id,
            user_id: record.user_id,
            provider: record.provider,
            redirect_uri: record.redirect_uri,
            sealed_code: TokenCipher::new(key).seal_to_string(code),
            sealed_pkce_verifier: record.sealed_verifier,
        };
        state.producer.enqueue(&job).await.map_err(|e| {
            tracing::warn!(error = %e, "enqueue oauth completion");
            ApiError::Unavailable("redis")
        })?;
        let status_url = format!("/api/v1/oauth/completions/{completion_id}");
        Ok(match &state.success_redirect {
            Some(url) => {
                let mut url = url.clone();
                url.query_pairs_mut()
                    .append_pair("completion_id", &completion_id.to_string());
                CallbackResponse::Redirect(url.to_string())
            }
            None => CallbackResponse::Accepted(Json(CallbackAccepted {
                completion_id,
                status_url,
            })),
        })
    }

    /// How a connection went: `pending`, `connected` (with the data source) or `failed`.
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
