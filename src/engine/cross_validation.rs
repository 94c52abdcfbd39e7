//! Cross-validation as NeuralForecast's `NeuralForecast.cross_validation`: forecasts over `n_windows` windows at
//! the end of every series, `step_size` points apart, the last window ending at the series' last point. Each
//! window is forecast from the history up to its cutoff (the last point before the window) and returned beside
//! the actual values; the future exogenous values of a window come from the data itself.
//!
//! [`RefitPolicy::Never`]: the models are fitted once, on each series without its last `horizon + step_size·(n_windows − 1)`
//! points (the data before the first window), and every window is forecast from its own history without a refit.
//! [`RefitPolicy::Every`]`(k)`: a fresh fit (from the engine's current weights) on the history of every k-th window.

use super::{Control, Engine, EngineError, FitOptions, FutureExog, ProgressEvent};
use crate::data::{Ds, Panel};

/// When cross-validation fits the models again (NeuralForecast's `refit`: false, true or an integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefitPolicy {
    /// One fit, on the data before the first window.
    Never,
    /// A fit on the history of window 0, k, 2k, …; `Every(1)` is `refit: true`.
    Every(usize),
}

/// The windows of a cross-validation and what each forecast holds.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidation {
    pub n_windows: usize,
    pub step_size: usize,
    pub refit: RefitPolicy,
    /// Steps forecast per window (at most the models' h; `None`: h).
    pub horizon: Option<usize>,
    /// Interval levels in percent, as `predict`'s.
    pub levels: Vec<f64>,
}

impl CrossValidation {
    /// The windows whose history the models are fitted on, in order: fit `i` is made for window `fit_windows()[i]`.
    pub fn fit_windows(&self) -> Vec<usize> {
        match self.refit {
            RefitPolicy::Never => vec![0],
            RefitPolicy::Every(k) => (0..self.n_windows).step_by(k.max(1)).collect(),
        }
    }
}

/// Which fit of a cross-validation a training step belongs to.
#[derive(Debug, Clone, Copy)]
pub struct CrossValidationStep<'a> {
    /// Index of the fit (into [`CrossValidation::fit_windows`]).
    pub fit: usize,
    /// The window whose history is fitted.
    pub window: usize,
    pub event: &'a ProgressEvent,
}

/// Cross-validation forecasts in long format: per series (in panel order), per window, `horizon` rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrossValidationResult {
    pub unique_id: Vec<String>,
    pub ds: Vec<Ds>,
    /// The last ds of the history each row was forecast from.
    pub cutoff: Vec<Ds>,
    /// The actual values.
    pub y: Vec<f64>,
    /// One column per model output and interval bound, as `predict` names them.
    pub columns: Vec<(String, Vec<f64>)>,
    /// The progress callback stopped a fit; the other fields are empty.
    pub aborted: bool,
}

impl Engine {
    /// Cross-validates copies of this engine at its current weights (the engine itself is left as it is) on
    /// `panel`, with `fit_options[i]` for fit `i` (one per [`CrossValidation::fit_windows`]). An error from a
    /// window's fit or forecast is an [`EngineError::InWindow`].
    pub fn cross_validation(
        &self,
        panel: &Panel,
        cv: &CrossValidation,
        fit_options: &[FitOptions],
        progress: &mut (dyn FnMut(&CrossValidationStep<'_>) -> Control + Send),
    ) -> Result<CrossValidationResult, EngineError> {
        let h = self.horizon();
        let horizon = cv.horizon.unwrap_or(h);
        let (n_windows, step_size) = (cv.n_windows, cv.step_size);
        if horizon == 0 || n_windows == 0 || step_size == 0 {
            return Err(EngineError::Range(format!(
                "horizon, nWindows and stepSize must be at least 1, got {horizon}, {n_windows} and {step_size}"
            )));
        }
        if horizon > h {
            return Err(EngineError::Range(format!("horizon {horizon} is larger than the models' h {h}")));
        }
        let fit_windows = cv.fit_windows();
        if fit_options.len() != fit_windows.len() {
            return Err(EngineError::Range(format!("{} fit options for {} fits", fit_options.len(), fit_windows.len())));
        }
        let test_size = horizon + step_size * (n_windows - 1);
        if let Some(series) = panel.series_iter().find(|s| s.len() <= test_size) {
            return Err(EngineError::Range(format!(
                "series '{}' has {} points; {n_windows} window(s) of horizon {horizon}, {step_size} apart, need {test_size} of them plus some history before the first window",
                series.id,
                series.len()
            )));
        }
        let future = FutureExog::from_panel(panel);
        let all: Vec<usize> = (0..self.models.len()).collect();
        let mut fitted: Option<Engine> = None;
        let mut forecasts = Vec::with_capacity(n_windows);
        for window in 0..n_windows {
            let in_window = |error: EngineError| EngineError::InWindow { window, n_windows, error: Box::new(error) };
            let history = panel.without_last(test_size - window * step_size, "the cross-validation windows").map_err(|e| in_window(e.into()))?;
            if let Some(fit) = fit_windows.iter().position(|&w| w == window) {
                let mut engine = self.subset(&all).map_err(in_window)?;
                let mut on_step = |event: &ProgressEvent| progress(&CrossValidationStep { fit, window, event });
                if engine.fit(&history, &fit_options[fit], &mut on_step).map_err(in_window)?.aborted {
                    return Ok(CrossValidationResult { aborted: true, ..CrossValidationResult::default() });
                }
                fitted = Some(engine);
            }
            let engine = fitted.as_ref().expect("window 0 is always fitted");
            forecasts.push(engine.predict(Some(&history), Some(horizon), &cv.levels, Some(&future)).map_err(in_window)?);
        }
        let names: Vec<String> = forecasts[0].columns.iter().map(|(name, _)| name.clone()).collect();
        let rows = panel.n_series() * n_windows * horizon;
        let mut result = CrossValidationResult {
            unique_id: Vec::with_capacity(rows),
            ds: Vec::with_capacity(rows),
            cutoff: Vec::with_capacity(rows),
            y: Vec::with_capacity(rows),
            columns: names.into_iter().map(|name| (name, Vec::with_capacity(rows))).collect(),
            aborted: false,
        };
        for (s, series) in panel.series_iter().enumerate() {
            for (window, forecast) in forecasts.iter().enumerate() {
                let cutoff = series.len() - test_size + window * step_size - 1;
                let forecast_rows = s * horizon..(s + 1) * horizon;
                result.unique_id.extend(std::iter::repeat_n(series.id.to_string(), horizon));
                result.ds.extend_from_slice(&forecast.ds[forecast_rows.clone()]);
                result.cutoff.extend(std::iter::repeat_n(series.ds[cutoff], horizon));
                result.y.extend_from_slice(&series.y[cutoff + 1..cutoff + 1 + horizon]);
                for ((_, column), (_, values)) in result.columns.iter_mut().zip(&forecast.columns) {
                    column.extend_from_slice(&values[forecast_rows.clone()]);
                }
            }
        }
        self.end_call(Ok(result))
    }
}

#[cfg(test)]
#[path = "cross_validation_tests.rs"]
mod tests;
