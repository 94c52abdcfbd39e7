//! NeuralForecast 3.3's `TukeyLoss(c, normalize)` (neuralforecast/losses/pytorch.py), computed as it is written:
//! `c²/6 · mean over every point of [ (d <= c) · mask · (1 - (d/c)²)³ + (d > c) ]`, `d = |y - ŷ| / s`.
//!
//! Two of its traits are NeuralForecast's and kept for parity (they are not the textbook biweight):
//! - the in-range term is the biweight's weight `(1 - (d/c)²)³`, largest at `d = 0`, not its `ρ`
//!   `1 - (1 - (d/c)²)³`; minimising it pushes residuals towards `c·s`, not towards 0;
//! - the mean runs over every point, masked ones included: a masked point adds 0 within `c` and 1 beyond.
//!
//! `normalize` divides the residuals by the standard deviation of the targets over the last axis, plus 0.01.
//! For a univariate model that axis holds the one target itself, so the deviation is 0 and `s` is 0.01 (also
//! where masked: torch's `nan_to_num` of an empty mean is 0); without `normalize`, `s` is 1.

use super::{sign, LossSums, LossTargets};

/// NeuralForecast's `+ 1e-2` on the (zero, for one series) standard deviation.
const NORMALIZED_SCALE: f64 = 1e-2;

/// The loss's mean over the `target.len()` points, and its gradient w.r.t. `forecast` into `grad`.
pub(super) fn sums_and_grad(c: f64, normalize: bool, forecast: &[f32], targets: &LossTargets<'_>, grad: &mut [f32]) -> LossSums {
    let LossTargets { y: target, mask, .. } = *targets;
    let scale = if normalize { NORMALIZED_SCALE } else { 1.0 };
    let saturated = c * c / 6.0;
    let per_point = saturated / target.len() as f64;
    let mut mean = 0.0;
    for (point, ((&y, &y_hat), g)) in target.iter().zip(forecast).zip(grad.iter_mut()).enumerate() {
        let error = y_hat as f64 - y as f64;
        let d = error.abs() / scale;
        let weight = mask.map_or(1.0, |m| m[point] as f64);
        if d > c {
            mean += per_point;
            *g = 0.0;
        } else {
            let inside = 1.0 - (d / c).powi(2);
            mean += per_point * weight * inside.powi(3);
            // d/dŷ (1 - (d/c)²)³ = -6 (1 - (d/c)²)² (d / c²) · sign(ŷ - y) / s (torch's abs'(0) = 0).
            *g = (per_point * weight * -6.0 * inside.powi(2) * d / (c * c) * sign(error) / scale) as f32;
        }
    }
    LossSums { mean, benchmark: 0.0 }
}
