//! Prophet in the engine: a local model, fitted to each series on its own (in parallel over series), on the raw
//! values and their time stamps; forecasts at each series' future time stamps, with Prophet's own intervals.

use rayon::prelude::*;

use super::spec::ProphetSpec;
use super::{conformal, Control, EngineError, ModelFitReport, ProgressEvent, SeriesState};
use crate::data::{advance, Ds, Frequency, Panel};
use crate::models::prophet::{self, ProphetFit, SECONDS_PER_DAY};

/// Prophet's time axis: seconds since the epoch, an integer step counting as a day.
pub(super) fn seconds(ds: Ds) -> f64 {
    match ds {
        Ds::Int(step) => step as f64 * SECONDS_PER_DAY,
        Ds::Time(_) => ds.to_epoch_millis() / 1e3,
    }
}

/// One fit per series of `panel`, in series order.
pub(super) fn fit_prophet(spec: &ProphetSpec, panel: &Panel, threads: &rayon::ThreadPool) -> Result<Vec<ProphetFit>, EngineError> {
    threads.install(|| {
        panel
            .series_iter()
            .collect::<Vec<_>>()
            .par_iter()
            .map(|series| {
                let t: Vec<f64> = series.ds.iter().map(|&ds| seconds(ds)).collect();
                prophet::fit(&spec.config, &t, series.y).map_err(|e| EngineError::Range(format!("series '{}': {e}", series.id)))
            })
            .collect()
    })
}

/// The fit report of a Prophet model, after one progress event for the whole fit (Prophet has no training steps;
/// its "loss" is the mean negative log posterior over series). `None` when the callback asks to stop.
pub(super) fn prophet_report(
    alias: &str,
    model: usize,
    fits: &[ProphetFit],
    progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
) -> Option<ModelFitReport> {
    let losses: Vec<f64> = fits.iter().filter_map(|f| f.diagnostics()).map(|d| -d.log_posterior).collect();
    let loss = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
    let event = ProgressEvent { model, alias: alias.into(), step: 1, max_steps: 1, train_loss: loss, val_loss: None };
    match progress(&event) {
        Control::Stop => None,
        Control::Continue => Some(ModelFitReport { alias: alias.to_string(), steps: 1, train_loss: vec![loss], ..ModelFitReport::default() }),
    }
}

/// The forecast column of a Prophet model and, for each of `levels`, its interval bounds (NeuralForecast's
/// column order: lows from the widest, then highs to the widest), `horizon` steps after each series.
pub(super) fn forecast_prophet(
    alias: &str,
    spec: &ProphetSpec,
    fits: &[ProphetFit],
    series: &[SeriesState],
    freq: Frequency,
    horizon: usize,
    levels: &[f64],
) -> Result<Vec<(String, Vec<f64>)>, EngineError> {
    let names = conformal::interval_columns(alias, levels);
    let mut columns: Vec<(String, Vec<f64>)> = std::iter::once(alias.to_string()).chain(names).map(|n| (n, Vec::new())).collect();
    for (state, fit) in series.iter().zip(fits) {
        let t = (1..=horizon as i64).map(|k| advance(state.last_ds, freq, k).map(seconds)).collect::<Result<Vec<_>, _>>()?;
        let forecast = fit.predict(&t, levels, spec.random_seed).map_err(|e| EngineError::Range(format!("series '{}': {e}", state.id)))?;
        columns[0].1.extend(&forecast.yhat);
        let bounds = conformal::ordered_bounds(levels, |i| (&forecast.intervals[i].lower, &forecast.intervals[i].upper));
        for (column, values) in columns[1..].iter_mut().zip(bounds) {
            column.1.extend(values);
        }
    }
    Ok(columns)
}
