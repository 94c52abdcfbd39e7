//! Ignored timing and profiling harness for every model at the baselines' configuration (input_size 24, h 12):
//! `cargo test --release --lib models::timing -- --ignored --nocapture --test-threads=1` (or `models::timing::tcn`
//! for one model).
//! `ND_STEPS` overrides the number of timed steps (e.g. 20 under callgrind); `ND_THREADS` and `ND_SHARD` set the
//! data-parallel step's threads (2) and windows per shard (8).

use rayon::prelude::*;

use super::model::tests::{shape, RandomBatch};
use super::recurrent_forecaster::tests::reference_config;
use super::{ExogSizes, MlpConfig, Model, ModelConfig};
use crate::nn::adam::{Adam, AdamConfig, StepLr};
use crate::nn::gradcheck::random_vec;
use crate::nn::gru::GruCell;
use crate::nn::loss::{Loss, LossTargets};
use crate::nn::lstm::LstmCell;
use crate::nn::ParamStore;

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

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Runs `work` (warmed up 3 times) `ND_STEPS` (or `default_steps`) times per repetition and prints
/// "median M (min m)" of the time per call in `unit`s: the minimum is the least disturbed by other load.
fn report(what: &str, default_steps: usize, per_second: f64, unit: &str, clock: fn() -> f64, mut work: impl FnMut()) {
    (0..3).for_each(|_| work());
    let n = env_or("ND_STEPS", default_steps);
    let reps = if n < 10 { 1 } else { 9 };
    let mut samples: Vec<f64> = (0..reps)
        .map(|_| {
            let started = clock();
            (0..n).for_each(|_| work());
            (clock() - started) * per_second / n as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    eprintln!("{what}: median {:.3} (min {:.3}) {unit} ({reps} reps x {n})", samples[reps / 2], samples[0]);
}

fn wall_seconds() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

/// One forward + loss + backward + Adam step over `batch` windows on this thread.
pub fn time_training_step<C: ModelConfig>(config: &C, batch: usize) {
    let shape = *config.shape();
    let mut model = config.build().unwrap();
    let inputs = RandomBatch::new(&shape, batch, 1);
    let points = batch * config.training_horizon().unwrap_or(shape.h);
    let targets = random_vec(points, 2);
    let mut adam = Adam::new(model.params(), AdamConfig::default(), StepLr::constant()).unwrap();
    let mut cache = <C::Network as Model>::Cache::default();
    let mut grads = model.params().zeros_like();
    let mut d_forecast = vec![0.0; points * shape.outputs_per_point];
    report(&format!("{} batch={batch} training step", C::NAME), 50, 1e3, "ms thread CPU time", thread_cpu_seconds, || {
        let forecast = model.forward(&inputs.view(Some(1)), &mut cache).unwrap();
        Loss::Mae.value_and_grad(forecast, &LossTargets::without_insample(&targets, None), &mut d_forecast).unwrap();
        grads.fill_zero();
        model.backward(&mut cache, &d_forecast, &mut grads).unwrap();
        adam.step(model.params_mut(), &grads).unwrap();
    });
}

/// The engine's data-parallel step: fixed shards on a rayon pool, Adam over their summed gradients (wall time).
pub fn time_parallel_step<C: ModelConfig>(config: &C, batch: usize) {
    let shape = *config.shape();
    let mut model = config.build().unwrap();
    let default_shard = crate::engine::shard_windows(batch, model.params().num_parameters() as u128);
    let (threads, shard) = (env_or("ND_THREADS", 2), env_or("ND_SHARD", default_shard));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let mut adam = Adam::new(model.params(), AdamConfig::default(), StepLr::constant()).unwrap();
    struct Shard<M: Model> {
        inputs: RandomBatch,
        targets: Vec<f32>,
        cache: M::Cache,
        grads: ParamStore,
        d: Vec<f32>,
    }
    let mut shards: Vec<Shard<C::Network>> = (0..batch.div_ceil(shard))
        .map(|k| {
            let n = shard.min(batch - k * shard);
            let points = n * config.training_horizon().unwrap_or(shape.h);
            Shard {
                inputs: RandomBatch::new(&shape, n, k as u64),
                targets: random_vec(points, 100 + k as u64),
                cache: Default::default(),
                grads: model.params().zeros_like(),
                d: vec![0.0; points * shape.outputs_per_point],
            }
        })
        .collect();
    let what = format!("{} batch={batch} parallel step ({threads} threads, shards of {shard})", C::NAME);
    report(&what, 50, 1e3, "ms wall time", wall_seconds, || {
        let m = &model;
        pool.install(|| {
            shards.par_iter_mut().for_each(|s| {
                let forecast = m.forward(&s.inputs.view(Some(1)), &mut s.cache).unwrap();
                Loss::Mae.value_and_grad(forecast, &LossTargets::without_insample(&s.targets, None), &mut s.d).unwrap();
                s.grads.fill_zero();
                m.backward(&mut s.cache, &s.d, &mut s.grads).unwrap();
            })
        });
        let parts: Vec<&ParamStore> = shards.iter().map(|s| &s.grads).collect();
        pool.install(|| adam.step_summed(model.params_mut(), &parts, 0.0)).unwrap();
    });
}

/// One forward pass over `batch` windows (inference) on this thread.
pub fn time_forward<C: ModelConfig>(config: &C, batch: usize) {
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(config.shape(), batch, 1);
    let mut cache = <C::Network as Model>::Cache::default();
    let steps = if batch == 1 { 2000 } else { 200 };
    report(&format!("{} batch={batch} forward", C::NAME), steps, 1e6, "us thread CPU time", thread_cpu_seconds, || {
        std::hint::black_box(model.forward(&inputs.view(None), &mut cache).unwrap());
    });
}

/// Every figure for one model configuration.
pub fn time_all<C: ModelConfig>(config: &C) {
    for batch in [8, 32] {
        time_training_step(config, batch);
    }
    time_parallel_step(config, 32);
    time_forward(config, 1);
    time_forward(config, 32);
}

/// One ignored test per model, at its baseline configuration.
macro_rules! timing_tests {
    ($($model:ident: $config:expr;)*) => {
        $(
            #[test]
            #[ignore = "timing, meaningful only in release: see the module docs"]
            fn $model() {
                time_all(&$config);
            }
        )*
    };
}

timing_tests! {
    lstm: reference_config::<LstmCell>();
    gru: reference_config::<GruCell>();
    mlp: MlpConfig::new(shape(12, 24, ExogSizes::none()));
    nbeats: super::nbeats::tests::baseline();
    nhits: super::nhits::tests::baseline();
    tcn: super::tcn::tests::baseline();
    transformer: super::transformer::tests::baseline();
    tft: super::tft::TftConfig::new(shape(12, 24, ExogSizes::none()));
    // NeuralForecast's recurrent input size: inputSize 24 plus 1.
    deepar: super::deepar::DeepArConfig::new(shape(12, 25, ExogSizes::none()));
}
