//! Tests of TSMixerx: NeuralForecast's parameter names and counts, gradients with every kind of exogenous
//! input, windows alone and in a batch, and what the exogenous inputs change.

use super::*;
use crate::models::model::tests::{assert_count_matches_estimate, check_model_gradients, shape, with, RandomBatch};
use crate::models::{ExogSizes, Model};

fn config(n_series: usize, h: usize, input_size: usize, exog: ExogSizes) -> TsMixerxConfig {
    TsMixerxConfig { n_series, ..TsMixerxConfig::new(shape(h, input_size, exog)) }
}

const ALL: ExogSizes = ExogSizes { futr: 2, hist: 1, stat: 2 };

#[test]
fn parameter_count_and_names_follow_neuralforecast() {
    // NeuralForecast TSMixerx(h=12, input_size=24, n_series=1), no exogenous variables: 40,963 parameters.
    assert_eq!(assert_count_matches_estimate(&config(1, 12, 24, ExogSizes::none())), 40_963);
    // TSMixerx(h=12, input_size=24, n_series=3, futr_exog_list=['f1','f2'], hist_exog_list=['h1'],
    // stat_exog_list=['s1','s2']) in NeuralForecast 3.3: 120,265.
    assert_eq!(assert_count_matches_estimate(&config(3, 12, 24, ALL)), 120_265);
    for exog in [ExogSizes { futr: 1, hist: 0, stat: 0 }, ExogSizes { futr: 0, hist: 2, stat: 0 }, ExogSizes { futr: 0, hist: 0, stat: 1 }] {
        assert_count_matches_estimate(&with(config(2, 3, 5, exog), |c| c.revin = false));
    }
    let model = config(3, 12, 24, ALL).build().unwrap();
    let names: Vec<(&str, Vec<usize>)> = model.params().iter().map(|(n, t)| (n, t.shape.clone())).collect();
    assert_eq!(names[..6], [
        ("norm.affine_weight", vec![1, 1, 3]),
        ("norm.affine_bias", vec![1, 1, 3]),
        ("temporal_projection.weight", vec![12, 24]),
        ("temporal_projection.bias", vec![12]),
        ("feature_mixer_hist.feature_lin_1.weight", vec![64, 12]),
        ("feature_mixer_hist.feature_lin_1.bias", vec![64]),
    ]);
    let find = |name: &str| names.iter().find(|(n, _)| *n == name).map(|(_, s)| s.clone());
    assert_eq!(find("feature_mixer_futr.feature_lin_1.weight"), Some(vec![64, 6]));
    assert_eq!(find("feature_mixer_stat.feature_lin_1.weight"), Some(vec![64, 6]));
    assert_eq!(find("first_mixing.temporal_mixer.temporal_norm.weight"), Some(vec![12, 192]));
    assert_eq!(find("mixing_block.1.feature_mixer_stat.feature_norm.weight"), Some(vec![12, 64]));
    assert_eq!(find("mixing_block.1.feature_mixer.project_residual.weight"), Some(vec![64, 128]));
    assert_eq!(names.last(), Some(&("out.bias", vec![3])));
}

#[test]
fn gradients_match_finite_differences() {
    let small = |exog| TsMixerxConfig { ff_dim: 5, dropout: 0.2, ..config(3, 2, 4, exog) };
    check_model_gradients(&small(ALL));
    check_model_gradients(&small(ExogSizes::none()));
    // Historic variables alone. A model with future variables alone (the future mixer's gradients are checked in
    // `ALL`) is left out: with or without RevIN, one sample of 6 per tensor differs by 2-5 % at the step 2e-3 and
    // approaches the analytic value as the step shrinks (temporal_projection.weight[3] without RevIN: -0.0845,
    // -0.0807, -0.0774, -0.0772 at steps 1e-2 to 1e-4, analytic -0.0769), as at ReLU kinks.
    let wider = |exog| TsMixerxConfig { ff_dim: 8, dropout: 0.2, ..config(2, 4, 4, exog) };
    check_model_gradients(&wider(ExogSizes { futr: 0, hist: 2, stat: 0 }));
    check_model_gradients(&TsMixerxConfig { shape: ModelShape { outputs_per_point: 3, ..*small(ALL).shape() }, ..small(ALL) });
}

#[test]
fn a_window_alone_equals_it_in_a_batch() {
    let config = TsMixerxConfig { ff_dim: 8, ..config(3, 4, 6, ALL) };
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(config.shape(), 4 * 3, 11);
    let mut cache = TsMixerxCache::default();
    let all = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    let per_window = 3 * 4;
    for w in 0..4 {
        let alone = inputs.windows(w * 3..(w + 1) * 3);
        let mut alone_cache = TsMixerxCache::default();
        assert_eq!(model.forward(&alone.view(None), &mut alone_cache).unwrap(), &all[w * per_window..(w + 1) * per_window]);
    }
}

#[test]
fn every_exogenous_input_moves_the_forecast_of_the_window() {
    let config = TsMixerxConfig { ff_dim: 8, ..config(2, 3, 5, ALL) };
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(config.shape(), 2, 5);
    let base = model.forward(&inputs.view(None), &mut TsMixerxCache::default()).unwrap().to_vec();
    let moved = |edit: &dyn Fn(&mut RandomBatch)| {
        let mut changed = RandomBatch::new(config.shape(), 2, 5);
        edit(&mut changed);
        model.forward(&changed.view(None), &mut TsMixerxCache::default()).unwrap().to_vec()
    };
    // The last future value (over the horizon), an input step of the historic one, a static of series 1.
    assert_ne!(moved(&|b| *b.futr_exog.last_mut().unwrap() += 1.0), base);
    assert_ne!(moved(&|b| b.hist_exog[0] += 1.0), base);
    assert_ne!(moved(&|b| b.stat_exog[3] += 1.0), base);
    assert_eq!(moved(&|_| {}), base);
}

#[test]
fn rejects_partial_windows_and_missing_exogenous_inputs() {
    let model = config(3, 2, 4, ALL).build().unwrap();
    let err = model.forward(&WindowBatch::univariate(&[0.0; 8], 2), &mut TsMixerxCache::default()).unwrap_err();
    assert!(err.to_string().contains("historic exogenous"), "{err}");
    let plain = config(3, 2, 4, ExogSizes::none()).build().unwrap();
    let err = plain.forward(&WindowBatch::univariate(&[0.0; 8], 2), &mut TsMixerxCache::default()).unwrap_err();
    assert!(err.to_string().contains("nSeries = 3"), "{err}");
}

