//! Test infrastructure shared by the workspace's test suites (a dev-dependency only, never
//! linked into the service): servers that tests start for themselves on free ports and remove
//! when dropped.

pub mod redis_cluster;
