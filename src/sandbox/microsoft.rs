//! Microsoft identity platform + Graph stand-in: OAuth at `/{tenant}/oauth2/v2.0/authorize`
//! and `/{tenant}/oauth2/v2.0/token` (PKCE when challenged, refresh tokens only with
//! `offline_access`, rotated on every refresh while old ones keep working, AADSTS error
//! bodies); Graph's `/v1.0/me`. Microsoft has no per-token revocation endpoint.

use std::sync::Arc;

use poem::{handler, web::Data, Request, Response, Route};
use serde_json::json;

use super::{oauth, SandboxState};
use crate::providers::ProviderId;

/// The demo user's object id.
pub const ACCOUNT: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";

#[handler]
fn me(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let account = match state.authenticate(ProviderId::Microsoft, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    Response::builder().content_type("application/json").body(
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
               "businessPhones": [], "displayName": "Adele Vance", "givenName": "Adele",
               "mail": "AdeleV@contoso.com", "surname": "Vance",
               "userPrincipalName": "AdeleV@contoso.com", "id": account})
        .to_string(),
    )
}

pub fn routes() -> Route {
    Route::new()
        .at(
            "/:tenant/oauth2/v2.0/authorize",
            poem::get(oauth::authorize),
        )
        .at("/:tenant/oauth2/v2.0/token", poem::post(oauth::token))
        .at("/v1.0/me", poem::get(me))
}

/// This provider's data set (accounts' items, edits and deletions between syncs).
pub struct MicrosoftData {
    pub seed: u64,
}

impl MicrosoftData {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }
}

/// Sandbox-only control routes under `/_sandbox/microsoft` (add, edit, delete items).
pub fn control_routes() -> Route {
    Route::new()
}
