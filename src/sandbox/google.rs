//! Google (Gmail) stand-in: OAuth at `/o/oauth2/v2/auth`, `/token` (PKCE when a challenge was
//! sent, refresh tokens without rotation, `invalid_grant` bodies) and `/revoke`; Gmail's
//! `/gmail/v1/users/me/profile`.

use std::sync::Arc;

use poem::{handler, web::Data, Request, Response, Route};
use serde_json::json;

use super::{oauth, SandboxState};
use crate::providers::ProviderId;

/// The demo mailbox.
pub const ACCOUNT: &str = "jane.doe@gmail.com";

#[handler]
fn profile(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let account = match state.authenticate(ProviderId::Google, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    Response::builder().content_type("application/json").body(
        json!({"emailAddress": account, "messagesTotal": 0, "threadsTotal": 0, "historyId": "1000"})
            .to_string(),
    )
}

pub fn routes() -> Route {
    Route::new()
        .at("/o/oauth2/v2/auth", poem::get(oauth::authorize))
        .at("/token", poem::post(oauth::token))
        .at("/revoke", poem::post(oauth::revoke))
        .at("/gmail/v1/users/me/profile", poem::get(profile))
}

/// This provider's data set (accounts' items, edits and deletions between syncs).
pub struct GoogleData {
    pub seed: u64,
}

impl GoogleData {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }
}

/// Sandbox-only control routes under `/_sandbox/google` (add, edit, delete items).
pub fn control_routes() -> Route {
    Route::new()
}
