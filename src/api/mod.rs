//! The HTTP API (poem + poem-openapi): one file per resource, thin handlers that parse, call a
//! service or a query, and answer. Every error leaves in the contract's shape (`error.rs`).
//! The OpenAPI document is generated from these handlers (`/openapi.json`, `/docs`) and
//! completed with what the layers around them answer (`spec.rs`).
//!
//! Layers, outermost first: `edge` (request id, error shape, headers), `input` (URI, NUL,
//! body limit), `rate_limit` (per user), then the routes; below them all, `wire` shapes the
//! replies hyper makes by itself.

mod admin;
pub mod auth;
mod changes;
mod data_sources;
mod edge;
pub mod error;
mod health;
mod input;
mod items;
mod keyset;
mod oauth;
pub mod rate_limit;
mod spec;
mod strict;
mod timeline;
mod users;
mod webhooks;
mod wire;

use std::{future::Future, sync::Arc, time::Duration};

use jsonwebtoken::DecodingKey;
use lifesync_jobs::{Producer, Store};
use poem::{EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags as OaiTags};
use sqlx::PgPool;

use crate::{
    crypto::TokenKey,
    oauth::{apps::ProviderApps, state::StateStore},
};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    /// The primary: every write, and the reads that must see the caller's own writes (their
    /// sources' sync status, sync runs).
    pub pool: PgPool,
    /// What GET routes that may lag read (items, export): `DATABASE_REPLICA_URL`'s pool, else
    /// the primary's.
    pub read_pool: PgPool,
    pub store: Store,
    pub producer: Producer,
    pub jwt_key: DecodingKey,
    /// OAuth state, completion records and temporary data (Redis, under the store's prefix).
    pub states: StateStore,
    /// The configured provider apps (authorize, revoke on disconnect).
    pub apps: Arc<ProviderApps>,
    /// Seals PKCE verifiers and codes; opens tokens to revoke them. None: OAuth unavailable.
    pub token_key: Option<TokenKey>,
    /// `OAUTH_SUCCESS_REDIRECT_URL`.
    pub success_redirect: Option<url::Url>,
    /// `API_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// The per-user cap (`API_RATE_LIMIT_PER_MINUTE`), shared through Redis.
    pub limiter: crate::services::user_limit::UserLimiter,
    /// `SYNC_DUPLICATE_WINDOW_HOURS`, for relinking when a source's items are deleted.
    pub duplicate_window: std::time::Duration,
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS`: webhook URLs may name loopback and private addresses.
    pub webhook_allow_private_targets: bool,
}

/// The API's own limits (`API_MAX_BODY_BYTES`, `API_RATE_LIMIT_PER_MINUTE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    pub max_body_bytes: usize,
    pub rate_limit_per_minute: u32,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            rate_limit_per_minute: 600,
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Everything OAuth needs, when the process has it.
pub struct OAuthSetup {
    pub apps: Arc<ProviderApps>,
    pub token_key: TokenKey,
    pub success_redirect: Option<url::Url>,
    /// Replaces the system clock for state expiry (tests).
    pub clock: Option<Arc<dyn crate::oauth::state::Clock>>,
}

impl AppState {
    /// Without OAuth (no provider apps, no token key).
    pub fn new(pool: PgPool, store: Store, jwt_secret: &[u8]) -> Self {
        Self::with_oauth(pool, store, jwt_secret, None)
    }

    pub fn with_oauth(
        pool: PgPool,
        store: Store,
        jwt_secret: &[u8],
        oauth: Option<OAuthSetup>,
    ) -> Self {
        let prefix = store.settings().prefix.clone();
        let (apps, token_key, success_redirect, clock) = match oauth {
            Some(o) => (o.apps, Some(o.token_key), o.success_redirect, o.clock),
            None => (
                Arc::new(ProviderApps::new(
                    &Default::default(),
                    reqwest::Client::new(),
                )),
                None,
                None,
                None,
            ),
        };
        let states = match clock {
            Some(c) => StateStore::with_clock(store.connection(), prefix, c),
            None => StateStore::new(store.connection(), prefix),
        };
        let limits = ApiLimits::default();
        Self(Arc::new(Inner {
            read_pool: pool.clone(),
            pool,
            producer: Producer::new(store.clone()),
            limiter: crate::services::user_limit::UserLimiter::new(
                store.connection(),
                store.settings().prefix.clone(),
                limits.rate_limit_per_minute,
            ),
            max_body_bytes: limits.max_body_bytes,
            duplicate_window: std::time::Duration::from_secs(72 * 3600),
            webhook_allow_private_targets: false,
            store,
            jwt_key: DecodingKey::from_secret(jwt_secret),
            states,
            apps,
            token_key,
            success_redirect,
        }))
    }
}

impl AppState {
    /// With these limits instead of the defaults (call before the state is shared).
    pub fn with_limits(mut self, limits: ApiLimits) -> Self {
        let inner = Arc::get_mut(&mut self.0).expect("limits are set before the state is shared");
        inner.max_body_bytes = limits.max_body_bytes;
        inner.limiter = crate::services::user_limit::UserLimiter::new(
            inner.store.connection(),
            inner.store.settings().prefix.clone(),
            limits.rate_limit_per_minute,
        );
        self
    }

    /// GET routes that may lag read from `read_pool` (a replica) instead of the primary.
    pub fn with_read_pool(mut self, read_pool: PgPool) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("settings are set before the state is shared")
            .read_pool = read_pool;
        self
    }

    /// Whether webhook URLs may name loopback and private addresses (dev, tests).
    pub fn with_webhook_private_targets(mut self, allow: bool) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("settings are set before the state is shared")
            .webhook_allow_private_targets = allow;
        self
    }

    /// The cross-post window (`SYNC_DUPLICATE_WINDOW_HOURS`; default 72 hours).
    pub fn with_duplicate_window(mut self, window: std::time::Duration) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("settings are set before the state is shared")
            .duplicate_window = window;
        self
    }
}

#[derive(OaiTags)]
enum Tags {
    /// Liveness, readiness, metrics
    Health,
    /// Connected accounts and their syncs
    DataSources,
    /// Normalized items
    Items,
    /// Connecting accounts
    OAuth,
    /// The caller as a whole: erase and export
    Users,
    /// Signed event deliveries to the caller's endpoints
    Webhooks,
    /// Operators only (`role: "admin"`)
    Admin,
    /// Trips, events and moments built from the caller's items
    Timeline,
}

/// The whole application as one endpoint.
pub fn app(state: AppState) -> impl poem::Endpoint {
    let api = OpenApiService::new(
        (
            health::HealthApi,
            data_sources::DataSourcesApi,
            items::ItemsApi,
            changes::ChangesApi,
            oauth::OAuthApi,
            users::UsersApi,
            webhooks::WebhooksApi,
            admin::AdminApi,
            timeline::TimelineApi,
        ),
        "lifesync",
        env!("CARGO_PKG_VERSION"),
    );
    let generated = api.spec();
    let spec = Arc::new(spec::Spec::complete(&generated));
    let document = spec.json.clone();
    // Swagger UI shows the completed document too (the page holds it inline).
    let docs_html = api.swagger_ui_html().replace(&generated, &spec.json);
    let docs = poem::get(poem::endpoint::make_sync(move |_| {
        poem::web::Html(docs_html.clone())
    }));
    let max_body = state.max_body_bytes;
    Route::new()
        .at(
            "/openapi.json",
            poem::get(poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(document.clone())
            })),
        )
        .at("/docs", docs)
        .nest("/", api)
        .around(rate_limit::limit)
        .around(move |ep, req| input::guard(ep, req, max_body))
        .data(state)
        .around(move |ep, req| edge::finish(ep, req, spec.clone()))
}

/// Serves the API on `addr` until `shutdown` resolves; `on_bound` learns the bound address.
/// hyper's own error replies leave in the error shape too (`wire.rs`).
pub async fn serve(
    addr: &str,
    state: AppState,
    on_bound: impl FnOnce(std::net::SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let acceptor = TcpListener::bind(addr.to_string()).into_acceptor().await?;
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("no local address"))?;
    on_bound(local);
    poem::Server::new_with_acceptor(wire::ShapedAcceptor(acceptor))
        .run_with_graceful_shutdown(app(state), shutdown, Some(Duration::from_secs(10)))
        .await
}
