//! One distribution family, alone or as a mixture's component: NeuralForecast's scale_decouple from the raw
//! outputs to the data-space parameters (with its Jacobian), torch's log-likelihood in those parameters (with its
//! gradient), and the moments and a sampler.

use rand::Rng;
use rand_distr::{Distribution as _, Gamma, Normal, Poisson, StudentT};

use super::special::{digamma, lgamma, sigmoid, softplus};

/// The most raw outputs (and parameters) a family has: StudentT's df, loc and scale.
pub const MAX_RAW: usize = 3;

/// `normal_scale_decouple`'s and GMM's floor on the standard deviation, in the scaler's units.
const NORMAL_STD_EPS: f64 = 0.2;
/// `student_scale_decouple`'s floor on the scale, and its least degrees of freedom (`df = 3 + softplus(raw)`).
const STUDENT_SCALE_EPS: f64 = 0.1;
const STUDENT_MIN_DF: f64 = 3.0;
/// `nbinomial_scale_decouple`'s (and NBMM's) floor on mu, alpha and the success probability.
const NEGBIN_EPS: f64 = 1e-8;
/// `tweedie_scale_decouple` clamps log(mu) into this range (before and after adding log(loc)).
const TWEEDIE_LOG_MU_RANGE: (f64, f64) = (1e-9, 37.0);
/// torch's `clamp_probs` bounds a probability to [eps, 1 - eps] (machine epsilon of f64) before taking its logit.
const PROB_EPS: f64 = f64::EPSILON;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    /// Parameters (loc, scale).
    Normal,
    /// Parameters (df, loc, scale).
    StudentT,
    /// Parameter (rate); `rate_eps` is added after the softplus (1e-10 for Poisson, 1e-3 for PMM's components).
    Poisson { rate_eps: f64 },
    /// Parameters (total_count, probs), from NeuralForecast's (mu, alpha = 1 / total_count) outputs. The scaler
    /// anchors mu and alpha as `DistributionLoss` does (`mu * scale + loc`, `alpha / (scale + 1)`) or, for NBMM's
    /// components (`mixture`), as NBMM does (`mu * loc`, `alpha / (loc + 1)`).
    NegativeBinomial { mixture: bool },
    /// Parameter (log_mu); variance power `rho` in (1, 2), dispersion 1.
    Tweedie { rho: f64 },
    /// Parameter (probs).
    Bernoulli,
}

impl Family {
    pub fn raw_count(self) -> usize {
        match self {
            Family::Normal | Family::NegativeBinomial { .. } => 2,
            Family::StudentT => 3,
            Family::Poisson { .. } | Family::Tweedie { .. } | Family::Bernoulli => 1,
        }
    }

    /// The parameters from `raw` (`raw_count` values) and the scaler's `loc`/`scale`, and `jac[i * MAX_RAW + j]` =
    /// d params[i] / d raw[j].
    pub fn decouple(self, raw: &[f64], loc: f64, scale: f64, params: &mut [f64], jac: &mut [f64; MAX_RAW * MAX_RAW]) {
        jac.fill(0.0);
        match self {
            Family::Normal => {
                params[0] = raw[0] * scale + loc;
                params[1] = (softplus(raw[1]) + NORMAL_STD_EPS) * scale;
                jac[0] = scale;
                jac[MAX_RAW + 1] = sigmoid(raw[1]) * scale;
            }
            Family::StudentT => {
                params[0] = STUDENT_MIN_DF + softplus(raw[0]);
                params[1] = raw[1] * scale + loc;
                params[2] = (softplus(raw[2]) + STUDENT_SCALE_EPS) * scale;
                jac[0] = sigmoid(raw[0]);
                jac[MAX_RAW + 1] = scale;
                jac[2 * MAX_RAW + 2] = sigmoid(raw[2]) * scale;
            }
            Family::Poisson { rate_eps } => {
                let anchored = raw[0] * scale + loc;
                params[0] = softplus(anchored) + rate_eps;
                jac[0] = sigmoid(anchored) * scale;
            }
            Family::NegativeBinomial { mixture } => {
                // NBMM's anchoring is only defined for loc >= 0 (torch rejects the negative probabilities or total
                // counts a negative loc gives); a negative loc is taken as 0 rather than producing NaN.
                let (mu_scale, mu_shift, alpha_divisor) =
                    if mixture { (loc.max(0.0), 0.0, loc.max(0.0) + 1.0) } else { (scale, loc, scale + 1.0) };
                let mu = (softplus(raw[0]) + NEGBIN_EPS) * mu_scale + mu_shift;
                let alpha = (softplus(raw[1]) + NEGBIN_EPS) / alpha_divisor;
                let d_mu = sigmoid(raw[0]) * mu_scale;
                let d_alpha = sigmoid(raw[1]) / alpha_divisor;
                let denominator = 1.0 + mu * alpha;
                params[0] = 1.0 / alpha;
                params[1] = mu * alpha / denominator + NEGBIN_EPS;
                jac[1] = -d_alpha / (alpha * alpha);
                jac[MAX_RAW] = alpha / (denominator * denominator) * d_mu;
                jac[MAX_RAW + 1] = mu / (denominator * denominator) * d_alpha;
            }
            Family::Tweedie { .. } => {
                let (low, high) = TWEEDIE_LOG_MU_RANGE;
                let first = softplus(raw[0]);
                // torch.log(loc) is -inf at loc 0 (the identity scaler), which the clamp turns into its floor; a
                // negative loc (NaN in torch) is taken as 0 likewise.
                let log_loc = if loc > 0.0 { loc.ln() } else { f64::NEG_INFINITY };
                let clamped = first.clamp(low, high);
                let shifted = clamped + log_loc;
                params[0] = shifted.clamp(low, high);
                // torch's clamp passes the gradient where its input is within the bounds.
                let passes = |v: f64| (low..=high).contains(&v);
                jac[0] = if passes(first) && passes(shifted) { sigmoid(raw[0]) } else { 0.0 };
            }
            Family::Bernoulli => {
                params[0] = sigmoid(raw[0]);
                jac[0] = params[0] * (1.0 - params[0]);
            }
        }
    }

    /// -log p(y | params(raw)) and d/d raw into `grad_raw`: [`Family::decouple`] chained with
    /// [`Family::nll_and_grad_params`].
    pub fn nll_and_grad(self, raw: &[f64], loc: f64, scale: f64, y: f64, grad_raw: &mut [f64; MAX_RAW]) -> f64 {
        let n = self.raw_count();
        let (mut params, mut jac, mut d_params) = ([0.0; MAX_RAW], [0.0; MAX_RAW * MAX_RAW], [0.0; MAX_RAW]);
        self.decouple(raw, loc, scale, &mut params, &mut jac);
        let nll = self.nll_and_grad_params(&params[..n], y, &mut d_params);
        for (j, g) in grad_raw.iter_mut().enumerate() {
            *g = (0..n).map(|i| d_params[i] * jac[i * MAX_RAW + j]).sum();
        }
        nll
    }

    /// -log p(y | params) as torch computes it, and d/d params into `d_params`.
    pub fn nll_and_grad_params(self, params: &[f64], y: f64, d_params: &mut [f64]) -> f64 {
        match self {
            Family::Normal => {
                let (mean, std) = (params[0], params[1]);
                let z = (y - mean) / std;
                d_params[0] = -z / std;
                d_params[1] = (1.0 - z * z) / std;
                0.5 * z * z + std.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln()
            }
            Family::StudentT => {
                let (df, mean, scale) = (params[0], params[1], params[2]);
                let z = (y - mean) / scale;
                let ratio = z * z / df;
                let pull = (df + 1.0) / (df + z * z);
                d_params[0] = 0.5 * (ratio.ln_1p() - pull * ratio + 1.0 / df + digamma(0.5 * df) - digamma(0.5 * (df + 1.0)));
                d_params[1] = -pull * z / scale;
                d_params[2] = (1.0 - pull * z * z) / scale;
                0.5 * (df + 1.0) * ratio.ln_1p()
                    + scale.ln()
                    + 0.5 * df.ln()
                    + 0.5 * std::f64::consts::PI.ln()
                    + lgamma(0.5 * df)
                    - lgamma(0.5 * (df + 1.0))
            }
            Family::Poisson { .. } => {
                let rate = params[0];
                d_params[0] = 1.0 - y / rate;
                // torch's xlogy: 0 * ln(rate) is 0.
                let y_log_rate = if y == 0.0 { 0.0 } else { y * rate.ln() };
                rate - y_log_rate + lgamma(y + 1.0)
            }
            Family::NegativeBinomial { .. } => {
                let (total_count, probs) = (params[0], params[1]);
                let (p, in_range) = clamp_probs(probs);
                let logit = p.ln() - (-p).ln_1p();
                d_params[0] = softplus(logit) - digamma(total_count + y) + digamma(total_count);
                d_params[1] = if in_range { total_count / (1.0 - p) - y / p } else { 0.0 };
                total_count * softplus(logit) + y * softplus(-logit) - lgamma(total_count + y)
                    + lgamma(1.0 + y)
                    + lgamma(total_count)
            }
            Family::Tweedie { rho } => {
                // NeuralForecast's Tweedie log_prob: the deviance part only (no normalising term), dispersion 1.
                let log_mu = params[0];
                let a = (1.0 - rho) * log_mu;
                let b = (2.0 - rho) * log_mu;
                d_params[0] = -y * a.exp() + b.exp();
                y * a.exp() / (rho - 1.0) + b.exp() / (2.0 - rho)
            }
            Family::Bernoulli => {
                let (p, in_range) = clamp_probs(params[0]);
                let logit = p.ln() - (-p).ln_1p();
                d_params[0] = if in_range { (sigmoid(logit) - y) / (p * (1.0 - p)) } else { 0.0 };
                softplus(logit) - y * logit
            }
        }
    }

    pub fn mean(self, params: &[f64]) -> f64 {
        match self {
            Family::Normal | Family::Poisson { .. } | Family::Bernoulli => params[0],
            Family::StudentT => params[1],
            Family::NegativeBinomial { .. } => params[0] * odds(params[1]),
            Family::Tweedie { .. } => params[0].exp(),
        }
    }

    pub fn variance(self, params: &[f64]) -> f64 {
        match self {
            Family::Normal => params[1] * params[1],
            Family::StudentT => params[2] * params[2] * params[0] / (params[0] - 2.0),
            Family::Poisson { .. } => params[0],
            Family::NegativeBinomial { .. } => params[0] * odds(params[1]) / (1.0 - clamp_probs(params[1]).0),
            // Var = dispersion * mu^rho with dispersion 1.
            Family::Tweedie { rho } => (rho * params[0]).exp(),
            Family::Bernoulli => params[0] * (1.0 - params[0]),
        }
    }

    pub fn sample<R: Rng + ?Sized>(self, params: &[f64], rng: &mut R) -> f64 {
        match self {
            Family::Normal => params[0] + params[1] * standard_normal(rng),
            Family::StudentT => {
                let t = StudentT::new(params[0]).map_or(f64::NAN, |d| d.sample(rng));
                params[1] + params[2] * t
            }
            Family::Poisson { .. } => sample_poisson(params[0], rng),
            Family::NegativeBinomial { .. } => {
                // torch's sampler: a Poisson whose rate is Gamma(total_count, scale = odds) distributed.
                let rate = sample_gamma(params[0], odds(params[1]), rng);
                sample_poisson(rate, rng)
            }
            Family::Tweedie { rho } => {
                // NeuralForecast's compound Poisson-Gamma: N ~ Poisson(mu^(2-rho) / (2-rho)), then
                // Gamma((N + 1e-5) alpha, rate beta) with alpha = (2-rho)/(rho-1), beta = mu^(1-rho)/(rho-1); 0 when N = 0.
                let mu = params[0].exp();
                let count = sample_poisson(mu.powf(2.0 - rho) / (2.0 - rho), rng);
                if count == 0.0 {
                    return 0.0;
                }
                let alpha = (2.0 - rho) / (rho - 1.0);
                let beta = mu.powf(1.0 - rho) / (rho - 1.0);
                sample_gamma((count + 1e-5) * alpha, 1.0 / beta, rng)
            }
            Family::Bernoulli => {
                let u: f64 = rand::RngExt::random(rng);
                if u < params[0] {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// torch's `clamp_probs`, and whether `p` was inside the bounds (where the gradient passes).
fn clamp_probs(p: f64) -> (f64, bool) {
    let clamped = p.clamp(PROB_EPS, 1.0 - PROB_EPS);
    (clamped, clamped == p)
}

/// p / (1 - p) of the clamped probability: torch's `exp(logits)`.
fn odds(probs: f64) -> f64 {
    let p = clamp_probs(probs).0;
    p / (1.0 - p)
}

pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    Normal::new(0.0, 1.0).map_or(f64::NAN, |d| d.sample(rng))
}

/// Gamma(`shape`, `scale`); 0 where the shape or the scale is 0 (the limit), as torch's sampler gives.
pub fn sample_gamma<R: Rng + ?Sized>(shape: f64, scale: f64, rng: &mut R) -> f64 {
    Gamma::new(shape, scale).map_or(0.0, |d| d.sample(rng))
}

/// Poisson(`rate`): 0 at rate 0; above rand_distr's largest rate (about 1.8e19) its normal limit, whose relative
/// spread (below 3e-10) is then within a few f64 ulps of the rate.
fn sample_poisson<R: Rng + ?Sized>(rate: f64, rng: &mut R) -> f64 {
    if rate <= 0.0 {
        return 0.0;
    }
    match Poisson::new(rate) {
        Ok(d) => d.sample(rng),
        Err(_) => (rate + rate.sqrt() * standard_normal(rng)).round(),
    }
}
