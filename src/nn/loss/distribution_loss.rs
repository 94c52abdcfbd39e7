//! NeuralForecast's `DistributionLoss`, `GMM`, `PMM` and `NBMM` as a loss and a forecast: the network's
//! `param_count` outputs per point (in the window scaler's space) become the distribution's parameters in data
//! space ([`Distribution::params`]); training minimises their negative log-likelihood of the data-space targets
//! (ISQF's: its CRPS through a softplus; a mask-weighted mean, NeuralForecast's `weighted_average`), and a
//! forecast is the mean of `num_samples` draws, their empirical quantiles (`torch.quantile`, linear
//! interpolation) and, with `return_params`, the parameters themselves.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::distribution::Distribution;
use super::quantile::{check_quantiles, level_output_names, level_quantiles, quantile_output_name, sorted_levels};
use super::{LossSums, LossTargets, NnError};

/// The most draws per forecast point: beyond this a forecast of a few thousand points would take minutes.
pub const MAX_SAMPLES: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct DistributionLoss {
    pub distribution: Distribution,
    /// The quantiles of the forecast columns, in column order.
    pub quantiles: Vec<f32>,
    /// The interval levels the quantiles came from (descending, distinct), which name the columns as
    /// NeuralForecast's `level_to_outputs`; `None` when the quantiles were given.
    pub levels: Option<Vec<f64>>,
    /// Draws per forecast point (NeuralForecast's `num_samples`).
    pub num_samples: usize,
    /// Whether the forecast appends the distribution's parameters as columns.
    pub return_params: bool,
}

impl DistributionLoss {
    /// `level` in percent (0 < level < 100): the median and each central interval's bounds, as MQLoss's.
    pub fn with_levels(distribution: Distribution, levels: &[f64], num_samples: usize, return_params: bool) -> Result<Self, NnError> {
        let levels = sorted_levels("DistributionLoss level", levels)?;
        let quantiles = level_quantiles(&levels);
        Self::checked(DistributionLoss { distribution, quantiles, levels: Some(levels), num_samples, return_params })
    }

    /// Explicit quantiles, each strictly between 0 and 1, in column order.
    pub fn with_quantiles(distribution: Distribution, quantiles: Vec<f32>, num_samples: usize, return_params: bool) -> Result<Self, NnError> {
        check_quantiles(&quantiles)?;
        Self::checked(DistributionLoss { distribution, quantiles, levels: None, num_samples, return_params })
    }

    /// The loss with its options checked, and ISQF's knots at its quantiles (NeuralForecast's `torch.sort(qs)`).
    fn checked(mut loss: DistributionLoss) -> Result<Self, NnError> {
        if loss.num_samples == 0 || loss.num_samples > MAX_SAMPLES {
            let reason = format!("must be between 1 and {MAX_SAMPLES}, got {}", loss.num_samples);
            return Err(NnError::InvalidValue { what: "DistributionLoss numSamples", reason });
        }
        // NeuralForecast: "Tweedie does not support 'return_params=True'", and likewise ISQF.
        let refuses_params = match loss.distribution {
            Distribution::Tweedie { .. } => Some("Tweedie"),
            Distribution::Isqf(_) => Some("ISQF"),
            _ => None,
        };
        if let (true, Some(name)) = (loss.return_params, refuses_params) {
            let reason = format!("{name} does not support returnParams (as NeuralForecast)");
            return Err(NnError::InvalidValue { what: "DistributionLoss returnParams", reason });
        }
        loss.distribution = loss.distribution.with_knots(&loss.quantiles)?;
        Ok(loss)
    }

    /// The suffix of each forecast column: `""` (the sample mean, the model's own column), the quantiles'
    /// (`-median`, `-lo-90`, … or `-lo-80.0`, …), then with `return_params` the parameters' (`-loc`, `-scale`, …).
    pub fn output_names(&self) -> Vec<String> {
        let mut names = vec![String::new()];
        match &self.levels {
            Some(levels) => names.extend(level_output_names(levels)),
            None => names.extend(self.quantiles.iter().map(|&q| quantile_output_name(q))),
        }
        if self.return_params {
            names.extend(self.distribution.param_names());
        }
        names
    }

    /// Forecast columns per point: the mean, the quantiles, and the parameters with `return_params`.
    pub fn columns_per_point(&self) -> usize {
        1 + self.quantiles.len() + if self.return_params { self.distribution.param_count() } else { 0 }
    }

    /// The batch's mean negative log-likelihood (mask-weighted) of the data-space targets, and its gradient
    /// w.r.t. the raw outputs `forecast` (`[N, param_count]`) into `grad`. The targets are in the window
    /// scaler's space; `targets.window_scales` (empty: identity) recovers `y = loc + scale * y_scaled`.
    pub(super) fn sums_and_grad(&self, forecast: &[f32], targets: &LossTargets<'_>, grad: &mut [f32]) -> Result<LossSums, NnError> {
        let LossTargets { y: target, mask, windows, window_scales, .. } = *targets;
        if !window_scales.is_empty() {
            super::expect_len("loss window scales", windows, window_scales.len())?;
        }
        let params = self.distribution.param_count();
        let h = target.len() / windows;
        let weight_at = |point: usize| mask.map_or(1.0, |m| m[point] as f64);
        let total_weight: f64 = (0..target.len()).map(weight_at).sum();
        grad.fill(0.0);
        if total_weight == 0.0 {
            return Ok(LossSums::default());
        }
        // On the stack for the usual distributions (a training step allocates nothing), on the heap for mixtures
        // with many components.
        const ON_STACK: usize = 16;
        let (mut stack, mut heap) = ([0.0; ON_STACK], Vec::new());
        let point_grad: &mut [f64] = if params <= ON_STACK {
            &mut stack[..params]
        } else {
            heap.resize(params, 0.0);
            &mut heap
        };
        let mut mean = 0.0;
        for (point, &y_scaled) in target.iter().enumerate() {
            let weight = weight_at(point) / total_weight;
            if weight == 0.0 {
                continue;
            }
            let (loc, scale) = window_scales.get(point / h).copied().unwrap_or((0.0, 1.0));
            let y = loc + scale * y_scaled as f64;
            let raw = &forecast[point * params..(point + 1) * params];
            mean += weight * self.distribution.nll_and_grad(raw, loc, scale, y, point_grad);
            for (g, &d) in grad[point * params..(point + 1) * params].iter_mut().zip(point_grad.iter()) {
                *g = (weight * d) as f32;
            }
        }
        Ok(LossSums { mean, benchmark: 0.0 })
    }

    /// One point's forecast columns ([`DistributionLoss::output_names`]) into `out` from its raw outputs and
    /// window scaler statistics: `num_samples` draws from a generator seeded with `seed` alone (so a point's
    /// forecast does not depend on its batch or thread), their mean and empirical quantiles, then the
    /// parameters with `return_params`. `scratch` holds the draws.
    pub fn forecast_point(&self, raw: &[f32], loc: f64, scale: f64, seed: u64, scratch: &mut ForecastPointScratch, out: &mut [f64]) {
        let ForecastPointScratch { params, samples } = scratch;
        params.resize(self.distribution.param_count(), 0.0);
        self.distribution.params(raw, loc, scale, params);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        samples.clear();
        samples.extend((0..self.num_samples).map(|_| self.distribution.sample(params, &mut rng)));
        self.sample_columns(samples, out);
        if self.return_params {
            out[1 + self.quantiles.len()..].copy_from_slice(params);
        }
    }

    /// One point's forecast columns from given draws (a DeepAR forecast's sample paths, already in data space):
    /// their mean and empirical quantiles (no parameters: the paths have no one distribution at a step).
    pub fn forecast_from_draws(&self, draws: impl IntoIterator<Item = f64>, scratch: &mut ForecastPointScratch, out: &mut [f64]) {
        scratch.samples.clear();
        scratch.samples.extend(draws);
        self.sample_columns(&mut scratch.samples, out);
    }

    /// The sample mean into `out[0]` and the empirical quantiles after it; sorts `samples`.
    fn sample_columns(&self, samples: &mut [f64], out: &mut [f64]) {
        out[0] = samples.iter().sum::<f64>() / samples.len() as f64;
        samples.sort_unstable_by(f64::total_cmp);
        for (o, &q) in out[1..].iter_mut().zip(&self.quantiles) {
            *o = empirical_quantile(samples, q as f64);
        }
    }
}

/// The seed of a distribution forecast's draws at `step` of a window: a function of the model's seed, the window's
/// key (`engine::batch::sample_key`: its series and cutoff) and the step only (SplitMix64's finalizer), never of
/// its batch or thread.
pub fn point_seed(model_seed: u64, key: u64, step: usize) -> u64 {
    let mut z = model_seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (step as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The buffers of [`DistributionLoss::forecast_point`], reused from point to point.
#[derive(Debug, Default)]
pub struct ForecastPointScratch {
    params: Vec<f64>,
    samples: Vec<f64>,
}

crate::nn::heap_bytes::heap_bytes!(ForecastPointScratch { params, samples });

/// `torch.quantile(sorted, q)` (its default `linear` interpolation) of ascending `sorted` values.
pub fn empirical_quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = position - below as f64;
    sorted[below] + fraction * (sorted[above] - sorted[below])
}
