//! The training loop of one model: the windows of each step (drawn by [`super::windows`]), window scaling,
//! data-parallel gradients over fixed shards reduced in a fixed order (so results are bit-identical whatever the
//! thread count), Adam with NeuralForecast's step decay, and the validation checks and early stopping of
//! [`super::validation`].

use rayon::prelude::*;

use super::error::EngineError;
use super::batch::{Batch, ExogColumns};
use super::network::{Network, NetworkCache};
use super::slots::Slots;
use super::spec::NeuralSpec;
use super::validation::{EarlyStopping, Validation, ValidationScratch};
use super::windows::{TrainingWindows, Window, WindowSampler};
use super::{Control, FitOptions, ModelFitReport, ProgressEvent};

use crate::data::Panel;
use crate::kernels::Isa;
use crate::nn::adam::{Adam, AdamConfig, StepLr};
use crate::nn::loss::implicit_quantile::{Quantiles, MEDIAN};
use crate::nn::loss::{LossSums, LossTargets};
use crate::nn::ParamStore;

/// Windows per shard: 8, or more for large models, whose per-shard gradient stores would otherwise cost more memory
/// traffic than their windows cost compute (a step writes at most about 2 M gradient floats, in at least 2 shards).
/// The layout depends on the batch size and the model alone, so the partial sums, and with them every bit of the
/// result, do not depend on how many threads run the shards.
pub(crate) fn shard_windows(batch: usize, parameters: u128) -> usize {
    const WINDOWS: usize = 8;
    const GRADIENT_FLOATS: u128 = 1 << 21;
    let max_shards = (GRADIENT_FLOATS / parameters.max(1)).clamp(2, batch.max(2) as u128) as usize;
    WINDOWS.max(batch.div_ceil(max_shards))
}

/// A shard's part of a step's gradient and loss, kept until the optimizer step sums them in shard order.
struct Shard {
    grads: ParamStore,
    loss: LossSums,
}

impl AsRef<ParamStore> for Shard {
    /// The shard's part of the batch gradient.
    fn as_ref(&self) -> &ParamStore {
        &self.grads
    }
}

/// The activations and buffers of one shard's forward and backward pass.
#[derive(Default)]
struct Scratch {
    cache: NetworkCache,
    batch: Batch,
    d_output: Vec<f32>,
    /// IQLoss: the quantile each target point's forecast is conditioned on this step.
    quantiles: Vec<f32>,
}

/// What one model's training needs besides its network.
pub(crate) struct TrainRun<'a> {
    pub spec: &'a NeuralSpec,
    pub alias: &'a str,
    pub model_index: usize,
    /// Series after local scaling.
    pub panel: &'a Panel,
    /// The model's exogenous columns in `panel`.
    pub exog: &'a ExogColumns,
    pub options: &'a FitOptions,
    pub isa: Isa,
    pub threads: &'a rayon::ThreadPool,
    /// Shards of half the windows, and the gradients of only [`LOW_MEMORY_WAVE`] of them at a time (`lowMemory`).
    pub low_memory: bool,
}

/// Shards whose gradients exist at once under `lowMemory`: they are computed this many at a time and added into a
/// running total in shard order.
const LOW_MEMORY_WAVE: usize = 2;

/// Windows per shard under `lowMemory`: half of [`shard_windows`], which halves the activations each thread keeps for
/// backward, at some speed. The shard layout, and so the rounding of the summed gradient, differs from the default
/// one; it still depends on the batch size and the model alone, not on the threads.
fn low_memory_shard_windows(batch: usize, parameters: u128) -> usize {
    shard_windows(batch, parameters).div_ceil(2)
}

/// Windows per shard of a training step of `batch` windows: [`shard_windows`] (halved under `lowMemory`), or a
/// multivariate model's whole batch, whose batch statistics (TSMixer's batch norm) NeuralForecast takes over every
/// window of the step.
pub(crate) fn training_shard_windows(spec: &NeuralSpec, batch: usize, parameters: u128, low_memory: bool) -> usize {
    match spec.n_series() {
        Some(_) => batch.max(1),
        None if low_memory => low_memory_shard_windows(batch, parameters),
        None => shard_windows(batch, parameters),
    }
}

/// A training stopped at the step `FitOptions::train_until` named, before its last: the optimizer (moments and
/// learning-rate schedule of the whole run), early stopping and report, from which the next such fit resumes
/// (successive halving's rungs). Resumed, it gives the same weights as a run that never paused.
#[derive(Clone)]
pub(crate) struct Paused {
    adam: Adam,
    early_stopping: EarlyStopping,
    report: ModelFitReport,
}

/// Trains `network` in place, from `resume` when the fit has `train_until` (else from step 1); the report and, when
/// it stopped at `train_until` before its last step, the state to resume from. `Ok(None)` when the progress
/// callback asked to stop.
pub(crate) fn train(
    network: &mut Network,
    run: &TrainRun<'_>,
    resume: Option<Paused>,
    progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
) -> Result<Option<(ModelFitReport, Option<Paused>)>, EngineError> {
    let spec = run.spec;
    let batch = run.options.windows_batch_size.unwrap_or(spec.windows_batch_size);
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
    let series_batch = run.options.batch_size.unwrap_or(spec.batch_size);
    let rows = spec.window_rows();
    let mut sampler = WindowSampler::new(&index, series_batch, batch, rows, spec.shape().random_seed);
    let max_steps = match (run.options.epochs, run.options.max_steps) {
        // An epoch is one pass over the series, `batchSize` series a step.
        (Some(epochs), _) => epochs.saturating_mul(sampler.steps_per_epoch()),
        (None, steps) => steps.unwrap_or(spec.max_steps),
    };
    let resume = resume.filter(|_| run.options.train_until.is_some());
    let parameters = network.params().num_parameters() as u128;
    // Shards of whole windows, counted in batch rows (a multivariate window is `rows` of them). Batch statistics
    // (BatchNorm's) are the whole batch's, as NeuralForecast's: one shard, one pass.
    let batch_statistics = network.params().has_buffers();
    let per_shard = if batch_statistics { batch } else { training_shard_windows(spec, batch, parameters, run.low_memory) } * rows;
    let shard_count = (batch * rows).div_ceil(per_shard);
    let kept = if run.low_memory { shard_count.min(LOW_MEMORY_WAVE) } else { shard_count };
    let mut shards: Vec<Shard> = (0..kept).map(|_| Shard { grads: network.params().zeros_like(), loss: LossSums::default() }).collect();
    let mut total = (kept < shard_count).then(|| Shard { grads: network.params().zeros_like(), loss: LossSums::default() });
    // One scratch per thread that runs shards (see Slots: all sized in the first step).
    let scratch = Slots::new(run.threads.current_num_threads().min(kept));
    let gradients = Gradients { run, index: &index, per_shard, scratch: &scratch };
    let mut validation_scratch = ValidationScratch::default();
    let validation = Validation::new(run, holdout)?;
    // NeuralForecast's Lightning `val_check_interval`: every valCheckSteps steps, at most every maxSteps.
    let val_check_steps = spec.val_check_steps.min(max_steps).max(1);
    let mut windows = Vec::with_capacity(batch * rows);
    let (mut adam, mut early_stopping, mut report) = match resume {
        Some(Paused { adam, early_stopping, report }) => {
            // The sampler's draws are a function of its seed alone: replaying those of the steps already taken
            // puts it where the paused run left it.
            (0..report.steps).for_each(|_| sampler.draw(&mut windows));
            (adam, early_stopping, report)
        }
        None => {
            let adam_config = AdamConfig { learning_rate: learning_rate as f32, ..AdamConfig::default() };
            let adam = Adam::new(network.params(), adam_config, StepLr::neuralforecast(max_steps, spec.num_lr_decays))?;
            // Sized up front, like every other buffer of the loop, so that a step does not allocate (up to a
            // bound: a huge `maxSteps` must not reserve gigabytes before the first step).
            let reserved = max_steps.min(1 << 20);
            let report = ModelFitReport {
                alias: run.alias.to_string(),
                train_loss: Vec::with_capacity(reserved),
                val_loss: Vec::with_capacity(reserved / val_check_steps + 1),
                parameters: network.params().num_parameters(),
                ..ModelFitReport::default()
            };
            (adam, EarlyStopping::new(run), report)
        }
    };
    let until = run.options.train_until.map_or(max_steps, |until| until.min(max_steps));
    let alias: std::sync::Arc<str> = run.alias.into();

    for step in report.steps + 1..=until {
        sampler.draw(&mut windows);
        let parts = match &mut total {
            None => {
                let part = StepPart { step, first: 0, observed: gradients.counted_in(&windows) };
                gradients.compute(network, &windows, &mut shards, part)?;
                &mut shards[..]
            }
            Some(total) => {
                gradients.compute_in_waves(network, &windows, &mut shards, total, step)?;
                std::slice::from_mut(total)
            }
        };
        let (train_loss, grad_scale) = spec.loss.finish(parts.iter().map(|s| s.loss).sum());
        if grad_scale != 1.0 {
            parts.iter_mut().for_each(|s| s.grads.scale(grad_scale as f32));
        }
        let parts = &*parts;
        let norm = if adam.clips() { Adam::summed_norm(parts) } else { 0.0 };
        run.threads.install(|| adam.step_summed(network.params_mut(), parts, norm))?;
        if shard_count == 1 {
            // The step was one forward pass: the model's buffers follow its batch statistics.
            network.update_buffers(&mut scratch.lock(0, 1).cache)?;
        }
        report.train_loss.push(train_loss);
        report.steps = step;
        let mut val_loss = None;
        let mut stop = false;
        let check = step % val_check_steps == 0;
        // A pause is scored at its step: an extra check there, which early stopping does not count.
        if let Some(v) = validation.as_ref().filter(|_| check || (step == until && until < max_steps)) {
            let loss = v.loss(network, run, &mut validation_scratch)?;
            report.val_loss.push(loss);
            val_loss = Some(loss);
            stop = check && early_stopping.should_stop(loss);
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
        if stop {
            report.stopped_early = true;
            return Ok(Some((report, None)));
        }
    }
    if report.steps < max_steps {
        return Ok(Some((report.clone(), Some(Paused { adam, early_stopping, report }))));
    }
    Ok(Some((report, None)))
}

/// Where a step's shards are: the step, the place of the first shard of these windows in the whole batch (for its
/// seed), and the target points the loss counts in the whole batch (each shard's loss is weighted by its share of them).
#[derive(Clone, Copy)]
struct StepPart {
    step: usize,
    first: usize,
    observed: usize,
}

/// What computes a step's gradient besides the network: the run, its training windows, how many windows a shard
/// takes and the per-thread scratch.
#[derive(Clone, Copy)]
struct Gradients<'a, 'r> {
    run: &'a TrainRun<'r>,
    index: &'a TrainingWindows,
    per_shard: usize,
    scratch: &'a Slots<Scratch>,
}

impl Gradients<'_, '_> {
    /// Computes each shard's part of the batch gradient (summed, in shard order, by the optimizer step) into
    /// `shards`, one shard per `per_shard` windows.
    fn compute(&self, network: &Network, windows: &[Window], shards: &mut [Shard], part: StepPart) -> Result<(), EngineError> {
        let Gradients { run, index, per_shard, scratch } = *self;
        let StepPart { step, first, observed } = part;
        let count = windows.len().div_ceil(per_shard).min(shards.len());
        run.threads.install(|| {
            shards.par_iter_mut().zip(windows.par_chunks(per_shard)).enumerate().try_for_each(|(k, (shard, chunk))| {
                let weight = self.counted_in(chunk) as f64 / observed as f64;
                let seed = shard_seed(run.spec.shape().random_seed, step, first + k);
                shard_gradient(network, run, index, chunk, shard, &mut scratch.lock(k, count), weight, seed)
            })
        })
    }

    /// The target points of `windows` that the loss averages over: the observed ones, or every one for a loss
    /// that counts masked points too ([`crate::nn::loss::Loss::weighs_every_point`]).
    fn counted_in(&self, windows: &[Window]) -> usize {
        if self.run.spec.loss.weighs_every_point() {
            self.index.targets_in(windows)
        } else {
            self.index.observed_in(windows)
        }
    }

    /// [`Gradients::compute`] a few shards at a time (`shards` holds one wave), each wave's gradients added into
    /// `total` in shard order: the batch gradient and loss of the whole batch.
    fn compute_in_waves(
        &self,
        network: &Network,
        windows: &[Window],
        shards: &mut [Shard],
        total: &mut Shard,
        step: usize,
    ) -> Result<(), EngineError> {
        let observed = self.counted_in(windows);
        total.loss = LossSums::default();
        for (wave, chunk) in windows.chunks(self.per_shard * shards.len()).enumerate() {
            let count = chunk.len().div_ceil(self.per_shard);
            let first = wave * shards.len();
            self.compute(network, chunk, &mut shards[..count], StepPart { step, first, observed })?;
            for (k, shard) in shards[..count].iter().enumerate() {
                if first + k == 0 {
                    total.grads.clone_from(&shard.grads);
                } else {
                    total.grads.add_assign(&shard.grads)?;
                }
                total.loss += shard.loss;
            }
        }
        Ok(())
    }
}

fn shard_gradient(
    network: &Network,
    run: &TrainRun<'_>,
    index: &TrainingWindows,
    windows: &[Window],
    shard: &mut Shard,
    scratch: &mut Scratch,
    weight: f64,
    train_seed: u64,
) -> Result<(), EngineError> {
    let spec = run.spec;
    let Scratch { cache, batch, d_output, quantiles } = scratch;
    let (_, batch_shape, target_shift) = spec.training_windows();
    batch.reset(windows.len(), &batch_shape);
    batch.set_target_shift(target_shift);
    for (k, w) in windows.iter().enumerate() {
        batch.fill_from_panel(k, run.panel, run.exog, w.series, w.start, index.train_length(w.series));
    }
    batch.scale(spec.scaler_type, run.isa);
    // IQLoss's quantiles come from the shard's seed, so they too do not depend on the thread count.
    quantiles.resize(windows.len() * batch_shape.h, MEDIAN);
    let drawn = spec.loss.draw_quantiles(train_seed, quantiles);
    let point_quantiles = if drawn { Quantiles::Each(quantiles) } else { Quantiles::All(MEDIAN) };
    let forecast = network.forward(&batch.view(Some(train_seed)), point_quantiles, cache)?;
    d_output.resize(forecast.len(), 0.0);
    let targets = LossTargets { quantiles: drawn.then_some(&quantiles[..]), ..batch.loss_targets() };
    let sums = spec.loss.sums_and_grad(forecast, &targets, d_output)?;
    // Each shard's loss is a masked mean over its own observed points; weighting by its share of the batch's
    // observed points makes the shard gradients sum to the gradient of the batch's masked mean (which
    // `Loss::finish` then turns into the loss's, for RMSE and relMSE).
    d_output.iter_mut().for_each(|g| *g *= weight as f32);
    shard.loss = sums.scaled(weight);
    shard.grads.fill_zero();
    network.backward(cache, d_output, &mut shard.grads)?;
    Ok(())
}

/// The seed of a shard's stochastic layers (dropout) and IQLoss quantiles at a step: a function of the model's seed, the step and
/// the shard's place in the batch only (SplitMix64 finalizer over their combination), so any thread count draws
/// the same masks.
fn shard_seed(model_seed: u64, step: usize, shard: usize) -> u64 {
    let mut z = model_seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (shard as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
