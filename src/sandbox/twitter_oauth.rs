//! Twitter's OAuth 2.0 stand-in: authorization code + PKCE (S256 or plain, required), codes
//! single-use and valid 30 s, HTTP Basic client authentication on the token endpoint
//! (confidential clients), refresh tokens single-use with rotation, and the real error bodies.
//! Authorization is auto-approved for `sandbox_account` (default `1001`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::Engine;
use poem::{
    handler,
    http::StatusCode,
    web::{Data, Form, Query},
    Request, Response,
};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::SandboxState;

const CODE_LIFETIME: Duration = Duration::from_secs(30);
const DEFAULT_ACCOUNT: &str = "1001";

struct CodeGrant {
    account: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    method: String,
    scope: String,
    issued: Instant,
}

struct RefreshGrant {
    account: String,
    client_id: String,
    scope: String,
}

/// Outstanding codes and refresh tokens.
#[derive(Default)]
pub struct OAuthState {
    codes: Mutex<HashMap<String, CodeGrant>>,
    refresh: Mutex<HashMap<String, RefreshGrant>>,
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(json!({ "error": error, "error_description": description }).to_string())
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    sandbox_account: Option<String>,
}

#[handler]
pub fn authorize(state: Data<&Arc<SandboxState>>, Query(q): Query<AuthorizeQuery>) -> Response {
    let (Some(client_id), Some(redirect_uri)) = (q.client_id, q.redirect_uri) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and redirect_uri are required",
        );
    };
    let Ok(mut redirect) = url::Url::parse(&redirect_uri) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not a URL",
        );
    };
    let method = q.code_challenge_method.unwrap_or_else(|| "plain".into());
    let refusal = if q.response_type.as_deref() != Some("code") {
        Some(("unsupported_response_type", "response_type must be code"))
    } else if q.code_challenge.as_deref().unwrap_or("").is_empty() {
        Some(("invalid_request", "code_challenge is required"))
    } else if method != "S256" && method != "plain" {
        Some((
            "invalid_request",
            "code_challenge_method must be S256 or plain",
        ))
    } else {
        None
    };
    {
        let mut qp = redirect.query_pairs_mut();
        match refusal {
            Some((error, description)) => {
                qp.append_pair("error", error)
                    .append_pair("error_description", description);
            }
            None => {
                let code = random_token("code-");
                state.twitter_oauth.codes.lock().expect("codes").insert(
                    code.clone(),
                    CodeGrant {
                        account: q.sandbox_account.unwrap_or_else(|| DEFAULT_ACCOUNT.into()),
                        client_id,
                        redirect_uri,
                        challenge: q.code_challenge.unwrap_or_default(),
                        method,
                        scope: q.scope.unwrap_or_default(),
                        issued: Instant::now(),
                    },
                );
                qp.append_pair("code", &code);
            }
        }
        if let Some(s) = q.state {
            qp.append_pair("state", &s);
        }
    }
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", redirect.as_str())
        .finish()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

/// The client id of a valid `Authorization: Basic base64(id:secret)` header.
fn basic_client(req: &Request) -> Option<String> {
    let b64 = req
        .headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let (id, secret) = std::str::from_utf8(&raw).ok()?.split_once(':')?;
    (!id.is_empty() && !secret.is_empty()).then(|| id.to_string())
}

#[handler]
pub fn token(state: Data<&Arc<SandboxState>>, req: &Request, Form(f): Form<TokenForm>) -> Response {
    let Some(client_id) = basic_client(req) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    };
    let oauth = &state.twitter_oauth;
    let (account, scope) = match f.grant_type.as_str() {
        "authorization_code" => {
            let grant = f
                .code
                .as_deref()
                .and_then(|c| oauth.codes.lock().expect("codes").remove(c));
            let invalid = || {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the authorization code was invalid.",
                )
            };
            let Some(g) = grant else { return invalid() };
            let verifier = f.code_verifier.unwrap_or_default();
            let computed = if g.method == "S256" {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(verifier.as_bytes()))
            } else {
                verifier
            };
            if g.issued.elapsed() > CODE_LIFETIME
                || g.client_id != client_id
                || f.redirect_uri.as_deref() != Some(g.redirect_uri.as_str())
                || computed != g.challenge
            {
                return invalid();
            }
            (g.account, g.scope)
        }
        "refresh_token" => {
            let grant = f
                .refresh_token
                .as_deref()
                .and_then(|r| oauth.refresh.lock().expect("refresh").remove(r));
            match grant {
                Some(g) if g.client_id == client_id => (g.account, g.scope),
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "Value passed for the token was invalid.",
                    )
                }
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type is not supported",
            )
        }
    };
    let access = state.issue_token(&account);
    let mut body = json!({ "token_type": "bearer", "expires_in": 7200, "access_token": access, "scope": scope });
    if scope.split_whitespace().any(|s| s == "offline.access") {
        let refresh = random_token("rt-");
        oauth.refresh.lock().expect("refresh").insert(
            refresh.clone(),
            RefreshGrant {
                account,
                client_id,
                scope,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    Response::builder()
        .content_type("application/json")
        .body(body.to_string())
}

#[derive(Deserialize)]
struct RevokeForm {
    token: String,
}

/// `POST /2/oauth2/revoke`: the access token stops working at once.
#[handler]
pub fn revoke(
    state: Data<&Arc<SandboxState>>,
    req: &Request,
    Form(f): Form<RevokeForm>,
) -> Response {
    if basic_client(req).is_none() {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    state.tokens.lock().expect("tokens").remove(&f.token);
    Response::builder()
        .content_type("application/json")
        .body(json!({ "revoked": true }).to_string())
}
