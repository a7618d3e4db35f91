//! lifesync: syncs a person's posts, photos and emails out of the services they use into
//! PostgreSQL, through a durable Redis job queue (the `lifesync-jobs` crate).
//!
//! Map of the crate (data flows one way: api → jobs → workers → providers → normalizer → db):
//! - [`api`]: the poem-openapi HTTP API, one file per resource, errors in the contract's shape;
//! - [`scheduler`]: the cron table → durable fan-out jobs (one per tick, however many
//!   schedulers run);
//! - [`workers`]: job handlers (sync a data source) and the worker registry;
//! - [`services`]: operations shared by the API, scheduler and workers (starting a sync);
//! - [`metrics`]: the Prometheus recorder;
//! - [`config`]: typed configuration from the environment, validated at start-up;
//! - [`crypto`]: AES-256-GCM sealing of provider tokens and OAuth secrets at rest;
//! - [`db`]: PostgreSQL connection (TLS per `sslmode`) and the embedded migrations
//!   (`migrations/`);
//! - [`normalizer`]: adapts provider items to the `lifesync-normalizer` crate (PII, categories,
//!   events, hash);
//! - [`providers`]: the `Provider` trait and the six provider clients, request classification,
//!   the shared rate limiter;
//! - [`oauth`]: connect flows, OAuth state, token exchange and renewal;
//! - [`tls`]: the trust of every outbound TLS connection (OS store + `SSL_CERT_FILE`/`DIR`);
//! - [`outbound`]: the HTTP client of every provider call (TLS, HTTP/2, proxies, timeouts);
//! - [`doctor`]: `lifesync doctor` and the start-up check of Redis's eviction policy;
//! - [`sandbox_link`]: the product's one link to the provider sandbox, the `lifesync-sandbox`
//!   crate (provider names, client configuration);
//! - [`dev`]: `lifesync dev`, everything in one process against the sandbox;
//! - [`embedded`]: the PostgreSQL and Redis `dev` starts itself when none is configured or
//!   usable on the defaults;
//! - [`http`]: serving an endpoint over HTTP or HTTPS with graceful shutdown (the API);
//! - [`bench`]: the `lifesync bench …` measurements.

pub mod api;
pub mod bench;
pub mod config;
pub mod crypto;
pub mod db;
pub mod dev;
pub mod doctor;
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
pub mod tls;
pub mod workers;
