//! NeuralForecast's point losses (neuralforecast/losses/pytorch.py), each as a value and its gradient
//! w.r.t. the forecast. All are weighted means `sum(w * loss) / sum(w)` over the `[B, h]` points,
//! where `w` is the optional 0/1 availability mask (NeuralForecast's `outsample_mask`), and 0 when
//! every weight is 0 (its `_divide_no_nan`).

use super::error::{expect_len, NnError};

#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// `|y - ŷ|` (NeuralForecast's default training loss).
    Mae,
    /// `(y - ŷ)^2`.
    Mse,
    /// `0.5 (y - ŷ)^2` if `|y - ŷ| <= delta`, else `delta (|y - ŷ| - 0.5 delta)` (`HuberLoss`).
    Huber { delta: f32 },
    /// Pinball loss for one quantile (`QuantileLoss`): `max(q (y - ŷ), (q - 1)(y - ŷ))`.
    Quantile { q: f32 },
    /// `MQLoss`: one output per quantile per point, the pinball losses averaged over the quantiles.
    MultiQuantile { quantiles: Vec<f32> },
}

impl Loss {
    pub fn huber(delta: f32) -> Result<Self, NnError> {
        if delta.is_finite() && delta > 0.0 {
            Ok(Loss::Huber { delta })
        } else {
            Err(NnError::InvalidValue { what: "Huber delta", reason: format!("must be positive and finite, got {delta}") })
        }
    }

    pub fn quantile(q: f32) -> Result<Self, NnError> {
        check_quantile(q)?;
        Ok(Loss::Quantile { q })
    }

    pub fn multi_quantile(quantiles: Vec<f32>) -> Result<Self, NnError> {
        if quantiles.is_empty() {
            return Err(NnError::ZeroSize { what: "number of quantiles" });
        }
        quantiles.iter().try_for_each(|&q| check_quantile(q))?;
        Ok(Loss::MultiQuantile { quantiles })
    }

    /// NeuralForecast's `MQLoss(level=...)`: the median, then the bounds of each central prediction interval
    /// (`level` in percent, 0 < level < 100), quantiles ascending after the median, as its `level_to_outputs`.
    pub fn multi_quantile_levels(levels: &[f64]) -> Result<Self, NnError> {
        let mut levels: Vec<f64> = levels.to_vec();
        if let Some(bad) = levels.iter().find(|l| !(l.is_finite() && **l > 0.0 && **l < 100.0)) {
            return Err(NnError::InvalidValue { what: "MQLoss level", reason: format!("must lie strictly between 0 and 100, got {bad}") });
        }
        levels.sort_by(|a, b| b.total_cmp(a));
        levels.dedup();
        let mut quantiles = vec![0.5];
        quantiles.extend(levels.iter().map(|l| (50.0 - l / 2.0) / 100.0));
        quantiles.extend(levels.iter().rev().map(|l| (50.0 + l / 2.0) / 100.0));
        Loss::multi_quantile(quantiles.into_iter().map(|q| q as f32).collect())
    }

    /// The suffix of each output's column, as NeuralForecast names them (`-median`, `-lo-80`, `-hi-95`, …;
    /// `quantiles_to_outputs`); empty for a point loss, whose one output is the model's column itself.
    pub fn output_names(&self) -> Vec<String> {
        match self {
            Loss::MultiQuantile { quantiles } => quantiles.iter().map(|&q| quantile_output_name(q)).collect(),
            _ => vec![String::new()],
        }
    }

    /// Forecast values per target point: NeuralForecast's `outputsize_multiplier`.
    pub fn outputs_per_point(&self) -> usize {
        match self {
            Loss::MultiQuantile { quantiles } => quantiles.len(),
            _ => 1,
        }
    }

    /// The loss of `forecast` `[N, outputs_per_point]` against `target` `[N]`, weighted by `mask` `[N]`
    /// when given; writes d loss/d forecast into `grad` (same shape as `forecast`).
    pub fn value_and_grad(&self, forecast: &[f32], target: &[f32], mask: Option<&[f32]>, grad: &mut [f32]) -> Result<f32, NnError> {
        let outputs = self.outputs_per_point();
        expect_len("loss forecast", target.len() * outputs, forecast.len())?;
        expect_len("loss gradient", forecast.len(), grad.len())?;
        if let Some(mask) = mask {
            expect_len("loss mask", target.len(), mask.len())?;
        }
        let weight_at = |point: usize| mask.map_or(1.0, |m| m[point] as f64);
        let total_weight: f64 = (0..target.len()).map(weight_at).sum();
        if total_weight == 0.0 {
            grad.fill(0.0);
            return Ok(0.0);
        }
        let mut sum = 0.0f64;
        for (point, (&y, (forecasts, grads))) in target.iter().zip(forecast.chunks_exact(outputs).zip(grad.chunks_exact_mut(outputs))).enumerate() {
            let scale = weight_at(point) / total_weight;
            for (k, (&y_hat, g)) in forecasts.iter().zip(grads.iter_mut()).enumerate() {
                let (value, slope) = self.pointwise(k, y_hat as f64 - y as f64);
                sum += scale * value;
                *g = (scale * slope) as f32;
            }
        }
        Ok(sum as f32)
    }

    /// The loss of one forecast value and its derivative w.r.t. it, given `error = ŷ - y`.
    /// At a kink the derivative is torch's: `abs'(0) = 0`, and `maximum` splits a tie evenly.
    fn pointwise(&self, output_index: usize, error: f64) -> (f64, f64) {
        match self {
            Loss::Mae => (error.abs(), sign(error)),
            Loss::Mse => (error * error, 2.0 * error),
            Loss::Huber { delta } => {
                let delta = *delta as f64;
                if error.abs() <= delta {
                    (0.5 * error * error, error)
                } else {
                    (delta * (error.abs() - 0.5 * delta), delta * sign(error))
                }
            }
            Loss::Quantile { q } => pinball(*q as f64, error),
            Loss::MultiQuantile { quantiles } => {
                let count = quantiles.len() as f64;
                let (value, slope) = pinball(quantiles[output_index] as f64, error);
                (value / count, slope / count)
            }
        }
    }
}

/// `-median`, `-lo-<level>` or `-hi-<level>`: the central interval a quantile bounds, in percent, rounded to two
/// decimals as NeuralForecast's `np.round(100 - 200 q, 2)`, printed without a zero fraction (`-lo-80`, as the
/// names `level_to_outputs` gives).
fn quantile_output_name(q: f32) -> String {
    let q = q as f64;
    if (q - 0.5).abs() < 1e-9 {
        return "-median".into();
    }
    let level = ((100.0 - 200.0 * q.min(1.0 - q)) * 100.0).round() / 100.0;
    let side = if q < 0.5 { "lo" } else { "hi" };
    format!("-{side}-{level}")
}

fn check_quantile(q: f32) -> Result<(), NnError> {
    if q > 0.0 && q < 1.0 {
        Ok(())
    } else {
        Err(NnError::InvalidValue { what: "quantile", reason: format!("must lie strictly between 0 and 1, got {q}") })
    }
}

fn sign(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x.signum()
    }
}

/// Pinball loss at quantile `q` for `error = ŷ - y`, and its derivative w.r.t. ŷ.
fn pinball(q: f64, error: f64) -> (f64, f64) {
    if error > 0.0 {
        ((1.0 - q) * error, 1.0 - q)
    } else if error < 0.0 {
        (-q * error, -q)
    } else {
        (0.0, 0.5 - q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, random_vec};

    fn all_losses() -> Vec<Loss> {
        vec![
            Loss::Mae,
            Loss::Mse,
            Loss::huber(0.3).unwrap(),
            Loss::quantile(0.9).unwrap(),
            Loss::multi_quantile(vec![0.1, 0.5, 0.9]).unwrap(),
        ]
    }

    fn assert_all_close(actual: &[f32], expected: &[f32]) {
        assert!(actual.iter().zip(expected).all(|(a, e)| (a - e).abs() < 1e-6), "{actual:?} vs {expected:?}");
    }

    #[test]
    fn values_match_hand_computation() {
        let (target, forecast) = ([1.0, 2.0], [1.5, 0.0]);
        let mut grad = [0.0; 2];
        let value = |loss: Loss, grad: &mut [f32]| loss.value_and_grad(&forecast, &target, None, grad).unwrap();
        assert!((value(Loss::Mae, &mut grad) - 1.25).abs() < 1e-6);
        assert_eq!(grad, [0.5, -0.5]);
        assert!((value(Loss::Mse, &mut grad) - 2.125).abs() < 1e-6);
        // Huber(1): 0.5 * 0.25 and 1 * (2 - 0.5), averaged.
        assert!((value(Loss::huber(1.0).unwrap(), &mut grad) - 0.8125).abs() < 1e-6);
        // q = 0.9: over-forecast by 0.5 costs 0.1 * 0.5, under-forecast by 2 costs 0.9 * 2.
        assert!((value(Loss::quantile(0.9).unwrap(), &mut grad) - 0.925).abs() < 1e-6);
        assert_all_close(&grad, &[0.05, -0.45]);
    }

    #[test]
    fn mask_excludes_points_and_all_masked_is_zero() {
        let mut grad = [0.0; 2];
        let value = Loss::Mae.value_and_grad(&[1.5, 0.0], &[1.0, 2.0], Some(&[1.0, 0.0]), &mut grad).unwrap();
        assert_eq!((value, grad), (0.5, [1.0, 0.0]));
        let value = Loss::Mae.value_and_grad(&[1.5, 0.0], &[1.0, 2.0], Some(&[0.0, 0.0]), &mut grad).unwrap();
        assert_eq!((value, grad), (0.0, [0.0, 0.0]));
    }

    #[test]
    fn multi_quantile_averages_over_quantiles_like_mqloss() {
        let loss = Loss::multi_quantile(vec![0.2, 0.8]).unwrap();
        let mut grad = [0.0; 2];
        // y = 1, forecasts 0 and 2: 0.2 * 1 and 0.2 * 1, each divided by 2 quantiles, over 1 point.
        let value = loss.value_and_grad(&[0.0, 2.0], &[1.0], None, &mut grad).unwrap();
        assert!((value - 0.2).abs() < 1e-6);
        assert_all_close(&grad, &[-0.1, 0.1]);
    }

    #[test]
    fn levels_give_neuralforecast_quantiles_and_names() {
        let loss = Loss::multi_quantile_levels(&[80.0, 95.0]).unwrap();
        let Loss::MultiQuantile { quantiles } = &loss else { panic!("not a multi-quantile loss") };
        assert_all_close(quantiles, &[0.5, 0.025, 0.1, 0.9, 0.975]);
        assert_eq!(loss.output_names(), ["-median", "-lo-95", "-lo-80", "-hi-80", "-hi-95"]);
        assert_eq!(Loss::multi_quantile(vec![0.25, 0.5]).unwrap().output_names(), ["-lo-50", "-median"]);
        assert_eq!(Loss::Mae.output_names(), [""]);
        assert!(Loss::multi_quantile_levels(&[100.0]).is_err());
    }

    #[test]
    fn rejects_invalid_hyper_parameters_and_shapes() {
        assert!(Loss::huber(0.0).is_err());
        assert!(Loss::quantile(1.0).is_err());
        assert!(Loss::multi_quantile(vec![]).is_err());
        let err = Loss::Mae.value_and_grad(&[0.0; 3], &[0.0; 2], None, &mut [0.0; 3]).unwrap_err();
        assert!(matches!(err, NnError::LengthMismatch { what: "loss forecast", .. }));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let target = random_vec(8, 31);
        for loss in all_losses() {
            let outputs = loss.outputs_per_point();
            // Forecasts at least 0.1 away from every target keep the central differences off the kinks.
            let forecast: Vec<f32> =
                random_vec(8 * outputs, 32).iter().enumerate().map(|(i, v)| target[i / outputs] + v.signum() * (0.1 + v.abs())).collect();
            let mask: Vec<f32> = (0..8).map(|i| if i == 3 { 0.0 } else { 1.0 }).collect();
            let mut grad = vec![0.0; forecast.len()];
            loss.value_and_grad(&forecast, &target, Some(&mask), &mut grad).unwrap();
            check_input_grads(&forecast, &grad, usize::MAX, |f| {
                loss.value_and_grad(f, &target, Some(&mask), &mut vec![0.0; f.len()]).unwrap() as f64
            });
        }
    }
}
