//! The training loop of one model: seeded window sampling, window scaling, data-parallel gradients over fixed
//! shards reduced in a fixed order (so results are bit-identical whatever the thread count), Adam with
//! NeuralForecast's step decay, validation and early stopping.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::error::EngineError;
use super::network::{Network, NetworkCache};
use super::scaler::Scale;
use super::spec::{NeuralSpec, ScalerType};
use super::{Control, FitOptions, ModelFitReport, ProgressEvent};
use rand::RngExt;

use crate::data::Panel;
use crate::kernels::Isa;
use crate::models::WindowBatch;
use crate::nn::adam::{Adam, AdamConfig, StepLr};
use crate::nn::ParamStore;

/// Windows per shard. Fixed, so the partial sums, and with them every bit of the result, do not depend on how
/// many threads run the shards.
const SHARD_WINDOWS: usize = 8;

/// The per-shard buffers of a step, allocated once per fit.
struct Shard {
    cache: NetworkCache,
    grads: ParamStore,
    inputs: Vec<f32>,
    targets: Vec<f32>,
    /// 1 for observed target points, 0 for the padding past a series' end.
    mask: Vec<f32>,
    d_output: Vec<f32>,
    median_scratch: Vec<f64>,
    window_values: Vec<f64>,
    scales: Vec<Scale>,
    loss: f64,
}

impl Shard {
    fn new(params: &ParamStore) -> Shard {
        Shard {
            cache: NetworkCache::default(),
            grads: params.zeros_like(),
            inputs: Vec::new(),
            targets: Vec::new(),
            mask: Vec::new(),
            d_output: Vec::new(),
            median_scratch: Vec::new(),
            window_values: Vec::new(),
            scales: Vec::new(),
            loss: 0.0,
        }
    }
}

/// What one model's training needs besides its network.
pub(crate) struct TrainRun<'a> {
    pub spec: &'a NeuralSpec,
    pub alias: &'a str,
    pub model_index: usize,
    /// Series after local scaling.
    pub panel: &'a Panel,
    pub options: &'a FitOptions,
    pub isa: Isa,
    pub threads: &'a rayon::ThreadPool,
}

/// Trains `network` in place; `Ok(None)` when the progress callback asked to stop.
pub(crate) fn train(
    network: &mut Network,
    run: &TrainRun<'_>,
    progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
) -> Result<Option<ModelFitReport>, EngineError> {
    let spec = run.spec;
    let batch = run.options.batch_size.unwrap_or(spec.batch_size);
    spec.check_batch(run.alias, batch)?;
    let learning_rate = run.options.learning_rate.unwrap_or(spec.learning_rate);
    let holdout = run.options.validation_size;
    if holdout > 0 && holdout < spec.h() {
        return Err(EngineError::Range(format!(
            "validationSize must be 0 or at least the horizon h = {} of model '{}', got {holdout}",
            spec.h(),
            run.alias
        )));
    }
    let index = TrainingWindows::new(run.panel, spec, holdout)?;
    let max_steps = match (run.options.epochs, run.options.max_steps) {
        // An epoch is one pass over all training windows, batch by batch.
        (Some(epochs), _) => epochs.saturating_mul(index.len()).div_ceil(batch),
        (None, steps) => steps.unwrap_or(spec.max_steps),
    };
    let adam_config = AdamConfig { learning_rate: learning_rate as f32, ..AdamConfig::default() };
    let mut adam = Adam::new(network.params(), adam_config, StepLr::neuralforecast(max_steps, spec.num_lr_decays))?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.shape().random_seed);
    let mut shards: Vec<Shard> = (0..batch.div_ceil(SHARD_WINDOWS)).map(|_| Shard::new(network.params())).collect();
    let mut total = network.params().zeros_like();
    let validation = Validation::new(run, holdout)?;
    let patience = if run.options.early_stopping || spec.early_stop_patience_steps.is_some() {
        run.options.patience.or(spec.early_stop_patience_steps)
    } else {
        None
    };
    // Sized up front, like every other buffer of the loop, so that a step does not allocate (up to a bound:
    // a huge `maxSteps` must not reserve gigabytes before the first step).
    let reserved = max_steps.min(1 << 20);
    let mut report = ModelFitReport {
        alias: run.alias.to_string(),
        train_loss: Vec::with_capacity(reserved),
        val_loss: Vec::with_capacity(reserved / spec.val_check_steps + 1),
        ..ModelFitReport::default()
    };
    let alias: std::sync::Arc<str> = run.alias.into();
    let (mut best, mut checks_without_improvement) = (f64::INFINITY, 0usize);
    let mut windows = Vec::with_capacity(batch);

    for step in 1..=max_steps {
        index.sample(batch, &mut rng, &mut windows);
        let train_loss = gradient(network, run, &index, &windows, &mut shards, &mut total, step)?;
        adam.step(network.params_mut(), &total)?;
        report.train_loss.push(train_loss);
        report.steps = step;
        let mut val_loss = None;
        if let Some(v) = &validation {
            if step % spec.val_check_steps == 0 || step == max_steps {
                let loss = v.loss(network, run, &mut shards[0])?;
                report.val_loss.push(loss);
                val_loss = Some(loss);
                if loss < best {
                    (best, checks_without_improvement) = (loss, 0);
                } else {
                    checks_without_improvement += 1;
                }
            }
        }
        let event = ProgressEvent {
            model: run.model_index,
            alias: alias.clone(),
            step,
            max_steps,
            train_loss,
            val_loss,
        };
        if let Control::Stop = progress(&event) {
            return Ok(None);
        }
        if patience.is_some_and(|p| checks_without_improvement >= p) {
            report.stopped_early = true;
            break;
        }
    }
    Ok(Some(report))
}

/// Computes the full-batch gradient into `total` (fixed shard order) and returns the batch loss.
fn gradient(
    network: &Network,
    run: &TrainRun<'_>,
    index: &TrainingWindows,
    windows: &[Window],
    shards: &mut [Shard],
    total: &mut ParamStore,
    step: usize,
) -> Result<f64, EngineError> {
    let observed: usize = windows.iter().map(|w| index.observed_targets(w)).sum();
    run.threads.install(|| {
        shards.par_iter_mut().zip(windows.par_chunks(SHARD_WINDOWS)).enumerate().try_for_each(|(k, (shard, chunk))| {
            let weight = chunk.iter().map(|w| index.observed_targets(w)).sum::<usize>() as f64 / observed as f64;
            let seed = shard_seed(run.spec.shape().random_seed, step, k);
            shard_gradient(network, run, index, chunk, shard, weight, seed)
        })
    })?;
    total.fill_zero();
    let mut loss = 0.0;
    for shard in shards.iter() {
        total.add_assign(&shard.grads)?;
        loss += shard.loss;
    }
    Ok(loss)
}

fn shard_gradient(
    network: &Network,
    run: &TrainRun<'_>,
    index: &TrainingWindows,
    windows: &[Window],
    shard: &mut Shard,
    weight: f64,
    train_seed: u64,
) -> Result<(), EngineError> {
    let spec = run.spec;
    let n = windows.len();
    shard.inputs.resize(n * spec.input_size(), 0.0);
    shard.targets.resize(n * spec.h(), 0.0);
    shard.mask.resize(n * spec.h(), 0.0);
    index.fill(run.panel, windows, &mut shard.inputs, &mut shard.targets, &mut shard.mask);
    let buffers = WindowScaling { values: &mut shard.window_values, scratch: &mut shard.median_scratch, scales: &mut shard.scales };
    scale_windows(spec, run.isa, &mut shard.inputs, &mut shard.targets, buffers);
    let batch = WindowBatch { train_seed: Some(train_seed), ..WindowBatch::univariate(&shard.inputs, n) };
    let forecast = network.forward(&batch, &mut shard.cache)?;
    shard.d_output.resize(forecast.len(), 0.0);
    let loss = spec.loss.value_and_grad(forecast, &shard.targets, Some(&shard.mask), &mut shard.d_output)?;
    // Each shard's loss is a masked mean over its own observed points; weighting by its share of the batch's
    // observed points makes the shard gradients sum to the gradient of the batch's masked mean.
    shard.d_output.iter_mut().for_each(|g| *g *= weight as f32);
    shard.loss = loss as f64 * weight;
    shard.grads.fill_zero();
    network.backward(&mut shard.cache, &shard.d_output, &mut shard.grads)?;
    Ok(())
}

/// The seed of a shard's stochastic layers (dropout) at a step: a function of the model's seed, the step and
/// the shard's place in the batch only (SplitMix64 finalizer over their combination), so any thread count draws
/// the same masks.
fn shard_seed(model_seed: u64, step: usize, shard: usize) -> u64 {
    let mut z = model_seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (shard as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Reused buffers of [`scale_windows`]; `scales` receives one scale per window (none for `identity`).
pub(crate) struct WindowScaling<'a> {
    pub values: &'a mut Vec<f64>,
    pub scratch: &'a mut Vec<f64>,
    pub scales: &'a mut Vec<Scale>,
}

/// Normalises each window's input and target by the statistics of its input (NeuralForecast's `scaler_type`).
pub(crate) fn scale_windows(spec: &NeuralSpec, isa: Isa, inputs: &mut [f32], targets: &mut [f32], buffers: WindowScaling<'_>) {
    let WindowScaling { values, scratch, scales } = buffers;
    scales.clear();
    if spec.scaler_type == ScalerType::Identity {
        return;
    }
    let windows = inputs.chunks_exact_mut(spec.input_size()).zip(targets.chunks_exact_mut(spec.h()));
    scales.extend(windows.map(|(input, target)| scale_window(spec.scaler_type, isa, input, target, values, scratch)));
}

/// Normalises one window (its f32 input, as the network sees it, gives the statistics) and returns the scale.
pub(crate) fn scale_window(
    kind: ScalerType,
    isa: Isa,
    input: &mut [f32],
    target: &mut [f32],
    values: &mut Vec<f64>,
    scratch: &mut Vec<f64>,
) -> Scale {
    values.clear();
    values.extend(input.iter().map(|&v| v as f64));
    let scale = Scale::of(kind, values, isa, scratch);
    input.iter_mut().chain(target.iter_mut()).for_each(|v| *v = scale.apply(*v as f64) as f32);
    scale
}

/// A training window: `input_size` values from `start` in series `series`, then up to `h` targets.
#[derive(Debug, Clone, Copy)]
struct Window {
    series: usize,
    start: usize,
}

/// The training windows of all series, indexed, never materialised. As NeuralForecast (which pads each series
/// with `h` masked zeros), a window needs its whole input and at least one observed target, so the latest inputs
/// are trained on too; targets past the training part are masked out of the loss.
struct TrainingWindows {
    input_size: usize,
    h: usize,
    /// Training length (rows before the held-out part) of each series.
    train_lengths: Vec<usize>,
    /// `n_series + 1` cumulative window counts.
    offsets: Vec<usize>,
}

impl TrainingWindows {
    fn new(panel: &Panel, spec: &NeuralSpec, holdout: usize) -> Result<TrainingWindows, EngineError> {
        let required = spec.input_size() + spec.h() + holdout;
        let what = if holdout > 0 { "inputSize + horizon + validationSize" } else { "inputSize + horizon" };
        panel.check_min_length(required, what)?;
        let train_lengths: Vec<usize> = panel.series_iter().map(|s| s.len() - holdout).collect();
        let mut offsets = vec![0];
        for &n in &train_lengths {
            offsets.push(offsets[offsets.len() - 1] + n - spec.input_size());
        }
        Ok(TrainingWindows { input_size: spec.input_size(), h: spec.h(), train_lengths, offsets })
    }

    /// Draws `batch` windows into `out` (deterministic for the rng state): distinct windows when there are at
    /// least `batch` of them, as NeuralForecast's `np.random.choice(n, batch, replace=n < batch)`, else with
    /// replacement.
    fn sample(&self, batch: usize, rng: &mut ChaCha8Rng, out: &mut Vec<Window>) {
        let total = self.len();
        out.clear();
        if total < batch {
            out.extend((0..batch).map(|_| self.window(rng.random_range(0..total))));
            return;
        }
        // Floyd's algorithm: a uniform `batch`-subset of 0..total in `batch` draws, no table of all windows.
        for j in total - batch..total {
            let drawn = rng.random_range(0..=j);
            let flat = if out.iter().any(|w| self.flat(w) == drawn) { j } else { drawn };
            out.push(self.window(flat));
        }
    }

    fn window(&self, flat: usize) -> Window {
        let series = self.offsets.partition_point(|&first| first <= flat) - 1;
        Window { series, start: flat - self.offsets[series] }
    }

    fn flat(&self, w: &Window) -> usize {
        self.offsets[w.series] + w.start
    }

    /// Number of training windows over all series.
    fn len(&self) -> usize {
        self.offsets[self.offsets.len() - 1]
    }

    fn observed_targets(&self, w: &Window) -> usize {
        (self.train_lengths[w.series] - w.start - self.input_size).min(self.h)
    }

    /// Copies the windows into row-major inputs, targets (0 past the end) and the target mask.
    fn fill(&self, panel: &Panel, windows: &[Window], inputs: &mut [f32], targets: &mut [f32], mask: &mut [f32]) {
        let rows = inputs.chunks_exact_mut(self.input_size).zip(targets.chunks_exact_mut(self.h).zip(mask.chunks_exact_mut(self.h)));
        for (w, (input, (target, mask))) in windows.iter().zip(rows) {
            let Some(series) = panel.series(w.series) else { continue };
            let y = &series.y[w.start..];
            let observed = self.observed_targets(w);
            input.iter_mut().zip(y).for_each(|(i, &v)| *i = v as f32);
            for k in 0..self.h {
                (target[k], mask[k]) = if k < observed { (y[self.input_size + k] as f32, 1.0) } else { (0.0, 0.0) };
            }
        }
    }
}

/// The validation windows: per series, the window whose horizon starts where the held-out part begins.
struct Validation {
    inputs: Vec<f32>,
    targets: Vec<f32>,
    windows: usize,
}

impl Validation {
    fn new(run: &TrainRun<'_>, holdout: usize) -> Result<Option<Validation>, EngineError> {
        if holdout == 0 {
            return Ok(None);
        }
        let (l, h) = (run.spec.input_size(), run.spec.h());
        let mut v = Validation { inputs: Vec::new(), targets: Vec::new(), windows: 0 };
        for series in run.panel.series_iter() {
            let start = series.len() - holdout - l;
            v.inputs.extend(series.y[start..start + l].iter().map(|&x| x as f32));
            v.targets.extend(series.y[start + l..start + l + h].iter().map(|&x| x as f32));
            v.windows += 1;
        }
        let (mut values, mut scratch, mut scales) = (Vec::new(), Vec::new(), Vec::new());
        let buffers = WindowScaling { values: &mut values, scratch: &mut scratch, scales: &mut scales };
        scale_windows(run.spec, run.isa, &mut v.inputs, &mut v.targets, buffers);
        Ok(Some(v))
    }

    fn loss(&self, network: &Network, run: &TrainRun<'_>, shard: &mut Shard) -> Result<f64, EngineError> {
        let forecast = network.forward(&WindowBatch::univariate(&self.inputs, self.windows), &mut shard.cache)?;
        shard.d_output.resize(forecast.len(), 0.0);
        // Validation uses the training loss, as NeuralForecast's default `valid_loss` does.
        let loss = run.spec.loss.value_and_grad(forecast, &self.targets, None, &mut shard.d_output)?;
        Ok(loss as f64)
    }
}

