//! Thread scaling (issue #9): the training step of the baselines' LSTM (inputSize 24, h 12, 2×64 encoder, 64×2
//! decoder) at batch 32 and 256, and batch prediction of 1,024 windows, on 1 and 2 threads. The results are the
//! same bits on either (tested in the engine); only the time differs.
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use neuro_divergent::data::Panel;
use neuro_divergent::engine::{Control, Engine, FitOptions};

mod baseline;

/// 20 series of 500 points.
fn panel() -> Panel {
    Panel::from_fn(20, 500, |s, t| 100.0 + s as f64 + 10.0 * (t as f64 / 4.0 + s as f64).sin()).expect("a valid panel")
}

fn engine(threads: usize, batch: usize) -> Engine {
    baseline::engine("LSTM", &baseline::architecture("LSTM"), threads, batch)
}

fn training_step(c: &mut Criterion) {
    const STEPS: usize = 5;
    let panel = panel();
    let mut group = c.benchmark_group(format!("training_{STEPS}_steps"));
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(10);
    for batch in [32, 256] {
        for threads in [1, 2] {
            let mut e = engine(threads, batch);
            let options = FitOptions { max_steps: Some(STEPS), ..FitOptions::default() };
            group.bench_with_input(BenchmarkId::new(format!("batch_{batch}"), format!("{threads}_threads")), &threads, |b, _| {
                b.iter(|| black_box(e.fit(&panel, &options, &mut |_| Control::Continue).expect("fit")))
            });
        }
    }
    group.finish();
}

fn batch_prediction(c: &mut Criterion) {
    const WINDOWS: usize = 1024;
    let panel = panel();
    let windows: Vec<f64> = (0..WINDOWS * 24).map(|i| 100.0 + 10.0 * (i as f64 / 5.0).sin()).collect();
    let mut group = c.benchmark_group(format!("forecast_{WINDOWS}_windows"));
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(20);
    for threads in [1, 2] {
        let mut e = engine(threads, 32);
        e.fit(&panel, &FitOptions { max_steps: Some(1), ..FitOptions::default() }, &mut |_| Control::Continue).expect("fit");
        let mut out = vec![0.0; WINDOWS * 12];
        group.bench_with_input(BenchmarkId::from_parameter(format!("{threads}_threads")), &threads, |b, _| {
            b.iter(|| e.forecast_windows(0, black_box(&windows), &mut out).expect("forecast"))
        });
    }
    group.finish();
}

criterion_group!(benches, training_step, batch_prediction);
criterion_main!(benches);
