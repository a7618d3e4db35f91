//! LinkedIn stand-in: OAuth at `/oauth/v2/authorization`, `/oauth/v2/accessToken` (no PKCE,
//! 60-day tokens, comma-separated `scope`, no refresh token) and `/oauth/v2/revoke`; the OIDC
//! `/v2/userinfo` (no version headers needed).

use std::sync::Arc;

use poem::{handler, web::Data, Request, Response, Route};
use serde_json::json;

use super::{oauth, SandboxState};
use crate::providers::ProviderId;

/// The demo member id (`sub`).
pub const ACCOUNT: &str = "782bbtaQ";

#[handler]
fn userinfo(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let account = match state.authenticate(ProviderId::Linkedin, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    Response::builder().content_type("application/json").body(
        json!({"sub": account, "email_verified": true, "name": "John Doe",
               "locale": {"country": "US", "language": "en"}, "given_name": "John",
               "family_name": "Doe", "email": "doe@email.com"})
        .to_string(),
    )
}

pub fn routes() -> Route {
    Route::new()
        .at("/oauth/v2/authorization", poem::get(oauth::authorize))
        .at("/oauth/v2/accessToken", poem::post(oauth::token))
        .at("/oauth/v2/revoke", poem::post(oauth::revoke))
        .at("/v2/userinfo", poem::get(userinfo))
}

/// This provider's data set (accounts' items, edits and deletions between syncs).
pub struct LinkedinData {
    pub seed: u64,
}

impl LinkedinData {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }
}

/// Sandbox-only control routes under `/_sandbox/linkedin` (add, edit, delete items).
pub fn control_routes() -> Route {
    Route::new()
}
