//! Pool lease/return against a fresh allocation of the same size (what the pool saves per training step).
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use neuro_divergent::pool::{MemoryPool, PoolConfig};

fn lease_vs_allocate(c: &mut Criterion) {
    let mut group = c.benchmark_group("buffer_lease");
    group.warm_up_time(Duration::from_millis(200)).measurement_time(Duration::from_millis(500)).sample_size(20);
    for len in [1_000usize, 100_000, 1_000_000] {
        let pooled = MemoryPool::<f32>::new(PoolConfig::default());
        group.bench_with_input(BenchmarkId::new("pool", len), &len, |b, &len| {
            b.iter(|| {
                let mut buf = pooled.acquire(len);
                buf[len - 1] = 1.0;
                black_box(&buf[..]);
            })
        });
        let unpooled = MemoryPool::<f32>::new(PoolConfig { enabled: false, ..PoolConfig::default() });
        group.bench_with_input(BenchmarkId::new("fresh_alloc", len), &len, |b, &len| {
            b.iter(|| {
                let mut buf = unpooled.acquire(len);
                buf[len - 1] = 1.0;
                black_box(&buf[..]);
            })
        });
        group.bench_with_input(BenchmarkId::new("vec_zeroed", len), &len, |b, &len| {
            b.iter(|| {
                let mut buf = vec![0f32; len];
                buf[len - 1] = 1.0;
                black_box(&buf[..]);
            })
        });
    }
    group.finish();
}

fn concurrent_leases(c: &mut Criterion) {
    use rayon::prelude::*;
    let pool = MemoryPool::<f32>::new(PoolConfig::default());
    c.bench_function("pool_parallel_1k_leases_of_4096", |b| {
        b.iter(|| {
            (0..1_000).into_par_iter().for_each(|i| {
                let mut buf = pool.acquire(4096);
                buf[i % 4096] = 1.0;
                black_box(&buf[..]);
            })
        })
    });
}

criterion_group!(benches, lease_vs_allocate, concurrent_leases);
criterion_main!(benches);
