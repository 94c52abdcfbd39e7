//! Tests of iTransformer: NeuralForecast's parameter names and counts, gradients (the inverted attention across
//! series included), batches and options.

use serde_json::json;

use super::*;
use crate::models::model::tests::{assert_count_matches_estimate, check_model_gradients, shape, with, RandomBatch};
use crate::models::{ExogSizes, Model};

fn config(n_series: usize, h: usize, input_size: usize) -> ITransformerConfig {
    ITransformerConfig { n_series, ..ITransformerConfig::new(shape(h, input_size, ExogSizes::none())) }
}

fn small(n_series: usize) -> ITransformerConfig {
    ITransformerConfig { hidden_size: 8, n_heads: 2, d_ff: 6, ..config(n_series, 3, 5) }
}

/// `small(n_series)` with `futr` future exogenous variables.
fn small_futr(n_series: usize, futr: usize) -> ITransformerConfig {
    with(small(n_series), |c| c.shape.exog.futr = futr)
}

#[test]
fn parameter_count_and_names_follow_neuralforecast() {
    // NeuralForecast iTransformer(h=12, input_size=24, n_series=1): 6,324,748 parameters.
    assert_eq!(assert_count_matches_estimate(&config(1, 12, 24)), 6_324_748);
    assert_count_matches_estimate(&with(small(4), |c| (c.e_layers, c.use_norm) = (3, false)));
    let model = small(3).build().unwrap();
    let names: Vec<(&str, Vec<usize>)> = model.params().iter().map(|(n, t)| (n, t.shape.clone())).take(4).collect();
    assert_eq!(names, [
        ("enc_embedding.value_embedding.weight", vec![8, 5]),
        ("enc_embedding.value_embedding.bias", vec![8]),
        ("encoder.attn_layers.0.attention.query_projection.weight", vec![8, 8]),
        ("encoder.attn_layers.0.attention.query_projection.bias", vec![8]),
    ]);
    let last: Vec<&str> = model.params().iter().map(|(n, _)| n).skip(2 + 2 * 16).collect();
    assert_eq!(last, ["encoder.norm.weight", "encoder.norm.bias", "projector.weight", "projector.bias"]);
    assert!(model.params().find("encoder.attn_layers.1.conv2.weight").is_some());
}

#[test]
fn future_exogenous_embedding_follows_neuralforecast() {
    // NeuralForecast iTransformer(h=12, input_size=24, n_series=2, futr_exog_list=['a', 'b']): 6,343,692
    // parameters; at h=3, input_size=5, hidden_size=8, n_heads=2, d_ff=6 with one: 1,023.
    let futr = ITransformerConfig { n_series: 2, ..ITransformerConfig::new(shape(12, 24, ExogSizes { futr: 2, hist: 0, stat: 0 })) };
    assert_eq!(assert_count_matches_estimate(&futr), 6_343_692);
    assert_eq!(assert_count_matches_estimate(&small_futr(2, 1)), 1_023);
    let model = small_futr(2, 1).build().unwrap();
    let names: Vec<(&str, Vec<usize>)> = model.params().iter().map(|(n, t)| (n, t.shape.clone())).skip(2).take(3).collect();
    assert_eq!(names, [
        ("futr_embedding.weight", vec![8, 8]),
        ("futr_embedding.bias", vec![8]),
        ("encoder.attn_layers.0.attention.query_projection.weight", vec![8, 8]),
    ]);
}

#[test]
fn future_exogenous_tokens_change_every_series_forecast() {
    let config = small_futr(3, 2);
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(config.shape(), 3, 4);
    let mut cache = ITransformerCache::default();
    let before = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    // Series 0's second variable at the last horizon step: index (row 0, step L + h - 1, variable 1).
    let mut changed = RandomBatch::new(config.shape(), 3, 4);
    changed.futr_exog[(5 + 3 - 1) * 2 + 1] += 1.5;
    let after = model.forward(&changed.view(None), &mut cache).unwrap();
    for series in 0..3 {
        assert_ne!(&after[series * 3..(series + 1) * 3], &before[series * 3..(series + 1) * 3], "series {series}");
    }
}

#[test]
fn gradients_match_finite_differences() {
    check_model_gradients(&with(small(3), |c| c.dropout = 0.2));
    check_model_gradients(&with(small(2), |c| (c.use_norm, c.dropout) = (false, 0.0)));
    check_model_gradients(&with(small_futr(2, 2), |c| c.dropout = 0.2));
    check_model_gradients(&with(small_futr(3, 1), |c| (c.use_norm, c.dropout) = (false, 0.0)));
}

#[test]
fn a_window_alone_equals_it_in_a_batch() {
    let config = small_futr(3, 2);
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(config.shape(), 4 * 3, 11);
    let mut cache = ITransformerCache::default();
    let all = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    for w in 0..4 {
        let alone = model.forward(&inputs.windows(w * 3..(w + 1) * 3).view(None), &mut ITransformerCache::default()).unwrap().to_vec();
        assert_eq!(alone, &all[w * 9..(w + 1) * 9]);
    }
    let config = small(3);
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(config.shape(), 4 * 3, 11);
    let mut cache = ITransformerCache::default();
    let all = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    let per_window = 3 * 3;
    for w in 0..4 {
        let window = &inputs.insample_y[w * 3 * 5..(w + 1) * 3 * 5];
        let mut alone = ITransformerCache::default();
        let alone = model.forward(&WindowBatch::univariate(window, 3), &mut alone).unwrap();
        assert_eq!(alone, &all[w * per_window..(w + 1) * per_window]);
    }
}

#[test]
fn attention_mixes_the_series_of_a_window() {
    // Changing one series' input changes the other series' forecasts: the tokens attend to each other.
    let config = small(3);
    let model = config.build().unwrap();
    let inputs = RandomBatch::new(config.shape(), 3, 4);
    let mut cache = ITransformerCache::default();
    let before = model.forward(&inputs.view(None), &mut cache).unwrap().to_vec();
    let mut changed = inputs.insample_y.clone();
    changed[..5].iter_mut().for_each(|v| *v = 2.0 * *v + 1.0);
    let after = model.forward(&WindowBatch::univariate(&changed, 3), &mut cache).unwrap();
    assert_ne!(&after[3..9], &before[3..9]);
}

#[test]
fn rejects_historic_and_static_inputs_unused_options_and_partial_windows() {
    let exog = ITransformerConfig { n_series: 2, ..ITransformerConfig::new(shape(3, 4, ExogSizes { futr: 1, hist: 1, stat: 1 })) };
    let err = exog.build().unwrap_err().to_string();
    assert!(err.contains("iTransformer takes future exogenous variables only; remove histExogList, statExogList"), "{err}");
    let model = small(3).build().unwrap();
    let err = model.forward(&WindowBatch::univariate(&[0.0; 10], 2), &mut ITransformerCache::default()).unwrap_err();
    assert!(err.to_string().contains("nSeries = 3"), "{err}");
    let read = |options: serde_json::Value| {
        let map = options.as_object().unwrap().clone();
        let mut config = config(1, 3, 5);
        config.read_options(&ModelOptions::new("models[0]", &map)).map(|()| config)
    };
    let read_config = read(json!({ "nSeries": 4, "dLayers": 1, "factor": 1, "dFf": 16, "useNorm": false })).unwrap();
    assert_eq!((read_config.n_series, read_config.d_ff, read_config.use_norm), (4, 16, false));
    let err = read(json!({ "nSeries": 4, "dLayers": 2 })).unwrap_err().to_string();
    assert!(err.contains("dLayers is accepted as 1 only, got 2: NeuralForecast's iTransformer builds no decoder"), "{err}");
    assert!(read(json!({ "nSeries": 4, "factor": 3 })).is_err());
    assert!(read(json!({ "hiddenSize": 8 })).unwrap_err().to_string().contains("nSeries is missing: iTransformer is multivariate"));
    let mut written = Map::new();
    read_config.write_options(&mut written);
    assert_eq!(written["dLayers"], 1);
    assert_eq!(written["factor"], 1);
}
