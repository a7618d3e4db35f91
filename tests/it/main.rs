//! The service's integration tests, one binary (one link of the crate) with a module per area.
//! Every test isolates itself (a fresh database, a random Redis key prefix, its own sandbox on a
//! free port), so they share this process safely; tests that need a fresh process (metrics at
//! start-up, logs, signals) run the real `lifesync` binary as a child process.
//!
//! - `architecture`: the crate's layers, drawn from its imports;
//! - `common`: the harness (app, database, sandbox, workers, scenarios) and private servers;
//! - `api`: the HTTP API's routes, contract, hostile input and operator routes;
//! - `oauth`: connecting accounts through the real OAuth flow;
//! - `providers`: each provider against the sandbox, the rate limiter and TLS;
//! - `sync`: sync runs end to end, duplicates, reconciliation, throttles, fencing, outages;
//! - `erase`: a user's erase and export;
//! - `scheduling`: the scheduler and its fan-out;
//! - `processes`: the `lifesync` binary as a process (CLI, dev, doctor, Procfile, logs,
//!   metrics, observability, schema, TLS to the stores, normalize);
//! - `sandbox`: the sandbox itself;
//! - `webhooks`: signed event deliveries, retries, dead letters and the targets refused;
//! - `timeline`: the life timeline (gazetteer, quality on the labelled fixture, job and API).

// Tests read what was stored directly (clippy.toml's rule is for the product).
#![allow(clippy::disallowed_methods)]

mod api;
mod architecture;
mod common;
mod erase;
mod oauth;
mod processes;
mod providers;
mod sandbox;
mod scheduling;
mod sync;
mod timeline;
pub mod webhooks;
