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
//! - [`db`]: PostgreSQL connection and the embedded migrations (`migrations/`);
//! - [`normalizer`]: pure: provider items → stored items (hash, entities; PII rules to come);
//! - [`providers`]: the provider ids (the provider clients arrive with the sync issues);
//! - [`sandbox`]: the providers' loopback stand-in (Twitter today), deterministic and faulty
//!   on request;
//! - [`dev`]: `lifesync dev`, everything in one process against the sandbox;
//! - [`http`]: serving an endpoint with graceful shutdown (API and sandbox);
//! - [`bench`]: the `lifesync bench …` measurements.

pub mod api;
pub mod bench;
pub mod config;
pub mod crypto;
pub mod db;
pub mod dev;
pub mod http;
pub mod logging;
pub mod maintenance;
pub mod metrics;
pub mod normalizer;
pub mod oauth;
pub mod providers;
pub mod sandbox;
pub mod scheduler;
pub mod services;
pub mod workers;
