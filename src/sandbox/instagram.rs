//! Instagram (API with Instagram Login) stand-in: OAuth at `/oauth/authorize` and
//! `/oauth/access_token` (the flat reply with a numeric app-scoped `user_id`), the long-lived
//! exchange `/access_token?grant_type=ig_exchange_token`, `/refresh_access_token` (refused
//! for tokens younger than 24 h or expired, Graph error 190), and `/me`.

use std::{collections::HashMap, sync::Arc};

use poem::{handler, web::Data, Request, Response, Route};

use super::{graph_token_error, oauth, SandboxState};
use crate::providers::ProviderId;

/// The demo professional account (`user_id` from `/me`).
pub const ACCOUNT: &str = "17841405793187218";

/// The app-scoped id of an account: a 17-digit number above 2^53, sent as a bare JSON number.
pub fn app_scoped_id(account: &str) -> u64 {
    let h = account.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ b as u64).wrapping_mul(1099511628211)
    });
    27_000_000_000_000_000 + h % 1_000_000_000_000_000
}

fn query(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `GET /access_token?grant_type=ig_exchange_token&client_secret&access_token`.
#[handler]
fn exchange(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let q = query(req);
    state.record("instagram token grant_type=ig_exchange_token".into());
    if q.get("grant_type").map(String::as_str) != Some("ig_exchange_token")
        || q.get("client_secret").is_none_or(|s| s.is_empty())
    {
        return oauth::oauth_error(
            oauth::ErrorStyle::Graph,
            poem::http::StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unsupported grant_type or missing client_secret",
        );
    }
    match q
        .get("access_token")
        .and_then(|t| state.token_info(ProviderId::Instagram, t))
    {
        Some(info) => oauth::long_lived_reply(&state, ProviderId::Instagram, &info.account),
        None => graph_token_error(),
    }
}

/// `GET /refresh_access_token?grant_type=ig_refresh_token&access_token`.
#[handler]
fn refresh(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let q = query(req);
    state.record("instagram token grant_type=ig_refresh_token".into());
    let info = q
        .get("access_token")
        .and_then(|t| state.token_info(ProviderId::Instagram, t));
    match info {
        Some(i) if state.now_ms() - i.issued_ms >= 24 * 3600 * 1000 => {
            oauth::long_lived_reply(&state, ProviderId::Instagram, &i.account)
        }
        _ => graph_token_error(),
    }
}

#[handler]
fn me(state: Data<&Arc<SandboxState>>, req: &Request) -> Response {
    let account = match state.authenticate(ProviderId::Instagram, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = format!(
        r#"{{"user_id":"{account}","username":"jane.travels","name":"Jane","account_type":"BUSINESS","media_count":0,"id":"{}"}}"#,
        app_scoped_id(&account)
    );
    Response::builder()
        .content_type("application/json")
        .body(body)
}

pub fn routes() -> Route {
    Route::new()
        .at("/oauth/authorize", poem::get(oauth::authorize))
        .at("/oauth/access_token", poem::post(oauth::token))
        .at("/access_token", poem::get(exchange))
        .at("/refresh_access_token", poem::get(refresh))
        .at("/me", poem::get(me))
        .at("/:version/me", poem::get(me))
}

/// This provider's data set (accounts' items, edits and deletions between syncs).
pub struct InstagramData {
    pub seed: u64,
}

impl InstagramData {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }
}

/// Sandbox-only control routes under `/_sandbox/instagram` (add, edit, delete items).
pub fn control_routes() -> Route {
    Route::new()
}

#[cfg(test)]
mod tests {
    #[test]
    fn app_scoped_ids_exceed_2_pow_53() {
        let id = super::app_scoped_id(super::ACCOUNT);
        assert!(id > 1 << 53, "{id}");
        assert_eq!(id.to_string().len(), 17);
    }
}
