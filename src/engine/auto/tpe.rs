//! `searchAlg: 'tpe'`: Optuna's TPE sampler at its defaults, univariate: 10 random startup trials, then for each
//! option the finished trials split into the best `gamma(n) = min(ceil(0.1 n), 25)` ("below") and the rest, a
//! Parzen estimator of each group (Optuna's bandwidth rule with its magic clip, no endpoints, prior weight 1,
//! weights ramping down the oldest trials past 25), 24 candidates drawn from "below", and the candidate of the
//! largest `log l(x) - log g(x)` kept. `loguniform` is estimated in log space; `randint` and `quniform` as Optuna's
//! stepped distributions (cells of ±step/2, values rounded to the grid); `choice` by weighted counts.
//!
//! Reproducible on any thread count: trial `t` learns only from the trials numbered below `t - t % BATCH`, which the
//! search finishes before it starts trial `t`, and draws its candidates from the `(seed, t)` stream.

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::space::{Domain, SearchSpace};

/// Random trials before the estimators take over (Optuna's `n_startup_trials`).
pub const STARTUP_TRIALS: usize = 10;
/// Candidates drawn per option (Optuna's `n_ei_candidates`).
const EI_CANDIDATES: usize = 24;
/// Trials that may run at once without seeing each other's results.
pub const BATCH: usize = 4;
/// Optuna's `prior_weight`.
const PRIOR_WEIGHT: f64 = 1.0;

/// The number of first trials whose results trial `trial` learns from.
pub fn history_end(trial: usize) -> usize {
    trial - trial % BATCH
}

/// Trial `trial`'s configuration, from the finished trials numbered below [`history_end`] with a finite loss
/// (`history`, in trial order): random (the draw of `searchAlg: 'random'`) until there are [`STARTUP_TRIALS`].
pub fn sample(space: &SearchSpace, seed: u64, trial: usize, history: &[(&Map<String, Value>, f64)]) -> Map<String, Value> {
    if history.len() < STARTUP_TRIALS {
        return space.sample(seed, trial);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(trial as u64 | 1 << 63);
    // Below: the gamma(n) lowest losses (ties: the earlier trial); history is in trial order, which the above
    // group's weights follow.
    let mut order: Vec<usize> = (0..history.len()).collect();
    order.sort_by(|&a, &b| history[a].1.total_cmp(&history[b].1).then(a.cmp(&b)));
    let below_count = (history.len() as f64 * 0.1).ceil().min(25.0) as usize;
    let mut below = order[..below_count].to_vec();
    let mut above = order[below_count..].to_vec();
    below.sort_unstable();
    above.sort_unstable();
    space
        .entries
        .iter()
        .map(|(key, domain)| {
            let Some(kind) = Kind::of(domain) else { return (key.clone(), domain_fixed(domain)) };
            let observed = |group: &[usize]| group.iter().filter_map(|&i| kind.observe(&history[i].0[key])).collect::<Vec<f64>>();
            let (l, g) = (Parzen::new(&kind, &observed(&below)), Parzen::new(&kind, &observed(&above)));
            let mut best = (f64::NEG_INFINITY, None);
            for _ in 0..EI_CANDIDATES {
                let x = l.sample(&kind, &mut rng);
                let score = l.log_pdf(&kind, x) - g.log_pdf(&kind, x);
                if best.1.is_none() || score > best.0 {
                    best = (score, Some(x));
                }
            }
            (key.clone(), kind.value(best.1.expect("at least one candidate")))
        })
        .collect()
}

fn domain_fixed(domain: &Domain) -> Value {
    match domain {
        Domain::Fixed(value) => value.clone(),
        _ => unreachable!("every other domain has a kind"),
    }
}

/// An option's distribution as Optuna's TPE sees it: the values' range (in log space for `log`), and their step.
enum Kind<'a> {
    Categorical(&'a [Value]),
    Numerical { low: f64, high: f64, log: bool, step: Option<f64>, integer: bool },
}

impl<'a> Kind<'a> {
    fn of(domain: &'a Domain) -> Option<Kind<'a>> {
        Some(match *domain {
            Domain::Fixed(_) => return None,
            Domain::Choice(ref values) => Kind::Categorical(values),
            Domain::Uniform { low, high } => Kind::Numerical { low, high, log: false, step: None, integer: false },
            Domain::LogUniform { low, high } => Kind::Numerical { low, high, log: true, step: None, integer: false },
            // Ray's randint excludes its upper bound; Optuna's suggest_int includes it.
            Domain::RandInt { low, high } => Kind::Numerical { low: low as f64, high: (high - 1) as f64, log: false, step: Some(1.0), integer: true },
            // The grid of Ray's quniform: the multiples of q nearest the bounds, and those between.
            Domain::QUniform { low, high, q } => {
                Kind::Numerical { low: (low / q).round() * q, high: (high / q).round() * q, log: false, step: Some(q), integer: false }
            }
        })
    }

    /// A trial's value as a number: a choice's index, else the value.
    fn observe(&self, value: &Value) -> Option<f64> {
        match self {
            Kind::Categorical(values) => values.iter().position(|v| v == value).map(|i| i as f64),
            Kind::Numerical { .. } => value.as_f64(),
        }
    }

    fn value(&self, x: f64) -> Value {
        match *self {
            Kind::Categorical(values) => values[x as usize].clone(),
            Kind::Numerical { integer: true, .. } => (x as i64).into(),
            // Integral grids (maxSteps) give integers, as the random draw does.
            Kind::Numerical { .. } if x.fract() == 0.0 && x.abs() < 9e15 => (x as i64).into(),
            Kind::Numerical { .. } => x.into(),
        }
    }

    /// The kernels' range: log for `log`, widened by half a step on either side for a stepped option.
    fn adapted_range(&self) -> (f64, f64) {
        match *self {
            Kind::Categorical(_) => unreachable!("a categorical option has no range"),
            Kind::Numerical { low, high, log, step, .. } => {
                let half = step.unwrap_or(0.0) / 2.0;
                let (low, high) = (low - half, high + half);
                if log {
                    (low.ln(), high.ln())
                } else {
                    (low, high)
                }
            }
        }
    }
}

/// A univariate Parzen estimator: a mixture of one kernel per observation and a prior kernel.
struct Parzen {
    /// Mixture weights, the prior's last.
    weights: Vec<f64>,
    kernels: Kernels,
}

enum Kernels {
    /// Each kernel's probabilities of the choices.
    Categorical(Vec<Vec<f64>>),
    /// Truncated normals on the adapted range (`mus` in log space for a log option).
    Numerical { mus: Vec<f64>, sigmas: Vec<f64> },
}

/// Optuna's `default_weights`: 1 for each of the last 25 observations, a ramp from 1/n up for the older ones.
fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let step = if ramp > 1 { (1.0 - 1.0 / n as f64) / (ramp - 1) as f64 } else { 0.0 };
    (0..ramp).map(|i| 1.0 / n as f64 + step * i as f64).chain(std::iter::repeat_n(1.0, 25)).collect()
}

impl Parzen {
    fn new(kind: &Kind<'_>, observations: &[f64]) -> Parzen {
        let mut weights = default_weights(observations.len());
        weights.push(PRIOR_WEIGHT);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let n_kernels = observations.len() + 1;
        let kernels = match kind {
            Kind::Categorical(values) => {
                let n_choices = values.len();
                let kernel = |observed: Option<usize>| {
                    let mut row = vec![PRIOR_WEIGHT / n_kernels as f64; n_choices];
                    if let Some(i) = observed {
                        row[i] += 1.0;
                    }
                    let sum: f64 = row.iter().sum();
                    row.iter().map(|p| p / sum).collect()
                };
                Kernels::Categorical(observations.iter().map(|&x| kernel(Some(x as usize))).chain([kernel(None)]).collect())
            }
            Kind::Numerical { log, .. } => {
                let (low, high) = kind.adapted_range();
                let mus: Vec<f64> = observations.iter().map(|&x| if *log { x.ln() } else { x }).collect();
                let mut sigmas = bandwidths(&mus, low, high);
                let (mut mus, prior) = (mus, 0.5 * (low + high));
                mus.push(prior);
                sigmas.push(high - low);
                Kernels::Numerical { mus, sigmas }
            }
        };
        Parzen { weights, kernels }
    }

    /// A draw (a choice's index, or a value on the option's own scale and grid).
    fn sample(&self, kind: &Kind<'_>, rng: &mut ChaCha8Rng) -> f64 {
        let k = pick(&self.weights, unit(rng));
        match (&self.kernels, kind) {
            (Kernels::Categorical(rows), _) => pick(&rows[k], unit(rng)) as f64,
            (Kernels::Numerical { mus, sigmas }, &Kind::Numerical { low, high, log, step, .. }) => {
                let (a, b) = kind.adapted_range();
                let x = truncated_normal(mus[k], sigmas[k], a, b, rng);
                let x = if log { x.exp() } else { x };
                match step {
                    Some(step) => (low + ((x - low) / step).round() * step).clamp(low, high),
                    None => x,
                }
            }
            _ => unreachable!("kernels match their kind"),
        }
    }

    fn log_pdf(&self, kind: &Kind<'_>, x: f64) -> f64 {
        let terms: Vec<f64> = match (&self.kernels, kind) {
            (Kernels::Categorical(rows), _) => rows.iter().zip(&self.weights).map(|(row, w)| w.ln() + row[x as usize].ln()).collect(),
            (Kernels::Numerical { mus, sigmas }, &Kind::Numerical { log, step, .. }) => {
                let (a, b) = kind.adapted_range();
                let scale = |v: f64| if log { v.ln() } else { v };
                mus.iter()
                    .zip(sigmas)
                    .zip(&self.weights)
                    .map(|((&mu, &sigma), w)| {
                        let z = |v: f64| (v - mu) / sigma;
                        let normaliser = log_gauss_mass(z(a), z(b));
                        let density = match step {
                            Some(step) => log_gauss_mass(z(scale(x - step / 2.0)), z(scale(x + step / 2.0))),
                            None => {
                                let t = z(scale(x));
                                -0.5 * t * t - 0.5 * (2.0 * std::f64::consts::PI).ln() - sigma.ln()
                            }
                        };
                        w.ln() + density - normaliser
                    })
                    .collect()
            }
            _ => unreachable!("kernels match their kind"),
        };
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return max;
        }
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    }
}

/// Optuna's bandwidths: each kernel as wide as the larger gap to its sorted neighbours (the range's ends counting
/// as neighbours, except beside the outermost kernels), clipped to `[range / min(100, kernels + 1), range]`.
fn bandwidths(mus: &[f64], low: f64, high: f64) -> Vec<f64> {
    let n = mus.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
    let with_ends: Vec<f64> = std::iter::once(low).chain(order.iter().map(|&i| mus[i])).chain([high]).collect();
    let mut sorted: Vec<f64> = (1..=n).map(|i| (with_ends[i] - with_ends[i - 1]).max(with_ends[i + 1] - with_ends[i])).collect();
    if with_ends.len() >= 4 {
        sorted[0] = with_ends[2] - with_ends[1];
        sorted[n - 1] = with_ends[n] - with_ends[n - 1];
    }
    let n_kernels = n + 1;
    let (min_sigma, max_sigma) = ((high - low) / (100f64).min(1.0 + n_kernels as f64), high - low);
    let mut sigmas = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        sigmas[i] = sorted[rank].clamp(min_sigma, max_sigma);
    }
    sigmas
}

fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The index whose cumulative probability first exceeds `u` (the last for rounding's leftovers).
fn pick(probabilities: &[f64], u: f64) -> usize {
    let mut cumulative = 0.0;
    for (i, p) in probabilities.iter().enumerate() {
        cumulative += p;
        if u < cumulative {
            return i;
        }
    }
    probabilities.len() - 1
}

/// Standard normal CDF.
fn phi(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// `log(Φ(b) - Φ(a))`, from the tail nearer the interval for accuracy far out.
fn log_gauss_mass(a: f64, b: f64) -> f64 {
    let mass = if a > 0.0 { phi(-a) - phi(-b) } else { phi(b) - phi(a) };
    mass.max(f64::MIN_POSITIVE).ln()
}

/// A normal draw restricted to `[low, high]`, by rejection: the kernels' centres lie in the range and their
/// widths are at most the range, so at least a third of the normal's mass is inside and few draws are rejected.
fn truncated_normal(mu: f64, sigma: f64, low: f64, high: f64, rng: &mut ChaCha8Rng) -> f64 {
    for _ in 0..1000 {
        let x = mu + sigma * rng.sample::<f64, _>(rand_distr::StandardNormal);
        if (low..=high).contains(&x) {
            return x;
        }
    }
    mu.clamp(low, high)
}

#[cfg(test)]
#[path = "tpe_tests.rs"]
mod tests;
