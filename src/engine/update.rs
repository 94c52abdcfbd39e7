//! Live updates: new observations appended to the stored tails of fitted series, so the next forecast starts after
//! them without refitting. The cost depends on the rows added, not on the length of the history.

use super::{Engine, EngineError, SeriesState};
use crate::data::{advance, Panel};

impl Engine {
    /// Appends the rows of `rows` (series that were fitted, each continuing right after its last ds at the fitted
    /// frequency, with every stored exogenous column) to the series' stored state; with a multivariate model, every
    /// fitted series over the same new ds range. Nothing changes unless every row is accepted.
    pub fn update(&mut self, rows: &Panel) -> Result<(), EngineError> {
        let keep = self.max_input_size();
        // A multivariate model's series stay aligned: each update extends every one of them by the same steps.
        for spec in &self.config.models {
            if let Some(n_series) = super::multivariate::n_series(spec) {
                super::multivariate::check_panel(&spec.alias, n_series, rows)?;
            }
        }
        let fitted = self.fitted.as_mut().ok_or(EngineError::NotFitted)?;
        if rows.frequency() != fitted.freq {
            return Err(EngineError::Range(format!(
                "the new rows step by {} but the series were fitted at {}",
                rows.frequency(),
                fitted.freq
            )));
        }
        let columns = fitted
            .temporal
            .iter()
            .map(|name| {
                rows.exogenous().iter().position(|c| &c.name == name).ok_or_else(|| {
                    EngineError::Range(format!("the new rows have no exogenous column '{name}', which the models read"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut updated: Vec<(usize, SeriesState)> = Vec::with_capacity(rows.n_series());
        for (s, series) in rows.series_iter().enumerate() {
            let index = fitted.series.iter().position(|state| state.id == series.id).ok_or_else(|| {
                EngineError::Range(format!("series '{}' was not fitted; update() extends fitted series only", series.id))
            })?;
            let state = &fitted.series[index];
            let expected = advance(state.last_ds, fitted.freq, 1)?;
            if series.ds[0] != expected {
                return Err(EngineError::Range(format!(
                    "series '{}' continues at {expected} after its last ds {}, but the new rows start at {}",
                    series.id, state.last_ds, series.ds[0]
                )));
            }
            let mut next = state.clone();
            append_keeping(&mut next.tail, series.y.iter().map(|&v| state.scale.apply(v)), keep);
            let rows_of_series = rows.offsets()[s]..rows.offsets()[s + 1];
            for ((tail, scale), &c) in next.exog_tail.iter_mut().zip(&state.exog_scales).zip(&columns) {
                append_keeping(tail, rows.exogenous()[c].values[rows_of_series.clone()].iter().map(|&v| scale.apply(v)), keep);
            }
            next.last_ds = series.last_ds().unwrap_or(state.last_ds);
            updated.push((index, next));
        }
        for (index, state) in updated {
            fitted.series[index] = state;
        }
        Ok(())
    }
}

/// Appends `values` to `tail`, then drops its oldest values beyond `keep`.
fn append_keeping(tail: &mut Vec<f64>, values: impl Iterator<Item = f64>, keep: usize) {
    tail.extend(values);
    let excess = tail.len().saturating_sub(keep);
    tail.drain(..excess);
}
