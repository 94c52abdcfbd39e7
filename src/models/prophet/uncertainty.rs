//! Prophet's uncertainty intervals (python/prophet/forecaster.py: `predict_uncertainty`, `sample_model`,
//! `sample_predictive_trend`, `percentile`): simulated futures of the trend, whose rate keeps changing past the
//! history as it did within it, plus Gaussian observation noise; the intervals are percentiles of the simulations.
//!
//! The future changepoints form a Poisson process on `(1, T]` (scaled time) with the history's rate `S` per unit,
//! drawn here as exponential gaps, which is the same process as Prophet's Poisson count with uniform positions; their
//! rate changes are Laplace with the fitted mean `|delta|` as scale. This is Prophet's `vectorized=False` sampler,
//! exact for arbitrary prediction times; Prophet's default vectorised one approximates the same process on the
//! prediction grid.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::design::piecewise_linear;

/// What every simulated future shares: the prediction times and the fitted components at them (scaled space).
#[derive(Debug)]
pub(super) struct Scenario<'a> {
    /// Scaled times.
    pub t: &'a [f64],
    /// Indices of `t` by increasing time.
    pub order: &'a [usize],
    /// The fitted trend at `t`.
    pub trend: &'a [f64],
    pub additive: &'a [f64],
    pub multiplicative: &'a [f64],
    /// Changepoints in the history (rate of future ones per unit of scaled time).
    pub changepoints: usize,
    /// Mean `|delta|` of the fit: the Laplace scale of future rate changes.
    pub mean_abs_delta: f64,
    pub sigma_obs: f64,
    pub y_scale: f64,
}

/// A uniform draw in the open interval `(0, 1)`, so that logarithms stay finite.
fn open_unit(rng: &mut ChaCha8Rng) -> f64 {
    ((rng.random::<u64>() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// Laplace(0, scale) by inverting its distribution function.
fn laplace(rng: &mut ChaCha8Rng, scale: f64) -> f64 {
    let u = open_unit(rng);
    if u < 0.5 { scale * (2.0 * u).ln() } else { -scale * (2.0 * (1.0 - u)).ln() }
}

/// Standard normal by Box-Muller.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let (u, v) = (open_unit(rng), open_unit(rng));
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

impl Scenario<'_> {
    /// `samples` simulated series on the data's scale, point-major: `[point][sample]`.
    pub fn simulate(&self, samples: usize, seed: u64) -> Vec<f64> {
        let n = self.t.len();
        let t_max = self.t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let scale = self.mean_abs_delta + 1e-8;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut new_changepoints, mut new_deltas, mut shift) = (Vec::new(), Vec::new(), vec![0.0; n]);
        let mut out = vec![0.0; n * samples];
        for s in 0..samples {
            new_changepoints.clear();
            new_deltas.clear();
            // No new changepoints when nothing is asked for past the history (Prophet's `T > 1`).
            let mut c = 1.0;
            while c < t_max {
                c -= open_unit(&mut rng).ln() / self.changepoints as f64;
                if c <= t_max {
                    new_changepoints.push(c);
                    new_deltas.push(laplace(&mut rng, scale));
                }
            }
            shift.fill(0.0);
            if !new_changepoints.is_empty() {
                let order = self.order.iter().copied();
                piecewise_linear(self.t, order, (0.0, 0.0), &new_changepoints, &new_deltas, &mut shift);
            }
            for i in 0..n {
                let trend = self.trend[i] + shift[i];
                let noise = self.sigma_obs * standard_normal(&mut rng);
                out[i * samples + s] = (trend * (1.0 + self.multiplicative[i]) + self.additive[i] + noise) * self.y_scale;
            }
        }
        out
    }
}

/// numpy's `percentile` (linear interpolation) of sorted values, `q` in `[0, 100]`.
pub(super) fn percentile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q / 100.0;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 4.0, 8.0];
        // np.percentile([1, 2, 4, 8], [0, 10, 50, 90, 100]) = [1, 1.3, 3, 6.8, 8]
        for (q, expected) in [(0.0, 1.0), (10.0, 1.3), (50.0, 3.0), (90.0, 6.8), (100.0, 8.0)] {
            assert!((percentile(&v, q) - expected).abs() < 1e-12, "{q}");
        }
    }

    #[test]
    fn draws_have_the_right_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 200_000;
        let normals: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = normals.iter().sum::<f64>() / n as f64;
        let var = normals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "normal: {mean} {var}");
        // Laplace(0, b): E|x| = b.
        let mean_abs = (0..n).map(|_| laplace(&mut rng, 0.3).abs()).sum::<f64>() / n as f64;
        assert!((mean_abs - 0.3).abs() < 0.005, "laplace: {mean_abs}");
    }

    #[test]
    fn the_past_only_carries_noise_and_the_future_spreads() {
        let t = [0.5, 1.0, 1.5, 2.0];
        let zeros = [0.0; 4];
        let scenario = Scenario {
            t: &t,
            order: &[0, 1, 2, 3],
            trend: &t,
            additive: &zeros,
            multiplicative: &zeros,
            changepoints: 25,
            mean_abs_delta: 0.05,
            sigma_obs: 0.0,
            y_scale: 1.0,
        };
        let sims = scenario.simulate(500, 1);
        let spread = |i: usize| {
            let column = &sims[i * 500..(i + 1) * 500];
            column.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b)) - column.iter().fold(f64::INFINITY, |a, b| a.min(*b))
        };
        assert_eq!((spread(0), spread(1)), (0.0, 0.0));
        assert!(spread(2) > 0.0 && spread(3) > 2.0 * spread(2), "{} {}", spread(2), spread(3));
        assert_eq!(sims, scenario.simulate(500, 1));
    }
}
