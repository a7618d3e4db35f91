//! The scheduler: in process (ticks, fan-out) and as real processes.

mod processes;
mod scheduler;
