//! `TukeyLoss(c, normalize)`: Tukey's biweight, `ρ(d) = c²/6 · [1 - (1 - (d/c)²)³]` for `d <= c` and `c²/6` beyond,
//! `d = |y - ŷ| / s`, averaged over every target point (masked points add 0).
//!
//! NeuralForecast 3.3's class has the same name, options and defaults, but its code adds the biweight's weight
//! `(1 - (d/c)²)³` where `ρ` belongs, which is smallest at `d = c`: trained with it, an MLP on AirPassengers ends
//! at MAE 429-469 against 16 with MAE. Here the loss is the textbook one. `normalize` divides the residuals by the
//! standard deviation of each window's (unmasked) targets plus 0.01, the axis NeuralForecast's normalisation
//! reads when its targets are `[windows, h]`; without it `s` is 1.

use super::{sign, LossSums, LossTargets};

/// NeuralForecast's `+ 1e-2` on the targets' standard deviation (keeps a flat window's residuals finite).
const SCALE_FLOOR: f64 = 1e-2;

/// The loss's mean over the `target.len()` points, and its gradient w.r.t. `forecast` into `grad`.
pub(super) fn sums_and_grad(c: f64, normalize: bool, forecast: &[f32], targets: &LossTargets<'_>, grad: &mut [f32]) -> LossSums {
    let LossTargets { y: target, mask, windows, .. } = *targets;
    let per_window = target.len() / windows.max(1);
    let per_point = 1.0 / target.len() as f64;
    let weight = |point: usize| mask.map_or(1.0, |m| m[point] as f64);
    let mut mean = 0.0;
    for start in (0..target.len()).step_by(per_window.max(1)) {
        let points = start..(start + per_window).min(target.len());
        let scale = if normalize { window_deviation(&target[points.clone()], |k| weight(start + k)) + SCALE_FLOOR } else { 1.0 };
        for point in points {
            let error = forecast[point] as f64 - target[point] as f64;
            let d = error.abs() / scale;
            let w = weight(point);
            if d > c {
                mean += per_point * w * c * c / 6.0;
                grad[point] = 0.0;
            } else {
                let inside = 1.0 - (d / c).powi(2);
                mean += per_point * w * c * c / 6.0 * (1.0 - inside.powi(3));
                // dρ/dd = d (1 - (d/c)²)²; torch's abs'(0) = 0.
                grad[point] = (per_point * w * d * inside.powi(2) * sign(error) / scale) as f32;
            }
        }
    }
    LossSums { mean, benchmark: 0.0 }
}

/// The population standard deviation of a window's targets with weight 1 (0 when none has).
fn window_deviation(y: &[f32], weight: impl Fn(usize) -> f64) -> f64 {
    let (count, sum) = y.iter().enumerate().fold((0.0, 0.0), |(n, s), (k, &v)| (n + weight(k), s + weight(k) * v as f64));
    if count == 0.0 {
        return 0.0;
    }
    let mean = sum / count;
    let squares: f64 = y.iter().enumerate().map(|(k, &v)| weight(k) * (v as f64 - mean).powi(2)).sum();
    (squares / count).sqrt()
}
