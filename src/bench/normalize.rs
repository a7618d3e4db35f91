//! `lifesync bench normalize --items N`: N realistic items (the normalizer crate's
//! `bench_items`: posts and captions with hashtags, mentions and PII; emails with and without
//! schema.org markup) through sanitize + categorize + extract + hash, on one thread.
//! Throughput counts every input byte (text, subject, sender, HTML).

use std::time::Instant;

/// Measured throughput.
pub struct NormalizeBench {
    pub mb_per_s: f64,
    pub items_per_s: f64,
}

pub fn run(items: usize) -> NormalizeBench {
    let inputs = lifesync_normalizer::bench_items(items.max(1), 42);
    let bytes: usize = inputs.iter().map(|i| i.byte_len()).sum();
    eprintln!(
        "normalize: {} items, {:.1} MB of input; warming up",
        inputs.len(),
        bytes as f64 / 1e6
    );
    for i in inputs.iter().take(1000) {
        std::hint::black_box(lifesync_normalizer::normalize(&i.as_input()));
    }
    let start = Instant::now();
    let mut events = 0usize;
    for i in &inputs {
        let n = lifesync_normalizer::normalize(&i.as_input());
        events += n.is_event as usize;
        std::hint::black_box(n);
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!("normalize: {secs:.2} s, {events} events found");
    NormalizeBench {
        mb_per_s: bytes as f64 / 1e6 / secs,
        items_per_s: inputs.len() as f64 / secs,
    }
}
