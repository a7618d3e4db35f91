//! Logs: `tracing` to stderr, readable text by default, one JSON object per line with
//! `LOG_FORMAT=json` (with the fields of the enclosing spans: every job's lines carry `queue`,
//! `job_id` and `attempt`, sync lines also `data_source_id`, `sync_run_id` and `provider`).
//! `RUST_LOG` filters (default `info`).
//!
//! Rule: never log a token, code, verifier, key, secret or a provider URL that may carry one
//! (Meta's `paging.next`), nor item content; log ids. `tests/it/processes/logs.rs` scans a whole
//! multi-provider run's logs for the sandbox's secrets and PII.

use tracing_subscriber::EnvFilter;

/// Installs the process's subscriber (once; later calls do nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .flatten_event(true)
            .try_init()
    } else {
        builder.compact().try_init()
    };
}
