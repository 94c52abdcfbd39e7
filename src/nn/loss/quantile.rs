//! The quantile losses' parts: NeuralForecast's quantile lists (`level_to_outputs`), output names
//! (`quantiles_to_outputs`), and the pinball and Huberized pinball losses of one forecast value.

use super::NnError;

/// Interval levels (in percent, 0 < level < 100) checked, widest first, without repeats: the order of their
/// bounds in NeuralForecast's `level_to_outputs`; `what` names the option in errors.
pub(super) fn sorted_levels(what: &'static str, levels: &[f64]) -> Result<Vec<f64>, NnError> {
    let mut levels: Vec<f64> = levels.to_vec();
    if let Some(bad) = levels.iter().find(|l| !(l.is_finite() && **l > 0.0 && **l < 100.0)) {
        return Err(NnError::InvalidValue { what, reason: format!("must lie strictly between 0 and 100, got {bad}") });
    }
    levels.sort_by(|a, b| b.total_cmp(a));
    levels.dedup();
    Ok(levels)
}

/// NeuralForecast's `level_to_outputs` quantiles of [`sorted_levels`]: the median, then the interval bounds
/// ascending.
pub(super) fn level_quantiles(levels: &[f64]) -> Vec<f32> {
    let mut quantiles = vec![0.5];
    quantiles.extend(levels.iter().map(|l| (50.0 - l / 2.0) / 100.0));
    quantiles.extend(levels.iter().rev().map(|l| (50.0 + l / 2.0) / 100.0));
    quantiles.into_iter().map(|q| q as f32).collect()
}

/// `level_to_outputs`' names of [`sorted_levels`]: `-median`, then `-lo-<level>` and `-hi-<level>` with each
/// level as given (`f"-lo-{l}"`: `80`, `80.5`).
pub(super) fn level_output_names(levels: &[f64]) -> Vec<String> {
    let mut names = vec!["-median".to_string()];
    names.extend(levels.iter().map(|l| format!("-lo-{l}")));
    names.extend(levels.iter().rev().map(|l| format!("-hi-{l}")));
    names
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

/// `quantiles_to_outputs`' name of a quantile: `-median`, `-lo-<level>` or `-hi-<level>`, the central interval
/// it bounds in percent, `np.round(100 - 200 q, 2)`, printed as Python prints that float (`-lo-80.0`).
pub(super) fn quantile_output_name(q: f32) -> String {
    let q = q as f64;
    if (q - 0.5).abs() < 1e-9 {
        return "-median".into();
    }
    // numpy rounds half to even.
    let level = ((100.0 - 200.0 * q.min(1.0 - q)) * 100.0).round_ties_even() / 100.0;
    let side = if q < 0.5 { "lo" } else { "hi" };
    format!("-{side}-{}", python_float(level))
}

/// Python's `str` of a float, from Rust's shortest round-trip digits of `x` (so an f32 prints as the decimal it
/// was given, `0.3`): positional with at least one decimal (`80.0`) for exponents -4 to 15, else `1e-05`.
pub(crate) fn python_float(x: impl std::fmt::LowerExp) -> String {
    let shortest = format!("{x:e}");
    let Some((mantissa, exponent)) = shortest.split_once('e') else { return shortest };
    let Ok(exponent) = exponent.parse::<i32>() else { return shortest };
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    if !(-4..16).contains(&exponent) {
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs());
    }
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let point = exponent + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    };
    format!("{sign}{body}")
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
