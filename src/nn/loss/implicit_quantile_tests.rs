//! The IQN head's gradients against finite differences, its parameter names against NeuralForecast's state dict,
//! and the Beta sampler's moments.

use super::*;
use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

const DIM: usize = 8;

fn head() -> (ImplicitQuantileHead, ParamStore) {
    seeded_layer(3, "loss", |init| ImplicitQuantileHead::new(init, DIM))
}

#[test]
fn parameters_are_named_as_neuralforecast_state_dict() {
    let (_, params) = head();
    let names: Vec<&str> = params.iter().map(|(name, _)| name).collect();
    assert_eq!(
        names,
        [
            "loss.quantile_layer.output_layer.0.weight",
            "loss.quantile_layer.output_layer.0.bias",
            "loss.quantile_layer.output_layer.1.weight",
            "loss.quantile_layer.output_layer.2.weight",
            "loss.quantile_layer.output_layer.2.bias",
            "loss.output_layer.0.weight",
            "loss.output_layer.0.bias",
            "loss.output_layer.1.weight",
        ]
    );
    // d x d + d, PReLU, d + 1, Linear(1, 1), PReLU.
    assert_eq!(params.num_parameters(), DIM * DIM + DIM + 1 + DIM + 1 + 2 + 1);
    assert_eq!(params.num_parameters() as u128, super::super::Loss::implicit_quantile(DIM, 1.0, 1.0).unwrap().head_size().0);
}

#[test]
fn head_gradients_match_finite_differences_at_fixed_quantiles() {
    let (head, params) = head();
    // Push both PReLUs' slopes off 0.25 so a wrong slope gradient shows, and the output Linear away from the
    // kink of its PReLU for most values.
    let n = 12;
    let forecast = random_vec(n, 5).iter().map(|v| 2.0 * v).collect::<Vec<_>>();
    let quantiles: Vec<f32> = (0..n).map(|i| (i as f32 + 0.5) / n as f32).collect();
    let weights = random_vec(n, 6);
    let objective = |params: &ParamStore, forecast: &[f32]| {
        let mut cache = ImplicitQuantileCache::default();
        weighted_sum(head.forward(params, forecast, Quantiles::Each(&quantiles), &mut cache).unwrap(), &weights)
    };
    let mut cache = ImplicitQuantileCache::default();
    head.forward(&params, &forecast, Quantiles::Each(&quantiles), &mut cache).unwrap();
    let mut grads = params.zeros_like();
    let d_forecast = head.backward(&params, &mut cache, &weights, &mut grads).unwrap().to_vec();
    check_input_grads(&forecast, &d_forecast, n, |f| objective(&params, f));
    check_param_grads(&mut params.clone(), &grads, 8, |p| objective(p, &forecast));
    // The head's outputs move with the quantile: it is an input, not a constant.
    let at = |q: f32| {
        let mut cache = ImplicitQuantileCache::default();
        head.forward(&params, &forecast, Quantiles::All(q), &mut cache).unwrap().to_vec()
    };
    assert_ne!(at(0.1), at(0.9));
    let mut cache = ImplicitQuantileCache::default();
    let each = head.forward(&params, &forecast, Quantiles::Each(&[0.3; 12]), &mut cache).unwrap().to_vec();
    assert_eq!(each, at(0.3));
}

fn moments(c0: f64, c1: f64) -> (f64, f64) {
    let mut draws = vec![0.0f32; 40_000];
    sample_beta(11, c0, c1, &mut draws);
    assert!(draws.iter().all(|&q| (0.0..=1.0).contains(&q)));
    let mean = draws.iter().map(|&q| q as f64).sum::<f64>() / draws.len() as f64;
    let var = draws.iter().map(|&q| (q as f64 - mean).powi(2)).sum::<f64>() / draws.len() as f64;
    (mean, var)
}

#[test]
fn beta_draws_have_the_distribution_moments() {
    // Beta(a = c1, b = c0): mean a / (a + b), variance a b / ((a + b)^2 (a + b + 1)).
    for (c0, c1) in [(1.0, 1.0), (5.0, 2.0), (0.5, 0.5), (1.0, 3.0)] {
        let (a, b) = (c1, c0);
        let (mean, var) = moments(c0, c1);
        let (true_mean, true_var) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
        assert!((mean - true_mean).abs() < 0.01, "Beta({a}, {b}) mean {mean} vs {true_mean}");
        assert!((var - true_var).abs() < 0.01 * true_var.max(0.1), "Beta({a}, {b}) variance {var} vs {true_var}");
    }
}

#[test]
fn beta_draws_depend_on_the_seed_alone() {
    let draw = |seed| {
        let mut out = [0.0f32; 16];
        sample_beta(seed, 2.0, 3.0, &mut out);
        out
    };
    assert_eq!(draw(7), draw(7));
    assert_ne!(draw(7), draw(8));
}
