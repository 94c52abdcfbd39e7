//! Forecast latency of every neural model at the baselines' configuration (see `baseline`), fitted for a few steps:
//! one window on the calling thread (the low-latency path) and a batch of 32 windows (split over the 2 threads).
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neuro_divergent::engine::{Control, FitOptions};

mod baseline;

fn forecasts(c: &mut Criterion) {
    let panel = baseline::air_passengers();
    let window: Vec<f64> = panel.y()[panel.y().len() - 24..].to_vec();
    let windows: Vec<f64> = (0..32).flat_map(|_| window.iter().copied()).collect();
    for (model, architecture) in baseline::models() {
        let mut engine = baseline::engine(model, &architecture, 2, 32);
        engine.fit(&panel, &FitOptions { max_steps: Some(5), ..FitOptions::default() }, &mut |_| Control::Continue).expect("fit");
        let mut group = c.benchmark_group(format!("forecast/{model}"));
        group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(30);
        let mut out = vec![0.0; 12];
        group.throughput(Throughput::Elements(1));
        group.bench_function("1_window", |b| b.iter(|| engine.forecast_window(0, black_box(&window), &mut out).expect("forecast")));
        let mut out = vec![0.0; 32 * 12];
        group.throughput(Throughput::Elements(32));
        group.bench_function("32_windows", |b| b.iter(|| engine.forecast_windows(0, black_box(&windows), &mut out).expect("forecast")));
        group.finish();
    }
}

criterion_group!(benches, forecasts);
criterion_main!(benches);
