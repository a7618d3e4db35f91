//! The life timeline: the gazetteer, the builder's quality on the labelled fixture (precision
//! and recall of trips and events), and the stored timeline end to end (the job after a sync,
//! incremental builds, deletions, the API and its ownership rules).

mod api;
mod demo;
mod fixture;
mod gazetteer;
mod quality;
