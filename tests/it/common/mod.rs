//! Test harness for the service: a fresh migrated database per test (`db`), a random Redis
//! key prefix and the API served on port 0 (`app`), JWTs minted with the test's secret (here),
//! a sandbox of the test's own (`sandbox`), in-process workers (`workers`), the whole service
//! on a sandbox (`harness`), the provider scenarios (`scenarios`), `lifesync` child processes
//! (`process`) and private PostgreSQL and Redis servers (`servers`). Tests import it whole:
//! `use crate::common::*`.

mod app;
mod db;
mod harness;
mod process;
mod sandbox;
mod scenarios;
pub mod servers;
mod workers;

pub use app::*;
pub use db::*;
pub use harness::*;
pub use process::*;
pub use sandbox::*;
pub use scenarios::*;
pub use workers::*;

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret!";

/// The Redis tests use (`TEST_REDIS_URL`), each under a key prefix of its own.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A token for `sub`, valid for an hour (or expired when `ttl_s` is negative).
pub fn token(sub: &str, ttl_s: i64, role: Option<&str>) -> String {
    token_with_secret(sub, ttl_s, role, JWT_SECRET)
}

pub fn token_with_secret(sub: &str, ttl_s: i64, role: Option<&str>, secret: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = serde_json::json!({ "sub": sub, "exp": now + ttl_s, "role": role });
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The body's `error` code, asserting the contract's error shape.
pub async fn error_code(resp: reqwest::Response) -> String {
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "error content-type {ct}"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["message"].is_string(), "error body {body}");
    body["error"].as_str().expect("error code").to_string()
}

pub const TOKEN_KEY_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub fn token_key() -> lifesync::crypto::TokenKey {
    lifesync::crypto::TokenKey::from_base64(TOKEN_KEY_B64).unwrap()
}

/// Polls until `f` holds or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(secs) {
        if f().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}
