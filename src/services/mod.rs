//! Operations shared by the API, the scheduler and the workers: each takes the pool and the
//! producer it needs, and owns the rule it enforces (starting a sync, disconnecting, erasing,
//! exporting, admin actions; the API's per-user request buckets; the gauges read from the
//! stores). Handlers call these; they never build job payloads themselves.

pub mod admin;
pub mod disconnect;
pub mod erase;
pub mod export;
pub mod gauges;
pub mod sync;
pub mod timeline;
pub mod user_limit;
pub mod webhooks;
