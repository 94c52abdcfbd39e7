//! Kernel benchmarks: each SIMD kernel at the active instruction set against its scalar twin,
//! with a `memcpy` of the same bytes as the memory-bandwidth yardstick.
//!
//! Run: `cargo bench --bench simd_benchmarks` (quick check: `cargo test --benches`).

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use neuro_divergent::kernels::{self as k, Float, Isa};
use neuro_divergent::simd;
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

/// Deterministic pseudo-random series around an offset.
fn series<T: Float>(n: usize) -> Vec<T> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            T::from_f64(100.0 + (s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// The two levels compared: the best this CPU has, and the scalar twin.
fn levels() -> [(Isa, &'static str); 2] {
    [(simd::detected(), simd::detected().name()), (Isa::Scalar, "scalar")]
}

fn configure<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_millis(500)).warm_up_time(Duration::from_millis(200)).sample_size(20);
    g
}

fn rolling(c: &mut Criterion) {
    type Op = fn(Isa, &[f64], usize, &mut [f64]) -> Result<(), k::KernelError>;
    let std1: Op = |isa, x, w, out| k::rolling_std_with(isa, x, w, 1, out);
    let ops: [(&str, Op); 4] = [
        ("rolling_mean", k::rolling_mean_with),
        ("rolling_std", std1),
        ("rolling_min", k::rolling_min_with),
        ("rolling_max", k::rolling_max_with),
    ];
    for (name, op) in ops {
        let mut g = configure(c, name);
        for n in [10_000, 100_000] {
            let x = series::<f64>(n);
            g.throughput(Throughput::Elements(n as u64));
            for w in [10, 20, 1000] {
                let mut out = vec![0.0; n - w + 1];
                for (isa, label) in levels() {
                    let id = BenchmarkId::new(format!("{label}/w{w}"), n);
                    g.bench_function(id, |b| b.iter(|| op(isa, black_box(&x), w, &mut out)));
                }
            }
        }
        g.finish();
    }
}

criterion_group!(benches, rolling);
criterion_main!(benches);
