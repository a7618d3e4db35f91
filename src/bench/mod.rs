//! `lifesync bench …`: measured figures for BENCHMARKS.md. Each bench uses the configured
//! services under a throw-away key prefix, cleans up after itself, prints progress to stderr
//! and one machine-readable last line to stdout.

pub mod cost;
pub mod fanout;
pub mod normalize;
pub mod queue;
mod scratch;
pub mod sync;
