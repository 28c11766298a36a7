//! Benchmarks of the load generator's bookkeeping: recording a latency in an HDR histogram (done
//! once per response, so it must cost nanoseconds) and serializing the merged histogram into the
//! report (`loadgen::encode_histogram`, once per run).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hdrhistogram::Histogram;
use std::hint::black_box;

/// Latencies (µs) spread like a real run's: mostly 50 µs to 5 ms, a long tail to 2 s.
fn latencies(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            // xorshift64: deterministic, no dependency.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let r = x % 10_000;
            if r < 9_900 {
                50 + x % 5_000
            } else {
                5_000 + x % 2_000_000
            }
        })
        .collect()
}

/// The load generator's histogram: 1 µs to 1 hour, 3 significant figures.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

fn record(c: &mut Criterion) {
    let values = latencies(10_000);
    let mut group = c.benchmark_group("histogram");
    group.throughput(Throughput::Elements(values.len() as u64));
    group.bench_function("record_10k", |b| {
        let mut h = histogram();
        b.iter(|| {
            for &v in &values {
                h.saturating_record(black_box(v));
            }
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut h = histogram();
    for v in latencies(100_000) {
        h.saturating_record(v);
    }
    let mut group = c.benchmark_group("histogram");
    group.bench_function("encode_base64_v2", |b| {
        b.iter(|| black_box(loadgen::encode_histogram(black_box(&h))))
    });
    let text = loadgen::encode_histogram(&h);
    group.bench_function("decode", |b| {
        b.iter(|| black_box(loadgen::decode_histogram(black_box(&text))))
    });
    group.finish();
}

criterion_group!(benches, record, encode);
criterion_main!(benches);
