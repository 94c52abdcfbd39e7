//! NeuralForecast's point and quantile losses (neuralforecast/losses/pytorch.py), each as a value and its
//! gradient w.r.t. the forecast. Each is a weighted mean `sum(w * loss) / sum(w)` over the `[B, h]` points,
//! where `w` is the optional 0/1 availability mask (NeuralForecast's `outsample_mask`), and 0 when every weight
//! is 0 (its `_divide_no_nan`); RMSE and relMSE then transform that mean ([`Loss::finish`]). The distribution
//! losses ([`distribution_loss`]) score `param_count` outputs per point by their negative log-likelihood instead.

pub mod distribution;
pub mod distribution_loss;
pub mod implicit_quantile;
mod quantile;
mod tukey;
#[cfg(test)]
mod distribution_loss_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tukey_tests;

use std::ops::{Add, AddAssign};

use super::error::{expect_len, NnError};
pub use distribution_loss::DistributionLoss;
use quantile::{check_quantile, check_quantiles, huber_pinball, level_output_names, level_quantiles, pinball, python_float, quantile_output_name, scaled_huber_pinball, sorted_levels};

#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// `|y - ŷ|` (NeuralForecast's default training loss).
    Mae,
    /// `(y - ŷ)^2`.
    Mse,
    /// `sqrt(mean((y - ŷ)^2))`: the root of the batch's MSE.
    Rmse,
    /// `|y - ŷ| / |y|`, 0 where `y` is 0.
    Mape,
    /// `2 |y - ŷ| / (|y| + |ŷ|)`, 0 where both are 0.
    Smape,
    /// `|y - ŷ|` over the window's mean absolute `seasonality`-step difference of its inputs (0 where that is 0).
    Mase { seasonality: usize },
    /// The batch's MSE over that of the naive forecast (each window's last input), plus 1e-5.
    RelMse,
    /// `0.5 (y - ŷ)^2` if `|y - ŷ| <= delta`, else `delta (|y - ŷ| - 0.5 delta)` (`HuberLoss`).
    Huber { delta: f32 },
    /// Pinball loss for one quantile (`QuantileLoss`): `max(q (y - ŷ), (q - 1)(y - ŷ))`.
    Quantile { q: f32 },
    /// `MQLoss`: one output per quantile per point, the pinball losses averaged over the quantiles. `levels`
    /// (descending, distinct) when it was given levels, which name its outputs as NeuralForecast's do.
    MultiQuantile { quantiles: Vec<f32>, levels: Option<Vec<f64>> },
    /// `HuberQLoss`: the Huber loss of the shortfall weighted by `q`, of the excess by `1 - q`.
    HuberQuantile { q: f32, delta: f32 },
    /// `HuberMQLoss`: per quantile, the Huber losses of the shortfall times `q` and the excess times `1 - q`,
    /// summed over the quantiles (NeuralForecast's `1 / len(quantiles)` divides by 1 there); `levels` as MQLoss's.
    HuberMultiQuantile { quantiles: Vec<f32>, delta: f32, levels: Option<Vec<f64>> },
    /// `TukeyLoss`: Tukey's biweight with threshold `c`, residuals over each window's target deviation when
    /// `normalize` ([`tukey`] says how NeuralForecast's differs), averaged over every point (masked ones add 0).
    Tukey { c: f32, normalize: bool },
    /// `IQLoss`: the pinball loss at each value's own quantile, which the network's IQN head
    /// ([`implicit_quantile::ImplicitQuantileHead`]) conditions the value on; training draws the quantiles from
    /// Beta(`concentration1`, `concentration0`).
    ImplicitQuantile { cos_embedding_dim: usize, concentration0: f32, concentration1: f32 },
    /// `DistributionLoss`, `GMM`, `PMM`, `NBMM`: the distribution's parameters per point, trained by their
    /// negative log-likelihood, forecast as the mean and quantiles of draws.
    Distribution(DistributionLoss),
}

/// What a batch's forecasts are scored against: `[windows, h]` targets, their optional 0/1 mask, and the
/// `[windows, L]` inputs (scaled as the network saw them) that MASE and relMSE compare with.
#[derive(Debug, Clone, Copy)]
pub struct LossTargets<'a> {
    pub y: &'a [f32],
    pub mask: Option<&'a [f32]>,
    pub insample: &'a [f32],
    pub windows: usize,
    /// IQLoss: the quantile each target point's forecast was conditioned on (None: the median).
    pub quantiles: Option<&'a [f32]>,
    /// Each window's scaler statistics `(loc, scale)`, which map its scaled targets back to data space for the
    /// distribution losses (empty: the identity scaler).
    pub window_scales: &'a [(f64, f64)],
}

impl<'a> LossTargets<'a> {
    /// Targets with no inputs, for the losses that read none (one window).
    pub fn without_insample(y: &'a [f32], mask: Option<&'a [f32]>) -> Self {
        LossTargets { y, mask, insample: &[], windows: 1, quantiles: None, window_scales: &[] }
    }
}

/// A batch's weighted means before [`Loss::finish`]: of the loss's point values, and (relMSE) of the naive
/// benchmark's squared errors. Shards of a batch add theirs, each scaled by its share of the batch's weight.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LossSums {
    pub mean: f64,
    pub benchmark: f64,
}

impl LossSums {
    pub fn scaled(self, weight: f64) -> Self {
        LossSums { mean: self.mean * weight, benchmark: self.benchmark * weight }
    }
}

impl Add for LossSums {
    type Output = LossSums;
    fn add(self, other: LossSums) -> LossSums {
        LossSums { mean: self.mean + other.mean, benchmark: self.benchmark + other.benchmark }
    }
}

impl AddAssign for LossSums {
    fn add_assign(&mut self, other: LossSums) {
        *self = *self + other;
    }
}

impl std::iter::Sum for LossSums {
    fn sum<I: Iterator<Item = LossSums>>(iter: I) -> LossSums {
        iter.fold(LossSums::default(), Add::add)
    }
}

/// NeuralForecast's relMSE adds this to the benchmark's MSE.
const REL_MSE_EPS: f64 = 1e-5;

impl Loss {
    pub fn huber(delta: f32) -> Result<Self, NnError> {
        check_delta(delta)?;
        Ok(Loss::Huber { delta })
    }

    pub fn quantile(q: f32) -> Result<Self, NnError> {
        check_quantile(q)?;
        Ok(Loss::Quantile { q })
    }

    pub fn multi_quantile(quantiles: Vec<f32>) -> Result<Self, NnError> {
        check_quantiles(&quantiles)?;
        Ok(Loss::MultiQuantile { quantiles, levels: None })
    }

    /// NeuralForecast's `MQLoss(level=...)`: the median, then the bounds of each central prediction interval
    /// (`level` in percent, 0 < level < 100), quantiles ascending after the median, as its `level_to_outputs`.
    pub fn multi_quantile_levels(levels: &[f64]) -> Result<Self, NnError> {
        let levels = sorted_levels("MQLoss level", levels)?;
        Ok(Loss::MultiQuantile { quantiles: level_quantiles(&levels), levels: Some(levels) })
    }

    pub fn mase(seasonality: usize) -> Result<Self, NnError> {
        if seasonality == 0 {
            return Err(NnError::ZeroSize { what: "MASE seasonality" });
        }
        Ok(Loss::Mase { seasonality })
    }

    pub fn huber_quantile(q: f32, delta: f32) -> Result<Self, NnError> {
        check_quantile(q)?;
        check_delta(delta)?;
        Ok(Loss::HuberQuantile { q, delta })
    }

    pub fn huber_multi_quantile(quantiles: Vec<f32>, delta: f32) -> Result<Self, NnError> {
        check_quantiles(&quantiles)?;
        check_delta(delta)?;
        Ok(Loss::HuberMultiQuantile { quantiles, delta, levels: None })
    }

    /// `HuberMQLoss(level=..., delta=...)`: the quantiles of [`Loss::multi_quantile_levels`].
    pub fn huber_multi_quantile_levels(levels: &[f64], delta: f32) -> Result<Self, NnError> {
        check_delta(delta)?;
        let levels = sorted_levels("HuberMQLoss level", levels)?;
        Ok(Loss::HuberMultiQuantile { quantiles: level_quantiles(&levels), delta, levels: Some(levels) })
    }

    /// `TukeyLoss(c, normalize)`.
    pub fn tukey(c: f32, normalize: bool) -> Result<Self, NnError> {
        if !(c.is_finite() && c > 0.0) {
            return Err(NnError::InvalidValue { what: "TukeyLoss c", reason: format!("must be positive and finite, got {c}") });
        }
        Ok(Loss::Tukey { c, normalize })
    }

    /// Whether the loss averages over every target point, masked ones included (TukeyLoss, as NeuralForecast's
    /// `torch.mean`; masked points add 0), rather than over the observed ones: what a shard's share is counted in.
    pub fn weighs_every_point(&self) -> bool {
        matches!(self, Loss::Tukey { .. })
    }

    /// `IQLoss(cos_embedding_dim, concentration0, concentration1)`.
    pub fn implicit_quantile(cos_embedding_dim: usize, concentration0: f32, concentration1: f32) -> Result<Self, NnError> {
        // A d x d layer per forecast value: beyond this the head alone would dwarf any model here.
        const MAX_COS_EMBEDDING_DIM: usize = 1024;
        if cos_embedding_dim == 0 || cos_embedding_dim > MAX_COS_EMBEDDING_DIM {
            let reason = format!("must be between 1 and {MAX_COS_EMBEDDING_DIM}, got {cos_embedding_dim}");
            return Err(NnError::InvalidValue { what: "IQLoss cosEmbeddingDim", reason });
        }
        for (what, c) in [("IQLoss concentration0", concentration0), ("IQLoss concentration1", concentration1)] {
            if !(c.is_finite() && c > 0.0) {
                return Err(NnError::InvalidValue { what, reason: format!("must be positive and finite, got {c}") });
            }
        }
        Ok(Loss::ImplicitQuantile { cos_embedding_dim, concentration0, concentration1 })
    }

    /// Fills `out` with the quantiles a training pass conditions IQLoss forecasts on, drawn from `seed` alone;
    /// false (and `out` untouched) for the other losses, whose forecasts take no quantile.
    pub fn draw_quantiles(&self, seed: u64, out: &mut [f32]) -> bool {
        match self {
            Loss::ImplicitQuantile { concentration0, concentration1, .. } => {
                implicit_quantile::sample_beta(seed, *concentration0 as f64, *concentration1 as f64, out);
                true
            }
            _ => false,
        }
    }

    /// The parameters of the loss's trainable head (IQLoss's: Linear(d, d), PReLU, Linear(d, 1), Linear(1, 1),
    /// PReLU), and the f32 activations it keeps per forecast value; (0, 0) for the losses without one.
    pub fn head_size(&self) -> (u128, u128) {
        match self {
            Loss::ImplicitQuantile { cos_embedding_dim, .. } => {
                let d = *cos_embedding_dim as u128;
                (d * d + 2 * d + 5, 4 * d + 12)
            }
            _ => (0, 0),
        }
    }

    /// Errors unless the model's `input_size` suits the loss: MASE needs more inputs than its seasonality (else
    /// NeuralForecast's scale is the mean of nothing, and the loss 0).
    pub fn check_input_size(&self, input_size: usize) -> Result<(), NnError> {
        match self {
            Loss::Mase { seasonality } if *seasonality >= input_size => Err(NnError::InvalidValue {
                what: "MASE seasonality",
                reason: format!("must be less than the input size {input_size}, got {seasonality}"),
            }),
            _ => Ok(()),
        }
    }

    fn quantiles(&self) -> Option<&[f32]> {
        match self {
            Loss::MultiQuantile { quantiles, .. } | Loss::HuberMultiQuantile { quantiles, .. } => Some(quantiles),
            _ => None,
        }
    }

    /// The suffix of each output's column, as NeuralForecast's `output_names`: `-median`, `-lo-80`, `-hi-95`, …
    /// for levels (`level_to_outputs`), `-lo-80.0`, … for quantiles (`quantiles_to_outputs`), `_ql0.3` for
    /// `QuantileLoss(q=0.3)`, `_q0.3_d1.0` for `HuberQLoss`; empty for the other point losses, whose one output
    /// is the model's column itself.
    pub fn output_names(&self) -> Vec<String> {
        match self {
            Loss::ImplicitQuantile { .. } => vec![implicit_quantile_name(implicit_quantile::MEDIAN as f64)],
            Loss::Quantile { q } => vec![format!("_ql{}", python_float(*q))],
            Loss::HuberQuantile { q, delta } => vec![format!("_q{}_d{}", python_float(*q), python_float(*delta))],
            Loss::MultiQuantile { levels: Some(levels), .. } | Loss::HuberMultiQuantile { levels: Some(levels), .. } => {
                level_output_names(levels)
            }
            Loss::MultiQuantile { quantiles, .. } | Loss::HuberMultiQuantile { quantiles, .. } => {
                quantiles.iter().map(|&q| quantile_output_name(q)).collect()
            }
            Loss::Distribution(distribution) => distribution.output_names(),
            _ => vec![String::new()],
        }
    }

    /// Network outputs per target point: NeuralForecast's `outputsize_multiplier`.
    pub fn outputs_per_point(&self) -> usize {
        match self {
            Loss::Distribution(loss) => loss.distribution.param_count(),
            _ => self.quantiles().map_or(1, <[f32]>::len),
        }
    }

    /// Forecast columns per target point ([`Loss::output_names`]): the outputs themselves but for the
    /// distribution losses, whose `param_count` outputs become a mean, quantiles and optionally the parameters.
    pub fn columns_per_point(&self) -> usize {
        match self {
            Loss::Distribution(loss) => loss.columns_per_point(),
            _ => self.outputs_per_point(),
        }
    }

    /// The loss of `forecast` `[N, outputs_per_point]` against `targets`; writes d loss/d forecast into `grad`
    /// (same shape as `forecast`).
    pub fn value_and_grad(&self, forecast: &[f32], targets: &LossTargets<'_>, grad: &mut [f32]) -> Result<f32, NnError> {
        let sums = self.sums_and_grad(forecast, targets, grad)?;
        let (value, grad_scale) = self.finish(sums);
        if grad_scale != 1.0 {
            grad.iter_mut().for_each(|g| *g *= grad_scale as f32);
        }
        Ok(value as f32)
    }

    /// The loss from a batch's [`LossSums`], and the factor that turns the gradient of `sums.mean` into the
    /// gradient of the loss (1 but for RMSE and relMSE, whose transforms need the whole batch's means).
    pub fn finish(&self, sums: LossSums) -> (f64, f64) {
        match self {
            // torch's sqrt'(0) is infinite; a batch with no error gets no gradient instead.
            Loss::Rmse if sums.mean > 0.0 => (sums.mean.sqrt(), 0.5 / sums.mean.sqrt()),
            Loss::Rmse => (0.0, 0.0),
            Loss::RelMse => {
                let norm = sums.benchmark + REL_MSE_EPS;
                (sums.mean / norm, 1.0 / norm)
            }
            _ => (sums.mean, 1.0),
        }
    }

    /// The batch's [`LossSums`] of `forecast`, and d `sums.mean` / d forecast into `grad`.
    pub fn sums_and_grad(&self, forecast: &[f32], targets: &LossTargets<'_>, grad: &mut [f32]) -> Result<LossSums, NnError> {
        let LossTargets { y: target, mask, insample, windows, quantiles, .. } = *targets;
        let outputs = self.outputs_per_point();
        expect_len("loss forecast", target.len() * outputs, forecast.len())?;
        expect_len("loss gradient", forecast.len(), grad.len())?;
        if let Some(mask) = mask {
            expect_len("loss mask", target.len(), mask.len())?;
        }
        if let Some(quantiles) = quantiles {
            expect_len("loss quantiles", target.len(), quantiles.len())?;
        }
        if windows == 0 || target.len() % windows != 0 || insample.len() % windows != 0 {
            let reason = format!("{windows} windows do not split {} targets and {} inputs evenly", target.len(), insample.len());
            return Err(NnError::InvalidValue { what: "loss windows", reason });
        }
        match self {
            Loss::Distribution(loss) => return loss.sums_and_grad(forecast, targets, grad),
            Loss::Tukey { c, normalize } => return Ok(tukey::sums_and_grad(*c as f64, *normalize, forecast, targets, grad)),
            _ => {}
        }
        let (h, input_size) = (target.len() / windows, insample.len() / windows);
        if matches!(self, Loss::Mase { .. } | Loss::RelMse) {
            super::error::nonzero("loss input size", input_size)?;
            self.check_input_size(input_size)?;
        }
        let weight_at = |point: usize| mask.map_or(1.0, |m| m[point] as f64);
        let total_weight: f64 = (0..target.len()).map(weight_at).sum();
        if total_weight == 0.0 {
            grad.fill(0.0);
            return Ok(LossSums::default());
        }
        let mut sums = LossSums::default();
        for window in 0..windows {
            let inputs = &insample[window * input_size..(window + 1) * input_size];
            let inverse_scale = match self {
                Loss::Mase { seasonality } => inverse_seasonal_scale(inputs, *seasonality),
                _ => 1.0,
            };
            for (offset, &y) in target[window * h..(window + 1) * h].iter().enumerate() {
                let point = window * h + offset;
                let (y, scale) = (y as f64, weight_at(point) / total_weight);
                if let (Loss::RelMse, Some(&naive)) = (self, inputs.last()) {
                    sums.benchmark += scale * (naive as f64 - y).powi(2);
                }
                let values = point * outputs..(point + 1) * outputs;
                for (k, (&y_hat, g)) in forecast[values.clone()].iter().zip(&mut grad[values]).enumerate() {
                    let point_quantile = quantiles.map_or(implicit_quantile::MEDIAN, |q| q[point]) as f64;
                    let (value, slope) = self.pointwise(k, y_hat as f64, y, Scales { inverse_scale, point_quantile });
                    sums.mean += scale * value;
                    *g = (scale * slope) as f32;
                }
            }
        }
        Ok(sums)
    }

    /// The loss of output `output_index` of one point, `y_hat`, against `y`, and its derivative w.r.t. `y_hat`.
    /// At a kink the derivative is torch's: `abs'(0) = 0`, and `maximum` splits a tie evenly.
    fn pointwise(&self, output_index: usize, y_hat: f64, y: f64, scales: Scales) -> (f64, f64) {
        let Scales { inverse_scale, point_quantile } = scales;
        let error = y_hat - y;
        match self {
            Loss::Mae => (error.abs(), sign(error)),
            Loss::Mse | Loss::Rmse | Loss::RelMse => (error * error, 2.0 * error),
            Loss::Mape => {
                let inverse = if y == 0.0 { 0.0 } else { 1.0 / y.abs() };
                (error.abs() * inverse, sign(error) * inverse)
            }
            Loss::Smape => {
                let denominator = y.abs() + y_hat.abs();
                if denominator == 0.0 {
                    return (0.0, 0.0);
                }
                let value = 2.0 * error.abs() / denominator;
                (value, 2.0 * sign(error) / denominator - value * sign(y_hat) / denominator)
            }
            Loss::Mase { .. } => (error.abs() * inverse_scale, sign(error) * inverse_scale),
            Loss::Huber { delta } => {
                let delta = *delta as f64;
                if error.abs() <= delta {
                    (0.5 * error * error, error)
                } else {
                    (delta * (error.abs() - 0.5 * delta), delta * sign(error))
                }
            }
            Loss::Quantile { q } => pinball(*q as f64, error),
            Loss::MultiQuantile { quantiles, .. } => {
                let count = quantiles.len() as f64;
                let (value, slope) = pinball(quantiles[output_index] as f64, error);
                (value / count, slope / count)
            }
            Loss::HuberQuantile { q, delta } => huber_pinball(*q as f64, *delta as f64, error),
            Loss::HuberMultiQuantile { quantiles, delta, .. } => scaled_huber_pinball(quantiles[output_index] as f64, *delta as f64, error),
            Loss::ImplicitQuantile { .. } => pinball(point_quantile, error),
            Loss::Distribution(_) | Loss::Tukey { .. } => {
                unreachable!("the distribution losses and TukeyLoss score the whole batch (Loss::sums_and_grad)")
            }
        }
    }
}

/// What a point's loss depends on besides its values: MASE's window scale inverted, and IQLoss's quantile.
#[derive(Clone, Copy)]
struct Scales {
    inverse_scale: f64,
    point_quantile: f64,
}

/// NeuralForecast's IQLoss column suffix `_ql<q>` (Python's `f"_ql{q}"`: the shortest decimal of `q`).
pub fn implicit_quantile_name(q: f64) -> String {
    format!("_ql{q}")
}

/// 1 / (mean absolute `seasonality`-step difference of `inputs`), 0 where that mean is 0 (NeuralForecast's
/// `_divide_no_nan`); `inputs` is longer than `seasonality` ([`Loss::check_input_size`]).
fn inverse_seasonal_scale(inputs: &[f32], seasonality: usize) -> f64 {
    let differences = inputs.len() - seasonality;
    let total: f64 = inputs[seasonality..].iter().zip(inputs).map(|(&later, &earlier)| (later as f64 - earlier as f64).abs()).sum();
    let scale = total / differences as f64;
    if scale == 0.0 {
        0.0
    } else {
        1.0 / scale
    }
}

fn check_delta(delta: f32) -> Result<(), NnError> {
    if delta.is_finite() && delta > 0.0 {
        Ok(())
    } else {
        Err(NnError::InvalidValue { what: "Huber delta", reason: format!("must be positive and finite, got {delta}") })
    }
}

fn sign(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x.signum()
    }
}
