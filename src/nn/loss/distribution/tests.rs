//! Tests of the distributions: log-likelihoods, parameters and moments against torch, gradients by finite differences, samplers against their moments, supports.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::special::{digamma, lgamma};
use super::Distribution;

/// Every distribution, the mixtures with two components, unweighted and weighted.
fn all() -> Vec<Distribution> {
    vec![
        Distribution::Normal,
        Distribution::StudentT,
        Distribution::Poisson,
        Distribution::NegativeBinomial,
        Distribution::tweedie(1.5).unwrap(),
        Distribution::Bernoulli,
        Distribution::gmm(2, false).unwrap(),
        Distribution::gmm(2, true).unwrap(),
        Distribution::pmm(2, false).unwrap(),
        Distribution::pmm(2, true).unwrap(),
        Distribution::nbmm(2, false).unwrap(),
        Distribution::nbmm(2, true).unwrap(),
        Distribution::isqf(3).unwrap().with_knots(&[0.1, 0.5, 0.9]).unwrap(),
    ]
}

/// A target inside `d`'s support near the middle of the test distributions.
fn target(d: &Distribution) -> f64 {
    match d {
        Distribution::Normal | Distribution::StudentT | Distribution::Gmm { .. } | Distribution::Isqf(_) => 4.5,
        Distribution::Tweedie { .. } => 2.5,
        Distribution::Bernoulli => 1.0,
        _ => 4.0,
    }
}

fn raw_values(d: &Distribution, seed: u64) -> Vec<f32> {
    // Away from 0 so that a dropped sigmoid or a swapped output shows.
    let base = [0.5f32, -1.25, 0.75, -0.5, 1.1, -0.3, 0.9, -0.8, 0.2];
    (0..d.param_count()).map(|i| base[(i + seed as usize) % base.len()]).collect()
}

fn close(actual: f64, expected: f64, tol: f64) -> bool {
    (actual - expected).abs() <= tol * (1.0 + expected.abs())
}

#[test]
fn digamma_matches_known_values() {
    // torch.special.digamma in float64.
    for (x, expected) in [
        (0.1, -10.423754940411076),
        (0.5, -1.9635100260214229),
        (1.0, -0.5772156649015328),
        (2.5, 0.7031566406452431),
        (5.9, 1.6878194259079582),
        (6.0, 1.7061176684318002),
        (7.3, 1.917820335637986),
        (150.0, 5.007298257075679),
        (1e6, 13.81551005796419),
    ] {
        assert!(close(digamma(x), expected, 1e-14), "digamma({x}) = {} vs {expected}", digamma(x));
    }
    // And it is lgamma's derivative.
    for x in [0.3, 1.7, 4.2, 30.0] {
        let numeric = (lgamma(x + 1e-6) - lgamma(x - 1e-6)) / 2e-6;
        assert!(close(digamma(x), numeric, 1e-8), "digamma({x}) vs the slope of lgamma {numeric}");
    }
}

/// The parameters and log-likelihoods NeuralForecast 3.3 gives, from /work/nfvenv (torch float64): for
/// DistributionLoss, `loss.scale_decouple(loss.domain_map(raw), loc, scale)` and
/// `loss.get_distribution(args).log_prob(y)`; for the mixtures, the same args stacked as `returnParams` stacks them
/// and `-loss(y, args)`. Raw values are exact in f32.
#[test]
fn log_prob_and_params_equal_torch() {
    /// (distribution, raw, loc, scale, y, torch's params, torch's log_prob)
    type Case = (Distribution, Vec<f32>, f64, f64, f64, Vec<f64>, f64);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        (Distribution::Normal, vec![0.5, -1.25], 2.0, 3.0, 4.5, vec![3.5, 1.3557872440361187], -1.4953320927305491),
        (Distribution::Normal, vec![-0.75, 0.25], -1.0, 0.5, -2.0, vec![-1.375, 0.5129697099394218], -0.9936438826223667),
        (Distribution::StudentT, vec![0.5, -1.25, 0.75], 2.0, 3.0, 4.5, vec![3.9740769841801065, -1.75, 3.7106130183447], -3.632356109151691),
        (Distribution::StudentT, vec![-2.0, 0.25, -0.5], -1.0, 0.5, 7.0, vec![3.1269280110429727, -0.875, 0.28703849209005333], -11.073312720487255),
        (Distribution::Poisson, vec![0.5], 2.0, 3.0, 4.0, vec![3.5297504183726205], -1.6628955869804036),
        (Distribution::Poisson, vec![-0.75], 1.0, 0.5, 0.0, vec![1.0537006783765186], -1.0537006783765186),
        (Distribution::NegativeBinomial, vec![0.5, -1.25], 2.0, 3.0, 4.0, vec![15.877483535699923, 0.2366489783415503], -1.8178817001010774),
        (Distribution::NegativeBinomial, vec![-0.75, 0.5], 1.0, 0.5, 0.0, vec![1.5399193379601062, 0.436619320440524], -0.8836052798770798),
        (Distribution::Tweedie { rho: 1.5 }, vec![0.5], 2.0, 3.0, 4.0, vec![1.6672241647400519], -8.079051402679752),
        (Distribution::Tweedie { rho: 1.5 }, vec![-0.75], 1.5, 0.5, 0.0, vec![0.7923361142230643], -2.972238098882068),
        (Distribution::Tweedie { rho: 1.25 }, vec![1.5], 3.0, 3.0, 2.5, vec![2.800025566650862], -15.854256631664754),
        (Distribution::Bernoulli, vec![0.5], 0.0, 1.0, 1.0, vec![0.6224593312018546], -0.47407698418010663),
        (Distribution::Bernoulli, vec![-1.25], 0.0, 1.0, 0.0, vec![0.22270013882530884], -0.25192908134537295),
        (Distribution::Gmm { components: 2, weighted: false }, vec![0.5, -0.25, -1.25, 0.5], 2.0, 3.0, 4.5,
            vec![3.5, 1.3557872440361187, 1.25, 3.52223095254032], -1.903234787762313),
        (Distribution::Gmm { components: 2, weighted: true }, vec![0.5, -0.25, -1.25, 0.5, 0.75, -0.5], 2.0, 3.0, 4.5,
            vec![3.5, 1.3557872440361187, 0.7772998611746911, 1.25, 3.52223095254032, 0.2227001388253088], -1.6568981575606614),
        (Distribution::Pmm { components: 2, weighted: false }, vec![0.5, -0.25], 2.0, 3.0, 4.0,
            vec![3.5307504182726204, 1.5029290813453728], -2.1332182084681097),
        (Distribution::Pmm { components: 2, weighted: true }, vec![0.5, -0.25, 0.75, -0.5], 2.0, 3.0, 4.0,
            vec![3.5307504182726204, 0.7772998611746911, 1.5029290813453728, 0.2227001388253088], -1.845665348915549),
        (Distribution::Nbmm { components: 2, weighted: false }, vec![0.5, -0.25, -1.25, 0.5], 2.0, 3.0, 4.0,
            vec![11.908112651774942, 0.14059733242141748, 3.0798386759202123, 0.2722012734458983], -2.8236927695528786),
        (Distribution::Nbmm { components: 2, weighted: true }, vec![0.5, -0.25, -1.25, 0.5, 0.75, -0.5], 2.0, 3.0, 4.0,
            vec![11.908112651774942, 0.14059733242141748, 0.7772998611746911, 3.0798386759202123, 0.2722012734458983, 0.2227001388253088],
            -2.6061511714476993),
    ];
    for (d, raw, loc, scale, y, expected_params, expected_log_prob) in cases {
        let mut params = vec![0.0; d.param_count()];
        d.params(&raw, loc, scale, &mut params);
        for (p, e) in params.iter().zip(&expected_params) {
            assert!(close(*p, *e, 1e-13), "{d:?} params {params:?} vs torch {expected_params:?}");
        }
        let mut grad = vec![0.0; d.param_count()];
        let nll = d.nll_and_grad(&raw, loc, scale, y, &mut grad);
        assert!(close(-nll, expected_log_prob, 1e-13), "{d:?} log_prob {} vs torch {expected_log_prob}", -nll);
    }
}

/// Checks `loss`'s gradient with respect to the raw outputs (`loss(raw, grad)` returns the loss and writes the
/// gradient) against central differences of 1e-3, each step taken as the f32 values it lands on, within
/// `tolerance` relative to `1 + |numeric|`; and that the gradient is not all but zero, which would check nothing.
pub(super) fn assert_raw_gradient(raw: &[f32], tolerance: f64, context: &str, loss: impl Fn(&[f32], &mut [f64]) -> f64) {
    let mut grad = vec![0.0; raw.len()];
    loss(raw, &mut grad);
    let mut scratch = vec![0.0; raw.len()];
    for j in 0..raw.len() {
        let (mut up, mut down) = (raw.to_vec(), raw.to_vec());
        up[j] += 1e-3;
        down[j] -= 1e-3;
        let step = up[j] as f64 - down[j] as f64;
        let numeric = (loss(&up, &mut scratch) - loss(&down, &mut scratch)) / step;
        assert!((grad[j] - numeric).abs() <= tolerance * (1.0 + numeric.abs()), "{context}: d/d raw[{j}] analytic {} vs numeric {numeric}", grad[j]);
    }
    assert!(grad.iter().any(|g| g.abs() > 1e-3), "{context}: a gradient that is all but zero checks nothing");
}

/// d nll / d raw against central differences, at a few raw values and scaler loc/scale other than 0 and 1. The
/// raw outputs are f32, so each step is taken as the f32 values it lands on.
#[test]
fn gradients_match_finite_differences() {
    for d in all() {
        for (seed, loc, scale) in [(0u64, 2.0, 3.0), (3, 1.5, 0.5), (5, 4.0, 7.0)] {
            let raw = raw_values(&d, seed);
            let y = target(&d);
            let context = format!("{d:?} raw {raw:?} loc {loc} scale {scale}");
            assert_raw_gradient(&raw, 1e-5, &context, |raw, grad| d.nll_and_grad(raw, loc, scale, y, grad));
        }
    }
}

/// The mean and variance of 10^5 seeded draws against `mean()`/`variance()`, within five standard errors (the
/// variance's from the draws' fourth central moment).
#[test]
fn samplers_match_the_moments() {
    const N: usize = 100_000;
    for d in all() {
        // StudentT's raw df 7 gives df 10, where the fourth moment (and the variance's standard error) is finite.
        let raw: Vec<f32> = if d == Distribution::StudentT { vec![7.0, -1.25, 0.75] } else { raw_values(&d, 1) };
        let mut params = vec![0.0; d.param_count()];
        d.params(&raw, 3.0, 2.0, &mut params);
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let draws: Vec<f64> = (0..N).map(|_| d.sample(&params, &mut rng)).collect();
        if let Err(reason) = draws.iter().try_for_each(|&v| d.check_target(v)) {
            panic!("{d:?} drew outside its support: {reason}");
        }
        let n = N as f64;
        let mean = draws.iter().sum::<f64>() / n;
        let var = draws.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let m4 = draws.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n;
        let (true_mean, true_var) = (d.mean(&params), d.variance(&params));
        let mean_se = (true_var / n).sqrt();
        let var_se = ((m4 - var * var) / n).sqrt();
        assert!((mean - true_mean).abs() < 5.0 * mean_se, "{d:?} {params:?}: sample mean {mean} vs {true_mean} (se {mean_se})");
        assert!((var - true_var).abs() < 5.0 * var_se, "{d:?} {params:?}: sample variance {var} vs {true_var} (se {var_se})");
    }
}

#[test]
fn draws_depend_on_the_seed_alone() {
    for d in all() {
        let mut params = vec![0.0; d.param_count()];
        d.params(&raw_values(&d, 2), 3.0, 2.0, &mut params);
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..64).map(|_| d.sample(&params, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9), "{d:?}");
        assert_ne!(draw(9), draw(10), "{d:?}");
    }
}

/// No NaN or infinity from finite raw outputs, however extreme, nor from the identity scaler's loc 0 or a negative loc.
#[test]
fn extreme_raw_outputs_stay_finite() {
    for d in all() {
        for value in [-50.0f32, 50.0, -1e4, 1e4] {
            for (loc, scale) in [(0.0, 1.0), (2.0, 3.0), (-3.0, 2.0)] {
                let raw = vec![value; d.param_count()];
                let mut params = vec![0.0; d.param_count()];
                d.params(&raw, loc, scale, &mut params);
                let mut grad = vec![0.0; d.param_count()];
                for y in [0.0, 1.0] {
                    let nll = d.nll_and_grad(&raw, loc, scale, y, &mut grad);
                    assert!(nll.is_finite() && grad.iter().all(|g| g.is_finite()), "{d:?} raw {value} loc {loc} y {y}: nll {nll} grad {grad:?}");
                }
                let mut rng = ChaCha8Rng::seed_from_u64(1);
                let draw = d.sample(&params, &mut rng);
                let (mean, var) = (d.mean(&params), d.variance(&params));
                assert!(
                    params.iter().all(|p| p.is_finite()) && draw.is_finite() && mean.is_finite() && var.is_finite(),
                    "{d:?} raw {value} loc {loc}: params {params:?} draw {draw} mean {mean} variance {var}"
                );
            }
        }
    }
}

#[test]
fn check_target_accepts_the_support_and_refuses_the_rest() {
    for d in all() {
        let (accepted, refused): (&[f64], &[f64]) = match d {
            Distribution::Normal | Distribution::StudentT | Distribution::Gmm { .. } | Distribution::Isqf(_) => {
                (&[-3.5, 0.0, 2.25], &[f64::NAN, f64::INFINITY])
            }
            Distribution::Tweedie { .. } => (&[0.0, 2.25, 7.0], &[-0.5, f64::NAN]),
            Distribution::Bernoulli => (&[0.0, 1.0], &[0.5, 2.0, -1.0]),
            _ => (&[0.0, 3.0, 120.0], &[-1.0, 2.5, f64::INFINITY]),
        };
        for &y in accepted {
            assert_eq!(d.check_target(y), Ok(()), "{d:?} target {y}");
        }
        for &y in refused {
            assert!(d.check_target(y).is_err(), "{d:?} accepted the target {y}");
        }
    }
    let reason = Distribution::Poisson.check_target(2.5).unwrap_err();
    assert!(reason.contains("non-negative integer") && reason.contains("2.5"), "{reason}");
}

#[test]
fn param_names_follow_neuralforecast() {
    let names = |d: Distribution| d.param_names();
    assert_eq!(names(Distribution::Normal), ["-loc", "-scale"]);
    assert_eq!(names(Distribution::StudentT), ["-df", "-loc", "-scale"]);
    assert_eq!(names(Distribution::Poisson), ["-loc"]);
    assert_eq!(names(Distribution::NegativeBinomial), ["-total_count", "-logits"]);
    assert_eq!(names(Distribution::Tweedie { rho: 1.5 }), ["-log_mu"]);
    assert_eq!(names(Distribution::Bernoulli), ["-logits"]);
    assert_eq!(names(Distribution::Gmm { components: 2, weighted: false }), ["-mu-1", "-std-1", "-mu-2", "-std-2"]);
    assert_eq!(
        names(Distribution::Gmm { components: 2, weighted: true }),
        ["-mu-1", "-std-1", "-weight-1", "-mu-2", "-std-2", "-weight-2"]
    );
    assert_eq!(names(Distribution::Pmm { components: 2, weighted: true }), ["-lambda-1", "-weight-1", "-lambda-2", "-weight-2"]);
    assert_eq!(names(Distribution::Nbmm { components: 1, weighted: false }), ["-total_count-1", "-probs-1"]);
    for d in all() {
        assert_eq!(d.param_names().len(), d.param_count(), "{d:?}");
    }
}

#[test]
fn invalid_options_name_the_option() {
    for rho in [1.0f32, 2.0, 0.5, f32::NAN] {
        let err = Distribution::tweedie(rho).unwrap_err().to_string();
        assert!(err.contains("DistributionLoss") && err.contains("rho"), "{err}");
    }
    for err in [Distribution::gmm(0, false), Distribution::pmm(0, true), Distribution::nbmm(0, false)] {
        let err = err.unwrap_err().to_string();
        assert!(err.contains("n_components"), "{err}");
    }
}

/// GMM with one component is DistributionLoss's Normal (the same eps 0.2 on the std): same parameters, same NLL
/// and gradient.
#[test]
fn one_component_gmm_is_the_normal() {
    let raw = [0.3f32, -0.7];
    let (gmm, normal) = (Distribution::gmm(1, false).unwrap(), Distribution::Normal);
    let (mut gmm_params, mut normal_params) = ([0.0; 2], [0.0; 2]);
    gmm.params(&raw, 1.5, 2.5, &mut gmm_params);
    normal.params(&raw, 1.5, 2.5, &mut normal_params);
    assert_eq!(gmm_params, normal_params);
    let (mut gmm_grad, mut normal_grad) = ([0.0; 2], [0.0; 2]);
    let gmm_nll = gmm.nll_and_grad(&raw, 1.5, 2.5, 3.0, &mut gmm_grad);
    let normal_nll = normal.nll_and_grad(&raw, 1.5, 2.5, 3.0, &mut normal_grad);
    assert!(close(gmm_nll, normal_nll, 1e-15), "{gmm_nll} vs {normal_nll}");
    for (g, n) in gmm_grad.iter().zip(&normal_grad) {
        assert!(close(*g, *n, 1e-15), "{gmm_grad:?} vs {normal_grad:?}");
    }
}

/// `mean()` and `variance()` equal torch's `distr.mean` / `distr.variance` (NeuralForecast 3.3, float64, from
/// `get_distribution(scale_decouple(domain_map(raw), loc=2, scale=3))`). NeuralForecast's Tweedie has no
/// variance (its property misspells `ones_like`); ours is mu^rho, the Tweedie variance at dispersion 1 that its
/// sampler draws from.
#[test]
fn moments_equal_torch() {
    #[rustfmt::skip]
    let cases: Vec<(Distribution, Vec<f32>, f64, f64)> = vec![
        (Distribution::Normal, vec![0.5, -1.25], 3.5, 1.8381590510910542),
        (Distribution::StudentT, vec![0.5, -1.25, 0.75], -1.75, 27.718103914394803),
        (Distribution::Poisson, vec![0.5], 3.5297504183726205, 3.5297504183726205),
        (Distribution::NegativeBinomial, vec![0.5, -1.25], 4.922231255019348, 6.448188468164163),
        (Distribution::Tweedie { rho: 1.5 }, vec![0.5], 5.2974425414002555, 5.2974425414002555f64.powf(1.5)),
        (Distribution::Bernoulli, vec![0.5], 0.6224593312018546, 0.2350037122015945),
        (Distribution::Gmm { components: 2, weighted: true }, vec![0.5, -0.25, -1.25, 0.5, 0.75, -0.5], 2.9989246876430555, 5.067986375313239),
        (Distribution::Pmm { components: 2, weighted: false }, vec![0.5, -0.25], 2.5168397498089967, 3.544854593433349),
        (Distribution::Nbmm { components: 2, weighted: true }, vec![0.5, -0.25, -1.25, 0.5, 0.75, -0.5], 1.7708235449510998, 2.2242606064927473),
    ];
    for (d, raw, mean, variance) in cases {
        let mut params = vec![0.0; d.param_count()];
        d.params(&raw, 2.0, 3.0, &mut params);
        assert!(close(d.mean(&params), mean, 1e-13), "{d:?} mean {} vs torch {mean}", d.mean(&params));
        assert!(close(d.variance(&params), variance, 1e-13), "{d:?} variance {} vs torch {variance}", d.variance(&params));
    }
}
