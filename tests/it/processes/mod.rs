//! The `lifesync` binary as a process: start-up and shutdown, `dev`, `doctor`, the Procfile,
//! metrics at start, logs, the observability proof, the schema from `migrate`, TLS to the
//! stores, and `normalize`.

mod cli;
mod dev;
mod doctor;
mod logs;
mod metrics_start;
mod normalize_cli;
mod observability;
mod procfile;
mod schema;
mod store_tls;
