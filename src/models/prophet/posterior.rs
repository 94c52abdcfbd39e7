//! Prophet's log posterior (python/stan/prophet.stan, linear trend) and its analytic gradient, over Stan's
//! unconstrained parameter vector `[k, m, delta (S), log sigma_obs, beta (K)]`.
//!
//! The value is what Stan's `optimizing` maximises: `log_prob` with the `~` statements' constants dropped and no
//! Jacobian for `sigma_obs = exp(u)` (so the optimum is the mode in `sigma_obs` itself):
//!
//! ```text
//! -k^2/50 - m^2/50 - sum|delta|/tau - 2 sigma^2 - sum beta_j^2 / (2 sigmas_j^2)
//!     - T log sigma - sum (y - mu)^2 / (2 sigma^2),     mu = trend .* (1 + X_sm beta) + X_sa beta
//! ```
//!
//! `|delta|` is not differentiable at 0; as Stan's `double_exponential` does, its derivative there is taken as 0
//! (`sign(0) = 0`), so the optimiser sees the same non-smooth objective as Prophet's.

use super::design::{piecewise_linear, Features};

/// Positions of the parameters in the vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// Changepoints `S`.
    pub changepoints: usize,
    /// Feature columns `K`.
    pub features: usize,
}

impl Layout {
    pub const K: usize = 0;
    pub const M: usize = 1;
    pub const DELTA: usize = 2;

    pub fn log_sigma(&self) -> usize {
        Self::DELTA + self.changepoints
    }

    pub fn beta(&self) -> usize {
        self.log_sigma() + 1
    }

    pub fn len(&self) -> usize {
        self.beta() + self.features
    }
}

/// The data and priors of one fit, with scratch buffers so that an evaluation allocates nothing.
#[derive(Debug)]
pub(super) struct Posterior<'a> {
    t: &'a [f64],
    y: &'a [f64],
    changepoints: &'a [f64],
    /// First row at or after each changepoint (Stan's changepoint matrix `A` in compact form).
    changepoint_rows: Vec<usize>,
    features: &'a Features,
    /// Laplace scale of the rate changes.
    tau: f64,
    /// Prior standard deviation of every Fourier coefficient.
    beta_scale: f64,
    layout: Layout,
    trend: Vec<f64>,
    additive: Vec<f64>,
    multiplicative: Vec<f64>,
    /// d log posterior / d trend, per row.
    d_trend: Vec<f64>,
}

impl<'a> Posterior<'a> {
    /// `t` (scaled, non-decreasing) and `y` (scaled) of the history, sorted `changepoints`, the history's
    /// `features` and the prior scales `(changepoint_prior_scale, seasonality_prior_scale)`.
    pub fn new(t: &'a [f64], y: &'a [f64], changepoints: &'a [f64], features: &'a Features, priors: (f64, f64)) -> Self {
        let rows = t.len();
        Posterior {
            t,
            y,
            changepoints,
            changepoint_rows: changepoints.iter().map(|c| t.partition_point(|ti| ti < c)).collect(),
            features,
            tau: priors.0,
            beta_scale: priors.1,
            layout: Layout { changepoints: changepoints.len(), features: features.columns() },
            trend: vec![0.0; rows],
            additive: vec![0.0; rows],
            multiplicative: vec![0.0; rows],
            d_trend: vec![0.0; rows],
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The log posterior at `theta`, its gradient written to `grad`.
    pub fn value_and_gradient(&mut self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let lay = self.layout;
        let (k, m) = (theta[Layout::K], theta[Layout::M]);
        let delta = &theta[Layout::DELTA..lay.log_sigma()];
        let sigma = theta[lay.log_sigma()].exp();
        let beta = &theta[lay.beta()..];

        piecewise_linear(self.t, 0..self.t.len(), (k, m), self.changepoints, delta, &mut self.trend);
        self.features.apply(beta, &mut self.additive, &mut self.multiplicative);
        let inv_var = 1.0 / (sigma * sigma);
        let mut sum_sq = 0.0;
        // d_trend temporarily holds d log lik / d mu = (y - mu) / sigma^2; the beta gradient needs both.
        for i in 0..self.t.len() {
            let r = self.y[i] - (self.trend[i] * (1.0 + self.multiplicative[i]) + self.additive[i]);
            sum_sq += r * r;
            self.d_trend[i] = r * inv_var;
        }
        self.beta_gradient(beta, &mut grad[lay.beta()..]);
        self.d_trend.iter_mut().zip(&self.multiplicative).for_each(|(d, s)| *d *= 1.0 + s);
        self.trend_gradient((k, m), delta, &mut grad[..lay.log_sigma()]);

        let rows = self.t.len() as f64;
        grad[lay.log_sigma()] = (-rows / sigma + sum_sq / (sigma * sigma * sigma) - 4.0 * sigma) * sigma;
        let abs_delta: f64 = delta.iter().map(|d| d.abs()).sum();
        let beta_sq: f64 = beta.iter().map(|b| b * b).sum();
        let log_prior = -(k * k + m * m) / 50.0 - abs_delta / self.tau - 2.0 * sigma * sigma
            - beta_sq / (2.0 * self.beta_scale * self.beta_scale);
        log_prior - rows * sigma.ln() - 0.5 * sum_sq * inv_var
    }

    /// d/d beta: `sum_i X_ij g_i` for an additive column, `sum_i X_ij g_i trend_i` for a multiplicative one, `g` being
    /// d log lik / d mu (in `d_trend`), plus the normal prior's `-beta / sigmas^2`.
    fn beta_gradient(&self, beta: &[f64], out: &mut [f64]) {
        let prior = 1.0 / (self.beta_scale * self.beta_scale);
        for (j, (o, b)) in out.iter_mut().zip(beta).enumerate() {
            let column = self.features.column(j).iter().zip(&self.d_trend);
            let likelihood: f64 = if self.features.multiplicative[j] {
                column.zip(&self.trend).map(|((x, g), tr)| x * g * tr).sum()
            } else {
                column.map(|(x, g)| x * g).sum()
            };
            *o = likelihood - b * prior;
        }
    }

    /// d/dk, d/dm and d/d delta from d log lik / d trend (in `d_trend`), plus their priors. The trend is
    /// `k t + m + sum_{c_j <= t} delta_j (t - c_j)`, so d/d delta_j sums `g_i (t_i - c_j)` over the rows at or after
    /// `c_j`: suffix sums of `g` and `g t` give all of them in one backward sweep.
    fn trend_gradient(&self, (k, m): (f64, f64), delta: &[f64], out: &mut [f64]) {
        let (mut sum_g, mut sum_gt, mut row) = (0.0, 0.0, self.t.len());
        for j in (0..delta.len()).rev() {
            while row > self.changepoint_rows[j] {
                row -= 1;
                sum_g += self.d_trend[row];
                sum_gt += self.d_trend[row] * self.t[row];
            }
            // Stan's double_exponential derivative: sign(delta) with sign(0) = 0.
            let sign = if delta[j] > 0.0 { 1.0 } else if delta[j] < 0.0 { -1.0 } else { 0.0 };
            out[Layout::DELTA + j] = sum_gt - self.changepoints[j] * sum_g - sign / self.tau;
        }
        while row > 0 {
            row -= 1;
            sum_g += self.d_trend[row];
            sum_gt += self.d_trend[row] * self.t[row];
        }
        out[Layout::K] = sum_gt - k / 25.0;
        out[Layout::M] = sum_g - m / 25.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::prophet::config::SeasonalityMode;
    use crate::models::prophet::design::SeasonalityTerm;

    /// A small problem with both feature modes and changepoints between rows and on a row.
    fn problem() -> (Vec<f64>, Vec<f64>, Vec<f64>, Features) {
        let days: Vec<f64> = (0..40).map(|i| i as f64 * 86_400.0).collect();
        let t: Vec<f64> = days.iter().map(|d| d / days[39]).collect();
        let y: Vec<f64> = t.iter().enumerate().map(|(i, ti)| 0.3 + 0.5 * ti + 0.1 * (i as f64 * 0.9).sin()).collect();
        let terms = [
            SeasonalityTerm { name: "weekly".into(), period_days: 7.0, order: 2, mode: SeasonalityMode::Additive },
            SeasonalityTerm { name: "other".into(), period_days: 3.5, order: 1, mode: SeasonalityMode::Multiplicative },
        ];
        (t.clone(), y, vec![0.2, t[15], 0.61], Features::new(&terms, &days))
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (t, y, changepoints, features) = problem();
        let mut posterior = Posterior::new(&t, &y, &changepoints, &features, (0.05, 10.0));
        let lay = posterior.layout();
        // Nonzero deltas, away from the kink of |delta| that a central difference would straddle.
        let theta: Vec<f64> = (0..lay.len()).map(|i| 0.3 * ((i as f64 * 1.7).sin() + 0.2)).collect();
        let mut grad = vec![0.0; lay.len()];
        posterior.value_and_gradient(&theta, &mut grad);
        let mut scratch = vec![0.0; lay.len()];
        for i in 0..lay.len() {
            let h = 1e-6;
            let mut at = |x: f64| {
                let mut shifted = theta.clone();
                shifted[i] = x;
                posterior.value_and_gradient(&shifted, &mut scratch)
            };
            let numeric = (at(theta[i] + h) - at(theta[i] - h)) / (2.0 * h);
            let analytic = grad[i];
            assert!((analytic - numeric).abs() <= 1e-5 * (1.0 + numeric.abs()), "parameter {i}: {analytic} vs {numeric}");
        }
    }

    #[test]
    fn value_is_the_stan_log_density_without_constants() {
        let (t, y, changepoints, features) = problem();
        let mut posterior = Posterior::new(&t, &y, &changepoints, &features, (0.05, 10.0));
        let lay = posterior.layout();
        let mut theta = vec![0.0; lay.len()];
        theta[Layout::K] = 0.5;
        theta[Layout::M] = 0.3;
        // sigma = 1, zero deltas and betas: only the priors of k and m, sigma's -2 sigma^2 and the residuals count.
        let mut grad = vec![0.0; lay.len()];
        let value = posterior.value_and_gradient(&theta, &mut grad);
        let residuals: f64 = t.iter().zip(&y).map(|(ti, yi)| (yi - 0.5 * ti - 0.3).powi(2)).sum();
        let expected = -(0.25 + 0.09) / 50.0 - 2.0 - 0.5 * residuals;
        assert!((value - expected).abs() < 1e-12, "{value} vs {expected}");
    }
}
