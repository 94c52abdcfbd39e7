//! Pool lease/return against a fresh allocation of the same size (what the pool saves per training step), and the
//! peak heap of training and prediction (issue #9), from a counting allocator over every thread of this binary.
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use neuro_divergent::data::Panel;
use neuro_divergent::engine::{Control, Engine, EngineConfig, FitOptions, ModelSpec};
use neuro_divergent::pool::{MemoryPool, PoolConfig};

/// Counts the bytes in use and their high-water mark since the last [`reset_peak`].
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The heap's growth over `work` at its highest, in MB.
fn peak_heap_mb(work: impl FnOnce()) -> f64 {
    let base = IN_USE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    work();
    (PEAK.load(Ordering::SeqCst) - base) as f64 / (1 << 20) as f64
}

fn lstm(options: serde_json::Value) -> ModelSpec {
    let mut base = serde_json::json!({ "type": "LSTM", "encoderHiddenSize": 64, "decoderHiddenSize": 64, "scalerType": "standard" });
    base.as_object_mut().expect("an object").extend(options.as_object().expect("an object").clone());
    ModelSpec::from_options(base.as_object().expect("an object"), "LSTM").expect("valid options")
}

fn panel(series: usize, length: usize) -> Panel {
    Panel::from_fn(series, length, |s, t| 3.0 + (t as f64 / 7.6).sin() + 0.1 * s as f64).expect("a valid panel")
}

/// Peak heap of training at elecdemand's shape (one series of 17,520 half-hours, inputSize 336, h 48, batch 256)
/// with and without lowMemory, and of predicting 10,000 series: printed, not timed.
fn peak_memory(_: &mut Criterion) {
    let long = panel(1, 17_520);
    for low_memory in [false, true] {
        let mut config = EngineConfig::new(vec![lstm(serde_json::json!({ "h": 48, "inputSize": 336, "batchSize": 256, "maxSteps": 3 }))]);
        (config.num_threads, config.low_memory) = (2, low_memory);
        let mut e = Engine::new(config).expect("a valid engine");
        let mb = peak_heap_mb(|| {
            e.fit(&long, &FitOptions::default(), &mut |_| Control::Continue).expect("fit");
        });
        eprintln!("peak heap of training at inputSize 336, h 48, batch 256 (lowMemory {low_memory}): {mb:.1} MB");
    }
    let many = panel(10_000, 60);
    let mut config = EngineConfig::new(vec![lstm(serde_json::json!({ "h": 12, "inputSize": 24, "batchSize": 32, "maxSteps": 1 }))]);
    config.num_threads = 2;
    let mut e = Engine::new(config).expect("a valid engine");
    e.fit(&many, &FitOptions::default(), &mut |_| Control::Continue).expect("fit");
    let mb = peak_heap_mb(|| {
        black_box(e.predict(None, None, &[], None).expect("predict"));
    });
    eprintln!("peak heap of predicting 10,000 series (h 12): {mb:.1} MB");
}

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

criterion_group!(benches, lease_vs_allocate, concurrent_leases, peak_memory);
criterion_main!(benches);
