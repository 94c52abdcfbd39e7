//! Forecast latency of every neural model at the baselines' configuration (see `baseline`), fitted for a few steps:
//! one window on the calling thread (the low-latency path) and a batch of 32 windows (split over the 2 threads).
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neuro_divergent::engine::{Control, FitOptions};

mod baseline;

fn forecasts(c: &mut Criterion) {
    let panel = baseline::air_passengers();
    for (model, architecture) in baseline::models() {
        let mut engine = baseline::engine(model, &architecture, 2, 32);
        engine.fit(&panel, &FitOptions { max_steps: Some(5), ..FitOptions::default() }, &mut |_| Control::Continue).expect("fit");
        // The last inputSize values (one more for a recurrent model such as DeepAR), and the forecast's columns.
        let (inputs, outputs) = (engine.window_input_len(0).expect("inputs"), engine.window_output_len(0).expect("outputs"));
        let window: Vec<f64> = panel.y()[panel.y().len() - inputs..].to_vec();
        let windows: Vec<f64> = (0..32).flat_map(|_| window.iter().copied()).collect();
        let mut group = c.benchmark_group(format!("forecast/{model}"));
        group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(30);
        let mut out = vec![0.0; outputs];
        group.throughput(Throughput::Elements(1));
        group.bench_function("1_window", |b| b.iter(|| engine.forecast_window(0, black_box(&window), &mut out).expect("forecast")));
        let mut out = vec![0.0; 32 * outputs];
        group.throughput(Throughput::Elements(32));
        group.bench_function("32_windows", |b| b.iter(|| engine.forecast_windows(0, black_box(&windows), &mut out).expect("forecast")));
        group.finish();
    }
}

criterion_group!(benches, forecasts);
criterion_main!(benches);
