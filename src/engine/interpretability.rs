//! TFT's interpretability outputs for a fitted forecaster (NeuralForecast's `TFT.feature_importances` and
//! `TFT.attention_weights`): a forecast pass over each fitted series' last window, then the variable selection
//! weights averaged over windows and steps per variable, and the attention probabilities over heads and windows.

use super::forecast::{series_fill, SeriesRequest, CHUNK};
use super::{Engine, EngineError, FutureExog, ModelKind};
use crate::models::tft::Tft;
use crate::nn::loss::implicit_quantile::{Quantiles, MEDIAN};

/// A TFT's mean variable importances per group (each group's weights sum to 1) and its mean attention.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureImportances {
    /// The TFT's alias.
    pub model: String,
    /// Static variables (empty without any).
    pub stat: Vec<(String, f64)>,
    /// The encoder's inputs, in tft.py's order: historic, future (`repeated_target` without future variables,
    /// the last value tft.py repeats in their place), then `observed_target`.
    pub past: Vec<(String, f64)>,
    /// Future variables over the horizon (empty without any: tft.py reports none then).
    pub future: Vec<(String, f64)>,
    /// `[inputSize + h, inputSize + h]` row-major: row t is step t's attention over the steps (causal).
    pub attention: Vec<f64>,
    /// `inputSize + h`.
    pub steps: usize,
}

/// Sums `weights` (`[rows, width]`) column by column into `sums`.
fn add_columns(sums: &mut [f64], weights: &[f32]) {
    for row in weights.chunks_exact(sums.len().max(1)) {
        sums.iter_mut().zip(row).for_each(|(s, &w)| *s += f64::from(w));
    }
}

/// `names` with `sums` divided by `count`.
fn means(names: &[String], sums: &[f64], count: usize) -> Vec<(String, f64)> {
    names.iter().cloned().zip(sums.iter().map(|s| s / count as f64)).collect()
}

impl Engine {
    /// The interpretability outputs of the TFT `model` (its alias; None: the forecaster's only TFT) over the
    /// fitted series' last windows, with `future` values over the horizon where it has future variables.
    pub fn feature_importances(&self, model: Option<&str>, future: Option<&FutureExog>) -> Result<FeatureImportances, EngineError> {
        let fitted = self.fitted.as_ref().ok_or(EngineError::NotFitted)?;
        let models = &self.config.models;
        let listed = || models.iter().map(|m| format!("'{}' ({})", m.alias, m.kind().name())).collect::<Vec<_>>().join(", ");
        let tfts: Vec<usize> = (0..models.len()).filter(|&i| models[i].kind() == ModelKind::Tft).collect();
        let index = match (model, &tfts[..]) {
            (Some(alias), _) => *tfts.iter().find(|&&i| models[i].alias == alias).ok_or_else(|| {
                EngineError::Range(format!("featureImportances: no TFT model with alias '{alias}'; the models are {}", listed()))
            })?,
            (None, [index]) => *index,
            (None, []) => {
                return Err(EngineError::Range(format!(
                    "featureImportances needs a TFT model (NeuralForecast's interpretability outputs are TFT's); the models are {}",
                    listed()
                )))
            }
            (None, _) => return Err(EngineError::Range(format!("featureImportances: several TFT models, give {{ model: <alias> }}; the models are {}", listed()))),
        };
        let (spec, alias) = (&models[index], &models[index].alias);
        let (Some(network), Some(neural)) = (self.models[index].network(), spec.neural()) else {
            return Err(EngineError::Range(format!("model '{alias}' has no trained network")));
        };
        let series = &fitted.series;
        if series.is_empty() {
            return Err(EngineError::Range("featureImportances needs the fitted series; this forecaster keeps none (it was loaded from a NeuralForecast directory)".into()));
        }
        let request = SeriesRequest { fitted, series, future, horizon: neural.h(), quantile: MEDIAN };
        let fill = series_fill(neural, alias, &request)?;
        let (l, h, exog) = (neural.input_size(), neural.h(), &neural.exog);
        let steps = l + h;
        let mut past_names: Vec<String> = exog.hist.iter().chain(&exog.futr).cloned().collect();
        if exog.futr.is_empty() {
            past_names.push("repeated_target".into());
        }
        past_names.push("observed_target".into());
        let (mut past, mut futr) = (vec![0.0; past_names.len()], vec![0.0; exog.futr.len().max(1)]);
        let (mut stat, mut attention) = (vec![0.0; exog.stat.len()], vec![0.0; steps * steps]);
        let mut heads = 0;
        let _simd = crate::simd::scoped_simd(self.config.simd_enabled);
        let mut guard = self.forecast_scratch[index].lock(0, 1);
        let scratch = &mut *guard;
        let pass = (0..series.len()).step_by(CHUNK).try_for_each(|start| {
            let windows = start..(start + CHUNK).min(series.len());
            scratch.batch.reset(windows.len(), neural.shape());
            fill(&mut scratch.batch, windows.clone());
            scratch.batch.scale(neural.scaler_type, self.isa());
            network.forward(&scratch.batch.view(None), Quantiles::All(MEDIAN), &mut scratch.cache)?;
            let (tft, cache) = network
                .model_and_cache::<Tft>(&scratch.cache)
                .ok_or_else(|| EngineError::Range(format!("model '{alias}' is not a TFT network")))?;
            let weights = tft.interpretability(cache);
            add_columns(&mut past, weights.history);
            add_columns(&mut futr, weights.future);
            add_columns(&mut stat, weights.stat);
            add_columns(&mut attention, weights.attention);
            heads = weights.attention.len() / (windows.len() * steps * steps);
            Ok::<_, EngineError>(())
        });
        drop(guard);
        let n = series.len();
        let importances = pass.map(|()| FeatureImportances {
            model: alias.clone(),
            stat: means(&exog.stat, &stat, n),
            past: means(&past_names, &past, n * l),
            future: means(&exog.futr, &futr, n * h),
            attention: attention.iter().map(|a| a / (n * heads) as f64).collect(),
            steps,
        });
        self.end_call(importances)
    }
}
