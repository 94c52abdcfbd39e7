//! Tests of TSMixer: NeuralForecast's parameter names and counts, gradients, batches, buffers and options.

use super::*;
use crate::models::model::tests::{assert_count_matches_estimate, check_model_gradients, shape, with, RandomBatch};
use crate::models::{ExogSizes, Model};

fn config(n_series: usize, h: usize, input_size: usize) -> TsMixerConfig {
    TsMixerConfig { n_series, ..TsMixerConfig::new(shape(h, input_size, ExogSizes::none())) }
}

#[test]
fn parameter_count_and_names_follow_neuralforecast() {
    // NeuralForecast TSMixer(h=12, input_size=24, n_series=1): 2,080 parameters (buffers not counted).
    assert_eq!(assert_count_matches_estimate(&config(1, 12, 24)), 2_080);
    let stored: usize = config(3, 4, 6).build().unwrap().params().iter().map(|(_, t)| t.data.len()).sum();
    assert_eq!(stored as u128, config(3, 4, 6).memory_estimate().0 + config(3, 4, 6).buffer_values());
    assert_count_matches_estimate(&with(config(5, 4, 6), |c| c.revin = false));
    let model = config(3, 12, 24).build().unwrap();
    let names: Vec<(&str, Vec<usize>)> = model.params().iter().map(|(n, t)| (n, t.shape.clone())).take(8).collect();
    assert_eq!(names, [
        ("norm.affine_weight", vec![1, 1, 3]),
        ("norm.affine_bias", vec![1, 1, 3]),
        ("mixing_layers.0.temporal_mixer.temporal_norm.weight", vec![72]),
        ("mixing_layers.0.temporal_mixer.temporal_norm.bias", vec![72]),
        ("mixing_layers.0.temporal_mixer.temporal_norm.running_mean", vec![72]),
        ("mixing_layers.0.temporal_mixer.temporal_norm.running_var", vec![72]),
        ("mixing_layers.0.temporal_mixer.temporal_norm.num_batches_tracked", vec![]),
        ("mixing_layers.0.temporal_mixer.temporal_lin.weight", vec![24, 24]),
    ]);
    assert_eq!(model.params().iter().last().map(|(n, t)| (n, t.shape.clone())), Some(("out.bias", vec![12])));
}

#[test]
fn gradients_match_finite_differences() {
    let config = TsMixerConfig { ff_dim: 5, dropout: 0.2, ..config(3, 2, 4) };
    check_model_gradients(&config);
    // Without RevIN and with dropout, this seed puts a ReLU kink within the finite-difference step of a batch-norm
    // weight (the central difference converges to the analytic value only for steps below 1e-4).
    check_model_gradients(&with(config, |c| (c.revin, c.dropout) = (false, 0.0)));
}

#[test]
fn a_window_alone_equals_it_in_a_batch() {
    let config = TsMixerConfig { ff_dim: 8, ..config(3, 4, 6) };
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(config.shape(), 4 * 3, 11);
    let mut cache = TsMixerCache::default();
    let all = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    let per_window = 3 * 4;
    for w in 0..4 {
        let window = &inputs.insample_y[w * 3 * 6..(w + 1) * 3 * 6];
        let mut alone = TsMixerCache::default();
        let alone = model.forward(&WindowBatch::univariate(window, 3), &mut alone).unwrap();
        assert_eq!(alone, &all[w * per_window..(w + 1) * per_window]);
    }
}

#[test]
fn training_moves_the_running_statistics_that_prediction_uses() {
    let config = TsMixerConfig { ff_dim: 8, ..config(2, 3, 5) };
    let mut model = config.build().unwrap();
    let inputs = RandomBatch::new(config.shape(), 4 * 2, 3);
    let mut cache = TsMixerCache::default();
    let before = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    model.forward(&inputs.view(Some(1)), &mut cache).unwrap();
    model.update_buffers(&cache).unwrap();
    let tracked = model.params().find("mixing_layers.1.feature_mixer.feature_norm.num_batches_tracked").unwrap();
    assert_eq!(tracked.data, [1.0]);
    assert_ne!(model.forward(&inputs.view(None), &mut cache).unwrap(), &before[..]);
}

#[test]
fn rejects_exogenous_inputs_and_partial_windows() {
    let exog = TsMixerConfig { n_series: 2, ..TsMixerConfig::new(shape(3, 4, ExogSizes { futr: 1, hist: 0, stat: 0 })) };
    assert!(matches!(exog.build(), Err(NnError::InvalidValue { what: "exogenous inputs", .. })));
    let model = config(3, 2, 4).build().unwrap();
    let err = model.forward(&WindowBatch::univariate(&[0.0; 8], 2), &mut TsMixerCache::default()).unwrap_err();
    assert!(err.to_string().contains("nSeries = 3"), "{err}");
}
