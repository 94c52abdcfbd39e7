//! Validation and early stopping as NeuralForecast's `validation_step` and Lightning's `EarlyStopping`: every
//! window over the last `inputSize + validationSize` points of each series, window-scaled as in training,
//! forecast, inverse-normalised and scored in the original scale with `validLoss`; training stops after
//! `patience` checks without a new best.

use super::batch::Batch;
use super::error::EngineError;
use super::network::{Network, NetworkCache};
use super::spec::{Method, ModelSpec};
use super::train::TrainRun;
use super::FitOptions;
use crate::data::Panel;
use crate::nn::loss::implicit_quantile::{Quantiles, MEDIAN};
use crate::nn::loss::{Loss, LossTargets};

/// The validation windows, filled and scaled once per fit; a check only runs the network over them.
pub(crate) struct Validation {
    chunks: Vec<Chunk>,
}

/// One inference batch: the scaled windows, and their targets and inputs in the original scale (MASE's and
/// relMSE's inputs are inverse-normalised too, as `_compute_valid_loss` does).
struct Chunk {
    batch: Batch,
    targets: Vec<f32>,
    insample: Vec<f32>,
}

/// The buffers of a validation check, sized at the first one.
#[derive(Default)]
pub(crate) struct ValidationScratch {
    cache: NetworkCache,
    forecast: Vec<f32>,
    d_output: Vec<f32>,
}

impl Validation {
    /// The validation windows of `run`'s panel for `holdout` (`validationSize`) points; `None` when 0.
    pub fn new(run: &TrainRun<'_>, holdout: usize) -> Result<Option<Validation>, EngineError> {
        if holdout == 0 {
            return Ok(None);
        }
        let (spec, l, h) = (run.spec, run.spec.input_size(), run.spec.h());
        // Windows of L + h over the last L + holdout points of each series, every `stepSize` points; as
        // `validation_step`, batches of `validBatchSize` series, each in forward passes of at most
        // `inferenceWindowsBatchSize` windows.
        let per_series = (holdout - h) / spec.step_size + 1;
        let series: Vec<usize> = run.panel.series_iter().map(|series| series.len()).collect();
        // A multivariate model validates every series at once (NeuralForecast raises `valid_batch_size` to
        // `n_series`), each window as its series' rows (the series are aligned: they have the same windows).
        let (valid_batch_size, rows) = match spec.n_series() {
            Some(n) => (spec.valid_batch_size.max(n), n),
            None => (spec.valid_batch_size, 1),
        };
        let mut chunks = Vec::new();
        for (first, lengths) in (0..).step_by(valid_batch_size).zip(series.chunks(valid_batch_size)) {
            let window = |k: usize, w: usize| (first + k, lengths[k] - holdout - l + w * spec.step_size);
            let windows: Vec<(usize, usize)> = match rows {
                1 => (0..lengths.len()).flat_map(|k| (0..per_series).map(move |w| window(k, w))).collect(),
                _ => (0..per_series).flat_map(|w| (0..lengths.len()).map(move |k| window(k, w))).collect(),
            };
            for windows in windows.chunks(spec.inference_windows_batch_size.map_or(windows.len(), |w| w * rows).max(1)) {
                let mut batch = Batch::default();
                batch.reset(windows.len(), spec.shape());
                for (k, &(series, start)) in windows.iter().enumerate() {
                    batch.fill_from_panel(k, run.panel, run.exog, series, start as isize, start + l + h);
                }
                let (targets, insample) = (batch.targets.clone(), batch.inputs.clone());
                batch.scale(spec.scaler_type, run.isa);
                chunks.push(Chunk { batch, targets, insample });
            }
        }
        Ok(Some(Validation { chunks }))
    }

    /// The validation loss of `network`: each inference batch's `validLoss` on the inverse-normalised forecasts,
    /// averaged weighted by the batches' windows. A loss that is not finite is an error, as NeuralForecast's
    /// "Loss is NaN, training stopped."
    pub fn loss(&self, network: &Network, run: &TrainRun<'_>, scratch: &mut ValidationScratch) -> Result<f64, EngineError> {
        let ValidationScratch { cache, forecast, d_output } = scratch;
        let loss = run.spec.validation_loss();
        let per_window = run.spec.h() * run.spec.shape().outputs_per_point;
        let (mut sum, mut windows) = (0.0f64, 0usize);
        for chunk in &self.chunks {
            let scaled = network.forward(&chunk.batch.view(None), Quantiles::All(MEDIAN), cache)?;
            let count = chunk.targets.len() / run.spec.h();
            if let Loss::Distribution(_) = loss {
                // NeuralForecast's `valid_loss(y, distr_args)`: the negative log-likelihood of the data-space targets.
                d_output.resize(scaled.len(), 0.0);
                let value = loss.value_and_grad(scaled, &chunk.batch.loss_targets(), d_output)?;
                sum += value as f64 * count as f64;
                windows += count;
                continue;
            }
            forecast.clear();
            forecast.extend_from_slice(scaled);
            // `scales` is empty under the identity scaler: nothing to invert.
            for (window, scale) in forecast.chunks_exact_mut(per_window).zip(&chunk.batch.scales) {
                window.iter_mut().for_each(|v| *v = scale.invert(*v as f64) as f32);
            }
            d_output.resize(forecast.len(), 0.0);
            let targets = LossTargets {
                y: &chunk.targets,
                mask: Some(&chunk.batch.mask),
                insample: &chunk.insample,
                windows: count,
                quantiles: None,
                window_scales: &[],
            };
            let value = loss.value_and_grad(forecast, &targets, d_output)?;
            sum += value as f64 * count as f64;
            windows += count;
        }
        let loss = sum / windows as f64;
        if !loss.is_finite() {
            return Err(EngineError::Range(format!("model '{}': the validation loss is {loss}; training stopped", run.alias)));
        }
        Ok(loss)
    }
}

/// Lightning's `EarlyStopping` on the validation loss (mode min, `min_delta` 0): stop once `patience` checks in a
/// row have not improved on the best loss.
#[derive(Clone)]
pub(crate) struct EarlyStopping {
    patience: Option<usize>,
    best: f64,
    checks_without_improvement: usize,
}

impl EarlyStopping {
    /// Early stopping for `run`: patience from the fit's `patience`, else the model's `earlyStopPatienceSteps`;
    /// off when neither is given ([`check_early_stopping`] has rejected the configurations that cannot stop).
    pub fn new(run: &TrainRun<'_>) -> EarlyStopping {
        EarlyStopping {
            patience: run.options.patience.or(run.spec.early_stop_patience_steps),
            best: f64::INFINITY,
            checks_without_improvement: 0,
        }
    }

    /// Records a check's loss; true when training should stop.
    pub fn should_stop(&mut self, loss: f64) -> bool {
        if loss < self.best {
            (self.best, self.checks_without_improvement) = (loss, 0);
        } else {
            self.checks_without_improvement += 1;
        }
        self.patience.is_some_and(|p| self.checks_without_improvement >= p)
    }
}

/// Rejects targets outside a distribution loss's support (counts for Poisson, NegativeBinomial and the PMM and
/// NBMM mixtures, non-negative values for Tweedie, 0 or 1 for Bernoulli), naming the first such point: a
/// likelihood there is 0, and NeuralForecast's would be NaN.
pub(crate) fn check_targets(models: &[ModelSpec], panel: &Panel) -> Result<(), EngineError> {
    for model in models {
        let Some(Loss::Distribution(loss)) = model.neural().map(|n| &n.loss) else { continue };
        for series in panel.series_iter() {
            for (&y, ds) in series.y.iter().zip(series.ds) {
                if let Err(reason) = loss.distribution.check_target(y) {
                    return Err(EngineError::Range(format!(
                        "model '{}': series '{}' at ds {ds}: y = {y} is outside its distribution loss's support ({reason})",
                        model.alias, series.id
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Rejects the fits whose early stopping could never fire (NeuralForecast's `fit` raises for early stopping
/// without `val_size`): a patience or `earlyStopping` without `validationSize`, and `earlyStopping: true` for a
/// model without any patience.
pub(crate) fn check_early_stopping(models: &[ModelSpec], options: &FitOptions) -> Result<(), EngineError> {
    let neural = models.iter().filter_map(|m| match &m.method {
        Method::Neural(neural) => Some((m.alias.as_str(), neural)),
        Method::Prophet(_) => None,
    });
    for (alias, spec) in neural {
        let patience = options.patience.or(spec.early_stop_patience_steps);
        if options.validation_size == 0 {
            let named = match (options.early_stopping, options.patience, spec.early_stop_patience_steps) {
                (true, _, _) => Some("fit option earlyStopping".to_string()),
                (_, Some(_), _) => Some("fit option patience".to_string()),
                (_, _, Some(_)) => Some(format!("model '{alias}''s earlyStopPatienceSteps")),
                _ => None,
            };
            if let Some(named) = named {
                return Err(EngineError::Range(format!(
                    "{named} needs a validation set to stop on: give the fit option validationSize (at least the horizon)"
                )));
            }
        }
        if options.early_stopping && patience.is_none() {
            return Err(EngineError::Range(format!(
                "fit option earlyStopping needs a patience: give the fit option patience or model '{alias}''s earlyStopPatienceSteps"
            )));
        }
    }
    Ok(())
}
