//! Operator routes (`role: "admin"` in the JWT): OAuth statistics.

use poem::web::Data;
use poem_openapi::{payload::Json, Object, OpenApi};

use super::{auth::User, error::ApiError, AppState, Tags};

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
