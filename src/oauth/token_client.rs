//! Talking to a provider's token endpoint: the authorization-code exchange (with the client
//! authentication the app uses and the PKCE verifier), the long-lived token exchanges of
//! Instagram and Facebook, refresh, and revocation.
//!
//! Replies are read leniently, as the providers really send them: Instagram's flat or `data[]`
//! token body, numeric ids above 2^53 kept as exact strings, `expires_in` as a number or a
//! string, scopes space-, comma- or array-separated. Errors come in three shapes (RFC 6749
//! `error`/`error_description`, Instagram's `error_type`/`error_message`, Graph's nested
//! `error{}`) and are classified once: 4xx is [`OAuthError::Rejected`] (the grant is dead;
//! retrying cannot help), 5xx, 429 and transport failures are [`OAuthError::Transient`].
//! No token, code, verifier or secret is ever part of an error or a log line.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::providers::app::ProviderApp;
use crate::{
    domain::ClientAuth,
    providers::oauth_spec::{LongLived, Refresh, Revoke},
};

/// Tokens as a provider issued them. Debug never shows them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds from issue.
    pub expires_in: Option<i64>,
    pub scopes: Vec<String>,
    /// The provider's user id from the token reply (Instagram), exact.
    pub user_id: Option<String>,
    /// The long-lived exchange is done (or not needed).
    #[serde(default)]
    pub long_lived: bool,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A failed token-endpoint call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused (bad or used code, PKCE mismatch, revoked or expired grant).
    #[error("{error}: {description}")]
    Rejected {
        status: u16,
        error: String,
        description: String,
    },
    /// Worth retrying later.
    #[error("transient: {0}")]
    Transient(String),
    /// The provider's certificate or TLS handshake is not acceptable: a configuration problem
    /// (trust anchors, a proxy) that retrying cannot mend, and not the user's doing.
    #[error("{0}")]
    Tls(String),
}

impl OAuthError {
    fn transport(e: reqwest::Error) -> Self {
        match crate::outbound::tls_failure(&e) {
            Some(why) => Self::Tls(why),
            None => Self::Transient(e.without_url().to_string()),
        }
    }
}

/// Exchanges an authorization code.
pub async fn exchange_code(
    app: &ProviderApp,
    http: &reqwest::Client,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<TokenSet, OAuthError> {
    let mut params = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code.to_string()),
        ("redirect_uri", redirect_uri.to_string()),
    ];
    if let Some(v) = verifier {
        params.push(("code_verifier", v.to_string()));
    }
    let mut tokens = token_request(app, http, params).await?;
    tokens.long_lived = app.spec.long_lived == LongLived::None;
    Ok(tokens)
}

/// Instagram and Facebook: turns the code's short-lived token into a 60-day one.
pub async fn to_long_lived(
    app: &ProviderApp,
    http: &reqwest::Client,
    short: &TokenSet,
) -> Result<TokenSet, OAuthError> {
    let reply = match app.spec.long_lived {
        LongLived::None => return Ok(short.clone()),
        LongLived::Instagram => {
            http.get(app.api_url("/access_token"))
                .query(&[
                    ("grant_type", "ig_exchange_token"),
                    ("client_secret", app.client_secret()),
                    ("access_token", &short.access_token),
                ])
                .send()
                .await
        }
        LongLived::Facebook => {
            http.get(app.token_url.clone())
                .query(&[
                    ("grant_type", "fb_exchange_token"),
                    ("client_id", &app.client_id),
                    ("client_secret", app.client_secret()),
                    ("fb_exchange_token", &short.access_token),
                ])
                .send()
                .await
        }
    };
    let mut long = read_token_reply(reply).await?;
    long.user_id = long.user_id.or_else(|| short.user_id.clone());
    if long.scopes.is_empty() {
        long.scopes = short.scopes.clone();
    }
    long.long_lived = true;
    Ok(long)
}

/// Renews an access token the provider's way (see [`Refresh`]).
pub async fn refresh(
    app: &ProviderApp,
    http: &reqwest::Client,
    access_token: &str,
    refresh_token: Option<&str>,
    scopes: &[String],
) -> Result<TokenSet, OAuthError> {
    let mut tokens = match app.spec.refresh {
        Refresh::RefreshToken => {
            let Some(rt) = refresh_token else {
                return Err(OAuthError::Rejected {
                    status: 400,
                    error: "no_refresh_token".into(),
                    description: "the provider issued no refresh token; reconnect the account"
                        .into(),
                });
            };
            let mut params = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", rt.to_string()),
            ];
            if app.id == crate::domain::ProviderId::Microsoft && !scopes.is_empty() {
                params.push(("scope", scopes.join(" ")));
            }
            token_request(app, http, params).await?
        }
        Refresh::Instagram => {
            let reply = http
                .get(app.api_url("/refresh_access_token"))
                .query(&[
                    ("grant_type", "ig_refresh_token"),
                    ("access_token", access_token),
                ])
                .send()
                .await;
            read_token_reply(reply).await?
        }
        Refresh::Facebook => {
            let short = TokenSet {
                access_token: access_token.to_string(),
                refresh_token: None,
                expires_in: None,
                scopes: scopes.to_vec(),
                user_id: None,
                long_lived: false,
            };
            let mut app_ll = to_long_lived(app, http, &short).await?;
            app_ll.user_id = None;
            app_ll
        }
    };
    if tokens.scopes.is_empty() {
        tokens.scopes = scopes.to_vec();
    }
    tokens.long_lived = true;
    Ok(tokens)
}

/// Revokes an access token where the provider offers it. Ok(false): nothing to call.
pub async fn revoke(
    app: &ProviderApp,
    http: &reqwest::Client,
    access_token: &str,
) -> Result<bool, OAuthError> {
    revoke_token(app, http, access_token, "access_token").await
}

/// Revokes a refresh token (RFC 7009 `token_type_hint=refresh_token`) where the provider
/// revokes tokens by value (Twitter, Google — for Google this ends the whole grant —,
/// LinkedIn). Meta has no refresh tokens. Ok(false): nothing to call.
pub async fn revoke_refresh(
    app: &ProviderApp,
    http: &reqwest::Client,
    refresh_token: &str,
) -> Result<bool, OAuthError> {
    if app.spec.revoke != Revoke::SiblingOfTokenUrl {
        return Ok(false);
    }
    revoke_token(app, http, refresh_token, "refresh_token").await
}

async fn revoke_token(
    app: &ProviderApp,
    http: &reqwest::Client,
    token: &str,
    hint: &'static str,
) -> Result<bool, OAuthError> {
    let reply = match app.spec.revoke {
        Revoke::None => return Ok(false),
        Revoke::SiblingOfTokenUrl => {
            let params = vec![
                ("token", token.to_string()),
                ("token_type_hint", hint.to_string()),
            ];
            authenticated(app, http, app.token_sibling("revoke"), params)
                .send()
                .await
        }
        Revoke::FacebookPermissions => {
            http.delete(app.api_url("/v18.0/me/permissions"))
                .bearer_auth(token)
                .send()
                .await
        }
    };
    let resp = reply.map_err(OAuthError::transport)?;
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        return Ok(true);
    }
    let body = resp.text().await.unwrap_or_default();
    Err(classify_error(status, &body))
}

/// A token-endpoint request with the app's client authentication.
async fn token_request(
    app: &ProviderApp,
    http: &reqwest::Client,
    params: Vec<(&'static str, String)>,
) -> Result<TokenSet, OAuthError> {
    let reply = authenticated(app, http, app.token_url.clone(), params)
        .send()
        .await;
    read_token_reply(reply).await
}

fn authenticated(
    app: &ProviderApp,
    http: &reqwest::Client,
    url: url::Url,
    mut params: Vec<(&'static str, String)>,
) -> reqwest::RequestBuilder {
    match app.client_auth {
        ClientAuth::Basic => {
            // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            let id: String = enc(&app.client_id);
            let secret: String = enc(app.client_secret());
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            http.post(url)
                .header("authorization", format!("Basic {basic}"))
                .form(&params)
        }
        ClientAuth::Post => {
            params.push(("client_id", app.client_id.clone()));
            params.push(("client_secret", app.client_secret().to_string()));
            http.post(url).form(&params)
        }
        ClientAuth::Query => {
            params.push(("client_id", app.client_id.clone()));
            params.push(("client_secret", app.client_secret().to_string()));
            params.retain(|(k, _)| {
                *k != "grant_type" || app.id != crate::domain::ProviderId::Facebook
            });
            http.get(url).query(&params)
        }
    }
}

async fn read_token_reply(
    reply: Result<reqwest::Response, reqwest::Error>,
) -> Result<TokenSet, OAuthError> {
    let resp = reply.map_err(OAuthError::transport)?;
    let status = resp.status().as_u16();
    let body = resp.text().await.map_err(OAuthError::transport)?;
    if !(200..300).contains(&status) {
        return Err(classify_error(status, &body));
    }
    let value: Value = serde_json::from_str(&body).map_err(|_| OAuthError::Rejected {
        status,
        error: "malformed_token_response".into(),
        description: "the token endpoint's reply is not JSON".into(),
    })?;
    parse_token_set(&value).ok_or_else(|| OAuthError::Rejected {
        status,
        error: "malformed_token_response".into(),
        description: "the token endpoint's reply has no access_token".into(),
    })
}

/// Reads a token reply in any of the shapes providers send.
pub fn parse_token_set(v: &Value) -> Option<TokenSet> {
    let v = v
        .get("data")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .unwrap_or(v);
    let access_token = v.get("access_token")?.as_str()?.to_string();
    if access_token.is_empty() {
        return None;
    }
    let expires_in = match v.get("expires_in") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let scopes = match v.get("scope").or_else(|| v.get("permissions")) {
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    let user_id = match v.get("user_id") {
        // serde_json keeps integers as exact u64/i64: no trip through f64.
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    Some(TokenSet {
        access_token,
        refresh_token: v
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from),
        expires_in,
        scopes,
        user_id,
        long_lived: false,
    })
}

/// An error reply, in whichever shape, classified.
pub fn classify_error(status: u16, body: &str) -> OAuthError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let text = |x: Option<&Value>| x.and_then(Value::as_str).unwrap_or("").to_string();
    let (error, description) = match v.get("error") {
        Some(Value::String(e)) => (e.clone(), text(v.get("error_description"))),
        Some(obj @ Value::Object(_)) => {
            let code = obj.get("code").map(|c| match c {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            (
                format!(
                    "{}{}",
                    text(obj.get("type")).if_empty("error"),
                    code.map(|c| format!(" {c}")).unwrap_or_default()
                ),
                text(obj.get("message")),
            )
        }
        _ if v.get("error_type").is_some() => {
            (text(v.get("error_type")), text(v.get("error_message")))
        }
        _ => (format!("http_{status}"), String::new()),
    };
    let description: String = description.chars().take(300).collect();
    if status >= 500 || status == 429 {
        OAuthError::Transient(format!("{status} {error}: {description}"))
    } else {
        OAuthError::Rejected {
            status,
            error,
            description,
        }
    }
}

trait IfEmpty {
    fn if_empty(self, other: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, other: &str) -> String {
        if self.is_empty() {
            other.to_string()
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_instagram_flat_and_documented_bodies_with_exact_big_ids() {
        let flat: Value = serde_json::from_str(
            r#"{"access_token":"IGAA2e","user_id":27640875392278831,"permissions":["instagram_business_basic"]}"#,
        )
        .unwrap();
        let t = parse_token_set(&flat).unwrap();
        assert_eq!(t.user_id.as_deref(), Some("27640875392278831"));
        assert_eq!(t.scopes, ["instagram_business_basic"]);
        let doc = json!({"data":[{"access_token":"IGAAxx","user_id":"1020","permissions":"a,b"}]});
        let t = parse_token_set(&doc).unwrap();
        assert_eq!(t.user_id.as_deref(), Some("1020"));
        assert_eq!(t.scopes, ["a", "b"]);
        let s = json!({"access_token":"x","expires_in":"3599","scope":"email,openid"});
        assert_eq!(parse_token_set(&s).unwrap().expires_in, Some(3599));
        assert!(parse_token_set(&json!({"token_type":"bearer"})).is_none());
    }

    #[test]
    fn classifies_the_three_error_shapes() {
        let e = classify_error(
            400,
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        );
        assert!(matches!(e, OAuthError::Rejected { ref error, .. } if error == "invalid_grant"));
        let e = classify_error(
            400,
            r#"{"error_type":"OAuthException","code":400,"error_message":"Invalid authorization code"}"#,
        );
        assert_eq!(e.to_string(), "OAuthException: Invalid authorization code");
        let e = classify_error(
            400,
            r#"{"error":{"message":"Error validating","type":"OAuthException","code":190}}"#,
        );
        assert_eq!(e.to_string(), "OAuthException 190: Error validating");
        assert!(matches!(
            classify_error(503, "<html>"),
            OAuthError::Transient(_)
        ));
        assert!(
            format!("{:?}", parse_token_set(&json!({"access_token":"secret-x"})))
                .find("secret")
                .is_none()
        );
    }
}
