//! lifesync: syncs a person's posts, photos and emails out of the services they use into
//! PostgreSQL, through a durable Redis job queue (the `lifesync-jobs` crate), normalized by the
//! pure `lifesync-normalizer` crate; the providers' stand-in for development and tests is the
//! `lifesync-sandbox` crate.
//!
//! The map of the crate, by layer, top to bottom: a module imports only from its own layer
//! (without a cycle) or below, as `tests/it/architecture.rs` checks and README.md pictures.
//! - entry points: [`dev`] (`lifesync dev`: everything in one process against the sandbox),
//!   [`bench`](mod@bench) (the `lifesync bench …` measurements);
//! - processes: [`bootstrap`] (builds and runs `web`, `worker` and `scheduler` from the
//!   configuration), [`doctor`] (`lifesync doctor`, and the start-up check of Redis's eviction
//!   policy), [`embedded`] (the PostgreSQL and Redis `dev` starts when none is usable),
//!   [`sandbox_link`] (the product's one link to the `lifesync-sandbox` crate: provider names
//!   and the client configuration that points at it);
//! - handlers: [`api`] (the poem-openapi HTTP API, one file per resource, errors in the
//!   contract's shape), [`workers`] (one job handler per file, and their registration),
//!   [`scheduler`] (the cron table → durable fan-out jobs, one per tick however many schedulers
//!   run);
//! - operations: [`services`] (what the API, the workers and the scheduler share: starting a
//!   sync, disconnecting, erasing, exporting, admin actions, the API's per-user buckets, the
//!   gauges read from the stores), [`maintenance`] (the sweepers of stuck and orphaned runs);
//! - engines: [`oauth`] (connect flows, OAuth state, token exchange and renewal), [`providers`]
//!   (the `Provider` trait and the six provider clients, request classification, the shared
//!   rate limiter), [`normalizer`] (adapts provider items to `lifesync-normalizer`),
//!   [`webhooks`] (event types, Standard Webhooks signing, the guarded delivery client),
//!   [`timeline`] (trips, events and moments from a user's items; the embedded gazetteer);
//! - storage: [`db`] (every SQL statement, by table; the connection and the migrations);
//! - observability: [`metrics`] (every metric's name, description and recording function);
//! - settings: [`config`] (every variable, read and validated once at start-up);
//! - plumbing: [`http`] (serving an endpoint with graceful shutdown), [`outbound`] (the HTTP
//!   client of every provider call: TLS, HTTP/2, proxies, timeouts), [`logging`];
//! - trust: [`crypto`] (AES-256-GCM sealing of tokens and OAuth secrets; the token key),
//!   [`tls`] (the trust of every outbound TLS connection: the OS store plus `SSL_CERT_FILE`/
//!   `SSL_CERT_DIR`);
//! - ground floor: [`domain`] (the vocabulary every layer shares: providers, item kinds, data
//!   source states, sync modes and triggers).

pub mod api;
pub mod bench;
pub mod bootstrap;
pub mod config;
pub mod crypto;
pub mod db;
pub mod dev;
pub mod doctor;
pub mod domain;
pub mod embedded;
pub mod http;
pub mod logging;
pub mod maintenance;
pub mod metrics;
pub mod normalizer;
pub mod oauth;
pub mod outbound;
pub mod providers;
pub mod sandbox_link;
pub mod scheduler;
pub mod services;
pub mod timeline;
pub mod tls;
pub mod webhooks;
pub mod workers;
