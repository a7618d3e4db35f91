//! Facebook Graph stand-in: OAuth dialog `/{version}/dialog/oauth`, the GET token endpoint
//! `/{version}/oauth/access_token` (code exchange with the secret in the query, and
//! `grant_type=fb_exchange_token` for long-lived tokens; no refresh tokens), `/{version}/me`
//! and `DELETE /{version}/me/permissions` (revocation). Any version path is accepted.

use std::sync::Arc;

use poem::{handler, web::Data, Request, Response, Route};
use serde_json::json;

use super::{oauth, SandboxState};
use crate::providers::ProviderId;

/// The demo account's app-scoped id.
pub const ACCOUNT: &str = "10223456789012345";

#[handler]
fn me(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let account = match state.authenticate(ProviderId::Facebook, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    Response::builder()
        .content_type("application/json")
        .body(json!({"id": account, "name": "Jane Doe"}).to_string())
}

#[handler]
fn delete_permissions(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    if let Err(r) = state.authenticate(ProviderId::Facebook, req) {
        return r;
    }
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    state.record("facebook revoke".into());
    state.revoke_token(&token);
    Response::builder()
        .content_type("application/json")
        .body(json!({"success": true}).to_string())
}

pub fn routes() -> Route {
    Route::new()
        .at("/:version/dialog/oauth", poem::get(oauth::authorize))
        .at(
            "/:version/oauth/access_token",
            poem::get(oauth::token).post(oauth::token),
        )
        .at("/:version/me", poem::get(me))
        .at("/me", poem::get(me))
        .at("/:version/me/permissions", poem::delete(delete_permissions))
}

/// This provider's data set (accounts' items, edits and deletions between syncs).
pub struct FacebookData {
    pub seed: u64,
}

impl FacebookData {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }
}

/// Sandbox-only control routes under `/_sandbox/facebook` (add, edit, delete items).
pub fn control_routes() -> Route {
    Route::new()
}
