//! Ignored timing and profiling harness for the recurrent forecasters at NeuralForecast's reference
//! configuration (input_size 24, h 12, 2 x 64 encoder, 2 x 64 decoder, MAE):
//! `cargo test --release --lib nn::timing -- --ignored --nocapture --test-threads=1`.
//! `ND_STEPS` overrides the number of timed steps (e.g. 20 under callgrind).

use crate::models::recurrent_forecaster::tests::reference_config;
use crate::models::{ForecasterCache, RecurrentForecaster};
use crate::models::recurrent_forecaster::ForecasterCell;
use crate::nn::adam::{Adam, AdamConfig, StepLr};
use crate::nn::gradcheck::random_vec;
use crate::nn::gru::GruCell;
use crate::nn::loss::Loss;
use crate::nn::lstm::LstmCell;

fn steps(default: usize) -> usize {
    std::env::var("ND_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median over `reps` repetitions of the mean time of one training step, in ms.
fn time_training_step<C: ForecasterCell>(name: &str, batch: usize) {
    let mut model = RecurrentForecaster::<C>::new(reference_config::<C>()).unwrap();
    let windows = random_vec(batch * 24, 1);
    let targets = random_vec(batch * 12, 2);
    let mut adam = Adam::new(model.params(), AdamConfig::default(), StepLr::constant()).unwrap();
    let (mut cache, mut grads, mut d_forecast) = (ForecasterCache::default(), model.params().zeros_like(), vec![0.0; batch * 12]);
    let mut step = |model: &mut RecurrentForecaster<C>| {
        let forecast = model.forward(&windows, batch, &mut cache).unwrap();
        Loss::Mae.value_and_grad(forecast, &targets, None, &mut d_forecast).unwrap();
        grads.fill_zero();
        model.backward(&mut cache, &d_forecast, &mut grads).unwrap();
        adam.step(model.params_mut(), &grads).unwrap();
    };
    (0..3).for_each(|_| step(&mut model));
    let n = steps(50);
    let reps = if n < 50 { 1 } else { 9 };
    let samples: Vec<f64> = (0..reps)
        .map(|_| {
            let started = std::time::Instant::now();
            (0..n).for_each(|_| step(&mut model));
            started.elapsed().as_secs_f64() * 1e3 / n as f64
        })
        .collect();
    eprintln!("{name} batch={batch}: median {:.3} ms per training step (1 thread; {reps} reps x {n} steps)", median(samples));
}

fn time_inference<C: ForecasterCell>(name: &str) {
    let model = RecurrentForecaster::<C>::new(reference_config::<C>()).unwrap();
    let windows = random_vec(24, 1);
    let mut cache = ForecasterCache::default();
    let mut sink = 0.0;
    (0..10).for_each(|_| sink += model.forward(&windows, 1, &mut cache).unwrap()[0]);
    let n = steps(2000);
    let reps = if n < 2000 { 1 } else { 9 };
    let samples: Vec<f64> = (0..reps)
        .map(|_| {
            let started = std::time::Instant::now();
            (0..n).for_each(|_| sink += model.forward(&windows, 1, &mut cache).unwrap()[0]);
            started.elapsed().as_secs_f64() * 1e6 / n as f64
        })
        .collect();
    eprintln!("{name} batch=1 forward: median {:.2} us ({sink:.1})", median(samples));
}

#[test]
#[ignore = "timing"]
fn lstm_step_b32() {
    time_training_step::<LstmCell>("LSTM", 32);
}

#[test]
#[ignore = "timing"]
fn lstm_step_b16() {
    time_training_step::<LstmCell>("LSTM", 16);
}

#[test]
#[ignore = "timing"]
fn gru_step_b32() {
    time_training_step::<GruCell>("GRU", 32);
}

#[test]
#[ignore = "timing"]
fn gru_step_b16() {
    time_training_step::<GruCell>("GRU", 16);
}

#[test]
#[ignore = "timing"]
fn lstm_forward_b1() {
    time_inference::<LstmCell>("LSTM");
}

#[test]
#[ignore = "timing"]
fn gru_forward_b1() {
    time_inference::<GruCell>("GRU");
}
