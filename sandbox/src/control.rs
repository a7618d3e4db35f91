//! Sandbox-only control of the sandbox as a whole, under `/_sandbox`: issue tokens (`POST|GET
//! /tokens`), list live refresh tokens, move the clock, add, delete and like tweets, set the
//! faults, read the request and revocation logs. The mailboxes and social feeds have their own
//! ([`crate::mail::control`], [`crate::feed_control`]).

use std::sync::Arc;

use poem::{
    handler, post,
    web::{Data, Json, Path},
    Route,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{Faults, Provider, SandboxState};

#[derive(Deserialize)]
struct TokenRequest {
    account_id: String,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    ttl_secs: Option<i64>,
}

#[handler]
fn issue(state: Data<&Arc<SandboxState>>, body: Json<TokenRequest>) -> Json<Value> {
    let p = body
        .provider
        .as_deref()
        .and_then(Provider::parse)
        .unwrap_or(Provider::Twitter);
    let token = state.issue_token_for(p, &body.account_id, body.ttl_secs.unwrap_or(7200));
    Json(json!({ "access_token": token, "token_type": "bearer" }))
}

/// Every access token issued so far (sandbox-only: tests compare them with what was stored).
#[handler]
fn issued(state: Data<&Arc<SandboxState>>) -> Json<Vec<crate::TokenInfo>> {
    Json(state.issued_tokens())
}

#[derive(Deserialize)]
struct Advance {
    advance_secs: u64,
}

/// Refresh tokens still valid (sandbox-only).
#[handler]
fn refresh_tokens(state: Data<&Arc<SandboxState>>) -> Json<Vec<String>> {
    Json(state.oauth.refresh_tokens())
}

/// Moves the sandbox clock forward (codes and tokens expire).
#[handler]
fn clock(state: Data<&Arc<SandboxState>>, body: Json<Advance>) -> Json<Value> {
    state.advance_clock(std::time::Duration::from_secs(body.advance_secs));
    Json(json!({ "now_ms": state.now_ms() }))
}

#[derive(Deserialize)]
struct AddTweets {
    count: usize,
}

#[handler]
fn add_tweets(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<AddTweets>,
) -> Json<Value> {
    let ids = state.twitter.add_tweets(&account, body.count);
    Json(json!({ "ids": ids }))
}

#[handler]
fn delete_tweets(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<AddTweets>,
) -> Json<Value> {
    Json(json!({ "ids": state.twitter.delete_tweets(&account, body.count) }))
}

#[handler]
fn like_tweets(
    state: Data<&Arc<SandboxState>>,
    Path(account): Path<String>,
    body: Json<AddTweets>,
) -> Json<Value> {
    Json(json!({ "ids": state.twitter.like_tweets(&account, body.count) }))
}

#[handler]
fn set_faults(state: Data<&Arc<SandboxState>>, body: Json<Faults>) -> Json<Faults> {
    *state.faults.lock().expect("faults") = body.0.clone();
    body
}

#[handler]
fn requests(state: Data<&Arc<SandboxState>>) -> Json<Vec<String>> {
    Json(state.requests.lock().expect("requests").clone())
}

/// Every revocation carried out (sandbox-only: tests check who was revoked).
#[handler]
fn revocations(state: Data<&Arc<SandboxState>>) -> Json<Vec<crate::Revocation>> {
    Json(state.revocations.lock().expect("revocations").clone())
}

pub fn routes() -> Route {
    Route::new()
        .at("/tokens", post(issue).get(issued))
        .at("/clock", post(clock))
        .at("/refresh-tokens", poem::get(refresh_tokens))
        .at("/twitter/accounts/:id/tweets", post(add_tweets))
        .at("/twitter/accounts/:id/deletions", post(delete_tweets))
        .at("/twitter/accounts/:id/likes", post(like_tweets))
        .at("/faults", post(set_faults))
        .at("/requests", poem::get(requests))
        .at("/revocations", poem::get(revocations))
}
