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

/// Benchmarks `f(isa)` (named `op`) at the best level and the scalar twin for one size.
fn pair(g: &mut BenchmarkGroup<'_, WallTime>, op: &str, n: usize, mut f: impl FnMut(Isa)) {
    g.throughput(Throughput::Elements(n as u64));
    for (isa, label) in levels() {
        g.bench_function(BenchmarkId::new(format!("{op}/{label}"), n), |b| b.iter(|| f(isa)));
    }
}

/// The sum and the dot product over `T` values, as the group `name`.
fn sum_and_dot<T: Float>(c: &mut Criterion, name: &str) {
    let mut g = configure(c, name);
    for n in SIZES {
        let (x, y) = (series::<T>(n), series::<T>(n));
        pair(&mut g, "sum", n, |isa| _ = black_box(k::sum_with(isa, black_box(&x))));
        pair(&mut g, "dot", n, |isa| _ = black_box(k::dot_with(isa, black_box(&x), &y)));
    }
    g.finish();
}

fn reductions(c: &mut Criterion) {
    sum_and_dot::<f64>(c, "reduce_f64");
    for (name, op) in [
        ("variance", (|isa, x| k::variance_with(isa, x, 1)) as fn(Isa, &[f64]) -> Result<f64, k::KernelError>),
        ("min", k::min_with),
        ("max", k::max_with),
        ("mean", k::mean_with),
    ] {
        let mut g = configure(c, name);
        for n in SIZES {
            let x = series::<f64>(n);
            pair(&mut g, name, n, |isa| _ = black_box(op(isa, black_box(&x))));
        }
        g.finish();
    }
    sum_and_dot::<f32>(c, "reduce_f32");
}

/// Two operands and an output of `n` `T` values, after benchmarking the `memcpy` of an operand (the yardstick).
fn operands<T: Float>(g: &mut BenchmarkGroup<'_, WallTime>, n: usize) -> (Vec<T>, Vec<T>, Vec<T>) {
    let (a, b, mut out) = (series::<T>(n), series::<T>(n), vec![T::ZERO; n]);
    g.throughput(Throughput::Bytes((n * std::mem::size_of::<T>()) as u64));
    g.bench_function(BenchmarkId::new("memcpy", n), |bch| bch.iter(|| out.copy_from_slice(black_box(&a))));
    (a, b, out)
}

fn elementwise(c: &mut Criterion) {
    let mut g = configure(c, "elementwise_f64");
    for n in SIZES {
        let (a, b, mut out) = operands::<f64>(&mut g, n);
        for (isa, label) in levels() {
            let mut bench = |op: &str, f: &mut dyn FnMut()| {
                g.bench_function(BenchmarkId::new(format!("{op}/{label}"), n), |bch| bch.iter(&mut *f));
            };
            bench("add", &mut || _ = k::add_with(isa, black_box(&a), &b, &mut out));
            bench("mul", &mut || _ = k::mul_with(isa, black_box(&a), &b, &mut out));
            bench("scale", &mut || _ = k::scale_with(isa, black_box(&a), 1.5, &mut out));
            bench("axpy", &mut || _ = k::axpy_with(isa, 1e-9, black_box(&a), &mut out));
        }
    }
    g.finish();
    let mut g = configure(c, "elementwise_f32");
    for n in SIZES {
        let (a, b, mut out) = operands::<f32>(&mut g, n);
        for (isa, label) in levels() {
            let id = BenchmarkId::new(format!("add/{label}"), n);
            g.bench_function(id, |bch| bch.iter(|| k::add_with(isa, black_box(&a), &b, &mut out)));
        }
    }
    g.finish();
}

fn scaling(c: &mut Criterion) {
    type Fwd = fn(Isa, &[f64], &mut [f64]) -> Result<(f64, f64), k::KernelError>;
    let ops: [(&str, Fwd); 3] = [
        ("zscore_normalize", k::zscore_normalize_with),
        ("minmax_normalize", k::minmax_normalize_with),
        ("robust_scale", k::robust_scale_with),
    ];
    for (name, op) in ops {
        let mut g = configure(c, name);
        for n in SIZES {
            let (x, mut out) = (series::<f64>(n), vec![0.0; n]);
            pair(&mut g, name, n, |isa| _ = black_box(op(isa, black_box(&x), &mut out)));
        }
        g.finish();
    }
    let mut g = configure(c, "zscore_denormalize");
    for n in SIZES {
        let (x, mut out) = (series::<f64>(n), vec![0.0; n]);
        pair(&mut g, "zscore_denormalize", n, |isa| _ = k::zscore_denormalize_with(isa, black_box(&x), 3.0, 2.0, &mut out));
    }
    g.finish();
}

fn ema(c: &mut Criterion) {
    let mut g = configure(c, "ema");
    for n in SIZES {
        let (x, mut out) = (series::<f64>(n), vec![0.0; n]);
        pair(&mut g, "ema", n, |isa| _ = k::ema_with(isa, black_box(&x), 0.1, &mut out));
    }
    g.finish();
    let mut g = configure(c, "ema_batch");
    let n = 1_000_000;
    let (x, mut out) = (series::<f64>(n), vec![0.0; n]);
    let offsets: Vec<usize> = (0..=100).map(|s| s * n / 100).collect();
    pair(&mut g, "ema_batch_100_series", n, |isa| _ = k::ema_batch_with(isa, black_box(&x), &offsets, 0.1, &mut out));
    g.finish();
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

criterion_group!(benches, reductions, elementwise, scaling, rolling, ema);
criterion_main!(benches);
