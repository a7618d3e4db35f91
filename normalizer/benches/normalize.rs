//! Throughput of `normalize` (sanitize + categorize + extract + hash) over realistic items
//! from `bench_items`, single-threaded (so the numbers are per core). Reported twice per
//! input set: as bytes (text + subject + sender + HTML) and as items.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lifesync_normalizer::{bench_items, normalize, Kind, OwnedInput};
use std::time::Duration;

fn run(items: &[OwnedInput]) -> usize {
    items
        .iter()
        .map(|i| normalize(black_box(&i.as_input())).text.len())
        .sum()
}

fn bench(c: &mut Criterion) {
    let all = bench_items(2_000, 42);
    let posts: Vec<OwnedInput> = all
        .iter()
        .filter(|i| i.kind != Kind::Email)
        .cloned()
        .collect();
    let emails: Vec<OwnedInput> = all
        .iter()
        .filter(|i| i.kind == Kind::Email)
        .cloned()
        .collect();
    let mut g = c.benchmark_group("normalize");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for (name, items) in [("mixed", &all), ("posts", &posts), ("emails", &emails)] {
        let bytes: usize = items.iter().map(OwnedInput::byte_len).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(format!("{name}/bytes"), |b| b.iter(|| run(items)));
        g.throughput(Throughput::Elements(items.len() as u64));
        g.bench_function(format!("{name}/items"), |b| b.iter(|| run(items)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
