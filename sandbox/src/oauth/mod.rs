//! The six providers' OAuth servers, as the real ones behave: one engine, one [`Flavor`] per
//! provider (in its [`ProviderSpec`](crate::provider::ProviderSpec)) saying what differs —
//! PKCE (required, optional, absent), client authentication (Basic required, body, GET query),
//! code lifetime, token lifetime, refresh tokens (single-use rotation, rotation keeping the old
//! one, no rotation, none at all), the token reply's shape (Instagram's flat body with a
//! numeric `user_id` above 2^53), the denial redirect, revocation (who may call it, what it
//! revokes, its reply) and the error bodies (RFC 6749, Microsoft's AADSTS, Instagram's,
//! Graph's).
//!
//! Authorization is auto-approved for `sandbox_account` (default: the provider's demo
//! account) and redirects to the client's `redirect_uri` with `code` and `state`; codes are
//! single-use and bound to the client, redirect URI and PKCE challenge. Time is the sandbox's
//! clock (`/_sandbox/clock` moves it), so expiry can be tested without waiting.

use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};

use base64::Engine;
use poem::{
    handler,
    http::{Method, StatusCode},
    web::Data,
    Body, Request, Response,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{Provider, SandboxState};

mod flavor;

pub use flavor::{
    flavor, AuthRule, ErrorStyle, Flavor, PkceRule, RefreshRule, RevokeAuth, TokenReply,
};

struct CodeGrant {
    provider: Provider,
    account: String,
    client_id: String,
    redirect_uri: String,
    challenge: Option<(String, String)>,
    scope: String,
    issued_ms: i64,
}

struct RefreshGrant {
    provider: Provider,
    account: String,
    client_id: String,
    scope: String,
}

/// Outstanding codes and refresh tokens of every provider.
#[derive(Default)]
pub struct OAuthServer {
    codes: Mutex<HashMap<String, CodeGrant>>,
    refresh: Mutex<HashMap<String, RefreshGrant>>,
}

impl OAuthServer {
    /// Revokes one refresh token of `provider`; the account it belonged to.
    pub(crate) fn revoke_refresh(&self, provider: Provider, presented: &str) -> Option<String> {
        let mut refresh = self.refresh.lock().expect("refresh");
        match refresh.get(presented) {
            Some(g) if g.provider == provider => refresh.remove(presented).map(|g| g.account),
            _ => None,
        }
    }

    /// The account of a valid refresh token of `provider`.
    pub(crate) fn refresh_account(&self, provider: Provider, presented: &str) -> Option<String> {
        let refresh = self.refresh.lock().expect("refresh");
        refresh
            .get(presented)
            .filter(|g| g.provider == provider)
            .map(|g| g.account.clone())
    }

    /// Revokes every refresh token of an account at `provider`.
    pub(crate) fn revoke_account(&self, provider: Provider, account: &str) {
        self.refresh
            .lock()
            .expect("refresh")
            .retain(|_, g| !(g.provider == provider && g.account == account));
    }

    /// Every refresh token still valid (sandbox-only: tests look for them where they must not
    /// be).
    pub fn refresh_tokens(&self) -> Vec<String> {
        self.refresh
            .lock()
            .expect("refresh")
            .keys()
            .cloned()
            .collect()
    }
}

fn random(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

/// An error reply in the provider's shape.
pub fn oauth_error(
    style: ErrorStyle,
    status: StatusCode,
    error: &str,
    description: &str,
) -> Response {
    let body = match style {
        ErrorStyle::Rfc | ErrorStyle::Twitter | ErrorStyle::LinkedIn => {
            json!({ "error": error, "error_description": description })
        }
        ErrorStyle::Microsoft => json!({
            "error": error,
            "error_description": format!("AADSTS70008: {description}"),
            "error_codes": [70008],
            "timestamp": "2026-11-24 00:00:00Z",
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
            "error_uri": "https://login.microsoftonline.com/error?code=70008"
        }),
        ErrorStyle::Instagram => json!({
            "error_type": "OAuthException", "code": status.as_u16(), "error_message": description
        }),
        ErrorStyle::Graph => json!({ "error": {
            "message": description, "type": "OAuthException", "code": 100,
            "error_subcode": 36009, "fbtrace_id": "AbCdEfGhIjK"
        }}),
    };
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// `GET …/authorize`: auto-approves and redirects back with `code` and `state`.
#[handler]
pub fn authorize(
    state: Data<&Arc<SandboxState>>,
    provider: Data<&Provider>,
    req: &Request,
) -> Response {
    let p = *provider.0;
    let f = flavor(p);
    let q: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let (Some(client_id), Some(redirect_uri)) = (q.get("client_id"), q.get("redirect_uri")) else {
        return oauth_error(
            f.errors,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and redirect_uri are required",
        );
    };
    let Ok(mut redirect) = url::Url::parse(redirect_uri) else {
        return oauth_error(
            f.errors,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not a URL",
        );
    };
    let challenge = q.get("code_challenge").filter(|c| !c.is_empty());
    let method = q
        .get("code_challenge_method")
        .cloned()
        .unwrap_or_else(|| "plain".into());
    let refusal = if q.get("response_type").map(String::as_str) != Some("code") {
        Some(("unsupported_response_type", "response_type must be code"))
    } else if f.pkce == PkceRule::Required && challenge.is_none() {
        Some(("invalid_request", "code_challenge is required"))
    } else if challenge.is_some() && method != "S256" && method != "plain" {
        Some((
            "invalid_request",
            "code_challenge_method must be S256 or plain",
        ))
    } else if q.contains_key("sandbox_deny") {
        Some(("access_denied", "The user denied the request"))
    } else {
        None
    };
    {
        let mut qp = redirect.query_pairs_mut();
        match refusal {
            Some((error, description)) => {
                qp.append_pair("error", error)
                    .append_pair("error_description", description);
                if f.error_reason {
                    qp.append_pair("error_reason", "user_denied");
                }
            }
            None => {
                let code = random(&format!("{}-code-", p.as_str()));
                let challenge = match f.pkce {
                    PkceRule::Ignored => None,
                    _ => challenge.map(|c| (c.clone(), method)),
                };
                state.oauth.codes.lock().expect("codes").insert(
                    code.clone(),
                    CodeGrant {
                        provider: p,
                        account: q
                            .get("sandbox_account")
                            .cloned()
                            .unwrap_or_else(|| f.default_account.into()),
                        client_id: client_id.clone(),
                        redirect_uri: redirect_uri.clone(),
                        challenge,
                        scope: q.get("scope").cloned().unwrap_or_default(),
                        issued_ms: state.now_ms(),
                    },
                );
                qp.append_pair("code", &code);
            }
        }
        if let Some(s) = q.get("state") {
            qp.append_pair("state", s);
        }
    }
    let mut location = redirect.to_string();
    // Instagram appends `#_`; browsers drop fragments before the server.
    location.push_str(f.redirect_fragment);
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .finish()
}

/// Client credentials from `Authorization: Basic` (id, secret).
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let b64 = req
        .headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let (id, secret) = std::str::from_utf8(&raw).ok()?.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let (id, secret) = (dec(id)?, dec(secret)?);
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// `POST …/token` (Facebook: `GET`): authorization code and refresh grants. With the
/// `token_slow_ms` fault the grant is decided (a code or single-use refresh token spent) at
/// once and the reply sent that much later, as a slow provider that has already committed.
/// The delay is the fault's value when the request arrived, so a test can make one request
/// slow and answer the next at once.
#[handler]
pub async fn token(
    state: Data<&Arc<SandboxState>>,
    provider: Data<&Provider>,
    req: &Request,
    body: Body,
) -> Response {
    let slow = state.faults.lock().expect("faults").token_slow_ms;
    let reply = token_reply(&state, *provider.0, req, body).await;
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    reply
}

async fn token_reply(
    state: &Arc<SandboxState>,
    p: Provider,
    req: &Request,
    body: Body,
) -> Response {
    let f = flavor(p);
    let raw = if req.method() == Method::GET {
        req.uri().query().unwrap_or("").to_string()
    } else {
        body.into_string().await.unwrap_or_default()
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    state.record(format!(
        "{p} token grant_type={}",
        form.get("grant_type").map(String::as_str).unwrap_or(
            if form.contains_key("fb_exchange_token") {
                "fb_exchange_token"
            } else {
                "authorization_code"
            }
        )
    ));
    let client_id = match f.client_auth {
        AuthRule::Basic => basic_credentials(req).map(|(id, _)| id),
        AuthRule::BasicOrPost | AuthRule::Query => {
            basic_credentials(req).map(|(id, _)| id).or_else(|| {
                match (form.get("client_id"), form.get("client_secret")) {
                    (Some(id), Some(s)) if !id.is_empty() && !s.is_empty() => Some(id.clone()),
                    _ => None,
                }
            })
        }
    };
    let Some(client_id) = client_id else {
        return match f.errors {
            ErrorStyle::Twitter => oauth_error(
                f.errors,
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                "Missing valid authorization header",
            ),
            _ => oauth_error(
                f.errors,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed",
            ),
        };
    };
    let grant_type = form
        .get("grant_type")
        .cloned()
        .unwrap_or_else(|| "authorization_code".into());
    let (account, scope) = match grant_type.as_str() {
        "authorization_code" => match redeem_code(state, p, f, &client_id, &form) {
            Ok(_) if state.take_token_fault() => {
                return Response::builder()
                    .status(StatusCode::SERVICE_UNAVAILABLE)
                    .content_type("text/html")
                    .body("<html><body>503 Service Unavailable</body></html>");
            }
            Ok(g) => g,
            Err(resp) => return resp,
        },
        "refresh_token" => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let mut refresh = state.oauth.refresh.lock().expect("refresh");
            let grant = match f.refresh {
                RefreshRule::SingleUse(_) => refresh.remove(&presented),
                _ => refresh.get(&presented).map(|g| RefreshGrant {
                    provider: g.provider,
                    account: g.account.clone(),
                    client_id: g.client_id.clone(),
                    scope: g.scope.clone(),
                }),
            };
            match grant {
                Some(g) if g.client_id == client_id && g.provider == p => (g.account, g.scope),
                _ => {
                    let (error, description) = match f.errors {
                        ErrorStyle::Twitter => {
                            ("invalid_request", "Value passed for the token was invalid.")
                        }
                        _ => ("invalid_grant", "Token has been expired or revoked."),
                    };
                    return oauth_error(f.errors, StatusCode::BAD_REQUEST, error, description);
                }
            }
        }
        "fb_exchange_token" if f.exchange_grant => {
            let short = form.get("fb_exchange_token").cloned().unwrap_or_default();
            match state.token_info(p, &short) {
                Some(info) => return long_lived_reply(state, p, &info.account),
                None => return crate::meta::graph_token_error(),
            }
        }
        _ => {
            return oauth_error(
                f.errors,
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type is not supported",
            )
        }
    };
    let access = state.issue_token_for(p, &account, f.access_ttl_secs);
    let mut body = match f.reply {
        // Instagram's real (flat) short-lived reply: a bare numeric app-scoped user id.
        TokenReply::Flat(render) => {
            return Response::builder()
                .content_type("application/json")
                .body(render(&access, &account));
        }
        TokenReply::CommaScope => json!({
            "access_token": access, "expires_in": f.access_ttl_secs,
            "scope": scope.split_whitespace().collect::<Vec<_>>().join(","), "token_type": "Bearer"
        }),
        TokenReply::Rfc { token_type } => json!({
            "token_type": token_type,
            "expires_in": f.access_ttl_secs, "access_token": access, "scope": scope
        }),
    };
    let issue_refresh = match f.refresh {
        RefreshRule::None => false,
        RefreshRule::Fixed => grant_type == "authorization_code",
        RefreshRule::SingleUse(s) | RefreshRule::RotateKeepOld(s) => {
            scope.split([' ', ',']).any(|x| x == s)
        }
    };
    if issue_refresh {
        let rt = random(&format!("{}-rt-", p.as_str()));
        state.oauth.refresh.lock().expect("refresh").insert(
            rt.clone(),
            RefreshGrant {
                provider: p,
                account,
                client_id,
                scope,
            },
        );
        body["refresh_token"] = json!(rt);
    }
    Response::builder()
        .content_type("application/json")
        .body(body.to_string())
}

fn redeem_code(
    state: &SandboxState,
    p: Provider,
    f: &Flavor,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<(String, String), Response> {
    let invalid = |description: &str| {
        let (error, text) = match f.errors {
            ErrorStyle::Twitter => (
                "invalid_request",
                "Value passed for the authorization code was invalid.".to_string(),
            ),
            ErrorStyle::LinkedIn => ("invalid_request", format!(
                "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. ({description})"
            )),
            ErrorStyle::Instagram => ("invalid_grant", "Invalid authorization code".to_string()),
            ErrorStyle::Graph => ("invalid_grant", "This authorization code has been used.".to_string()),
            _ => ("invalid_grant", description.to_string()),
        };
        oauth_error(f.errors, StatusCode::BAD_REQUEST, error, &text)
    };
    let grant = form
        .get("code")
        .and_then(|c| state.oauth.codes.lock().expect("codes").remove(c));
    let Some(g) = grant else {
        return Err(invalid("the code is unknown or was already used"));
    };
    if g.provider != p || state.now_ms() - g.issued_ms > f.code_lifetime.as_millis() as i64 {
        return Err(invalid("the code expired"));
    }
    if g.client_id != client_id || form.get("redirect_uri") != Some(&g.redirect_uri) {
        return Err(invalid("client or redirect_uri mismatch"));
    }
    if let Some((challenge, method)) = &g.challenge {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let computed = if method == "S256" {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()))
        } else {
            verifier
        };
        if verifier_is_empty(form) || &computed != challenge {
            return Err(invalid("code_verifier does not match the challenge"));
        }
    }
    Ok((g.account, g.scope))
}

fn verifier_is_empty(form: &HashMap<String, String>) -> bool {
    form.get("code_verifier").is_none_or(|v| v.is_empty())
}

/// A 60-day token (Instagram `ig_exchange_token` / `ig_refresh_token`, Facebook exchange).
pub fn long_lived_reply(state: &SandboxState, p: Provider, account: &str) -> Response {
    let access = state.issue_token_for(p, account, 5_183_944);
    Response::builder().content_type("application/json").body(
        json!({ "access_token": access, "token_type": "bearer", "expires_in": 5_183_944 })
            .to_string(),
    )
}

/// `POST …/revoke` (RFC 7009): Twitter (`/2/oauth2/revoke`, Basic client authentication, the
/// access or refresh token named by `token` and `token_type_hint`; `{"revoked": true}` even
/// for an unknown token), Google (`/revoke`, no client authentication; either token revokes
/// the whole grant; an unknown token is 400 `invalid_token`), LinkedIn (`/oauth/v2/revoke`,
/// `client_id` and `client_secret` in the body; 200 with an empty body). With the
/// `revoke_unavailable` fault: 503.
#[handler]
pub async fn revoke(
    state: Data<&Arc<SandboxState>>,
    provider: Data<&Provider>,
    req: &Request,
    body: Body,
) -> Response {
    let p = *provider.0;
    let f = flavor(p);
    let raw = body.into_string().await.unwrap_or_default();
    let form: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
        .chain(url::form_urlencoded::parse(
            req.uri().query().unwrap_or("").as_bytes(),
        ))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if f.revoke_auth == RevokeAuth::Basic && basic_credentials(req).is_none() {
        return oauth_error(
            f.errors,
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let posted = |k: &str| form.get(k).is_some_and(|v| !v.is_empty());
    if f.revoke_auth == RevokeAuth::BasicOrPost
        && basic_credentials(req).is_none()
        && !(posted("client_id") && posted("client_secret"))
    {
        return oauth_error(
            f.errors,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    state.record(format!("{p} revoke"));
    if state.revoke_unavailable() {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .content_type("text/html")
            .body("<html><body>503 Service Unavailable</body></html>");
    }
    let presented = form.get("token").cloned().unwrap_or_default();
    let known = if f.revoke_grant {
        state.revoke_grant(p, &presented)
    } else {
        state.revoke_token(p, &presented)
    };
    if known.is_none() && f.revoke_grant {
        return oauth_error(
            f.errors,
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        );
    }
    match f.revoke_body {
        Some(body) => Response::builder()
            .content_type("application/json")
            .body(body),
        None => Response::builder().finish(),
    }
}
