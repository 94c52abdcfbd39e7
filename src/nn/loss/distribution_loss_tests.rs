//! DistributionLoss through the `Loss` interface: its mean negative log-likelihood in data space (window scales,
//! mask) against [`Distribution::nll_and_grad`] point by point, finite-difference gradients, NeuralForecast's
//! column names, and seeded forecasts (reproducible, quantiles in order, torch's interpolation).

use super::distribution::Distribution;
use super::distribution_loss::{empirical_quantile, DistributionLoss, ForecastPointScratch};
use super::{Loss, LossTargets};
use crate::nn::gradcheck::{check_input_grads, random_vec};

/// One of each distribution and mixture, with data-space targets in its support.
fn cases() -> Vec<(Distribution, [f64; 4])> {
    let counts = [0.0, 3.0, 1.0, 7.0];
    vec![
        (Distribution::Normal, [-1.5, 0.25, 2.0, 3.5]),
        (Distribution::StudentT, [-1.5, 0.25, 2.0, 3.5]),
        (Distribution::Poisson, counts),
        (Distribution::NegativeBinomial, counts),
        (Distribution::tweedie(1.5).unwrap(), [0.0, 0.5, 2.0, 3.5]),
        (Distribution::Bernoulli, [0.0, 1.0, 1.0, 0.0]),
        (Distribution::gmm(2, true).unwrap(), [-1.5, 0.25, 2.0, 3.5]),
        (Distribution::pmm(2, false).unwrap(), counts),
        (Distribution::nbmm(2, true).unwrap(), counts),
        // The loss's level [80, 90] sets these knots.
        (Distribution::isqf(3).unwrap().with_knots(&[0.05, 0.1, 0.5, 0.9, 0.95]).unwrap(), [-1.5, 0.25, 2.0, 3.5]),
    ]
}

fn loss(distribution: Distribution) -> Loss {
    Loss::Distribution(DistributionLoss::with_levels(distribution, &[80.0, 90.0], 1000, false).unwrap())
}

/// Two windows of `h = 2` with scales `(loc, scale)`; `data` are the data-space targets, and the batch holds
/// them scaled as the window scaler leaves them (exactly representable: scales are powers of 2).
const SCALES: [(f64, f64); 2] = [(1.0, 0.5), (-2.0, 4.0)];

fn scaled_targets(data: &[f64; 4]) -> Vec<f32> {
    data.iter().enumerate().map(|(i, &y)| ((y - SCALES[i / 2].0) / SCALES[i / 2].1) as f32).collect()
}

#[test]
fn the_loss_is_the_masked_mean_negative_log_likelihood_in_data_space() {
    let mask = [1.0, 0.0, 1.0, 1.0];
    for (distribution, data) in cases() {
        let loss = loss(distribution.clone());
        let params = distribution.param_count();
        assert_eq!(loss.outputs_per_point(), params);
        let forecast: Vec<f32> = random_vec(4 * params, 5).iter().map(|v| v * 0.5).collect();
        let target = scaled_targets(&data);
        let targets = LossTargets { window_scales: &SCALES, mask: Some(&mask), windows: 2, ..LossTargets::without_insample(&target, None) };
        let mut grad = vec![0.0; forecast.len()];
        let value = loss.value_and_grad(&forecast, &targets, &mut grad).unwrap() as f64;
        let mut point_grad = vec![0.0; params];
        let expected: f64 = [0, 2, 3]
            .iter()
            .map(|&p| {
                let (loc, scale) = SCALES[p / 2];
                distribution.nll_and_grad(&forecast[p * params..(p + 1) * params], loc, scale, data[p], &mut point_grad) / 3.0
            })
            .sum();
        assert!((value - expected).abs() <= 1e-5 * expected.abs().max(1.0), "{distribution:?}: {value} vs {expected}");
        assert!(grad[params..2 * params].iter().all(|&g| g == 0.0), "{distribution:?}: a masked point has no gradient");
        check_input_grads(&forecast, &grad, usize::MAX, |f| loss.value_and_grad(f, &targets, &mut vec![0.0; f.len()]).unwrap() as f64);
    }
}

#[test]
fn columns_follow_neuralforecast() {
    let normal = DistributionLoss::with_levels(Distribution::Normal, &[80.0, 90.0], 10, true).unwrap();
    assert_eq!(normal.output_names(), ["", "-median", "-lo-90", "-lo-80", "-hi-80", "-hi-90", "-loc", "-scale"]);
    assert_eq!(normal.columns_per_point(), 8);
    let quantiles = DistributionLoss::with_quantiles(Distribution::StudentT, vec![0.1, 0.5, 0.9], 10, false).unwrap();
    assert_eq!(quantiles.output_names(), ["", "-lo-80.0", "-median", "-hi-80.0"]);
    assert_eq!(Loss::Distribution(quantiles).columns_per_point(), 4);
}

#[test]
fn options_are_checked() {
    assert!(DistributionLoss::with_levels(Distribution::Normal, &[80.0], 0, false).is_err());
    assert!(DistributionLoss::with_levels(Distribution::Normal, &[120.0], 10, false).is_err());
    assert!(DistributionLoss::with_quantiles(Distribution::Normal, vec![0.0, 0.5], 10, false).is_err());
    // NeuralForecast: "Tweedie does not support 'return_params=True'".
    assert!(DistributionLoss::with_levels(Distribution::tweedie(1.5).unwrap(), &[80.0], 10, true).is_err());
}

#[test]
fn quantiles_interpolate_linearly_as_torch() {
    let sorted = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(empirical_quantile(&sorted, 0.5), 2.5);
    assert!((empirical_quantile(&sorted, 0.1) - 1.3).abs() < 1e-12);
    assert_eq!(empirical_quantile(&sorted, 1.0), 4.0);
    assert_eq!(empirical_quantile(&[7.0], 0.9), 7.0);
}

#[test]
fn forecasts_are_seeded_ordered_and_finite() {
    for (distribution, _) in cases() {
        // Tweedie and ISQF take no returnParams (NeuralForecast's rule).
        let return_params = !matches!(distribution, Distribution::Tweedie { .. } | Distribution::Isqf(_));
        let loss = DistributionLoss::with_levels(distribution.clone(), &[80.0, 90.0], 20_000, return_params).unwrap();
        let raw: Vec<f32> = random_vec(distribution.param_count(), 9).iter().map(|v| v * 0.5).collect();
        let mut scratch = ForecastPointScratch::default();
        let mut out = vec![0.0; loss.columns_per_point()];
        loss.forecast_point(&raw, 3.0, 2.0, 17, &mut scratch, &mut out);
        assert!(out.iter().all(|v| v.is_finite()), "{distribution:?}: {out:?}");
        let mut again = vec![0.0; out.len()];
        loss.forecast_point(&raw, 3.0, 2.0, 17, &mut scratch, &mut again);
        assert_eq!(out, again, "{distribution:?}: the same seed draws the same values");
        // Columns: mean, median, lo-90, lo-80, hi-80, hi-90, then the parameters.
        let (lo90, lo80, median, hi80, hi90) = (out[2], out[3], out[1], out[4], out[5]);
        assert!(lo90 <= lo80 && lo80 <= median && median <= hi80 && hi80 <= hi90, "{distribution:?}: {out:?}");
        let mut params = vec![0.0; distribution.param_count()];
        distribution.params(&raw, 3.0, 2.0, &mut params);
        if return_params {
            assert_eq!(out[6..], params);
        }
        // The sample mean of 20,000 draws is within 5 standard errors of the distribution's mean.
        let (mean, sd) = (distribution.mean(&params), distribution.variance(&params).sqrt());
        assert!((out[0] - mean).abs() <= 5.0 * sd / (20_000f64).sqrt() + 1e-9, "{distribution:?}: {} vs {mean}", out[0]);
        loss.forecast_point(&raw, 3.0, 2.0, 18, &mut scratch, &mut again);
        assert_ne!(out[0], again[0], "{distribution:?}: another seed draws other values");
    }
}
