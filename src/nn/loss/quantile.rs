//! The quantile losses' parts: NeuralForecast's quantile lists (`level_to_outputs`), output names
//! (`quantiles_to_outputs`), and the pinball and Huberized pinball losses of one forecast value.

use super::NnError;

/// NeuralForecast's `level_to_outputs`: the median, then the bounds of each central prediction interval
/// (`level` in percent, 0 < level < 100), ascending; `what` names the option in errors.
pub(super) fn level_quantiles(what: &'static str, levels: &[f64]) -> Result<Vec<f32>, NnError> {
    let mut levels: Vec<f64> = levels.to_vec();
    if let Some(bad) = levels.iter().find(|l| !(l.is_finite() && **l > 0.0 && **l < 100.0)) {
        return Err(NnError::InvalidValue { what, reason: format!("must lie strictly between 0 and 100, got {bad}") });
    }
    levels.sort_by(|a, b| b.total_cmp(a));
    levels.dedup();
    let mut quantiles = vec![0.5];
    quantiles.extend(levels.iter().map(|l| (50.0 - l / 2.0) / 100.0));
    quantiles.extend(levels.iter().rev().map(|l| (50.0 + l / 2.0) / 100.0));
    Ok(quantiles.into_iter().map(|q| q as f32).collect())
}

/// A non-empty list of quantiles, each strictly between 0 and 1.
pub(super) fn check_quantiles(quantiles: &[f32]) -> Result<(), NnError> {
    if quantiles.is_empty() {
        return Err(NnError::ZeroSize { what: "number of quantiles" });
    }
    quantiles.iter().try_for_each(|&q| check_quantile(q))
}

pub(super) fn check_quantile(q: f32) -> Result<(), NnError> {
    if q > 0.0 && q < 1.0 {
        Ok(())
    } else {
        Err(NnError::InvalidValue { what: "quantile", reason: format!("must lie strictly between 0 and 1, got {q}") })
    }
}

/// `-median`, `-lo-<level>` or `-hi-<level>`: the central interval a quantile bounds, in percent, rounded to two
/// decimals as NeuralForecast's `np.round(100 - 200 q, 2)`, printed without a zero fraction (`-lo-80`, as the
/// names `level_to_outputs` gives).
pub(super) fn quantile_output_name(q: f32) -> String {
    let q = q as f64;
    if (q - 0.5).abs() < 1e-9 {
        return "-median".into();
    }
    let level = ((100.0 - 200.0 * q.min(1.0 - q)) * 100.0).round() / 100.0;
    let side = if q < 0.5 { "lo" } else { "hi" };
    format!("-{side}-{level}")
}

/// Pinball loss at quantile `q` for `error = ŷ - y`, and its derivative w.r.t. ŷ.
pub(super) fn pinball(q: f64, error: f64) -> (f64, f64) {
    if error > 0.0 {
        ((1.0 - q) * error, 1.0 - q)
    } else if error < 0.0 {
        (-q * error, -q)
    } else {
        (0.0, 0.5 - q)
    }
}

/// torch's `F.huber_loss(x, 0, delta)` for `x >= 0`, and its derivative w.r.t. x.
pub(super) fn huber(delta: f64, x: f64) -> (f64, f64) {
    if x < delta {
        (0.5 * x * x, x)
    } else {
        (delta * (x - 0.5 * delta), delta)
    }
}

/// `HuberQLoss` of one value (`error = ŷ - y`): `q H(max(-error, 0)) + (1 - q) H(max(error, 0))`, the quantile
/// weighting the Huber loss of the shortfall or the excess.
pub(super) fn huber_pinball(q: f64, delta: f64, error: f64) -> (f64, f64) {
    if error > 0.0 {
        let (value, slope) = huber(delta, error);
        ((1.0 - q) * value, (1.0 - q) * slope)
    } else {
        let (value, slope) = huber(delta, -error);
        (q * value, -q * slope)
    }
}

/// One output of `HuberMQLoss` (`error = ŷ - y`): `H(q max(-error, 0)) + H((1 - q) max(error, 0))`. Unlike
/// [`huber_pinball`], NeuralForecast scales the error by the quantile inside the Huber loss here.
pub(super) fn scaled_huber_pinball(q: f64, delta: f64, error: f64) -> (f64, f64) {
    if error > 0.0 {
        let (value, slope) = huber(delta, (1.0 - q) * error);
        (value, (1.0 - q) * slope)
    } else {
        let (value, slope) = huber(delta, -q * error);
        (value, -q * slope)
    }
}
