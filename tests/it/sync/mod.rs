//! Sync runs: end to end, duplicates across sources, full syncs as reconciliations, the
//! maintained item count, provider throttles, fencing of in-flight effects, outages of
//! PostgreSQL and Redis, and the six providers on a Redis Cluster through failovers.

mod cluster;
mod duplicates;
mod end_to_end;
mod fencing;
mod item_count;
mod outages;
mod reconcile;
mod scale_out;
mod throttles;
mod versions;
