//! NeuralForecast's distribution losses (`DistributionLoss` with Normal, StudentT, Poisson, NegativeBinomial,
//! Tweedie, Bernoulli and ISQF, whose loss is its CRPS ([`isqf`]); the mixtures GMM, PMM and NBMM) for one
//! forecast point: the raw network outputs mapped to the distribution's parameters as NeuralForecast's domain_map
//! and scale_decouple do (anchored on the window's scaler loc/scale), the negative log-likelihood of a target as
//! torch.distributions computes it with its analytic gradient w.r.t. the raw outputs, the moments, and a seeded
//! sampler.
//!
//! A mixture's raw outputs come as NeuralForecast's `tensor_split` leaves them, each parameter for all
//! components in turn (`mu_1..mu_K, std_1..std_K[, weight_1..weight_K]`), while its parameters are written
//! component by component (`mu_1, std_1[, weight_1], mu_2, ...`), the order of its `param_names` and of the
//! `returnParams` columns. Unweighted mixtures weigh the components equally; weighted ones by the softmax of
//! their weight outputs.

mod dual;
mod family;
pub mod isqf;
mod special;
#[cfg(test)]
mod tests;

use rand::{Rng, RngExt};

use super::super::error::NnError;
use family::{Family, MAX_RAW};
use isqf::Isqf;

const WHAT: &str = "DistributionLoss";

#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    Normal,
    StudentT,
    Poisson,
    NegativeBinomial,
    /// Variance power `rho` in (1, 2).
    Tweedie { rho: f32 },
    Bernoulli,
    /// `GMM`: Gaussian components.
    Gmm { components: usize, weighted: bool },
    /// `PMM`: Poisson components.
    Pmm { components: usize, weighted: bool },
    /// `NBMM`: negative binomial components.
    Nbmm { components: usize, weighted: bool },
    /// `ISQF`: a spline quantile function through the loss's quantiles.
    Isqf(Isqf),
}

/// How a distribution is computed: one family, a mixture of one family, or ISQF's quantile function.
enum Shape<'a> {
    Single(Family),
    Mixture(Mixture),
    Isqf(&'a Isqf),
}

/// `PMM`'s floor on each component's rate (DistributionLoss's Poisson adds 1e-10).
const PMM_RATE_EPS: f64 = 1e-3;
const POISSON_RATE_EPS: f64 = 1e-10;

/// A mixture's shape: its component family, how many, whether weighted.
#[derive(Debug, Clone, Copy)]
struct Mixture {
    family: Family,
    components: usize,
    weighted: bool,
}

impl Mixture {
    /// Raw outputs and parameters per component: the family's, plus the weight when weighted.
    fn stride(&self) -> usize {
        self.family.raw_count() + self.weighted as usize
    }

    /// Component `k`'s raw family outputs, gathered from the parameter-major layout.
    fn gather(&self, raw: &[f32], k: usize) -> [f64; MAX_RAW] {
        let mut out = [0.0; MAX_RAW];
        for (j, v) in out.iter_mut().take(self.family.raw_count()).enumerate() {
            *v = raw[j * self.components + k] as f64;
        }
        out
    }

    /// The log-softmax's normaliser ln Σ_k e^(weight output k), or ln K when unweighted.
    fn log_normaliser(&self, raw: &[f32]) -> f64 {
        if !self.weighted {
            return (self.components as f64).ln();
        }
        let weights = &raw[self.family.raw_count() * self.components..];
        let max = weights.iter().fold(f64::NEG_INFINITY, |m, &w| m.max(w as f64));
        max + weights.iter().map(|&w| (w as f64 - max).exp()).sum::<f64>().ln()
    }

    /// ln(weight_k) given [`Mixture::log_normaliser`]: the log-softmax of the weight outputs, or -ln K.
    fn log_weight(&self, raw: &[f32], k: usize, log_normaliser: f64) -> f64 {
        let output = if self.weighted { raw[self.family.raw_count() * self.components + k] as f64 } else { 0.0 };
        output - log_normaliser
    }

    fn weight(&self, params: &[f64], k: usize) -> f64 {
        if self.weighted {
            params[k * self.stride() + self.family.raw_count()]
        } else {
            1.0 / self.components as f64
        }
    }

    fn component<'p>(&self, params: &'p [f64], k: usize) -> &'p [f64] {
        &params[k * self.stride()..k * self.stride() + self.family.raw_count()]
    }

    fn params(&self, raw: &[f32], loc: f64, scale: f64, params: &mut [f64]) {
        let n = self.family.raw_count();
        let mut jac = [0.0; MAX_RAW * MAX_RAW];
        let log_normaliser = self.log_normaliser(raw);
        for k in 0..self.components {
            let at = k * self.stride();
            self.family.decouple(&self.gather(raw, k), loc, scale, &mut params[at..at + n], &mut jac);
            if self.weighted {
                params[at + n] = self.log_weight(raw, k, log_normaliser).exp();
            }
        }
    }

    /// -ln Σ_k w_k p_k(y) (torch's logsumexp over the components), its gradient through the responsibilities
    /// r_k = w_k p_k / Σ: r_k times component k's NLL gradient, and softmax_k - r_k for a weight output. The
    /// scores are computed twice (once for the normaliser, once for the gradient) so that no buffer is needed.
    fn nll_and_grad(&self, raw: &[f32], loc: f64, scale: f64, y: f64, grad: &mut [f64]) -> f64 {
        let mut scratch = [0.0; MAX_RAW];
        let log_normaliser = self.log_normaliser(raw);
        // Component k's log weight plus its log-likelihood, and d(its NLL)/d(its raw outputs) into `grad_raw`.
        let score = |k: usize, grad_raw: &mut [f64; MAX_RAW]| {
            self.log_weight(raw, k, log_normaliser) - self.family.nll_and_grad(&self.gather(raw, k), loc, scale, y, grad_raw)
        };
        let (mut max, mut sum) = (f64::NEG_INFINITY, 0.0);
        for k in 0..self.components {
            let score = score(k, &mut scratch);
            if score > max {
                sum = sum * (max - score).exp() + 1.0;
                max = score;
            } else {
                sum += (score - max).exp();
            }
        }
        let log_likelihood = max + sum.ln();
        let n = self.family.raw_count();
        for k in 0..self.components {
            let responsibility = (score(k, &mut scratch) - log_likelihood).exp();
            for (j, g) in scratch.iter().take(n).enumerate() {
                grad[j * self.components + k] = responsibility * g;
            }
            if self.weighted {
                grad[n * self.components + k] = self.log_weight(raw, k, log_normaliser).exp() - responsibility;
            }
        }
        -log_likelihood
    }

    fn sample<R: Rng + ?Sized>(&self, params: &[f64], rng: &mut R) -> f64 {
        let u: f64 = rng.random();
        let mut cumulative = 0.0;
        let mut chosen = self.components - 1;
        for k in 0..self.components {
            cumulative += self.weight(params, k);
            if u < cumulative {
                chosen = k;
                break;
            }
        }
        self.family.sample(self.component(params, chosen), rng)
    }

    fn mean(&self, params: &[f64]) -> f64 {
        (0..self.components).map(|k| self.weight(params, k) * self.family.mean(self.component(params, k))).sum()
    }

    /// Σ w_k (Var_k + mean_k^2) - mean^2.
    fn variance(&self, params: &[f64]) -> f64 {
        let second: f64 = (0..self.components)
            .map(|k| {
                let component = self.component(params, k);
                let mean = self.family.mean(component);
                self.weight(params, k) * (self.family.variance(component) + mean * mean)
            })
            .sum();
        let mean = self.mean(params);
        second - mean * mean
    }
}

impl Distribution {
    /// `Tweedie` with variance power `rho`, which NeuralForecast requires in (1, 2).
    pub fn tweedie(rho: f32) -> Result<Self, NnError> {
        if !(rho > 1.0 && rho < 2.0) {
            return Err(NnError::InvalidValue { what: WHAT, reason: format!("Tweedie's rho must be in (1, 2), got {rho}") });
        }
        Ok(Distribution::Tweedie { rho })
    }

    /// `GMM(n_components, weighted)`.
    pub fn gmm(components: usize, weighted: bool) -> Result<Self, NnError> {
        check_components("GMM", components).map(|components| Distribution::Gmm { components, weighted })
    }

    /// `PMM(n_components, weighted)`.
    pub fn pmm(components: usize, weighted: bool) -> Result<Self, NnError> {
        check_components("PMM", components).map(|components| Distribution::Pmm { components, weighted })
    }

    /// `NBMM(n_components, weighted)`.
    pub fn nbmm(components: usize, weighted: bool) -> Result<Self, NnError> {
        check_components("NBMM", components).map(|components| Distribution::Nbmm { components, weighted })
    }

    /// `ISQF` with `num_pieces` pieces per knot interval, its knots not yet set: `DistributionLoss` sets them
    /// to its quantiles ([`Distribution::with_knots`]).
    pub fn isqf(num_pieces: usize) -> Result<Self, NnError> {
        Isqf::new(num_pieces).map(Distribution::Isqf)
    }

    /// ISQF with its knots at `quantiles` (NeuralForecast's ISQF takes the loss's quantiles, sorted); the other
    /// distributions as they are.
    pub fn with_knots(self, quantiles: &[f32]) -> Result<Self, NnError> {
        match self {
            Distribution::Isqf(isqf) => isqf.with_knots(quantiles).map(Distribution::Isqf),
            other => Ok(other),
        }
    }

    fn shape(&self) -> Shape<'_> {
        let mixture = |family, components: &usize, weighted: &bool| Shape::Mixture(Mixture { family, components: *components, weighted: *weighted });
        match self {
            Distribution::Normal => Shape::Single(Family::Normal),
            Distribution::StudentT => Shape::Single(Family::StudentT),
            Distribution::Poisson => Shape::Single(Family::Poisson { rate_eps: POISSON_RATE_EPS }),
            Distribution::NegativeBinomial => Shape::Single(Family::NegativeBinomial { mixture: false }),
            Distribution::Tweedie { rho } => Shape::Single(Family::Tweedie { rho: *rho as f64 }),
            Distribution::Bernoulli => Shape::Single(Family::Bernoulli),
            Distribution::Gmm { components, weighted } => mixture(Family::Normal, components, weighted),
            Distribution::Pmm { components, weighted } => mixture(Family::Poisson { rate_eps: PMM_RATE_EPS }, components, weighted),
            Distribution::Nbmm { components, weighted } => mixture(Family::NegativeBinomial { mixture: true }, components, weighted),
            Distribution::Isqf(isqf) => Shape::Isqf(isqf),
        }
    }

    /// NeuralForecast's `outputsize_multiplier`: raw model outputs per forecast point.
    pub fn param_count(&self) -> usize {
        match self.shape() {
            Shape::Single(family) => family.raw_count(),
            Shape::Mixture(mixture) => mixture.stride() * mixture.components,
            Shape::Isqf(isqf) => isqf.param_count(),
        }
    }

    /// NeuralForecast's `param_names` in output order ("-loc", "-scale", ...), which `returnParams` appends as columns.
    pub fn param_names(&self) -> Vec<String> {
        let single = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        let mixture = |names: &[&str], components: usize, weighted: bool| {
            (1..=components)
                .flat_map(|k| names.iter().chain(weighted.then_some(&"weight")).map(move |name| format!("-{name}-{k}")))
                .collect()
        };
        match self {
            Distribution::Normal => single(&["-loc", "-scale"]),
            Distribution::StudentT => single(&["-df", "-loc", "-scale"]),
            Distribution::Poisson => single(&["-loc"]),
            Distribution::NegativeBinomial => single(&["-total_count", "-logits"]),
            Distribution::Tweedie { .. } => single(&["-log_mu"]),
            Distribution::Bernoulli => single(&["-logits"]),
            Distribution::Gmm { components, weighted } => mixture(&["mu", "std"], *components, *weighted),
            Distribution::Pmm { components, weighted } => mixture(&["lambda"], *components, *weighted),
            Distribution::Nbmm { components, weighted } => mixture(&["total_count", "probs"], *components, *weighted),
            Distribution::Isqf(isqf) => isqf.param_names(),
        }
    }

    /// NeuralForecast's domain_map + scale_decouple for one point: `raw` (param_count model outputs, in the
    /// scaler's space) and the window's scaler `loc`/`scale` (0 and 1 under the identity scaler) -> the
    /// distribution's parameters in data space (NeuralForecast's distr_args, what returnParams prints), param_count values.
    pub fn params(&self, raw: &[f32], loc: f64, scale: f64, params: &mut [f64]) {
        match self.shape() {
            Shape::Single(family) => {
                let mut jac = [0.0; MAX_RAW * MAX_RAW];
                family.decouple(&widen(raw), loc, scale, params, &mut jac);
            }
            Shape::Mixture(mixture) => mixture.params(raw, loc, scale, params),
            Shape::Isqf(isqf) => isqf.params(raw, loc, scale, params),
        }
    }

    /// -log p(y | params(raw, loc, scale)) for a data-space target y (ISQF: NeuralForecast's `-log_prob`, the
    /// softplus of its CRPS plus log(scale)), and d/d raw into `grad` (param_count f64).
    pub fn nll_and_grad(&self, raw: &[f32], loc: f64, scale: f64, y: f64, grad: &mut [f64]) -> f64 {
        match self.shape() {
            Shape::Single(family) => {
                let mut grad_raw = [0.0; MAX_RAW];
                let nll = family.nll_and_grad(&widen(raw), loc, scale, y, &mut grad_raw);
                grad[..family.raw_count()].copy_from_slice(&grad_raw[..family.raw_count()]);
                nll
            }
            Shape::Mixture(mixture) => mixture.nll_and_grad(raw, loc, scale, y, grad),
            Shape::Isqf(isqf) => isqf.nll_and_grad(raw, loc, scale, y, grad),
        }
    }

    /// One draw given data-space params (as `params` wrote them).
    pub fn sample<R: Rng + ?Sized>(&self, params: &[f64], rng: &mut R) -> f64 {
        match self.shape() {
            Shape::Single(family) => family.sample(params, rng),
            Shape::Mixture(mixture) => mixture.sample(params, rng),
            Shape::Isqf(isqf) => isqf.sample(params, rng),
        }
    }

    pub fn mean(&self, params: &[f64]) -> f64 {
        match self.shape() {
            Shape::Single(family) => family.mean(params),
            Shape::Mixture(mixture) => mixture.mean(params),
            Shape::Isqf(isqf) => isqf.mean(params),
        }
    }

    pub fn variance(&self, params: &[f64]) -> f64 {
        match self.shape() {
            Shape::Single(family) => family.variance(params),
            Shape::Mixture(mixture) => mixture.variance(params),
            Shape::Isqf(isqf) => isqf.variance(params),
        }
    }

    /// Err(reason) when y is outside the support (Poisson, NegativeBinomial, PMM, NBMM: non-negative integers;
    /// Tweedie: non-negative; Bernoulli: 0 or 1). The engine words the error with the series and date.
    pub fn check_target(&self, y: f64) -> Result<(), String> {
        if !y.is_finite() {
            return Err(format!("the target {y} is not a finite number"));
        }
        match self {
            Distribution::Normal | Distribution::StudentT | Distribution::Gmm { .. } | Distribution::Isqf(_) => Ok(()),
            Distribution::Poisson | Distribution::NegativeBinomial | Distribution::Pmm { .. } | Distribution::Nbmm { .. } => {
                if y < 0.0 || y.fract() != 0.0 {
                    Err(format!("a count distribution needs non-negative integer targets, got {y}"))
                } else {
                    Ok(())
                }
            }
            Distribution::Tweedie { .. } if y < 0.0 => Err(format!("Tweedie needs non-negative targets, got {y}")),
            Distribution::Tweedie { .. } => Ok(()),
            Distribution::Bernoulli if y != 0.0 && y != 1.0 => Err(format!("Bernoulli needs targets 0 or 1, got {y}")),
            Distribution::Bernoulli => Ok(()),
        }
    }
}

fn check_components(name: &str, components: usize) -> Result<usize, NnError> {
    if components == 0 {
        return Err(NnError::InvalidValue { what: WHAT, reason: format!("{name}'s n_components must be at least 1, got 0") });
    }
    Ok(components)
}

fn widen(raw: &[f32]) -> [f64; MAX_RAW] {
    let mut out = [0.0; MAX_RAW];
    for (o, &r) in out.iter_mut().zip(raw) {
        *o = r as f64;
    }
    out
}
