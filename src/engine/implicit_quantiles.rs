//! IQLoss models' forecasts at asked quantiles, as NeuralForecast's `predict(quantiles=... / level=...)` makes
//! them (core.py, "case 2: IQLoss"): one pass per quantile of a fixed grid, then each asked quantile of those
//! forecasts (`np.quantile`, linear), since an implicit quantile network's forecasts need not rise with the quantile.

use super::forecast::SeriesRequest;
use super::network::Network;
use super::spec::{Method, NeuralSpec};
use super::{Engine, EngineError};
use crate::nn::loss::{implicit_quantile_name, Loss};

/// NeuralForecast's `quantiles_iqloss`: the quantiles of the passes.
const GRID: [f32; 11] = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99];

/// An asked quantile and its column's suffix.
pub(super) struct AskedQuantile {
    quantile: f64,
    suffix: String,
}

/// The asked quantiles, ascending and without repeats, and their columns' suffixes: `_ql<q>` for `quantiles`,
/// `-lo-<level>` / `-hi-<level>` for `levels` (NeuralForecast's `level_to_quantiles` and `_get_column_name`).
pub(super) fn asked(levels: &[f64], quantiles: &[f64]) -> Result<Vec<AskedQuantile>, EngineError> {
    if !levels.is_empty() && !quantiles.is_empty() {
        return Err(EngineError::Type("give level or quantiles, not both".into()));
    }
    if let Some(bad) = quantiles.iter().find(|q| !(**q > 0.0 && **q < 1.0)) {
        return Err(EngineError::Range(format!("quantiles must lie strictly between 0 and 1, got {bad}")));
    }
    let mut asked: Vec<AskedQuantile> = quantiles.iter().map(|&q| AskedQuantile { quantile: q, suffix: implicit_quantile_name(q) }).collect();
    for &level in levels {
        let (lo, hi) = ((50.0 - level / 2.0) / 100.0, (50.0 + level / 2.0) / 100.0);
        asked.push(AskedQuantile { quantile: lo, suffix: format!("-lo-{}", (100.0 - 200.0 * lo).round() as i64) });
        asked.push(AskedQuantile { quantile: hi, suffix: format!("-hi-{}", (100.0 - 200.0 * (1.0 - hi)).round() as i64) });
    }
    asked.sort_by(|a, b| a.quantile.total_cmp(&b.quantile));
    asked.dedup_by(|a, b| a.quantile == b.quantile);
    Ok(asked)
}

/// Whether `spec`'s forecast comes from [`Engine::implicit_quantile_columns`]: an IQLoss model asked for quantiles.
pub(super) fn applies(spec: &NeuralSpec, asked: &[AskedQuantile]) -> bool {
    matches!(spec.loss, Loss::ImplicitQuantile { .. }) && !asked.is_empty()
}

/// The error for `quantiles` asked of a model whose loss has no quantile input.
pub(super) fn not_implicit(alias: &str, method: &Method) -> EngineError {
    let what = match method {
        Method::Neural(_) => "is not trained with IQLoss",
        Method::Prophet(_) => "is Prophet",
    };
    EngineError::Range(format!("quantiles apply to IQLoss models only; model '{alias}' {what} (use level for its intervals)"))
}

/// `np.quantile`'s default (linear) estimate of quantile `q` of ascending `sorted`.
fn linear_quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

impl Engine {
    /// `<alias><suffix>` columns, one per asked quantile, of an IQLoss model's forecasts of `request.series`.
    pub(super) fn implicit_quantile_columns(
        &self,
        model: usize,
        network: &Network,
        spec: &NeuralSpec,
        alias: &str,
        request: &SeriesRequest<'_>,
        asked: &[AskedQuantile],
    ) -> Result<Vec<(String, Vec<f64>)>, EngineError> {
        let passes = GRID
            .iter()
            .map(|&quantile| self.forecast_series(model, network, spec, alias, &SeriesRequest { quantile, ..*request }))
            .collect::<Result<Vec<_>, _>>()?;
        let points = passes[0].len();
        let mut columns: Vec<(String, Vec<f64>)> = asked.iter().map(|a| (format!("{alias}{}", a.suffix), Vec::with_capacity(points))).collect();
        let mut sorted = [0.0; GRID.len()];
        for point in 0..points {
            sorted.iter_mut().zip(&passes).for_each(|(s, pass)| *s = pass[point]);
            sorted.sort_by(f64::total_cmp);
            for (a, (_, column)) in asked.iter().zip(&mut columns) {
                column.push(linear_quantile(&sorted, a.quantile));
            }
        }
        Ok(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_quantile_interpolates_as_numpy() {
        let sorted = [1.0, 2.0, 4.0];
        assert_eq!(linear_quantile(&sorted, 0.0), 1.0);
        assert_eq!(linear_quantile(&sorted, 0.25), 1.5);
        assert_eq!(linear_quantile(&sorted, 0.75), 3.0);
        assert_eq!(linear_quantile(&sorted, 1.0), 4.0);
    }

    #[test]
    fn asked_quantiles_are_named_as_neuralforecast() {
        let names = |levels: &[f64], quantiles: &[f64]| asked(levels, quantiles).unwrap().into_iter().map(|a| a.suffix).collect::<Vec<_>>();
        assert_eq!(names(&[], &[0.9, 0.1, 0.5]), ["_ql0.1", "_ql0.5", "_ql0.9"]);
        assert_eq!(names(&[90.0, 80.0], &[]), ["-lo-90", "-lo-80", "-hi-80", "-hi-90"]);
        assert!(asked(&[80.0], &[0.5]).is_err());
        assert!(asked(&[], &[1.0]).is_err());
    }
}
