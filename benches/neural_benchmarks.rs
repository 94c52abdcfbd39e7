//! The training step of every neural model at the baselines' configuration (see `baseline`), on 2 threads: a fit
//! of as many steps as criterion asks for, from the seeded initial weights, timed per step (the fit's fixed cost of
//! indexing the windows is spread over its steps, as in a 200-step fit).
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use neuro_divergent::engine::{Control, FitOptions};

mod baseline;

fn training_step(c: &mut Criterion) {
    let panel = baseline::air_passengers();
    let mut group = c.benchmark_group("training_step");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(10);
    for (model, architecture) in baseline::models() {
        let mut engine = baseline::engine(model, &architecture, 2, 32);
        group.bench_function(model, |b| {
            b.iter_custom(|steps| {
                let options = FitOptions { max_steps: Some(steps as usize), ..FitOptions::default() };
                let started = Instant::now();
                engine.fit(&panel, &options, &mut |_| Control::Continue).expect("fit");
                started.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, training_step);
criterion_main!(benches);
