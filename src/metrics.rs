//! The Prometheus recorder, installed once per process, and its rendering for `/metrics`.
//! Metric names and descriptions are declared here as they are introduced.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder handle (installed on first use).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // A second recorder (another library's) would leave ours unused; ours is first.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
