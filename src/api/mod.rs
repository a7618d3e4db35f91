//! The HTTP API (poem + poem-openapi): one file per resource, thin handlers that parse, call a
//! service or a query, and answer. Every error leaves in the contract's shape (`error.rs`).
//! The OpenAPI document is generated from these handlers (`/openapi.json`, `/docs`).

pub mod auth;
mod data_sources;
pub mod error;
mod health;
mod items;

use std::{future::Future, sync::Arc, time::Duration};

use jsonwebtoken::DecodingKey;
use lifesync_jobs::{Producer, Store};
use poem::{EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags as OaiTags};
use sqlx::PgPool;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub pool: PgPool,
    pub store: Store,
    pub producer: Producer,
    pub jwt_key: DecodingKey,
    /// Token revocation at providers on disconnect (None: only local deletion).
    pub revocation: Option<crate::services::disconnect::Revocation>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(pool: PgPool, store: Store, jwt_secret: &[u8]) -> Self {
        Self::with_revocation(pool, store, jwt_secret, None)
    }

    pub fn with_revocation(
        pool: PgPool,
        store: Store,
        jwt_secret: &[u8],
        revocation: Option<crate::services::disconnect::Revocation>,
    ) -> Self {
        Self(Arc::new(Inner {
            pool,
            producer: Producer::new(store.clone()),
            store,
            jwt_key: DecodingKey::from_secret(jwt_secret),
            revocation,
        }))
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
}

/// The whole application as one endpoint.
pub fn app(state: AppState) -> impl poem::Endpoint {
    let api = OpenApiService::new(
        (
            health::HealthApi,
            data_sources::DataSourcesApi,
            items::ItemsApi,
        ),
        "lifesync",
        env!("CARGO_PKG_VERSION"),
    );
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint();
    Route::new()
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", api)
        .data(state)
        .catch_all_error(|err| async move { error::to_response(err) })
}

/// Serves the API on `addr` until `shutdown` resolves; `on_bound` learns the bound address.
pub async fn serve(
    addr: &str,
    state: AppState,
    on_bound: impl FnOnce(std::net::SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    crate::http::serve(
        addr,
        app(state),
        on_bound,
        shutdown,
        Duration::from_secs(10),
    )
    .await
}
