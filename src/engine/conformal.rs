//! Conformal prediction intervals, as NeuralForecast's `PredictionIntervals`: fitting with intervals first trains
//! the models on every series without its last `h + stepSize × (nWindows − 1)` points, forecasts the `nWindows`
//! windows that follow (each from the history before it) and keeps the absolute errors, the conformity scores;
//! `predict({ level })` then turns each point forecast and its series' scores into interval bounds.
//!
//! - `conformal_distribution` (the default): the bounds are quantiles of `ŷ ± score` over the windows;
//! - `conformal_error`: `ŷ ∓ q`, `q` the quantile of the scores at `1 − α/2`.

use serde_json::{json, Value};

use super::{Engine, EngineError, FitOptions, FutureExog, ProgressEvent, SeriesState};
use super::{Control, Fitted};
use crate::data::Panel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalMethod {
    ConformalDistribution,
    ConformalError,
}

impl IntervalMethod {
    pub const NAMES: &'static [&'static str] = &["conformal_distribution", "conformal_error"];

    pub fn parse(name: &str) -> Option<IntervalMethod> {
        match name {
            "conformal_distribution" => Some(IntervalMethod::ConformalDistribution),
            "conformal_error" => Some(IntervalMethod::ConformalError),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            IntervalMethod::ConformalDistribution => "conformal_distribution",
            IntervalMethod::ConformalError => "conformal_error",
        }
    }
}

/// NeuralForecast's `PredictionIntervals(n_windows=2, step_size=1, method='conformal_distribution')`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictionIntervals {
    pub n_windows: usize,
    pub step_size: usize,
    pub method: IntervalMethod,
}

impl Default for PredictionIntervals {
    fn default() -> Self {
        PredictionIntervals { n_windows: 2, step_size: 1, method: IntervalMethod::ConformalDistribution }
    }
}

impl PredictionIntervals {
    /// Checks the settings (at least two windows, as NeuralForecast requires).
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.n_windows < 2 {
            return Err(EngineError::Range(format!(
                "predictionIntervals.nWindows must be at least 2 (a quantile needs two errors), got {}",
                self.n_windows
            )));
        }
        if self.step_size == 0 {
            return Err(EngineError::Range("predictionIntervals.stepSize must be at least 1, got 0".into()));
        }
        Ok(())
    }
}

/// The conformity scores of a fit: per model (`None` for models with intervals of their own: Prophet and
/// multi-quantile losses), per fitted series, `|y − ŷ|` of each calibration window, `[series, window, h]`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Conformal {
    intervals: PredictionIntervals,
    h: usize,
    scores: Vec<Option<Vec<f64>>>,
}

impl Conformal {
    /// Model `model`'s scores for `series` (`[series, window, h]`), found by id among the `fitted` series;
    /// `None` when the model keeps none.
    pub(super) fn scores(&self, model: usize, fitted: &[SeriesState], series: &[SeriesState]) -> Option<Result<Vec<f64>, EngineError>> {
        let all = self.scores.get(model)?.as_ref()?;
        let per_series = self.intervals.n_windows * self.h;
        let lookup = |state: &SeriesState| {
            let index = fitted.iter().position(|f| f.id == state.id).ok_or_else(|| {
                EngineError::Range(format!("series '{}' was not in the fit, so it has no conformity scores for intervals", state.id))
            })?;
            Ok(&all[index * per_series..(index + 1) * per_series])
        };
        Some(series.iter().map(lookup).collect::<Result<Vec<_>, _>>().map(|parts| parts.concat()))
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "n_windows": self.intervals.n_windows,
            "step_size": self.intervals.step_size,
            "method": self.intervals.method.name(),
            "h": self.h,
            "scores": self.scores,
        })
    }

    /// Reads [`Conformal::to_json`] back for `n_models` models and `n_series` series, checking every length.
    pub(super) fn from_json(v: &Value, n_models: usize, n_series: usize) -> Result<Conformal, String> {
        let size = |key: &str| v.get(key).and_then(Value::as_u64).map(|x| x as usize).ok_or(format!("conformal '{key}' is missing or not an integer"));
        let method = v.get("method").and_then(Value::as_str).and_then(IntervalMethod::parse).ok_or("conformal 'method' is invalid")?;
        let intervals = PredictionIntervals { n_windows: size("n_windows")?, step_size: size("step_size")?, method };
        intervals.validate().map_err(|e| e.to_string())?;
        let h = size("h")?;
        let expected = n_series.checked_mul(intervals.n_windows).and_then(|n| n.checked_mul(h)).ok_or("conformal sizes overflow")?;
        let lists = v.get("scores").and_then(Value::as_array).filter(|s| s.len() == n_models).ok_or("conformal 'scores' must hold one entry per model")?;
        let scores = lists
            .iter()
            .map(|entry| match entry {
                Value::Null => Ok(None),
                Value::Array(values) if values.len() == expected => {
                    let numbers: Option<Vec<f64>> = values.iter().map(|x| x.as_f64().filter(|x| x.is_finite() && *x >= 0.0)).collect();
                    numbers.map(Some).ok_or("conformal scores must be finite non-negative numbers".to_string())
                }
                _ => Err(format!("conformal scores must be null or {expected} numbers")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Conformal { intervals, h, scores })
    }
}

impl Engine {
    /// The conformity scores of the point models: trained (from the current weights) on `panel` without its last
    /// windows, then scored on each window. `None` when the progress callback stopped the calibration fit.
    pub(super) fn calibrate(
        &self,
        panel: &Panel,
        options: &FitOptions,
        intervals: &PredictionIntervals,
        progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
    ) -> Result<Option<Conformal>, EngineError> {
        intervals.validate()?;
        let h = self.horizon();
        let PredictionIntervals { n_windows, step_size, .. } = *intervals;
        let point: Vec<usize> = (0..self.config.models.len()).filter(|&m| self.config.models[m].neural().is_some_and(|n| n.columns_per_point() == 1)).collect();
        let mut scores: Vec<Option<Vec<f64>>> = vec![None; self.config.models.len()];
        if point.is_empty() {
            return Ok(Some(Conformal { intervals: *intervals, h, scores }));
        }
        let calibration_offset = h + step_size * (n_windows - 1);
        let needed = "inputSize + h + stepSize × (nWindows − 1) + h (prediction intervals)";
        panel.check_min_length(calibration_offset + self.max_input_size() + h, needed)?;
        let mut calibration = self.subset(&point)?;
        let inner = FitOptions { prediction_intervals: None, ..options.clone() };
        if calibration.fit_models(&panel.without_last(calibration_offset, needed)?, &inner, progress)?.aborted {
            return Ok(None);
        }
        let mut errors: Vec<Vec<f64>> = point.iter().map(|_| vec![0.0; panel.n_series() * n_windows * h]).collect();
        let future = FutureExog::from_panel(panel);
        for window in 0..n_windows {
            let cut = h + step_size * (n_windows - 1 - window);
            let forecast = calibration.predict(Some(&panel.without_last(cut, needed)?), None, &[], Some(&future))?;
            for (errors, (_, values)) in errors.iter_mut().zip(&forecast.columns) {
                for (s, series) in panel.series_iter().enumerate() {
                    let truth = &series.y[series.len() - cut..][..h];
                    for (k, (&y, &y_hat)) in truth.iter().zip(&values[s * h..(s + 1) * h]).enumerate() {
                        errors[(s * n_windows + window) * h + k] = (y - y_hat).abs();
                    }
                }
            }
        }
        for (m, errors) in point.into_iter().zip(errors) {
            scores[m] = Some(errors);
        }
        Ok(Some(Conformal { intervals: *intervals, h, scores }))
    }

    /// A copy of this engine with only the models at `indices`, at their current weights, not fitted.
    pub(super) fn subset(&self, indices: &[usize]) -> Result<Engine, EngineError> {
        let mut config = self.config.clone();
        config.models = indices.iter().map(|&m| self.config.models[m].clone()).collect();
        Ok(Engine {
            config,
            models: indices.iter().map(|&m| self.models[m].clone()).collect(),
            fitted: None,
            threads: self.threads.clone(),
            forecast_scratch: indices.iter().map(|_| super::slots::Slots::new(self.threads.current_num_threads())).collect(),
            searches: indices.iter().map(|&m| self.searches[m].clone()).collect(),
            paused: indices.iter().map(|&m| self.paused[m].clone()).collect(),
        })
    }
}

/// Levels must be percentages strictly between 0 and 100.
pub(super) fn check_levels(levels: &[f64]) -> Result<(), EngineError> {
    match levels.iter().find(|l| !(l.is_finite() && **l > 0.0 && **l < 100.0)) {
        Some(bad) => Err(EngineError::Range(format!("level must hold percentages between 0 and 100 (exclusive), got {bad}"))),
        None => Ok(()),
    }
}

pub(super) fn no_intervals(alias: &str) -> EngineError {
    EngineError::Range(format!(
        "model '{alias}' has no prediction intervals: fit with {{ predictionIntervals: {{ nWindows: 2 }} }} for conformal intervals, or train it with loss 'MQLoss'"
    ))
}

/// `levels` sorted ascending without repeats.
fn sorted_levels(levels: &[f64]) -> Vec<f64> {
    let mut sorted = levels.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    sorted
}

/// The interval columns of `alias` for `levels`, in NeuralForecast's order: the lower bounds from the widest
/// interval in, then the upper bounds from the narrowest out (`-lo-95, -lo-80, -hi-80, -hi-95`).
pub(super) fn interval_columns(alias: &str, levels: &[f64]) -> Vec<String> {
    let sorted = sorted_levels(levels);
    let lows = sorted.iter().rev().map(|l| format!("{alias}-lo-{l}"));
    lows.chain(sorted.iter().map(|l| format!("{alias}-hi-{l}"))).collect()
}

/// The bounds in [`interval_columns`]' order, given `bound(i)` = (lower, upper) of `levels[i]`.
pub(super) fn ordered_bounds<'a>(levels: &[f64], bound: impl Fn(usize) -> (&'a Vec<f64>, &'a Vec<f64>)) -> Vec<&'a Vec<f64>> {
    let sorted = sorted_levels(levels);
    let index_of = |level: &f64| levels.iter().position(|l| l == level).expect("a sorted level comes from levels");
    let lows = sorted.iter().rev().map(|l| bound(index_of(l)).0);
    lows.chain(sorted.iter().map(|l| bound(index_of(l)).1)).collect()
}

/// numpy's default (`linear`) quantile of `values` (sorted in place) at `q` in `[0, 1]`.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let position = q * (values.len() - 1) as f64;
    let (low, fraction) = (position.floor() as usize, position.fract());
    let high = (low + 1).min(values.len() - 1);
    values[low] + (values[high] - values[low]) * fraction
}

/// The interval columns of a point forecast `point` (`[series, horizon]`) from its `scores` (`[series, window, h]`).
pub(super) fn intervals(alias: &str, point: &[f64], scores: &[f64], horizon: usize, levels: &[f64], fitted: &Fitted) -> Result<Vec<(String, Vec<f64>)>, EngineError> {
    let conformal = fitted.conformal.as_ref().expect("scores come from the fit's conformal state");
    let calibration = Calibration { windows: conformal.intervals.n_windows, h: conformal.h, method: conformal.intervals.method };
    conformal_intervals(alias, point, scores, horizon, calibration, levels)
}

/// How conformity scores were taken: `windows` calibration windows of `h` steps, and the interval method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub windows: usize,
    pub h: usize,
    pub method: IntervalMethod,
}

/// The interval columns (named `alias-lo-L`, `alias-hi-L` in NeuralForecast's order) of a point forecast `point`
/// (`[series, horizon]`, `horizon <= h`) from its conformity scores (`[series, window, h]`): the engine's own and
/// AutoEnsemble's (`lib/ensemble.js`), which calibrates its combined forecast.
pub fn conformal_intervals(alias: &str, point: &[f64], scores: &[f64], horizon: usize, calibration: Calibration, levels: &[f64]) -> Result<Vec<(String, Vec<f64>)>, EngineError> {
    let Calibration { windows, h, method } = calibration;
    check_levels(levels)?;
    if windows < 2 || h == 0 || horizon == 0 || horizon > h {
        return Err(EngineError::Range(format!("conformal intervals need at least 2 windows and 1 <= horizon <= h, got {windows} windows, horizon {horizon}, h {h}")));
    }
    let series = point.len() / horizon;
    if point.len() % horizon != 0 || Some(scores.len()) != series.checked_mul(windows * h) {
        return Err(EngineError::Range(format!(
            "conformal intervals of {} forecasts at horizon {horizon} need {windows} x {h} scores per series, got {}",
            point.len(),
            scores.len()
        )));
    }
    let sorted = sorted_levels(levels);
    // Bounds per level: lower and upper, `[series, horizon]` each.
    let mut bounds: Vec<(Vec<f64>, Vec<f64>)> = sorted.iter().map(|_| (Vec::with_capacity(point.len()), Vec::with_capacity(point.len()))).collect();
    let mut sample = Vec::with_capacity(2 * windows);
    for (s, forecasts) in point.chunks_exact(horizon).enumerate() {
        for (k, &y_hat) in forecasts.iter().enumerate() {
            let errors = (0..windows).map(|w| scores[(s * windows + w) * h + k]);
            for (level, (lower, upper)) in sorted.iter().zip(bounds.iter_mut()) {
                let tail = (100.0 - level) / 200.0;
                let (lo, hi) = match method {
                    IntervalMethod::ConformalDistribution => {
                        sample.clear();
                        sample.extend(errors.clone().flat_map(|e| [y_hat - e, y_hat + e]));
                        (quantile(&mut sample, tail), quantile(&mut sample, 1.0 - tail))
                    }
                    IntervalMethod::ConformalError => {
                        sample.clear();
                        sample.extend(errors.clone());
                        let q = quantile(&mut sample, 1.0 - tail);
                        (y_hat - q, y_hat + q)
                    }
                };
                lower.push(lo);
                upper.push(hi);
            }
        }
    }
    let names = interval_columns(alias, &sorted);
    let ordered = ordered_bounds(&sorted, |i| (&bounds[i].0, &bounds[i].1));
    Ok(names.into_iter().zip(ordered).map(|(name, values)| (name, values.clone())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_numpy() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&mut v, 0.5), 2.5);
        assert_eq!(quantile(&mut v, 0.0), 1.0);
        assert!((quantile(&mut v, 0.9) - 3.7).abs() < 1e-12);
    }

    #[test]
    fn columns_follow_neuralforecast_order() {
        assert_eq!(interval_columns("m", &[95.0, 80.0, 80.0]), ["m-lo-95", "m-lo-80", "m-hi-80", "m-hi-95"]);
        let (a, b, c, d) = (vec![1.0], vec![2.0], vec![3.0], vec![4.0]);
        let bounds = [(&a, &b), (&c, &d)]; // levels[0] = 95: (1, 2); levels[1] = 80: (3, 4)
        let ordered = ordered_bounds(&[95.0, 80.0], |i| bounds[i]);
        assert_eq!(ordered, [&a, &c, &d, &b]);
    }

    #[test]
    fn conformal_intervals_check_their_shapes() {
        let calibration = Calibration { windows: 2, h: 2, method: IntervalMethod::ConformalError };
        // One series, horizon 2: scores [window, h] = [[1, 2], [3, 4]]; q = the 0.75 quantile of each step's {1, 3}, {2, 4}.
        let columns = conformal_intervals("m", &[10.0, 20.0], &[1.0, 2.0, 3.0, 4.0], 2, calibration, &[50.0]).unwrap();
        assert_eq!(columns[0], ("m-lo-50".to_string(), vec![7.5, 16.5]));
        assert_eq!(columns[1], ("m-hi-50".to_string(), vec![12.5, 23.5]));
        assert!(conformal_intervals("m", &[10.0, 20.0, 30.0], &[1.0; 4], 2, calibration, &[50.0]).is_err());
        assert!(conformal_intervals("m", &[10.0, 20.0], &[1.0; 3], 2, calibration, &[50.0]).is_err());
        assert!(conformal_intervals("m", &[10.0, 20.0, 30.0], &[1.0; 4], 3, calibration, &[50.0]).is_err());
        assert!(conformal_intervals("m", &[10.0, 20.0], &[1.0; 4], 2, calibration, &[100.0]).is_err());
        assert!(conformal_intervals("m", &[10.0, 20.0], &[1.0; 2], 2, Calibration { windows: 1, ..calibration }, &[50.0]).is_err());
    }

    #[test]
    fn settings_are_checked() {
        assert!(PredictionIntervals { n_windows: 1, ..PredictionIntervals::default() }.validate().is_err());
        assert!(PredictionIntervals { step_size: 0, ..PredictionIntervals::default() }.validate().is_err());
        assert!(check_levels(&[80.0, 95.0]).is_ok() && check_levels(&[100.0]).is_err() && check_levels(&[f64::NAN]).is_err());
    }
}
