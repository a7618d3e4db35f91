//! The queue's integration tests, one binary with a module per area, against the shared Redis
//! (a random key prefix per test) or a private `redis-server` for tests that stop it.
//!
//! - `common`: the harness (environments, workers, private Redis, probe processes);
//! - `delivery`, `guarantees`, `fencing`, `backlog`: delivery semantics with in-process workers;
//! - `processes`: durability with real worker processes and a crashing Redis;
//! - `cluster`: a sharded queue on a local Redis Cluster through worker kills and failovers;
//! - `logs`: what a worker logs;
//! - `fixtures`: the golden payloads in `jobs/tests/fixtures/` still deserialize.

mod backlog;
mod cluster;
mod common;
mod delivery;
mod fencing;
mod fixtures;
mod guarantees;
mod logs;
mod processes;
