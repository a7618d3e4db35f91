//! The provider sandbox: a loopback stand-in for the providers' APIs with their real wire
//! shapes, deterministic data from a seed, and switchable faults. One file per provider, each
//! with the same inner shape (data set, handlers, routes); sandbox-only control endpoints live
//! under `/_sandbox/` and never exist at a real provider.
//!
//! Today: Twitter's OAuth (`/twitter/i/oauth2/authorize`, `/twitter/2/oauth2/token`) and data
//! API (`/twitter/2/users/me`, `/twitter/2/users/:id/tweets`).

pub mod twitter;
pub mod twitter_oauth;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{EndpointExt, Route};

/// Faults the sandbox injects, switchable at run time through `POST /_sandbox/faults`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Faults {
    /// Delay before every data reply (ms).
    #[serde(default)]
    pub slow_ms: u64,
    /// Requests allowed per 15-minute window per account before 429 (None: the provider's).
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// Every n-th data request fails with a 503 (0: never).
    #[serde(default)]
    pub fail_every: u32,
}

/// Shared state of one sandbox.
pub struct SandboxState {
    pub seed: u64,
    pub faults: Mutex<Faults>,
    /// access token → account id.
    pub tokens: Mutex<HashMap<String, String>>,
    /// Every data request, as `provider path?query`, for tests that check what was fetched.
    pub requests: Mutex<Vec<String>>,
    pub twitter: twitter::TwitterData,
    pub twitter_oauth: twitter_oauth::OAuthState,
}

impl SandboxState {
    pub fn new(seed: u64) -> Arc<Self> {
        Arc::new(Self {
            seed,
            faults: Mutex::new(Faults::default()),
            tokens: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            twitter: twitter::TwitterData::new(seed),
            twitter_oauth: twitter_oauth::OAuthState::default(),
        })
    }

    /// Issues an access token for an account (what the OAuth flow ends in).
    pub fn issue_token(&self, account_id: &str) -> String {
        let token = format!("sbx-{:032x}", rand::random::<u128>());
        self.tokens
            .lock()
            .expect("tokens")
            .insert(token.clone(), account_id.to_string());
        token
    }

    pub fn account_of(&self, token: &str) -> Option<String> {
        self.tokens.lock().expect("tokens").get(token).cloned()
    }

    fn record(&self, what: String) -> usize {
        let mut r = self.requests.lock().expect("requests");
        r.push(what);
        r.len()
    }

    /// Applies the slow-reply fault; returns true when this request must fail with a 503.
    async fn before_reply(&self, what: String) -> bool {
        let n = self.record(what);
        let f = self.faults.lock().expect("faults").clone();
        if f.slow_ms > 0 {
            tokio::time::sleep(Duration::from_millis(f.slow_ms)).await;
        }
        f.fail_every > 0 && n.is_multiple_of(f.fail_every as usize)
    }
}

/// The sandbox's routes.
pub fn app(state: Arc<SandboxState>) -> impl poem::Endpoint {
    Route::new()
        .nest("/twitter", twitter::routes())
        .nest("/_sandbox", control::routes())
        .data(state)
}

/// Serves the sandbox on `addr` until `shutdown`; `on_bound` learns the address.
pub async fn serve(
    addr: &str,
    state: Arc<SandboxState>,
    on_bound: impl FnOnce(std::net::SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    crate::http::serve(addr, app(state), on_bound, shutdown, Duration::from_secs(5)).await
}

mod control {
    //! Sandbox-only control: issue tokens, add data, set faults, read the request log.
    use std::sync::Arc;

    use poem::{
        handler, post,
        web::{Data, Json, Path},
        Route,
    };
    use serde::Deserialize;
    use serde_json::{json, Value};

    use super::{Faults, SandboxState};

    #[derive(Deserialize)]
    struct TokenRequest {
        account_id: String,
    }

    #[handler]
    fn issue(state: Data<&Arc<SandboxState>>, body: Json<TokenRequest>) -> Json<Value> {
        Json(json!({ "access_token": state.issue_token(&body.account_id), "token_type": "bearer" }))
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
    fn set_faults(state: Data<&Arc<SandboxState>>, body: Json<Faults>) -> Json<Faults> {
        *state.faults.lock().expect("faults") = body.0.clone();
        body
    }

    #[handler]
    fn requests(state: Data<&Arc<SandboxState>>) -> Json<Vec<String>> {
        Json(state.requests.lock().expect("requests").clone())
    }

    pub fn routes() -> Route {
        Route::new()
            .at("/tokens", post(issue))
            .at("/twitter/accounts/:id/tweets", post(add_tweets))
            .at("/faults", post(set_faults))
            .at("/requests", poem::get(requests))
    }
}
