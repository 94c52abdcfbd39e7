//! Tests of TFT: NeuralForecast's parameter names and counts, gradients, batches, interpretability and a fit.

use super::*;
use crate::models::model::tests::{
    assert_count_matches_estimate, assert_fits_sine, assert_window_alone_equals_batch, check_model_gradients, shape, with, RandomBatch,
};
use crate::models::{ExogSizes, Model};

fn small(exog: ExogSizes, outputs_per_point: usize) -> TftConfig {
    with(TftConfig::new(ModelShape { outputs_per_point, ..shape(3, 4, exog) }), |c| {
        c.hidden_size = 4;
        c.n_head = 2;
    })
}

#[test]
fn parameter_counts_and_names_follow_neuralforecast() {
    // NeuralForecast 3.3: sum(p.numel() for p in TFT(h=12, input_size=24).parameters()) = 870,158 (MAE, all
    // trainable).
    assert_eq!(assert_count_matches_estimate(&TftConfig::new(shape(12, 24, ExogSizes::none()))), 870_158);
    // TFT(h=12, input_size=24, futr_exog_list=['f1','f2'], hist_exog_list=['h1'], stat_exog_list=['s1','s2']):
    // 1,586,601, and its state_dict() names and shapes, less the attention's constant `_mask` buffer.
    let exog = TftConfig::new(shape(12, 24, ExogSizes { futr: 2, hist: 1, stat: 2 }));
    assert_eq!(assert_count_matches_estimate(&exog), 1_586_601);
    let names: Vec<String> = exog.build().unwrap().params().iter().map(|(n, t)| format!("{n} {:?}", t.shape)).collect();
    let expected: Vec<&str> = include_str!("tft_state_dict_nf33.txt").lines().skip(1).collect();
    assert_eq!(names, expected);
    // TFT(h=12, input_size=24, stat_exog_list=['s1'], n_rnn_layers=2, hidden_size=16, n_head=2,
    // loss=MQLoss(level=[80, 90])): 27,978 with MQLoss's 5 non-trainable quantiles, 27,973 trainable.
    let layered = with(TftConfig::new(ModelShape { outputs_per_point: 5, ..shape(12, 24, ExogSizes { futr: 0, hist: 0, stat: 1 }) }), |c| {
        (c.n_rnn_layers, c.hidden_size, c.n_head) = (2, 16, 2);
    });
    assert_eq!(assert_count_matches_estimate(&layered), 27_973);
    let shared = with(layered.clone(), |c| c.one_rnn_initial_state = true);
    assert_eq!(assert_count_matches_estimate(&shared), 27_973 - 2 * grn_parameters(16, 16, None, false) as usize);
}

#[test]
fn gradients_match_finite_differences() {
    check_model_gradients(&small(ExogSizes::none(), 1));
    check_model_gradients(&small(ExogSizes { futr: 2, hist: 1, stat: 2 }, 3));
    check_model_gradients(&with(small(ExogSizes { futr: 1, hist: 0, stat: 1 }, 2), |c| {
        (c.n_rnn_layers, c.grn_activation, c.attn_dropout) = (2, ActivationKind::Gelu, 0.2);
    }));
    check_model_gradients(&with(small(ExogSizes { futr: 0, hist: 2, stat: 1 }, 1), |c| {
        (c.n_rnn_layers, c.one_rnn_initial_state) = (2, true);
    }));
}

#[test]
fn a_window_gives_the_same_forecast_alone_and_in_a_batch() {
    let exog = ExogSizes { futr: 1, hist: 2, stat: 1 };
    let config = with(TftConfig::new(ModelShape { outputs_per_point: 3, ..shape(12, 24, exog) }), |c| c.hidden_size = 32);
    assert_window_alone_equals_batch(&config);
    assert_window_alone_equals_batch(&with(TftConfig::new(shape(6, 12, ExogSizes::none())), |c| c.hidden_size = 16));
}

#[test]
fn interpretability_weights_are_distributions() {
    let config = small(ExogSizes { futr: 2, hist: 1, stat: 2 }, 1);
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(&config.shape, 3, 7);
    let mut cache = TftCache::default();
    model.forward(&inputs.view(None), &mut cache).unwrap();
    let weights = model.interpretability(&cache);
    let (l, h, t) = (4, 3, 7);
    assert_eq!(weights.history.len(), 3 * l * (1 + 2 + 1));
    assert_eq!(weights.future.len(), 3 * h * 2);
    assert_eq!(weights.stat.len(), 3 * 2);
    assert_eq!(weights.attention.len(), 3 * 2 * t * t);
    for (group, n) in [(weights.history, 4), (weights.future, 2), (weights.stat, 2), (weights.attention, t)] {
        for row in group.chunks_exact(n) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
        }
    }
}

#[test]
fn without_future_variables_the_last_value_stands_in() {
    // tft.py repeats the window's last value as the one future variable: changing it changes the forecast.
    let config = small(ExogSizes::none(), 1);
    let model = config.build().unwrap();
    let mut cache = TftCache::default();
    let y = [0.1, 0.2, 0.3, 0.4];
    let first = model.forward(&WindowBatch::univariate(&y, 1), &mut cache).unwrap().to_vec();
    let second = model.forward(&WindowBatch::univariate(&[0.1, 0.2, 0.3, 0.9], 1), &mut cache).unwrap().to_vec();
    assert_ne!(first, second);
    assert_eq!(model.interpretability(&cache).future, [1.0; 3]);
}

#[test]
fn options_are_read_and_refused_by_name() {
    let read = |options: serde_json::Value| {
        let map = options.as_object().unwrap().clone();
        let mut config = TftConfig::new(shape(3, 4, ExogSizes::none()));
        config.read_options(&ModelOptions::new("options", &map)).map(|_| config)
    };
    let config = read(serde_json::json!({ "hiddenSize": 8, "nHead": 2, "grnActivation": "GELU", "nRnnLayers": 2, "dropout": 0.2,
        "attnDropout": 0.1, "rnnType": "lstm", "oneRnnInitialState": true })).unwrap();
    assert_eq!((config.hidden_size, config.n_head, config.grn_activation, config.n_rnn_layers), (8, 2, ActivationKind::Gelu, 2));
    assert!(config.one_rnn_initial_state && config.dropout == 0.2 && config.attn_dropout == 0.1);
    let mut written = Map::new();
    config.write_options(&mut written);
    assert_eq!(read(Value::Object(written)).unwrap(), config);
    for (bad, says) in [
        (serde_json::json!({ "hiddenSize": 10, "nHead": 4 }), "options.hiddenSize (10) must be a multiple of options.nHead (4)"),
        (serde_json::json!({ "grnActivation": "GLU" }), "grnActivation"),
        (serde_json::json!({ "rnnType": "gru" }), "rnnType"),
        (serde_json::json!({ "dropout": 1.0 }), "dropout"),
    ] {
        let error = read(bad).unwrap_err().to_string();
        assert!(error.contains(says), "{error}");
    }
}

#[test]
fn fits_a_sine() {
    let config = with(TftConfig::new(shape(4, 8, ExogSizes::none())), |c| (c.hidden_size, c.dropout) = (16, 0.0));
    assert_fits_sine(&config, 150, 3e-3, 0.5);
}

/// NeuralForecast 3.3's output for the same weights and windows (bench/tft_forward_fixture.py wrote the file: a
/// seeded `TFT(h=12, input_size=24, hidden_size=8, n_head=2)`, without and with exogenous variables, in eval mode).
#[test]
fn forward_equals_neuralforecast_for_its_weights() {
    use safetensors::SafeTensors;
    let bytes = include_bytes!("tft_nf33_forward.safetensors");
    let file = SafeTensors::deserialize(bytes).unwrap();
    let values = |name: &str| -> Vec<f32> {
        let view = file.tensor(name).unwrap_or_else(|_| panic!("{name} missing"));
        view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    };
    for (prefix, exog) in [("", ExogSizes::none()), ("exog.", ExogSizes { futr: 2, hist: 1, stat: 2 })] {
        let config = with(TftConfig::new(shape(12, 24, exog)), |c| (c.hidden_size, c.n_head) = (8, 2));
        let mut model = config.build().unwrap();
        for (name, tensor) in model.params.iter_mut() {
            let loaded = values(&format!("{prefix}{name}"));
            assert_eq!(loaded.len(), tensor.data.len(), "{name}");
            tensor.data.copy_from_slice(&loaded);
        }
        let input = |name: &str| if file.tensor(&format!("{prefix}input.{name}")).is_ok() { values(&format!("{prefix}input.{name}")) } else { vec![] };
        let (y, futr, hist, stat) = (input("insample_y"), input("futr_exog"), input("hist_exog"), input("stat_exog"));
        let batch = WindowBatch { batch: 2, insample_y: &y, hist_exog: &hist, futr_exog: &futr, stat_exog: &stat, train_seed: None, sample_keys: &[] };
        let mut cache = TftCache::default();
        let ours = model.forward(&batch, &mut cache).unwrap().to_vec();
        let expected = values(&format!("{prefix}expected"));
        assert_eq!(ours.len(), expected.len());
        let worst = ours.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 2e-5, "{prefix}: largest difference {worst}\nours {ours:?}\nNF   {expected:?}");
    }
}
