//! Ignored timing and profiling harness for the recurrent forecasters at NeuralForecast's reference
//! configuration (input_size 24, h 12, 2 x 64 encoder, 2 x 64 decoder, MAE):
//! `cargo test --release --lib nn::timing -- --ignored --nocapture --test-threads=1`.
//! `ND_STEPS` overrides the number of timed steps (e.g. 20 under callgrind).

use crate::models::recurrent_forecaster::tests::reference_config;
use crate::models::recurrent_forecaster::ForecasterCell;
use crate::models::{ForecasterCache, RecurrentForecaster};
use crate::nn::adam::{Adam, AdamConfig, StepLr};
use crate::nn::gradcheck::random_vec;
use crate::nn::gru::GruCell;
use crate::nn::loss::Loss;
use crate::nn::lstm::LstmCell;

/// CPU time of the calling thread, in seconds: unlike wall time it leaves out the time this thread
/// waits while other processes run, which is most of the noise on a shared machine.
pub(crate) fn thread_cpu_seconds() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (64-bit Linux layout) for the duration of the call.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

fn steps(default: usize) -> usize {
    std::env::var("ND_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// "median M (min m)": the minimum is the least disturbed by other load on the machine.
fn median(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("{:.3} (min {:.3})", v[v.len() / 2], v[0])
}

/// Median over `reps` repetitions of the mean time of one training step, in ms.
fn time_training_step<C: ForecasterCell>(name: &str, batch: usize) {
    let mut model = RecurrentForecaster::<C>::new(reference_config::<C>()).unwrap();
    let windows = random_vec(batch * 24, 1);
    let targets = random_vec(batch * 12, 2);
    let mut adam = Adam::new(model.params(), AdamConfig::default(), StepLr::constant()).unwrap();
    let (mut cache, mut grads, mut d_forecast) = (
        ForecasterCache::default(),
        model.params().zeros_like(),
        vec![0.0; batch * 12],
    );
    let mut step = |model: &mut RecurrentForecaster<C>| {
        let forecast = model.forward(&windows, batch, &mut cache).unwrap();
        Loss::Mae
            .value_and_grad(forecast, &targets, None, &mut d_forecast)
            .unwrap();
        grads.fill_zero();
        model.backward(&mut cache, &d_forecast, &mut grads).unwrap();
        adam.step(model.params_mut(), &grads).unwrap();
    };
    (0..3).for_each(|_| step(&mut model));
    let n = steps(50);
    let reps = if n < 10 { 1 } else { 9 };
    let samples: Vec<f64> = (0..reps)
        .map(|_| {
            let started = thread_cpu_seconds();
            (0..n).for_each(|_| step(&mut model));
            (thread_cpu_seconds() - started) * 1e3 / n as f64
        })
        .collect();
    eprintln!("{name} batch={batch}: median {} ms thread CPU time per training step (1 thread; {reps} reps x {n} steps)", median(samples));
}

/// The engine's data-parallel step (fixed shards on a rayon pool, fixed-order reduction, Adam):
/// `ND_THREADS` threads (default 2), `ND_SHARD` windows per shard (default 8).
fn time_parallel_step<C: ForecasterCell + Send + Sync>(name: &str, batch: usize) {
    use rayon::prelude::*;
    let threads = std::env::var("ND_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let shard = std::env::var("ND_SHARD")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8usize);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut model = RecurrentForecaster::<C>::new(reference_config::<C>()).unwrap();
    let windows = random_vec(batch * 24, 1);
    let targets = random_vec(batch * 12, 2);
    let mut adam = Adam::new(model.params(), AdamConfig::default(), StepLr::constant()).unwrap();
    struct Shard {
        cache: ForecasterCache,
        grads: crate::nn::ParamStore,
        d: Vec<f32>,
    }
    let mut shards: Vec<Shard> = (0..batch.div_ceil(shard))
        .map(|_| Shard {
            cache: ForecasterCache::default(),
            grads: model.params().zeros_like(),
            d: vec![0.0; shard * 12],
        })
        .collect();
    let mut total = model.params().zeros_like();
    let mut step = |model: &mut RecurrentForecaster<C>| {
        let m = &*model;
        pool.install(|| {
            shards
                .par_iter_mut()
                .zip(
                    windows
                        .par_chunks(shard * 24)
                        .zip(targets.par_chunks(shard * 12)),
                )
                .for_each(|(s, (w, t))| {
                    let n = w.len() / 24;
                    let forecast = m.forward(w, n, &mut s.cache).unwrap();
                    Loss::Mae
                        .value_and_grad(forecast, t, None, &mut s.d[..n * 12])
                        .unwrap();
                    s.grads.fill_zero();
                    m.backward(&mut s.cache, &s.d[..n * 12], &mut s.grads)
                        .unwrap();
                })
        });
        total.fill_zero();
        shards
            .iter()
            .for_each(|s| total.add_assign(&s.grads).unwrap());
        adam.step(model.params_mut(), &total).unwrap();
    };
    (0..3).for_each(|_| step(&mut model));
    let n = steps(50);
    let reps = if n < 10 { 1 } else { 9 };
    let samples: Vec<f64> = (0..reps)
        .map(|_| {
            let started = std::time::Instant::now();
            (0..n).for_each(|_| step(&mut model));
            started.elapsed().as_secs_f64() * 1e3 / n as f64
        })
        .collect();
    eprintln!("{name} batch={batch}: median {} ms per parallel step ({threads} threads, shards of {shard}; {reps} reps x {n} steps)", median(samples));
}

fn time_inference<C: ForecasterCell>(name: &str) {
    time_forward::<C>(name, 1, 2000);
}

/// Median thread CPU time of one forward pass over `batch` windows.
fn time_forward<C: ForecasterCell>(name: &str, batch: usize, default_steps: usize) {
    let model = RecurrentForecaster::<C>::new(reference_config::<C>()).unwrap();
    let windows = random_vec(batch * 24, 1);
    let mut cache = ForecasterCache::default();
    let mut sink = 0.0;
    (0..10).for_each(|_| sink += model.forward(&windows, batch, &mut cache).unwrap()[0]);
    let n = steps(default_steps);
    let reps = if n < 10 { 1 } else { 9 };
    let samples: Vec<f64> = (0..reps)
        .map(|_| {
            let started = thread_cpu_seconds();
            (0..n).for_each(|_| sink += model.forward(&windows, batch, &mut cache).unwrap()[0]);
            (thread_cpu_seconds() - started) * 1e6 / n as f64
        })
        .collect();
    eprintln!(
        "{name} batch={batch} forward: median {} us thread CPU time ({sink:.1})",
        median(samples)
    );
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
fn lstm_parallel_step_b32() {
    time_parallel_step::<LstmCell>("LSTM", 32);
}

#[test]
#[ignore = "timing"]
fn gru_parallel_step_b32() {
    time_parallel_step::<GruCell>("GRU", 32);
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

#[test]
#[ignore = "timing"]
fn lstm_step_b8() {
    time_training_step::<LstmCell>("LSTM", 8);
}

#[test]
#[ignore = "timing"]
fn gru_step_b8() {
    time_training_step::<GruCell>("GRU", 8);
}

#[test]
#[ignore = "timing"]
fn lstm_forward_b32() {
    time_forward::<LstmCell>("LSTM", 32, 200);
}

#[test]
#[ignore = "timing"]
fn gru_forward_b32() {
    time_forward::<GruCell>("GRU", 32, 200);
}
