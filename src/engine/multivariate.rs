//! NeuralForecast's multivariate models (`MULTIVARIATE = True`, `n_series`) in the engine: they train and forecast
//! all their series jointly, a window being every series cut at the same time (a batch's rows in groups of
//! `nSeries`, series in the fit's order, see [`crate::models::ModelConfig::n_series`]), so the data must hold
//! exactly `nSeries` series over the same ds range. These are the checks that say so, naming the option and the
//! series; the windows, batches and forecasts keep the groups whole where they are cut.

use super::spec::ModelSpec;
use super::{EngineError, Forecast, SeriesState};
use crate::data::Panel;

/// The model's `nSeries`, when it is multivariate.
pub(super) fn n_series(spec: &ModelSpec) -> Option<usize> {
    spec.neural().and_then(|n| n.n_series())
}

/// Checks that `panel` holds exactly `n_series` series, all over the same ds range (the panel has one frequency).
pub(super) fn check_panel(alias: &str, n_series: usize, panel: &Panel) -> Result<(), EngineError> {
    check_count(alias, n_series, panel.n_series(), "the data")?;
    let mut series = panel.series_iter();
    let Some(first) = series.next() else { return Ok(()) };
    let range = |s: &crate::data::Series<'_>| (s.ds.first().copied(), s.last_ds(), s.len());
    if let Some(other) = series.find(|s| range(s) != range(&first)) {
        let describe = |s: &crate::data::Series<'_>| match (s.ds.first(), s.last_ds()) {
            (Some(start), Some(end)) => format!("'{}' runs from {start} to {end} ({} rows)", s.id, s.len()),
            _ => format!("'{}' is empty", s.id),
        };
        return Err(EngineError::Range(format!(
            "model '{alias}' forecasts its nSeries = {n_series} series jointly, so they must be aligned in time (the same ds range): series {} but series {}",
            describe(&first),
            describe(&other)
        )));
    }
    Ok(())
}

/// Checks that a forecast's `series` are the `fitted` ones, in the fit's order (the model knows each series by its
/// place), and end at the same ds.
pub(super) fn check_series(alias: &str, n_series: usize, series: &[SeriesState], fitted: &[SeriesState]) -> Result<(), EngineError> {
    check_count(alias, n_series, series.len(), "the forecast's history")?;
    if let Some((s, f)) = series.iter().zip(fitted).find(|(s, f)| s.id != f.id) {
        return Err(EngineError::Range(format!(
            "model '{alias}' forecasts its nSeries = {n_series} series jointly and knows each by its place in the fit: series '{}' stands where the fit had '{}'; give the fitted series in the fit's order",
            s.id, f.id
        )));
    }
    if let Some(other) = series.iter().find(|s| s.last_ds != series[0].last_ds) {
        return Err(EngineError::Range(format!(
            "model '{alias}' forecasts its nSeries = {n_series} series jointly, so they must end at the same ds: series '{}' ends at {} but series '{}' at {}",
            series[0].id, series[0].last_ds, other.id, other.last_ds
        )));
    }
    Ok(())
}

/// The rows of the series at `indices` (in that order) of `forecast`, which has `per_series` rows per series: the
/// forecast of some series, from the joint forecast of all.
pub(super) fn rows_of_series(forecast: &Forecast, indices: &[usize], per_series: usize) -> Forecast {
    let rows: Vec<usize> = indices.iter().flat_map(|&s| s * per_series..(s + 1) * per_series).collect();
    Forecast {
        unique_id: rows.iter().map(|&r| forecast.unique_id[r].clone()).collect(),
        ds: rows.iter().map(|&r| forecast.ds[r]).collect(),
        columns: forecast.columns.iter().map(|(name, values)| (name.clone(), rows.iter().map(|&r| values[r]).collect())).collect(),
    }
}

fn check_count(alias: &str, n_series: usize, count: usize, what: &str) -> Result<(), EngineError> {
    if count != n_series {
        return Err(EngineError::Range(format!(
            "model '{alias}' is multivariate with nSeries = {n_series}, but {what} has {count} series; set nSeries to the number of series"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "multivariate_tests.rs"]
mod tests;
